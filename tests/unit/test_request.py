"""Request parsing and the response envelope: pure functions, no AWS."""

from __future__ import annotations

import base64
import json

import pytest

import lambda_function as lf

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
    assert lf.event_source(event) == source
    question = lf.parse_request(event)
    assert question.text == QUESTION
    assert question.language == "ko"


def test_optional_fields_are_kept() -> None:
    question = lf.parse_request({"question": "Who owns Leo?", "language": "ko-KR", "conversation_id": "abc-1"})
    assert (question.language, question.conversation_id) == ("ko-kr", "abc-1")
    assert lf.parse_request({"question": "Who owns Leo?"}).language == "en"


@pytest.mark.parametrize(
    "event, status, code",
    [
        ({}, 400, "missing_question"),
        ({"question": "   "}, 400, "empty_question"),
        ({"question": 42}, 400, "invalid_question"),
        ({"question": "x" * (lf.MAX_QUESTION_CHARS + 1)}, 413, "question_too_long"),
        ({"body": "{not json"}, 400, "invalid_json"),
        ({"body": "[1, 2]"}, 400, "invalid_body"),
        ({"body": "!!!", "isBase64Encoded": True}, 400, "invalid_body"),
        ({"body": "x" * (lf.MAX_BODY_BYTES + 10)}, 413, "payload_too_large"),
        ({"question": "hi", "language": "korean language"}, 400, "invalid_language"),
        ({"question": "hi", "conversation_id": "has spaces"}, 400, "invalid_conversation_id"),
        ("just a string", 400, "invalid_request"),
    ],
)
def test_bad_requests_name_the_problem(event: object, status: int, code: str) -> None:
    with pytest.raises(lf.AppError) as caught:
        lf.parse_request(event)
    assert (int(caught.value.status), caught.value.code) == (status, code)


def test_question_at_the_limit_is_accepted() -> None:
    assert len(lf.parse_request({"question": "x" * lf.MAX_QUESTION_CHARS}).text) == lf.MAX_QUESTION_CHARS


def test_error_response_is_an_api_gateway_envelope_without_internals() -> None:
    response = lf._error_response(lf.ServiceUnavailable(code="database_unavailable"), "req-1", "alb")
    assert response["statusCode"] == 503
    assert response["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert response["headers"]["Retry-After"] == "10"
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["statusDescription"] == "503 Service Unavailable"
    body = json.loads(response["body"])
    assert body["error"]["code"] == "database_unavailable"
    assert body["request_id"] == "req-1"


def test_korean_is_kept_readable_in_the_body() -> None:
    response = lf.respond(200, {"answer": "이서연 님입니다"}, "rest_v1")
    assert "이서연" in response["body"]
    assert response["headers"]["Cache-Control"] == "no-store"  # answers hold personal data: never cached
    assert "statusDescription" not in response


def test_handler_answers_bad_input_with_400_before_touching_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lf, "client", lambda service: pytest.fail("no AWS call expected"))
    response = lf.lambda_handler({"body": "{}"}, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "missing_question"


def test_alb_with_multi_value_headers_gets_them_back() -> None:
    event = {"requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:x"}}, "httpMethod": "POST",
             "multiValueHeaders": {"content-type": ["application/json"]}, "body": _body(""), "isBase64Encoded": False}
    assert lf.event_source(event) == "alb_multi"
    response = lf.lambda_handler(event, None)
    assert response["statusCode"] == 400 and "headers" not in response
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json; charset=utf-8"]
    assert response["statusDescription"] == "400 Bad Request"
