"""The CLI's view of the Engine API transport, which lives in dockyard.client (shared with compose)."""

from dockyard.client.transport import DEFAULT_HOST, APIError, Client, ConnectionFailed, Response

__all__ = ["DEFAULT_HOST", "APIError", "Client", "ConnectionFailed", "Response"]
