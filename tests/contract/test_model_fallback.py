"""Bedrock refusing the model ID: the next candidate, within three calls and the deadline, remembered.

A fake Bedrock answers each Converse call by the model ID it names (a botocore before-call hook, so
nothing leaves the process): it serves one ID and refuses every other with Bedrock's own texts."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

import lambda_function as lf
from genai import clients as aws_clients
from genai import config, model, profiles
from local.run import FakeContext

NO_NAMES = "and the pets?"  # no names: no prefetch statements, only the model call
FUTURE = "anthropic.claude-future-9-v1"  # a model no table knows
OPUS46 = "anthropic.claude-opus-4-6-v1"
SONNET46 = "anthropic.claude-sonnet-4-6"

ON_DEMAND = ("ValidationException", "Invocation of model ID {id} with on-demand throughput isn't supported. Retry your "
             "request with the ID or ARN of an inference profile that contains this model.", 400)
INVALID = ("ValidationException", "The provided model identifier is invalid.", 400)
NOT_FOUND = ("ResourceNotFoundException", "Model not found.", 404)
REFUSALS = {"on_demand": ON_DEMAND, "invalid": INVALID, "not_found": NOT_FOUND}

# What Anthropic's Bedrock table (read 2026-12-06) lists from these Regions: the geography's profile or global.
LISTED = {
    (OPUS46, "ap-northeast-2"): {f"apac.{OPUS46}", f"global.{OPUS46}"},
    (OPUS46, "ap-northeast-1"): {f"jp.{OPUS46}", f"apac.{OPUS46}", f"global.{OPUS46}"},
    (OPUS46, "eu-central-1"): {f"eu.{OPUS46}", f"global.{OPUS46}"},
    (SONNET46, "ap-northeast-2"): {f"global.{SONNET46}"},
    (SONNET46, "ap-northeast-1"): {f"jp.{SONNET46}", f"global.{SONNET46}"},
    (SONNET46, "eu-central-1"): {f"eu.{SONNET46}", f"global.{SONNET46}"},
}
FIRST = {
    (OPUS46, "ap-northeast-2"): f"apac.{OPUS46}", (OPUS46, "ap-northeast-1"): f"jp.{OPUS46}",
    (OPUS46, "eu-central-1"): f"eu.{OPUS46}", (SONNET46, "ap-northeast-2"): f"global.{SONNET46}",
    (SONNET46, "ap-northeast-1"): f"jp.{SONNET46}", (SONNET46, "eu-central-1"): f"eu.{SONNET46}",
}


def _reply(text: str = "There are 18 pets.") -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120}, "metrics": {"latencyMs": 10},
            "ResponseMetadata": {"HTTPStatusCode": 200}}


@functools.cache
def _session() -> boto3.session.Session:
    """One session for every fake: its loader keeps the service model (a new one per test costs ~0.5 s)."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


class FakeBedrock:
    """Serves ``serves`` (None: nothing); every other ID gets ``refusal``, or ``errors`` by ID when given."""

    def __init__(self, region: str) -> None:
        self.client = _session().client("bedrock-runtime", region_name=region, endpoint_url="http://127.0.0.1:9")
        self.calls: list[str] = []
        self.serves: str | None = None
        self.refusal = ON_DEMAND
        self.delay_s = 0.0  # each refusal takes this long
        self.client.meta.events.register("provide-client-params.bedrock-runtime.Converse", self._record)
        self.client.meta.events.register_first("before-call.bedrock-runtime.Converse", self._answer)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(params["modelId"])

    def _answer(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        model_id = self.calls[-1]
        if model_id == self.serves:
            return AWSResponse("http://127.0.0.1:9", 200, {}, None), _reply()
        time.sleep(self.delay_s)
        code, message, status = self.refusal
        return (AWSResponse("http://127.0.0.1:9", status, {}, None),
                {"Error": {"Code": code, "Message": message.format(id=model_id)},
                 "ResponseMetadata": {"HTTPStatusCode": status}})


@pytest.fixture(autouse=True)
def _no_remembered_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(model, "_WORKING_IDS", {}, raising=False)
    monkeypatch.setattr(model, "MODEL_RETRY_PAUSE_S", 0)
    yield


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch, settings: config.Settings, request: pytest.FixtureRequest) -> FakeBedrock:
    region, model_id = getattr(request, "param", ("ap-northeast-2", FUTURE))
    monkeypatch.setattr(config, "_settings", settings._replace(model_id=model_id))
    fake = FakeBedrock(region)
    monkeypatch.setattr(aws_clients, "client", lambda service, budget_s=0.0: {"bedrock-runtime": fake.client}[service])
    return fake


