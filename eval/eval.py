"""`make eval`: does the first model request carry what a right answer needs, and is anything false in it?

Runs every question of eval/questions.jsonl through the real handler against the local Data API
(the sample rows) and, by default, the offline stand-in. A question is GROUNDED when its first
Converse request (all messages: conversation history and facts; the current question's own text
is left out) contains every required fact. A FALSE NOT-FOUND is a "not_found" entry in the facts for a term the question set does not
expect to be missing, or for a term that is in fact in the database. Also per question: bytes of
the first request, model calls, Data API calls.

Follow-ups run as two invocations with the same conversation_id, with conversation memory on
(local_endpoints(memory=True): moto's DynamoDB server on 127.0.0.1, in the handler's region, with
the table Terraform creates). A follow-up whose first request carries no earlier turn is counted
(memory did not work) and makes the exit status non-zero: memory is best effort in the handler, so
without this check a broken table would only show as ungrounded follow-ups.

With --bedrock aws (`make eval BEDROCK=aws AWS_REGION=...`) the answers come from real Bedrock
and are scored too: required facts present, forbidden claims absent, answer language right;
tokens, latency and an estimated cost per question (PRICES below) are reported.
Writes eval/results.md (offline) or eval/results-aws.md.

The names set (eval/names.jsonl, issue 20: names as staff type them) runs after it against a clinic
of its own (eval/data/*.sql, on SQLite unless --names-db names a scratch MySQL/MariaDB database,
whose PetClinic tables it replaces). Each of its questions has a "family"; the scores per family
are printed and written. A false "not found" there fails the run too, as does a non-200 answer.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genai.textnorm import fold  # noqa: E402
from local.run import FakeContext, local_endpoints  # noqa: E402

QUESTIONS = ROOT / "eval" / "questions.jsonl"
NAMES = ROOT / "eval" / "names.jsonl"  # issue 20's families, on the clinic of eval/data
NAMES_DATA = sorted((ROOT / "eval" / "data").glob("*.sql"))
# USD per million tokens (input, output), on-demand, Anthropic models on Amazon Bedrock: AWS list
# prices as recorded in November 2025 for us-east-1; NOT re-checked by this script. In-Region
# (geographic) profiles of the 4.5 generation cost about 10% more than global ones, and prices
# change: check https://aws.amazon.com/bedrock/pricing/ before comparing models.
PRICES_AS_OF = "2025-11 (recorded by hand, us-east-1 list prices; verify on the Bedrock pricing page)"
PRICES: dict[str, tuple[float, float]] = {
    "anthropic.claude-haiku-4-5-20251001-v1:0": (1.00, 5.00),
    "anthropic.claude-sonnet-4-5-20250929-v1:0": (3.00, 15.00),
    "anthropic.claude-opus-4-5-20251101-v1:0": (5.00, 25.00),
    "anthropic.claude-sonnet-4-20250514-v1:0": (3.00, 15.00),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": (3.00, 15.00),
    "anthropic.claude-3-5-haiku-20241022-v1:0": (0.80, 4.00),
    "anthropic.claude-3-haiku-20240307-v1:0": (0.25, 1.25),
}


logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's access log


def load_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _number_in_facts(number: str, text: str) -> bool:
    """A count is a JSON number in the facts (not a digit inside a phone number or a date)."""
    return re.search(rf"(?<=[:\[,]){re.escape(number)}(?=[,}}\]])", text) is not None


def fact_present(fact: str, text: str, in_facts: bool) -> bool:
    """Text facts are substrings (case-insensitive); "count:N" is the number N as a count;
    "not_found:X" is a not_found entry for X in the facts (in an answer: X is mentioned)."""
    if fact.startswith("not_found:"):
        name = fact.split(":", 1)[1].lower()
        if not in_facts:
            return name in text.lower()
        return any(name in {str(f).lower() for f in [e.get("term", ""), *e.get("forms_searched", [])]}
                   for e in last_facts(text).get("not_found", []))
    if fact.startswith("count:"):
        number = fact.split(":", 1)[1]
        if in_facts:
            return _number_in_facts(number, text)
        return re.search(rf"(?<!\d){number}(?!\d)", text) is not None
    return fact.lower() in text.lower()


def request_text(body: dict[str, Any]) -> str:
    """Every text block of the request except the current question itself (so that a fact is not
    "carried" merely because the asker typed it); earlier turns count."""
    blocks = [block.get("text", "") for message in body.get("messages", [])
              for block in message.get("content", []) if isinstance(block, dict) and "text" in block]
    question = max((i for i, text in enumerate(blocks) if text.startswith("Question: ")), default=None)
    return "\n".join(text for i, text in enumerate(blocks) if i != question)


def last_facts(text: str) -> dict[str, Any]:
    blocks = re.findall(r"\n<facts>\n(.*?)\n</facts>", text, flags=re.S)
    return json.loads(blocks[-1]) if blocks else {}


def database_names(backend: Any) -> set[str]:
    """Every name-like value in the sample database, lower-cased (to catch a not-found that is false)."""
    cursor = backend.connection().cursor()
    names: set[str] = set()
    for sql in ("SELECT name, NULL FROM pets", "SELECT city, NULL FROM owners", "SELECT name, NULL FROM types",
                "SELECT name, NULL FROM specialties", "SELECT first_name, last_name FROM owners",
                "SELECT first_name, last_name FROM vets"):
        cursor.execute(sql)
        for first, last in cursor.fetchall():
            parts = [fold(str(part)) for part in (first, last) if part is not None]  # as the collation compares
            names |= set(parts)
            if len(parts) == 2:  # full names, both orders, with and without a space
                names |= {parts[1] + parts[0], parts[0] + parts[1], f"{parts[0]} {parts[1]}", f"{parts[1]} {parts[0]}"}
    return names


def language_ok(answer: str, lang: str) -> bool:
    hangul = sum(1 for ch in answer if "\uac00" <= ch <= "\ud7a3")
    latin = sum(1 for ch in answer if ch.isascii() and ch.isalpha())
    if lang == "ko":
        return hangul >= 0.3 * max(1, hangul + latin)
    return latin >= 0.5 * max(1, hangul + latin)


class Capture:
    """What crosses the handler's boto3 clients (botocore event hooks)."""

    def __init__(self) -> None:
        from genai import clients

        self.bedrock: list[bytes] = []
        self.replies: list[dict[str, Any]] = []
        self.data_calls = 0
        bedrock = clients.client("bedrock-runtime").meta.events
        bedrock.register("before-send.bedrock-runtime.Converse", self._sent)
        bedrock.register("after-call.bedrock-runtime.Converse", self._reply)
        clients.client("rds-data").meta.events.register("after-call.rds-data.ExecuteStatement", self._data)

    def reset(self) -> None:
        self.bedrock, self.replies, self.data_calls = [], [], 0

    def _sent(self, request: Any, **_: Any) -> None:
        self.bedrock.append(request.body if isinstance(request.body, bytes) else request.body.encode())

    def _reply(self, parsed: dict[str, Any], **_: Any) -> None:
        self.replies.append(parsed)

    def _data(self, **_: Any) -> None:
        self.data_calls += 1


