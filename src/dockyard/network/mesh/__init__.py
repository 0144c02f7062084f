"""Service load balancing (VIPs) and the ingress routing mesh on nftables and iptables, for a
kernel without IPVS: model.py (what the swarm side fills), nftrender.py and noderules.py (the
rules), programmer.py (into the kernel, kept there). See docs/design/mesh.md."""
