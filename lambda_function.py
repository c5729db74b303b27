"""PetClinic assistant: answers questions about the PetClinic database with Claude on Bedrock.

The handler Terraform names (lambda_function.lambda_handler). It holds the request's way through and
nothing else: parse (request) -> who asks (callers) -> limits -> memory -> prefetch (understanding,
facts) -> model -> respond (responses, metrics). Everything it calls lives in the genai/ package
beside it, one module per concern; this file and that package are one deploy unit, one zip, with
the .pyc of every module (local/package.py). Reads Aurora MySQL only through the RDS Data API.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from typing import Any

from genai import budget, callers, clients, config, dataapi, facts, memory, metrics, model, request, responses
from genai import markdown, tools, toolset, understanding, writes
from genai.budget import Deadline, Usage
from genai.callers import Asker
from genai.config import Settings
from genai.errors import AppError, ConfigurationError, DataError, MethodNotAllowed, NotFound
from genai.limits import Admission
from genai.log import logger
from genai.memory import PastTurn
from genai.request import Call, Question
from genai.writes import WriteScope


def model_route(settings: Settings, deadline: Deadline) -> model.Route:
    """The IDs this function may call from its Region, in order (creating the client calls nothing)."""
    region = clients.client("bedrock-runtime", deadline.budget_s(config.RESPONSE_RESERVE_MS)).meta.region_name or ""
    return model.route_for(settings, region)


def model_id_for(settings: Settings, deadline: Deadline) -> str:
    """The ID this function calls first: the one that worked on this instance, else the table's choice."""
    return model_route(settings, deadline).ids[0]


def _wait_for_turns(pending: Future[list[PastTurn]] | None, deadline: Deadline) -> list[PastTurn]:
    """History loaded beside the prefetch; the answer never waits long for it."""
    if pending is None:
        return []
    wait_s = max(0.0, min(memory.MEMORY_WAIT_S, (deadline.remaining_ms() - config.MODEL_CALL_RESERVE_MS) / 1000))
    try:
        return pending.result(timeout=wait_s)
    except FutureTimeout:
        logger.warning("conversation memory unavailable", extra={"action": "load", "error_type": "timeout"})
        return []


# Shown after an answer the model could not finish (stopReason max_tokens), in the asker's language.
TRUNCATED_NOTES = {
    "ko": "(답변이 길이 제한에 걸려 중간에 끊겼습니다. 질문을 나누어 다시 물어봐 주세요.)",
    "en": "(This answer was cut off at the length limit. Please ask a narrower question.)",
}


def answer(question: Question, settings: Settings, deadline: Deadline, conversation_id: str | None = None,
           usage: Usage | None = None, request_id: str = "", may_write: bool = True,
           asker: Asker | None = None, read_scope: str | None = None) -> dict[str, Any]:
    """Prefetch, history and the limit checks side by side, then the model; the turn is stored once
    the answer is ready, and the tokens it used are added to the day's count.

    With writes on (not a GET, and an authenticated principal allowed to write), a plain "yes"/"no"
    settles the conversation's pending write without the model; a proposal the model makes is
    appended to the answer as stored.

    ``read_scope`` (decided by the handler from the asker, else here) bounds what the prefetch
    selects, the tools offered, their results and the history given back."""
    asker = asker or Asker(callers.OPERATOR, None)
    read_scope = read_scope or toolset.read_scope_of(asker, settings)
    usage, asker_id = usage or Usage(), memory.turn_asker_id(asker)  # whose turns this request reads and stores
    remembered = conversation_id if settings.memory else None  # the conversation whose turns are stored
    writer = asker.principal if may_write and settings.writes_enabled and asker.may_write(settings) else None
    scope = WriteScope(remembered, request_id, writer.label, asker_id) if remembered and writer else None
    scoped, reading = writes._WRITE_SCOPE.set(scope), tools._READ_SCOPE.set(read_scope)
    try:
        route = model_route(settings, deadline)
        model_id = route.ids[0]
        admission = Admission(settings, asker, conversation_id, request_id) if settings.limits else None
        intent = writes.reply_intent(question.text) if scope else None
        if intent and scope:
            if admission:
                admission.check(deadline, usage)
            text, written = writes.settle_pending(settings, scope, intent, question.language)
            memory.save_turn(settings, scope.conversation_id, PastTurn(question.text, text, asker_id, read_scope), deadline,
                             request_id)
            return {"answer": text, "truncated": False, "model_id": model_id, "usage": usage.as_dict(),
                    "history_turns": 0, **({"written": written} if written else {})}
        pending = (clients._executor().submit(contextvars.copy_context().run, memory.load_turns, settings, remembered, asker_id,
                                              read_scope)
                   if remembered else None)
        known = facts.prefetch(settings, understanding.extract_names(question.text), read_scope)
        if admission:
            admission.check(deadline, usage)  # over a limit or the cap: no model call
        turns = _wait_for_turns(pending, deadline)
        messages = [*memory.history_messages(turns), facts.build_user_message(question, known)]
        try:
            reply, usage = model.converse_loop(settings, route, messages, deadline, usage)
        finally:
            if admission:
                admission.charge(usage, deadline)  # also what a failed question spent
        text = markdown.safe_answer(reply.text)  # the model's words, safe for marked into innerHTML
        if reply.truncated:
            text += "\n\n" + TRUNCATED_NOTES.get(question.language.split("-")[0], TRUNCATED_NOTES["en"])
        text += writes.confirmation_request(scope, question.language)
        if remembered:
            memory.save_turn(settings, remembered, PastTurn(question.text, text, asker_id, read_scope), deadline, request_id)
    finally:
        writes._WRITE_SCOPE.reset(scoped)
        tools._READ_SCOPE.reset(reading)
    return {"answer": text, "truncated": reply.truncated, "model_id": reply.model_id, "usage": usage.as_dict(),
            "history_turns": len(turns)}


