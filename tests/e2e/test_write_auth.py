"""Writes only for an authenticated principal, in the REST v1, HTTP API v2 and ALB shapes, end to end
through the local endpoints (SQLite, moto's DynamoDB, the stand-in's demo grammar for proposals).
The ALB's x-amzn-oidc-data is signed with a test key that a loopback server publishes by kid."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lambda_function as lf
from genai import clients, config
from local import run as local_run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for alb_keys
from alb_keys import ALB_ARN, OTHER_ALB_ARN, Signer, elb_keys, unsigned

ADD_PET = "add pet: owner 6, name Bella, type cat, born 2024-03-01"
STAFF = "0f5a7c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
OTHER = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"
SIGNER = Signer()  # the ELB's key in these tests


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with local_run.local_endpoints(None, memory=True) as endpoints, elb_keys(monkeypatch) as (_, keys):
        keys.publish(SIGNER)
        monkeypatch.setenv("WRITES_ENABLED", "true")
        monkeypatch.setenv("ALB_ARN", ALB_ARN)
        clients._clients.clear()
        config._settings = None
        yield {**endpoints, "keys": keys}


def rest(question: str, conversation: str, sub: str | None = None, groups: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"apiId": "local", "stage": "v1", "identity": {"sourceIp": "198.51.100.7"}}
    if sub:
        context["authorizer"] = {"claims": {"sub": sub, "email": "vet@example.com",
                                            **({"cognito:groups": groups} if groups else {})}}
    return {"httpMethod": "POST", "path": "/api/genai", "headers": {"Content-Type": "application/json"},
            "requestContext": context, "body": json.dumps({"question": question, "conversation_id": local_run.signed_conversation_id(conversation)})}


def http_v2(question: str, conversation: str, sub: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"apiId": "local", "http": {"method": "POST", "path": "/api/genai",
                                                          "sourceIp": "198.51.100.7"}}
    if sub:
        context["authorizer"] = {"jwt": {"claims": {"sub": sub}, "scopes": None}}
    return {"version": "2.0", "rawPath": "/api/genai", "headers": {"content-type": "application/json"},
            "requestContext": context, "body": json.dumps({"question": question, "conversation_id": local_run.signed_conversation_id(conversation)})}


def alb(question: str, conversation: str, sub: str | None = None, data: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json", "x-forwarded-for": "198.51.100.7, 130.176.1.1"}
    if sub:
        headers.update({"x-amzn-oidc-identity": sub, "x-amzn-oidc-data": data or oidc_data({"sub": sub})})
    return {"httpMethod": "POST", "path": "/api/genai", "headers": headers, "isBase64Encoded": False,
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:ap-northeast-2:1:tg/x/y"}},
            "body": json.dumps({"question": question, "conversation_id": local_run.signed_conversation_id(conversation)})}


def oidc_data(claims: dict[str, Any]) -> str:
    """The ALB's x-amzn-oidc-data: an ES256 JWT signed by the ELB's key (SIGNER), its header naming the kid and
    this load balancer as signer, its segments padded as the ALB pads them."""
    return SIGNER.token(claims)


SHAPES = {"rest_v1": rest, "http_v2": http_v2, "alb": alb}


def ask(event: dict[str, Any]) -> str:
    response = lf.lambda_handler(event, local_run.FakeContext())
    assert response["statusCode"] == 200, response["body"]
    return json.loads(response["body"])["answer"]


def pets(stack: dict[str, Any]) -> int:
    cursor = stack["backend"].connection().cursor()
    cursor.execute("SELECT COUNT(*) FROM pets WHERE name = 'Bella'")
    return cursor.fetchone()[0]


def offered_write_tools(stack: dict[str, Any]) -> set[str]:
    return {name for request in stack["standin"].requests for name in request["tools"] if name.startswith("propose_")}


@pytest.mark.parametrize("shape", SHAPES)
def test_anonymous_callers_never_see_a_write_tool_and_yes_writes_nothing(stack: dict[str, Any], shape: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALB_OIDC_AUTH", "true")
    make = SHAPES[shape]
    ask(make(ADD_PET, "anon-1"))
    ask(make("yes", "anon-1"))
    assert offered_write_tools(stack) == set() and pets(stack) == 0


@pytest.mark.parametrize("shape", SHAPES)
def test_an_authenticated_principal_proposes_and_confirms(stack: dict[str, Any], shape: str,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ALB_OIDC_AUTH", "true")
    make = SHAPES[shape]
    assert "Nothing is saved yet" in ask(make(ADD_PET, "staff-1", STAFF))
    with caplog.at_level(logging.INFO, logger="petclinic_genai"):
        assert ask(make("yes", "staff-1", STAFF)).startswith("Done:")
    assert pets(stack) == 1
    audit = next(r.audit for r in caplog.records if r.getMessage() == "audit")
    assert audit["principal"].endswith(":" + STAFF) and "vet@example.com" not in caplog.text
    assert audit["read_scope"] == "all"  # signed-in staff read everything, whatever ANONYMOUS_READ_SCOPE says


FORGERIES = {
    "unsigned": lambda: unsigned({"sub": STAFF, "cognito:groups": ["admins"]}),  # what used to sign anyone in
    "another key": lambda: Signer(SIGNER.kid).token({"sub": STAFF}),
    "another load balancer": lambda: SIGNER.token({"sub": STAFF}, signer=OTHER_ALB_ARN),
    "expired": lambda: SIGNER.token({"sub": STAFF}, exp=int(time.time()) - 1),
    "sub is not the identity": lambda: SIGNER.token({"sub": OTHER}),
    "unknown kid": lambda: Signer("0badc0de-0000-4000-8000-000000000000").token({"sub": STAFF}),
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_an_alb_sign_in_that_does_not_verify_is_anonymous(stack: dict[str, Any], forgery: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22, finding 7: x-amzn-oidc-data was trusted unsigned. Whatever does not verify is an
    anonymous caller: answered, offered no write tool, and its "yes" writes nothing."""
    monkeypatch.setenv("ALB_OIDC_AUTH", "true")
    data = FORGERIES[forgery]()
    ask(alb(ADD_PET, "forged-1", STAFF, data))
    ask(alb("yes", "forged-1", STAFF, data))
    assert offered_write_tools(stack) == set() and pets(stack) == 0


