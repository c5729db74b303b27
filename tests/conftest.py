"""Shared fixtures. No test reaches the network except 127.0.0.1 / a private Unix socket."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genai import callers, clients, config, limits, model  # noqa: E402
from local import run as local_run  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _environment_as_it_was() -> Iterator[None]:
    """The process environment after each test is what it was before, whatever a test changed and in
    whatever order its undoing ran (set up first, so torn down last: after monkeypatch's undo, which
    could otherwise put back a CONVERSATION_TABLE that local_endpoints had set and removed)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _fresh_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no cached clients, settings or per-instance memory (the model ID that
    worked, the limits' readings and refusals, the ELB keys), and fake credentials only."""
    clients._clients.clear()
    config._settings = None
    model._WORKING_IDS.clear()
    callers._alb_keys.clear()
    for name, empty in (("_last_budget", None), ("_settled_budget", None), ("_local_counts", {}), ("_refused_until", {})):
        monkeypatch.setattr(limits, name, empty)
    boto3.DEFAULT_SESSION = None  # it caches credentials between tests
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-2")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    yield
    clients._clients.clear()
    config._settings = None


@pytest.fixture(scope="session")
def runtime_python() -> str:
    """The Lambda runtime's interpreter (python3.13 for lambda_runtime = "python3.13"), as `make package`
    finds it. `make test` installs it first where the machine can; missing, it skips, and fails in CI."""
    from local import package

    try:
        return package.find_python(package.runtime_from_terraform(), install=False)
    except package.BuildError as err:
        if IN_CI:
            pytest.fail(f"CI must build the deployed zip: {err}")
        pytest.skip(str(err))


@pytest.fixture
def settings() -> config.Settings:
    return config.Settings(
        db_cluster_arn=local_run.LOCAL_CLUSTER_ARN,
        db_secret_arn=local_run.LOCAL_SECRET_ARN,
        db_name="petclinic",
        model_id=config.DEFAULT_MODEL_ID,
        inference_profile="auto",
        max_tool_rounds=3,
        max_output_tokens=512,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """PETCLINIC_TEST_MYSQL_URL if set; else a throwaway MariaDB on a private socket if installed."""
    url = os.environ.get("PETCLINIC_TEST_MYSQL_URL")
    if url:  # someone's server: the tests work in a scratch database of their own, never in the one named
        yield from _scratch_database(url)
        return
    server = shutil.which("mariadbd") or (Path("/usr/sbin/mariadbd").exists() and "/usr/sbin/mariadbd")
    install = shutil.which("mariadb-install-db")
    if not server or not install:
        if IN_CI:
            pytest.fail("CI must test on MariaDB: install mariadb-server or set PETCLINIC_TEST_MYSQL_URL")
        pytest.skip("no MariaDB here: install mariadb-server or set PETCLINIC_TEST_MYSQL_URL")
    tmp = Path(tempfile.mkdtemp(prefix="petclinic-mariadb-"))
    sock = tmp / "mysqld.sock"
    subprocess.run([install, "--no-defaults", f"--datadir={tmp / 'data'}", "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True)
    with open(tmp / "error.log", "wb") as errors:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([server, "--no-defaults", f"--datadir={tmp / 'data'}", f"--socket={sock}",
                                 "--skip-networking", "--user=root", f"--pid-file={tmp / 'pid'}",
                                 "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"],
                                stdout=subprocess.DEVNULL, stderr=errors)
    import pymysql

    for _ in range(300):  # up to 30 s for a first start on a slow machine
        try:
            conn = pymysql.connect(unix_socket=str(sock), user="root")
            conn.cursor().execute(
                "CREATE DATABASE IF NOT EXISTS petclinic CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            conn.close()
            break
        except pymysql.Error:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("MariaDB did not start: " + (tmp / "error.log").read_text()[-2000:])
    try:
        yield f"mysql://root@localhost/petclinic?unix_socket={sock}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def _scratch_database(url: str, charset: str = "utf8mb4") -> Iterator[str]:
    """A new, empty database on the server of ``url`` (dropped afterwards); the tests load it freely."""
    from urllib.parse import urlparse

    import pymysql

    from local.dataapi import MysqlBackend

    options = {**MysqlBackend(url).options, "database": None}
    name = "petclinic_test_" + os.urandom(4).hex()
    conn = pymysql.connect(**options)
    try:
        conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET {charset}")
    except pymysql.Error as err:
        pytest.fail(f"PETCLINIC_TEST_MYSQL_URL: the tests need CREATE DATABASE for a scratch database ({err})")
    try:
        yield urlparse(url)._replace(path="/" + name).geturl()
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


@pytest.fixture
def latin1_mysql_url(mysql_url: str) -> Iterator[str]:
    """An empty database whose default character set is latin1 (Debian's MariaDB default)."""
    yield from _scratch_database(mysql_url, "latin1")


@pytest.fixture
def empty_mysql_url(mysql_url: str) -> Iterator[str]:
    yield from _scratch_database(mysql_url)


@pytest.fixture(params=["sqlite", "mariadb"])
def local_stack(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Both local endpoints on 127.0.0.1 over SQLite or MariaDB; env points boto3 at them."""
    db_url = request.getfixturevalue("mysql_url") if request.param == "mariadb" else None
    with local_run.local_endpoints(db_url, replace=True) as stack:  # a private database: reload it per test
        clients._clients.clear()
        config._settings = None
        yield stack
