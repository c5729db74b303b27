"""ES256 verification (ECDSA on P-256 with SHA-256) on Python ints, standard library only: the JWT
the ALB signs into x-amzn-oidc-data. Hand-written because the libraries do not fit the zip or the
import budget (docs/libraries.md). Verification handles public data: no constant time needed.

Ground floor: imports nothing of the package.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

# The curve P-256 (secp256r1): y^2 = x^3 - 3x + b over the prime field P; G has prime order N, cofactor 1.
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)
_INFINITY = (0, 1, 0)  # Jacobian coordinates (X, Y, Z): x = X/Z^2, y = Y/Z^3; Z = 0 is the point at infinity
# DER SubjectPublicKeyInfo of an id-ecPublicKey on prime256v1, up to its uncompressed point 04||x||y.
_SPKI = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
_SEGMENT_RE = r"[A-Za-z0-9_-]+={0,2}"  # base64url, padded or not (compiled on first use)
MAX_TOKEN_CHARS = 16 * 1024

Point = tuple[int, int]


def _double(pt: tuple[int, int, int]) -> tuple[int, int, int]:
    x, y, z = pt
    if not z or not y:
        return _INFINITY
    yy = y * y % P
    s = 4 * x * yy % P
    zz = z * z % P
    m = 3 * (x - zz) * (x + zz) % P  # 3x^2 + a z^4 with a = -3
    x3 = (m * m - 2 * s) % P
    return x3, (m * (s - x3) - 8 * yy * yy) % P, 2 * y * z % P


def _add(p1: tuple[int, int, int], p2: tuple[int, int, int]) -> tuple[int, int, int]:
    if not p1[2]:
        return p2
    if not p2[2]:
        return p1
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    h, r = (u2 - u1) % P, (s2 - s1) % P
    if not h:
        return _double(p1) if not r else _INFINITY  # the same point, or its negative
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return x3, (r * (v - x3) - s1 * hhh) % P, h * z1 * z2 % P


def on_curve(point: Point) -> bool:
    """An affine point of P-256 (the cofactor is 1: every such point is in the group G generates)."""
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x - 3 * x + B)) % P == 0


def verify(point: Point, digest: bytes, r: int, s: int) -> bool:
    """Whether (r, s) is an ECDSA signature of the SHA-256 digest under the public point (SEC 1, 4.1.4)."""
    if not (1 <= r < N and 1 <= s < N) or len(digest) != 32 or not on_curve(point):
        return False
    e = int.from_bytes(digest, "big")  # N has 256 bits, as many as SHA-256: nothing to truncate
    w = pow(s, -1, N)
    u1, u2 = e * w % N, r * w % N
    # u1*G + u2*Q in one pass of doublings (Shamir's trick).
    g, q = (G[0], G[1], 1), (point[0], point[1], 1)
    table = (g, q, _add(g, q))
    acc = _INFINITY
    for bit in range(max(u1.bit_length(), u2.bit_length()) - 1, -1, -1):
        acc = _double(acc)
        pick = ((u1 >> bit) & 1) | (((u2 >> bit) & 1) << 1)
        if pick:
            acc = _add(acc, table[pick - 1])
    if not acc[2]:
        return False
    x = acc[0] * pow(acc[2] * acc[2] % P, -1, P) % P
    return x % N == r


def point_from_pem(pem: str) -> Point:
    """The public point of a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) on P-256; ValueError otherwise."""
    lines = [line.strip() for line in pem.strip().splitlines() if line.strip()]
    if len(lines) < 3 or lines[0] != "-----BEGIN PUBLIC KEY-----" or lines[-1] != "-----END PUBLIC KEY-----":
        raise ValueError("not a PEM public key")
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a PEM public key") from None
    if len(der) != 91 or not der.startswith(_SPKI) or der[26] != 4:
        raise ValueError("not an uncompressed P-256 public key")
    point = int.from_bytes(der[27:59], "big"), int.from_bytes(der[59:91], "big")
    if not on_curve(point):
        raise ValueError("the point is not on P-256")
    return point


def _segment(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


class Token:
    """A compact JWS with alg ES256, decoded, not yet verified (a plain class: a NamedTuple would cost
    0.1 ms more at import)."""

    __slots__ = ("claims", "header", "r", "s", "signing_input")

    def __init__(self, header: dict[str, Any], claims: dict[str, Any], signing_input: bytes, r: int, s: int) -> None:
        self.header, self.claims = header, claims
        self.signing_input = signing_input  # header.payload as received (padding included)
        self.r, self.s = r, s


def parse(token: str) -> Token | None:
    """The parts of an ES256 compact JWS (r || s signature; segments padded or not), else None."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not all(re.fullmatch(_SEGMENT_RE, part) for part in parts):
        return None
    try:
        header, claims = json.loads(_segment(parts[0])), json.loads(_segment(parts[1]))
        signature = _segment(parts[2])
    except (binascii.Error, ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "ES256":
        return None
    if len(signature) != 64:
        return None
    return Token(header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"),
                 int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


def verify_token(token: Token, point: Point) -> bool:
    """Whether the token's signature verifies under the public point."""
    return verify(point, hashlib.sha256(token.signing_input).digest(), token.r, token.s)
