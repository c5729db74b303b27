"""The drop-in contract, end to end over HTTP: a local API Gateway (REST, payload 1.0) in front of
the real handler, the local Data API, the model stand-in and moto's DynamoDB server, on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import lambda_function as lf
from genai import budget, clients, config, memory, request
from local import dynamodb, jsonhttp, model_standin, serve
from local import run as local_run
from local.model_standin import LABEL

API = "/api/genai"


class Reply:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status, self.headers, self.raw = status, headers, body

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8")

    def json(self) -> dict[str, Any]:
        return json.loads(self.raw)


def http(base: str, method: str, path: str, body: bytes | str | None = None,
         headers: dict[str, str] | None = None) -> Reply:
    data = body.encode("utf-8") if isinstance(body, str) else body
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.headers, err.read())


def post_json(base: str, payload: Any, path: str = API, **headers: str) -> Reply:
    return http(base, "POST", path, json.dumps(payload, ensure_ascii=False),
                {"Content-Type": "application/json", **headers})


def _stack(monkeypatch: pytest.MonkeyPatch, memory: bool, db_url: str | None = None,
           **gateway: float) -> Iterator[dict[str, Any]]:
    with local_run.local_endpoints(db_url, memory=memory) as stack:
        clients._clients.clear()
        config._settings = None
        server, base = serve.serve(lf.lambda_handler, **gateway)
        try:
            yield {**stack, "base": base}
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    yield from _stack(monkeypatch, memory=True)


@pytest.fixture
def gateway_no_memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    yield from _stack(monkeypatch, memory=False)


def model_texts(stack: dict[str, Any], index: int) -> str:
    """Every text the handler sent in one Converse request (history included)."""
    messages = stack["standin"].requests[index]["messages"]
    return "\n".join(block.get("text", "") for message in messages for block in message["content"])


def stored_turns(conversation_id: str) -> list[dict[str, Any]]:
    table = boto3.client("dynamodb")
    return table.query(TableName=dynamodb.TABLE, KeyConditionExpression="conversation_id = :c",
                       ExpressionAttributeValues={":c": {"S": conversation_id}})["Items"]


# ------------------------------------------------------------------ both front ends


def test_question_field_gets_the_json_envelope(gateway: dict[str, Any]) -> None:
    reply = post_json(gateway["base"], {"question": "Who owns Leo?"})
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    body = reply.json()
    assert "George Franklin" in body["answer"] and body["conversation_id"]


def test_message_field_of_the_older_chat_page(gateway: dict[str, Any]) -> None:
    reply = post_json(gateway["base"], {"message": "Coco라는 반려동물을 키우고 있는 사람은 누구야?"})
    assert reply.status == 200 and "이서연" in reply.json()["answer"]


def test_upstream_widget_bare_string_to_chatclient_gets_text(gateway: dict[str, Any]) -> None:
    reply = post_json(gateway["base"], "Who owns Leo?", path=API + "/chatclient")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert reply.text.startswith(LABEL["en"]) and "George Franklin" in reply.text


def test_bare_string_body_to_the_json_path_also_gets_text(gateway: dict[str, Any]) -> None:
    reply = post_json(gateway["base"], "Who owns Leo?")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")


def test_text_plain_body_is_the_question(gateway: dict[str, Any]) -> None:
    reply = http(gateway["base"], "POST", API + "/chatclient", "보리의 보호자는 누구야?",
                 {"Content-Type": "text/plain; charset=utf-8"})
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    assert "김민준" in reply.text


@pytest.mark.parametrize("body, language, sentence", [
    ('""', "ko", "질문이 비어 있습니다"),
    ('""', "en", "The question is empty"),
    ("{oops", "en", "could not be read"),
])
def test_chatclient_failures_are_a_sentence_in_the_askers_language(
        gateway: dict[str, Any], body: str, language: str, sentence: str) -> None:
    reply = http(gateway["base"], "POST", API + "/chatclient", body,
                 {"Content-Type": "application/json", "Accept-Language": f"{language},en;q=0.5"})
    assert reply.status == 400
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert sentence in reply.text and "{" not in reply.text


def test_unknown_path_and_method(gateway: dict[str, Any]) -> None:
    assert post_json(gateway["base"], {"question": "hi"}, path=API + "/nope").json()["error"]["code"] == "not_found"
    reply = http(gateway["base"], "DELETE", API)
    assert reply.status == 405 and reply.headers["Allow"] == "GET, POST, OPTIONS"


# ------------------------------------------------------------------ health and CORS


def test_health_reports_configuration_without_calling_bedrock(gateway: dict[str, Any]) -> None:
    calls = gateway["data_api"].calls
    reply = http(gateway["base"], "GET", API + "/health")
    body = reply.json()
    assert reply.status == 200 and body["status"] == "ok"
    assert body["model_id"] == "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert body["memory"] is True and body["writes"] is False and "database" not in body
    assert gateway["standin"].requests == [] and gateway["data_api"].calls == calls


def test_deep_health_runs_one_statement(gateway: dict[str, Any]) -> None:
    calls = gateway["data_api"].calls
    reply = http(gateway["base"], "GET", API + "/health?deep=1")
    assert reply.status == 200 and reply.json()["database"]["status"] == "ok"
    assert gateway["data_api"].calls == calls + 1 and gateway["standin"].requests == []


def test_deep_health_reports_a_broken_database(gateway: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", "http://127.0.0.1:9")  # nothing listens on port 9
    clients._clients.clear()
    reply = http(gateway["base"], "GET", API + "/health?deep=1")
    assert reply.status == 503 and reply.json()["error"]["code"] == "database_unreachable"


def test_preflight_without_a_configured_origin_allows_nothing(gateway: dict[str, Any]) -> None:
    reply = http(gateway["base"], "OPTIONS", API, headers={"Origin": "https://evil.example",
                                                           "Access-Control-Request-Method": "POST"})
    assert reply.status == 204 and "Access-Control-Allow-Origin" not in reply.headers


def test_preflight_and_answers_carry_cors_for_the_configured_origin(
        gateway: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", "https://petclinic.example.com")
    config._settings = None
    origin = {"Origin": "https://petclinic.example.com"}
    reply = http(gateway["base"], "OPTIONS", API, headers={**origin, "Access-Control-Request-Method": "POST"})
    assert reply.status == 204
    assert reply.headers["Access-Control-Allow-Origin"] == "https://petclinic.example.com"
    assert "POST" in reply.headers["Access-Control-Allow-Methods"]
    answered = post_json(gateway["base"], {"question": "Who owns Leo?"}, **origin)
    assert answered.headers["Access-Control-Allow-Origin"] == "https://petclinic.example.com"
    other = post_json(gateway["base"], {"question": "Who owns Leo?"}, Origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other.headers


# ------------------------------------------------------------------ the caller's budget


class _SlowModel(jsonhttp.JsonHandler):
    delay_s = 30.0

    def do_POST(self) -> None:
        request = json.loads(self.read_body())
        time.sleep(self.delay_s)
        self.send_json(200, model_standin.respond(request))


@pytest.fixture
def slow_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server, url = jsonhttp.serve(_SlowModel, "slow-model")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    clients._clients.clear()
    yield
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path, body", [(API, {"question": "Who owns Leo?"}), (API + "/chatclient", "Who owns Leo?")])
def test_api_gateway_callers_get_the_projects_504_within_the_budget(
        gateway: dict[str, Any], slow_model: None, monkeypatch: pytest.MonkeyPatch, path: str, body: Any) -> None:
    """A 60 s Lambda behind API Gateway: the function's own 504 must beat the gateway's timeout."""
    budget_ms = config.MODEL_CALL_RESERVE_MS + 2_000  # enough to start one model call, which then hangs
    monkeypatch.setenv("API_GATEWAY_BUDGET_MS", str(budget_ms))
    config._settings = None
    started = time.monotonic()
    reply = post_json(gateway["base"], body, path=path)
    elapsed_ms = (time.monotonic() - started) * 1000
    assert reply.status == 504
    if path.endswith("chatclient"):
        assert reply.headers["Content-Type"].startswith("text/plain") and "in time" in reply.text
    else:
        assert reply.json()["error"]["code"] in ("timeout", "model_timeout")  # the project's, not the gateway's
    assert elapsed_ms < budget_ms + 500


def test_default_budget_is_under_api_gateways_29_seconds() -> None:
    assert config.DEFAULT_API_GATEWAY_BUDGET_MS < 29_000
    assert config.Settings.from_env.__func__  # the default is what from_env uses when the variable is unset
    call = request.describe_call(serve.proxy_event("POST", API, [], b"{}"))
    assert call.api_gateway
    deadline = budget.Deadline(local_run.FakeContext(60), config.DEFAULT_API_GATEWAY_BUDGET_MS)
    assert deadline.remaining_ms() <= config.DEFAULT_API_GATEWAY_BUDGET_MS


def test_direct_invokes_keep_the_lambdas_own_time() -> None:
    assert not request.describe_call({"body": "{}"}).api_gateway  # aws lambda invoke (the seed's payload)
    url_event = {"version": "2.0", "requestContext": {"apiId": "abc", "domainName": "abc.lambda-url.ap-northeast-2.on.aws",
                                                      "http": {"method": "POST"}}}
    assert not request.describe_call(url_event).api_gateway  # Function URLs allow 15 minutes
    assert budget.Deadline(local_run.FakeContext(60)).remaining_ms() > 50_000


# ------------------------------------------------------------------ conversation memory


def test_follow_up_by_conversation_id_sees_the_first_turn(gateway: dict[str, Any]) -> None:
    base = gateway["base"]
    first = post_json(base, {"question": "Who owns Coco?", "conversation_id": "conv-test-0001"}).json()
    conversation = first["conversation_id"]  # a chosen id is not adopted: the function issues its own
    assert conversation != "conv-test-0001"
    second = post_json(base, {"question": "Where does she live?", "conversation_id": conversation}).json()
    assert second["conversation_id"] == conversation
    sent = model_texts(gateway, -1)
    assert "Who owns Coco?" in sent and first["answer"] in sent  # the model gets the first turn
    assert len(stored_turns(conversation)) == 2


def test_follow_up_by_cookie_for_unchanged_chat_pages(gateway: dict[str, Any]) -> None:
    base = gateway["base"]
    first = post_json(base, "Who owns Coco?", path=API + "/chatclient")
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith("__Host-")  # kept only from HTTPS, Path=/, no Domain: no other page can plant it
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/;"):
        assert attribute in cookie
    assert "Domain" not in cookie
    pair = cookie.split(";", 1)[0]
    post_json(base, "Where does she live?", path=API + "/chatclient", Cookie=pair)
    assert "Who owns Coco?" in model_texts(gateway, -1) and first.text in model_texts(gateway, -1)
    stranger = post_json(base, "Where does she live?", path=API + "/chatclient")  # another browser
    assert "Who owns Coco?" not in model_texts(gateway, -1)
    assert stranger.headers["Set-Cookie"].split(";", 1)[0] != pair


def test_history_is_bounded_by_turns(gateway: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVERSATION_MAX_TURNS", "2")
    config._settings = None
    for n in range(4):
        post_json(gateway["base"], {"question": f"Who owns Leo? ({n})", "conversation_id": local_run.signed_conversation_id("bounded-1")})
    sent = model_texts(gateway, -1)
    assert "(2)" in sent and "(1)" in sent and "(0)" not in sent


def test_expired_turns_are_forgotten(gateway: dict[str, Any]) -> None:
    post_json(gateway["base"], {"question": "Who owns Coco?", "conversation_id": local_run.signed_conversation_id("old-1")})
    table = boto3.client("dynamodb")
    (item,) = stored_turns(local_run.signed_conversation_id("old-1"))
    table.update_item(TableName=dynamodb.TABLE, Key={"conversation_id": item["conversation_id"], "item": item["item"]},
                      UpdateExpression="SET expires_at = :past", ExpressionAttributeValues={":past": {"N": "1"}})
    post_json(gateway["base"], {"question": "Where does she live?", "conversation_id": local_run.signed_conversation_id("old-1")})
    assert "Who owns Coco?" not in model_texts(gateway, -1)


def test_memory_off_works_as_before(gateway_no_memory: dict[str, Any]) -> None:
    reply = post_json(gateway_no_memory["base"], {"question": "Who owns Leo?"})
    assert reply.status == 200 and "Set-Cookie" not in reply.headers
    assert "conversation_id" not in reply.json()
    assert http(gateway_no_memory["base"], "GET", API + "/health").json()["memory"] is False


def test_a_failing_dynamodb_never_fails_the_question(gateway: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CONVERSATION_TABLE", "no-such-table")
    config._settings = None
    with caplog.at_level(logging.WARNING, logger="petclinic_genai"):
        reply = post_json(gateway["base"], {"question": "Who owns Leo?", "conversation_id": local_run.signed_conversation_id("c-1")})
    assert reply.status == 200 and "George Franklin" in reply.json()["answer"]
    assert "ResourceNotFound" not in reply.text and "no-such-table" not in reply.text
    warnings = [r for r in caplog.records if r.getMessage() == "conversation memory unavailable"]
    assert {r.action for r in warnings} == {"load", "save"}
    assert {r.error_code for r in warnings} == {"ResourceNotFoundException"}


def test_an_unreachable_dynamodb_never_fails_the_question(gateway: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    clients._clients.clear()
    reply = post_json(gateway["base"], {"question": "Who owns Leo?", "conversation_id": local_run.signed_conversation_id("c-2")})
    assert reply.status == 200


def test_two_concurrent_turns_in_one_conversation_are_both_kept(gateway: dict[str, Any]) -> None:
    replies: list[Reply] = []
    race = local_run.signed_conversation_id("race-1")
    threads = [threading.Thread(target=lambda q=q: replies.append(
        post_json(gateway["base"], {"question": q, "conversation_id": race}))) for q in ("Who owns Leo?", "Who owns Coco?")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in replies] == [200, 200]
    assert sorted(t["question"]["S"] for t in stored_turns(local_run.signed_conversation_id("race-1"))) == ["Who owns Coco?", "Who owns Leo?"]


@pytest.mark.parametrize("engine", ["mariadb"])
def test_conversation_on_mariadb(monkeypatch: pytest.MonkeyPatch, mysql_url: str, engine: str) -> None:
    for stack in _stack(monkeypatch, memory=True, db_url=mysql_url):
        post_json(stack["base"], {"question": "보리의 보호자는 누구야?", "conversation_id": local_run.signed_conversation_id("maria-1")})
        reply = post_json(stack["base"], {"question": "그 사람은 어디 살아?", "conversation_id": local_run.signed_conversation_id("maria-1")})
        assert reply.status == 200 and "보리의 보호자는 누구야?" in model_texts(stack, -1)


def test_korean_history_is_bounded_as_the_request_carries_it(gateway: dict[str, Any]) -> None:
    """botocore escapes each Hangul character as \\uXXXX (6 bytes): the bound counts what is sent."""
    table, now, conversation = boto3.client("dynamodb"), int(time.time()), local_run.signed_conversation_id("ko-1")
    post_json(gateway["base"], {"question": "Hello", "conversation_id": conversation})  # this caller's first turn
    (first,) = stored_turns(conversation)
    prefix, asker = first["item"]["S"].rsplit("#", 2)[0] + "#", first["asker"]["S"]  # whose turns these are
    for n in range(5):
        table.put_item(TableName=dynamodb.TABLE, Item={
            "conversation_id": {"S": conversation}, "item": {"S": f"{prefix}{now * 1000 + n:013d}#x"},
            "asker": {"S": asker}, "question": {"S": f"질문 {n}"}, "answer": {"S": "가" * 900},
            "expires_at": {"N": str(now + 600)},
            # stored for an anonymous caller under the default scope (a turn without one counts as "all")
            "scope": {"S": "no_contact"}})
    post_json(gateway["base"], {"question": "Who owns Leo?", "conversation_id": conversation})
    history = gateway["standin"].requests[-1]["messages"][:-1]
    assert history and len(json.dumps(history)) <= memory.HISTORY_MAX_BYTES
