"""OCI and Docker image-distribution formats shared by the registry client and the registry server."""