def run(questions: list[dict[str, Any]], bedrock: str, db_url: str | None, transliterate: bool = True,
        data_files: list[Path] | None = None) -> dict[str, Any]:
    """``transliterate=False`` measures the handler with its Hangul/Latin transliteration switched off;
    ``data_files`` loads other rows than the sample's (with a db_url: replacing its PetClinic tables)."""
    import lambda_function as lf
    from genai import clients, config, profiles, understanding

    saved = understanding.hangul_to_latin, understanding.latin_to_hangul
    with local_endpoints(db_url, bedrock, memory=True, data_files=data_files, replace=data_files is not None) as stack:
        try:
            if not transliterate:
                understanding.hangul_to_latin, understanding.latin_to_hangul = (lambda word: []), (lambda word: None)
            clients._clients.clear()
            config._settings = None
            capture = Capture()
            known = database_names(stack["backend"])
            rows = [ask(lf, capture, question, known) for question in questions]
            model_id = profiles.resolve_model_id(config.settings_once().model_id, clients.client("bedrock-runtime").meta.region_name or "",
                                           config.settings_once().inference_profile)
        finally:
            understanding.hangul_to_latin, understanding.latin_to_hangul = saved
            clients._clients.clear()
            config._settings = None
    return {"rows": rows, "bedrock": bedrock, "model_id": model_id}


