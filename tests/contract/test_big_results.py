"""Issue 20's sibling defect: the Data API never sends a result over 1 MiB, so a well-formed body of
~1.5 MB (rows with the columns the prefetch asks for) is a bad response: 502 on the prefetch path,
an error toolResult (database_bad_response) on the tool path; never 500 internal_error."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

import lambda_function as lf
from genai import clients, config, dataapi, tools, toolset

PET_COLUMNS = ("matched_by", "pet_id", "pet", "birth_date", "type", "first_name", "last_name", "city", "address",
               "telephone", "visit_date", "description")


def _big_body(rows: int = 4000) -> dict:
    record = [{"stringValue": "name"}, {"longValue": 1}, {"stringValue": "Leo"}, {"stringValue": "2020-01-01"},
              {"stringValue": "cat"}, {"stringValue": "George"}, {"stringValue": "Franklin"}, {"stringValue": "Madison"},
              {"stringValue": "110 W. Liberty St."}, {"stringValue": "6085551023"}, {"stringValue": "2024-01-01"},
              {"stringValue": "rabies shot, annual checkup and a dental cleaning"}]
    return {"columnMetadata": [{"name": c, "label": c} for c in PET_COLUMNS], "records": [record] * rows}


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, settings: config.Settings) -> Stubber:
    monkeypatch.setattr(config, "_settings", settings)
    monkeypatch.setattr(clients, "run_concurrently", lambda calls: [call() for call in calls])  # Stubber: one at a time
    rds = boto3.client("rds-data", region_name="ap-northeast-2", endpoint_url="http://127.0.0.1:9")
    real = clients.client
    monkeypatch.setattr(clients, "client", lambda service, budget_s=0.0: rds if service == "rds-data" else real(service))
    return Stubber(rds)


def test_the_body_is_about_one_and_a_half_megabytes() -> None:
    assert 1.3e6 < len(json.dumps(_big_body())) < 1.8e6


def test_a_result_over_one_mib_answers_502_on_the_prefetch(stub: Stubber) -> None:
    for _ in range(4):
        stub.add_response("execute_statement", _big_body())
    with stub:
        response = lf.lambda_handler({"question": "Who owns Leo?"}, None)
    assert response["statusCode"] == 502, response["body"]
    assert json.loads(response["body"])["error"]["code"] == "database_bad_response"


def test_a_result_over_one_mib_is_a_bad_response_on_the_tool_path(stub: Stubber, settings: config.Settings) -> None:
    stub.add_response("execute_statement", _big_body())
    token = tools._READ_SCOPE.set("all")
    try:
        with stub:
            result = toolset.run_tool(settings, {"toolUseId": "t1", "name": "search_visits", "input": {"pet_name": "Leo"}})
    finally:
        tools._READ_SCOPE.reset(token)
    assert result["toolResult"]["status"] == "error"
    assert "database_bad_response" in result["toolResult"]["content"][0]["text"]


def test_a_result_just_under_the_limit_is_decoded() -> None:
    body = _big_body(2000)
    assert dataapi._result_bytes(body) < dataapi.RESULT_LIMIT
    assert len(dataapi.decode_records(body)) == 2000
    headers = {"ResponseMetadata": {"HTTPHeaders": {"content-length": str(dataapi.RESULT_LIMIT + 1)}}}
    with pytest.raises(dataapi.DataError):
        dataapi.decode_records({**body, **headers})
