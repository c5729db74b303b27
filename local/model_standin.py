"""An offline stand-in for Bedrock's Converse API. It is NOT Claude and says so in every answer.

It answers only from what the request carries: the facts block the handler prefetched, or the
toolResults of a tool call it asked for itself (chosen by simple keyword rules). That is enough
to run the handler's whole path offline - prefetch, tool loop, response - with real HTTP and
real boto3. Dev tooling only; point boto3 at it with ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from local import jsonhttp
from local.jsonhttp import JsonHandler

LABEL = {
    "ko": "[오프라인 대체 모델 - Claude 아님] ",
    "en": "[Offline stand-in model - not Claude] ",
}
_PET_FACT = re.compile(r'^- Pet "(?P<pet>[^"]+)" \((?P<type>[^,]+), born [^)]*\) is owned by (?P<owner>[^(]+?) \((?P<where>[^)]*)\)')
_COUNT = re.compile(r'^- (?P<n>\d+) (?:pet is|pets are) named "(?P<name>[^"]+)"\.$')
_NOT_FOUND = re.compile(r'^- No pet, owner, vet, city, pet type or specialty named "(?P<name>[^"]+)"')


def _language(text: str) -> str:
    match = re.search(r"Answer language: (\w+)", text)
    return "ko" if match and match.group(1).lower().startswith("korean") else "en"


def _fact_sentence(line: str, lang: str) -> str:
    pet = _PET_FACT.match(line)
    if pet:
        city = pet["where"].split(",")[-2].strip() if pet["where"].count(",") >= 2 else ""
        if lang == "ko":
            return f'{pet["pet"]}({pet["type"]})의 보호자는 {pet["owner"]} 님입니다' + (f" ({city})." if city else ".")
        return f'{pet["pet"]} ({pet["type"]}) belongs to {pet["owner"]}' + (f" of {city}." if city else ".")
    count = _COUNT.match(line)
    if count:
        if count["n"] == "1":
            return ""  # the pet's own line follows
        if lang == "ko":
            return f'"{count["name"]}"라는 이름의 반려동물은 {count["n"]}마리입니다.'
        return f'{count["n"]} pets are named "{count["name"]}".'
    missing = _NOT_FOUND.match(line)
    if missing:
        if lang == "ko":
            return f'"{missing["name"]}"(이)라는 이름은 데이터베이스에 없습니다.'
        return f'There is no "{missing["name"]}" in the database.'
    return line.lstrip("- ")


def _pick_tool(question: str) -> tuple[str, dict[str, Any]]:
    q = question.lower()
    if re.search(r"how many|count|number of|몇|총|통계", q):
        if re.search(r"city|cities|도시|지역", q):
            return "aggregate", {"metric": "owners_per_city"}
        if re.search(r"special|전문", q):
            return "aggregate", {"metric": "vets_per_specialty"}
        if re.search(r"type|kind|cat|dog|종류|고양이|강아지", q):
            return "aggregate", {"metric": "pets_per_type"}
        if re.search(r"visit|방문|진료", q):
            return "aggregate", {"metric": "visits_in_period"}
        return "aggregate", {"metric": "totals"}
    if re.search(r"\bvets?\b|veterinar|수의사|의사", q):
        return "list_vets", {}
    if re.search(r"visit|방문|진료", q):
        return "search_visits", {"limit": 10}
    return "search_owners", {"limit": 10}


def respond(request: dict[str, Any]) -> dict[str, Any]:
    """The whole stand-in: one Converse response for one Converse request."""
    messages = request.get("messages") or []
    first_text = "".join(b.get("text", "") for b in (messages[0].get("content") if messages else []) or [])
    lang = _language(first_text)
    question = first_text.split("Question:", 1)[-1].strip()
    last = messages[-1].get("content", []) if messages else []
    results = [b["toolResult"] for b in last if "toolResult" in b]
    content: list[dict[str, Any]]
    if results:
        parts = []
        for result in results:
            for block in result.get("content", []):
                data = block.get("json", block.get("text"))
                parts.append(json.dumps(data, ensure_ascii=False)[:1500])
        intro = "도구 결과:" if lang == "ko" else "Tool results:"
        content, stop = [{"text": LABEL[lang] + intro + "\n" + "\n".join(parts)}], "end_turn"
    else:
        facts = [line for line in first_text.splitlines() if line.startswith("- ")]
        if facts:
            sentences = [sentence for sentence in (_fact_sentence(f, lang) for f in facts) if sentence]
            content = [{"text": LABEL[lang] + " ".join(sentences)}]
            stop = "end_turn"
        else:
            name, args = _pick_tool(question)
            content = [{"toolUse": {"toolUseId": "tooluse_" + uuid.uuid4().hex[:20], "name": name, "input": args}}]
            stop = "tool_use"
    size_in = len(json.dumps(request, ensure_ascii=False))
    out_tokens = sum(len(json.dumps(b, ensure_ascii=False)) for b in content) // 4
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": size_in // 4, "outputTokens": out_tokens, "totalTokens": size_in // 4 + out_tokens},
        "metrics": {"latencyMs": 1},
    }


class StandIn:
    """Keeps what it received (sizes and model IDs) so tests and the benchmark can look."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()


class _Handler(JsonHandler):
    standin: StandIn

    def do_POST(self) -> None:
        raw = self.read_body()
        match = re.fullmatch(r"/model/([^/]+)/converse", self.path)
        if not match:
            self.send_json(404, {"message": "Only Converse is offered offline"}, "ResourceNotFoundException")
            return
        try:
            request = json.loads(raw)
        except ValueError:
            self.send_json(400, {"message": "Malformed request"}, "ValidationException")
            return
        with self.standin.lock:
            self.standin.requests.append({"model_id": unquote(match.group(1)), "bytes": len(raw),
                                          "messages": request.get("messages")})
        self.send_json(200, respond(request))


def serve(port: int = 0) -> tuple[ThreadingHTTPServer, str, StandIn]:
    standin = StandIn()
    server, url = jsonhttp.serve(type("Handler", (_Handler,), {"standin": standin}), "model-standin", port)
    return server, url, standin
