"""The domain errors. Each carries its HTTP status, code and caller-safe message;
``responses.error_response`` is the one place they are rendered. PLAIN_ERRORS holds the one-sentence
texts (Korean and English) that text/plain callers get instead of JSON.

Ground floor: imports only ``log``.
"""

from __future__ import annotations

from http import HTTPStatus

from .log import logger


class AppError(Exception):
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    code = "internal_error"
    message = "The assistant hit an unexpected problem. Please try again later."
    retry_after: int | None = None

    def __init__(self, message: str | None = None, code: str | None = None):
        super().__init__(message or self.message)
        if message:
            self.message = message
        if code:
            self.code = code


class BadRequest(AppError):
    status = HTTPStatus.BAD_REQUEST
    code = "bad_request"


class NotFound(AppError):
    status = HTTPStatus.NOT_FOUND
    code = "not_found"
    message = "Unknown path. Use POST /api/genai, POST /api/genai/chatclient or GET /api/genai/health."


class Forbidden(AppError):
    status = HTTPStatus.FORBIDDEN
    code = "cross_site"
    message = "Questions are accepted from the PetClinic page only, not from other sites."


class MethodNotAllowed(AppError):
    status = HTTPStatus.METHOD_NOT_ALLOWED
    code = "method_not_allowed"
    message = "Use POST to ask a question (GET with ?question= also works; OPTIONS for CORS)."
    allow = "GET, POST, OPTIONS"


class PayloadTooLarge(AppError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class Throttled(AppError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "throttled"
    message = "Too many requests right now. Please retry in a few seconds."
    retry_after = 5


class RateLimited(Throttled):
    """Over one of the per-client or per-conversation windows: the caller waits for it to end."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class UpstreamError(AppError):
    status = HTTPStatus.BAD_GATEWAY
    code = "upstream_error"
    message = "A service the assistant depends on returned an error."


class ServiceUnavailable(AppError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "service_unavailable"
    message = "A service the assistant depends on is temporarily unavailable. Please retry shortly."
    retry_after = 10


class BudgetExhausted(ServiceUnavailable):
    """The day's token cap is reached: 503, not 429, because no caller did anything wrong and nothing
    they do helps; every question waits for the next UTC day (health still answers)."""

    code = "budget_exhausted"
    message = "The assistant has used its budget for today. It is available again after midnight UTC."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, retry_after)


class UpstreamTimeout(AppError):
    status = HTTPStatus.GATEWAY_TIMEOUT
    code = "timeout"
    message = "The assistant could not finish in time. Please try a simpler question or retry."


class ConfigurationError(AppError):
    code = "configuration_error"
    message = "The assistant is not configured correctly. The operator has been notified in the logs."


class BadResponse(UpstreamError):
    """A dependency answered with something we cannot read: never "no rows", never an empty answer."""

    code = "bad_response"
    message = "A service the assistant depends on returned a malformed response."


class DataError(UpstreamError):
    """A Data API failure; the handler answers with it, a tool turns it into an error toolResult."""

    code = "database_error"
    message = "The database could not answer the query."


# What a person reads when the upstream chat widget (text/plain) gets an error, by status;
# a few codes get a more precise sentence.
PLAIN_ERRORS: dict[int | str, tuple[str, str]] = {  # (Korean, English)
    400: ("질문을 읽을 수 없습니다. 질문을 다시 입력해 주세요.", "The question could not be read. Please type it again."),
    "empty_question": ("질문이 비어 있습니다. 궁금한 내용을 입력해 주세요.", "The question is empty. Please type what you want to know."),
    403: ("다른 사이트에서 보낸 질문은 받지 않습니다. PetClinic 화면에서 질문해 주세요.",
          "Questions from other sites are not accepted. Please ask from the PetClinic page."),
    404: ("요청한 주소가 없습니다.", "That address does not exist."),
    405: ("이 주소는 이 방식의 요청을 받지 않습니다.", "This address does not accept that kind of request."),
    413: ("질문이 너무 깁니다. 2,000자 이내로 줄여 주세요.", "The question is too long. Please keep it under 2,000 characters."),
    429: ("요청이 많습니다. 잠시 후 다시 시도해 주세요.", "Too many requests right now. Please try again in a few seconds."),
    "rate_limited": ("질문이 너무 많습니다. 조금 기다린 뒤 다시 시도해 주세요.",
                     "Too many questions in a short time. Please wait a little and try again."),
    "budget_exhausted": ("오늘 사용할 수 있는 한도를 모두 썼습니다. 내일(UTC 자정 이후) 다시 시도해 주세요.",
                         "The assistant has used its budget for today. Please try again tomorrow (after midnight UTC)."),
    500: ("도우미에 문제가 생겼습니다. 잠시 후 다시 시도해 주세요.", "The assistant hit a problem. Please try again later."),
    502: ("도우미가 사용하는 서비스에서 오류가 났습니다. 잠시 후 다시 시도해 주세요.",
          "A service the assistant depends on failed. Please try again shortly."),
    503: ("도우미를 잠시 사용할 수 없습니다. 잠시 후 다시 시도해 주세요.",
          "The assistant is briefly unavailable. Please try again shortly."),
    504: ("제시간에 답하지 못했습니다. 질문을 더 간단히 하거나 다시 시도해 주세요.",
          "The assistant could not answer in time. Please ask a simpler question or try again."),
}


def plain_error(err: AppError, language: str) -> str:
    korean, english = PLAIN_ERRORS.get(err.code) or PLAIN_ERRORS.get(int(err.status)) or PLAIN_ERRORS[500]
    return korean if language.startswith("ko") else english


def _bad_model(what: str) -> BadResponse:
    logger.warning("bedrock response malformed", extra={"problem": what})
    return BadResponse(code="model_bad_response")
