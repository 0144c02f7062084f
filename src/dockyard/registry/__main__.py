"""`python3 -m dockyard.registry serve|garbage-collect|token-server ...`: the registry's commands
without the rest of the CLI (what the catalog's registry:2 image runs as /usr/bin/registry)."""

import sys

from dockyard.registry.commands import main

sys.exit(main(sys.argv[1:]))
