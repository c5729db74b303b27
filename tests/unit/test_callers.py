"""Who is asking: the principal from what API Gateway or the ALB wrote, and the client address the
client cannot choose. Pure functions over event shapes; no AWS."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genai import budget, callers, config, request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for alb_keys
from alb_keys import ALB_ARN, OTHER_ALB_ARN, KeyServer, Signer, elb_keys, unsigned

SUB = "6b0c2a6e-3c1f-4e8a-9d57-2f0d6c1e9a11"


def settings(**overrides: Any) -> config.Settings:
    base = config.Settings(db_cluster_arn="", db_secret_arn="", db_name="petclinic", model_id=config.DEFAULT_MODEL_ID,
                       inference_profile="auto", max_tool_rounds=4, max_output_tokens=1024)
    return base._replace(**overrides)


def rest(authorizer: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
         source_ip: str = "130.176.1.1", body: Any = None) -> dict[str, Any]:
    context: dict[str, Any] = {"apiId": "abc", "stage": "v1", "identity": {"sourceIp": source_ip}}
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {"httpMethod": "POST", "path": "/api/genai", "headers": headers or {}, "requestContext": context,
            "body": json.dumps(body if body is not None else {"question": "hi"})}


def http_v2(authorizer: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
            source_ip: str = "130.176.1.1") -> dict[str, Any]:
    context: dict[str, Any] = {"apiId": "abc", "http": {"method": "POST", "path": "/api/genai", "sourceIp": source_ip}}
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {"version": "2.0", "rawPath": "/api/genai", "headers": headers or {}, "requestContext": context,
            "body": '{"question": "hi"}'}


def alb(headers: dict[str, str]) -> dict[str, Any]:
    return {"httpMethod": "POST", "path": "/api/genai", "headers": headers,
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:..."}}, "body": "{}"}


def principal(event: dict[str, Any], **overrides: Any) -> callers.Principal | None:
    return callers.principal_of(event, request.describe_call(event), settings(**overrides))


def address(event: dict[str, Any], **overrides: Any) -> str | None:
    return callers.client_address(event, request.describe_call(event), settings(**overrides))


def alb_principal(headers: dict[str, str], **overrides: Any) -> callers.Principal | None:
    """The principal of an ALB request whose rule signs callers in (ALB_OIDC_AUTH with ALB_ARN)."""
    return principal(alb(headers), **{"alb_oidc_auth": True, "alb_arn": ALB_ARN, **overrides})


@pytest.fixture
def elb(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Signer, KeyServer]]:
    with elb_keys(monkeypatch) as found:
        yield found


# ------------------------------------------------------------------ principals


def test_rest_cognito_claims_give_the_sub_and_groups() -> None:
    found = principal(rest({"claims": {"sub": SUB, "email": "vet@example.com", "cognito:groups": "staff,admins"}}))
    assert found == callers.Principal("cognito", SUB, frozenset({"staff", "admins"}))
    assert found.label == "cognito:" + SUB  # the stable id: never the e-mail


def test_rest_lambda_authorizer_principal_id() -> None:
    assert principal(rest({"principalId": "user-42", "scope": "x"})) == callers.Principal("lambda", "user-42")


def test_an_email_as_principal_id_is_hashed_not_kept() -> None:
    found = principal(rest({"principalId": "jane@example.com"}))
    assert found is not None and found.kind == "lambda"
    assert "@" not in found.id and "jane" not in found.id and found.id.startswith("sha256:")


def test_http_v2_jwt_claims_and_iam() -> None:
    jwt = principal(http_v2({"jwt": {"claims": {"sub": SUB, "cognito:groups": "[staff vets]"}, "scopes": None}}))
    assert jwt == callers.Principal("jwt", SUB, frozenset({"staff", "vets"}))
    iam = principal(http_v2({"iam": {"userId": "AIDAEXAMPLE", "userArn": "arn:aws:iam::123456789012:user/jane"}}))
    assert iam == callers.Principal("iam", "AIDAEXAMPLE")


def test_alb_identity_headers_count_only_when_the_alb_authenticates(elb: tuple[Signer, KeyServer]) -> None:
    signer, _ = elb
    headers = {"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": signer.token({"sub": SUB, "cognito:groups": ["staff"]})}
    assert principal(alb(headers)) is None  # anyone can send these headers to an ALB without authentication
    assert alb_principal(headers) == callers.Principal("alb", SUB, frozenset({"staff"}))
    assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": "junk"}) is None


# ------------------------------------------------------------------ the ALB's signed x-amzn-oidc-data (issue 22, 7)


def test_a_properly_signed_token_signs_in_padded_or_not(elb: tuple[Signer, KeyServer]) -> None:
    signer, _ = elb
    for padded in (True, False):  # the ALB pads its segments with '='; the signature covers them as sent
        token = signer.token({"sub": SUB, "email": "vet@example.com"}, padded=padded)
        assert ("=" in token) is padded
        assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": token}) == callers.Principal("alb", SUB)


def test_a_forged_unsigned_oidc_data_is_anonymous(elb: tuple[Signer, KeyServer]) -> None:
    """A reviewer signed in, with any groups, by sending x-amzn-oidc-data without a real signature."""
    signer, server = elb
    forged = unsigned({"sub": SUB, "cognito:groups": ["admins"]})
    assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": forged}) is None
    # The ALB's header, a signature of the right length, but not the key's.
    real = signer.token({"sub": SUB})
    head, body, sig = real.split(".")
    other = Signer(signer.kid).token({"sub": SUB, "cognito:groups": ["admins"]})
    for token in (other, f"{head}.{other.split('.')[1]}.{sig}", f"{head}.{body}.{sig[:10]}"):
        assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": token}) is None
    assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": real}) == callers.Principal("alb", SUB)
    # Another algorithm in the header is refused whatever the rest says.
    assert alb_principal({"x-amzn-oidc-identity": SUB,
                          "x-amzn-oidc-data": signer.token({"sub": SUB}, alg="none")}) is None
    assert server.hits  # the key was asked for: the forgeries failed on the signature, not for want of a key


def test_a_token_signed_for_another_load_balancer_is_anonymous(elb: tuple[Signer, KeyServer]) -> None:
    signer, server = elb
    token = signer.token({"sub": SUB}, signer=OTHER_ALB_ARN)
    assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": token}) is None
    assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": signer.token({"sub": SUB})},
                         alb_arn=OTHER_ALB_ARN) is None
    assert server.hits == []  # refused before any key is fetched


def test_an_expired_token_is_anonymous(elb: tuple[Signer, KeyServer]) -> None:
    signer, _ = elb
    past = int(time.time()) - 5
    for token in (signer.token({"sub": SUB}, exp=past), signer.token({"sub": SUB, "exp": past}),
                  signer.token({"sub": SUB}, exp="never")):  # type: ignore[arg-type]
        assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": token}) is None


def test_a_sub_other_than_the_identity_header_is_anonymous(elb: tuple[Signer, KeyServer]) -> None:
    signer, _ = elb
    other = "11111111-2222-4333-8444-555555555555"
    assert alb_principal({"x-amzn-oidc-identity": other, "x-amzn-oidc-data": signer.token({"sub": SUB})}) is None
    assert alb_principal({"x-amzn-oidc-data": signer.token({"sub": SUB})}) is None  # no identity header at all
    assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": signer.token({"email": "a@b"})}) is None


def test_an_unknown_kid_or_a_failing_key_fetch_is_anonymous(elb: tuple[Signer, KeyServer]) -> None:
    signer, server = elb
    unknown = Signer("ffffffff-0000-4000-8000-000000000009")
    headers = {"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": unknown.token({"sub": SUB})}
    assert alb_principal(headers) is None and len(server.hits) == 1  # 404
    assert alb_principal(headers) is None and len(server.hits) == 1  # the failure is remembered for a while
    for kid in ("../../etc/passwd", "a/b", "x" * 200):  # never a path of the key host
        assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": signer.token({"sub": SUB}, kid=kid)}) \
            is None
    assert len(server.hits) == 1
    server.failing = True  # the key host is down (503)
    assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": signer.token({"sub": SUB})}) is None
    server.httpd.server_close()  # and then unreachable
    callers._alb_keys.clear()
    assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": signer.token({"sub": SUB})}) is None


def test_a_key_that_failed_is_asked_for_again_after_a_while(elb: tuple[Signer, KeyServer],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    signer, server = elb
    server.failing = True
    headers = {"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": signer.token({"sub": SUB})}
    assert alb_principal(headers) is None
    server.failing = False
    assert alb_principal(headers) is None and len(server.hits) == 1
    monkeypatch.setattr(callers, "KEY_RETRY_AFTER_S", 0.0)
    assert alb_principal(headers) == callers.Principal("alb", SUB) and len(server.hits) == 2


def test_the_key_is_fetched_once_for_many_requests(elb: tuple[Signer, KeyServer]) -> None:
    signer, server = elb
    for n in range(5):
        sub = f"{n}b0c2a6e-3c1f-4e8a-9d57-2f0d6c1e9a11"
        assert alb_principal({"x-amzn-oidc-identity": sub, "x-amzn-oidc-data": signer.token({"sub": sub})}) \
            == callers.Principal("alb", sub)
    assert server.hits == [f"/ap-northeast-2/{signer.kid}"]


def test_the_key_cache_is_bounded(elb: tuple[Signer, KeyServer], monkeypatch: pytest.MonkeyPatch) -> None:
    signer, _ = elb
    monkeypatch.setattr(callers, "MAX_ALB_KEYS", 3)
    assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": signer.token({"sub": SUB})})
    for n in range(10):  # unknown kids: failures make room for each other, never evicting the good key
        token = Signer(f"0000000{n}-0000-4000-8000-000000000000").token({"sub": SUB})
        assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": token}) is None
    assert len(callers._alb_keys) == 3 and callers._alb_keys[signer.kid][0] is not None


def test_no_key_fetch_without_time_left(elb: tuple[Signer, KeyServer]) -> None:
    signer, server = elb
    nearly_over = budget.Deadline(None, config.MODEL_CALL_RESERVE_MS)  # nothing left beyond the reserve
    bound = budget._DEADLINE.set(nearly_over)
    try:
        assert alb_principal({"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": signer.token({"sub": SUB})}) is None
    finally:
        budget._DEADLINE.reset(bound)
    assert server.hits == [] and callers._alb_keys == {}  # not remembered as a failure either


def test_the_govcloud_key_host() -> None:
    gov = "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/web/0123456789abcdef"
    base = callers.ELB_KEY_URLS[gov.split(":")[1]].format(region="us-gov-west-1")
    assert base == "https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1/"
    assert callers.ELB_KEY_URLS["aws"].format(region="ap-northeast-2") == \
        "https://public-keys.auth.elb.ap-northeast-2.amazonaws.com/"
    for arn in (gov, ALB_ARN):
        assert not [problem for problem in settings(alb_arn=arn, alb_oidc_auth=True).problems() if "ALB" in problem]


@pytest.mark.parametrize("event", [
    rest(),  # no authorizer
    rest({}),  # an empty one
    rest({"claims": {"email": "vet@example.com"}}),  # claims without a sub
    rest({"claims": {"sub": "has space"}}),
    http_v2({"lambda": {"sub": SUB}}),
    http_v2(),
])
def test_anonymous_shapes(event: dict[str, Any]) -> None:
    assert principal(event) is None


def test_forged_authorizer_fields_in_the_body_or_headers_are_ignored() -> None:
    forged = {"question": "hi", "requestContext": {"authorizer": {"claims": {"sub": SUB}}},
              "authorizer": {"principalId": "admin"}, "principal": "admin"}
    headers = {"x-amzn-oidc-identity": SUB, "x-amzn-oidc-data": unsigned({"sub": SUB}),
               "authorization": "Bearer forged", "x-principal-id": "admin"}
    assert principal(rest(body=forged, headers=headers)) is None
    assert principal(rest(body=forged, headers=headers), alb_oidc_auth=True) is None  # not an ALB event
    assert principal(http_v2(headers=headers)) is None


def test_a_direct_invoke_is_the_iam_authorised_operator() -> None:
    assert principal({"question": "hi"}) == callers.Principal("invoke", callers.DIRECT_PRINCIPAL)
    assert principal({"body": '{"question": "hi"}'}) == callers.Principal("invoke", callers.DIRECT_PRINCIPAL)  # make invoke


def test_who_may_write() -> None:
    staff = callers.Asker(callers.Principal("cognito", SUB, frozenset({"staff"})), "198.51.100.7")
    assert staff.may_write(settings()) and staff.may_write(settings(write_groups=frozenset({"staff"})))
    assert not staff.may_write(settings(write_groups=frozenset({"admins"})))
    assert not callers.Asker(None, "198.51.100.7").may_write(settings())
    operator = callers.Asker(callers.Principal("invoke", callers.DIRECT_PRINCIPAL), None)
    assert operator.may_write(settings()) and not operator.may_write(settings(write_groups=frozenset({"staff"})))


def test_the_limits_key_on_the_principal_else_the_address() -> None:
    assert callers.Asker(callers.Principal("jwt", SUB), "198.51.100.7").client_key == "principal:jwt:" + SUB
    assert callers.Asker(None, "198.51.100.7").client_key == "address:198.51.100.7"
    assert callers.Asker(None, None).client_key == "address:unknown"  # anonymous without an address: one shared key
    assert callers.Asker(callers.Principal("invoke", callers.DIRECT_PRINCIPAL), None).client_key is None


# ------------------------------------------------------------------ addresses


def test_cloudfront_viewer_address_wins() -> None:
    event = rest(headers={"CloudFront-Viewer-Address": "198.51.100.7:46532", "X-Forwarded-For": "1.2.3.4, 130.176.1.1"})
    assert address(event) == "198.51.100.7"
    assert address(event, client_address_source="forwarded") == "1.2.3.4"  # the hop CloudFront appended
    assert address(event, client_address_source="connection") == "130.176.1.1"


def test_a_spoofed_left_most_forwarded_for_is_not_the_client() -> None:
    # The client sent "X-Forwarded-For: 203.0.113.9"; CloudFront appended the viewer, API Gateway the edge.
    event = rest(headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7, 130.176.1.1"})
    assert address(event) == "198.51.100.7"
    assert address(rest(headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7"})) == "198.51.100.7"  # not appended
    event = rest(headers={"X-Forwarded-For": "10.0.0.1, 10.0.0.2, 198.51.100.7, 130.176.1.1"})
    assert address(event, trusted_proxy_hops=0) == "130.176.1.1"
    assert address(event, trusted_proxy_hops=2) == "10.0.0.2"


def test_fewer_hops_than_trusted_proxies_falls_back_to_the_nearest_peer() -> None:
    assert address(rest(headers={}, source_ip="198.51.100.7"), trusted_proxy_hops=2) == "198.51.100.7"


def test_http_v2_and_alb_equivalents() -> None:
    assert address(http_v2(headers={"x-forwarded-for": "203.0.113.9, 198.51.100.7"}, source_ip="130.176.1.1")) \
        == "198.51.100.7"
    # The ALB appends the address that connected to it; CloudFront in front appended the viewer's before it.
    assert address(alb({"x-forwarded-for": "203.0.113.9, 198.51.100.7, 130.176.1.1"})) == "198.51.100.7"
    assert address(alb({"x-forwarded-for": "203.0.113.9, 198.51.100.7"}), trusted_proxy_hops=0) == "198.51.100.7"


def test_multi_value_forwarded_for_is_read_from_its_last_line() -> None:
    """With multi-value headers on, a reviewer's own first X-Forwarded-For line became the client key:
    the ALB appends to the last line, so that line is the one read."""
    for rotating in range(3):
        event = {"httpMethod": "POST", "path": "/api/genai", "body": "{}",
                 "multiValueHeaders": {"x-forwarded-for": [f"10.9.8.{rotating}", "203.0.113.9, 198.51.100.7"]},
                 "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:..."}}}
        assert request.describe_call(event).source == "alb_multi"
        assert address(event, trusted_proxy_hops=0) == "198.51.100.7"
        assert address(event, trusted_proxy_hops=1) == "203.0.113.9"
    single = {**event, "multiValueHeaders": {"X-Forwarded-For": ["198.51.100.7"]}}
    assert address(single, trusted_proxy_hops=0) == "198.51.100.7"


def test_ipv6_clients_are_keyed_by_their_64_prefix() -> None:
    one = rest(headers={"cloudfront-viewer-address": "2001:db8:1:2:aaaa::1:443"})
    other = rest(headers={"cloudfront-viewer-address": "2001:db8:1:2:bbbb::9:443"})
    assert address(one) == address(other) == "2001:db8:1:2::/64"
    assert address(rest(headers={"cloudfront-viewer-address": "[::ffff:198.51.100.7]:80"})) == "198.51.100.7"


def test_garbage_addresses_fall_back_to_the_connection() -> None:
    event = rest(headers={"cloudfront-viewer-address": "not-an-ip", "x-forwarded-for": "<script>, also junk"},
                 source_ip="198.51.100.7")
    assert address(event) == "198.51.100.7"
    assert address({"question": "hi"}) is None  # a direct invoke has no client address


def test_a_padded_forwarded_for_is_read_from_the_right() -> None:
    """A reviewer escaped the limit by padding the left of X-Forwarded-For past a length cut: the
    entries the proxies appended were cut off and the client's own took their place."""
    for rotating in range(3):
        padding = "1.1.1.1," * 300 + " " * 500 + f"10.0.0.{rotating}"
        event = rest(headers={"X-Forwarded-For": padding + ", 198.51.100.7, 130.176.1.1"})
        assert address(event) == "198.51.100.7"
    event = rest(headers={"X-Forwarded-For": ",".join(["10.0.0.1"] * 20) + ", 198.51.100.7"})
    assert address(event, trusted_proxy_hops=5) == "10.0.0.1"  # many hops still read, from the right


def test_an_http_shaped_event_without_request_context_is_anonymous() -> None:
    """Only a direct invoke may lack requestContext; API Gateway's proxy integration and the ALB
    always write it, so a null one, or an HTTP request without one, is nobody's identity."""
    assert principal({**rest(), "requestContext": None}) is None
    without = {k: v for k, v in rest().items() if k != "requestContext"}
    assert principal(without) is None
    assert principal({"body": '{"question": "hi"}'}) == callers.Principal("invoke", callers.DIRECT_PRINCIPAL)  # seed payload
