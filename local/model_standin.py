"""An offline stand-in for Bedrock's Converse API. It is NOT Claude and says so in every answer.

It answers only from what the request carries: the facts document the handler prefetched, or the
toolResults of a tool call it asked for itself (chosen by simple keyword rules), in plain sentences in
the asker's language. Greetings and questions outside the clinic's data get an honest short reply;
relative periods ("last year") are declined rather than guessed. A follow-up that brings no facts
of its own ("Where does she live?" after "Who owns Coco?") is answered from the most recent earlier
answer in the conversation history, and says so. That is enough
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
    "ko": "(오프라인 대체 모델 - Claude 아님) ",
    "en": "(Offline stand-in model - not Claude) ",
}
_GREETING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|안녕|반가워|반갑습니다)", re.IGNORECASE)
_IN_SCOPE = re.compile(
    r"own|pet|vet|visit|clinic|cat|dog|bird|hamster|snake|lizard|special|surgery|radiology|dentist|city|how many"
    r"|보호자|주인|반려|동물|수의사|의사|방문|진료|고양이|강아지|병원|도시|전문|몇|마리|고객|종류",
    re.IGNORECASE)
_OUT_OF_SCOPE = re.compile(r"weather|news|stock|joke|recipe|translate|날씨|뉴스|주식|농담|요리|번역", re.IGNORECASE)
# A question that points back at an earlier turn ("his phone", "그 사람"): answered from history.
_REFERS_BACK = re.compile(r"\b(he|she|his|her|hers|him|they|their|theirs|them)\b|(^|\s)[그이저]\s|그분|그녀|걔|거기",
                          re.IGNORECASE)
_EARLIER = {"ko": "앞선 대화에서 답한 내용입니다: ", "en": "From earlier in this conversation: "}
_RELATIVE_TIME = re.compile(r"작년|올해|지난|이번 달|어제|오늘|last (year|month|week)|this (year|month|week)|yesterday|today",
                            re.IGNORECASE)


# Asks for an owner's contact details; asks only for clinic-level data (answered even under "clinic").
_ASKS_CONTACT = re.compile(r"phone|telephone|\btel\b|address|where does|live|연락|전화|주소|사는|살아", re.IGNORECASE)
_CLINIC_LEVEL = re.compile(r"\bvets?\b|veterinar|special|how many|count|number of|type|수의사|전문|몇|종류|통계",
                           re.IGNORECASE)

_KO_TOTALS = {"owners": "보호자", "pets": "반려동물", "vets": "수의사", "visits": "방문", "pet_types": "동물 종류",
              "specialties": "전문 분야"}


def _name(first: Any, last: Any) -> str:
    """Korean names read family name first, as the handler shows them."""
    text = f"{first}{last}"
    return f"{last}{first}" if any("\uac00" <= ch <= "\ud7a3" for ch in text) else f"{first} {last}"


def _t(lang: str, ko: str, en: str) -> str:
    return ko if lang == "ko" else en


def current_turn(messages: list[dict[str, Any]]) -> tuple[str, str, dict[str, Any] | None]:
    """(language, question, facts) of the last user message that carries text; earlier turns are history."""
    for message in reversed(messages):
        texts = [b["text"] for b in message.get("content") or [] if isinstance(b, dict) and "text" in b]
        if message.get("role") != "user" or not any(t.startswith("Question: ") for t in texts):
            continue
        header = "\n".join(t for t in texts if not t.startswith("Question: "))
        question = next(t for t in texts if t.startswith("Question: "))[len("Question: "):]
        match = re.search(r"Answer language: (\w+)", header)
        lang = "ko" if match and match.group(1).lower().startswith("korean") else "en"
        facts = None
        if "\n<facts>\n" in header:
            facts = json.loads(header.split("\n<facts>\n", 1)[1].split("\n</facts>", 1)[0])
        return lang, question.strip(), facts
    return "en", "", None


def earlier_answer(messages: list[dict[str, Any]]) -> str | None:
    """The most recent earlier assistant answer (history), without the stand-in's own prefixes."""
    for message in reversed(messages[:-1]):
        texts = [b["text"] for b in message.get("content") or [] if isinstance(b, dict) and "text" in b]
        if message.get("role") != "assistant" or not texts:
            continue
        text = " ".join(texts).strip()
        for prefix in (*LABEL.values(), *_EARLIER.values()):
            text = text.removeprefix(prefix.strip()).strip()
        return text or None
    return None


def _people(items: list[dict[str, Any]], lang: str) -> str:
    return ", ".join(f'{o["name"]} ({o.get("city") or ""})' for o in items)


