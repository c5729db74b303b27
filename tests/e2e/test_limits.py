"""Rate limits and the daily token cap, end to end: the real handler against the local Data API, the
model stand-in and moto's DynamoDB server holding the limits table (the table Terraform creates)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import lambda_function as lf
from genai import clients, config, errors, facts, limits
import scripted
from scripted import Script
from test_faults import _reply
from local import dynamodb
from local import run as local_run

ROOT = Path(__file__).resolve().parents[2]
NOON = 1_780_000_000 - 1_780_000_000 % 86_400 + 43_200  # a fixed UTC noon: windows never roll over by chance


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(limits, "_clock", fixed)
    return fixed


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[dict[str, Any]]:
    with local_run.local_endpoints(None, memory=True, limits=True) as endpoints:
        for name, value in {"RATE_LIMIT_CLIENT_PER_MINUTE": "3", "RATE_LIMIT_CLIENT_PER_DAY": "0",
                            "RATE_LIMIT_CONVERSATION_PER_MINUTE": "0", "DAILY_TOKEN_CAP": "0",
                            "RATE_LIMIT_CLIENT_TOKENS_PER_DAY": "0"}.items():
            monkeypatch.setenv(name, value)
        clients._clients.clear()
        config._settings = None
        monkeypatch.setattr(limits, "_last_budget", None)
        monkeypatch.setattr(limits, "_local_counts", {})
        monkeypatch.setattr(limits, "_refused_until", {})
        monkeypatch.setattr(limits, "_settled_budget", None)
        yield endpoints
    scripted.shutdown_all()


def set_limits(monkeypatch: pytest.MonkeyPatch, **values: int) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name.upper(), str(value))
    config._settings = None


def rest_event(question: str = "Who owns Leo?", viewer: str = "198.51.100.7", path: str = "/api/genai",
               forwarded: str | None = None, conversation: str | None = None, plain: bool = False) -> dict[str, Any]:
    """A REST (payload 1.0) event as CloudFront -> API Gateway delivers it."""
    headers = {"Content-Type": "application/json", "CloudFront-Viewer-Address": f"{viewer}:50123"}
    if forwarded is not None:
        headers = {"Content-Type": "application/json", "X-Forwarded-For": forwarded}
    named = {"conversation_id": local_run.signed_conversation_id(conversation)} if conversation else {}
    payload: Any = question if plain else {"question": question, **named}
    return {"httpMethod": "POST", "path": path, "headers": headers, "body": json.dumps(payload, ensure_ascii=False),
            "requestContext": {"apiId": "local", "stage": "v1", "identity": {"sourceIp": "130.176.1.1"}}}


def call(event: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
    context = local_run.FakeContext()
    if request_id:
        context.aws_request_id = request_id
    return lf.lambda_handler(event, context)


def statuses(events: list[dict[str, Any]]) -> list[int]:
    return [call(event)["statusCode"] for event in events]


def count_calls(monkeypatch: pytest.MonkeyPatch, *targets: tuple[Any, str]) -> dict[str, int]:
    """Wrap each (module, function name) so its calls are counted; the counts by function name."""
    calls = {name: 0 for _, name in targets}
    for owner, name in targets:
        real = getattr(owner, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _real(*args, **kwargs)
        monkeypatch.setattr(owner, name, counted)
    return calls


def items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=dynamodb.LIMITS_TABLE)["Items"]


def model_calls(stack: dict[str, Any]) -> int:
    return len(stack["standin"].requests)


# ------------------------------------------------------------------ the per-client window


def test_over_the_limit_is_a_429_with_retry_after_and_no_model_call(stack: dict[str, Any], clock: Clock) -> None:
    assert statuses([rest_event()] * 3) == [200, 200, 200]
    before = model_calls(stack)
    clock.now += 20
    refused = call(rest_event())
    assert refused["statusCode"] == 429
    assert refused["headers"]["Retry-After"] == "40"  # the window ends at the next minute
    error = json.loads(refused["body"])["error"]
    assert error["code"] == "rate_limited" and "at most 3 per minute" in error["message"]
    assert model_calls(stack) == before  # refused before the model


def test_chatclient_gets_one_sentence_in_the_askers_language(stack: dict[str, Any]) -> None:
    statuses([rest_event()] * 3)
    korean = call(rest_event("Coco는 누구 거야?", path="/api/genai/chatclient", plain=True))
    assert korean["statusCode"] == 429 and korean["headers"]["Content-Type"].startswith("text/plain")
    assert korean["body"] == errors.PLAIN_ERRORS["rate_limited"][0]
    english = call(rest_event("Who owns Coco?", path="/api/genai/chatclient", plain=True))
    assert english["body"] == errors.PLAIN_ERRORS["rate_limited"][1] and "Retry-After" in english["headers"]


def test_a_spoofed_left_most_forwarded_for_does_not_escape(stack: dict[str, Any]) -> None:
    # Each request claims another address; CloudFront appended the real one, API Gateway the edge.
    events = [rest_event(forwarded=f"203.0.113.{n}, 198.51.100.7, 130.176.1.1") for n in range(6)]
    assert statuses(events) == [200, 200, 200, 429, 429, 429]
    assert call(rest_event(forwarded="198.51.100.8, 130.176.1.1"))["statusCode"] == 200  # someone else


def test_the_window_rolls_over(stack: dict[str, Any], clock: Clock) -> None:
    assert statuses([rest_event()] * 4) == [200, 200, 200, 429]
    clock.now += 59
    assert call(rest_event())["statusCode"] == 429
    clock.now += 1  # the next minute
    assert statuses([rest_event()] * 4) == [200, 200, 200, 429]


def test_refused_requests_add_nothing_and_a_retried_request_counts_once(stack: dict[str, Any]) -> None:
    for _ in range(3):
        assert call(rest_event(), request_id="retried-request")["statusCode"] == 200  # the same invocation again
    assert statuses([rest_event()] * 4) == [200, 200, 429, 429]
    counts = [int(item["n"]["N"]) for item in items() if item["pk"]["S"].startswith("client#")]
    assert counts == [3]  # never above the limit, never below zero
    item = next(item for item in items() if item["pk"]["S"].startswith("client#"))
    assert "198.51.100.7" not in json.dumps(item)  # keys are hashes: no address in the table
    assert int(item["expires_at"]["N"]) > NOON  # the TTL cleans it up


def test_the_conversation_and_daily_limits(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                           clock: Clock) -> None:
    set_limits(monkeypatch, rate_limit_client_per_minute=0, rate_limit_conversation_per_minute=2,
           rate_limit_client_per_day=4)
    same = [rest_event(conversation="c-1", viewer=f"198.51.100.{n}") for n in range(3)]
    assert statuses(same) == [200, 200, 429]  # one conversation, whatever address it comes from
    refused = json.loads(call(rest_event(conversation="c-1"))["body"])["error"]
    assert refused["message"].startswith("This conversation has asked too many questions (at most 2 per minute).")
    assert statuses([rest_event(conversation=f"d-{n}", viewer="192.0.2.1") for n in range(5)]) \
        == [200, 200, 200, 200, 429]
    clock.now += 12 * 3600  # midnight UTC: a new day
    assert call(rest_event(conversation="d-9", viewer="192.0.2.1"))["statusCode"] == 200


def health(deep: bool) -> dict[str, Any]:
    return call({"httpMethod": "GET", "path": "/api/genai/health", "queryStringParameters": {"deep": "1"} if deep else None,
                 "headers": {"CloudFront-Viewer-Address": "198.51.100.7:50123"},
                 "requestContext": {"apiId": "local", "identity": {"sourceIp": "130.176.1.1"}}})


def test_a_deep_health_check_counts_but_the_shallow_one_never_does(stack: dict[str, Any]) -> None:
    assert [health(deep=True)["statusCode"] for _ in range(4)] == [200, 200, 200, 429]  # each reaches the database
    assert [health(deep=False)["statusCode"] for _ in range(5)] == [200] * 5
    assert json.loads(health(deep=False)["body"])["limits"] is True


def test_a_refused_client_is_refused_again_without_a_table_or_database_call(stack: dict[str, Any],
                                                                             monkeypatch: pytest.MonkeyPatch,
                                                                             clock: Clock) -> None:
    calls = count_calls(monkeypatch, (facts, "prefetch"), (limits, "count_request"))
    assert statuses([rest_event()] * 4) == [200, 200, 200, 429]
    assert calls == {"prefetch": 4, "count_request": 4}  # the 4th was refused beside its prefetch
    clock.now += 30
    refused = call(rest_event())
    assert refused["statusCode"] == 429 and refused["headers"]["Retry-After"] == "30"
    assert calls == {"prefetch": 4, "count_request": 4}  # known here: no table call, no prefetch
    assert call(rest_event(viewer="192.0.2.1"))["statusCode"] == 200  # someone else
    clock.now += 30
    assert call(rest_event())["statusCode"] == 200  # the next window


def test_one_client_cannot_spend_more_than_its_daily_tokens(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                             clock: Clock) -> None:
    """A reviewer showed one anonymous address could spend the whole day's cap (closing the chat for
    everyone) within its question limits: each client's day window also counts its tokens."""
    set_limits(monkeypatch, rate_limit_client_per_minute=0, rate_limit_client_tokens_per_day=2000)
    monkeypatch.setattr(limits, "QUESTION_TOKEN_BOUND", 100)  # this test's bound, below the stand-in's use
    first = json.loads(call(rest_event())["body"])["usage"]["total_tokens"]
    assert 1000 < first < 2000  # the stand-in's token count for this question
    # A question is admitted when its bound still fits beside what was used: the second's does, exactly.
    monkeypatch.setattr(limits, "QUESTION_TOKEN_BOUND", 2000 - first)
    assert call(rest_event())["statusCode"] == 200
    refused = call(rest_event())
    assert refused["statusCode"] == 429
    assert json.loads(refused["body"])["error"]["message"].startswith("This client has used its 2,000 tokens for today.")
    assert refused["headers"]["Retry-After"] == str(12 * 3600)  # until midnight UTC
    assert call(rest_event(viewer="192.0.2.1"))["statusCode"] == 200  # another client
    clock.now += 12 * 3600
    assert call(rest_event())["statusCode"] == 200  # the next day


