"""A local RDS Data API endpoint: the rest-json protocol boto3's ``rds-data`` client speaks,
executing SQL on SQLite (embedded default) or MySQL/MariaDB (given a ``mysql://`` URL).

Dev tooling only; never deployed. Point boto3 at it with ``AWS_ENDPOINT_URL_RDS_DATA``.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sqlite3
import threading
import unicodedata
import uuid
from datetime import date, datetime, time as dtime, timedelta
from decimal import Decimal
from functools import lru_cache
from http.server import ThreadingHTTPServer
from pathlib import Path
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

if not __package__:  # run as a script: python local/dataapi.py
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genai.textnorm import fold
from local import jsonhttp
from local.jsonhttp import JsonHandler

HERE = Path(__file__).resolve().parent
SCHEMA = HERE / "schema.sql"
DATA_FILES = sorted((HERE / "data").glob("*.sql"))
RESPONSE_LIMIT = 1024 * 1024  # the Data API refuses results larger than 1 MiB
_ARN_RE = re.compile(r"^arn:aws[a-z-]*:(rds|secretsmanager):")


class ApiError(Exception):
    def __init__(self, kind: str, message: str, status: int = 400):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


def split_statements(script: str) -> list[str]:
    """Split a SQL script on semicolons outside quotes; drop comments and blanks."""
    statements, current, quote = [], [], None
    for line in script.splitlines():
        if quote is None and line.strip().startswith("--"):
            continue
        for char in line + "\n":
            if quote:
                quote = None if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == ";":
                statements.append("".join(current).strip())
                current = []
                continue
            current.append(char)
    statements.append("".join(current).strip())
    return [s for s in statements if s]


# ---------------------------------------------------------------------------------- backends


# ------------------------------------------------------------------ SQLite compares like MySQL
#
# Aurora MySQL 3 stores the tables in utf8mb4 with its default collation utf8mb4_0900_ai_ci: case-
# and accent-insensitive ("Zoe Muller" = "Zoë Müller", "MULLER" = "Müller"), and so does `=`, IN,
# GROUP BY and LIKE on those columns. SQLite's own NOCASE folds ASCII letters only, and its LIKE too.
# On every connection this backend opens, NOCASE (the collation of the text columns in schema.sql)
# is redefined to compare genai.textnorm.fold() keys, like() matches folded characters one by one
# (as MySQL's LIKE does: "Straße" LIKE 'Stras%' is false, = 'Strasse' is true), and lower()/upper()
# are Unicode-aware (MySQL's are). Open the file through sqlite_connect(): the sqlite3 shell's
# built-in NOCASE orders non-ASCII text differently from the indexes this backend built.


@lru_cache(maxsize=65536)
def _fold_key(text: str) -> str:
    return fold(text)


def _collate_ai_ci(a: str, b: str) -> int:
    key_a, key_b = _fold_key(a), _fold_key(b)
    return (key_a > key_b) - (key_a < key_b)


_UNIT_END = "\x00"  # ends each folded character in a like() subject; folds never contain it


@lru_cache(maxsize=65536)
def _like_subject(text: str) -> str:
    """One folded unit per character (ß -> "ss" stays one unit), each ended by NUL."""
    units = (fold(char) for char in unicodedata.normalize("NFC", text))
    return "".join(unit + _UNIT_END for unit in units if unit)


@lru_cache(maxsize=1024)
def _like_matcher(pattern: str, escape: str | None) -> Any:
    """A predicate over _like_subject strings: % is any run of characters, _ exactly one."""
    tokens: list[str | None] = []  # a folded literal unit, "%" as None, "_" as ""
    chars = iter(unicodedata.normalize("NFC", pattern))
    for char in chars:
        if escape is not None and char == escape:
            char = next(chars, "")  # taken literally, even % or _
        elif char in "%_":
            tokens.append(None if char == "%" else "")
            continue
        if unit := fold(char):
            tokens.append(unit + _UNIT_END)
    literals = [token for token in tokens if token]
    if len(literals) == len(tokens):  # no wildcard: equality
        whole = "".join(literals)
        return lambda subject: subject == whole
    if len(literals) == len(tokens) - 1 and tokens[-1] is None:  # 'abc%', the tools' prefix search
        prefix = "".join(literals)
        return lambda subject: subject.startswith(prefix)
    regex = re.compile("".join(re.escape(token) if token else f"(?:[^{_UNIT_END}]*{_UNIT_END})*?" if token is None
                               else f"[^{_UNIT_END}]*{_UNIT_END}" for token in tokens), re.DOTALL)
    return lambda subject: regex.fullmatch(subject) is not None


@lru_cache(maxsize=1024)
def _ascii_like_matcher(pattern: str, escape: str | None) -> Any:
    """The same over ASCII text, where every letter folds to one letter: plain lower-case strings."""
    pattern = pattern.lower()
    if escape is None and "%" not in pattern and "_" not in pattern:
        return lambda subject: subject == pattern
    if escape is None and re.fullmatch(r"%[^%_]+%", pattern):  # '%elm%', the usual contains-search
        needle = pattern[1:-1]
        return lambda subject: needle in subject
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if escape is not None and char == escape.lower():
            parts.append(re.escape(next(chars, "")))
        else:
            parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    regex = re.compile("".join(parts), re.DOTALL)
    return lambda subject: regex.fullmatch(subject) is not None


def _like(pattern: Any, value: Any, escape: Any = None) -> int | None:
    """SQLite's like(X, Y[, Z]) for "Y LIKE X [ESCAPE Z]", compared as utf8mb4_0900_ai_ci compares."""
    if pattern is None or value is None:
        return None
    pattern, value, escape = str(pattern), str(value), None if escape is None else str(escape)
    if pattern.isascii() and value.isascii() and (escape is None or escape.isascii()):
        return int(_ascii_like_matcher(pattern, escape)(value.lower()))
    return int(_like_matcher(pattern, escape)(_like_subject(value)))