def _fact_sentences(facts: dict[str, Any], lang: str) -> list[str]:
    """Plain sentences from the facts document, in the asker's language."""
    out = []
    for pet in facts.get("pets", []):
        visits = "; ".join(f'{v["date"]} {v["description"]}' for v in pet.get("latest_visits", []))
        tel = pet.get("telephone")  # absent when the caller's read scope withholds it
        out.append(_t(lang, f'{pet["name"]}({pet["type"]})의 보호자는 {pet["owner"]} 님입니다 ({pet["city"]}'
                            + (f', 전화 {tel}' if tel else "") + ").",
                      f'{pet["name"]} ({pet["type"]}) belongs to {pet["owner"]} of {pet["city"]}' + (f' (tel {tel})' if tel else "") + "."))
        if visits:
            out.append(_t(lang, f"최근 방문: {visits}.", f"Latest visits: {visits}."))
    for owner in facts.get("owners", []):
        pets = ", ".join(f'{p["name"]}({p["type"]})' for p in owner["pets"]) or _t(lang, "없음", "none")
        where = ", ".join(str(owner[k]) for k in ("address", "city") if owner.get(k))
        tel = owner.get("telephone")
        out.append(_t(lang, f'{owner["name"]} 님: {where}' + (f', 전화 {tel}' if tel else "") + f'; 반려동물: {pets}.',
                      f'{owner["name"]}: {where}' + (f', tel {tel}' if tel else "") + f'; pets: {pets}.'))
    for key, ko, en in (("vets", "수의사", "Vet"), ("vets_with_named_specialty", "해당 분야 수의사", "Vet with that specialty"),
                        ("all_vets", "수의사", "Vet")):
        for vet in facts.get(key, []):
            specialties = ", ".join(vet["specialties"]) or _t(lang, "전문 분야 없음", "no specialty")
            out.append(_t(lang, f'{ko} {vet["name"]}: {specialties}.', f'{en} {vet["name"]}: {specialties}.'))
    if facts.get("owners_in_named_city"):
        names = _people(facts["owners_in_named_city"], lang)
        out.append(_t(lang, f"그 도시에 사는 보호자: {names}.", f"Owners living there: {names}."))
    if facts.get("pets_of_named_type"):
        pets = ", ".join(f'{p["name"]} ({p["type"]}, {p["owner"]})' for p in facts["pets_of_named_type"])
        out.append(_t(lang, f"해당 종류의 반려동물: {pets}.", f"Pets of that type: {pets}."))
    if "period" in facts:
        period = facts["period"]
        out.append(_t(lang, f'{period["from"]}부터 {period["to"]}까지 방문은 {period["visits"]}건입니다.',
                      f'{period["visits"]} visits between {period["from"]} and {period["to"]}.'))
        for pet in facts.get("pets_visited_in_period", []):
            visits = "; ".join(f'{v["date"]} {v["description"]}' for v in pet["visits_in_period"])
            out.append(f'{pet["name"]} ({pet["owner"]}): {visits}.')
    for count in facts.get("counts", []):
        if count["what"] == "pets named" and count["count"] > 1:
            out.append(_t(lang, f'"{count["name"]}"라는 이름의 반려동물은 {count["count"]}마리입니다.',
                          f'{count["count"]} pets are named "{count["name"]}".'))
        elif count["what"] in ("pets of type", "owners in city", "vets with specialty"):
            out.append(_t(lang, f'{count["name"]}: {count["count"]}', f'{count["what"]} {count["name"]}: {count["count"]}.'))
    for key, ko, en in (("owners_per_city", "도시별 보호자 수", "Owners per city"), ("pets_per_type", "종류별 반려동물 수", "Pets per type"),
                        ("vets_per_specialty", "분야별 수의사 수", "Vets per specialty")):
        if key in facts:
            groups = ", ".join(f"{label} {n}" for label, n in facts[key].items())
            out.append(_t(lang, f"{ko}: {groups}.", f"{en}: {groups}."))
    if "totals" in facts and "period" not in facts:
        totals = ", ".join(f"{_KO_TOTALS.get(k, k) if lang == 'ko' else k} {v}" for k, v in facts["totals"].items())
        out.append(_t(lang, f"전체 수: {totals}.", f"In total: {totals}."))
    for missing in facts.get("not_found", []):
        term = missing["term"]
        out.append(_t(lang, f'"{term}"에 해당하는 이름은 찾지 못했습니다 ({"한글" if missing["script"] == "Hangul" else "로마자"}로 검색함; '
                            "다른 표기로 저장되어 있을 수 있습니다).",
                      f'I found no "{term}" (searched as written, in {missing["script"]} script; it may be stored in the other script).'))
    return out


