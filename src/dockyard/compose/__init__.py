"""`dockyard compose`: the Compose Specification over the Engine API.

config/ loads and validates files into the model; project.py orders services; service.py turns a
service into create bodies and labels; convergence.py decides what to create, recreate or start;
parallel.py runs those steps along the dependency graph; cli.py is the command line. PyYAML and
jsonschema are imported only here, so `dockyard run` never pays for them.
"""
