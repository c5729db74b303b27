"""``make chat``: a terminal conversation with the real handler, with memory.

Starts the same local endpoints as ``make run`` plus moto's DynamoDB server (conversation
memory), then asks each line you type with one conversation_id, so follow-ups work ("Who owns
Coco?" then "Where does she live?"). The model is the offline stand-in (not Claude) unless
--bedrock aws. Commands: /new starts a new conversation, /quit (or Ctrl-D) ends.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local.run import FakeContext, local_endpoints


def chat(lines: IO[str], out: IO[str], prompt: str = "") -> int:
    """Ask every line in one conversation; returns the number of failed questions."""
    import lambda_function

    conversation_id, failures = uuid.uuid4().hex, 0
    out.write(prompt)
    out.flush()
    for line in lines:
        question = line.strip()
        if question in ("/quit", "/exit"):
            break
        if question == "/new":
            conversation_id = uuid.uuid4().hex
            out.write("(new conversation)\n" + prompt)
            out.flush()
            continue
        if question and not prompt:  # input from a pipe: show it, so the transcript reads as a conversation
            out.write(f"> {question}\n")
        if question:
            event = {"question": question, "conversation_id": conversation_id}
            response = lambda_function.lambda_handler(event, FakeContext())
            body = json.loads(response["body"])
            if response["statusCode"] == 200:
                out.write(body["answer"] + "\n")
            else:
                failures += 1
                out.write(f'[{response["statusCode"]} {body["error"]["code"]}] {body["error"]["message"]}\n')
        out.write(prompt)
        out.flush()
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("PETCLINIC_DB_URL"), help="mysql://... (default: SQLite)")
    parser.add_argument("--bedrock", choices=("local", "aws"), default="local")
    parser.add_argument("--writes", action="store_true", default=os.environ.get("WRITES_ENABLED") == "true",
                        help="offer the write tools (confirmed first); also WRITES_ENABLED=true")
    args = parser.parse_args(argv)
    interactive = sys.stdin.isatty()
    with local_endpoints(args.db, args.bedrock, memory=True):
        os.environ["WRITES_ENABLED"] = "true" if args.writes else "false"
        if interactive:
            model = "real Bedrock" if args.bedrock == "aws" else "the offline stand-in (not Claude)"
            print(f"PetClinic assistant, {model}, with conversation memory. /new, /quit.")
        failures = chat(sys.stdin, sys.stdout, "> " if interactive else "")
    return 1 if failures and not interactive else 0


if __name__ == "__main__":
    sys.exit(main())
