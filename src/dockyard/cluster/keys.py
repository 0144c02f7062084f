"""Where the swarm's own records live in the store (other objects name their prefixes beside their
code: nodes.py, membership.py, secrets.py)."""

CLUSTER_KEY = "/swarm/cluster"  # the Cluster object (Docker's "Swarm")
CA_KEY = "/swarm/ca"  # the root CA's certificate and key
ROTATION_KEY = "/swarm/ca-rotation"  # a root rotation in progress (carotation.Rotation)
AUTOLOCK_KEY = "/swarm/autolock"  # a fingerprint of the unlock key in force ("" autolock off), never the key
