"""A stand-in for the ALB's sign-in: P-256 keys made with `cryptography` (a test dependency only,
never in the zip), x-amzn-oidc-data tokens shaped and signed as the ALB does (ES256, kid, signer,
exp in the header; base64url segments padded with '='), and a loopback HTTP server that publishes
the public keys by kid as https://public-keys.auth.elb.<region>.amazonaws.com/<kid> does.

`elb_keys(monkeypatch)` points genai.callers at the server, with an empty key cache, for one test."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from genai import callers

REGION = "ap-northeast-2"
ALB_ARN = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/app/web/0123456789abcdef"
OTHER_ALB_ARN = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/app/other/fedcba9876543210"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_AbC123"


def b64(data: bytes, padded: bool = True) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


class Signer:
    """One ELB signing key, by kid."""

    def __init__(self, kid: str = "a1b2c3d4-0000-4000-8000-000000000001") -> None:
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP256R1())

    def pem(self) -> str:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def token(self, claims: dict[str, Any], *, signer: str = ALB_ARN, exp: float | None = None, padded: bool = True,
              kid: str | None = None, **header: Any) -> str:
        """x-amzn-oidc-data as the ALB writes it (claims get the same exp unless they say otherwise)."""
        exp = int(time.time()) + 120 if exp is None else exp
        head = {"typ": "JWT", "kid": self.kid if kid is None else kid, "alg": "ES256", "iss": ISSUER,
                "client": "1h57kf5cpq17m0eml12EXAMPLE", "signer": signer, "exp": exp, **header}
        body = {"exp": exp, "iss": ISSUER, **claims}
        signing_input = f"{b64(json.dumps(head).encode(), padded)}.{b64(json.dumps(body).encode(), padded)}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'), padded)}"


def unsigned(claims: dict[str, Any]) -> str:
    """The forgery the function used to accept: a JWT shape with no real signature."""
    return ".".join(b64(json.dumps(part).encode(), False) for part in ({"alg": "ES256"}, claims)) + ".signature"


class KeyServer:
    """Serves GET /<region>/<kid> -> the PEM of a known kid (404 otherwise), counting every request."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.hits: list[str] = []
        self.failing = False  # answer 503 to everything
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                region, _, kid = self.path.lstrip("/").partition("/")
                pem = server.keys.get(kid) if region == REGION and not server.failing else None
                self.send_response(200 if pem else 503 if server.failing else 404)
                self.end_headers()
                if pem:
                    self.wfile.write(pem.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/{{region}}/"

    def publish(self, signer: Signer) -> Signer:
        self.keys[signer.kid] = signer.pem()
        return signer


@contextmanager
def elb_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Signer, KeyServer]]:
    """A published signing key and its server, with genai.callers fetching from it into an empty cache."""
    server = KeyServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(callers, "ELB_KEY_URLS", {"aws": server.base})
    monkeypatch.setattr(callers, "_alb_keys", {})
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    try:
        yield server.publish(Signer()), server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
