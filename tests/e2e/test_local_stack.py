"""End to end: the real handler, real boto3 clients, local endpoints on 127.0.0.1, on SQLite and MariaDB."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import lambda_function as lf
from genai import config, tools
from local import run as local_run
from local.model_standin import LABEL


def ask(question: str, **event: Any) -> tuple[int, dict[str, Any]]:
    response = lf.lambda_handler(event or local_run.seed_event(question), local_run.FakeContext())
    return response["statusCode"], json.loads(response["body"])


def db_scalar(stack: dict[str, Any], sql: str) -> Any:
    cursor = stack["backend"].connection().cursor()
    cursor.execute(sql)
    return cursor.fetchone()[0]


def test_seed_question_in_korean_needs_one_model_call(local_stack: dict[str, Any]) -> None:
    status, body = ask("Coco라는 반려동물을 키우고 있는 사람은 누구야?")
    assert status == 200
    assert body["answer"].startswith(LABEL["ko"])
    assert "이서연" in body["answer"]
    assert body["usage"]["model_calls"] == 1
    assert body["model_id"] == "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert local_stack["standin"].requests[0]["model_id"] == body["model_id"]
    assert local_stack["data_api"].calls <= 3


def test_who_owns_leo(local_stack: dict[str, Any]) -> None:
    status, body = ask("Who owns Leo?")
    assert status == 200 and "George Franklin" in body["answer"]
    assert body["answer"].startswith(LABEL["en"])


def test_both_pets_named_lucky_are_reported(local_stack: dict[str, Any]) -> None:
    _, body = ask("Who owns Lucky?")
    assert "Jeff Black" in body["answer"] and "Carlos Estaban" in body["answer"]


def test_unknown_name_is_stated_not_invented(local_stack: dict[str, Any]) -> None:
    _, body = ask("Who owns Zorro?")
    assert 'no "Zorro"' in body["answer"] and "Latin" in body["answer"]


def test_per_type_counts_are_prefetched(local_stack: dict[str, Any]) -> None:
    status, body = ask("How many pets of each type are there?")
    dogs = db_scalar(local_stack, "SELECT COUNT(*) FROM pets p JOIN types t ON t.id = p.type_id WHERE t.name = 'dog'")
    assert status == 200 and body["usage"]["model_calls"] == 1
    assert f"dog {dogs}" in body["answer"]
    assert local_stack["data_api"].calls == 1  # only the counts statement: there are no names to look up


def test_question_without_names_goes_through_a_tool(local_stack: dict[str, Any]) -> None:
    status, body = ask("Which visits were the most recent?")
    assert status == 200 and body["usage"]["model_calls"] == 2
    latest = db_scalar(local_stack, "SELECT p.name FROM visits v JOIN pets p ON p.id = v.pet_id ORDER BY v.visit_date DESC LIMIT 1")
    assert body["answer"].startswith(LABEL["en"]) and latest in body["answer"]
    assert "{" not in body["answer"]  # sentences, not the tool's JSON


def test_http_api_v2_base64_event(local_stack: dict[str, Any]) -> None:
    payload = json.dumps({"question": "보리의 보호자는 누구야?"}, ensure_ascii=False).encode()
    status, body = ask("", version="2.0", requestContext={"http": {"method": "POST"}},
                       body=base64.b64encode(payload).decode(), isBase64Encoded=True)
    assert status == 200 and "김민준" in body["answer"]


@pytest.fixture
def settings_env(local_stack: dict[str, Any]) -> config.Settings:
    return config.settings_once()


def test_tools_run_on_the_engine(settings_env: config.Settings, local_stack: dict[str, Any]) -> None:
    madison = db_scalar(local_stack, "SELECT COUNT(*) FROM owners WHERE city = 'Madison'")
    owners = tools.tool_search_owners(settings_env, {"city": "madison"})
    assert owners["count"] == madison and not owners["truncated"]
    assert tools.tool_search_owners(settings_env, {"city": "Madison", "limit": 1})["truncated"] is True
    assert {o["last_name"] for o in tools.tool_search_owners(settings_env, {"name": "davis"})["owners"]} == {"Davis"}
    assert tools.tool_search_owners(settings_env, {"name": "김민준"})["owners"][0]["city"] == "부산"

    cats = tools.tool_search_pets(settings_env, {"type": "cat", "limit": 50})
    assert cats["count"] == db_scalar(local_stack, "SELECT COUNT(*) FROM pets WHERE type_id = 1")
    jean = tools.tool_search_pets(settings_env, {"owner_name": "Jean Coleman"})
    assert {p["name"] for p in jean["pets"]} == {"Samantha", "Max"}

    record = tools.tool_get_owner(settings_env, {"owner_id": jean["pets"][0]["owner_id"]})
    assert record["found"] and sum(len(p["visits"]) for p in record["pets"]) == 4
    assert tools.tool_get_owner(settings_env, {"owner_id": 999999})["found"] is False

    surgeons = tools.tool_list_vets(settings_env, {"specialty": "surgery"})
    assert {v["last_name"] for v in surgeons["vets"]} == {"Douglas", "Ortega", "박"}
    douglas = next(v for v in surgeons["vets"] if v["last_name"] == "Douglas")
    assert sorted(douglas["specialties"]) == ["dentistry", "surgery"]
    assert len(tools.tool_list_vets(settings_env, {"specialty": "none"})["vets"]) == 2

    visits = tools.tool_search_visits(settings_env, {"date_from": "2024-01-01", "date_to": "2025-12-31"})
    assert [v["visit_date"] for v in visits["visits"]] == ["2025-09-17", "2025-06-03", "2024-02-10"]
    assert tools.tool_search_visits(settings_env, {"pet_name": "Coco"})["count"] == 2


@pytest.mark.parametrize("metric", ["owners_per_city", "pets_per_type", "vets_per_specialty", "totals",
                                    "visits_in_period"])
def test_aggregates_run_on_the_engine(settings_env: config.Settings, local_stack: dict[str, Any], metric: str) -> None:
    result = tools.tool_aggregate(settings_env, {"metric": metric, "date_from": "2010-01-01", "date_to": "2011-12-31"})
    if metric == "totals":
        assert result["owners"] == db_scalar(local_stack, "SELECT COUNT(*) FROM owners")
    elif metric == "visits_in_period":
        assert result["visits"] == 2
    else:
        assert sum(g["count"] for g in result["groups"]) > 0


def test_bad_tool_dates_are_rejected(settings_env: config.Settings) -> None:
    with pytest.raises(tools.ToolInputError, match="YYYY-MM-DD"):
        tools.tool_search_visits(settings_env, {"date_from": "last tuesday"})


def test_local_data_api_speaks_the_protocol(local_stack: dict[str, Any]) -> None:
    rds = boto3.client("rds-data")
    arns = {"resourceArn": local_run.LOCAL_CLUSTER_ARN, "secretArn": local_run.LOCAL_SECRET_ARN}
    tx = rds.begin_transaction(**arns, database="petclinic")["transactionId"]
    rds.execute_statement(**arns, transactionId=tx, sql="INSERT INTO types (id, name) VALUES (:id, :name)",
                          parameters=[{"name": "id", "value": {"longValue": 99}},
                                      {"name": "name", "value": {"stringValue": "ferret"}}])
    rds.rollback_transaction(**arns, transactionId=tx)
    count = rds.execute_statement(**arns, sql="SELECT COUNT(*) AS n FROM types WHERE name = 'ferret'")
    assert count["records"] == [[{"longValue": 0}]]
    with pytest.raises(ClientError) as caught:
        rds.execute_statement(**arns, sql="SELECT nope FROM nowhere")
    assert caught.value.response["Error"]["Code"] == "DatabaseErrorException"
    with pytest.raises(ClientError) as caught:
        rds.execute_statement(resourceArn="petclinic-dev-cluster", secretArn="petclinic-secret-name", sql="SELECT 1")
    assert caught.value.response["Error"]["Code"] == "BadRequestException"


def test_language_hint_and_conversation_id(local_stack: dict[str, Any]) -> None:
    # Memory is off here: the body's id only names the per-conversation rate window, and comes back as sent.
    event = {"question": "Coco라는 반려동물을 키우고 있는 사람은 누구야?", "language": "en", "conversation_id": "chat-42"}
    response = lf.lambda_handler(event, local_run.FakeContext())
    status, body = response["statusCode"], json.loads(response["body"])
    assert status == 200
    assert body["answer"].startswith(LABEL["en"])  # the hint wins over the detected Korean
    assert body["conversation_id"] == "chat-42"


def test_debug_logs_of_a_good_answer_hold_no_question_and_no_sql_values(
    local_stack: dict[str, Any], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level("DEBUG", logger="petclinic_genai"):
        status, body = ask("Who owns Leopoldina or Coco?")
    assert status == 200 and "이서연" in body["answer"]
    assert any(record.levelname == "DEBUG" for record in caplog.records)  # DEBUG really was on
    logged = " ".join(str(vars(record)) for record in caplog.records) + capsys.readouterr().out
    for secret in ("Leopoldina", "Coco", "Who owns", "SELECT"):
        assert secret not in logged, secret


def test_the_metrics_line_is_emf_at_the_top_level(local_stack: dict[str, Any], capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "petclinic-genai-test")
    monkeypatch.setenv("METRICS_NAMESPACE", "Test/NS")
    ask("List some owners")  # nothing to prefetch: one tool round, two model calls
    ask("")  # a 400
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    ok, failed = lines[-2], lines[-1]
    directive = ok["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Test/NS" and directive["Dimensions"] == [["FunctionName"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"Questions", "ModelCalls", "InputTokens", "OutputTokens",
                                                          "ToolCalls", "AnswerLatency", "Errors", "RateLimited",
                                                          "LimiterErrors", "ModelIdFallbacks"}  # DailyTokens: limits table only
    assert ok["FunctionName"] == "petclinic-genai-test"
    assert (ok["Questions"], ok["ModelCalls"], ok["ToolCalls"], ok["Errors"]) == (1, 2, 1, 0)
    assert ok["InputTokens"] > 0 and ok["OutputTokens"] > 0 and ok["AnswerLatency"] > 0
    assert len(ok["_aws"]["CloudWatchMetrics"]) == 2 and "ErrorCode" not in ok
    # issue 21: the read scope the question was answered under (a direct invoke: "all"), one more dimension
    assert ok["ReadScope"] == "all" and ok["_aws"]["CloudWatchMetrics"][1]["Dimensions"] == [["FunctionName", "ReadScope"]]
    assert failed["Errors"] == 1 and failed["ErrorCode"] == "empty_question"
    assert failed["_aws"]["CloudWatchMetrics"][1]["Dimensions"] == [["FunctionName", "ErrorCode"]]


def test_no_metric_lines_off_lambda(local_stack: dict[str, Any], capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    ask("Who owns Leo?")
    assert "_aws" not in capsys.readouterr().out  # make run / chat / serve print answers, not metric lines


def _at_the_limit(tool: Any, settings: config.Settings, args: dict[str, Any], key: str, total: int) -> None:
    """limit = total: everything, not truncated; limit = total - 1: one short, truncated."""
    assert total >= 2
    exact = tool(settings, {**args, "limit": total})
    assert (len(exact[key]), exact["count"], exact["truncated"]) == (total, total, False)
    short = tool(settings, {**args, "limit": total - 1})
    assert (len(short[key]), short["count"], short["truncated"]) == (total - 1, total - 1, True)


def test_every_tool_reports_truncation_exactly_at_its_limit(settings_env: config.Settings, local_stack: dict[str, Any]) -> None:
    cats = db_scalar(local_stack, "SELECT COUNT(*) FROM pets p JOIN types t ON t.id = p.type_id WHERE t.name = 'cat'")
    _at_the_limit(tools.tool_search_pets, settings_env, {"type": "cat"}, "pets", cats)
    _at_the_limit(tools.tool_list_vets, settings_env, {}, "vets", db_scalar(local_stack, "SELECT COUNT(*) FROM vets"))
    _at_the_limit(tools.tool_search_visits, settings_env, {"pet_name": "Coco"}, "visits", 2)
    cities = db_scalar(local_stack, "SELECT COUNT(DISTINCT city) FROM owners")
    _at_the_limit(tools.tool_aggregate, settings_env, {"metric": "owners_per_city"}, "groups", cities)
    madison = db_scalar(local_stack, "SELECT COUNT(*) FROM owners WHERE city = 'Madison'")
    _at_the_limit(tools.tool_search_owners, settings_env, {"city": "Madison"}, "owners", madison)


def test_get_owner_reports_truncation_at_its_row_cap(settings_env: config.Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    jean = tools.tool_search_pets(settings_env, {"owner_name": "Jean Coleman"})["pets"][0]["owner_id"]  # 4 visit rows
    monkeypatch.setattr(tools, "OWNER_ROWS_CAP", 4)
    whole = tools.tool_get_owner(settings_env, {"owner_id": jean})
    assert not whole["truncated"] and sum(len(p["visits"]) for p in whole["pets"]) == 4
    monkeypatch.setattr(tools, "OWNER_ROWS_CAP", 3)
    cut = tools.tool_get_owner(settings_env, {"owner_id": jean})
    assert cut["truncated"] and sum(len(p["visits"]) for p in cut["pets"]) == 3


def test_date_ranges_include_both_ends(settings_env: config.Settings) -> None:
    both = {"date_from": "2010-03-04", "date_to": "2011-03-04"}  # the two visits fall exactly on the bounds
    assert [v["visit_date"] for v in tools.tool_search_visits(settings_env, both)["visits"]] == ["2011-03-04", "2010-03-04"]
    assert tools.tool_aggregate(settings_env, {"metric": "visits_in_period", **both})["visits"] == 2
    inside = {"date_from": "2010-03-05", "date_to": "2011-03-03"}
    assert tools.tool_search_visits(settings_env, inside)["count"] == 0
    assert tools.tool_aggregate(settings_env, {"metric": "visits_in_period", **inside})["visits"] == 0


def test_a_regional_language_tag_answers_in_that_language(local_stack: dict[str, Any]) -> None:
    response = lf.lambda_handler({"question": "Who owns Leo?", "language": "ko-KR"}, local_run.FakeContext())
    assert json.loads(response["body"])["answer"].startswith(LABEL["ko"])


@pytest.mark.parametrize("question, language, expected, absent", [
    ("Hello", "en", "Hello!", "{"),
    ("안녕하세요", "ko", "안녕하세요!", "{"),
    ("What's the weather in Seoul tomorrow?", "en", "only answer questions about the clinic", "{"),
    ("내일 서울 날씨 어때?", "ko", "병원 데이터", "{"),
    ("보리의 보호자는 누구야?", "ko", "보호자는 김민준 님입니다", "belongs to"),
    ("2024년에 방문은 몇 건이야?", "ko", "2024-01-01부터 2024-12-31까지 방문은 1건입니다", "visits 8"),
    ("작년에 방문은 몇 건이야?", "ko", "상대적인 기간을 계산하지 못합니다", "8"),
])
def test_standin_answers_honestly_in_the_askers_language(local_stack: dict[str, Any], question: str, language: str,
                                                         expected: str, absent: str) -> None:
    status, body = ask(question)
    assert status == 200
    assert body["answer"].startswith(LABEL[language]) and expected in body["answer"], body["answer"]
    assert absent not in body["answer"]
