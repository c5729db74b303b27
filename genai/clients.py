"""The AWS clients, created once per instance and lazily (importing needs no AWS
setup), each call bounded by the request's deadline; the thread pool that runs independent calls side
by side; reading a ClientError's code.

Imports budget, config, errors and log.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    NoRegionError,
)

from . import budget, config
from .errors import ConfigurationError, UpstreamTimeout
from .log import log_token, logger

_clients: dict[tuple[str, int], Any] = {}
_clients_lock = threading.Lock()
# Per-attempt limits (connect + read, seconds). botocore sets timeouts per client, not per call, so
# each call takes a cached client of the largest limit that fits the time it has left (from 4 s up
# at most a third below it): a few clients per service and container, each made once (the first
# ~20-45 ms, later ones ~2 ms: botocore caches the service model).
_CALL_LIMITS_S = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 60, 75, 90, 120, 150, 180, 240, 300, 450, 600, 900)
DATA_API_MAX_S = 50  # the Data API gives up after 45 s itself


def call_limit(budget_s: float) -> int:
    """The largest per-call limit within ``budget_s``; none fits -> 504 without calling."""
    fitting = [limit for limit in _CALL_LIMITS_S if limit <= budget_s]
    if not fitting:
        raise UpstreamTimeout()
    return fitting[-1]


def client_config(limit_s: int) -> Config:
    """One attempt (botocore's ``total_max_attempts`` counts the first try; ``max_attempts`` counts
    retries), connect + read within ``limit_s``: a call can never outlive the budget it was given."""
    connect = min(3.0, limit_s / 4)
    return Config(connect_timeout=connect, read_timeout=limit_s - connect,
                  retries={"mode": "standard", "total_max_attempts": 1})


def client(service: str, budget_s: float = DATA_API_MAX_S) -> Any:
    """The cached client for ``service`` whose timeouts fit ``budget_s`` seconds."""
    limit = call_limit(min(budget_s, DATA_API_MAX_S) if service == "rds-data" else budget_s)
    key = (service, limit)
    found = _clients.get(key)
    if found is None:
        with _clients_lock:
            found = _clients.get(key)
            if found is None:
                try:
                    found = boto3.client(service, config=client_config(limit))
                except NoRegionError as err:
                    logger.error("no AWS region configured", extra={"service": service})
                    raise ConfigurationError() from err
                _clients[key] = found
    return found


_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _clients_lock:
            if _pool is None:
                # prefetch statements, history, and the limit checks beside them (threads start as needed)
                _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="petclinic")
    return _pool


def run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run independent calls side by side; results in order, the first exception re-raised.

    Each call sees the request's deadline (a copied context), and we stop waiting at the deadline:
    a watchdog behind the per-call timeouts, so nothing here can outlive the Lambda."""
    if len(calls) <= 1:
        return [call() for call in calls]
    futures = [_executor().submit(contextvars.copy_context().run, call) for call in calls]
    deadline = budget.current_deadline()
    try:
        return [future.result(timeout=max(0.0, (deadline.remaining_ms() - config.RESPONSE_RESERVE_MS) / 1000))
                for future in futures]
    except FutureTimeout:
        raise UpstreamTimeout() from None


def _error_code(err: ClientError) -> str:
    """The AWS error code, bounded for the log; botocore uses the HTTP status when there is none."""
    error = err.response.get("Error") if isinstance(err.response, dict) else None
    return log_token(error.get("Code", "Unknown") if isinstance(error, dict) else "Unknown")


def _is_server_error(code: str) -> bool:
    """A bare 5xx status (no AWS error type, e.g. from a load balancer) is a transient outage."""
    return code.isdigit() and code.startswith("5")
