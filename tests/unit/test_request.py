"""Request parsing and the response envelope: pure functions, no AWS."""

from __future__ import annotations

import base64
import json
import unicodedata

import pytest

import lambda_function as lf
from genai import clients, config, errors, memory, request, responses

QUESTION = "Coco라는 반려동물을 키우고 있는 사람은 누구야?"


def _body(question: str = QUESTION, **extra: object) -> str:
    return json.dumps({"question": question, **extra}, ensure_ascii=False)


@pytest.mark.parametrize(
    "event, source",
    [
        ({"question": QUESTION}, "direct"),
        ({"body": _body()}, "rest_v1"),  # the seed's aws lambda invoke payload
        ({"httpMethod": "POST", "body": _body(), "isBase64Encoded": False, "requestContext": {"stage": "prod"}},
         "rest_v1"),
        ({"version": "2.0", "requestContext": {"http": {"method": "POST"}},
          "body": base64.b64encode(_body().encode()).decode(), "isBase64Encoded": True}, "http_v2"),
        ({"requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:x"}}, "httpMethod": "POST",
          "body": _body(), "isBase64Encoded": False}, "alb"),
        ({"version": "2.0", "requestContext": {"http": {"method": "GET"}},
          "queryStringParameters": {"question": QUESTION}}, "http_v2"),
    ],
)
def test_every_event_shape_yields_the_question(event: dict, source: str) -> None:
    assert request.event_source(event) == source
    question = request.parse_request(event)
    assert question.text == QUESTION
    assert question.language == "ko"


def test_optional_fields_are_kept() -> None:
    question = request.parse_request({"question": "Who owns Leo?", "language": "ko-KR", "conversation_id": "abc-1"})
    assert (question.language, question.conversation_id) == ("ko-kr", "abc-1")
    assert request.parse_request({"question": "Who owns Leo?"}).language == "en"


@pytest.mark.parametrize(
    "event, status, code",
    [
        ({}, 400, "missing_question"),
        ({"question": "   "}, 400, "empty_question"),
        ({"question": 42}, 400, "invalid_question"),
        ({"question": "x" * (config.MAX_QUESTION_CHARS + 1)}, 413, "question_too_long"),
        ({"body": "{not json"}, 400, "invalid_json"),
        ({"body": "[1, 2]"}, 400, "invalid_body"),
        ({"body": "!!!", "isBase64Encoded": True}, 400, "invalid_body"),
        ({"body": "x" * (config.MAX_BODY_BYTES + 10)}, 413, "payload_too_large"),
        ({"question": "hi", "language": "korean language"}, 400, "invalid_language"),
        ({"question": "hi", "conversation_id": "has spaces"}, 400, "invalid_conversation_id"),
        ("just a string", 400, "invalid_request"),
    ],
)
def test_bad_requests_name_the_problem(event: object, status: int, code: str) -> None:
    with pytest.raises(errors.AppError) as caught:
        request.parse_request(event)
    assert (int(caught.value.status), caught.value.code) == (status, code)


def test_question_at_the_limit_is_accepted() -> None:
    assert len(request.parse_request({"question": "x" * config.MAX_QUESTION_CHARS}).text) == config.MAX_QUESTION_CHARS


def test_error_response_is_an_api_gateway_envelope_without_internals() -> None:
    response = responses._error_response(errors.ServiceUnavailable(code="database_unavailable"), "req-1", "alb")
    assert response["statusCode"] == 503
    assert response["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert response["headers"]["Retry-After"] == "10"
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["statusDescription"] == "503 Service Unavailable"
    body = json.loads(response["body"])
    assert body["error"]["code"] == "database_unavailable"
    assert body["request_id"] == "req-1"


def test_korean_is_kept_readable_in_the_body() -> None:
    response = responses.respond(200, {"answer": "이서연 님입니다"}, "rest_v1")
    assert "이서연" in response["body"]
    assert response["headers"]["Cache-Control"] == "no-store"  # answers hold personal data: never cached
    assert "statusDescription" not in response


def test_handler_answers_bad_input_with_400_before_touching_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "client", lambda service: pytest.fail("no AWS call expected"))
    response = lf.lambda_handler({"body": "{}"}, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "missing_question"


def test_alb_with_multi_value_headers_gets_them_back() -> None:
    event = {"requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:x"}}, "httpMethod": "POST",
             "multiValueHeaders": {"content-type": ["application/json"]}, "body": _body(""), "isBase64Encoded": False}
    assert request.event_source(event) == "alb_multi"
    response = lf.lambda_handler(event, None)
    assert response["statusCode"] == 400 and "headers" not in response
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json; charset=utf-8"]
    assert response["statusDescription"] == "400 Bad Request"


