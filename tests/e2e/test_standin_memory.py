"""The offline stand-in uses the conversation history the handler gives it (memory on: moto's
DynamoDB server), honestly labelled, in the asker's language; without history it behaves as before."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import lambda_function as lf
from genai import clients, config
from local import run as local_run
from local.model_standin import LABEL


@pytest.fixture
def memory_stack() -> Iterator[dict[str, Any]]:
    with local_run.local_endpoints(None, memory=True) as stack:
        clients._clients.clear()
        config._settings = None
        yield stack
    clients._clients.clear()
    config._settings = None


def ask(question: str, conversation_id: str | None) -> str:
    event: dict[str, Any] = {"question": question}
    if conversation_id:
        event["conversation_id"] = conversation_id
    response = lf.lambda_handler(event, local_run.FakeContext())
    assert response["statusCode"] == 200, response["body"]
    return json.loads(response["body"])["answer"]


@pytest.mark.parametrize(("first", "follow_up", "language", "expected"), [
    ("Who owns Coco?", "Where does she live?", "en", "From earlier in this conversation: "),
    ("Coco의 보호자는 누구야?", "그 사람 전화번호는?", "ko", "앞선 대화에서 답한 내용입니다: "),
    ("Who owns Leo?", "Which pets does he have?", "en", "From earlier in this conversation: "),
])
def test_follow_up_is_answered_from_the_earlier_turn(memory_stack: dict[str, Any], first: str, follow_up: str,
                                                     language: str, expected: str) -> None:
    conversation_id = local_run.signed_conversation_id(uuid.uuid4().hex)
    earlier = ask(first, conversation_id)
    requests_before = len(memory_stack["standin"].requests)
    answer = ask(follow_up, conversation_id)
    assert answer.startswith(LABEL[language] + expected)  # still says it is not Claude, in the asker's language
    assert answer.endswith(earlier.removeprefix(LABEL[language]))  # the earlier answer, without its label
    assert answer.count(LABEL[language]) == 1
    assert len(memory_stack["standin"].requests) == requests_before + 1  # no tool round


def test_a_third_turn_does_not_nest_the_prefix(memory_stack: dict[str, Any]) -> None:
    conversation_id = local_run.signed_conversation_id(uuid.uuid4().hex)
    ask("Who owns Coco?", conversation_id)
    ask("Where does she live?", conversation_id)
    answer = ask("What is her phone number?", conversation_id)
    assert answer.count("From earlier in this conversation") == 1 and "01023456789" in answer


def test_without_history_the_follow_up_is_not_answered_from_nothing(memory_stack: dict[str, Any]) -> None:
    answer = ask("Where does she live?", None)  # stateless: no history to use
    assert "From earlier" not in answer and answer.startswith(LABEL["en"] + "Sorry")


def test_questions_with_facts_or_greetings_keep_their_answers(memory_stack: dict[str, Any]) -> None:
    conversation_id = local_run.signed_conversation_id(uuid.uuid4().hex)
    ask("Who owns Coco?", conversation_id)
    assert "George Franklin" in ask("Who owns Leo?", conversation_id)  # its own facts, not the earlier answer
    assert ask("Hello", conversation_id).startswith(LABEL["en"] + "Hello!")