def test_signed_in_callers_keep_the_last_fifth_of_the_cap(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    set_limits(monkeypatch, rate_limit_client_per_minute=0, daily_token_cap=3000)
    monkeypatch.setattr(limits, "QUESTION_TOKEN_BOUND", 1)  # this test's bound: the cap as it was checked before reservations
    assert statuses([rest_event(viewer="192.0.2.1"), rest_event(viewer="192.0.2.2")]) == [200, 200]  # > 2,400 spent
    refused = call(rest_event(viewer="192.0.2.3"))
    assert refused["statusCode"] == 503 and json.loads(refused["body"])["error"]["code"] == "budget_exhausted"
    signed_in = rest_event(viewer="192.0.2.3")
    signed_in["requestContext"]["authorizer"] = {"claims": {"sub": "staff-sub-1"}}
    answered = call(signed_in)
    assert answered["statusCode"] == 200, answered["body"]  # under 3,000: staff still get answers
    assert call({"question": "Who owns Leo?"})["statusCode"] == 503  # now over the whole cap, for everyone


def test_a_direct_invoke_is_not_rate_limited_per_client(stack: dict[str, Any]) -> None:
    for _ in range(5):
        assert call({"question": "Who owns Leo?"})["statusCode"] == 200


# ------------------------------------------------------------------ the daily cap


def test_the_cap_is_reached_then_lifts_the_next_day(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                    clock: Clock, capsys: pytest.CaptureFixture[str]) -> None:
    set_limits(monkeypatch, rate_limit_client_per_minute=0, daily_token_cap=10)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "petclinic-genai-test")
    first = call(rest_event())
    assert first["statusCode"] == 200  # 0 used < 8 (an anonymous caller's 80 %): admitted; it spends more
    spent = json.loads(first["body"])["usage"]["total_tokens"]
    metric = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")][-1]
    assert metric["DailyTokens"] == spent > 0  # the EMF budget metric: the day's running total
    assert {"Name": "DailyTokens", "Unit": "Count"} in metric["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    clock.now += 3600
    refused = call(rest_event())
    assert refused["statusCode"] == 503 and refused["headers"]["Retry-After"] == str(11 * 3600)  # until midnight
    assert json.loads(refused["body"])["error"]["code"] == "budget_exhausted"
    plain = call(rest_event("Coco는 누구 거야?", path="/api/genai/chatclient", plain=True))
    assert plain["statusCode"] == 503 and plain["body"] == errors.PLAIN_ERRORS["budget_exhausted"][0]
    health = call({"httpMethod": "GET", "path": "/api/genai/health", "headers": {},
                   "requestContext": {"apiId": "local", "identity": {"sourceIp": "130.176.1.1"}}})
    assert health["statusCode"] == 200  # health still answers
    clock.now += 11 * 3600  # the next UTC day
    assert call(rest_event())["statusCode"] == 200


def test_a_failed_question_still_counts_what_it_spent(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    set_limits(monkeypatch, rate_limit_client_per_minute=0, daily_token_cap=10**9)
    tool_round = {"output": {"message": {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "t1", "name": "list_vets", "input": {}}}]}}, "stopReason": "tool_use",
        "usage": {"inputTokens": 1200, "outputTokens": 34, "totalTokens": 1234}, "metrics": {"latencyMs": 1}}
    rejected = scripted.Reply(status=400, body={"message": "bad"}, error_type="ValidationException")
    scripted.point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", scripted.Script(scripted.Reply(body=tool_round),
                                                                                     rejected))
    response = call(rest_event("List some owners"))
    assert response["statusCode"] == 502 and json.loads(response["body"])["error"]["code"] == "model_error"
    budget = [item for item in items() if item["pk"]["S"].startswith("tokens#")]
    assert [int(item["tokens"]["N"]) for item in budget] == [1234]  # the first call's tokens, once


