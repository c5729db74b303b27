"""What both local endpoints share: a JSON-over-HTTP handler in the AWS rest-json style, and a
loopback server in a daemon thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls

    def log_message(self, *args: Any) -> None:  # quiet: the handler's own logs are what matter
        pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_json(self, status: int, payload: dict[str, Any], error_type: str | None = None) -> None:
        """A JSON response; errors carry X-Amzn-ErrorType, which botocore turns into the error code."""
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error_type:
            self.send_header("X-Amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)


def serve(handler: type[JsonHandler], name: str, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start ``handler`` on 127.0.0.1 (a free port by default) in a daemon thread; returns (server, url)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
