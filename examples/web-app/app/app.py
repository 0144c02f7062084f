"""The small web app of Docker Deep Dive chapter 8 (the book's is Node.js; this one is Python's
standard library, so it needs nothing from the network to build)."""

import http.server
import socket

PAGE = """<html><head><title>Docker Deep Dive</title></head>
<body><h1>Hello from a containerised app!</h1>
<p>Served by {host} on port 8080.</p></body></html>
"""


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.format(host=socket.gethostname()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    print("app listening on port 8080", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
