"""The request as it arrives: which caller shape sent it (API Gateway REST v1, HTTP API
v2, ALB, Function URL, direct invoke), which route it asks for (Call), and the question it carries
(Question), validated into a 4xx that names the problem.

Imports config, errors and understanding.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from . import config, understanding
from .errors import BadRequest, PayloadTooLarge

# Patterns are used with fullmatch: "$" would accept a trailing newline ("ko\n").
_LANGUAGE_RE = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?"
_CONVERSATION_RE = r"[A-Za-z0-9._:-]{1,128}"
_QUESTION_FIELDS = ("question", "message", "language", "conversation_id")


class Question(NamedTuple):
    text: str
    language: str
    conversation_id: str | None = None
    plain: bool = False  # sent as a bare string or text/plain: answered as text/plain


class Call(NamedTuple):
    """How a request arrived: caller shape, route, and the HTTP details the response depends on."""

    source: str  # direct, rest_v1, http_v2, alb, alb_multi
    method: str  # POST for direct invokes
    path: str
    route: str  # ask, chatclient, health, preflight, unknown
    api_gateway: bool  # API Gateway's integration timeout applies
    headers: dict[str, str]
    cookies: dict[str, str]
    plain: bool  # answer as text/plain (the upstream chat widget's contract)

    @property
    def browser(self) -> bool:
        return self.source != "direct"

    def language_hint(self) -> str:
        """The asker's language before the question is read (errors must be in it too)."""
        return "ko" if self.headers.get("accept-language", "").lower().startswith("ko") else "en"


def event_source(event: Any) -> str:
    """Which caller shape the event has, so the response can match it."""
    if not isinstance(event, dict):
        return "direct"
    context = event.get("requestContext")
    if isinstance(context, dict) and "elb" in context:
        return "alb_multi" if "multiValueHeaders" in event else "alb"
    if event.get("version") == "2.0" or (isinstance(context, dict) and "http" in context):
        return "http_v2"
    if "body" in event or "httpMethod" in event:
        return "rest_v1"
    return "direct"


def _str_map(value: Any) -> dict[str, str]:
    """A header/query map from any event: multi-value lists give their first value, junk gives {}."""
    if not isinstance(value, dict):
        return {}
    found = {}
    for key, item in value.items():
        if isinstance(item, list):
            item = item[0] if item else ""
        if isinstance(key, str) and isinstance(item, str):
            found[key] = item
    return found


API_ROOT = "/genai"  # /api/genai behind API Gateway and ALB; a Function URL has no prefix


def _route(method: str, path: str) -> str:
    """The whole path after .../genai decides: "", /chatclient, /health; anything else is unknown."""
    if method == "OPTIONS":
        return "preflight"
    at = path.find(API_ROOT)
    rest = (path[at + len(API_ROOT):] if at >= 0 else path).rstrip("/").lower()
    return {"": "ask", "/chatclient": "chatclient", "/health": "health"}.get(rest, "unknown")


def describe_call(event: Any) -> Call:
    """Read method, path, headers and cookies from any event shape; never raises."""
    source = event_source(event)
    if source == "direct":
        return Call(source, "POST", "", "ask", False, {}, {}, False)
    context = event.get("requestContext") if isinstance(event.get("requestContext"), dict) else {}
    http = context.get("http") if isinstance(context.get("http"), dict) else {}
    method = str(event.get("httpMethod") or http.get("method") or "POST").upper()
    path = event.get("rawPath") or event.get("path") or http.get("path") or ""
    path = path if isinstance(path, str) else ""
    headers = {k.lower(): v for k, v in {**_str_map(event.get("multiValueHeaders")),
                                         **_str_map(event.get("headers"))}.items()}
    cookies: dict[str, str] = {}
    raw_cookies = event.get("cookies") if isinstance(event.get("cookies"), list) else headers.get("cookie", "").split(";")
    for pair in raw_cookies:
        name, _, value = str(pair).strip().partition("=")
        if name:
            cookies.setdefault(name, value)
    domain = str(context.get("domainName") or "")
    api_gateway = bool(context.get("apiId")) and ".lambda-url." not in domain and source in ("rest_v1", "http_v2")
    route = _route(method, path)
    return Call(source, method, path, route, api_gateway, headers, cookies, route == "chatclient")


