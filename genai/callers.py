"""Who is asking. The signed-in principal comes only from what API Gateway or the ALB
wrote (requestContext, never the body; the ALB's identity headers only when the ALB authenticates,
and only once x-amzn-oidc-data verifies: ES256 under the ELB's public key for its kid, signed by the
configured load balancer, unexpired, naming the same sub as x-amzn-oidc-identity), the client's
address from the trusted proxy hop, and cross-site browser requests are refused. Keys derived from
them are hashes (digest).

Imports budget, config, errors, es256, log and request.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any, NamedTuple

from . import budget, config, es256
from .config import Settings
from .errors import Forbidden
from .log import logger
from .request import Call

DIRECT_PRINCIPAL = "lambda-invoke"  # an IAM-authorised direct invoke: the event has no requestContext
_STABLE_ID_RE = r"[!-~]{1,256}"  # printable ASCII, no spaces
MAX_FORWARDED_HOPS = 8  # X-Forwarded-For entries read, from the right (TRUSTED_PROXY_HOPS is at most 5)

# Where the ELB publishes the PEM public key of each kid, by the load balancer's partition (the
# tests point these at a loopback server). The key is fetched once per kid and kept for the instance.
ELB_KEY_URLS = {
    "aws": "https://public-keys.auth.elb.{region}.amazonaws.com/",
    "aws-us-gov": "https://s3-{region}.amazonaws.com/aws-elb-public-keys-prod-{region}/",
}
_KID_RE = r"[A-Za-z0-9_-]{1,128}"  # a path segment, nothing more (compiled on first use)
MAX_ALB_KEYS = 16  # kids kept per instance; the ELB rotates its keys rarely
KEY_FETCH_TIMEOUT_S = 2.0  # and never past the request's deadline
KEY_RETRY_AFTER_S = 60.0  # a kid whose key could not be fetched is not asked for again before this
MAX_KEY_BYTES = 4096  # a P-256 PEM is about 180
_alb_keys: dict[str, tuple[es256.Point | None, float]] = {}  # kid -> (point or None: failed, when)
_alb_keys_lock = threading.Lock()


class Principal(NamedTuple):
    """An authenticated caller, by a stable id (sub, principalId, IAM user id), never an e-mail or a name."""

    kind: str  # cognito, lambda, jwt, iam, alb, invoke
    id: str
    groups: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"


OPERATOR = Principal("invoke", DIRECT_PRINCIPAL)  # who a direct invoke is (label invoke:lambda-invoke)


class Asker(NamedTuple):
    """Who the limits count and who may write: the principal when signed in, else the client address."""

    principal: Principal | None
    address: str | None  # None for direct invokes (no client address: IAM authorised them)

    @property
    def client_key(self) -> str | None:
        if self.principal is not None:
            return None if self.principal.kind == "invoke" else "principal:" + self.principal.label
        return "address:" + (self.address or "unknown")  # anonymous callers without an address share one

    def may_write(self, settings: Settings) -> bool:
        if self.principal is None:
            return False
        return not settings.write_groups or bool(self.principal.groups & settings.write_groups)


def _stable_id(value: Any) -> str | None:
    """An id fit to key limits and audit records on; one that looks like an e-mail is hashed."""
    if not isinstance(value, str) or not re.fullmatch(_STABLE_ID_RE, value):
        return None
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:32] if "@" in value else value


def _groups(claims: dict[str, Any]) -> frozenset[str]:
    """cognito:groups as a list, or as the strings API Gateway makes of it ("a,b" or "[a b]")."""
    raw = claims.get("cognito:groups")
    items = raw if isinstance(raw, list) else re.split(r"[\s,]+", raw.strip("[]")) if isinstance(raw, str) else []
    return frozenset(g for g in items if isinstance(g, str) and re.fullmatch(config._GROUP_RE, g))


def _from_claims(kind: str, claims: Any) -> Principal | None:
    sub = _stable_id(claims.get("sub")) if isinstance(claims, dict) else None
    return Principal(kind, sub, _groups(claims)) if sub else None


def _fetch_key(url: str, timeout: float) -> str:
    """The PEM published at url (urllib is imported on first use: nothing at import)."""
    import http.client
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            body = reply.read(MAX_KEY_BYTES + 1)
    except http.client.HTTPException as err:  # a broken reply; OSError covers the rest (HTTPError too)
        raise OSError(type(err).__name__) from err
    if len(body) > MAX_KEY_BYTES:
        raise ValueError("the key is too large")
    return body.decode("ascii")


def _alb_key(kid: str, settings: Settings) -> es256.Point | None:
    """The ELB's public key for kid, from this instance's cache or fetched (bounded by the deadline)."""
    now = time.monotonic()
    with _alb_keys_lock:
        cached = _alb_keys.get(kid)
    if cached is not None and (cached[0] is not None or now - cached[1] < KEY_RETRY_AFTER_S):
        return cached[0]
    partition, _, region = settings.alb_arn.split(":")[1:4]
    timeout = min(KEY_FETCH_TIMEOUT_S, budget.current_deadline().budget_s(config.MODEL_CALL_RESERVE_MS))
    if partition not in ELB_KEY_URLS or timeout < 0.05:
        return None
    point = None
    try:
        point = es256.point_from_pem(_fetch_key(ELB_KEY_URLS[partition].format(region=region) + kid, timeout))
    except (OSError, ValueError) as err:
        logger.warning("ALB signing key not fetched", extra={"error_code": type(err).__name__})
    with _alb_keys_lock:
        if kid not in _alb_keys and len(_alb_keys) >= MAX_ALB_KEYS:  # make room: a failure first, else the oldest
            failed = [key for key, (found, _) in _alb_keys.items() if found is None]
            del _alb_keys[failed[0] if failed else next(iter(_alb_keys))]
        _alb_keys[kid] = (point, now)
    return point


def _unexpired(exp: Any) -> bool:
    return isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp > time.time()


def _alb_principal(headers: dict[str, str], settings: Settings) -> Principal | None:
    """The ALB's signed-in user, only from a verified x-amzn-oidc-data: the ES256 signature under the
    ELB key for its kid, the signer this load balancer, not expired, and its sub the same as
    x-amzn-oidc-identity. Anything short of that is an anonymous caller (never an error)."""
    identity = headers.get("x-amzn-oidc-identity", "")
    token = es256.parse(headers.get("x-amzn-oidc-data", ""))
    if token is None or not identity:
        return None
    kid, claims = token.header.get("kid"), token.claims
    if token.header.get("signer") != settings.alb_arn or not isinstance(kid, str) or not re.fullmatch(_KID_RE, kid):
        return None
    if not _unexpired(token.header.get("exp")) or ("exp" in claims and not _unexpired(claims["exp"])):
        return None
    if claims.get("sub") != identity:  # checked before the key is fetched and the signature computed
        return None
    point = _alb_key(kid, settings)
    if point is None or not es256.verify_token(token, point):
        return None
    sub = _stable_id(claims.get("sub"))
    return Principal("alb", sub, _groups(claims)) if sub else None


def principal_of(event: Any, call: Call, settings: Settings) -> Principal | None:
    """The authenticated principal of the request, or None for an anonymous caller."""
    if not isinstance(event, dict):
        return None
    if "requestContext" not in event:
        # A direct invoke (IAM authorised whoever holds lambda:InvokeFunction), unless it is shaped
        # like an HTTP request: API Gateway's proxy integration and the ALB always write
        # requestContext, so such an event came through something else (a pass-through mapping).
        http_shaped = any(key in event for key in ("httpMethod", "headers", "multiValueHeaders", "rawPath", "routeKey"))
        return None if http_shaped else OPERATOR
    context = event["requestContext"]
    if not isinstance(context, dict):
        return None
    if call.source.startswith("alb"):
        if not settings.alb_oidc_auth:  # without authentication on the rule, anyone can send these headers
            return None
        return _alb_principal(call.headers, settings)
    authorizer = context.get("authorizer")
    if not isinstance(authorizer, dict):
        return None
    if call.source == "http_v2":
        jwt, iam = authorizer.get("jwt"), authorizer.get("iam")
        if isinstance(jwt, dict):
            return _from_claims("jwt", jwt.get("claims"))
        user = _stable_id(iam.get("userId")) if isinstance(iam, dict) else None
        return Principal("iam", user) if user else None
    if isinstance(authorizer.get("claims"), dict):
        return _from_claims("cognito", authorizer["claims"])
    principal_id = _stable_id(authorizer.get("principalId"))
    return Principal("lambda", principal_id) if principal_id else None


def _address(text: str) -> str | None:
    """A canonical client address; an IPv6 client is its /64 (one subscriber holds the whole prefix)."""
    import ipaddress  # only when there is an address to read: nothing at import

    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.version == 6:
        mapped = ip.ipv4_mapped  # type: ignore[union-attr]
        return str(mapped) if mapped else str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _forwarded_for(event: dict[str, Any], call: Call) -> str:
    """X-Forwarded-For as the nearest proxy left it. With multi-value headers (the ALB's, when the
    target group turns them on) that is the last line, the one the ALB appended to; the earlier lines
    are the client's own (Call.headers keeps a multi-value header's first line)."""
    multi = event.get("multiValueHeaders")
    for key, lines in (multi.items() if isinstance(multi, dict) else ()):
        if isinstance(key, str) and key.lower() == "x-forwarded-for" and isinstance(lines, list):
            lines = [line for line in lines if isinstance(line, str)]
            if lines:
                return lines[-1]
    return call.headers.get("x-forwarded-for", "")


def client_address(event: dict[str, Any], call: Call, settings: Settings) -> str | None:
    """The address the client cannot choose: CloudFront-Viewer-Address (when CloudFront forwards it),
    else the X-Forwarded-For entry the trusted proxies appended, counted from the right; the
    left-most entries are whatever the client sent."""
    context = event.get("requestContext")
    if not isinstance(context, dict):
        return None
    holder = context.get("http") if call.source == "http_v2" else context.get("identity")
    connection = holder.get("sourceIp") if isinstance(holder, dict) else None  # the ALB puts it in X-Forwarded-For
    connection = connection if isinstance(connection, str) else None
    source = settings.client_address_source
    if source == "viewer" and call.headers.get("cloudfront-viewer-address"):
        viewer = call.headers["cloudfront-viewer-address"][:64]
        found = _address(viewer.rpartition(":")[0]) or _address(viewer)  # "ip:port"
        if found:
            return found
    if source != "connection":
        # Read from the right, where the proxies appended: the client can pad the left without bound.
        parts = _forwarded_for(event, call).rsplit(",", MAX_FORWARDED_HOPS)
        if len(parts) > MAX_FORWARDED_HOPS:
            parts = parts[1:]  # the unread rest: client-written
        chain = [hop.strip() for hop in parts if hop.strip()]
        if connection and (not chain or chain[-1] != connection):
            chain.append(connection)  # the last hop is the peer that connected to API Gateway (or the ALB)
        if chain:
            # Fewer hops than trusted proxies: the request bypassed them; only the nearest peer is known.
            index = len(chain) - 1 - settings.trusted_proxy_hops
            found = _address(chain[index] if index >= 0 else chain[-1])
            if found:
                return found
    return _address(connection) if connection else None


def refuse_cross_site(call: Call, settings: Settings) -> None:
    """A question sent by another site's page through a visitor's browser (a form, an image, fetch)
    is refused: it would spend the clinic's budget on a fresh address per visitor. Browsers say so
    in Sec-Fetch-Site; an origin allowed by CORS_ALLOW_ORIGIN may still ask."""
    if call.headers.get("sec-fetch-site", "").lower() != "cross-site":
        return
    allowed = settings.cors_allow_origins
    if "*" not in allowed and call.headers.get("origin", "") not in allowed:
        raise Forbidden()


def asker_of(event: Any, call: Call, settings: Settings) -> Asker:
    principal = principal_of(event, call, settings)
    address = client_address(event, call, settings) if isinstance(event, dict) else None
    return Asker(principal, address)


def _digest(value: str) -> str:
    """Keys and request tags are hashes: the table holds no address, principal or conversation id."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:24]
