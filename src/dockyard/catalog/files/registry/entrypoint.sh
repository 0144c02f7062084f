#!/bin/sh
# The official registry image's entry point: a config file or a subcommand runs the registry.
set -e
case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|token-server|help|-*) set -- registry "$@" ;;
esac
exec "$@"
