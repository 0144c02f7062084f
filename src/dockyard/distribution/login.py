"""`POST /auth`: check credentials against a registry the way `docker login` does."""

from dockyard.distribution.auth import Credentials
from dockyard.distribution.client import RegistryClient
from dockyard.distribution.endpoints import RegistryOptions
from dockyard.distribution.errors import RegistryError, Unauthorized


def login(options: RegistryOptions, domain: str, credentials: Credentials) -> None:
    """Check credentials against the registry, as `POST /auth` does; raise with Docker's message if wrong."""
    client = RegistryClient(options, domain, credentials)
    try:
        client.ping()
        challenge = client.challenge
        if challenge is None:
            return  # the registry needs no credentials
        if challenge.scheme == "bearer":
            client.token()
            return
        url = client.url("/v2/")
        try:
            client.request("GET", "/v2/").close()
        except RegistryError as exc:
            if exc.status == 401:
                raise Unauthorized(f"login attempt to {url} failed with status: 401 Unauthorized") from None
            raise
    finally:
        client.close()