def parse_request(event: Any, call: Call | None = None) -> Question:
    """Accept API Gateway v1/v2, Function URL, ALB and direct invokes; name what is wrong."""
    if not isinstance(event, dict):
        raise BadRequest("The request must be a JSON object.", "invalid_request")
    call = call or describe_call(event)
    payload: Any = event
    if call.source != "direct":
        payload = _http_payload(event, call)
    if isinstance(payload, str):  # the upstream chat widget sends JSON.stringify(text)
        return _question_from({"question": payload})._replace(plain=True)
    if not isinstance(payload, dict):
        raise BadRequest("The request body must be a JSON object or a JSON string.", "invalid_body")
    return _question_from(payload)


def _query(event: dict[str, Any], call: Call) -> dict[str, str]:
    """Query parameters; ALB passes them URL-encoded, and only as multi-values when so configured."""
    raw = event.get("queryStringParameters")
    if raw is None:
        raw = event.get("multiValueQueryStringParameters")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest("The query string parameters must be an object.", "invalid_query")
    query = _str_map(raw)
    if call.source.startswith("alb"):
        query = {unquote_plus(k): unquote_plus(v) for k, v in query.items()}
    return query


def _http_payload(event: dict[str, Any], call: Call) -> Any:
    body = event.get("body")
    if body is None or body == "":
        if call.method == "GET":
            return {k: v for k, v in _query(event, call).items() if k in _QUESTION_FIELDS}
        return {}
    if isinstance(body, dict):
        return body
    if not isinstance(body, str):
        raise BadRequest("The request body must be a JSON string.", "invalid_body")
    if len(body) > config.MAX_BODY_BYTES * 2:
        raise PayloadTooLarge(f"The request body is larger than {config.MAX_BODY_BYTES} bytes.")
    raw: bytes
    if event.get("isBase64Encoded") is True:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("The request body is marked base64 but is not valid base64.", "invalid_body") from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > config.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {config.MAX_BODY_BYTES} bytes.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", "invalid_body") from None
    if call.headers.get("content-type", "").lower().startswith("text/plain"):
        return text  # the question itself
    try:
        return json.loads(text)
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.", "invalid_json") from None
    except ValueError:
        raise BadRequest("The request body is not valid JSON (or send Content-Type: text/plain).",
                         "invalid_json") from None


# Letters and marks that render as nothing (Hangul fillers, the braille blank, the grapheme joiner...).
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5")


def _visible(text: str) -> bool:
    """Anything besides spaces, control, format and blank-looking characters (they cost model calls too)?"""
    return any(unicodedata.category(ch)[0] not in "CZ" and ch not in _INVISIBLE for ch in text)


def _question_from(payload: dict[str, Any]) -> Question:
    text = payload.get("question")
    if text is None:
        text = payload.get("message")  # an older PetClinic chat page sends {"message": ...}
    if text is None:
        raise BadRequest('The field "question" is required.', "missing_question")
    if not isinstance(text, str):
        raise BadRequest('The field "question" must be a string.', "invalid_question")
    if any("\ud800" <= ch <= "\udfff" for ch in text):  # a lone surrogate (a JSON \ud800 escape) is not text
        raise BadRequest('The field "question" is not valid Unicode text.', "invalid_question")
    text = unicodedata.normalize("NFC", text).strip()
    if not text or not _visible(text):
        raise BadRequest('The field "question" must not be empty.', "empty_question")
    if len(text) > config.MAX_QUESTION_CHARS:
        raise PayloadTooLarge(
            f'The field "question" is longer than {config.MAX_QUESTION_CHARS} characters.', "question_too_long"
        )
    language = payload.get("language")
    if language is not None and (not isinstance(language, str) or not re.fullmatch(_LANGUAGE_RE, language)):
        raise BadRequest('The field "language" must be a language tag such as "ko" or "en".', "invalid_language")
    conversation_id = payload.get("conversation_id")
    if conversation_id is not None and (
        not isinstance(conversation_id, str) or not re.fullmatch(_CONVERSATION_RE, conversation_id)
    ):
        raise BadRequest(
            'The field "conversation_id" must be 1-128 letters, digits or ._:- characters.', "invalid_conversation_id"
        )
    detected = "ko" if understanding.has_hangul(text) else "en"
    return Question(text=text, language=(language or detected).lower(), conversation_id=conversation_id)
