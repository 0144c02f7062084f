"""The registry server: the OCI distribution API and Docker's registry v2 API over a filesystem store."""