# ------------------------------------------------------------------ the input holes (each answered 500 or garbled)

ALB_CONTEXT = {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/x/y"}}


def _status(event: object) -> tuple[int, dict]:
    response = lf.lambda_handler(event, None)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else {}


def test_deeply_nested_body_is_a_400_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "client", lambda service: pytest.fail("no AWS call expected"))
    body = "[" * 5000 + "]" * 5000
    status, reply = _status({"httpMethod": "POST", "body": body})
    assert (status, reply["error"]["code"]) == (400, "invalid_json")


@pytest.mark.parametrize("query", [["question", "Who owns Leo?"], "question=Who owns Leo?", 42])
def test_query_parameters_that_are_not_an_object_are_a_400(query: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "client", lambda service: pytest.fail("no AWS call expected"))
    status, reply = _status({"httpMethod": "GET", "path": "/api/genai", "queryStringParameters": query})
    assert (status, reply["error"]["code"]) == (400, "invalid_query")


def test_alb_query_values_are_url_decoded() -> None:
    event = {"requestContext": ALB_CONTEXT, "httpMethod": "GET", "path": "/api/genai",
             "queryStringParameters": {"question": "%EB%B3%B4%EB%A6%AC%EC%9D%98+%EB%B3%B4%ED%98%B8%EC%9E%90%EB%8A%94%3F"}}
    assert request.parse_request(event).text == "보리의 보호자는?"


def test_alb_with_multi_value_headers_sends_only_multi_value_query() -> None:
    event = {"requestContext": ALB_CONTEXT, "httpMethod": "GET", "path": "/api/genai",
             "multiValueHeaders": {"accept": ["*/*"]},
             "multiValueQueryStringParameters": {"question": ["Who+owns+Leo%3F"], "language": ["en"]}}
    question = request.parse_request(event)
    assert (question.text, question.language) == ("Who owns Leo?", "en")


