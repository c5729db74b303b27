"""`make smoke`: after `make apply`, invoke the deployed function twice through the AWS CLI v2 and say
plainly what failed.

1. health, deep: GET /api/genai/health?deep=1 (the configuration, and one `SELECT 1` through the Data
   API: the cluster ARN, the secret, the Data API and the role's rds-data/secretsmanager grants);
2. one question (Q, or the seed's question): Bedrock model access, the database's PetClinic rows.

Each answer is checked as JSON. Exit status 0 when both pass, 1 when a check failed, 2 on usage.
Standard library only; the Makefile passes the function name (and --qualifier live when the layer
made the alias) from `terraform output`."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_QUESTION = "Coco라는 반려동물을 키우고 있는 사람은 누구야?"
HEALTH_EVENT = {"httpMethod": "GET", "path": "/api/genai/health", "queryStringParameters": {"deep": "1"},
                "headers": {}, "body": None}

HINTS = {
    "health": "check that the function's role, subnets and security group reach the Data API (NAT or the rds-data "
              "endpoint), that the Data API is enabled on the cluster and that DB_SECRET_ARN is the cluster's secret "
              "(docs/deploy.md, steps 3 and 4)",
    "question": "check Bedrock model access for the model in the Region the inference profile routes to, and that "
                "the PetClinic rows are loaded (docs/deploy.md, steps 4 and 5); `make logs` shows the function's side",
}


class Failed(Exception):
    pass


def invoke(aws: str, function: str, qualifier: str | None, event: dict[str, Any], timeout: int) -> dict[str, Any]:
    """One `aws lambda invoke`; returns the function's response (the event it answered with)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "response.json"
        command = [aws, "lambda", "invoke", "--function-name", function, *(["--qualifier", qualifier] if qualifier else []),
                   "--cli-binary-format", "raw-in-base64-out", "--cli-read-timeout", str(timeout),
                   "--payload", json.dumps(event, ensure_ascii=False), str(out)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 30)
        except FileNotFoundError:
            raise Failed(f"the AWS CLI ({aws}) is not on PATH") from None
        except subprocess.TimeoutExpired:
            raise Failed(f"aws lambda invoke did not return within {timeout + 30} s") from None
        if done.returncode != 0:
            said = " ".join(done.stderr.split()) or " ".join(done.stdout.split())
            raise Failed(f"aws lambda invoke failed (exit {done.returncode}): {said or 'no message'}")
        try:
            meta = json.loads(done.stdout or "{}")
        except json.JSONDecodeError:
            meta = {}
        text = out.read_text(encoding="utf-8") if out.exists() else ""
        if meta.get("FunctionError"):
            raise Failed(f"the function crashed ({meta['FunctionError']}): {text.strip()[:500] or 'no payload'}")
        try:
            response = json.loads(text)
        except json.JSONDecodeError:
            raise Failed(f"the function's response is not JSON: {text.strip()[:300] or '(empty)'}") from None
    if not isinstance(response, dict):
        raise Failed(f"the function's response is not a JSON object: {text.strip()[:300]}")
    return response


def body_of(response: dict[str, Any]) -> tuple[int, Any]:
    """(statusCode, the decoded JSON body) of an HTTP-shaped answer."""
    status = response.get("statusCode")
    if not isinstance(status, int):
        raise Failed(f"the answer has no HTTP statusCode: {json.dumps(response, ensure_ascii=False)[:300]}")
    raw = response.get("body")
    try:
        body = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        raise Failed(f"HTTP {status}, and the body is not JSON: {str(raw)[:300]}") from None
    return status, body


def refused(status: int, body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"HTTP {status}, error {error.get('code', '?')}: {error.get('message', '')}".rstrip(": ")
        if isinstance(error, str):
            return f"HTTP {status}, error {body.get('code') or error}: {body.get('message', error)}"
    return f"HTTP {status}: {json.dumps(body, ensure_ascii=False)[:300]}"


def check_health(response: dict[str, Any]) -> str:
    status, body = body_of(response)
    if status != 200 or not isinstance(body, dict):
        raise Failed(refused(status, body))
    if body.get("status") != "ok":
        raise Failed(f"status is {body.get('status')!r}, not 'ok'")
    database = body.get("database")
    if not isinstance(database, dict) or database.get("status") != "ok":
        raise Failed(f"the deep check did not reach the database (database: {json.dumps(database)})")
    if not body.get("model_id"):
        raise Failed("the answer names no model_id")
    return (f"model {body['model_id']}, database {database.get('ms', '?')} ms, memory {body.get('memory')}, "
            f"writes {body.get('writes')}, limits {body.get('limits')}")


def check_answer(response: dict[str, Any]) -> str:
    status, body = body_of(response)
    if status != 200 or not isinstance(body, dict):
        raise Failed(refused(status, body))
    answer = body.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        raise Failed(f"no answer text in the body: {json.dumps(body, ensure_ascii=False)[:300]}")
    if body.get("truncated"):
        print("smoke: note: the answer was truncated (MAX_OUTPUT_TOKENS or the time budget)", file=sys.stderr)
    first = " ".join(answer.split())
    return f"{body.get('model_id', '?')}: {first[:160]}{'…' if len(first) > 160 else ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--function-name", required=True)
    parser.add_argument("--qualifier", default=None, help="the alias to call (live, with provisioned concurrency)")
    parser.add_argument("--question", default=os.environ.get("Q") or DEFAULT_QUESTION)
    parser.add_argument("--aws", default=os.environ.get("AWS_CLI", "aws"))
    parser.add_argument("--timeout", type=int, default=120, help="seconds to wait for each invocation")
    args = parser.parse_args(argv)
    if not args.function_name.strip():
        parser.error("--function-name is empty")

    target = args.function_name + (f":{args.qualifier}" if args.qualifier else "")
    question = {"body": json.dumps({"question": args.question}, ensure_ascii=False)}
    failures = 0
    for name, event, check in (("health", HEALTH_EVENT, check_health), ("question", question, check_answer)):
        try:
            said = check(invoke(args.aws, args.function_name, args.qualifier, event, args.timeout))
        except Failed as failure:
            failures += 1
            print(f"smoke: FAILED {name} ({target}): {failure}", file=sys.stderr)
            print(f"smoke:   what to check: {HINTS[name]}", file=sys.stderr)
        else:
            print(f"smoke: ok {name}: {said}")
    if failures:
        print(f"smoke: {failures} of 2 checks failed", file=sys.stderr)
        return 1
    print(f"smoke: {target} answers health (deep) and a question")
    return 0


if __name__ == "__main__":
    sys.exit(main())
