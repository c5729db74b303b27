"""Loading sample data never destroys a user's data: a database with PetClinic tables is refused
(or, for `make run`, used as it is) unless replacing is asked for; a load is all or nothing; the
MySQL schema declares utf8mb4 whatever the server's default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local import dataapi
from local import run as local_run

ROOT = Path(__file__).resolve().parents[2]


def _users_database(backend: Any) -> None:
    """Someone's real PetClinic: one owner the sample does not have."""
    cursor = backend.connection().cursor()
    cursor.execute("CREATE TABLE owners (id INTEGER PRIMARY KEY, first_name VARCHAR(30), last_name VARCHAR(30),"
                   " address VARCHAR(255), city VARCHAR(80), telephone VARCHAR(20))")
    cursor.execute("INSERT INTO owners VALUES (1, 'Real', 'Customer', '1 Main St.', 'Springfield', '5550100')")
    if backend.engine == "mysql":
        backend.connection().commit()


def _owners(backend: Any) -> list[tuple[Any, ...]]:
    cursor = backend.connection().cursor()
    cursor.execute("SELECT first_name, last_name FROM owners ORDER BY id")
    return [tuple(row) for row in cursor.fetchall()]


@pytest.fixture(params=["sqlite", "mariadb"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "mariadb":
        return request.getfixturevalue("empty_mysql_url")
    return f"sqlite:///{tmp_path / 'users.sqlite'}"


def test_a_database_with_petclinic_tables_is_never_touched(empty_url: str) -> None:
    backend = dataapi.backend_from_url(empty_url)
    _users_database(backend)
    with pytest.raises(dataapi.ExistingData, match="REPLACE_SAMPLE_DATA=1"):
        dataapi.load_database(backend)
    with local_run.local_endpoints(empty_url):  # make run PETCLINIC_DB_URL=...: used as it is
        pass
    assert _owners(backend) == [("Real", "Customer")]
    assert dataapi.existing_tables(backend) == ["owners"]


def test_replacing_is_explicit(empty_url: str) -> None:
    backend = dataapi.backend_from_url(empty_url)
    _users_database(backend)
    dataapi.load_database(backend, replace=True)
    assert ("Real", "Customer") not in _owners(backend) and ("George", "Franklin") in _owners(backend)


def test_a_failed_load_leaves_the_database_as_it_was(empty_url: str) -> None:
    backend = dataapi.backend_from_url(empty_url)
    with pytest.raises(backend.errors):
        dataapi.load_database(backend, ["INSERT INTO owners (id, first_name) VALUES (1, 'duplicate id')"])
    assert dataapi.existing_tables(backend) == []  # no half-loaded sample


def test_the_schema_declares_utf8mb4_on_a_latin1_database(latin1_mysql_url: str) -> None:
    backend = dataapi.backend_from_url(latin1_mysql_url)
    dataapi.load_database(backend)
    cursor = backend.connection().cursor()
    cursor.execute("SELECT first_name FROM owners WHERE last_name = '이' ORDER BY id")
    assert "서연" in [row[0] for row in cursor.fetchall()]
    cursor.execute("SELECT table_name, table_collation FROM information_schema.tables WHERE table_schema = DATABASE()")
    collations = dict(cursor.fetchall())
    assert set(collations) == set(dataapi.PETCLINIC_TABLES)
    assert all(value.startswith("utf8mb4") for value in collations.values()), collations


def test_the_data_api_command_refuses_to_load_over_existing_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'users.sqlite'}"
    _users_database(dataapi.backend_from_url(url))
    done = subprocess.run([sys.executable, str(ROOT / "local" / "dataapi.py"), "--db", url, "--load"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "--replace-sample-data" in done.stderr
    assert _owners(dataapi.backend_from_url(url)) == [("Real", "Customer")]
