"""The counter app of Docker Deep Dive chapter 9: every visit increments a counter kept in redis.

The book's app is Flask with the redis client from PyPI; this one speaks redis's protocol itself
(a few lines) so the image builds without the network. It finds redis by name, `redis`, on the
network both containers share. The page says which container served it and, when the image has
a VERSION file beside the app (the swarm-app example's v1 and v2), which version."""

import http.server
import os
import socket
import time

REDIS_HOST = os.environ.get("REDIS_HOST", "redis")
PAGE = """<html><head><title>Counter app</title></head>
<body><h2>Docker Deep Dive counter app{version}</h2>
<p>This page has been visited {count} times.</p>
<p>Served by {host}</p></body></html>
"""


def version() -> str:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")
    try:
        with open(path) as f:
            return " " + f.read().strip()
    except OSError:
        return ""


def incr(key: str) -> int:
    """INCR key on redis, retried while redis starts (like the book's five tries)."""
    command = f"*2\r\n$4\r\nINCR\r\n${len(key)}\r\n{key}\r\n".encode()
    for attempt in range(5):
        try:
            with socket.create_connection((REDIS_HOST, 6379), timeout=5) as conn:
                conn.sendall(command)
                reply = conn.makefile("rb").readline()
            if reply.startswith(b":"):
                return int(reply[1:])
            raise RuntimeError(f"redis answered {reply!r}")
        except OSError:
            if attempt == 4:
                raise
            time.sleep(0.5)
    raise RuntimeError("unreachable")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.format(count=incr("hits"), version=version(), host=socket.gethostname()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    print("counter app listening on port 8080", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
