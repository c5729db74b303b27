"""Fixtures of the end-to-end tests that use scripted endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from genai import clients, config, model
import scripted
from local import run as local_run


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The local endpoints on SQLite, ready for one service to be pointed at a scripted endpoint."""
    monkeypatch.setattr(model, "MODEL_RETRY_PAUSE_S", 0)
    with local_run.local_endpoints(None) as endpoints:
        clients._clients.clear()
        config._settings = None
        yield endpoints
    scripted.shutdown_all()