def health(call: Call, event: dict[str, Any], settings: Settings, deadline: Deadline, request_id: str = "",
           usage: Usage | None = None) -> dict[str, Any]:
    """Configuration state without calling Bedrock; ?deep=1 also runs one cheap Data API statement
    (counted in the caller's per-client windows: it reaches the database; the cap does not apply)."""
    body: dict[str, Any] = {"status": "ok", "model_id": model_id_for(settings, deadline), "memory": settings.memory,
                            "writes": settings.writes_enabled, "limits": settings.limits}
    if request._query(event, call).get("deep", "").lower() in ("1", "true", "yes"):
        callers.refuse_cross_site(call, settings)  # it reaches the database: a hostile page may not keep it awake
        if settings.limits:
            Admission(settings, callers.asker_of(event, call, settings), None, request_id, budget=False).check(
                deadline, usage or Usage())
        started = time.perf_counter()
        dataapi._execute(settings, "SELECT 1 AS ok")
        body["database"] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000)}
    return body


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.monotonic()
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    call = request.describe_call(event)
    body_text = event.get("body") if isinstance(event, dict) and isinstance(event.get("body"), str) else ""
    # The asker's language before (or without) a readable question: Hangul in the body, else Accept-Language.
    language = "ko" if understanding.has_hangul(body_text[:2000]) else call.language_hint()
    plain, headers = call.plain, {}
    usage = Usage()
    read_scope: str | None = None  # decided once the asker is known
    bound: contextvars.Token[Deadline | None] | None = None
    try:
        configuration: ConfigurationError | None = None
        try:
            settings: Settings | None = config.settings_once()
        except ConfigurationError as err:  # bad input still gets its 400 first; CORS needs no valid settings
            settings, configuration = None, err
        headers = responses.cors_headers(call, settings, preflight=call.route == "preflight")
        if call.route == "preflight":
            return responses.respond(HTTPStatus.NO_CONTENT, "", call.source, headers)
        if call.route == "unknown":
            raise NotFound()
        if call.route == "health" and call.method != "GET":
            refused = MethodNotAllowed("Use GET for the health check.")
            refused.allow = "GET, OPTIONS"
            raise refused
        if call.method not in ("GET", "POST"):
            raise MethodNotAllowed()
        question = request.parse_request(event, call) if call.route != "health" else None
        if question:
            language, plain = question.language, plain or question.plain
        if settings is None and configuration is not None:
            raise configuration  # logged once, when it was found
        settings = settings or config.settings_once()
        deadline = Deadline(context, settings.api_gateway_budget_ms if call.api_gateway else None, started)
        bound = budget._DEADLINE.set(deadline)  # every dependency call from here (threads included) is bounded by it
        if question is None:
            return responses.respond(HTTPStatus.OK, {**health(call, event, settings, deadline, request_id, usage),
                                           "request_id": request_id},
                           call.source, headers)
        callers.refuse_cross_site(call, settings)
        conversation_id, set_cookie = memory.conversation_for(call, question, settings)
        asker = callers.asker_of(event, call, settings)
        read_scope = toolset.read_scope_of(asker, settings)
        result = answer(question, settings, deadline, conversation_id, usage, request_id,
                        may_write=call.method != "GET", asker=asker, read_scope=read_scope)
        if set_cookie and conversation_id:
            headers["Set-Cookie"] = memory.conversation_cookie(call, conversation_id, settings)
        logger.info("answered", extra={"request_id": request_id, "source": call.source, "route": call.route,
                                       "language": question.language, "read_scope": read_scope,
                                       "model_calls": result["usage"]["model_calls"],
                                       "history_turns": result.pop("history_turns"),
                                       "ms": round((time.monotonic() - started) * 1000)})
        metrics.emit_metrics(usage, started, read_scope=read_scope)
        if plain:
            return responses.respond(HTTPStatus.OK, result["answer"], call.source, headers)
        body: dict[str, Any] = {**result, "request_id": request_id}
        if conversation_id:
            body["conversation_id"] = conversation_id
        return responses.respond(HTTPStatus.OK, body, call.source, headers)
    except AppError as err:
        if isinstance(err, DataError):
            err = dataapi._status_for_data_error(err)
        logger.warning("request failed", extra={"request_id": request_id, "code": err.code, "status": int(err.status),
                                                **({"read_scope": read_scope} if read_scope else {})})
        metrics.emit_metrics(usage, started, err.code, read_scope=read_scope)
        return responses._error_response(err, request_id, call.source, language if plain else None, headers)
    except Exception:
        logger.exception("unhandled error", extra={"request_id": request_id})
        metrics.emit_metrics(usage, started, AppError.code, read_scope=read_scope)
        return responses._error_response(AppError(), request_id, call.source, language if plain else None, headers)
    finally:
        if bound is not None:
            budget._DEADLINE.reset(bound)
