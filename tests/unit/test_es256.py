"""The hand-written ES256 verify against signatures made by `cryptography` (a test dependency only):
every valid signature verifies, every altered one does not."""

from __future__ import annotations

import base64
import hashlib
import json
import random

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from genai import es256

CASES = 40


def _keys(seed: int) -> tuple[ec.EllipticCurvePrivateKey, es256.Point, str]:
    key = ec.derive_private_key(random.Random(seed).randrange(1, es256.N), ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, es256.point_from_pem(pem), pem


def test_known_answers_against_cryptography() -> None:
    rng = random.Random(22)
    for seed in range(CASES):
        key, point, _ = _keys(seed)
        numbers = key.public_key().public_numbers()
        assert point == (numbers.x, numbers.y)
        message = rng.randbytes(rng.randrange(0, 200))
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
        digest = hashlib.sha256(message).digest()
        assert es256.verify(point, digest, r, s)
        assert es256.verify(point, digest, r, es256.N - s)  # the high-s twin is valid ECDSA too
        assert not es256.verify(point, digest, r, s ^ 1)
        assert not es256.verify(point, digest, r ^ 1, s)
        assert not es256.verify(point, hashlib.sha256(message + b".").digest(), r, s)
        assert not es256.verify(_keys(seed + 1000)[1], digest, r, s)  # another key


def test_out_of_range_signatures_and_points_are_refused() -> None:
    key, point, _ = _keys(1)
    digest = hashlib.sha256(b"x").digest()
    r, s = decode_dss_signature(key.sign(b"x", ec.ECDSA(hashes.SHA256())))
    for bad_r, bad_s in ((0, s), (r, 0), (r + es256.N, s), (r, s + es256.N), (-r, s), (es256.N, s)):
        assert not es256.verify(point, digest, bad_r, bad_s)
    x, y = point
    for bad in ((x, y ^ 1), (x, y + es256.P), (0, 0), (x - es256.P, y)):
        assert not es256.on_curve(bad) and not es256.verify(bad, digest, r, s)
    assert not es256.verify(point, digest[:31], r, s)


def test_pem_forms() -> None:
    key, point, pem = _keys(2)
    assert es256.point_from_pem(pem) == point
    compressed = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200") + key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    as_compressed = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(compressed).decode() + "\n-----END PUBLIC KEY-----"
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    body = pem.strip().splitlines()[1:-1]
    off_curve = bytearray(base64.b64decode("".join(body)))
    off_curve[-1] ^= 1
    for bad in ("", "junk", p384, as_compressed,  # the ELB publishes uncompressed points pem.replace("PUBLIC KEY", "PRIVATE KEY"),
                "-----BEGIN PUBLIC KEY-----\n*notbase64*\n-----END PUBLIC KEY-----",
                "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(off_curve).decode() + "\n-----END PUBLIC KEY-----"):
        with pytest.raises(ValueError):
            es256.point_from_pem(bad)


def _b64(data: bytes, padded: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


@pytest.mark.parametrize("padded", [True, False])
def test_tokens_padded_or_not(padded: bool) -> None:
    key, point, _ = _keys(3)
    head = _b64(json.dumps({"alg": "ES256", "kid": "k"}).encode(), padded)
    body = _b64(json.dumps({"sub": "s"}).encode(), padded)
    r, s = decode_dss_signature(key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
    signature = _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"), padded)
    token = es256.parse(f"{head}.{body}.{signature}")
    assert token is not None and token.claims == {"sub": "s"} and es256.verify_token(token, point)
    # The signing input is the text as received: adding or dropping padding breaks the signature.
    altered = f"{head.rstrip('=')}.{body}.{signature}" if "=" in head else f"{head}=.{body}.{signature}"
    changed = es256.parse(altered)
    assert changed is not None and changed.claims == token.claims and not es256.verify_token(changed, point)


@pytest.mark.parametrize("token", [
    "", "a.b", "a.b.c.d", "a b.c.d", "YQ.YQ.YQ",  # not JSON objects
    _b64(b'{"alg":"none"}', False) + "." + _b64(b"{}", False) + "." + _b64(bytes(64), False),
    _b64(b'{"alg":"HS256"}', False) + "." + _b64(b"{}", False) + "." + _b64(bytes(64), False),
    _b64(b'{"alg":"ES256"}', False) + "." + _b64(b"{}", False) + "." + _b64(bytes(70), False),  # a DER-sized one
    _b64(b'{"alg":"ES256"}', False) + "." + _b64(b"[]", False) + "." + _b64(bytes(64), False),
    _b64(b'{"alg":"ES256"}', False) + "===." + _b64(b"{}", False) + "." + _b64(bytes(64), False),
    "x" * (es256.MAX_TOKEN_CHARS + 1),
])
def test_anything_but_an_es256_compact_jws_is_not_parsed(token: str) -> None:
    assert es256.parse(token) is None