def _ask(context: Any = None) -> tuple[int, dict[str, Any]]:
    response = lf.lambda_handler({"question": NO_NAMES}, context)
    return response["statusCode"], json.loads(response["body"])


def _metric_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


@pytest.mark.parametrize("bedrock", [(region, m) for m, region in FIRST], indirect=True,
                         ids=[f"{m.split('.')[1]}-{region}" for m, region in FIRST])
def test_the_46_models_first_call_is_an_id_the_table_lists_for_the_region(bedrock: FakeBedrock) -> None:
    region, model_id = bedrock.client.meta.region_name, config.settings_once().model_id
    bedrock.serves = FIRST[(model_id, region)]
    status, body = _ask()
    assert status == 200
    assert bedrock.calls == [FIRST[(model_id, region)]]
    assert bedrock.calls[0] in LISTED[(model_id, region)]
    assert body["model_id"] == bedrock.calls[0]


CASES = [(region, served, refusal) for region in ("ap-northeast-2", "eu-central-1", "us-east-1", "sa-east-1")
         for served in range(len(profiles.candidate_ids(FUTURE, region))) for refusal in REFUSALS]


@pytest.mark.parametrize("bedrock, served, refusal", [((region, FUTURE), served, refusal)
                                                      for region, served, refusal in CASES],
                         indirect=["bedrock"], ids=[f"{r}-{s}-{k}" for r, s, k in CASES])
def test_a_model_no_table_knows_is_answered_within_three_calls_and_remembered(
        bedrock: FakeBedrock, served: int, refusal: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "petclinic-genai")  # the EMF line is printed on Lambda only
    candidates = profiles.candidate_ids(FUTURE, bedrock.client.meta.region_name)
    bedrock.serves, bedrock.refusal = candidates[served], REFUSALS[refusal]
    caplog.set_level(logging.WARNING, logger="petclinic_genai")

    status, body = _ask()
    assert status == 200, body
    assert bedrock.calls == list(candidates[:served + 1]) and len(bedrock.calls) <= 3
    assert body["model_id"] == candidates[served] and body["answer"] == "There are 18 pets."
    assert _metric_lines(capsys.readouterr().out)[-1]["ModelIdFallbacks"] == served

    bedrock.calls.clear()
    status, body = _ask()  # the next question calls the working ID first
    assert status == 200 and bedrock.calls == [candidates[served]] and body["model_id"] == candidates[served]
    assert _metric_lines(capsys.readouterr().out)[-1]["ModelIdFallbacks"] == 0
    assert lf.model_id_for(config.settings_once(), lf.Deadline(None)) == candidates[served]

    remembered = [r for r in caplog.records if r.getMessage().startswith("model id refused")]
    assert len(remembered) == (1 if served else 0)  # logged once, with the refused IDs as bounded tokens
    if served:
        assert remembered[0].refused_model_ids == list(candidates[:served])
        assert remembered[0].model_id == candidates[served]


