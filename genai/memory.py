"""Conversation memory in DynamoDB: the last turns of each conversation, given back only
to the asker who wrote them and only to a read scope that saw as much, and the conversation cookie. Best effort: a failure is logged and the
question is answered without history.

Imports budget, callers, clients, config, request and log.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, NamedTuple

from botocore.exceptions import (
    ClientError,
)

from . import budget, callers, clients, config, request
from .budget import Deadline
from .callers import Asker
from .config import Settings
from .log import logger
from .request import Call, Question

TURN_PREFIX = "turn#"
HISTORY_MAX_BYTES = 6 * 1024  # of the Converse request given to earlier turns (newest first), as sent
STORED_ANSWER_CHARS = 3000  # an answer is kept up to this length (the model's own words)
MEMORY_WAIT_S = 2.0  # the longest the answer waits for history that is still loading
MEMORY_CALL_S = 2.0  # one DynamoDB call (connect + read), within the request's deadline
MEMORY_WRITE_RESERVE_MS = 1_500  # below this much time left the turn is not stored
COOKIE_NAME = "petclinic_genai_conversation"
_COOKIE_ID_RE = re.compile(r"[0-9a-f]{32}")  # uuid4().hex


class PastTurn(NamedTuple):
    question: str
    answer: str
    asker_id: str = ""  # the hashed principal that asked it; "" for anonymous callers and direct invokes
    scope: str = "all"  # the read scope it was answered under (config.READ_SCOPES)


def _within(turn_scope: str, scope: str) -> bool:
    """A turn answered under ``turn_scope`` may be given back to a caller reading ``scope``: it saw no
    more than the caller may (READ_SCOPES run widest first; an unknown or missing scope counts as "all")."""
    order = config.READ_SCOPES
    return (order.index(turn_scope) if turn_scope in order else 0) >= order.index(scope)


def memory_budget_s() -> float:
    """A short limit for one DynamoDB call: memory must never hold up (or outlive) the answer."""
    return min(MEMORY_CALL_S, budget.current_deadline().budget_s(config.RESPONSE_RESERVE_MS))


def _memory_failed(action: str, err: BaseException) -> None:
    """One bounded warning; never the conversation's text or the table's ARN."""
    code = err.response.get("Error", {}).get("Code", "") if isinstance(err, ClientError) else ""
    logger.warning("conversation memory unavailable", extra={"action": action, "error_type": type(err).__name__,
                                                              "error_code": str(code)[:64]})


def _text_attr(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    text = value.get("S") if isinstance(value, dict) else None
    if not isinstance(text, str):
        raise ValueError(f"attribute {name} is not a string")
    return text


def turn_asker_id(asker: Asker) -> str:
    """Who a turn belongs to: a signed-in principal's turns are shown to that principal only, so a
    conversation id that leaks (or is guessed: the body's ids are the caller's choice) shows a
    stranger nothing of staff's history."""
    principal = asker.principal
    return "" if principal is None or principal.kind == "invoke" else callers._digest(principal.label)


def load_turns(settings: Settings, conversation_id: str, asker_id: str = "", scope: str = "all") -> list[PastTurn]:
    """The newest unexpired turns of ``asker_id``, oldest first, within HISTORY_MAX_BYTES; [] if memory fails.

    Anonymous callers and direct invokes share the asker id "", so a turn is also skipped when it was
    answered under a wider read scope than ``scope`` (the operator's answer, or one from before
    ANONYMOUS_READ_SCOPE narrowed): history never carries what the caller's scope withholds."""
    try:
        response = clients.client("dynamodb", memory_budget_s()).query(
            TableName=settings.conversation_table,
            KeyConditionExpression="conversation_id = :c AND begins_with(#i, :t)",
            ExpressionAttributeNames={"#i": "item"},
            ExpressionAttributeValues={":c": {"S": conversation_id}, ":t": {"S": TURN_PREFIX}},
            ScanIndexForward=False,  # newest first
            Limit=settings.conversation_max_turns,
            ConsistentRead=True,  # a follow-up right after an answer must see it
        )
        items = response.get("Items")
        if not isinstance(items, list):
            raise ValueError("Items is not a list")
        now, turns, used = time.time(), [], 0
        for item in items:
            if float(item["expires_at"]["N"]) <= now:  # DynamoDB's TTL deletes lazily
                continue
            if item.get("asker", {}).get("S", "") != asker_id:  # someone else's turn in this conversation
                continue
            turn_scope = item.get("scope", {}).get("S", "all")  # stored before scopes: as wide as can be
            if not _within(turn_scope, scope):
                continue
            turn = PastTurn(_text_attr(item, "question"), _text_attr(item, "answer"), asker_id, turn_scope)
            used += len(json.dumps(history_messages([turn])))  # as the request carries it: \uXXXX per Hangul
            if used > HISTORY_MAX_BYTES:
                break
            turns.append(turn)
        return turns[::-1]
    except Exception as err:  # memory must never fail a question
        _memory_failed("load", err)
        return []


