"""The Data API contract: typed parameters out, every Field kind decoded in (moto + Stubber)."""

from __future__ import annotations

import json
from datetime import date

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto import mock_aws

import lambda_function as lf
from genai import clients, config, dataapi, facts, understanding

ALL_KINDS = {
    "columnMetadata": [{"name": n, "label": n} for n in ("s", "l", "d", "b", "n", "blob", "arr", "nested")],
    "records": [[
        {"stringValue": "Coco"},
        {"longValue": 42},
        {"doubleValue": 1.5},
        {"booleanValue": True},
        {"isNull": True},
        {"blobValue": "AAEC"},
        {"arrayValue": {"stringValues": ["a", "b"]}},
        {"arrayValue": {"arrayValues": [{"longValues": [1, 2]}, {"booleanValues": [False]}]}},
    ]],
    "numberOfRecordsUpdated": 0,
}


@mock_aws
def test_every_field_kind_is_decoded(settings: config.Settings) -> None:
    queued = {"region": "ap-northeast-2", "results": [ALL_KINDS]}
    assert requests.post("http://motoapi.amazonaws.com/moto-api/static/rds-data/statement-results",
                         json=queued, timeout=5).status_code == 201
    rows = dataapi._execute(settings, "SELECT 1", {})
    assert rows == [{"s": "Coco", "l": 42, "d": 1.5, "b": True, "n": None, "blob": "AAEC",
                     "arr": ["a", "b"], "nested": [[1, 2], [False]]}]


@mock_aws
def test_empty_result_is_an_empty_list(settings: config.Settings) -> None:
    assert dataapi._execute(settings, "SELECT name FROM pets WHERE name = :n", {"n": "nobody"}) == []


def _stubbed_rds(monkeypatch: pytest.MonkeyPatch) -> tuple[object, Stubber]:
    # Anything the Stubber does not answer goes to a dead loopback port, never to AWS.
    rds = boto3.client("rds-data", region_name="ap-northeast-2", endpoint_url="http://127.0.0.1:9")
    real = clients.client
    monkeypatch.setattr(clients, "client", lambda service, budget_s=0.0: rds if service == "rds-data" else real(service))
    return rds, Stubber(rds)


def test_parameters_are_named_and_typed(settings: config.Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _, stub = _stubbed_rds(monkeypatch)
    stub.add_response(
        "execute_statement",
        {"records": [], "columnMetadata": []},
        {
            "resourceArn": settings.db_cluster_arn, "secretArn": settings.db_secret_arn, "database": "petclinic",
            "sql": "SELECT :s, :l, :d, :b, :n, :day", "includeResultMetadata": True,
            "parameters": [
                {"name": "s", "value": {"stringValue": "Leo"}},
                {"name": "l", "value": {"longValue": 7}},
                {"name": "d", "value": {"doubleValue": 0.5}},
                {"name": "b", "value": {"booleanValue": False}},
                {"name": "n", "value": {"isNull": True}},
                {"name": "day", "value": {"stringValue": "2024-02-10"}, "typeHint": "DATE"},
            ],
        },
    )
    with stub:
        dataapi._execute(settings, "SELECT :s, :l, :d, :b, :n, :day",
                    {"s": "Leo", "l": 7, "d": 0.5, "b": False, "n": None, "day": date(2024, 2, 10)})
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    "code, status, expected",
    [
        ("DatabaseResumingException", 503, "database_unavailable"),
        ("StatementTimeoutException", 504, "database_timeout"),
        ("BadRequestException", 502, "database_error"),
        ("ForbiddenException", 502, "database_error"),
        ("ThrottlingException", 429, "database_throttled"),
    ],
)
def test_data_api_errors_become_statuses_without_internals(
    monkeypatch: pytest.MonkeyPatch, settings: config.Settings, code: str, status: int, expected: str
) -> None:
    monkeypatch.setattr(config, "_settings", settings)
    # The Stubber is not thread-safe: run the prefetch's statements one after another here.
    monkeypatch.setattr(clients, "run_concurrently", lambda calls: [call() for call in calls])
    _, stub = _stubbed_rds(monkeypatch)
    secret_text = f"{settings.db_cluster_arn} SELECT secret FROM owners"
    for _ in range(3):  # the prefetch runs up to three statements side by side
        stub.add_client_error("execute_statement", code, secret_text, http_status_code=400)
    with stub:
        response = lf.lambda_handler({"question": "Who owns Leo?"}, None)
    assert response["statusCode"] == status
    body = json.loads(response["body"])
    assert body["error"]["code"] == expected
    assert "arn:" not in response["body"] and "SELECT" not in response["body"]


def test_placeholders_never_inline_values() -> None:
    sql, params = dataapi.placeholders("n", ["Leo", "x'); DROP TABLE pets; --"])
    assert sql == ":n0, :n1"
    assert params == {"n0": "Leo", "n1": "x'); DROP TABLE pets; --"}


def test_prefetch_makes_at_most_three_statements(settings: config.Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts the statements prefetch really executes (not the list it builds), for a question that
    asks for everything the prefetch can look up at once: names, a city, a period, per-city counts, vets."""
    executed: list[tuple[str, dict]] = []
    monkeypatch.setattr(dataapi, "_execute", lambda _settings, sql, params=None, transaction_id=None:
                        executed.append((sql, params or {})) or [])
    names = understanding.extract_names("Is George a pet, an owner or a vet in Madison? How many visits per city in 2024?")
    assert names.period and names.aggregates and names.vets
    facts.prefetch(settings, names, "all")
    # three side by side; nothing matched George (the stub finds nothing), so one more: the typo pass
    assert len(executed) == 4
    assert "CHAR_LENGTH" in executed[-1][0] and executed[-1][1]["fz0"] == "g%"
    for sql, params in executed[:3]:
        assert "George" not in sql and "Madison" not in sql
        assert "George" in params.values()
    executed.clear()
    monkeypatch.setattr(dataapi, "_execute", lambda _settings, sql, params=None, transaction_id=None:
                        executed.append((sql, params or {})) or
                        ([{"kind": "pets named", "name": "George", "n": 1}, {"kind": "owners in city", "name": "Madison", "n": 1}]
                         if "'pets named'" in sql else []))
    facts.prefetch(settings, names, "all")
    assert len(executed) == 3  # an exact match: no typo pass
