"""Deadline: with a short Lambda context and slow loopback endpoints, every path answers before the
context's deadline. Each test asserts on the context's own clock (time left when the response is
back), not on how fast anything ran."""

from __future__ import annotations

import json
from typing import Any

import pytest

import lambda_function as lf
from genai import config, model
from local import run as local_run
from scripted import Reply, Script, point
from test_faults import UNNAMED, _reply

NAMED = "Who owns Leo?"
TEXT = _reply([{"text": "18 pets."}])
TOOL = _reply([{"toolUse": {"toolUseId": "tu-1", "name": "aggregate", "input": {"metric": "totals"}}}], "tool_use")


def ask_within(question: str, seconds: float) -> tuple[int, dict[str, Any], local_run.FakeContext]:
    context = local_run.FakeContext(seconds)
    response = lf.lambda_handler(local_run.seed_event(question), context)
    assert context.get_remaining_time_in_millis() > 0, "answered after the Lambda would have been killed"
    return response["statusCode"], json.loads(response["body"]), context


@pytest.fixture
def short_reserves(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rules at a smaller scale, so a test waits a few seconds, not a minute."""
    monkeypatch.setattr(config, "MODEL_CALL_RESERVE_MS", 1_500)
    monkeypatch.setattr(config, "RESPONSE_RESERVE_MS", 300)


def test_no_database_call_without_time_for_the_model_after_it(stack: dict[str, Any],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: 5 s left, a Data API that sleeps 8 s (it answered 10 s late after 9 attempts)."""
    script = Script(Reply(delay_s=8, body={"records": []}))
    point(monkeypatch, "AWS_ENDPOINT_URL_RDS_DATA", script)
    status, body, _ = ask_within(NAMED, 5)
    assert (status, body["error"]["code"]) == (504, "timeout")
    assert script.requests == []


def test_slow_database_on_the_prefetch_path(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                            short_reserves: None) -> None:
    script = Script(Reply(delay_s=6, body={"records": []}))
    point(monkeypatch, "AWS_ENDPOINT_URL_RDS_DATA", script)
    status, body, _ = ask_within(NAMED, 4)
    assert (status, body["error"]["code"]) == (504, "database_timeout")
    statements = [request["sql"] for _, _, request in script.requests]
    assert len(statements) == len(set(statements)) == 3  # one attempt each, no retry
    assert stack["standin"].requests == []


@pytest.mark.parametrize("seconds", [3, 5])
def test_hanging_model(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, short_reserves: None,
                       seconds: float) -> None:
    script = Script(Reply(delay_s=seconds + 3, body=TEXT.body))
    point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", script)
    status, body, _ = ask_within(UNNAMED, seconds)
    assert (status, body["error"]["code"]) == (504, "model_timeout")
    assert len(script.requests) == 1  # a read timeout is not retried


def test_slow_first_call_then_a_slow_tool_then_a_hanging_model(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                                short_reserves: None) -> None:
    bedrock = Script(Reply(delay_s=1.2, body=TOOL.body), Reply(delay_s=8, body=TEXT.body))
    data = Script(Reply(delay_s=6, body={"records": []}))
    point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock)
    point(monkeypatch, "AWS_ENDPOINT_URL_RDS_DATA", data)
    status, body, _ = ask_within(UNNAMED, 5)
    assert status == 504 and body["error"]["code"] in ("timeout", "model_timeout")
    assert len(data.requests) == 1


def test_a_tool_that_times_out_still_leaves_time_to_answer(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                          short_reserves: None) -> None:
    bedrock = Script(TOOL, TEXT)
    point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock)
    point(monkeypatch, "AWS_ENDPOINT_URL_RDS_DATA", Script(Reply(delay_s=6, body={"records": []})))
    status, body, _ = ask_within(UNNAMED, 4)
    assert status == 200 and body["answer"] == "18 pets."
    result = bedrock.requests[1][2]["messages"][-1]["content"][0]["toolResult"]
    assert result["status"] == "error" and "database_timeout" in result["content"][0]["text"]


def test_rounds_stop_when_the_next_model_call_cannot_finish(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                            short_reserves: None) -> None:
    bedrock = Script(Reply(delay_s=0.5, body=TOOL.body))  # every turn asks for another tool
    point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock)
    status, body, _ = ask_within(UNNAMED, 3)
    assert (status, body["error"]["code"]) == (504, "timeout")
    assert 2 <= len(bedrock.requests) < 6


def test_a_throttled_model_is_tried_at_most_twice(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                  short_reserves: None) -> None:
    """botocore does not retry (it used to: 2 x our 2 = 4 tries); the near-deadline case is a contract test."""
    monkeypatch.setattr(model, "MODEL_RETRY_PAUSE_S", 0.2)
    bedrock = Script(Reply(status=400, body={"message": "slow down"}, error_type="ThrottlingException"))
    point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock)
    status, body, _ = ask_within(UNNAMED, 30)
    assert (status, body["error"]["code"]) == (429, "model_throttled")
    assert len(bedrock.requests) == 2
