"""Dockyard: a Docker-compatible container engine written in Python."""

__version__ = "0.1.0"
API_VERSION = "1.41"
MIN_API_VERSION = "1.24"
