"""What a question may spend and has spent: the Deadline (the Lambda's remaining time,
capped by API Gateway's budget) bound per request in a context variable that every dependency call
reads, and Usage, the tokens and calls one question cost.

Imports config and errors.
"""

from __future__ import annotations

import contextvars
import time
from typing import Any

from . import config, errors


class Usage:
    """What one question cost, summed over every model call (also read for the EMF metrics)."""

    def __init__(self) -> None:
        self.input_tokens = self.output_tokens = self.model_calls = self.tool_calls = 0
        self.limiter_errors = 0  # faults of the limits table (the LimiterErrors metric)
        self.model_id_fallbacks = 0  # refused model IDs passed over for the next candidate (ModelIdFallbacks)
        self.daily_tokens: int | None = None  # the day's running total, when the limits table told it

    def add(self, usage: Any) -> None:
        usage = {} if usage is None else usage
        counts = [usage.get(key, 0) if isinstance(usage, dict) else None for key in ("inputTokens", "outputTokens")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            raise errors._bad_model("usage is not a pair of token counts")
        self.input_tokens += counts[0]
        self.output_tokens += counts[1]
        self.model_calls += 1

    def as_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "total_tokens": self.input_tokens + self.output_tokens, "model_calls": self.model_calls}


class Deadline:
    """The time left: the Lambda's remaining time, capped by the caller's budget when it has one
    (API Gateway gives up after 29 s while the function may run 60 s); a fixed budget without a context."""

    def __init__(self, context: Any, budget_ms: int | None = None, started: float | None = None) -> None:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._remaining = remaining if callable(remaining) else None
        start = time.monotonic() if started is None else started
        if budget_ms is None and self._remaining is None:
            budget_ms = config.DEFAULT_TIME_BUDGET_MS
        self._end = None if budget_ms is None else start + budget_ms / 1000

    def remaining_ms(self) -> int:
        left = [int(self._remaining())] if self._remaining is not None else []
        if self._end is not None:
            left.append(int((self._end - time.monotonic()) * 1000))
        return min(left)

    def budget_s(self, reserve_ms: int) -> float:
        """Seconds a dependency call may take and still leave ``reserve_ms`` for what follows it."""
        return (self.remaining_ms() - reserve_ms) / 1000


_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("petclinic_deadline", default=None)


def current_deadline() -> Deadline:
    """The deadline of the request being answered (tools and tests without one get the default budget)."""
    return _DEADLINE.get() or Deadline(None)