def ask(lf: Any, capture: Capture, question: dict[str, Any], known: set[str]) -> dict[str, Any]:
    turns = question.get("turns") or [question["q"]]
    # As a client continues a conversation: any id asks for one, the answer returns the id it issued.
    conversation_id = f"eval-{question['id']}-{uuid.uuid4().hex[:8]}" if len(turns) > 1 else None
    for turn in turns[:-1]:
        reply = lf.lambda_handler({"question": turn, "conversation_id": conversation_id}, FakeContext())
        conversation_id = json.loads(reply["body"]).get("conversation_id", conversation_id)
    capture.reset()
    event: dict[str, Any] = {"question": turns[-1]}
    if conversation_id:
        event["conversation_id"] = conversation_id
    started = time.perf_counter()
    response = lf.lambda_handler(event, FakeContext())
    latency_ms = (time.perf_counter() - started) * 1000
    body = json.loads(response["body"])
    first = json.loads(capture.bedrock[0]) if capture.bedrock else {}
    earlier = sum(1 for message in first.get("messages", [])[:-1] if message.get("role") == "assistant")
    text = request_text(first)
    facts = last_facts(text)
    missing = [fact for fact in question["required"] if not fact_present(fact, text, in_facts=True)]
    allowed = {fold(name) for name in question.get("not_found_ok", [])}
    false_not_found = []
    for entry in facts.get("not_found", []):
        forms = {fold(str(form)) for form in [entry.get("term", ""), *entry.get("forms_searched", [])]}
        if not forms & allowed or forms & known:
            false_not_found.append(entry.get("term", ""))
    answer = body.get("answer", "")
    usage = body.get("usage", {})
    return {
        "id": question["id"], "kind": question["kind"], "lang": question["lang"], "question": turns[-1],
        "family": question.get("family"),
        "status": response["statusCode"], "grounded": not missing, "missing": missing,
        "earlier_turns": earlier, "memory_missing": len(turns) > 1 and earlier < len(turns) - 1,
        "false_not_found": false_not_found,
        # the typo pass ran (one more statement): a Latin name-like term of 4+ letters matched nothing exactly
        "typo_pass": bool(facts.get("did_you_mean")) or any(
            len(str(e.get("term", ""))) >= 4 and not re.search("[\uac00-\ud7a3]", str(e.get("term", "")))
            for e in facts.get("not_found", [])),
        "first_bytes": len(capture.bedrock[0]) if capture.bedrock else 0,
        "model_calls": usage.get("model_calls", len(capture.bedrock)), "data_calls": capture.data_calls,
        "answer": answer, "answer_missing": [f for f in question["required"] if not fact_present(f, answer, in_facts=False)],
        "answer_forbidden": [f for f in question.get("forbidden", []) if fact_present(f, answer, in_facts=False)],
        "language_ok": language_ok(answer, question["lang"]) if answer else False,
        "input_tokens": usage.get("input_tokens", 0), "output_tokens": usage.get("output_tokens", 0),
        "latency_ms": latency_ms,
    }


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def render(result: dict[str, Any]) -> str:
    rows, aws = result["rows"], result["bedrock"] == "aws"
    grounded = sum(r["grounded"] for r in rows)
    followups = [r for r in rows if r["kind"] == "followup"]
    singles = [r for r in rows if r["kind"] != "followup"]
    false_nf = [(r["id"], term) for r in rows for term in r["false_not_found"]]
    first = [r["first_bytes"] for r in rows]
    calls = [r["model_calls"] for r in rows]
    out = ["## Eval results", "",
           f"Command: `make eval{' BEDROCK=aws' if aws else ''}`. {len(rows)} questions from `eval/questions.jsonl` "
           f"({sum(r['lang'] == 'ko' for r in rows)} Korean, {sum(r['lang'] == 'en' for r in rows)} English) over the "
           f"sample rows; model {'`' + result['model_id'] + '` on Amazon Bedrock' if aws else 'offline stand-in (not Claude)'}.", "",
           "| measure | result |", "|---|---|",
           f"| grounded: first model request carries every required fact | {grounded} / {len(rows)} ({_pct(grounded, len(rows))}) |",
           f"| grounded, follow-ups left out | {sum(r['grounded'] for r in singles)} / {len(singles)} "
           f"({_pct(sum(r['grounded'] for r in singles), len(singles))}) |",
           f"| grounded follow-ups (need conversation memory) | {sum(r['grounded'] for r in followups)} / {len(followups)} |",
           f"| follow-ups whose first request carries the earlier turn | "
           f"{sum(not r['memory_missing'] for r in followups)} / {len(followups)} |",
           f"| false \"not found\" statements | {len(false_nf)} |",
           f"| first request bytes: median / max | {statistics.median(first):,.0f} B / {max(first):,} B |",
           f"| model calls per question: mean / max | {statistics.mean(calls):.2f} / {max(calls)} |",
           f"| Data API calls per question: max | {max(r['data_calls'] for r in rows)} |",
           f"| answered with status 200 | {sum(r['status'] == 200 for r in rows)} / {len(rows)} |"]
    if "without_transliteration" in result:
        plain = result["without_transliteration"]
        other = [r for r in plain if r["kind"] == "other_script"]
        out += [f"| without the Hangul/Latin transliteration: other-script questions grounded | "
                f"{sum(r['grounded'] for r in other)} / {len(other)} (with it: "
                f"{sum(r['grounded'] for r in rows if r['kind'] == 'other_script')} / {len(other)}) |",
                f"| without the transliteration: first request median | {statistics.median(r['first_bytes'] for r in plain):,.0f} B |"]
    if aws:
        scored = [r for r in rows if r["status"] == 200]
        facts_ok = sum(not r["answer_missing"] for r in scored)
        forbidden = sum(bool(r["answer_forbidden"]) for r in scored)
        lang_ok = sum(r["language_ok"] for r in scored)
        tokens_in = [r["input_tokens"] for r in scored] or [0]
        tokens_out = [r["output_tokens"] for r in scored] or [0]
        latency = sorted(r["latency_ms"] for r in scored) or [0.0]
        price = PRICES.get(result["model_id"].split(".", 1)[-1] if result["model_id"].split(".", 1)[0] in
                           ("us", "eu", "apac", "jp", "au", "us-gov", "global") else result["model_id"])
        cost = (f"${(statistics.mean(tokens_in) * price[0] + statistics.mean(tokens_out) * price[1]) / 1e6:.5f}"
                if price else "no price in the table")
        out += [f"| answers with every required fact | {facts_ok} / {len(scored)} ({_pct(facts_ok, len(scored))}) |",
                f"| answers with a forbidden claim | {forbidden} |",
                f"| answers in the asker's language | {lang_ok} / {len(scored)} |",
                f"| tokens per question: input mean / output mean | {statistics.mean(tokens_in):,.0f} / {statistics.mean(tokens_out):,.0f} |",
                f"| latency per question: p50 / max | {statistics.median(latency):,.0f} ms / {max(latency):,.0f} ms |",
                f"| estimated cost per question | {cost} (prices as of {PRICES_AS_OF}) |"]
    out += ["", "### By kind", "", "| kind | questions | grounded | false not found | first request B (max) | model calls (max) |",
            "|---|---:|---:|---:|---:|---:|"]
    for kind in dict.fromkeys(r["kind"] for r in rows):
        group = [r for r in rows if r["kind"] == kind]
        out.append(f"| {kind} | {len(group)} | {sum(r['grounded'] for r in group)} | "
                   f"{sum(len(r['false_not_found']) for r in group)} | {max(r['first_bytes'] for r in group):,} | "
                   f"{max(r['model_calls'] for r in group)} |")
    out += ["", "### Not grounded", ""]
    out += [f"- `{r['id']}` {r['question']} — missing: {', '.join(r['missing'])}" for r in rows if not r["grounded"]] or ["- none"]
    if false_nf:
        out += ["", "### False \"not found\"", ""] + [f"- `{qid}`: {term}" for qid, term in false_nf]
    if aws:
        out += ["", "### Answers that missed a fact, made a forbidden claim or used the wrong language", ""]
        bad = [r for r in rows if r["answer_missing"] or r["answer_forbidden"] or not r["language_ok"]]
        out += [f"- `{r['id']}` missing {r['answer_missing']}, forbidden {r['answer_forbidden']}, language "
                f"{'ok' if r['language_ok'] else 'wrong'}: {r['answer'][:160]!r}" for r in bad] or ["- none"]
    return "\n".join(out) + "\n"


