"""Conversation memory in DynamoDB: the last turns of each conversation, given back only
to the asker who wrote them and only to a read scope that saw as much, and the conversation cookie. Best effort: a failure is logged and the
question is answered without history.

Imports budget, callers, clients, config, request and log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from typing import Any, NamedTuple

from botocore.exceptions import (
    ClientError,
)

from . import budget, callers, clients, config
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
# __Host-: the browser keeps it only if it came over HTTPS with Secure, Path=/ and no Domain, so no
# other subdomain or path can plant or overwrite it.
COOKIE_NAME = "__Host-petclinic_genai_conversation"
_ISSUED_ID_RE = r"[0-9a-f]{64}"  # 32 hex of randomness, then 32 hex of its HMAC tag
_ID_CONTEXT = b"petclinic-genai conversation id v1:"


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
    """Who a turn belongs to: a signed-in principal's turns, and the operator's (direct invokes), are
    shown to that principal only, and an anonymous caller's to the same client address (hashed), so
    a conversation id that leaks shows a stranger nothing of them. "" only for a caller with neither."""
    principal = asker.principal
    if principal is not None:
        return callers._digest(principal.label)
    return callers._digest(asker.client_key) if asker.client_key else ""


def turn_prefix(asker_id: str) -> str:
    """The sort-key prefix of one asker's turns: a Query reads exactly that asker's turns, newest
    first, so other callers' turns in the same conversation neither show nor push them out."""
    return f"{TURN_PREFIX}{asker_id or 'anonymous'}#"


def _tag(settings: Settings, nonce: str) -> str:
    key = settings.conversation_key.encode("utf-8")
    return hmac.new(key, _ID_CONTEXT + nonce.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def issue_conversation_id(settings: Settings, nonce: str | None = None) -> str:
    """A new conversation id: random (or the given 32 hex digits, for tools that name a conversation)
    and authenticated with the layer's key (CONVERSATION_KEY)."""
    nonce = nonce if nonce is not None and re.fullmatch(r"[0-9a-f]{32}", nonce) else secrets.token_hex(16)
    return nonce + _tag(settings, nonce)


def issued_here(settings: Settings, conversation_id: str) -> bool:
    """Did this function (with this key) issue the id? A planted, guessed or old-key id did not."""
    if not settings.conversation_key or not re.fullmatch(_ISSUED_ID_RE, conversation_id):
        return False
    return hmac.compare_digest(conversation_id[32:], _tag(settings, conversation_id[:32]))


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
            ExpressionAttributeValues={":c": {"S": conversation_id}, ":t": {"S": turn_prefix(asker_id)}},
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
            if item.get("asker", {}).get("S", "") != asker_id:  # the prefix says whose; the attribute agrees
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
                "item": {"S": f"{turn_prefix(turn.asker_id)}{int(now * 1000):013d}#{uuid.uuid4().hex[:12]}"},
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

    Returns (conversation id, whether to set the cookie). With memory on, only ids this function
    issued are joined: an unknown or forged one, in the body or the cookie, starts a new conversation
    (its id comes back in the response). A cookie is only set for browser callers; direct invokes
    without conversation_id stay stateless. With memory off there is nothing to join, and the body's
    id only names the per-conversation rate window."""
    if question.conversation_id and not settings.memory:
        return question.conversation_id, False
    if question.conversation_id:
        known = issued_here(settings, question.conversation_id)
        return (question.conversation_id if known else issue_conversation_id(settings)), False
    if not settings.memory or not call.browser:
        return None, False
    cookie = call.cookies.get(COOKIE_NAME, "")
    if issued_here(settings, cookie):
        return cookie, True  # refreshed, so the cookie lives as long as the conversation
    return issue_conversation_id(settings), True


def conversation_cookie(call: Call, conversation_id: str, settings: Settings) -> str:
    """__Host-: HttpOnly, Secure, SameSite=Strict, Path=/ (the prefix requires it), expiring with the memory."""
    return (f"{COOKIE_NAME}={conversation_id}; Path=/; Max-Age={settings.conversation_idle_minutes * 60};"
            " HttpOnly; Secure; SameSite=Strict")
