"""Rate limits and the daily token cap, shared by every instance through one DynamoDB
table (LIMITS_TABLE): per-client, per-conversation and per-day windows (one conditional ADD admits or
refuses), the anonymous share of the cap, and the Admission that checks beside the prefetch.

Tokens by reservation: at admission each question reserves its bound (QUESTION_TOKEN_BOUND) in the
client's day window and in the day's total, atomically, in the same conditional ADD that admits it;
after the answer the reservation is settled to what the question really used. A burst of any size
is therefore counted at its bound while it runs. A reservation that is never settled (the instance
died) is a hold with an expiry: any later admission that sees it expired releases it.

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
from .budget import Deadline, Usage, current_deadline
from .callers import Asker
from .config import Settings
from .errors import BudgetExhausted, RateLimited, ServiceUnavailable, UpstreamTimeout
from .log import log_token, logger

WINDOW_GRACE_S = 3600  # a window's item outlives its period by this much, then the TTL removes it
BUDGET_STALE_S = 300  # a budget reading this recent still admits while the table cannot be read
# What one question may spend at most: tools stop past QUESTION_TOKEN_CEILING, and the answer that
# follows costs at most about as much again. Reserved at admission, settled after the answer.
QUESTION_TOKEN_BOUND = 2 * config.QUESTION_TOKEN_CEILING
HOLD_GRACE_S = 120  # a reservation outlives its question's deadline by this much before others may release it
IN_FLIGHT_RETRY_S = 30  # refused because of questions still in flight: they settle within a minute
_HOLD_PREFIX = "hold_"  # one attribute per open reservation: "<expires at>:<tokens>"
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


def _holds(item: Any) -> dict[str, tuple[int, int]]:
    """The open reservations an item carries: attribute name -> (expires at, tokens)."""
    found: dict[str, tuple[int, int]] = {}
    for name, value in (item or {}).items():
        raw = value.get("S", "") if isinstance(value, dict) and name.startswith(_HOLD_PREFIX) else ""
        until, _, tokens = raw.partition(":")
        if until.isdigit() and tokens.isdigit():
            found[name] = (int(until), int(tokens))
    return found


def _in_flight_only(item: Any, amount: int, limit: int) -> bool:
    """Refused only because of reservations still open (settled use plus this one would fit)?"""
    settled = _token_count(item) - sum(tokens for _, tokens in _holds(item).values())
    return settled + amount <= limit


def release_expired(settings: Settings, key: dict[str, Any], item: Any, now: float) -> None:
    """Give back reservations whose questions can no longer be running (their instance died before
    settling). Conditional on every one still being there, so each is released once at most."""
    expired = {name: tokens for name, (until, tokens) in _holds(item).items() if until < now}
    if not expired:
        return
    names = {f"#h{i}": name for i, name in enumerate(sorted(expired))}
    try:
        clients.client("dynamodb", memory.memory_budget_s()).update_item(
            TableName=settings.limits_table, Key=key,
            UpdateExpression="ADD tokens :back REMOVE " + ", ".join(names),
            ConditionExpression=" AND ".join(f"attribute_exists({alias})" for alias in names),
            ExpressionAttributeNames=names, ExpressionAttributeValues={":back": {"N": str(-sum(expired.values()))}})
    except Exception as err:  # another admission released them first, or the table is busy: next time
        logger.debug("expired reservations not released", extra={"error_type": type(err).__name__})


def _release_later(settings: Settings, key: dict[str, Any], item: Any, now: float) -> None:
    if any(until < now for until, _ in _holds(item).values()):
        clients._executor().submit(contextvars.copy_context().run, release_expired, settings, key, item, now)


def count_request(settings: Settings, window: Window, request_id: str, now: float, hold: tuple[str, int, int] | None = None
                  ) -> Refusal | None:
    """Count this request in its window: None when admitted, else why not and for how long.

    The ADD and its condition are one atomic UpdateItem, so concurrent instances never admit more
    than the limit; the window keeps the tags of the requests it admitted, so a retried request
    (the same request id) is admitted again without counting twice. Refused requests add nothing.
    A window with a token allowance also reserves ``hold`` (attribute, expires at, tokens) in it."""
    key, ends = _slot(window, now)
    tag = callers._digest(request_id)[:12]
    condition = "(attribute_not_exists(n) OR n < :limit) AND NOT contains(ids, :tag)"
    update = "ADD n :one, ids :tags"
    names: dict[str, str] = {}
    values = {":one": {"N": "1"}, ":tags": {"SS": [tag]}, ":tag": {"S": tag}, ":limit": {"N": str(window.limit)},
              ":expires": {"N": str(ends + WINDOW_GRACE_S)}}
    amount = hold[2] if window.tokens and hold else 0
    if window.tokens:
        condition += " AND (attribute_not_exists(tokens) OR tokens <= :room)"
        values[":room"] = {"N": str(window.tokens - max(amount, 1))}
    if amount and hold:
        update += ", tokens :amount"
        names["#h"] = hold[0]
        values[":amount"], values[":hold"] = {"N": str(amount)}, {"S": f"{hold[1]}:{amount}"}
    try:
        response = clients.client("dynamodb", memory.memory_budget_s()).update_item(
            TableName=settings.limits_table, Key={"pk": {"S": key}},
            UpdateExpression=update + " SET expires_at = :expires" + (", #h = :hold" if names else ""),
            ConditionExpression=condition, ExpressionAttributeValues=values,
            **({"ExpressionAttributeNames": names} if names else {}),
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        _release_later(settings, {"pk": {"S": key}}, response.get("Attributes"), now)
        return None
    except ClientError as err:
        if clients._error_code(err) != "ConditionalCheckFailedException":
            raise
        old = err.response.get("Item") or {}
        tags = old.get("ids", {}).get("SS") if isinstance(old.get("ids"), dict) else None
        if isinstance(tags, list) and tag in tags:
            return None
        spent = bool(window.tokens) and _token_count(old) > window.tokens - max(amount, 1)
        if spent and _in_flight_only(old, amount, window.tokens):  # its own questions still running
            _release_later(settings, {"pk": {"S": key}}, old, now)
            return Refusal(window, float(min(IN_FLIGHT_RETRY_S, max(1, ends - now))), True)
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
_settled_budget: tuple[str, int] | None = None  # (day, tokens settled: holds left out) as last seen here
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


class BudgetRefusal(NamedTuple):
    used: int  # the day's total, reservations included
    in_flight_only: bool  # what settled so far would leave room: questions still running hold the rest


def _note_settled(item: Any, now: float) -> None:
    """What the day's total holds without its open reservations: it only grows within a day, so a
    question whose bound does not fit beside it is refused here without a call (known_spent)."""
    global _settled_budget
    day = _day(now)[0]
    settled = _token_count(item) - sum(tokens for _, tokens in _holds(item).values())
    last = _settled_budget
    if last is None or last[0] != day or last[1] < settled:
        _settled_budget = (day, settled)


def known_spent(cap: int, amount: int, now: float) -> bool:
    """The day's settled use already leaves no room for this question's bound under ``cap``."""
    last = _settled_budget
    return last is not None and last[0] == _day(now)[0] and last[1] > cap - amount


def reserve_budget(settings: Settings, cap: int, hold: tuple[str, int, int], now: float) -> int | BudgetRefusal:
    """Reserve this question's bound in the day's total, unless that would pass ``cap`` (the
    anonymous share for anonymous callers, the whole cap for staff): one conditional ADD, so a burst
    of any size admits no more than the cap holds. Returns the new total, or why not."""
    global _last_budget
    name, until, amount = hold
    key = _budget_key(now)
    try:
        response = clients.client("dynamodb", memory.memory_budget_s()).update_item(
            TableName=settings.limits_table, Key=key,
            UpdateExpression="ADD tokens :amount SET #h = :hold, expires_at = :expires",
            ConditionExpression="attribute_not_exists(#h) AND (attribute_not_exists(tokens) OR tokens <= :room)",
            ExpressionAttributeNames={"#h": name},
            ExpressionAttributeValues={":amount": {"N": str(amount)}, ":hold": {"S": f"{until}:{amount}"},
                                       ":room": {"N": str(cap - amount)},
                                       ":expires": {"N": str(int(now) + _day(now)[1] + 86_400)}},
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as err:
        if clients._error_code(err) != "ConditionalCheckFailedException":
            raise
        old = err.response.get("Item") or {}
        _last_budget = (_day(now)[0], _token_count(old), now)
        _note_settled(old, now)
        if name in old:  # a retried request: its first attempt's reservation stands for both
            return _token_count(old)
        _release_later(settings, key, old, now)
        return BudgetRefusal(_token_count(old), _in_flight_only(old, amount, cap))
    item = response.get("Attributes")
    used = _token_count(item)
    _last_budget = (_day(now)[0], used, now)
    _note_settled(item, now)
    _release_later(settings, key, item, now)
    return used


def settle(settings: Settings, key: dict[str, Any], tokens: int, hold: tuple[str, int] | None, expires: int,
           usage: Usage, budget_s: float) -> int | None:
    """Turn a reservation into what the question used: ADD the difference and remove the hold, once.
    A hold already released as expired (or never made: the table failed at admission) gets the whole
    use added instead. Never retried, so never twice: the new total, or None when it could not be
    written (logged; the answer is ready and goes out regardless)."""
    dynamodb = clients.client("dynamodb", budget_s)
    try:
        if hold is not None:
            name, reserved = hold
            try:
                response = dynamodb.update_item(
                    TableName=settings.limits_table, Key=key, UpdateExpression="ADD tokens :delta REMOVE #h",
                    ConditionExpression="attribute_exists(#h)", ExpressionAttributeNames={"#h": name},
                    ExpressionAttributeValues={":delta": {"N": str(tokens - reserved)}}, ReturnValues="UPDATED_NEW")
                return _token_count(response.get("Attributes"))
            except ClientError as err:
                if clients._error_code(err) != "ConditionalCheckFailedException":
                    raise
        if tokens <= 0:
            return None
        response = dynamodb.update_item(
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
        # The reservation: named by the request, held until the question cannot be running any more.
        until = int(self.now + max(0, current_deadline().remaining_ms()) / 1000 + HOLD_GRACE_S)
        name = _HOLD_PREFIX + callers._digest(request_id)[:12]
        self.window_hold = (name, until, min(QUESTION_TOKEN_BOUND, settings.client_tokens_per_day))
        self.budget_hold = (name, until, min(QUESTION_TOKEN_BOUND, self.cap))
        if self.budget and known_spent(self.cap, self.budget_hold[2], self.now):
            raise BudgetExhausted(_day(self.now)[1])  # known here: no table call, no prefetch, no model call
        self.held: list[tuple[dict[str, Any], tuple[str, int] | None, int]] = []  # reservations to settle
        calls: list[Callable[[], Any]] = [partial(count_request, settings, w, request_id, self.now, self.window_hold)
                                          for w in self.windows]
        if self.budget:
            calls.append(partial(reserve_budget, settings, self.cap, self.budget_hold, self.now))
        self.futures = [clients._executor().submit(contextvars.copy_context().run, call) for call in calls]

    def check(self, deadline: Deadline, usage: Usage) -> None:
        """Raise BudgetExhausted, ServiceUnavailable or RateLimited, or return to let the question in
        (its reservations then stand until charge() settles them; a refused question's are given back)."""
        ends = time.monotonic() + max(0.0, min(memory.MEMORY_WAIT_S, deadline.budget_s(config.MODEL_CALL_RESERVE_MS)))
        results: list[Any] = []
        for future in self.futures:
            try:
                results.append(future.result(timeout=max(0.0, ends - time.monotonic())))
            except Exception as err:  # includes the wait running out
                _limits_failed("check", err if not isinstance(err, FutureTimeout) else TimeoutError(), usage)
                results.append(err)
        day_ends = int(self.now) + _day(self.now)[1] + 86_400
        budget_result = results.pop() if self.budget else None
        if self.budget and isinstance(budget_result, int):
            self.held.append((_budget_key(self.now), (self.budget_hold[0], self.budget_hold[2]), day_ends))
        else:  # no reservation there (the cap is off, or the table failed): the whole use is added after
            self.held.append((_budget_key(self.now), None, day_ends))
        for result, window in zip(results, self.windows):
            if window.tokens:
                slot, window_ends = _slot(window, self.now)
                reserved = result is None and bool(self.window_hold[2])
                self.held.append(({"pk": {"S": slot}}, (self.window_hold[0], self.window_hold[2]) if reserved else None,
                                  window_ends + WINDOW_GRACE_S))
        try:
            if self.budget:
                self._check_budget(budget_result, usage)
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
        except Exception:
            self._give_back(usage)  # refused: its reservations go back at once
            raise

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

    def _give_back(self, usage: Usage) -> None:
        holds = [(key, hold, expires) for key, hold, expires in self.held if hold is not None]
        self.held = []
        if holds:
            clients.run_concurrently([partial(settle, self.settings, key, 0, hold, expires, usage, memory.MEMORY_CALL_S)
                                      for key, hold, expires in holds])

    def charge(self, usage: Usage, deadline: Deadline) -> None:
        """After the answer: each reservation is settled to the tokens used (the day's total and the
        client's day window, side by side); the day's total becomes the DailyTokens metric."""
        global _last_budget
        tokens = usage.input_tokens + usage.output_tokens
        budget_s = min(memory.MEMORY_CALL_S, deadline.budget_s(200))
        held, self.held = self.held, []
        if not held:
            return
        if budget_s < 1:  # no time to settle: the holds expire and are released by a later admission
            if tokens > 0:
                _limits_failed("charge", TimeoutError(), usage)
            return
        try:
            totals = clients.run_concurrently([partial(settle, self.settings, key, tokens, hold, expires, usage, budget_s)
                                               for key, hold, expires in held])
        except UpstreamTimeout as err:  # the answer is ready: it is never lost to the count
            _limits_failed("charge", err, usage)
            return
        if totals and totals[0] is not None:
            usage.daily_tokens = totals[0]  # a reading as fresh as a GetItem's, for the cap's grace
            _last_budget = (_day(self.now)[0], totals[0], self.now)

    def _check_budget(self, reserved: Any, usage: Usage) -> None:
        day, left_today = _day(self.now)
        if isinstance(reserved, BudgetRefusal):
            usage.daily_tokens = reserved.used
            raise BudgetExhausted(min(left_today, IN_FLIGHT_RETRY_S) if reserved.in_flight_only else left_today)
        if isinstance(reserved, BaseException):
            last = _last_budget
            if last is None or last[0] != day or self.now - last[2] > BUDGET_STALE_S:
                raise ServiceUnavailable("The assistant cannot check its daily budget right now. Please retry shortly.",
                                         "budget_unavailable")
            if last[1] >= self.cap:
                usage.daily_tokens = last[1]
                raise BudgetExhausted(left_today)
            return
        usage.daily_tokens = reserved