# ------------------------------------------------------------------ faults


DYNAMODB_THROTTLED = scripted.Reply(status=400, body={"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                                                      "message": "Rate of requests exceeds the allowed throughput."})


@pytest.mark.parametrize("fault", ["throttled", "dropped"])
def test_a_throttled_or_unreachable_table_fails_open_to_the_instances_own_count(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture,
                                                                 capsys: pytest.CaptureFixture[str], fault: str) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "petclinic-genai-test")
    reply = DYNAMODB_THROTTLED if fault == "throttled" else scripted.Reply(drop=True)
    scripted.point(monkeypatch, "AWS_ENDPOINT_URL_DYNAMODB", scripted.Script(reply))
    with caplog.at_level(logging.WARNING, logger="petclinic_genai"):
        # Answered (memory and the windows are best effort), but a flood that throttles the window's
        # hot key still meets the limit, counted by this instance alone.
        assert statuses([rest_event()] * 5) == [200, 200, 200, 429, 429]
        assert call(rest_event(viewer="192.0.2.44"))["statusCode"] == 200  # per client, as before
    warnings = [r for r in caplog.records if r.getMessage() == "limits unavailable"]
    assert {r.action for r in warnings} == {"check", "charge"}  # the windows, then the day's count
    assert "198.51.100.7" not in caplog.text and dynamodb.LIMITS_TABLE not in caplog.text
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(metrics) == 6 and all(m["LimiterErrors"] >= 1 for m in metrics[:4] + metrics[5:])
    assert (metrics[4]["LimiterErrors"], metrics[4]["RateLimited"]) == (0, 1)  # refused from memory: no call


def test_the_cap_fails_closed_unless_a_recent_reading_was_under_it(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                                   clock: Clock) -> None:
    set_limits(monkeypatch, daily_token_cap=10**9)
    assert call(rest_event())["statusCode"] == 200  # this instance read the day's count
    scripted.point(monkeypatch, "AWS_ENDPOINT_URL_DYNAMODB", scripted.Script(DYNAMODB_THROTTLED))
    clock.now += 60
    assert call(rest_event())["statusCode"] == 200  # a reading a minute old, under the cap: admitted
    clock.now += limits.BUDGET_STALE_S
    refused = call(rest_event())
    assert refused["statusCode"] == 503 and json.loads(refused["body"])["error"]["code"] == "budget_unavailable"
    assert "Retry-After" in refused["headers"]


# ------------------------------------------------------------------ across instances


BURST = textwrap.dedent("""
    import json, sys, threading
    sys.path.insert(0, sys.argv[1])
    import lambda_function as lf
    from genai import limits
    from local.run import FakeContext
    limits._clock = lambda: float(sys.argv[2])
    event = json.loads(sys.stdin.read())
    codes, lock = [], threading.Lock()
    def one():
        code = lf.lambda_handler(json.loads(json.dumps(event)), FakeContext())["statusCode"]
        with lock:
            codes.append(code)
    threads = [threading.Thread(target=one) for _ in range(60)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(json.dumps(codes))
""")


def test_the_default_limit_holds_across_two_instances(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """120 questions sent at once by one client, 60 from each of two handler processes (two Lambda
    instances) sharing one table: at the defaults no more than half reach the model."""
    for name in ("RATE_LIMIT_CLIENT_PER_MINUTE", "RATE_LIMIT_CLIENT_PER_DAY", "RATE_LIMIT_CONVERSATION_PER_MINUTE"):
        monkeypatch.delenv(name)
    # The question windows alone: tokens enough that reservations never refuse (that is the next test).
    set_limits(monkeypatch, daily_token_cap=10**9, rate_limit_client_tokens_per_day=10**9)
    before = model_calls(stack)
    spoofed = rest_event(forwarded="203.0.113.1, 198.51.100.7, 130.176.1.1")
    processes = [subprocess.Popen([sys.executable, "-c", BURST, str(ROOT), str(NOON)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=dict(os.environ)) for _ in range(2)]
    outputs = [p.communicate(json.dumps(spoofed), timeout=240)[0] for p in processes]
    codes = [code for out in outputs for code in json.loads(out.strip().splitlines()[-1])]
    assert len(codes) == 120 and set(codes) <= {200, 429}
    assert codes.count(200) == config.DEFAULT_CLIENT_PER_MINUTE <= 60  # exactly the limit, across both processes
    assert model_calls(stack) - before <= config.DEFAULT_CLIENT_PER_MINUTE * 2  # at most 2 model calls each


# ------------------------------------------------------------------ other sites


def test_questions_sent_by_another_sites_page_are_refused(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A reviewer showed a hostile page could spend the budget through its visitors' browsers (each on
    a fresh address): a browser's own Sec-Fetch-Site: cross-site marks those requests."""
    before = model_calls(stack)
    post = rest_event()
    post["headers"].update({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    refused = call(post)
    assert refused["statusCode"] == 403 and json.loads(refused["body"])["error"]["code"] == "cross_site"
    link = {"httpMethod": "GET", "path": "/api/genai", "queryStringParameters": {"question": "Who owns Leo?"},
            "headers": {"Sec-Fetch-Site": "cross-site", "CloudFront-Viewer-Address": "198.51.100.7:1"},
            "requestContext": {"apiId": "local", "identity": {"sourceIp": "130.176.1.1"}}}
    assert call(link)["statusCode"] == 403  # an <img src> or a link
    plain = rest_event("Coco는 누구 거야?", path="/api/genai/chatclient", plain=True)
    plain["headers"]["Sec-Fetch-Site"] = "cross-site"
    assert call(plain)["body"] == errors.PLAIN_ERRORS[403][0]
    assert model_calls(stack) == before
    for site in ("same-origin", "same-site", "none"):
        own = rest_event(viewer="192.0.2.9")
        own["headers"]["Sec-Fetch-Site"] = site
        assert call(own)["statusCode"] == 200, site
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", "https://evil.example")  # an origin the operator allows
    config._settings = None
    assert call(post)["statusCode"] == 200


def test_a_deep_health_check_from_another_sites_page_is_refused(stack: dict[str, Any]) -> None:
    """An attacker kept Aurora awake with GET /api/genai/health?deep=1 from a hostile page: deep health
    reaches the database, so it obeys the questions' cross-site rule. The shallow check still answers."""
    deep = {"httpMethod": "GET", "path": "/api/genai/health", "queryStringParameters": {"deep": "1"},
            "headers": {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example",
                        "CloudFront-Viewer-Address": "198.51.100.7:1"},
            "requestContext": {"apiId": "local", "identity": {"sourceIp": "130.176.1.1"}}}
    statements = stack["data_api"].calls
    refused = call(deep)
    assert refused["statusCode"] == 403 and json.loads(refused["body"])["error"]["code"] == "cross_site"
    assert stack["data_api"].calls == statements  # no statement ran
    shallow = {**deep, "queryStringParameters": None}
    assert call(shallow)["statusCode"] == 200


def test_a_concurrent_burst_from_one_address_stops_at_its_share(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker sent twenty questions at once from one address to a model that follows a greedy
    asker (~102k tokens each): all were admitted, the day's 2,000,000 tokens were gone, and another
    visitor and signed-in staff got 503. Each question now reserves its bound at admission."""
    for name in ("RATE_LIMIT_CLIENT_PER_MINUTE", "RATE_LIMIT_CLIENT_PER_DAY", "RATE_LIMIT_CONVERSATION_PER_MINUTE",
                 "DAILY_TOKEN_CAP", "RATE_LIMIT_CLIENT_TOKENS_PER_DAY"):
        monkeypatch.delenv(name)  # the defaults: 400,000 tokens a client a day, 2,000,000 a day in all
    greedy = Script(_reply([{"text": "Here is everything."}], usage={"inputTokens": 100_000, "outputTokens": 2_000,
                                                                     "totalTokens": 102_000}))
    scripted.point(monkeypatch, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", greedy)
    burst = [rest_event(question=f"Tell me everything ({n})") for n in range(20)]
    codes: list[int] = []
    threads = [threading.Thread(target=lambda e=e: codes.append(call(e)["statusCode"])) for e in burst]
    [t.start() for t in threads]
    [t.join() for t in threads]
    admitted = codes.count(200)
    assert set(codes) <= {200, 429} and admitted >= 1
    assert admitted * 102_000 <= config.DEFAULT_CLIENT_TOKENS_PER_DAY  # the client stopped at its share
    assert call(rest_event(question="Who owns Leo?", viewer="192.0.2.1"))["statusCode"] == 200  # another visitor
    staff = rest_event(question="Who owns Leo?", viewer="192.0.2.2")
    staff["requestContext"]["authorizer"] = {"claims": {"sub": "staff-sub-1"}}
    assert call(staff)["statusCode"] == 200
    budget = next(item for item in items() if item["pk"]["S"].startswith("tokens#"))
    assert int(budget["tokens"]["N"]) == 102_000 * (admitted + 2)  # settled to what was used: no hold left
    assert not [name for item in items() for name in item if name.startswith("hold_")]


def test_a_spent_cap_refuses_without_a_statement(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """An attacker found that once the cap was spent, each refused question still ran its prefetch
    statements (and a table call): a hostile page could keep Aurora awake. Known here, it runs none."""
    set_limits(monkeypatch, rate_limit_client_per_minute=0, daily_token_cap=1000)
    monkeypatch.setattr(limits, "QUESTION_TOKEN_BOUND", 100)
    assert call(rest_event())["statusCode"] == 200  # the stand-in's answer spends more than the cap
    calls = count_calls(monkeypatch, (facts, "prefetch"), (limits, "reserve_budget"))
    first = call(rest_event(viewer="192.0.2.1"))  # learns that the day is spent
    assert first["statusCode"] == 503 and json.loads(first["body"])["error"]["code"] == "budget_exhausted"
    before = dict(calls)
    for n in range(3):
        refused = call(rest_event(viewer=f"192.0.2.{n + 2}"))
        assert refused["statusCode"] == 503 and json.loads(refused["body"])["error"]["code"] == "budget_exhausted"
    assert calls == before  # no prefetch statement, no table call
