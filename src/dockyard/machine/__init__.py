"""Machines: Docker hosts on this box (`dockyard machine`), after docker-machine.

A machine is a record (``model.Host``, saved as ``<storage>/machines/<name>/config.json``), a set
of TLS certificates (``certs``), and a driver that makes the host exist (``driver.Driver``; the
built-in ``netns`` driver runs a dockyardd in a network namespace on an underlay bridge).
``service`` holds the commands' flows; ``cli/machine.py`` their grammar and output.
"""
