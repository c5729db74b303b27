"""Local and production compare text the same way: the same parameterised statements, sent through
the local Data API to SQLite and to MariaDB, return the same rows for accent and case variants.

MySQL's utf8mb4_0900_ai_ci (Aurora MySQL 3's default) and MariaDB's utf8mb4_uca1400_nopad_ai_ci ignore
case and accents in `=`, IN, LIKE and GROUP BY; the SQLite backend's NOCASE and like() do the same
(local/dataapi.py). The rows: tests/e2e/data/collation.sql.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

from local import dataapi
from local.run import LOCAL_CLUSTER_ARN, LOCAL_SECRET_ARN

ROWS = Path(__file__).resolve().parent / "data" / "collation.sql"

OWNER = "SELECT o.id, o.first_name, o.last_name FROM owners o WHERE "
# (statement, parameters, the owner/pet/... ids both engines must return)
CASES: list[tuple[str, dict[str, str], list[int]]] = [
    (OWNER + "o.last_name = :v ORDER BY o.id", {"v": "Muller"}, [1, 2, 8]),
    (OWNER + "o.last_name = :v ORDER BY o.id", {"v": "MÜLLER"}, [1, 2, 8]),
    (OWNER + "o.last_name = :v ORDER BY o.id", {"v": "müller"}, [1, 2, 8]),
    (OWNER + "o.last_name = :v ORDER BY o.id", {"v": "Mueller"}, [7]),  # ü is not ue
    (OWNER + "o.first_name = :v ORDER BY o.id", {"v": "zoe"}, [1, 2, 8]),
    (OWNER + "o.first_name = :v ORDER BY o.id", {"v": "Zoë"}, [1, 2, 8]),
    (OWNER + "o.first_name = :v ORDER BY o.id", {"v": "Zoo"}, []),
    (OWNER + "o.first_name = :v AND o.last_name = :w ORDER BY o.id", {"v": "ZOE", "w": "muller"}, [1, 2, 8]),
    (OWNER + "o.city = :v ORDER BY o.id", {"v": "Krakow"}, [1, 2, 8]),
    (OWNER + "o.city = :v ORDER BY o.id", {"v": "kraków"}, [1, 2, 8]),
    (OWNER + "o.city = :v ORDER BY o.id", {"v": "Lodz"}, [4]),  # Ł and ó
    (OWNER + "o.city = :v ORDER BY o.id", {"v": "kobenhavn"}, [3]),  # ø
    (OWNER + "o.city = :v ORDER BY o.id", {"v": "MONTREAL"}, [5]),
    (OWNER + "o.first_name = :v ORDER BY o.id", {"v": "soren"}, [3]),
    (OWNER + "o.first_name = :v ORDER BY o.id", {"v": "lukasz"}, [4]),
    (OWNER + "o.first_name = :v ORDER BY o.id", {"v": "FRANCOIS"}, [5]),
    (OWNER + "o.last_name = :v ORDER BY o.id", {"v": "Nunez"}, [5]),
    (OWNER + "o.last_name = :v ORDER BY o.id", {"v": "Strasse"}, [4]),  # ß = ss
    (OWNER + "o.last_name LIKE :v ORDER BY o.id", {"v": "stras%"}, []),  # ... but LIKE goes letter by letter
    (OWNER + "o.last_name LIKE :v ORDER BY o.id", {"v": "straß%"}, [4]),
    (OWNER + "o.last_name LIKE :v ORDER BY o.id", {"v": "mul%"}, [1, 2, 8]),
    (OWNER + "o.last_name LIKE :v ORDER BY o.id", {"v": "MÜL%"}, [1, 2, 8]),
    (OWNER + "(o.first_name LIKE :v OR o.last_name LIKE :v) ORDER BY o.id", {"v": "zo%"}, [1, 2, 8]),
    (OWNER + "o.last_name LIKE :v ORDER BY o.id", {"v": "m_ller"}, [1, 2, 8]),
    (OWNER + "o.address LIKE :v ORDER BY o.id", {"v": "%glowny%"}, [1]),
    (OWNER + "o.address LIKE :v ORDER BY o.id", {"v": "%ELM%"}, [2, 8]),
    (OWNER + "o.address LIKE :v ORDER BY o.id", {"v": "%eglise%"}, [5]),
    (OWNER + "o.address LIKE :v ORDER BY o.id", {"v": "%테헤란로%152%"}, [6]),
    (OWNER + "o.last_name = :v AND o.first_name = :w ORDER BY o.id", {"v": "이", "w": "서연"}, [6]),
    (OWNER + "o.telephone = :v ORDER BY o.id", {"v": "01023456789"}, [6]),
    (OWNER + "o.telephone LIKE :v ORDER BY o.id", {"v": "%0101"}, [2]),
    (OWNER + "o.id IN (SELECT p.owner_id FROM pets p WHERE p.name IN (:v, :w)) ORDER BY o.id", {"v": "bjork", "w": "ANGSTROM"}, [1, 3]),
    ("SELECT p.id, p.name FROM pets p WHERE p.name = :v ORDER BY p.id", {"v": "chloe"}, [3, 5]),
    ("SELECT p.id, p.name FROM pets p WHERE p.name LIKE :v ORDER BY p.id", {"v": "CHLO%"}, [3, 5]),
    ("SELECT p.id, p.name FROM pets p WHERE p.name = :v ORDER BY p.id", {"v": "쿠키"}, [6]),
    ("SELECT p.id, p.name FROM pets p WHERE LOWER(p.name) = LOWER(:v) ORDER BY p.id", {"v": "ÅNGSTRÖM"}, [2]),
    ("SELECT p.id, p.name FROM pets p JOIN types t ON t.id = p.type_id WHERE t.name = :v ORDER BY p.id", {"v": "konigspython"}, [5]),
    ("SELECT v.id, v.description FROM visits v WHERE v.description LIKE :v ORDER BY v.id", {"v": "%rontgen%"}, [1]),
    ("SELECT v.id, v.description FROM visits v WHERE v.description LIKE :v ORDER BY v.id", {"v": "%x-ray%"}, [1]),
    ("SELECT v.id, v.description FROM visits v WHERE v.description LIKE :v ORDER BY v.id", {"v": "%xray%"}, []),
    ("SELECT v.id, v.description FROM visits v WHERE v.description LIKE :v ORDER BY v.id", {"v": "%접종%"}, [2]),
    ("SELECT v.id, v.description FROM visits v WHERE v.description LIKE :v ORDER BY v.id", {"v": "%RABIES%"}, [3]),
    ("SELECT x.id, x.last_name FROM vets x JOIN vet_specialties vs ON vs.vet_id = x.id JOIN specialties s"
     " ON s.id = vs.specialty_id WHERE s.name = :v ORDER BY x.id", {"v": "Radiologia"}, [1]),
    ("SELECT x.id, x.last_name FROM vets x WHERE x.last_name = :v ORDER BY x.id", {"v": "dvorak"}, [2]),
    ("SELECT COUNT(DISTINCT o.city) AS n, 0 FROM owners o WHERE o.city LIKE :v", {"v": "kr%"}, [1]),  # one group
    ("SELECT COUNT(*) AS n, 0 FROM (SELECT o.last_name FROM owners o GROUP BY o.last_name) g WHERE g.last_name = :v",
     {"v": "muller"}, [1]),
]


def _client(url: str) -> Any:
    return boto3.client("rds-data", endpoint_url=url, region_name="ap-northeast-2",
                        aws_access_key_id="local", aws_secret_access_key="local")


def _rows(client: Any, sql: str, params: dict[str, str]) -> list[tuple[Any, ...]]:
    response = client.execute_statement(
        resourceArn=LOCAL_CLUSTER_ARN, secretArn=LOCAL_SECRET_ARN, database="petclinic", sql=sql,
        parameters=[{"name": name, "value": {"stringValue": value}} for name, value in params.items()])
    return [tuple(next(iter(field.values())) for field in record) for record in response["records"]]


def _serve(backend: Any) -> Iterator[Any]:
    dataapi.load_database(backend, data_files=[ROWS], replace=True)
    server, url, _ = dataapi.serve(backend)
    try:
        yield _client(url)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from _serve(dataapi.SqliteBackend(tmp_path_factory.mktemp("collation") / "collation.sqlite"))


@pytest.fixture(scope="module")
def mariadb_api(mysql_url: str) -> Iterator[Any]:
    """A database of its own on the tests' MariaDB (the server's default collation is not relied on)."""
    import pymysql

    options = {**dataapi.MysqlBackend(mysql_url).options, "database": None}
    name = "petclinic_collation_" + os.urandom(4).hex()
    conn = pymysql.connect(**options)
    conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET latin1")  # the tables must not inherit it
    try:
        yield from _serve(dataapi.MysqlBackend(urlparse(mysql_url)._replace(path="/" + name).geturl()))
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


@pytest.mark.parametrize("sql, params, ids", CASES, ids=[f"{i:02d}-{next(iter(c[1].values()))}" for i, c in enumerate(CASES)])
def test_sqlite_compares_like_mysql(sqlite_api: Any, sql: str, params: dict[str, str], ids: list[int]) -> None:
    assert [int(row[0]) for row in _rows(sqlite_api, sql, params)] == ids


@pytest.mark.parametrize("sql, params, ids", CASES, ids=[f"{i:02d}-{next(iter(c[1].values()))}" for i, c in enumerate(CASES)])
def test_sqlite_and_mariadb_return_the_same_rows(sqlite_api: Any, mariadb_api: Any, sql: str, params: dict[str, str],
                                                 ids: list[int]) -> None:
    on_sqlite, on_mariadb = _rows(sqlite_api, sql, params), _rows(mariadb_api, sql, params)
    assert on_sqlite == on_mariadb
    assert [int(row[0]) for row in on_mariadb] == ids


def test_the_mariadb_tables_declare_an_accent_insensitive_collation(mysql_url: str) -> None:
    backend = dataapi.MysqlBackend(mysql_url)
    assert backend.accent_insensitive_collation() in dataapi.AI_CI_COLLATIONS
    cursor = backend.connection().cursor()
    cursor.execute("SELECT _utf8mb4'Zoë Müller' COLLATE " + backend.accent_insensitive_collation() + " = 'zoe muller'")
    assert cursor.fetchone()[0] == 1


def test_sqlite_indexes_still_serve_the_lookups(tmp_path: Path) -> None:
    """The redefined NOCASE is the collation of the indexes too: an equality lookup is an index search."""
    backend = dataapi.SqliteBackend(tmp_path / "plan.sqlite")
    dataapi.load_database(backend, data_files=[ROWS])
    plan = backend.connection().execute("EXPLAIN QUERY PLAN SELECT id FROM owners WHERE last_name = ?", ("muller",)).fetchall()
    assert "owners_last_name" in " ".join(str(row[-1]) for row in plan)


def test_a_prefix_like_walks_the_index_on_sqlite(tmp_path: Path) -> None:
    """As MySQL does for LIKE 'abc%': the local backend spells out the key range (and LIKE still decides)."""
    backend = dataapi.SqliteBackend(tmp_path / "like.sqlite")
    dataapi.load_database(backend, data_files=[ROWS])
    sql, params = backend.prepare("SELECT o.id FROM owners o WHERE o.last_name LIKE :v ORDER BY o.id", {"v": "MÜL%"})
    plan = " ".join(str(row[-1]) for row in backend.connection().execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    assert "owners_last_name" in plan
    assert [row[0] for row in backend.connection().execute(sql, params).fetchall()] == [1, 2, 8]
    assert backend.prepare("SELECT 1 FROM owners o WHERE o.address LIKE :v", {"v": "%elm%"})[0].count("LIKE") == 1