def _result_sentences(data: Any, lang: str) -> list[str]:
    """Plain sentences from one tool result (never the raw JSON)."""
    if not isinstance(data, dict):
        return [_t(lang, "조회에 실패했습니다.", "The lookup failed.") + f" {data}"]
    if data.get("status") == "awaiting_confirmation":  # the handler appends the exact proposal after this
        return [_t(lang, "변경 사항을 제안했습니다.", "I have proposed the change.")]
    if "groups" in data:
        groups = ", ".join(f'{g["label"]} {g["count"]}' for g in data["groups"])
        return [_t(lang, f"집계 결과: {groups}.", f"Counts: {groups}.")]
    if data.get("metric") == "visits_in_period":
        span = f'{data["date_from"]} ~ {data["date_to"]}' if data["date_from"] or data["date_to"] else _t(lang, "전체 기간", "all time")
        return [_t(lang, f"방문 {data['visits']}건 ({span}).", f"{data['visits']} visits ({span}).")]
    if data.get("metric") == "totals":
        totals = ", ".join(f"{_KO_TOTALS.get(k, k) if lang == 'ko' else k} {v}" for k, v in data.items() if k != "metric")
        return [_t(lang, f"전체 수: {totals}.", f"In total: {totals}.")]
    if "owners" in data:
        return [", ".join(f'{_name(o["first_name"], o["last_name"])} ({o["city"]})' for o in data["owners"]) or _t(lang, "없음.", "None.")]
    if "pets" in data and "owner" not in data:
        return [", ".join(f'{p["name"]} ({p["type"]})' for p in data["pets"]) or _t(lang, "없음.", "None.")]
    if "vets" in data:
        return [", ".join(f'{_name(v["first_name"], v["last_name"])}: {", ".join(v["specialties"]) or "-"}' for v in data["vets"])]
    if "visits" in data and isinstance(data["visits"], list):
        return ["; ".join(f'{v["visit_date"]} {v["pet_name"]} {v["description"]}' for v in data["visits"]) or _t(lang, "없음.", "None.")]
    return [_t(lang, "결과를 요약할 수 없습니다.", "I cannot summarise that result.")]


def _pick_tool(question: str, year: tuple[str, str] | None) -> tuple[str, dict[str, Any]]:
    q = question.lower()
    if re.search(r"how many|count|number of|몇|총|통계", q):
        if re.search(r"city|cities|도시|지역", q):
            return "aggregate", {"metric": "owners_per_city"}
        if re.search(r"special|전문", q):
            return "aggregate", {"metric": "vets_per_specialty"}
        if re.search(r"type|kind|cat|dog|종류|고양이|강아지", q):
            return "aggregate", {"metric": "pets_per_type"}
        if re.search(r"visit|방문|진료", q):
            return "aggregate", {"metric": "visits_in_period", **({"date_from": year[0], "date_to": year[1]} if year else {})}
        return "aggregate", {"metric": "totals"}
    if re.search(r"\bvets?\b|veterinar|수의사|의사", q):
        return "list_vets", {}
    if re.search(r"visit|방문|진료", q):
        return "search_visits", {"limit": 10}
    return "search_owners", {"limit": 10}