def render_families(rows: list[dict[str, Any]]) -> str:
    """The names set (eval/names.jsonl on eval/data): grounded and false "not found" per family."""
    grounded = sum(r["grounded"] for r in rows)
    out = ["## Names as staff type them (eval/names.jsonl, on eval/data)", "",
           f"{len(rows)} questions ({sum(r['lang'] == 'ko' for r in rows)} Korean, {sum(r['lang'] == 'en' for r in rows)} English);"
           f" grounded {grounded} / {len(rows)} ({_pct(grounded, len(rows))}); false \"not found\" "
           f"{sum(len(r['false_not_found']) for r in rows)}; Data API calls per question: max "
           f"{max((r['data_calls'] for r in rows), default=0)}; first request bytes: max {max((r['first_bytes'] for r in rows), default=0):,} B.", "",
           "| family | questions | grounded | score | false not found |", "|---|---:|---:|---:|---:|"]
    for family in dict.fromkeys(r["family"] for r in rows):
        group = [r for r in rows if r["family"] == family]
        ok = sum(r["grounded"] for r in group)
        out.append(f"| {family} | {len(group)} | {ok} | {_pct(ok, len(group))} | {sum(len(r['false_not_found']) for r in group)} |")
    out += ["", "### Names set: not grounded", ""]
    out += [f"- `{r['id']}` {r['question']} — missing: {', '.join(r['missing'])}" for r in rows if not r["grounded"]] or ["- none"]
    false_nf = [(r["id"], term) for r in rows for term in r["false_not_found"]]
    if false_nf:
        out += ["", "### Names set: false \"not found\"", ""] + [f"- `{qid}`: {term}" for qid, term in false_nf]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bedrock", choices=("local", "aws"), default="local")
    parser.add_argument("--db", default=os.environ.get("PETCLINIC_DB_URL"), help="mysql://... (default: SQLite)")
    parser.add_argument("--out", help="default: eval/results.md, or eval/results-aws.md with --bedrock aws")
    parser.add_argument("--only", help="comma-separated question ids (printed; written only with --out)")
    parser.add_argument("--names-db", help="mysql://... scratch database for the names set: its PetClinic tables are"
                        " REPLACED by eval/data (default: a private SQLite file)")
    args = parser.parse_args(argv)
    questions, names = load_questions(), load_questions(NAMES)
    if args.only:
        questions = [q for q in questions if q["id"] in args.only.split(",")]
        names = [q for q in names if q["id"] in args.only.split(",")]
    result = run(questions, args.bedrock, args.db) if questions else {"rows": []}
    if args.bedrock == "local" and questions:  # the transliteration's worth, measured on the same set (offline only: free)
        result["without_transliteration"] = run(questions, "local", args.db, transliterate=False)["rows"]
    names_rows = run(names, args.bedrock, args.names_db, data_files=NAMES_DATA)["rows"] if names else []
    text = (render(result) if questions else "") + ("\n" + render_families(names_rows) if names_rows else "")
    print(text)
    if args.out or not args.only:  # a partial run never overwrites the committed results
        out = Path(args.out or ROOT / "eval" / ("results-aws.md" if args.bedrock == "aws" else "results.md"))
        out.write_text(text, encoding="utf-8")
        print(f"written to {out}", file=sys.stderr)
    rows = result["rows"]
    ok = (not any(r["false_not_found"] or r["memory_missing"] for r in rows + names_rows)
          and all(r["status"] == 200 for r in rows + names_rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
