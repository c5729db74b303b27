"""`make smoke` (local/smoke.py) against a stubbed terraform and a stubbed AWS CLI: what it invokes, and
what it says when the deployed function's health or answer is wrong."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The stub AWS CLI: answers `--version`, records each call's arguments, and answers `lambda invoke`
# with SMOKE_HEALTH or SMOKE_ANSWER (the function's response) by the payload's path, or fails as told.
FAKE_AWS = """#!{python}
import json, os, sys
args = sys.argv[1:]
if args == ["--version"]:
    print(os.environ.get("SMOKE_AWS_VERSION", "aws-cli/2.17.0 Python/3.11"))
    sys.exit(0)
with open(os.environ["SMOKE_CALLS"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if os.environ.get("SMOKE_CLI_FAILS"):
    print(os.environ["SMOKE_CLI_FAILS"], file=sys.stderr)
    sys.exit(254)
payload = json.loads(args[args.index("--payload") + 1])
health = payload.get("path", "").endswith("/health")
with open(args[-1], "w") as out:
    out.write(os.environ["SMOKE_HEALTH" if health else "SMOKE_ANSWER"])
meta = {{"StatusCode": 200, "ExecutedVersion": "$LATEST"}}
if os.environ.get("SMOKE_FUNCTION_ERROR"):
    meta["FunctionError"] = os.environ["SMOKE_FUNCTION_ERROR"]
print(json.dumps(meta))
"""


def http(status: int, body: Any) -> str:
    return json.dumps({"statusCode": status, "headers": {"Content-Type": "application/json; charset=utf-8"},
                       "body": json.dumps(body, ensure_ascii=False)})


HEALTHY = http(200, {"status": "ok", "model_id": "global.anthropic.claude-haiku-4-5-20251001-v1:0", "memory": True,
                     "writes": False, "limits": True, "request_id": "r1", "database": {"status": "ok", "ms": 41}})
ANSWERED = http(200, {"answer": "Coco의 보호자는 이서연 님입니다.", "truncated": False,
                      "model_id": "global.anthropic.claude-haiku-4-5-20251001-v1:0", "request_id": "r2"})


def smoke(tmp_path: Path, health: str = HEALTHY, answer: str = ANSWERED, alias: bool = False,
          function_name: str = "petclinic-dev-genai", extra_env: dict[str, str] | None = None,
          target: str = "smoke") -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    if not shutil.which("make"):
        pytest.skip("no make here")
    calls = tmp_path / "aws.log"
    outputs = {"lambda_function_name": function_name}
    if alias:
        outputs["lambda_alias_arn"] = f"arn:aws:lambda:ap-northeast-2:123456789012:function:{function_name}:live"
    fake_tf = tmp_path / "terraform"
    fake_tf.write_text("#!/bin/sh\n" + "".join(
        f'[ "$1 $2 $3" = "output -raw {name}" ] && {{ printf %s "{value}"; exit 0; }}\n' for name, value in outputs.items())
        + "exit 1\n")
    (tmp_path / "aws").write_text(FAKE_AWS.format(python=sys.executable))
    for script in (fake_tf, tmp_path / "aws"):
        script.chmod(0o755)
    env = {**{k: v for k, v in os.environ.items() if k != "Q"}, "PATH": f"{tmp_path}:{os.environ['PATH']}", "SMOKE_CALLS": str(calls),
           "SMOKE_HEALTH": health, "SMOKE_ANSWER": answer, **(extra_env or {})}
    done = subprocess.run(["make", "--no-print-directory", target, f"TF={fake_tf}", f"PYTHON={sys.executable}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    logged = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    return done, logged


def test_healthy_function_passes_with_two_invokes(tmp_path: Path) -> None:
    done, calls = smoke(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ok health: model global.anthropic" in done.stdout and "database 41 ms" in done.stdout
    assert "ok question:" in done.stdout and "Coco의 보호자는" in done.stdout
    assert len(calls) == 2
    for call in calls:
        assert call[:4] == ["lambda", "invoke", "--function-name", "petclinic-dev-genai"]
        assert "--qualifier" not in call and call[call.index("--cli-binary-format") + 1] == "raw-in-base64-out"
    health = json.loads(calls[0][calls[0].index("--payload") + 1])
    assert (health["httpMethod"], health["path"], health["queryStringParameters"]) == ("GET", "/api/genai/health", {"deep": "1"})
    question = json.loads(json.loads(calls[1][calls[1].index("--payload") + 1])["body"])
    assert question == {"question": "Coco라는 반려동물을 키우고 있는 사람은 누구야?"}


def test_alias_and_question(tmp_path: Path) -> None:
    done, calls = smoke(tmp_path, alias=True, extra_env={"Q": "How many vets are there?"})
    assert done.returncode == 0, done.stderr
    assert all(call[call.index("--qualifier") + 1] == "live" for call in calls) and len(calls) == 2
    assert json.loads(json.loads(calls[1][calls[1].index("--payload") + 1])["body"]) == {"question": "How many vets are there?"}


@pytest.mark.parametrize(("health", "answer", "said"), [
    (http(502, {"error": {"code": "database_error", "message": "The database could not answer."}, "request_id": "r"}),
     ANSWERED, "FAILED health (petclinic-dev-genai): HTTP 502, error database_error: The database could not answer."),
    (http(200, {"status": "ok", "model_id": "m", "request_id": "r"}), ANSWERED,
     "FAILED health (petclinic-dev-genai): the deep check did not reach the database"),
    (HEALTHY, http(429, {"error": {"code": "daily_budget_exhausted", "message": "Try again tomorrow."}}),
     "FAILED question (petclinic-dev-genai): HTTP 429, error daily_budget_exhausted: Try again tomorrow."),
    (HEALTHY, http(200, {"answer": "  ", "model_id": "m"}), "FAILED question (petclinic-dev-genai): no answer text"),
    (HEALTHY, "Task timed out", "the function's response is not JSON: Task timed out"),
    (HEALTHY, json.dumps({"answer": "not HTTP-shaped"}), "the answer has no HTTP statusCode"),
    (HEALTHY, http(200, "not an object"), "FAILED question"),
], ids=["health-5xx", "health-not-deep", "question-refused", "empty-answer", "not-json", "no-status", "body-not-object"])
def test_each_failure_is_said_in_plain_words(tmp_path: Path, health: str, answer: str, said: str) -> None:
    done, calls = smoke(tmp_path, health=health, answer=answer)
    assert done.returncode != 0
    assert said in done.stderr, done.stderr
    assert "what to check:" in done.stderr and "1 of 2 checks failed" in done.stderr
    assert len(calls) == 2  # the other check still runs


def test_a_crash_and_a_cli_failure_are_told_apart(tmp_path: Path) -> None:
    done, _ = smoke(tmp_path, answer=json.dumps({"errorMessage": "boom", "errorType": "Runtime.ImportModuleError"}),
                    extra_env={"SMOKE_FUNCTION_ERROR": "Unhandled"})
    assert done.returncode != 0 and "the function crashed (Unhandled)" in done.stderr and "ImportModuleError" in done.stderr
    done, _ = smoke(tmp_path, extra_env={"SMOKE_CLI_FAILS": "An error occurred (AccessDeniedException): not authorized"})
    assert done.returncode != 0 and "aws lambda invoke failed (exit 254): An error occurred (AccessDeniedException)" in done.stderr
    assert "2 of 2 checks failed" in done.stderr


def test_no_deployment_means_no_invoke(tmp_path: Path) -> None:
    done, calls = smoke(tmp_path, function_name="")
    assert done.returncode != 0 and "is empty or missing" in done.stderr and "make apply" in done.stderr
    assert not calls


def test_aws_cli_v1_is_refused(tmp_path: Path) -> None:
    done, calls = smoke(tmp_path, extra_env={"SMOKE_AWS_VERSION": "aws-cli/1.45.11 Python/3.11"})
    assert done.returncode != 0 and "needs the AWS CLI v2" in done.stderr and not calls