@pytest.mark.parametrize("field, value, code", [
    ("language", "ko\n", "invalid_language"),
    ("conversation_id", "abc\n", "invalid_conversation_id"),
])
def test_a_trailing_newline_is_not_a_valid_value(field: str, value: str, code: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        request.parse_request({"question": "Who owns Leo?", field: value})
    assert caught.value.code == code


@pytest.mark.parametrize("text", ["\u200b\u200b\u200b", "\u200d\ufeff", "\x00\x01\x7f", "\u2028 \u3000"])
def test_invisible_questions_are_empty(text: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        request.parse_request({"question": text})
    assert caught.value.code == "empty_question"


def test_characters_are_counted_after_nfc() -> None:
    composed = "가" * config.MAX_QUESTION_CHARS
    decomposed = unicodedata.normalize("NFD", composed)  # each syllable is two or three code points
    assert len(decomposed) > config.MAX_QUESTION_CHARS
    question = request.parse_request({"question": decomposed})
    assert question.text == composed


def test_message_is_an_alias_of_question_and_bare_strings_are_questions() -> None:
    assert request.parse_request({"message": "Who owns Leo?"}).text == "Who owns Leo?"
    assert request.parse_request({"question": "a", "message": "b"}).text == "a"
    bare = request.parse_request({"httpMethod": "POST", "path": "/api/genai/chatclient", "body": '"Who owns Leo?"'})
    assert (bare.text, bare.plain) == ("Who owns Leo?", True)
    plain = request.parse_request({"httpMethod": "POST", "body": "Who owns Leo?", "headers": {"content-type": "text/plain"}})
    assert (plain.text, plain.plain) == ("Who owns Leo?", True)
    assert request.parse_request({"body": '{"question": "Who owns Leo?"}'}).plain is False


@pytest.mark.parametrize("path, method, route", [
    ("/api/genai", "POST", "ask"), ("/api/genai/", "POST", "ask"), ("/api/genai/chatclient", "POST", "chatclient"),
    ("/api/genai/health", "GET", "health"), ("/api/genai", "OPTIONS", "preflight"), ("/api/genai/x", "POST", "unknown"),
    ("/", "POST", "ask"), ("", "POST", "ask"),
])
def test_routes(path: str, method: str, route: str) -> None:
    assert request.describe_call({"httpMethod": method, "path": path, "body": None}).route == route


def test_text_responses_and_cookies_per_caller_shape() -> None:
    v2 = responses.respond(200, "hello", "http_v2", {"Set-Cookie": "a=b"})
    assert v2["cookies"] == ["a=b"] and "Set-Cookie" not in v2["headers"]
    assert v2["headers"]["Content-Type"] == "text/plain; charset=utf-8" and v2["body"] == "hello"
    alb = responses.respond(200, "hello", "alb_multi", {"Set-Cookie": "a=b"})
    assert alb["multiValueHeaders"]["Set-Cookie"] == ["a=b"]
    assert responses.respond(204, "", "rest_v1")["headers"].get("Content-Type") is None


# ------------------------------------------------------------------ what a reviewer found (each failed before its fix)


def test_a_lone_surrogate_is_not_a_question() -> None:
    """A JSON "\\ud800" escape decodes to a lone surrogate, which no UTF-8 response or DynamoDB item can carry."""
    with pytest.raises(errors.BadRequest) as caught:
        request.parse_request({"httpMethod": "POST", "path": "/api/genai/chatclient", "body": '"\\ud800 hi"'})
    assert caught.value.code == "invalid_question"


@pytest.mark.parametrize("path, route", [
    ("/api/genai/x/health", "unknown"), ("/api/genai/foo/chatclient", "unknown"), ("/api/genai/genai", "unknown"),
    ("/api/genaiX", "unknown"), ("/v1/api/genai/chatclient", "chatclient"), ("/health", "health"),
])
def test_the_whole_path_after_genai_decides_the_route(path: str, route: str) -> None:
    assert request.describe_call({"httpMethod": "POST", "path": path, "body": None}).route == route


def test_post_to_health_names_only_what_health_allows() -> None:
    response = lf.lambda_handler({"httpMethod": "POST", "path": "/api/genai/health", "body": None}, None)
    assert response["statusCode"] == 405 and response["headers"]["Allow"] == "GET, OPTIONS"


def test_is_base64_encoded_must_be_true_not_truthy() -> None:
    event = {"httpMethod": "POST", "path": "/api/genai", "body": '{"question": "Who owns Leo?"}',
             "isBase64Encoded": "false"}
    assert request.parse_request(event).text == "Who owns Leo?"


def test_only_conversation_ids_the_function_issued_are_joined() -> None:
    """A planted cookie or a chosen body id (any 32 or 64 hex included) starts a new conversation;
    an id issued under another key (after rotation) too; only an id issued here is joined."""
    settings = config.Settings("a", "b", "c", "d", "auto", 3, 100, conversation_table="t", conversation_key="k" * 32)
    rotated = settings._replace(conversation_key="r" * 32)
    issued, old = memory.issue_conversation_id(settings), memory.issue_conversation_id(rotated)
    forged = issued[:32] + ("0" if issued[32] != "0" else "1") + issued[33:]
    for planted in ("a", "attacker-fixed", "A" * 32, "0123456789abcdef" * 2, "ab" * 32, forged, old):
        call = request.describe_call({"httpMethod": "POST", "path": "/api/genai", "body": None,
                                      "headers": {"cookie": f"{memory.COOKIE_NAME}={planted}"}})
        chosen, set_cookie = memory.conversation_for(call, request.Question("Who owns Leo?", "en"), settings)
        assert chosen != planted and set_cookie and memory.issued_here(settings, chosen)
        body = request.Question("Who owns Leo?", "en", conversation_id=planted)
        chosen, set_cookie = memory.conversation_for(request.describe_call({}), body, settings)
        assert chosen != planted and not set_cookie and memory.issued_here(settings, chosen)
    call = request.describe_call({"httpMethod": "POST", "path": "/api/genai", "body": None,
                                  "headers": {"cookie": f"{memory.COOKIE_NAME}={issued}"}})
    assert memory.conversation_for(call, request.Question("Who owns Leo?", "en"), settings) == (issued, True)
    body = request.Question("Who owns Leo?", "en", conversation_id=issued)
    assert memory.conversation_for(request.describe_call({}), body, settings) == (issued, False)


def test_memory_needs_a_conversation_key(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = config.Settings("a", "b", "c", "d", "auto", 3, 100, conversation_table="t", conversation_key="short")
    assert any("CONVERSATION_KEY" in problem for problem in settings.problems())


def test_text_errors_are_in_the_language_of_the_body_when_the_question_cannot_be_read() -> None:
    event = {"httpMethod": "POST", "path": "/api/genai/chatclient", "body": json.dumps("가" * 2001, ensure_ascii=False),  # as JSON.stringify sends it
             "headers": {"content-type": "application/json"}}
    response = lf.lambda_handler(event, None)
    assert response["statusCode"] == 413 and response["body"].startswith("질문이 너무 깁니다")