def save_turn(settings: Settings, conversation_id: str, turn: PastTurn, deadline: Deadline, request_id: str = "") -> bool:
    """One item per turn (a unique sort key), so two concurrent requests never overwrite each other."""
    if deadline.remaining_ms() < MEMORY_WRITE_RESERVE_MS:
        logger.warning("conversation turn not stored: out of time")
        return False
    now = time.time()
    try:
        clients.client("dynamodb", memory_budget_s()).put_item(
            TableName=settings.conversation_table,
            Item={
                "conversation_id": {"S": conversation_id},
                "item": {"S": f"{TURN_PREFIX}{int(now * 1000):013d}#{uuid.uuid4().hex[:12]}"},
                "question": {"S": turn.question},
                "answer": {"S": turn.answer[:STORED_ANSWER_CHARS]},
                "expires_at": {"N": str(int(now) + settings.conversation_idle_minutes * 60)},
                **({"request_id": {"S": request_id}} if request_id else {}),
                **({"asker": {"S": turn.asker_id}} if turn.asker_id else {}),
                "scope": {"S": turn.scope},
            },
            ConditionExpression="attribute_not_exists(#i)",
            ExpressionAttributeNames={"#i": "item"},
        )
        return True
    except Exception as err:  # best effort, as above
        _memory_failed("save", err)
        return False


def history_messages(turns: list[PastTurn]) -> list[dict[str, Any]]:
    """Earlier turns as Converse messages (user, assistant, ...), before the new question."""
    messages = []
    for turn in turns:
        messages.append({"role": "user", "content": [{"text": turn.question}]})
        messages.append({"role": "assistant", "content": [{"text": turn.answer}]})
    return messages


def conversation_for(call: Call, question: Question, settings: Settings) -> tuple[str | None, bool]:
    """Which conversation: the request's conversation_id, else the browser's cookie, else a new one.

    Returns (conversation id, whether to set the cookie). A cookie is only set for browser callers
    when memory is on; direct invokes without conversation_id stay stateless."""
    if question.conversation_id:
        return question.conversation_id, False
    if not settings.memory or not call.browser:
        return None, False
    cookie = call.cookies.get(COOKIE_NAME, "")
    if _COOKIE_ID_RE.fullmatch(cookie):  # only ids this function makes: a chosen one is not adopted
        return cookie, True  # refreshed, so the cookie lives as long as the conversation
    return uuid.uuid4().hex, True


def conversation_cookie(call: Call, conversation_id: str, settings: Settings) -> str:
    """HttpOnly, Secure, SameSite=Strict, scoped to the API path (/api/genai), expiring with the memory."""
    at = call.path.find(request.API_ROOT)
    path = call.path[:at + len(request.API_ROOT)] if at >= 0 else "/"
    path = path if re.fullmatch(r"/[A-Za-z0-9._~/-]{0,200}", path) else "/"
    return (f"{COOKIE_NAME}={conversation_id}; Path={path}; Max-Age={settings.conversation_idle_minutes * 60};"
            " HttpOnly; Secure; SameSite=Strict")
