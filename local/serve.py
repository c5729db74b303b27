"""``make serve``: the function behind a local stand-in for API Gateway, on 127.0.0.1.

Each HTTP request becomes the REST API proxy event (payload 1.0, stage v1) that the real
deployment sends for ``ANY /api/genai`` and ``ANY /api/genai/{proxy+}``; the handler's response
goes back as HTTP. Like API Gateway, it gives up after 29 s with its own 504. Behind it run the
local Data API (SQLite, or --db mysql://...), the offline model stand-in (or --bedrock aws) and
moto's DynamoDB server holding the conversation memory and the rate limits (20 questions a
minute from one address by default: a burst shows the 429). It also stands in for a Cognito
authorizer: ``Authorization: Bearer local:<sub>[:<group>,...]`` becomes
``requestContext.authorizer.claims``, as API Gateway passes a verified token's claims; any other
Authorization value gets API Gateway's 401. What callers without a token may read is
``--read-scope`` (ANONYMOUS_READ_SCOPE: all, no_contact (the default) or clinic); signed-in callers
read everything, so one server shows both sides, and a restart with another scope the third.
Dev tooling only; never deployed.

    curl -s localhost:8080/api/genai -H 'Content-Type: application/json' -d '{"question": "Who owns Leo?"}'
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local.run import FakeContext, JsonLogFormatter, local_endpoints

API_PREFIX = "/api/genai"
SCOPE_SHOWS = {"all": "everything, contact details included", "no_contact": "names, pets and visits, no address or telephone",
               "clinic": "vets, specialties, pet types and counts only"}
INTEGRATION_TIMEOUT_S = 29.0  # API Gateway REST's default integration timeout
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


def local_claims(authorization: str | None) -> dict[str, str] | None:
    """The claims the Cognito authorizer stand-in grants: ``Bearer local:<sub>[:<group>,...]``."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    prefix, _, rest = token.partition(":")
    sub, _, groups = rest.partition(":")
    if scheme.lower() != "bearer" or prefix != "local" or not sub:
        raise PermissionError("not a local token")
    return {"sub": sub, "token_use": "id", **({"cognito:groups": groups} if groups else {})}


