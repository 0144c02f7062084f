"""Swarm mode: the cluster's state (store/), its objects, and later the manager and agent."""
