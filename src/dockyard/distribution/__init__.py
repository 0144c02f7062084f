"""Registry client (distribution API v2 / OCI distribution): endpoints, auth, pull, push, search."""
