"""Issue 20, end to end on SQLite and MariaDB: the names set (eval/names.jsonl on eval/data) scores
at least 90% in every family with no false "not found", and the prefetch stays within 3 statements
(4 with the typo pass)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# In a process of its own: the eval harness sets up endpoints, memory and settings of its own.
RUN = """import json, sys
sys.path.insert(0, "eval")
import eval as evaluation
rows = evaluation.run(evaluation.load_questions(evaluation.NAMES), "local", sys.argv[1] or None,
                      data_files=evaluation.NAMES_DATA)["rows"]
print(json.dumps(rows, default=str))
"""


@pytest.fixture(params=["sqlite", "mariadb"])
def names_db(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("empty_mysql_url") if request.param == "mariadb" else None


def test_every_family_scores_and_nothing_is_falsely_not_found(names_db: str | None) -> None:
    done = subprocess.run([sys.executable, "-c", RUN, names_db or ""], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=True)
    rows: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(r["status"] == 200 for r in rows)
    assert [(r["id"], r["false_not_found"]) for r in rows if r["false_not_found"]] == []
    for family in {r["family"] for r in rows}:
        group = [r for r in rows if r["family"] == family]
        assert sum(r["grounded"] for r in group) >= 0.9 * len(group), (family, [r["id"] for r in group if not r["grounded"]])
    assert max(r["first_bytes"] for r in rows) <= 8 * 1024
    # the prefetch: 3 statements, 4 with the typo pass; each further model call ran one tool
    assert all(r["data_calls"] <= (4 if r["typo_pass"] else 3) + r["model_calls"] - 1 for r in rows)