def _unicode_case(method: str) -> Any:
    return lambda value: getattr(value, method)() if isinstance(value, str) else value


def sqlite_connect(path: str | Path, **options: Any) -> sqlite3.Connection:
    """A connection that compares text as the MySQL tables do (accent- and case-insensitive)."""
    conn = sqlite3.connect(str(path), **options)
    conn.create_collation("NOCASE", _collate_ai_ci)
    conn.create_function("like", 2, _like, deterministic=True)
    conn.create_function("like", 3, _like, deterministic=True)
    conn.create_function("lower", 1, _unicode_case("lower"), deterministic=True)
    conn.create_function("upper", 1, _unicode_case("upper"), deterministic=True)
    # MySQL's CHAR_LENGTH (characters, not bytes): SQLite's length() already counts characters
    conn.create_function("char_length", 1, lambda text: None if text is None else len(str(text)), deterministic=True)
    return conn


class SqliteBackend:
    """One connection per server thread to a database file (a file, so threads share it)."""

    engine = "sqlite"

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite_connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
        return conn

    # "col LIKE :p" with p = 'abc%': MySQL walks the index for such a prefix; SQLite's own LIKE
    # optimisation is off with like() redefined, so the range is spelt out (same rows: every value
    # LIKE 'abc%' folds to a key in [fold('abc'), fold('abc') + U+10FFFF), and LIKE still decides).
    _PREFIX_LIKE_RE = re.compile(r"\b([A-Za-z_][\w.]*)\s+LIKE\s+:([A-Za-z_]\w*)\b(?!\s*ESCAPE)", re.IGNORECASE)

    def prepare(self, sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        params = dict(params)

        def ranged(match: re.Match[str]) -> str:
            column, name = match.groups()
            value = params.get(name)
            if not isinstance(value, str) or len(value) < 2 or not value.endswith("%") or "%" in value[:-1] or "_" in value:
                return match.group(0)
            params[f"{name}__lo"] = low = fold(value[:-1])
            params[f"{name}__hi"] = low + "\U0010ffff"
            return f"({column} >= :{name}__lo AND {column} < :{name}__hi AND {match.group(0)})"

        return self._PREFIX_LIKE_RE.sub(ranged, sql), params

    def new_connection(self) -> sqlite3.Connection:
        conn = sqlite_connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN")
        return conn

    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def schema_script(self) -> str:
        return SCHEMA.read_text(encoding="utf-8")


# Accent- and case-insensitive utf8mb4 collations, best first: Aurora MySQL 3's (MySQL 8.0's) default;
# MariaDB 10.10+'s UCA 14 one, NO PAD like it; older MariaDB's UCA 5.2 one. utf8mb4_general_ci, the
# last resort, also ignores case and accents but keeps ø, ł, đ, æ, œ apart from o, l, d, ae, oe and
# makes ß = s (see README, "Text comparison").
AI_CI_COLLATIONS = ("utf8mb4_0900_ai_ci", "utf8mb4_uca1400_nopad_ai_ci", "utf8mb4_unicode_520_ci")


class MysqlBackend:
    """PyMySQL connections to ``mysql://user:pass@host:port/db`` or ``...?unix_socket=/path``."""

    engine = "mysql"

    def __init__(self, url: str):
        import pymysql  # only needed for this backend

        self._pymysql = pymysql
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        self.options: dict[str, Any] = {
            "user": unquote(parsed.username or "root"),
            "password": unquote(parsed.password or ""),
            "database": parsed.path.lstrip("/") or "petclinic",
            "charset": "utf8mb4",
            "autocommit": True,
        }
        if "unix_socket" in query:
            self.options["unix_socket"] = query["unix_socket"][0]
        else:
            self.options.update(host=parsed.hostname or "127.0.0.1", port=parsed.port or 3306)
        self.errors = (pymysql.Error,)
        self._local = threading.local()

    def connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or not conn.open:
            conn = self._pymysql.connect(**self.options)
            self._local.conn = conn
        return conn

    def new_connection(self) -> Any:
        conn = self._pymysql.connect(**{**self.options, "autocommit": False})
        conn.begin()
        return conn

    _PARAM_RE = re.compile(r"'(?:[^']|'')*'|:([A-Za-z_][A-Za-z0-9_]*)|%")

    def prepare(self, sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        def swap(match: re.Match[str]) -> str:
            if match.group(0) == "%":
                return "%%"
            if match.group(1):
                return f"%({match.group(1)})s"
            return match.group(0).replace("%", "%%")

        return self._PARAM_RE.sub(swap, sql), params

    def accent_insensitive_collation(self) -> str:
        """The first of AI_CI_COLLATIONS this server knows (names from that fixed list only)."""
        cursor = self.connection().cursor()
        for name in AI_CI_COLLATIONS:
            try:
                cursor.execute(f"SELECT _utf8mb4'a' COLLATE {name}")
                cursor.fetchall()
                return name
            except self._pymysql.Error:
                continue
        return "utf8mb4_general_ci"

    def schema_script(self) -> str:
        # SQLite numbers an INTEGER PRIMARY KEY by itself; MySQL needs AUTO_INCREMENT (as upstream's schema).
        return (SCHEMA.read_text(encoding="utf-8").replace(" COLLATE NOCASE", "")
                .replace("id INTEGER NOT NULL PRIMARY KEY", "id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY"))


def backend_from_url(url: str) -> SqliteBackend | MysqlBackend:
    if url.startswith("mysql://"):
        return MysqlBackend(url)
    if url.startswith("sqlite:///"):
        return SqliteBackend(url[len("sqlite:///"):])
    return SqliteBackend(url)


PETCLINIC_TABLES = ("visits", "pets", "owners", "types", "vet_specialties", "specialties", "vets")  # FK order


class ExistingData(RuntimeError):
    """The database already holds PetClinic tables and replacing them was not asked for."""


def existing_tables(backend: SqliteBackend | MysqlBackend) -> list[str]:
    """The PetClinic tables the database already has (any of them means: someone's data)."""
    cursor = backend.connection().cursor()
    names = ", ".join("'" + name + "'" for name in PETCLINIC_TABLES)  # fixed names, not input
    if backend.engine == "sqlite":
        cursor.execute(f"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({names})")
    else:
        cursor.execute("SELECT table_name FROM information_schema.tables"
                       f" WHERE table_schema = DATABASE() AND table_name IN ({names})")
    return sorted(row[0] for row in cursor.fetchall())


def _schema_statements(backend: SqliteBackend | MysqlBackend) -> list[str]:
    statements = split_statements(backend.schema_script())
    if backend.engine == "mysql":  # declare the character set (as Aurora MySQL 3), never inherit the server's
        statements = [s + " DEFAULT CHARSET=utf8mb4" if s.upper().startswith("CREATE TABLE") else s for s in statements]
        # ... and an accent- and case-insensitive collation, whatever the server's default (see AI_CI_COLLATIONS)
        collation = backend.accent_insensitive_collation()
        statements = [s + f" COLLATE={collation}" if s.endswith(" CHARSET=utf8mb4") else s for s in statements]
    return statements


def load_database(backend: SqliteBackend | MysqlBackend, extra_sql: list[str] | None = None, *,
                  replace: bool = False, more_rows: Iterable[tuple[str, list[tuple[Any, ...]]]] = (),
                  data_files: Iterable[Path] | None = None) -> None:
    """Create the schema and load the sample rows (``data_files``, default local/data/*.sql; and
    ``more_rows``), all or nothing.

    A database that already holds any PetClinic table is refused (ExistingData) unless ``replace``.
    SQLite: one transaction, DDL included. MySQL/MariaDB: DDL commits by itself, so the tables are
    created first, every row is inserted in one transaction, and on any failure the tables this
    load created are dropped again: the database ends as it was (with ``replace``, minus the
    tables it was asked to replace)."""
    found = existing_tables(backend)
    if found and not replace:
        raise ExistingData("the database already has PetClinic tables (" + ", ".join(found) + "); refusing to touch"
                           " them. Replace them with the sample only if that is what you want:"
                           " --replace-sample-data (make: REPLACE_SAMPLE_DATA=1)")
    files = DATA_FILES if data_files is None else list(data_files)
    rows = [statement for path in files for statement in split_statements(path.read_text(encoding="utf-8"))]
    rows += extra_sql or []
    mark = "?" if backend.engine == "sqlite" else "%s"
    conn = backend.new_connection()  # a transaction (BEGIN) of its own
    cursor = conn.cursor()
    created: list[str] = []
    try:
        if found:  # only reached with replace=True
            _drop(cursor, backend, found)
        for statement in _schema_statements(backend):
            cursor.execute(statement)
            if match := re.match(r"CREATE TABLE (\w+)", statement, re.IGNORECASE):
                created.append(match.group(1))
        if backend.engine == "mysql":
            conn.begin()  # DDL committed implicitly; the rows go in one transaction
        for statement in rows:
            cursor.execute(statement)
        for table, batch in more_rows:
            if batch:
                cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join([mark] * len(batch[0]))})", batch)
        if backend.engine == "sqlite":
            cursor.execute("COMMIT")
        else:
            conn.commit()
    except BaseException:
        if backend.engine == "sqlite":
            cursor.execute("ROLLBACK")  # DDL included
        else:
            conn.rollback()
            _drop(conn.cursor(), backend, created)  # DDL cannot be rolled back on MySQL: undo it
        raise
    finally:
        conn.close()
    cursor = backend.connection().cursor()
    if backend.engine == "sqlite":
        cursor.execute("ANALYZE")
    else:
        for table in ("owners", "pets", "visits", "vets"):
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()


