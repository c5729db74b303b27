"""Rate limits and the daily token cap, shared by every instance through one DynamoDB
table (LIMITS_TABLE): per-client, per-conversation and per-day windows (one conditional ADD admits or
refuses), the anonymous share of the cap, and the Admission that checks beside the prefetch and
charges the tokens after the answer.

Imports budget, callers, clients, config, errors, memory and log.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import date, timedelta
from functools import partial
from typing import Any, NamedTuple

from botocore.exceptions import (
    ClientError,
)

from . import callers, clients, config, memory
from .budget import Deadline, Usage
from .callers import Asker
from .config import Settings
from .errors import BudgetExhausted, RateLimited, ServiceUnavailable, UpstreamTimeout
from .log import log_token, logger

WINDOW_GRACE_S = 3600  # a window's item outlives its period by this much, then the TTL removes it
BUDGET_STALE_S = 300  # a budget reading this recent still admits while the table cannot be read
_clock = time.time  # the limits' clock: tests replace it to roll windows and days over


class Window(NamedTuple):
    scope: str  # client, conversation
    key: str
    seconds: int
    limit: int  # questions
    tokens: int = 0  # tokens the key may spend in the window (0: not counted); charged after each answer


class Refusal(NamedTuple):
    window: Window
    wait_s: float  # until the window ends
    tokens: bool  # the window's token allowance is spent (else its questions)


def windows_for(settings: Settings, asker: Asker, conversation_id: str | None) -> list[Window]:
    client_key = asker.client_key
    found = []
    if client_key and settings.client_per_minute:
        found.append(Window("client", client_key, 60, settings.client_per_minute))
    if client_key and (settings.client_per_day or settings.client_tokens_per_day):
        found.append(Window("client", client_key, 86_400, settings.client_per_day or config.MAX_CLIENT_PER_DAY,
                            settings.client_tokens_per_day))
    if conversation_id and settings.conversation_per_minute:
        found.append(Window("conversation", conversation_id, 60, settings.conversation_per_minute))
    return found


def _slot(window: Window, now: float) -> tuple[str, int]:
    """The window's item key for ``now`` and when that period ends (fixed windows, UTC-aligned)."""
    start = int(now // window.seconds) * window.seconds
    return f"{window.scope}#{window.seconds}#{callers._digest(window.key)}#{start}", start + window.seconds


def count_request(settings: Settings, window: Window, request_id: str, now: float) -> Refusal | None:
    """Count this request in its window: None when admitted, else why not and for how long.

    The ADD and its condition are one atomic UpdateItem, so concurrent instances never admit more
    than the limit; the window keeps the tags of the requests it admitted, so a retried request
    (the same request id) is admitted again without counting twice. Refused requests add nothing."""
    key, ends = _slot(window, now)
    tag = callers._digest(request_id)[:12]
    condition = "(attribute_not_exists(n) OR n < :limit) AND NOT contains(ids, :tag)"
    values = {":one": {"N": "1"}, ":tags": {"SS": [tag]}, ":tag": {"S": tag}, ":limit": {"N": str(window.limit)},
              ":expires": {"N": str(ends + WINDOW_GRACE_S)}}
    if window.tokens:
        condition += " AND (attribute_not_exists(tokens) OR tokens < :tokens)"
        values[":tokens"] = {"N": str(window.tokens)}
    try:
        clients.client("dynamodb", memory.memory_budget_s()).update_item(
            TableName=settings.limits_table, Key={"pk": {"S": key}},
            UpdateExpression="ADD n :one, ids :tags SET expires_at = :expires", ConditionExpression=condition,
            ExpressionAttributeValues=values, ReturnValuesOnConditionCheckFailure="ALL_OLD")
        return None
    except ClientError as err:
        if clients._error_code(err) != "ConditionalCheckFailedException":
            raise
        old = err.response.get("Item") or {}
        tags = old.get("ids", {}).get("SS") if isinstance(old.get("ids"), dict) else None
        if isinstance(tags, list) and tag in tags:
            return None
        spent = bool(window.tokens) and _token_count(old) >= window.tokens
        return Refusal(window, max(1.0, float(ends - now)), spent)


def _day(now: float) -> tuple[str, int]:
    """The UTC day and the seconds until it ends."""
    day = int(now // 86_400)
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat(), (day + 1) * 86_400 - int(now)


def _budget_key(now: float) -> dict[str, Any]:
    return {"pk": {"S": "tokens#" + _day(now)[0]}}


_last_budget: tuple[str, int, float] | None = None  # (day, tokens used, when read) by this instance
_local_counts: dict[str, int] = {}  # window key -> questions this instance admitted while the table failed
_refused_until: dict[str, tuple[float, bool]] = {}  # window key -> (refused until, for its tokens)
_local_lock = threading.Lock()
LOCAL_COUNTS_MAX = 10_000  # keys kept; past this the oldest periods are forgotten all at once


def count_locally(window: Window, now: float) -> Refusal | None:
    """The fallback while the table cannot be reached (down, or throttled on a hot key under a flood):
    the same window counted in this instance alone, so failing open still admits at most the limit
    per instance, not everything."""
    key, ends = _slot(window, now)
    with _local_lock:
        if len(_local_counts) >= LOCAL_COUNTS_MAX:
            _local_counts.clear()
        count = _local_counts.get(key, 0)
        if count >= window.limit:
            return Refusal(window, max(1.0, float(ends - now)), False)
        _local_counts[key] = count + 1
    return None


def _token_count(item: Any) -> int:
    value = item.get("tokens", {}).get("N", "0") if isinstance(item, dict) else "0"
    return max(0, int(value))


def read_budget(settings: Settings, now: float) -> int:
    """Tokens the whole function used today (a consistent read of the day's counter)."""
    global _last_budget
    response = clients.client("dynamodb", memory.memory_budget_s()).get_item(
        TableName=settings.limits_table, Key=_budget_key(now), ConsistentRead=True,
        ProjectionExpression="tokens")
    used = _token_count(response.get("Item"))
    _last_budget = (_day(now)[0], used, now)
    return used


def charge_tokens(settings: Settings, key: dict[str, Any], tokens: int, expires: int, usage: Usage,
                  budget_s: float) -> int | None:
    """ADD the tokens to one counter item, once (never retried, so never twice): the new total, or
    None when it could not be added (logged; the answer is ready and goes out regardless)."""
    try:
        response = clients.client("dynamodb", budget_s).update_item(
            TableName=settings.limits_table, Key=key, UpdateExpression="ADD tokens :used SET expires_at = :expires",
            ExpressionAttributeValues={":used": {"N": str(tokens)}, ":expires": {"N": str(expires)}},
            ReturnValues="UPDATED_NEW")
        return _token_count(response.get("Attributes"))
    except Exception as err:
        _limits_failed("charge", err, usage)
        return None


def _limits_failed(action: str, err: BaseException, usage: Usage) -> None:
    """One bounded warning and a LimiterErrors metric; never a key, an address or the table's ARN."""
    usage.limiter_errors += 1
    code = clients._error_code(err) if isinstance(err, ClientError) else ""
    logger.warning("limits unavailable", extra={"action": action, "error_type": type(err).__name__,
                                                "error_code": log_token(code)})


class Admission:
    """The limit checks of one question, started beside the prefetch (no round trip before it).

    Fail policy: a window that cannot be checked fails open to this instance's own count of it
    (count_locally: a DynamoDB fault must not take the assistant from the staff, and a flood that
    throttles its hot key still meets the limit once per instance). The cap fails closed (503
    budget_unavailable) unless this instance read the day's count in the last BUDGET_STALE_S
    seconds and it was under the cap."""

    def __init__(self, settings: Settings, asker: Asker, conversation_id: str | None, request_id: str,
                 budget: bool = True) -> None:
        self.settings, self.now, self.budget = settings, _clock(), budget and bool(settings.daily_token_cap)
        self.cap = settings.daily_token_cap if asker.principal else int(settings.daily_token_cap * config.ANONYMOUS_CAP_SHARE)
        self.windows = windows_for(settings, asker, conversation_id)
        known = [refusal for refusal in map(self._known_refusal, self.windows) if refusal]
        if known:  # refused here a moment ago: no table call, no prefetch, no model call
            raise self._rate_limited(max(known, key=lambda refusal: refusal.wait_s))
        calls: list[Callable[[], Any]] = [partial(count_request, settings, w, request_id, self.now)
                                          for w in self.windows]
        if self.budget:
            calls.append(partial(read_budget, settings, self.now))
        self.futures = [clients._executor().submit(contextvars.copy_context().run, call) for call in calls]

    def check(self, deadline: Deadline, usage: Usage) -> None:
        """Raise BudgetExhausted, ServiceUnavailable or RateLimited, or return to let the question in."""
        ends = time.monotonic() + max(0.0, min(memory.MEMORY_WAIT_S, deadline.budget_s(config.MODEL_CALL_RESERVE_MS)))
        results: list[Any] = []
        for future in self.futures:
            try:
                results.append(future.result(timeout=max(0.0, ends - time.monotonic())))
            except Exception as err:  # includes the wait running out
                _limits_failed("check", err if not isinstance(err, FutureTimeout) else TimeoutError(), usage)
                results.append(err)
        if self.budget:
            self._check_budget(results.pop(), usage)
        refusals = [count_locally(w, self.now) if isinstance(result, BaseException) else result
                    for result, w in zip(results, self.windows)]
        refused = [refusal for refusal in refusals if refusal is not None]
        if refused:
            worst = max(refused, key=lambda refusal: refusal.wait_s)
            with _local_lock:
                if len(_refused_until) >= LOCAL_COUNTS_MAX:
                    _refused_until.clear()
                _refused_until[_slot(worst.window, self.now)[0]] = (self.now + worst.wait_s, worst.tokens)
            raise self._rate_limited(worst)

    def _known_refusal(self, window: Window) -> Refusal | None:
        until, tokens = _refused_until.get(_slot(window, self.now)[0], (0.0, False))
        return Refusal(window, until - self.now, tokens) if until > self.now else None

    @staticmethod
    def _rate_limited(refusal: Refusal) -> RateLimited:
        window, wait = refusal.window, int(refusal.wait_s + 0.999)
        per = "minute" if window.seconds == 60 else "day"
        what = (f"has used its {window.tokens:,} tokens for today" if refusal.tokens
                else f"has asked too many questions (at most {window.limit} per {per})")
        return RateLimited(f"This {window.scope} {what}. Retry in {wait} seconds.", wait)

    def charge(self, usage: Usage, deadline: Deadline) -> None:
        """After the answer: the tokens go to the day's count and to the client's day window, side by
        side; the day's total becomes the DailyTokens metric."""
        global _last_budget
        tokens = usage.input_tokens + usage.output_tokens
        budget_s = min(memory.MEMORY_CALL_S, deadline.budget_s(200))
        if tokens <= 0 or budget_s < 1:
            if tokens > 0:
                _limits_failed("charge", TimeoutError(), usage)
            return
        day_ends = int(self.now) + _day(self.now)[1]
        counters = [(_budget_key(self.now), day_ends + 86_400)]
        for key, ends in (_slot(w, self.now) for w in self.windows if w.tokens):
            counters.append(({"pk": {"S": key}}, ends + WINDOW_GRACE_S))
        try:
            totals = clients.run_concurrently([partial(charge_tokens, self.settings, key, tokens, expires, usage, budget_s)
                                       for key, expires in counters])
        except UpstreamTimeout as err:  # the answer is ready: it is never lost to the count
            _limits_failed("charge", err, usage)
            return
        usage.daily_tokens = totals[0]
        if totals[0] is not None:  # a reading as fresh as a GetItem's, for the cap's grace
            _last_budget = (_day(self.now)[0], totals[0], self.now)

    def _check_budget(self, used: Any, usage: Usage) -> None:
        day, left_today = _day(self.now)
        if isinstance(used, BaseException):
            last = _last_budget
            if last is None or last[0] != day or self.now - last[2] > BUDGET_STALE_S:
                raise ServiceUnavailable("The assistant cannot check its daily budget right now. Please retry shortly.",
                                         "budget_unavailable")
            used = last[1]
        if used >= self.cap:
            usage.daily_tokens = used
            raise BudgetExhausted(left_today)
