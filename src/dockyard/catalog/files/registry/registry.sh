#!/bin/sh
# `registry serve|garbage-collect|token-server ...`: Dockyard's registry server.
exec python3 -m dockyard.registry "$@"
