"""Issue 20's statement bench: the p95 time of each prefetch statement (and the typo pass) at a
given number of owners, on SQLite (the local Data API's engine, with its collation functions) or on
MySQL/MariaDB (``--db mysql://...``, a scratch database whose PetClinic tables are REPLACED).

Each statement is the one genai/facts.py builds for a question of the new families (a name as typed,
a typo, a Hangul loanword, a telephone number, a telephone suffix, an address, a visit description,
a specialty word form), run RUNS times straight on the engine (no HTTP): the database's own cost.
Prints markdown; `make bench` quotes it in bench/results.md (section "Statements at 100k owners").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402
from genai import facts, understanding  # noqa: E402
from local import dataapi  # noqa: E402

RUNS = 30


def questions(backend: Any) -> list[tuple[str, str]]:
    cursor = backend.connection().cursor()
    cursor.execute("SELECT telephone, address FROM owners WHERE id = 5000")
    telephone, address = cursor.fetchone()
    number, street = str(address).split()[0], str(address).split()[1]
    return [
        ("name as typed", "Who owns Leo?"),
        ("Korean full name", "김민준 씨네 반려동물은?"),
        ("loanword", "찰리 보호자가 누구야?"),
        ("typo (+ typo pass)", "Who owns Chrlie?"),
        ("telephone", f"Whose number is {telephone[:3]}-{telephone[3:7]}-{telephone[7:]}?"),
        ("telephone suffix", f"Whose phone ends in {telephone[-4:]}?"),
        ("address", f"Who lives at {number} {street} Street?"),
        ("visit description", "Which pet had a rabies shot?"),
        ("specialty word form", "Who is the surgeon here?"),
    ]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def measure(backend: Any, runs: int = RUNS) -> list[tuple[str, str, int, float, float]]:
    cursor = backend.connection().cursor()
    out = []
    for label, question in questions(backend):
        names = understanding.extract_names(question)
        statements = dict(facts._prefetch_sql(names, "all"))
        terms = [textform for textform, _ in names.name_like if not understanding.has_hangul(textform)
                 and len(textform) >= facts.FUZZY_MIN_LETTERS and textform.isalpha()]
        if "typo" in label and terms:
            from genai import textnorm
            statements["typo pass"] = facts._fuzzy_sql([textnorm.fold(t) for t in terms[:facts.FUZZY_TERMS]], "all")
        for key, (sql, params) in statements.items():
            prepared, bound = backend.prepare(sql, params)
            times, rows = [], 0
            for _ in range(runs):
                started = time.perf_counter()
                cursor.execute(prepared, bound)
                rows = len(cursor.fetchall())
                times.append((time.perf_counter() - started) * 1000)
            out.append((label, key, rows, statistics.median(times), p95(times)))
    return out


def render(engine: str, owners: int, results: list[tuple[str, str, int, float, float]]) -> str:
    lines = [f"### Statements at {owners:,} owners ({engine})", "",
             "| question | statement | rows | p50 ms | p95 ms |", "|---|---|---:|---:|---:|"]
    lines += [f"| {label} | {key} | {rows} | {p50:.1f} | {p95_ms:.1f} |" for label, key, rows, p50, p95_ms in results]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--owners", type=int, default=100_000)
    parser.add_argument("--db", help="mysql://... scratch database (its PetClinic tables are replaced); default SQLite")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'clinic.sqlite'}"
        backend = dataapi.backend_from_url(url)
        started = time.perf_counter()
        generate.load(backend, args.owners, replace=True)
        print(f"generated {args.owners:,} owners in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        print(render("MariaDB" if args.db else "SQLite", args.owners, measure(backend, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
