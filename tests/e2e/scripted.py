"""A loopback endpoint that answers from a script: slow, broken, malformed or dropped replies, to
test the handler's deadline and fault handling with real boto3 clients (test-only)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from local import jsonhttp
from local.jsonhttp import JsonHandler


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = b"{}"
    error_type: str | None = None  # X-Amzn-ErrorType; None = a bare HTTP error
    delay_s: float = 0.0
    drop: bool = False  # close the connection without answering
    short_by: int = 0  # announce more bytes than are sent, then close (a cut-off body)


class Script:
    """Replies in order (the last one repeats), or computed by ``reply(path, request)``."""

    def __init__(self, *replies: Reply, reply: Callable[[str, dict[str, Any]], Reply] | None = None) -> None:
        self.replies, self.reply = list(replies), reply
        self.requests: list[tuple[float, str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def next(self, path: str, request: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append((time.monotonic(), path, request))
            if self.reply:
                return self.reply(path, request)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


class _Handler(JsonHandler):
    script: Script

    def do_POST(self) -> None:
        try:
            request = json.loads(self.read_body() or b"{}")
        except ValueError:
            request = {}
        reply = self.script.next(self.path, request)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.drop:
            self.close_connection = True
            return
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) + reply.short_by))
            if reply.error_type:
                self.send_header("X-Amzn-ErrorType", reply.error_type)
            self.end_headers()
            self.wfile.write(data)
            if reply.short_by:
                self.close_connection = True
        except OSError:  # the client gave up first (its timeout): that is the point of a slow reply
            pass


_servers: list[ThreadingHTTPServer] = []


def serve(script: Script) -> tuple[ThreadingHTTPServer, str]:
    server, url = jsonhttp.serve(type("Handler", (_Handler,), {"script": script}), "scripted")
    _servers.append(server)
    return server, url


def point(monkeypatch: Any, variable: str, script: Script) -> None:
    """Point one service (AWS_ENDPOINT_URL_RDS_DATA / _BEDROCK_RUNTIME) at a scripted endpoint."""
    from genai import clients

    monkeypatch.setenv(variable, serve(script)[1])
    clients._clients.clear()


def shutdown_all() -> None:
    while _servers:
        server = _servers.pop()
        server.shutdown()
        server.server_close()
