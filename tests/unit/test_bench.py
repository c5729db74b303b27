"""The benchmark script still runs end to end (smallest size, one run each). It times nothing here."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench
import pytest


def test_bench_runs_and_reports_every_target(tmp_path: Path, runtime_python: str) -> None:
    try:
        bench.lambda_python()
    except SystemExit as err:  # `make test` creates it; in CI it must be there
        (pytest.fail if os.environ.get("CI", "").lower() == "true" else pytest.skip)(str(err))
    out = tmp_path / "results.md"
    bench.main(["--sizes", "10", "--runs", "1", "--stub-runs", "2", "--import-repeat", "1", "--init-repeat", "1",
                "--out", str(out)])
    text = out.read_text()
    assert "SEED BASELINE" in text and "### Targets" in text
    init = text.split("### Cold init as Lambda sees it", 1)[1].split("\n\n", 3)[2].splitlines()
    assert init[0].startswith("| phase | source only ms | deployed zip (with .pyc) ms |") and len(init) == 2 + len(bench.INIT_PHASES)
    assert "### Conversation memory" in text and "at the 5th turn" in text
    rows = [line for line in text.splitlines() if line.startswith("| 10 |")]
    assert "### Rate limits and the daily cap" in text
    assert len(rows) == len(bench.QUESTIONS) + 4  # one per question, the seed, the 5th turn, memory's, the limits' time
    turn5 = next(line for line in rows if "|" in line and line.count("|") == 8).split("|")
    assert turn5[4].strip() == "4"  # four earlier turns reached the model at the 5th


def test_token_estimate_counts_hangul_per_character() -> None:
    assert bench.estimate_tokens("abcd" * 10) == 10
    assert bench.estimate_tokens("이서연") == 3


def test_docs_quote_the_committed_results() -> None:
    """Every byte count, token count and ms figure on the performance page (docs/performance.md, moved
    there from the README) is in results.md."""
    root = Path(__file__).resolve().parents[2]
    section = (root / "docs" / "performance.md").read_text(encoding="utf-8")
    results = (root / "bench" / "results.md").read_text(encoding="utf-8")
    quoted = set(re.findall(r"(\d[\d,]*(?:\.\d+)?) (?:B|tokens|ms)\b", section))
    assert len(quoted) > 15
    missing = sorted(q for q in quoted if not re.search(rf"(?<![\d,.]){re.escape(q)}(?![\d,]|\.\d)", results))
    assert not missing, f"docs/performance.md quotes figures bench/results.md does not have: {missing}"
