"""Plant plausible bugs one at a time and report how many the test suite catches (not run by make test).

Each mutant is a textual change to one file (the handler, a genai/ module or the local Data API), applied in a copy of the project; the suite (without
the Terraform checks and the benchmark smoke test, which do not cover this code) then runs there.
A mutant is caught when the suite fails. Usage: python bench/mutants.py [-j 4] [name ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LF, DATA = "lambda_function.py", "local/dataapi.py"

# name -> (file, [(old, new, which occurrence (0-based))])
MUTANTS: dict[str, tuple[str, list[tuple[str, str, int]]]] = {
    "search_visits off by one": ("genai/tools.py", [('"lim": limit + 1},\n    )\n    return _limited(rows, limit, "visits")',
                                       '"lim": limit},\n    )\n    return _limited(rows, limit, "visits")', 0)]),
    "date_to exclusive in search_visits": ("genai/tools.py", [("v.visit_date <= :date_to", "v.visit_date < :date_to", 0)]),
    "date_from exclusive in aggregate": ("genai/tools.py", [("v.visit_date >= :date_from", "v.visit_date > :date_from", 1)]),
    "_limited truncated >=": ("genai/tools.py", [('"truncated": len(rows) > limit}', '"truncated": len(rows) >= limit}', 0)]),
    "list_vets truncated >=": ("genai/tools.py", [("len(listed) > limit or", "len(listed) >= limit or", 0)]),
    "get_owner never truncated": ("genai/tools.py", [('"truncated": len(rows) > cap}', '"truncated": False}', 0)]),
    "tool bug escapes run_tool": ("genai/toolset.py", [('    except Exception:\n        logger.exception("tool failed"',
                                        '    except ZeroDivisionError:\n        logger.exception("tool failed"', 0)]),
    "maxTokens ignores the setting": ("genai/model.py", [
        ('"maxTokens": settings.max_output_tokens', '"maxTokens": config.DEFAULT_MAX_OUTPUT_TOKENS', 0)]),
    "temperature 0.7": ("genai/model.py", [('"temperature": 0}', '"temperature": 0.7}', 0)]),
    "read timeout not a 504": ("genai/model.py", [("except ReadTimeoutError as err:\n            logger.warning(\"bedrock",
                                     "except ZeroDivisionError as err:\n            logger.warning(\"bedrock", 0)]),
    "Cache-Control dropped": ("genai/responses.py", [('"Cache-Control": "no-store", ', "", 0)]),
    "ko-KR not understood": ("genai/facts.py", [('{"ko": "Korean", "en": "English"}.get(question.language.split("-")[0]',
                                   '{"ko": "Korean", "en": "English"}.get(question.language', 0)]),
    "question text logged at DEBUG": (LF, [("        bound = budget._DEADLINE.set(deadline)",
                                            '        logger.debug("question", extra={"q": question and question.text})\n'
                                            "        bound = budget._DEADLINE.set(deadline)", 0)]),
    "botocore retries again": ("genai/clients.py", [('"total_max_attempts": 1}', '"total_max_attempts": 3}', 0)]),
    "model tried four times": ("genai/model.py", [("for attempt in (1, 2):", "for attempt in (1, 2, 3, 4):", 0),
                                    ("attempt == 1 and (", "attempt < 4 and (", 0)]),
    "short rows accepted": ("genai/dataapi.py", [("not isinstance(record, list) or len(record) != len(columns)",
                                  "not isinstance(record, list)", 0)]),
    "no result set = no rows": ("genai/dataapi.py", [('("records" not in response and "columnMetadata" not in response)', "False", 0)]),
    "bare 5xx not transient": ("genai/clients.py", [('return code.isdigit() and code.startswith("5")', "return False", 0)]),
    "database call ignores the model reserve": ("genai/dataapi.py", [("budget_s(config.RESPONSE_RESERVE_MS + reserve_ms)",
                                                                    "budget_s(0)", 0)]),
    "no cap on tool calls per turn": ("genai/model.py", [("if index >= config.MAX_TOOL_CALLS_PER_ROUND:", "if index >= 1000:", 0)]),
    "huge tool input echoed back": ("genai/model.py", [('"input": {"omitted": "input too large"} if oversized else tool_use.get("input")',
                                          '"input": tool_use.get("input")', 0)]),
    "max_tokens passed off as complete": ("genai/model.py", [('turn.stop_reason == "max_tokens"', "False", 0)]),
    "any tool name logged": ("genai/toolset.py", [('return name if known_tool(name) else "unknown"', "return str(name)", 0)]),
    "FATAL log level unmapped": ("genai/log.py", [('"FATAL": logging.CRITICAL,', "", 0)]),
    "output tokens miscounted": ("genai/budget.py", [("self.output_tokens += counts[1]", "self.output_tokens += counts[0]", 0)]),
    "errors not counted in EMF": ("genai/metrics.py", [('"Errors": int(error_code is not None),', '"Errors": 0,', 0)]),
    "five entities become six": ("genai/facts.py", [("PREFETCH_ENTITIES = 5", "PREFETCH_ENTITIES = 6", 0)]),
    # Limits, callers and writes for signed-in principals (the public-internet work)
    "window condition off by one": ("genai/limits.py", [("(attribute_not_exists(n) OR n < :limit)", "(attribute_not_exists(n) OR n <= :limit)", 0)]),
    "retried request counted again": ("genai/limits.py", [("if isinstance(tags, list) and tag in tags:\n            return None",
                                            "if False:\n            return None", 0)]),
    "left-most X-Forwarded-For trusted": ("genai/callers.py", [("index = len(chain) - 1 - settings.trusted_proxy_hops", "index = 0", 0)]),
    "viewer address ignored": ("genai/callers.py", [('if source == "viewer" and call.headers.get("cloudfront-viewer-address"):',
                                     "if False:", 0)]),
    "IPv6 per address, not /64": ("genai/callers.py", [('str(ipaddress.ip_network(f"{ip}/64", strict=False))', "str(ip)", 0)]),
    "limits checked after the model": ("lambda_function.py", [("            admission.check(deadline, usage)  # over a limit",
                                             "            pass  # over a limit", 0)]),
    "cap off by the anonymous share": ("genai/config.py", [("ANONYMOUS_CAP_SHARE = 0.8", "ANONYMOUS_CAP_SHARE = 1.0", 0)]),
    "cap fails open": ("genai/limits.py", [("if last is None or last[0] != day or self.now - last[2] > BUDGET_STALE_S:",
                             "if last is not None and last[0] != day:", 0),
                            ("used = last[1]", "used = last[1] if last else 0", 0)]),
    "windows fail open without a local count": ("genai/limits.py", [("count_locally(w, self.now) if isinstance(result, BaseException)",
                                                      "None if isinstance(result, BaseException)", 0)]),
    "tokens not charged to the day": ("genai/limits.py", [("counters = [(_budget_key(self.now), day_ends + 86_400)]", "counters = []", 0)]),
    "client tokens not counted": ("genai/limits.py", [
        ("                            settings.client_tokens_per_day))", "                            0))", 0)]),
    "ALB headers trusted without ALB auth": ("genai/callers.py", [("if not settings.alb_oidc_auth:", "if False:", 0)]),
    "anonymous may write": ("genai/callers.py", [("        if self.principal is None:\n            return False",
                                  "        if self.principal is None:\n            return True", 0)]),
    "write groups ignored": ("genai/callers.py", [
        ("return not settings.write_groups or bool(self.principal.groups & settings.write_groups)", "return True", 0)]),
    "another principal may confirm": ("genai/writes.py", [('if item.get("principal", {}).get("S") != scope.principal:', "if False:", 0)]),
    "e-mail principal ids kept": ("genai/callers.py", [('if "@" in value else value', "if False else value", 0)]),
    "staff history shown to strangers": ("genai/memory.py", [('if item.get("asker", {}).get("S", "") != asker_id:', "if False:", 0)]),
    "cross-site questions answered": ("genai/callers.py", [('if call.headers.get("sec-fetch-site", "").lower() != "cross-site":', "if True:", 0)]),
    "token ceiling ignored": ("genai/model.py", [("if usage.input_tokens + usage.output_tokens >= config.QUESTION_TOKEN_CEILING:",
                                                  "if False:", 0)]),
    "refusals not remembered": ("genai/limits.py", [("        if known:  # refused here", "        if False:  # refused here", 0)]),
    "load over existing tables": (DATA, [("if found and not replace:", "if False:", 0)]),
    "schema inherits the server charset": (DATA, [('s + " DEFAULT CHARSET=utf8mb4"', "s", 0)]),
    "failed MySQL load not undone": (DATA, [("_drop(conn.cursor(), backend, created)", "pass", 0)]),
}


def _apply(text: str, old: str, new: str, which: int) -> str:
    start = -1
    for _ in range(which + 1):
        start = text.find(old, start + 1)
        if start < 0:
            raise ValueError(f"mutation target not found: {old[:60]!r}")
    return text[:start] + new + text[start + len(old):]


def run_one(name: str) -> tuple[str, bool, float, str]:
    path, changes = MUTANTS[name]
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        copy = Path(tmp) / "project"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv*", ".git", "build", "__pycache__",
                                                                  ".pytest_cache", ".terraform*", "*.tfstate*"))
        target = copy / path
        text = target.read_text(encoding="utf-8")
        for old, new, which in changes:
            text = _apply(text, old, new, which)
        target.write_text(text, encoding="utf-8")
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               "--ignore=tests/terraform", "--deselect",
                               "tests/unit/test_bench.py::test_bench_runs_and_reports_every_target"],
                              cwd=copy, capture_output=True, text=True, timeout=900, check=False)
        failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
        return name, done.returncode != 0, time.perf_counter() - started, (failed[0] if failed else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("-j", "--jobs", type=int, default=4)
    args = parser.parse_args(argv)
    names = args.names or list(MUTANTS)
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_one, names))
    caught = 0
    for name, killed, seconds, first in results:
        caught += killed
        print(f"{'caught ' if killed else 'MISSED '} {seconds:5.0f} s  {name}" + (f"  <- {first}" if first else ""))
    print(f"\n{caught} of {len(results)} planted bugs caught ({100 * caught / len(results):.0f}%)")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
