"""A generated clinic of a few thousand owners, on SQLite and MariaDB: common names stay bounded,
and the lookup statements use the indexes (EXPLAIN)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest

import lambda_function as lf
from genai import clients, config, facts, tools, understanding
from local import dataapi
from local import run as local_run

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import generate

OWNERS = 3000


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def clinic(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('clinic') / 'clinic.sqlite'}"
    url = request.getfixturevalue("mysql_url") if request.param == "mariadb" else sqlite_url
    generate.load(dataapi.backend_from_url(url), OWNERS, replace=True)  # a private database
    with local_run.local_endpoints(url, load=False) as stack:
        yield {**stack, "engine": request.param}


@pytest.fixture
def settings(clinic: dict[str, Any]) -> config.Settings:
    clients._clients.clear()
    config._settings = None
    return config.settings_once()


def scalar(clinic: dict[str, Any], sql: str) -> Any:
    cursor = clinic["backend"].connection().cursor()
    cursor.execute(sql)
    return cursor.fetchone()[0]


def test_a_common_pet_name_is_counted_and_only_a_few_detailed(clinic: dict[str, Any], settings: config.Settings) -> None:
    total = scalar(clinic, "SELECT COUNT(*) FROM pets WHERE name = 'Max'")
    assert total > facts.PREFETCH_ENTITIES  # the data makes "Max" common
    found = facts.prefetch(settings, understanding.extract_names("Who owns Max?"), "all")
    assert {"what": "pets named", "name": "Max", "count": total} in found.doc["counts"]
    assert [pet["name"] for pet in found.doc["pets"]] == ["Max"] * 5  # docs/answering.md's figure, not the constant
    assert found.truncated and "narrow down" in found.doc["notes"][-1]


def test_first_request_stays_small_for_common_names(clinic: dict[str, Any], settings: config.Settings) -> None:
    standin = clinic["standin"]
    for question in ("Who owns Max?", "Smith 씨의 반려동물은?", "서울에 사는 보호자는 몇 명이야?", "Coco라는 반려동물을 키우고 있는 사람은 누구야?"):
        standin.requests.clear()
        response = lf.lambda_handler(local_run.seed_event(question), local_run.FakeContext())
        assert response["statusCode"] == 200, response["body"]
        assert standin.requests[0]["bytes"] <= 8 * 1024, question


def test_largest_tool_results_stay_far_below_the_data_api_limit(clinic: dict[str, Any], settings: config.Settings) -> None:
    clinic["data_api"].largest_response = 0
    tools.tool_search_visits(settings, {"limit": 500})
    tools.tool_search_owners(settings, {"city": "서울", "limit": 500})
    tools.tool_list_vets(settings, {"limit": 500})
    assert 0 < clinic["data_api"].largest_response < 64 * 1024


def _plans(clinic: dict[str, Any]) -> list[str]:
    backend = clinic["backend"]
    cursor = backend.connection().cursor()
    plans = []
    for sql, params in facts._prefetch_sql(understanding.extract_names("Who owns Leo in Madison?")).values():
        sql, params = backend.prepare(sql, params)
        if clinic["engine"] == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plans.append(" ".join(str(row[-1]) for row in cursor.fetchall()))
        else:
            cursor.execute("EXPLAIN FORMAT=JSON " + sql, params)
            plans.append(cursor.fetchone()[0])
    return plans


def test_lookup_statements_use_the_indexes(clinic: dict[str, Any]) -> None:
    pets, people, counts = _plans(clinic)
    if clinic["engine"] == "sqlite":
        assert "USING INDEX pets_name" in pets
        assert "owners_first_name" in people and "owners_last_name" in people
        for index in ("pets_name", "owners_first_name", "owners_last_name", "owners_city", "types_name"):
            assert index in counts, index
        return
    # MariaDB: EXPLAIN FORMAT=JSON names every key it uses (index_merge lists several).
    def keys(plan: str) -> set[str]:
        return set(re.findall(r'"key": "([^"]+)"', plan))

    assert "pets_name" in keys(pets), pets
    assert {"owners_first_name", "owners_last_name"} <= keys(people), people
    assert {"pets_name", "owners_first_name", "owners_last_name", "owners_city", "types_name"} <= keys(counts), counts
