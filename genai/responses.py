"""The proxy response for every caller shape (JSON, or text/plain for the chat
widget), CORS for configured origins, and error_response: the one place errors are rendered.

Imports config, errors and request.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from . import errors
from .config import Settings
from .errors import AppError, MethodNotAllowed
from .request import Call

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


def cors_headers(call: Call, settings: Settings | None, preflight: bool = False) -> dict[str, str]:
    """CORS only for a configured origin (the default page is same-origin behind CloudFront)."""
    origin = call.headers.get("origin", "")
    allowed = settings.cors_allow_origins if settings else ()
    if not origin or not (origin in allowed or "*" in allowed):
        return {}
    headers = {"Access-Control-Allow-Origin": "*" if "*" in allowed else origin, "Vary": "Origin"}
    if "*" not in allowed:
        headers["Access-Control-Allow-Credentials"] = "true"  # the conversation cookie
    if preflight:
        headers.update({"Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"})
    return headers


def respond(status: int, body: dict[str, Any] | str, source: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The proxy response for any caller: JSON, or text/plain when the body is a string."""
    content_type = TEXT_TYPE if isinstance(body, str) else JSON_TYPE
    all_headers = {"Content-Type": content_type, "Cache-Control": "no-store", **(headers or {})}
    response: dict[str, Any] = {
        "statusCode": int(status),
        "headers": all_headers,
        "body": body if isinstance(body, str) else json.dumps(body, ensure_ascii=False),
        "isBase64Encoded": False,
    }
    if status == HTTPStatus.NO_CONTENT:
        del all_headers["Content-Type"]
        response["body"] = ""
    if source == "http_v2" and "Set-Cookie" in all_headers:  # payload 2.0 carries cookies apart
        response["cookies"] = [all_headers.pop("Set-Cookie")]
    if source.startswith("alb"):
        response["statusDescription"] = f"{int(status)} {HTTPStatus(status).phrase}"
    if source == "alb_multi":  # a target group with multi-value headers on ignores "headers"
        response["multiValueHeaders"] = {name: [value] for name, value in response.pop("headers").items()}
    return response


def _error_response(err: AppError, request_id: str, source: str, plain_language: str | None = None,
                    headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The one place errors are rendered: JSON, or a sentence in the asker's language for text callers."""
    extra = {**(headers or {}), **({"Retry-After": str(err.retry_after)} if err.retry_after else {})}
    if isinstance(err, MethodNotAllowed):
        extra["Allow"] = err.allow
    if plain_language:
        return respond(err.status, errors.plain_error(err, plain_language), source, extra)
    body = {"error": {"code": err.code, "message": err.message}, "request_id": request_id}
    return respond(err.status, body, source, extra)
