"""Fault matrix: every kind of broken Data API or Bedrock reply, on the prefetch path, inside a
tool and on the model call after a tool, with real boto3 clients against scripted loopback
endpoints. A broken dependency is a 502/503/429 with its code, never a wrong answer or a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

import lambda_function as lf
from genai import config
from local import model_standin
from local import run as local_run
from scripted import Reply, Script, point

NAMED = "Who owns Leo?"  # prefetch: three statements
UNNAMED = "List some owners"  # nothing to prefetch: the stand-in calls search_owners

COLUMNS = [{"name": "pet", "label": "pet"}, {"name": "n", "label": "n"}]
DATA_FAULTS: dict[str, tuple[Reply, int, str]] = {
    "truncated 200 body": (Reply(body=b'{"columnMetadata": [{"name": "pet"}], "records": [[{"stringVal'), 502,
                           "database_bad_response"),
    "unparsable 200 body": (Reply(body=b"<html>upstream proxy</html>"), 502, "database_bad_response"),
    "body cut off mid-stream": (Reply(body=b'{"columnMetadata": [{"name": "pet"}], "reco', short_by=500), 502,
                                "database_bad_response"),
    "dropped connection": (Reply(drop=True), 503, "database_unreachable"),
    "503 without an error type": (Reply(status=503, body=b"Service Unavailable"), 503, "database_unavailable"),
    "records not a list": (Reply(body={"columnMetadata": COLUMNS, "records": {"pet": "Leo"}}), 502,
                           "database_bad_response"),
    "row shorter than the columns": (Reply(body={"columnMetadata": COLUMNS, "records": [[{"stringValue": "Leo"}]]}),
                                     502, "database_bad_response"),
    "object where a scalar belongs": (Reply(body={"columnMetadata": COLUMNS, "records": [
        [{"stringValue": {"nested": "Leo"}}, {"longValue": 1}]]}), 502, "database_bad_response"),
    "string where a number belongs": (Reply(body={"columnMetadata": COLUMNS, "records": [
        [{"stringValue": "Leo"}, {"longValue": "many"}]]}), 502, "database_bad_response"),
    "throttled": (Reply(status=400, body={"message": "slow down"}, error_type="ThrottlingException"), 429,
                  "database_throttled"),
}


def _reply(content: Any, stop: str = "end_turn", usage: Any = None) -> Reply:
    return Reply(body={"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop,
                       "usage": usage if usage is not None else {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
                       "metrics": {"latencyMs": 1}})


MODEL_FAULTS: dict[str, tuple[Reply, int, str]] = {
    "throttled": (Reply(status=400, body={"message": "slow"}, error_type="ThrottlingException"), 429, "model_throttled"),
    "503 without an error type": (Reply(status=503, body=b"Service Unavailable"), 503, "model_unavailable"),
    "dropped connection": (Reply(drop=True), 503, "model_unreachable"),
    "unparsable 200 body": (Reply(body=b"<html>gateway</html>"), 502, "model_bad_response"),
    "content not a list": (_reply({"text": "Leo belongs to George."}), 502, "model_bad_response"),
    "toolUse not an object": (_reply([{"toolUse": "aggregate"}], "tool_use"), 502, "model_bad_response"),
    "number in a text block": (_reply([{"text": 42}]), 502, "model_bad_response"),
    "non-numeric usage": (_reply([{"text": "fine"}], usage={"inputTokens": "many", "outputTokens": 1}), 502,
                          "model_bad_response"),
    "toolUse without an id": (_reply([{"toolUse": {"name": "aggregate", "input": {}}}], "tool_use"), 502,
                              "model_bad_response"),
}


def ask(question: str) -> tuple[dict[str, Any], dict[str, Any]]:
    response = lf.lambda_handler(local_run.seed_event(question), local_run.FakeContext())
    return response, json.loads(response["body"])


@pytest.mark.parametrize("fault", DATA_FAULTS)
def test_data_api_fault_on_the_prefetch_path(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    reply, status, code = DATA_FAULTS[fault]
    script = Script(reply)
    point(monkeypatch, "AWS_ENDPOINT_URL_RDS_DATA", script)
    response, body = ask(NAMED)
    assert (response["statusCode"], body["error"]["code"]) == (status, code)
    assert ("Retry-After" in response["headers"]) == (status in (429, 503))
    assert stack["standin"].requests == []  # never on to the model with a wrong "no rows"
    statements = [request["sql"] for _, _, request in script.requests]
    assert 1 <= len(statements) == len(set(statements)) <= 3  # one attempt per statement (others may be cut short)


@pytest.mark.parametrize("fault", DATA_FAULTS)
def test_data_api_fault_inside_a_tool(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    _, _, code = DATA_FAULTS[fault]
    point(monkeypatch, "AWS_ENDPOINT_URL_RDS_DATA", Script(DATA_FAULTS[fault][0]))
    seen: list[dict[str, Any]] = []
    real = model_standin.respond
    monkeypatch.setattr(model_standin, "respond", lambda request: seen.append(request) or real(request))
    response, _ = ask(UNNAMED)
    assert response["statusCode"] == 200  # the model is told and answers; nothing is invented
    result = seen[1]["messages"][-1]["content"][0]["toolResult"]
    assert result["status"] == "error"
    assert code in result["content"][0]["text"]
    assert "json" not in result["content"][0]


@pytest.mark.parametrize("fault", MODEL_FAULTS)
@pytest.mark.parametrize("when", ["first call", "after a tool"])
def test_bedrock_fault(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, fault: str, when: str) -> None:
    reply, status, code = MODEL_FAULTS[fault]
    tool_turn = _reply([{"toolUse": {"toolUseId": "tu-1", "name": "aggregate", "input": {"metric": "totals"}}}],
                       "tool_use")
    script = Script(reply) if when == "first call" else Script(tool_turn, reply)
    point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", script)
    response, body = ask(UNNAMED)
    assert (response["statusCode"], body["error"]["code"]) == (status, code)
    assert ("Retry-After" in response["headers"]) == (status in (429, 503))
    retried = code in ("model_throttled", "model_unavailable")
    assert len(script.requests) == (2 if retried else 1) + (when == "after a tool")  # never four tries


def test_max_tokens_is_never_passed_off_as_complete(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", Script(_reply([{"text": "코코의 보호자는 서울에 사는"}], "max_tokens")))
    response, body = ask("Coco라는 반려동물을 키우고 있는 사람은 누구야?")
    assert response["statusCode"] == 200
    assert body["truncated"] is True
    assert body["answer"].startswith("코코의 보호자는 서울에 사는")
    assert body["answer"].endswith(lf.TRUNCATED_NOTES["ko"])


def test_a_complete_answer_says_so(stack: dict[str, Any]) -> None:
    _, body = ask(NAMED)
    assert body["truncated"] is False and lf.TRUNCATED_NOTES["en"] not in body["answer"]


def test_tool_calls_per_turn_are_capped_and_huge_inputs_not_echoed(stack: dict[str, Any],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    many = [{"toolUse": {"toolUseId": f"tu-{i}", "name": "aggregate", "input": {"metric": "totals"}}} for i in range(40)]
    many.append({"toolUse": {"toolUseId": "tu-big", "name": "search_pets", "input": {"name": "x" * 200_000}}})
    script = Script(_reply(many, "tool_use"), _reply([{"text": "done"}]))
    point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", script)
    response, _ = ask(UNNAMED)
    assert response["statusCode"] == 200
    assert stack["data_api"].calls == config.MAX_TOOL_CALLS_PER_ROUND  # the other 35 toolUses ran no statement
    second = script.requests[1][2]["messages"]
    results = [block["toolResult"] for block in second[-1]["content"]]
    assert len(results) == 41 and [r["toolUseId"] for r in results] == [f"tu-{i}" for i in range(40)] + ["tu-big"]
    assert sum(r["status"] == "success" for r in results) == config.MAX_TOOL_CALLS_PER_ROUND
    assert len(json.dumps(second)) < 64 * 1024  # the 200 KB input was not sent back


def test_unknown_tool_names_never_reach_the_log(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    name = "lookup_tel_010-1234-5678" + "x" * 100_000
    script = Script(_reply([{"toolUse": {"toolUseId": "tu-1", "name": name, "input": {}}}], "tool_use"),
                    _reply([{"text": "done"}]))
    point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", script)
    with caplog.at_level("DEBUG", logger="petclinic_genai"):
        assert ask(UNNAMED)[0]["statusCode"] == 200
    logged = " ".join(str(vars(record)) for record in caplog.records)
    assert "010-1234" not in logged and len(logged) < 20_000
    assert "1234" not in json.dumps(script.requests[1][2]["messages"][1])  # nor echoed back to the model
