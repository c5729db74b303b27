"""``make run``: ask the real handler a question against local endpoints on 127.0.0.1.

Starts the local Data API (SQLite by default, or MySQL/MariaDB with --db mysql://...) and, unless
--bedrock aws, the offline model stand-in; points boto3 at them through
AWS_ENDPOINT_URL_RDS_DATA / AWS_ENDPOINT_URL_BEDROCK_RUNTIME; invokes ``lambda_handler`` as the
chat page's visitor asks through CloudFront and API Gateway (an anonymous REST event; --caller staff
signs in, --caller operator sends the seed's bare payload, a direct invoke); prints the response;
stops the servers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local import dataapi, dynamodb, model_standin  # noqa: E402

DEFAULT_QUESTIONS = ("Coco라는 반려동물을 키우고 있는 사람은 누구야?", "Who owns Leo?")
LOCAL_CLUSTER_ARN = "arn:aws:rds:ap-northeast-2:000000000000:cluster:petclinic-local"
LOCAL_SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-2:000000000000:secret:petclinic-local-AbCdEf"


class FakeContext:
    """The parts of the Lambda context object the handler uses."""

    def __init__(self, timeout_s: float = 60.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "petclinic-genai-local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))



def signed_conversation_id(name: str) -> str:
    """The conversation id the handler issues for ``name`` (the same name, the same id) under the
    configured CONVERSATION_KEY: for tests and tools that continue a conversation they name. A real
    client continues the id the first answer returned."""
    from genai import config, memory

    return memory.issue_conversation_id(config.settings_once(), hashlib.sha256(name.encode()).hexdigest()[:32])

class JsonLogFormatter(logging.Formatter):
    """Roughly what Lambda's JSON log format prints, so local logs look like CloudWatch's."""

    _skip = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        entry.update({k: v for k, v in vars(record).items() if k not in self._skip and k != "message"})
        if record.exc_info:
            entry["stackTrace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


@contextmanager
def local_endpoints(db_url: str | None, bedrock: str = "local", load: bool = True,
                    replace: bool = False, memory: bool = False, limits: bool = False,
                    data_files: list[Path] | None = None) -> Iterator[dict[str, Any]]:
    """Start the endpoints, set the environment the handler reads, and undo both afterwards.

    ``load`` creates the schema and sample rows in a database without PetClinic tables; a database
    that has them is used as it is (the handler only reads), unless ``replace`` asks to drop them
    and load the sample instead. The benchmark brings its own database (load=False).
    ``memory`` adds moto's DynamoDB server with the conversation table and turns memory on;
    ``limits`` also turns on the rate limits and the daily cap (the limits table, same server).
    ``data_files`` loads other rows than the sample's (the names eval's clinic, eval/data/*.sql)."""
    saved = dict(os.environ)
    servers = []
    stops = []
    with tempfile.TemporaryDirectory(prefix="petclinic-") as tmp:
        backend = dataapi.backend_from_url(db_url or f"sqlite:///{tmp}/petclinic.sqlite")
        if load:
            try:
                dataapi.load_database(backend, replace=replace, data_files=data_files)
            except dataapi.ExistingData:
                print("Using the PetClinic tables already in the database, unchanged (REPLACE_SAMPLE_DATA=1 /"
                      " --replace-sample-data would DROP them and load the sample rows).", file=sys.stderr)
        data_server, data_url, api = dataapi.serve(backend)
        servers.append(data_server)
        os.environ.update(
            AWS_ENDPOINT_URL_RDS_DATA=data_url,
            DB_CLUSTER_ARN=LOCAL_CLUSTER_ARN,
            DB_SECRET_ARN=LOCAL_SECRET_ARN,
            DB_NAME="petclinic",
        )
        standin = None
        if bedrock == "local":
            model_server, model_url, standin = model_standin.serve()
            servers.append(model_server)
            os.environ.update(
                AWS_ENDPOINT_URL_BEDROCK_RUNTIME=model_url,
                AWS_ACCESS_KEY_ID="local",
                AWS_SECRET_ACCESS_KEY="local",
                AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "ap-northeast-2"),
            )
            os.environ.pop("AWS_SESSION_TOKEN", None)
            os.environ.pop("AWS_PROFILE", None)
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "ap-northeast-2"
        os.environ.setdefault("AWS_DEFAULT_REGION", region)
        if memory or limits:
            moto_server, moto_url = dynamodb.serve(region)
            stops.append(moto_server.stop)
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = moto_url
            if memory:
                os.environ["CONVERSATION_TABLE"] = dynamodb.TABLE
                # Terraform generates the deployed key; locally one per run (children inherit it).
                os.environ.setdefault("CONVERSATION_KEY", secrets.token_hex(32))
            if limits:
                os.environ["LIMITS_TABLE"] = dynamodb.LIMITS_TABLE
        try:
            yield {"data_api": api, "standin": standin, "backend": backend}
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
            for stop in stops:
                stop()
            os.environ.clear()
            os.environ.update(saved)


def seed_event(question: str) -> dict[str, Any]:
    """The payload the seed README's ``aws lambda invoke`` example sends (a direct invoke: the operator)."""
    return {"body": json.dumps({"question": question}, ensure_ascii=False)}


def api_event(question: str, staff: str | None = None) -> dict[str, Any]:
    """The REST (payload 1.0) event API Gateway sends for a question from the chat page behind
    CloudFront: anonymous, or signed in through a Cognito authorizer as ``staff`` (its sub)."""
    context: dict[str, Any] = {"apiId": "local", "stage": "v1", "identity": {"sourceIp": "130.176.1.1"}}
    if staff:
        context["authorizer"] = {"claims": {"sub": staff}}
    return {"httpMethod": "POST", "path": "/api/genai", "requestContext": context,
            "headers": {"Content-Type": "application/json", "CloudFront-Viewer-Address": "198.51.100.7:50123"},
            "body": json.dumps({"question": question}, ensure_ascii=False)}


CALLERS = {"anonymous": api_event, "staff": lambda q: api_event(q, "local-staff"), "operator": seed_event}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("question", nargs="*", help="default: " + " / ".join(DEFAULT_QUESTIONS))
    parser.add_argument("--db", default=os.environ.get("PETCLINIC_DB_URL"), help="mysql://... (default: SQLite)")
    parser.add_argument("--bedrock", choices=("local", "aws"), default="local",
                        help="local: offline stand-in (default); aws: real Bedrock with your credentials")
    parser.add_argument("--replace-sample-data", action="store_true",
                        default=os.environ.get("REPLACE_SAMPLE_DATA", "").lower() in ("1", "true", "yes"),
                        help="DROP the PetClinic tables of --db and load the sample rows (default: a database"
                             " that has PetClinic tables is used as it is, never changed); env REPLACE_SAMPLE_DATA=1")
    parser.add_argument("--caller", choices=tuple(CALLERS), default=os.environ.get("CALLER") or "anonymous",
                        help="anonymous: the chat page's visitor (default; reads within ANONYMOUS_READ_SCOPE); "
                             "staff: signed in; operator: the seed's direct invoke (env CALLER)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])

    questions = [" ".join(args.question)] if args.question else list(DEFAULT_QUESTIONS)
    with local_endpoints(args.db, args.bedrock, replace=args.replace_sample_data):
        import lambda_function

        worst = 0
        for question in questions:
            response = lambda_function.lambda_handler(CALLERS[args.caller](question), FakeContext())
            print(json.dumps(response, ensure_ascii=False, indent=2))
            body = json.loads(response["body"])
            print("\n" + (body.get("answer") or json.dumps(body.get("error"), ensure_ascii=False)))
            worst = max(worst, response["statusCode"])
    return 0 if worst < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