def test_the_elb_key_is_fetched_once_for_many_requests(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALB_OIDC_AUTH", "true")
    assert "Nothing is saved yet" in ask(alb(ADD_PET, "once-1", STAFF))
    for n in range(3):
        ask(alb(f"Who owns Leo? ({n})", f"once-{n + 2}", OTHER))
    assert ask(alb("yes", "once-1", STAFF)).startswith("Done:")
    assert stack["keys"].hits == [f"/ap-northeast-2/{SIGNER.kid}"]


def test_the_elb_key_host_down_means_anonymous_not_an_error(stack: dict[str, Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALB_OIDC_AUTH", "true")
    stack["keys"].failing = True
    ask(alb(ADD_PET, "down-1", STAFF))  # answered (200), as an anonymous caller
    assert offered_write_tools(stack) == set() and pets(stack) == 0


def test_alb_identity_headers_without_alb_authentication_are_anonymous(stack: dict[str, Any]) -> None:
    ask(alb(ADD_PET, "alb-1", STAFF))  # ALB_OIDC_AUTH is off: anyone could have sent these headers
    ask(alb("yes", "alb-1", STAFF))
    assert offered_write_tools(stack) == set() and pets(stack) == 0


def test_a_yes_from_another_principal_never_commits(stack: dict[str, Any]) -> None:
    ask(rest(ADD_PET, "shared-1", STAFF))
    assert ask(rest("yes", "shared-1", OTHER)).startswith("Only the person who proposed this change")
    assert ask(rest("yes", "shared-1")) != "" and pets(stack) == 0  # nor from an anonymous caller
    # Their turns are not the proposer's: the proposal is still the one just before STAFF's next turn
    # (a reviewer found a stranger's "yes" silently made it stale).
    assert ask(rest("yes", "shared-1", STAFF)).startswith("Done:")
    assert pets(stack) == 1
    ask(rest(ADD_PET.replace("Bella", "Coco"), "shared-2", STAFF))
    ask(rest("Who owns Leo?", "shared-2", STAFF))  # the proposer's own next turn asks something else
    assert ask(rest("yes", "shared-2", STAFF)).startswith("There is nothing waiting")


def test_write_groups_restrict_writes_to_named_groups(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRITE_GROUPS", "front-desk,vets")
    config._settings = None
    ask(rest(ADD_PET, "g-1", STAFF, groups="readers"))
    ask(rest("yes", "g-1", STAFF, groups="readers"))
    assert offered_write_tools(stack) == set() and pets(stack) == 0
    ask(rest(ADD_PET, "g-2", STAFF, groups="[readers front-desk]"))
    assert ask(rest("yes", "g-2", STAFF, groups="[readers front-desk]")).startswith("Done:")
    assert pets(stack) == 1
    ask({"question": ADD_PET, "conversation_id": local_run.signed_conversation_id("g-3")})  # a direct invoke carries no groups
    assert "Nothing is saved yet" not in ask({"question": "yes", "conversation_id": local_run.signed_conversation_id("g-3")})  # just a question
    assert pets(stack) == 1


def test_a_signed_in_callers_turns_are_not_shown_to_anyone_else(stack: dict[str, Any]) -> None:
    """A reviewer read staff's earlier question ("the door code is 4711") by asking anonymously in the
    same conversation: a signed-in principal's turns now carry its (hashed) id and go to it alone."""
    ask(rest("Who owns Leo? The door code is 4711.", "mixed-1", STAFF))
    ask(rest("Where does she live?", "mixed-1"))  # anonymous, same conversation id
    ask(rest("And Basil?", "mixed-1", OTHER))  # another principal
    anonymous, other = stack["standin"].requests[-2]["messages"], stack["standin"].requests[-1]["messages"]
    assert "4711" not in json.dumps(anonymous) and "4711" not in json.dumps(other)
    assert len(other) == 1  # the anonymous turn is not OTHER's either
    ask(rest("Where does she live?", "mixed-1", STAFF))
    assert "4711" in json.dumps(stack["standin"].requests[-1]["messages"])  # staff's own history


def test_a_flood_of_other_callers_turns_cannot_make_staffs_proposal_stale(stack: dict[str, Any]) -> None:
    """An attacker found that eight turns by anyone who knew the conversation id pushed the proposer's
    own turn out of the lookback: staff's "yes" then found nothing waiting. The proposer's turns are
    read under their own key prefix now, however many others there are."""
    ask(rest(ADD_PET, "flood-1", STAFF))
    for n in range(12):
        ask(rest(f"Who owns Leo? ({n})", "flood-1"))  # anonymous, same conversation
    assert ask(rest("yes", "flood-1", STAFF)).startswith("Done:")
    assert pets(stack) == 1


def test_the_operators_turns_are_given_back_to_the_operator_only(stack: dict[str, Any]) -> None:
    """Direct invokes (the IAM-authorised operator) carried no asker, so an anonymous caller with the
    same conversation id read and extended the operator's conversation."""
    conversation = local_run.signed_conversation_id("operator-1")
    ask({"question": "Who owns Leo? The alarm code is 9090.", "conversation_id": conversation})
    ask(rest("Where does she live?", "operator-1"))  # anonymous, same conversation id
    assert "9090" not in json.dumps(stack["standin"].requests[-1]["messages"])
    ask({"question": "And her phone?", "conversation_id": conversation})  # the operator again: its own history
    operator_history = json.dumps(stack["standin"].requests[-1]["messages"], ensure_ascii=False)
    assert "9090" in operator_history and "Where does she live?" not in operator_history


def test_anonymous_callers_at_other_addresses_do_not_read_each_others_turns(stack: dict[str, Any]) -> None:
    """A reviewer posted another visitor's conversation id (it is in the JSON body a page script can
    read) from a second address and got that visitor's history: anonymous turns now belong to the
    (hashed) client address that asked them."""
    ask(rest("Who owns Leo? My locker code is 5151.", "visitor-1"))
    other = rest("And who else?", "visitor-1")
    other["requestContext"]["identity"]["sourceIp"] = "203.0.113.77"
    ask(other)
    assert "5151" not in json.dumps(stack["standin"].requests[-1]["messages"])
    ask(rest("Where does he live?", "visitor-1"))  # the first visitor again: its own history
    assert "5151" in json.dumps(stack["standin"].requests[-1]["messages"])