def _answer(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    lang, question, facts = current_turn(messages)
    last = messages[-1].get("content", []) if messages else []
    results = [b["toolResult"] for b in last if isinstance(b, dict) and "toolResult" in b]
    if results:
        sentences = []
        for result in results:
            for block in result.get("content", []):
                sentences += _result_sentences(block.get("json", block.get("text")), lang)
        return [{"text": LABEL[lang] + " ".join(sentences)}], "end_turn"
    if _OUT_OF_SCOPE.search(question):
        return [{"text": LABEL[lang] + _t(lang, "죄송하지만 병원 데이터(보호자, 반려동물, 수의사, 방문)에 관한 질문에만 답할 수 있습니다.",
                                          "Sorry, I can only answer questions about the clinic's owners, pets, vets and visits.")}], "end_turn"
    if _RELATIVE_TIME.search(question) and "period" not in (facts or {}):
        return [{"text": LABEL[lang] + _t(lang, "오프라인 대체 모델은 '작년', '이번 달' 같은 상대적인 기간을 계산하지 못합니다. "
                                                "2024년처럼 연도를 넣어 물어봐 주세요.",
                                          "The offline stand-in cannot work out relative periods such as 'last year'; "
                                          "ask with a year such as 2024.")}], "end_turn"
    sentences = _fact_sentences(facts or {}, lang)
    withheld = (facts or {}).get("withheld")
    if withheld and (_ASKS_CONTACT.search(question) or (not sentences and "owners, pets" in withheld.get("what", "")
                                                        and not _CLINIC_LEVEL.search(question))):
        sentences.append(withheld["tell_the_asker"][lang])  # withheld, not missing: say so
    if sentences:
        return [{"text": LABEL[lang] + " ".join(sentences)}], "end_turn"
    if _GREETING.search(question) and not _IN_SCOPE.search(question):
        return [{"text": LABEL[lang] + _t(
            lang, "안녕하세요! 보호자, 반려동물, 수의사, 방문 기록에 대해 물어보세요. 저는 오프라인 개발용 대체 모델이라 간단한 조회만 합니다.",
            "Hello! Ask me about the clinic's owners, pets, vets and visits. I am the offline development stand-in and "
            "only do simple lookups.")}], "end_turn"
    earlier = earlier_answer(messages)
    if earlier and (_REFERS_BACK.search(question) or not _IN_SCOPE.search(question)):
        return [{"text": LABEL[lang] + _EARLIER[lang] + earlier}], "end_turn"
    if not _IN_SCOPE.search(question):
        return [{"text": LABEL[lang] + _t(lang, "죄송하지만 병원 데이터(보호자, 반려동물, 수의사, 방문)에 관한 질문에만 답할 수 있습니다.",
                                          "Sorry, I can only answer questions about the clinic's owners, pets, vets and visits.")}], "end_turn"
    found = re.search(r"(?<!\d)((?:19|20)\d\d)(?!\d)", question)
    year = (f"{found[1]}-01-01", f"{found[1]}-12-31") if found else None
    name, args = _pick_tool(question, year)
    return [{"toolUse": {"toolUseId": "tooluse_" + uuid.uuid4().hex[:20], "name": name, "input": args}}], "tool_use"


# A demo grammar for proposing writes (when the handler offers the propose_* tools), one per kind:
#   add owner: first Jane, last Doe, address 12 Main St., city Madison, telephone 6085550000
#   add pet: owner 6, name Bella, type cat, born 2024-03-01
#   add visit: owner 6, pet Bella, date 2025-01-02, description rabies shot
# and the same with Korean keys: 보호자 추가 / 반려동물 추가 / 방문 추가, with 이름 성 주소 도시 전화 보호자 종류 생일 날짜 내용.
_WRITE_COMMANDS = {"add owner": "propose_add_owner", "보호자 추가": "propose_add_owner",
                   "add pet": "propose_add_pet", "반려동물 추가": "propose_add_pet",
                   "add visit": "propose_add_visit", "방문 추가": "propose_add_visit"}
_WRITE_KEYS = {"first": "first_name", "이름": "first_name", "last": "last_name", "성": "last_name", "address": "address",
               "주소": "address", "city": "city", "도시": "city", "telephone": "telephone", "phone": "telephone",
               "전화": "telephone", "owner": "owner_id", "보호자": "owner_id", "name": "name", "type": "type",
               "종류": "type", "born": "birth_date", "생일": "birth_date", "pet": "pet_name", "반려동물": "pet_name",
               "date": "visit_date", "날짜": "visit_date", "description": "description", "내용": "description"}


def _write_proposal(request: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A propose_* toolUse for a question in the demo grammar, if the handler offers write tools."""
    offered = {t.get("toolSpec", {}).get("name") for t in (request.get("toolConfig") or {}).get("tools", [])}
    messages = request.get("messages") or []
    if not messages or any("toolResult" in b for b in messages[-1].get("content", []) if isinstance(b, dict)):
        return None
    _, question, _ = current_turn(messages)
    command, _, rest = question.partition(":")
    tool = _WRITE_COMMANDS.get(command.strip().lower())
    if tool is None or tool not in offered:
        return None
    args: dict[str, Any] = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition(" ")
        field = _WRITE_KEYS.get(key.lower())
        if field == "name" and tool == "propose_add_owner":
            field = "first_name"
        if field == "first_name" and tool == "propose_add_pet":  # 이름: the pet's name
            field = "name"
        if field:
            args[field] = int(value) if field == "owner_id" and value.strip().isdigit() else value.strip()
    return [{"toolUse": {"toolUseId": "tooluse_" + uuid.uuid4().hex[:20], "name": tool, "input": args}}]


def respond(request: dict[str, Any]) -> dict[str, Any]:
    """The whole stand-in: one Converse response for one Converse request."""
    proposal = _write_proposal(request)
    content, stop = (proposal, "tool_use") if proposal else _answer(request.get("messages") or [])
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
                                          "messages": request.get("messages"),
                                          "tools": [t.get("toolSpec", {}).get("name")
                                                    for t in (request.get("toolConfig") or {}).get("tools", [])]})
        self.send_json(200, respond(request))


def serve(port: int = 0) -> tuple[ThreadingHTTPServer, str, StandIn]:
    standin = StandIn()
    server, url = jsonhttp.serve(type("Handler", (_Handler,), {"standin": standin}), "model-standin", port)
    return server, url, standin