def _drop(cursor: Any, backend: SqliteBackend | MysqlBackend, tables: list[str]) -> None:
    """Drop exactly these tables (whatever order their foreign keys need)."""
    if backend.engine == "mysql":
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
    for table in tables:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    if backend.engine == "mysql":
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


# ---------------------------------------------------------------------------------- protocol


def decode_parameter(param: dict[str, Any]) -> tuple[str, Any]:
    name, value = param.get("name"), param.get("value") or {}
    if not name:
        raise ApiError("BadRequestException", "Parameter name is required")
    if value.get("isNull"):
        return name, None
    for key in ("stringValue", "longValue", "doubleValue"):
        if key in value:
            return name, value[key]
    if "booleanValue" in value:
        return name, bool(value["booleanValue"])
    if "blobValue" in value:
        return name, base64.b64decode(value["blobValue"])
    raise ApiError("BadRequestException", f"Unsupported value for parameter {name}")


def encode_value(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (bytes, bytearray)):
        return {"blobValue": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {"stringValue": value.strftime("%Y-%m-%d %H:%M:%S")}
    if isinstance(value, (date, dtime, Decimal, timedelta)):
        return {"stringValue": str(value)}
    return {"stringValue": str(value)}


class DataApi:
    """The operations, independent of HTTP, with counters for the benchmark."""

    def __init__(self, backend: SqliteBackend | MysqlBackend):
        self.backend = backend
        self.transactions: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.calls = 0
        self.bytes_out = 0
        self.largest_response = 0

    def _check(self, body: dict[str, Any]) -> None:
        for key in ("resourceArn", "secretArn"):
            if not _ARN_RE.match(str(body.get(key, ""))):
                raise ApiError("BadRequestException", f"{key} must be an ARN")

    def _connection(self, body: dict[str, Any]) -> Any:
        txid = body.get("transactionId")
        if txid:
            conn = self.transactions.get(txid)
            if conn is None:
                raise ApiError("TransactionNotFoundException", "Transaction not found", 404)
            return conn
        return self.backend.connection()

    def execute(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check(body)
        sql = body.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise ApiError("BadRequestException", "sql is required")
        params = dict(decode_parameter(p) for p in body.get("parameters") or [])
        sql, params = self.backend.prepare(sql, params)
        cursor = self._connection(body).cursor()
        try:
            cursor.execute(sql, params)
            rows = cursor.fetchall() if cursor.description else []
        except self.backend.errors as err:
            raise ApiError("DatabaseErrorException", f"Database error: {err}") from err
        inserted = not cursor.description and sql.lstrip().upper().startswith("INSERT") and cursor.lastrowid
        result: dict[str, Any] = {"numberOfRecordsUpdated": 0 if cursor.description else max(cursor.rowcount, 0),
                                  # like Aurora MySQL's Data API: the AUTO_INCREMENT key of an INSERT
                                  "generatedFields": [{"longValue": cursor.lastrowid}] if inserted else []}
        if cursor.description:
            result["records"] = [[encode_value(v) for v in row] for row in rows]
            if body.get("includeResultMetadata"):
                result["columnMetadata"] = [{"name": d[0], "label": d[0]} for d in cursor.description]
            if body.get("formatRecordsAs") == "JSON":
                names = [d[0] for d in cursor.description]
                records = [{n: next(iter(encode_value(v).values())) if v is not None else None
                            for n, v in zip(names, row)} for row in rows]
                result = {"formattedRecords": json.dumps(records, ensure_ascii=False),
                          "numberOfRecordsUpdated": 0}
        return result

    def batch_execute(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check(body)
        results = []
        for parameter_set in body.get("parameterSets") or [[]]:
            single = {**body, "parameters": parameter_set}
            single.pop("parameterSets", None)
            out = self.execute(single)
            results.append({"generatedFields": out.get("generatedFields", [])})
        return {"updateResults": results}

    def begin(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check(body)
        txid = base64.b64encode(uuid.uuid4().bytes).decode("ascii")
        with self.lock:
            self.transactions[txid] = self.backend.new_connection()
        return {"transactionId": txid}

    def finish(self, body: dict[str, Any], commit: bool) -> dict[str, Any]:
        self._check(body)
        with self.lock:
            conn = self.transactions.pop(str(body.get("transactionId")), None)
        if conn is None:
            raise ApiError("NotFoundException", "Transaction not found", 404)
        try:
            if self.backend.engine == "sqlite":
                conn.execute("COMMIT" if commit else "ROLLBACK")
            else:
                conn.commit() if commit else conn.rollback()
        finally:
            conn.close()
        return {"transactionStatus": "Transaction Committed" if commit else "Rollback Complete"}

    def dispatch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        routes = {
            "/Execute": self.execute,
            "/BatchExecute": self.batch_execute,
            "/BeginTransaction": self.begin,
            "/CommitTransaction": lambda b: self.finish(b, True),
            "/RollbackTransaction": lambda b: self.finish(b, False),
        }
        if path not in routes:
            raise ApiError("BadRequestException", f"Unknown operation {path}", 404)
        return routes[path](body)


class _Handler(JsonHandler):
    api: DataApi

    def do_GET(self) -> None:
        if self.path == "/_stats":
            api = self.api
            self.send_json(200, {"calls": api.calls, "bytes_out": api.bytes_out, "largest_response": api.largest_response})
        else:
            self.send_json(404, {"message": "Not found"}, "NotFoundException")

    def do_POST(self) -> None:
        try:
            body = json.loads(self.read_body() or b"{}")
            with self.api.lock:
                self.api.calls += 1
            result = self.api.dispatch(self.path, body)
            data = json.dumps(result, ensure_ascii=False).encode("utf-8")
            if len(data) > RESPONSE_LIMIT:
                raise ApiError("BadRequestException", "Database returned more than the allowed response size limit")
            with self.api.lock:
                self.api.bytes_out += len(data)
                self.api.largest_response = max(self.api.largest_response, len(data))
            self.send_json(200, result)
        except ApiError as err:
            self.send_json(err.status, {"message": err.message}, err.kind)
        except ValueError:
            self.send_json(400, {"message": "Request body is not JSON"}, "BadRequestException")


def serve(backend: SqliteBackend | MysqlBackend, port: int = 0) -> tuple[ThreadingHTTPServer, str, DataApi]:
    """Start the endpoint on 127.0.0.1 in a daemon thread; returns (server, url, api)."""
    api = DataApi(backend)
    server, url = jsonhttp.serve(type("Handler", (_Handler,), {"api": api}), "dataapi", port)
    return server, url, api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite:///petclinic.sqlite", help="sqlite:///path or mysql://... URL")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--load", action="store_true",
                        help="create the schema and sample rows first; refused if PetClinic tables exist")
    parser.add_argument("--replace-sample-data", action="store_true",
                        help="with --load: DROP the existing PetClinic tables and load the sample instead")
    args = parser.parse_args()
    backend = backend_from_url(args.db)
    if args.load:
        try:
            load_database(backend, replace=args.replace_sample_data)
        except ExistingData as err:
            parser.exit(2, f"dataapi.py: {err}\n")
    server, url, _ = serve(backend, args.port)
    print(url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
