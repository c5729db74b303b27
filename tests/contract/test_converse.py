"""The Converse tool loop against botocore's Stubber: tool_use -> toolResult -> end_turn."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import lambda_function as lf
from genai import clients as aws_clients
from genai import config, facts, model, tools
from local.run import FakeContext

NO_NAMES = "and the pets?"  # no names, no counts, no vets: no prefetch statements, only tools


def _reply(content: list[dict[str, Any]], stop: str, tokens: tuple[int, int] = (100, 20)) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": tokens[0], "outputTokens": tokens[1], "totalTokens": sum(tokens)},
        "metrics": {"latencyMs": 10},
    }


def _tool_use(name: str, args: dict[str, Any], tool_id: str = "tu-1") -> dict[str, Any]:
    return {"toolUse": {"toolUseId": tool_id, "name": name, "input": args}}


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch, settings: config.Settings) -> dict[str, Any]:
    monkeypatch.setattr(config, "_settings", settings)
    # Anything the Stubbers do not answer goes to a dead loopback port, never to AWS.
    bedrock = boto3.client("bedrock-runtime", region_name="ap-northeast-2", endpoint_url="http://127.0.0.1:9")
    rds = boto3.client("rds-data", region_name="ap-northeast-2", endpoint_url="http://127.0.0.1:9")
    pinned = {"bedrock-runtime": bedrock, "rds-data": rds}
    monkeypatch.setattr(aws_clients, "client", lambda service, budget_s=0.0: pinned[service])
    sent: list[dict[str, Any]] = []
    bedrock.meta.events.register("provide-client-params.bedrock-runtime.Converse",
                                 lambda params, **_: sent.append(json.loads(json.dumps(params))))
    return {"bedrock": Stubber(bedrock), "rds": Stubber(rds), "sent": sent}


def _totals_rows() -> dict[str, Any]:
    names = ["owners", "pets", "vets", "visits", "pet_types", "specialties"]
    return {"columnMetadata": [{"name": n, "label": n} for n in names],
            "records": [[{"longValue": v} for v in (14, 18, 7, 8, 6, 3)]]}


def test_tool_use_then_answer(clients: dict[str, Any]) -> None:
    bedrock, rds, sent = clients["bedrock"], clients["rds"], clients["sent"]
    bedrock.add_response("converse", _reply([_tool_use("aggregate", {"metric": "totals"})], "tool_use"))
    rds.add_response("execute_statement", _totals_rows())
    bedrock.add_response("converse", _reply([{"text": "There are 18 pets."}], "end_turn", (300, 10)))
    with bedrock, rds:
        response = lf.lambda_handler({"question": NO_NAMES}, None)
    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert body["answer"] == "There are 18 pets."
    assert body["model_id"] == "global.anthropic.claude-haiku-4-5-20251001-v1:0"  # Seoul, Haiku 4.5
    assert body["usage"] == {"input_tokens": 400, "output_tokens": 30, "total_tokens": 430, "model_calls": 2}
    second = sent[1]["messages"]
    assert second[1]["content"][0]["toolUse"]["toolUseId"] == "tu-1"
    result = second[2]["content"][0]["toolResult"]
    assert result["toolUseId"] == "tu-1" and result["status"] == "success"
    assert result["content"][0]["json"]["pets"] == 18
    assert {t["toolSpec"]["name"] for t in sent[0]["toolConfig"]["tools"]} == set(tools.TOOLS)


def test_tool_rounds_are_capped(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                settings: config.Settings) -> None:
    monkeypatch.setattr(config, "_settings", settings._replace(max_tool_rounds=2))
    bedrock, rds, sent = clients["bedrock"], clients["rds"], clients["sent"]
    for i in range(3):
        bedrock.add_response("converse", _reply([_tool_use("aggregate", {"metric": "totals"}, f"tu-{i}")], "tool_use"))
    for _ in range(2):
        rds.add_response("execute_statement", _totals_rows())
    with bedrock, rds:
        response = lf.lambda_handler({"question": NO_NAMES}, None)
    assert response["statusCode"] == 502
    assert json.loads(response["body"])["error"]["code"] == "tool_rounds_exceeded"
    assert len(sent) == 3
    assert "answer now" in sent[2]["messages"][-1]["content"][-1]["text"]
    bedrock.assert_no_pending_responses()


@pytest.mark.parametrize("then", ["answer", "more_tools"])
def test_past_the_token_ceiling_no_more_tools_run(clients: dict[str, Any], then: str) -> None:
    """A question that has spent QUESTION_TOKEN_CEILING runs no further tool: the next call must answer
    (the daily cap's overshoot per question stays about twice the ceiling)."""
    bedrock, rds, sent = clients["bedrock"], clients["rds"], clients["sent"]
    big = (config.QUESTION_TOKEN_CEILING - 100, 100)
    bedrock.add_response("converse", _reply([_tool_use("aggregate", {"metric": "totals"})], "tool_use", big))
    last = _reply([{"text": "18 pets, as far as I got."}], "end_turn") if then == "answer" else \
        _reply([_tool_use("aggregate", {"metric": "totals"}, "tu-2")], "tool_use")
    bedrock.add_response("converse", last)
    with bedrock, rds:  # no execute_statement answer queued: a tool that ran would fail the test
        response = lf.lambda_handler({"question": NO_NAMES}, None)
    result = sent[1]["messages"][2]["content"][0]["toolResult"]
    assert result["status"] == "error" and "token budget" in result["content"][0]["text"]
    assert "answer now" in sent[1]["messages"][2]["content"][-1]["text"]
    if then == "answer":
        assert response["statusCode"] == 200 and json.loads(response["body"])["answer"].startswith("18 pets")
    else:
        assert response["statusCode"] == 502
        assert json.loads(response["body"])["error"]["code"] == "tool_rounds_exceeded"
    assert len(sent) == 2
    bedrock.assert_no_pending_responses()


def test_failing_tool_returns_an_error_result_not_a_crash(clients: dict[str, Any]) -> None:
    bedrock, rds, sent = clients["bedrock"], clients["rds"], clients["sent"]
    bedrock.add_response("converse", _reply([_tool_use("search_pets", {"type": "cat"}),
                                             _tool_use("aggregate", {"metric": "bogus"}, "tu-2")], "tool_use"))
    rds.add_client_error("execute_statement", "DatabaseErrorException", "syntax error near SELECT", 400)
    bedrock.add_response("converse", _reply([{"text": "Sorry, I could not look that up."}], "end_turn"))
    with bedrock, rds:
        response = lf.lambda_handler({"question": NO_NAMES}, None)
    assert response["statusCode"] == 200
    results = [block["toolResult"] for block in sent[1]["messages"][2]["content"]]
    assert [r["status"] for r in results] == ["error", "error"]
    assert "database_error" in results[0]["content"][0]["text"]
    assert "syntax error" not in json.dumps(results)
    assert "metric must be one of" in results[1]["content"][0]["text"]


def test_unknown_tool_name_is_an_error_result(clients: dict[str, Any]) -> None:
    bedrock, sent = clients["bedrock"], clients["sent"]
    bedrock.add_response("converse", _reply([_tool_use("drop_tables", {})], "tool_use"))
    bedrock.add_response("converse", _reply([{"text": "ok"}], "end_turn"))
    with bedrock:
        assert lf.lambda_handler({"question": NO_NAMES}, None)["statusCode"] == 200
    assert sent[1]["messages"][2]["content"][0]["toolResult"]["status"] == "error"


@pytest.mark.parametrize(
    "code, status, expected",
    [
        ("ThrottlingException", 429, "model_throttled"),
        ("ServiceUnavailableException", 503, "model_unavailable"),
        ("ModelTimeoutException", 504, "model_timeout"),
        ("AccessDeniedException", 502, "model_error"),
        ("ValidationException", 502, "model_error"),
    ],
)
def test_bedrock_errors_map_to_statuses(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                        code: str, status: int, expected: str) -> None:
    monkeypatch.setattr(model, "MODEL_RETRY_PAUSE_S", 0)
    bedrock = clients["bedrock"]
    arn = "arn:aws:bedrock:ap-northeast-2:123456789012:inference-profile/global.x"
    retried = code in ("ThrottlingException", "ServiceUnavailableException")
    for _ in range(2 if retried else 1):
        bedrock.add_client_error("converse", code, f"You don't have access to {arn}", 400)
    with bedrock:
        response = lf.lambda_handler({"question": NO_NAMES}, None)
    assert response["statusCode"] == status
    assert json.loads(response["body"])["error"]["code"] == expected
    assert "arn:" not in response["body"]
    assert len(clients["sent"]) == (2 if retried else 1)
    bedrock.assert_no_pending_responses()


def test_throttling_is_retried_once_when_time_allows(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "MODEL_RETRY_PAUSE_S", 0)
    bedrock = clients["bedrock"]
    bedrock.add_client_error("converse", "ThrottlingException", "slow down", 429)
    bedrock.add_response("converse", _reply([{"text": "18 pets."}], "end_turn"))
    with bedrock:
        response = lf.lambda_handler({"question": NO_NAMES}, None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["usage"]["model_calls"] == 1


def test_no_retry_when_the_deadline_is_near(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "MODEL_RETRY_PAUSE_S", 0.5)
    bedrock = clients["bedrock"]
    bedrock.add_client_error("converse", "ThrottlingException", "slow down", 429)
    with bedrock:
        response = lf.lambda_handler({"question": NO_NAMES}, FakeContext((config.MODEL_CALL_RESERVE_MS + 400) / 1000))
    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "5"


def test_no_model_call_when_the_lambda_is_about_to_time_out(clients: dict[str, Any]) -> None:
    with clients["bedrock"]:
        context = FakeContext((config.MODEL_CALL_RESERVE_MS - 1) / 1000)
        response = lf.lambda_handler({"question": NO_NAMES}, context)
    assert response["statusCode"] == 504
    assert json.loads(response["body"])["request_id"] == context.aws_request_id
    assert clients["sent"] == []


def test_unexpected_exception_is_logged_once_and_answered_generically(
    clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*_: Any) -> None:
        raise RuntimeError("secret internals arn:aws:rds:x")

    monkeypatch.setattr(model, "converse_loop", boom)
    response = lf.lambda_handler({"question": NO_NAMES}, None)
    assert response["statusCode"] == 500
    assert "secret internals" not in response["body"]
    assert [r.exc_info is not None for r in caplog.records if r.levelname == "ERROR"] == [True]


def test_the_request_carries_the_settings(clients: dict[str, Any]) -> None:
    """maxTokens from MAX_OUTPUT_TOKENS (512 in the fixture, not the 1024 default), temperature 0,
    the system prompt and every tool."""
    bedrock, sent = clients["bedrock"], clients["sent"]
    bedrock.add_response("converse", _reply([{"text": "18 pets."}], "end_turn"))
    with bedrock:
        lf.lambda_handler({"question": NO_NAMES}, None)
    request = sent[0]
    assert request["inferenceConfig"] == {"maxTokens": 512, "temperature": 0}
    assert request["system"] == [{"text": facts.SYSTEM_PROMPT}]
    assert request["modelId"] == "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    specs = {t["toolSpec"]["name"]: t["toolSpec"] for t in request["toolConfig"]["tools"]}
    assert set(specs) == set(tools.TOOLS)
    assert specs["aggregate"]["inputSchema"]["json"]["required"] == ["metric"]


def test_a_tool_failing_with_a_bug_is_an_error_result(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    def broken(settings: config.Settings, args: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("tel 010-5555-1234")

    monkeypatch.setitem(tools.TOOLS, "aggregate", (broken, *tools.TOOLS["aggregate"][1:]))
    bedrock, sent = clients["bedrock"], clients["sent"]
    bedrock.add_response("converse", _reply([_tool_use("aggregate", {"metric": "totals"})], "tool_use"))
    bedrock.add_response("converse", _reply([{"text": "I could not count them."}], "end_turn"))
    with bedrock:
        response = lf.lambda_handler({"question": NO_NAMES}, None)
    assert response["statusCode"] == 200
    result = sent[1]["messages"][2]["content"][0]["toolResult"]
    assert result["status"] == "error" and result["content"] == [{"text": "The tool failed unexpectedly."}]
    assert "010-5555" not in json.dumps(sent[1])
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == ["tool failed"]


@pytest.mark.parametrize("error, status, code", [
    ("ReadTimeoutError", 504, "model_timeout"),
    ("ConnectTimeoutError", 503, "model_unreachable"),
    ("EndpointConnectionError", 503, "model_unreachable"),
    ("ConnectionClosedError", 503, "model_unreachable"),
])
def test_transport_errors(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch, error: str, status: int,
                          code: str) -> None:
    from botocore import exceptions

    def fail(**_: Any) -> None:
        raise getattr(exceptions, error)(endpoint_url="https://bedrock-runtime.ap-northeast-2.amazonaws.com")

    pinned = {"bedrock-runtime": SimpleNamespace(converse=fail, meta=SimpleNamespace(region_name="ap-northeast-2"))}
    monkeypatch.setattr(aws_clients, "client", lambda service, budget_s=0.0: pinned[service])
    response = lf.lambda_handler({"question": NO_NAMES}, None)
    assert response["statusCode"] == status
    assert json.loads(response["body"])["error"]["code"] == code
    assert "amazonaws" not in response["body"]