def proxy_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                claims: dict[str, str] | None = None) -> dict[str, Any]:
    """The REST API (v1) proxy event API Gateway builds for one request."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    proxy = parts.path[len(API_PREFIX) + 1:] if parts.path.startswith(API_PREFIX + "/") else None
    resource = API_PREFIX + "/{proxy+}" if proxy else API_PREFIX
    try:
        text, encoded = (body.decode("utf-8"), False) if body else (None, False)
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": resource,
        "path": parts.path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": proxy} if proxy else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource, "httpMethod": method, "path": "/v1" + parts.path, "stage": "v1",
            "apiId": "local", "domainName": single.get("Host", "localhost"), "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000), "identity": {"sourceIp": "127.0.0.1"},
            **({"authorizer": {"claims": claims}} if claims else {}),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class Gateway:
    """Invokes the handler like API Gateway does, including its integration timeout."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], lambda_timeout_s: float = 60.0,
                 integration_timeout_s: float = INTEGRATION_TIMEOUT_S) -> None:
        self.handler = handler
        self.lambda_timeout_s = lambda_timeout_s
        self.integration_timeout_s = integration_timeout_s
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lambda")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        future = self.pool.submit(self.handler, event, FakeContext(self.lambda_timeout_s))
        try:
            return future.result(timeout=self.integration_timeout_s)
        except FutureTimeout:  # the function goes on running, as on AWS; the caller gets API Gateway's 504
            return {"statusCode": 504, "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"message": "Endpoint request timed out"})}
        except Exception:  # a crashed function: API Gateway answers 502
            return {"statusCode": 502, "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"message": "Internal server error"})}


def make_handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, {"Content-Type": "application/json"}, b'{"message": "Request Too Long"}')
                return
            body = self.rfile.read(length)
            path = urlsplit(self.path).path
            if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):  # no such resource in the API
                self._send(403, {"Content-Type": "application/json"}, b'{"message": "Missing Authentication Token"}')
                return
            try:
                claims = local_claims(self.headers.get("Authorization"))
            except PermissionError:
                self._send(401, {"Content-Type": "application/json"}, b'{"message": "Unauthorized"}')
                return
            event = proxy_event(self.command, self.path, list(self.headers.items()), body, claims)
            response = gateway.invoke(event)
            headers: list[tuple[str, str]] = list((response.get("headers") or {}).items())
            for name, values in (response.get("multiValueHeaders") or {}).items():
                headers += [(name, value) for value in values]
            raw = response.get("body") or ""
            data = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode("utf-8")
            self._send(int(response.get("statusCode", 502)), headers, data)

        def _send(self, status: int, headers: dict[str, str] | list[tuple[str, str]], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items() if isinstance(headers, dict) else headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_HEAD = _forward  # ANY

    return Handler


def serve(handler: Callable[[dict[str, Any], Any], dict[str, Any]], port: int = 0,
          **gateway: float) -> tuple[ThreadingHTTPServer, str]:
    """Start the gateway on 127.0.0.1 in a daemon thread; returns (server, base URL)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(Gateway(handler, **gateway)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="gateway", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8080))
    parser.add_argument("--db", default=os.environ.get("PETCLINIC_DB_URL"), help="mysql://... (default: SQLite)")
    parser.add_argument("--bedrock", choices=("local", "aws"), default="local")
    parser.add_argument("--no-memory", action="store_true", help="run without conversation memory")
    parser.add_argument("--no-limits", action="store_true", help="run without the rate limits and the daily cap")
    parser.add_argument("--log-level", default="INFO", help="the function's JSON log lines on stderr")
    parser.add_argument("--read-scope", choices=("all", "no_contact", "clinic"),
                        default=os.environ.get("ANONYMOUS_READ_SCOPE") or "no_contact",
                        help="what callers without a token read (default no_contact); also ANONYMOUS_READ_SCOPE")
    parser.add_argument("--writes", action="store_true", default=os.environ.get("WRITES_ENABLED") == "true",
                        help="offer the write tools (confirmed first; needs memory); also WRITES_ENABLED=true")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with local_endpoints(args.db, args.bedrock, memory=not args.no_memory, limits=not args.no_limits):
        os.environ["WRITES_ENABLED"] = "true" if args.writes else "false"
        os.environ["ANONYMOUS_READ_SCOPE"] = args.read_scope
        import lambda_function

        server, url = serve(lambda_function.lambda_handler, args.port)
        print(f"PetClinic assistant behind a local API Gateway at {url}{API_PREFIX}  (Ctrl-C stops it)\n"
              f"  curl -s {url}{API_PREFIX} -H 'Content-Type: application/json' -d '{{\"question\": \"Who owns Leo?\"}}'\n"
              f"  curl -s {url}{API_PREFIX}/chatclient -H 'Content-Type: application/json' -d '\"Who owns Coco?\"'\n"
              f"  curl -s {url}{API_PREFIX}/health\n"
              f"  Writes (--writes) need a signed-in caller: add -H 'Authorization: Bearer local:staff-1'\n"
              f"  Read scope without a token: {args.read_scope} ({SCOPE_SHOWS[args.read_scope]}); with a token: all.\n"
              f"    Compare: curl -s {url}{API_PREFIX} -H 'Content-Type: application/json'"
              f" -d '{{\"question\": \"What is George Franklin\\u0027s phone number?\"}}'  (then add the Authorization header)\n"
              f"    The other scopes: make serve ANONYMOUS_READ_SCOPE=" + " | ".join(s for s in SCOPE_SHOWS if s != args.read_scope) + "\n"
              f"  A burst shows the rate limit: for i in $(seq 25); do curl -s -o /dev/null -w '%{{http_code}} '"
              f" {url}{API_PREFIX} -H 'Content-Type: application/json' -d '{{\"question\": \"Who owns Leo?\"}}'; done",
              flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
