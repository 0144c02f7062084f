"""`dockyardd`, the daemon program: its flags and its composition root (main.py), which builds
every store and service with its collaborators and serves the Engine API."""
