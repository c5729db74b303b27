"""`make eval` runs offline (it is fast: the whole set in a few seconds) and keeps its promises."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "eval"))

import eval as evaluation

ROOT = Path(__file__).resolve().parents[2]


def test_question_set_covers_what_staff_ask() -> None:
    questions = evaluation.load_questions()
    assert len(questions) >= 60
    assert {q["lang"] for q in questions} == {"ko", "en"}
    kinds = {q["kind"] for q in questions}
    assert {"named", "followup", "vet", "date", "count", "missing", "other_script", "greeting"} <= kinds
    assert len({q["id"] for q in questions}) == len(questions)
    assert 3 <= sum(q["kind"] == "followup" for q in questions) <= 5


def test_offline_eval_has_no_false_not_found_and_grounds_single_questions(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    assert evaluation.main(["--out", str(out)]) == 0  # non-zero on any false "not found" or non-200 answer
    result = evaluation.run(evaluation.load_questions(), "local", None)
    rows = result["rows"]
    assert not [r for r in rows if r["false_not_found"]]
    singles = [r for r in rows if r["kind"] != "followup"]
    assert sum(r["grounded"] for r in singles) >= 0.95 * len(singles)
    assert max(r["first_bytes"] for r in rows) <= 8 * 1024
    assert all(r["model_calls"] == 1 for r in rows if r["kind"] not in ("followup", "other_script"))
    # the prefetch: 3 statements (4 with the typo pass); each further model call ran one tool
    assert all(r["data_calls"] <= (4 if r["typo_pass"] else 3) + r["model_calls"] - 1 for r in rows)
    assert "### By kind" in out.read_text()


def test_follow_ups_get_the_earlier_turn_from_memory() -> None:
    """Follow-ups run with memory on, in the handler's region: the first turn reaches the model.
    (The harness once created its table in another region; memory, best effort, failed silently.)"""
    followups = [q for q in evaluation.load_questions() if q["kind"] == "followup"]
    rows = evaluation.run(followups, "local", None)["rows"]
    assert [r["id"] for r in rows if r["memory_missing"]] == []
    assert [r["id"] for r in rows if not r["grounded"]] == []


def test_a_false_not_found_is_counted() -> None:
    """The checker itself can fail: a not-found entry for a name that exists is reported."""
    rows = evaluation.run([{"id": "x", "kind": "missing", "lang": "en", "q": "Who owns Zorro?", "required": [],
                            "forbidden": []}], "local", None)["rows"]
    assert rows[0]["false_not_found"] == ["Zorro"]  # Zorro is not in its not_found_ok list


def test_facts_checks() -> None:
    facts = '{"counts":[{"count":4}],"pets":[{"telephone":"6085551023","born":"2024-01-01"}]}'
    assert evaluation.fact_present("count:4", facts, in_facts=True)
    assert not evaluation.fact_present("count:2", facts, in_facts=True)  # not the 2 inside a date or phone
    assert evaluation.fact_present("6085551023", facts, in_facts=True)
    assert evaluation.language_ok("Coco의 보호자는 이서연 님입니다.", "ko")
    assert not evaluation.language_ok("Coco belongs to Lee.", "ko")


def test_aws_report_prices_known_models() -> None:
    row = {"id": "a", "kind": "named", "lang": "en", "question": "q", "status": 200, "grounded": True, "missing": [],
           "false_not_found": [], "first_bytes": 100, "model_calls": 1, "data_calls": 3, "answer": "George Franklin",
           "answer_missing": [], "answer_forbidden": [], "language_ok": True, "input_tokens": 2000,
           "output_tokens": 100, "latency_ms": 900.0}
    text = evaluation.render({"rows": [row], "bedrock": "aws",
                              "model_id": "global.anthropic.claude-haiku-4-5-20251001-v1:0"})
    assert "$0.00250" in text  # 2,000 x $1/M + 100 x $5/M
    assert evaluation.PRICES_AS_OF in text


def test_docs_quote_the_committed_eval_results() -> None:
    """The evaluation page (docs/evaluation.md, moved there from the README) quotes eval/results.md."""
    section = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    results = (ROOT / "eval" / "results.md").read_text(encoding="utf-8")
    quoted = re.findall(r"\d+ / \d+ \(\d+\.\d%\)|\d[\d,]* B\b", section)
    assert len(quoted) >= 4
    assert not [q for q in quoted if q not in results], "docs/evaluation.md quotes eval figures eval/results.md does not have"


def test_aws_mode_scores_answers_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The BEDROCK=aws path, with the stand-in playing Bedrock on 127.0.0.1 (never real AWS)."""
    from local import model_standin

    server, url, _ = model_standin.serve()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
        out = tmp_path / "results-aws.md"
        evaluation.main(["--bedrock", "aws", "--only", "named-01,named-02,greet-02", "--out", str(out)])
    finally:
        server.shutdown()
        server.server_close()
    text = out.read_text()
    assert "answers with every required fact | 3 / 3 (100.0%)" in text
    assert "answers in the asker's language | 3 / 3" in text
    assert "estimated cost per question | $" in text


def test_eval_gives_the_same_result_on_mariadb(mysql_url: str) -> None:
    """Every prefetch statement of the whole question set, on MariaDB as on SQLite."""
    questions = evaluation.load_questions()
    sqlite = evaluation.run(questions, "local", None)["rows"]
    mariadb = evaluation.run(questions, "local", mysql_url)["rows"]
    assert [(r["id"], r["grounded"], r["false_not_found"]) for r in mariadb] == \
        [(r["id"], r["grounded"], r["false_not_found"]) for r in sqlite]
    assert all(r["status"] == 200 for r in mariadb)