def test_health_reports_the_remembered_id(bedrock: FakeBedrock) -> None:
    candidates = profiles.candidate_ids(FUTURE, "ap-northeast-2")
    bedrock.serves = candidates[1]
    assert _ask()[0] == 200
    response = lf.lambda_handler({"httpMethod": "GET", "path": "/api/genai/health", "resource": "/api/genai/health",
                                  "headers": {}, "requestContext": {}}, None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["model_id"] == candidates[1] == f"global.{FUTURE}"


def test_when_no_candidate_is_served_three_calls_then_the_refusal(bedrock: FakeBedrock) -> None:
    status, body = _ask()
    assert status == 502 and body["error"]["code"] == "model_error"
    assert bedrock.calls == list(profiles.candidate_ids(FUTURE, "ap-northeast-2")) and len(bedrock.calls) == 3
    assert "on-demand" not in json.dumps(body) and "claude" not in json.dumps(body)


@pytest.mark.parametrize("code, message, status, calls", [
    ("AccessDeniedException", "You don't have access to the model with the specified model ID.", 403, 1),
    ("ValidationException", "A conversation must start with a user message. Try again with a conversation that "
                            "starts with a user message.", 400, 1),
    ("ValidationException", "messages.0.content.0.text: text content blocks must be non-empty", 400, 1),
    ("ThrottlingException", "Too many requests, please wait before trying again.", 429, 2),  # the same ID, twice
    ("ServiceUnavailableException", "Bedrock is unable to process your request.", 503, 2),
])
def test_other_refusals_are_not_retried_with_another_id(bedrock: FakeBedrock, code: str, message: str, status: int,
                                                         calls: int) -> None:
    bedrock.serves = f"global.{FUTURE}"  # served, but never reached: only an ID refusal moves on
    bedrock.refusal = (code, message, status)
    answered, _ = _ask()
    assert answered != 200
    assert bedrock.calls == [f"apac.{FUTURE}"] * calls
    assert model._WORKING_IDS == {}


def test_no_fallback_when_the_deadline_is_near(bedrock: FakeBedrock) -> None:
    bedrock.serves, bedrock.delay_s = f"global.{FUTURE}", 0.5  # the refusal leaves less than the model call reserve
    status, body = _ask(FakeContext((config.MODEL_CALL_RESERVE_MS + 300) / 1000))
    assert status == 502 and body["error"]["code"] == "model_error"
    assert bedrock.calls == [f"apac.{FUTURE}"]


def test_later_tool_rounds_call_the_id_that_answered(bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the question's first call falls back; the tool loop's next rounds use the working ID."""
    bedrock.serves = f"global.{FUTURE}"
    replies = iter([{**_reply(), "stopReason": "tool_use", "output": {"message": {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "tu-1", "name": "no_such_tool", "input": {}}}]}}}, _reply("18 pets.")])
    original = bedrock._answer

    def answer(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        http, parsed = original(**kwargs)
        return (http, next(replies)) if http.status_code == 200 else (http, parsed)

    bedrock.client.meta.events.unregister("before-call.bedrock-runtime.Converse", original)
    bedrock.client.meta.events.register_first("before-call.bedrock-runtime.Converse", answer)
    status, body = _ask()
    assert status == 200 and body["answer"] == "18 pets."
    assert bedrock.calls == [f"apac.{FUTURE}", f"global.{FUTURE}", f"global.{FUTURE}"]
    assert body["usage"]["model_calls"] == 2


@pytest.mark.parametrize("served, status", [(2, 200), (None, 502)])
def test_an_explicit_override_comes_first(bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch,
                                          settings: config.Settings, served: int | None, status: int) -> None:
    """BEDROCK_INFERENCE_PROFILE=jp from Seoul: jp., then the Region's apac., then global.; the base ID
    would be a fourth call and is never made."""
    monkeypatch.setattr(config, "_settings", settings._replace(model_id=FUTURE, inference_profile="jp"))
    order = [f"jp.{FUTURE}", f"apac.{FUTURE}", f"global.{FUTURE}"]
    bedrock.serves = FUTURE if served is None else order[served]
    assert _ask()[0] == status
    assert bedrock.calls == order


def test_a_throttled_fallback_is_not_retried_past_three_calls(bedrock: FakeBedrock) -> None:
    """Two refused IDs, then the third throttled: no fourth call (the throttle retry is skipped), 429."""
    candidates = profiles.candidate_ids(FUTURE, "ap-northeast-2")
    original = bedrock._answer

    def answer(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        if bedrock.calls[-1] == candidates[2]:
            return (AWSResponse("http://127.0.0.1:9", 429, {}, None),
                    {"Error": {"Code": "ThrottlingException", "Message": "Too many requests."},
                     "ResponseMetadata": {"HTTPStatusCode": 429}})
        return original(**kwargs)

    bedrock.client.meta.events.unregister("before-call.bedrock-runtime.Converse", original)
    bedrock.client.meta.events.register_first("before-call.bedrock-runtime.Converse", answer)
    assert _ask()[0] == 429
    assert bedrock.calls == list(candidates)
