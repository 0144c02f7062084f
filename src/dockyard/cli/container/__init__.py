"""`dockyard container ...` (and its top-level forms `run`, `ps`, `logs`, ...): a module per
command or family of commands, named after it (run.py holds run and create, lifecycle.py start,
stop, kill, rm and the like); options.py and its siblings turn run's flags into the create
request. dockyard.cli.main maps each command name to its module."""
