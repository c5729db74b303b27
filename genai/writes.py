"""Confirmed writes by signed-in staff: add an owner, a pet or a visit. Off by default.
The model can only propose (the propose_* tools); the proposer's next turn confirms or cancels; the
write is one Data API transaction, claimed first so a retried confirmation writes once.

Imports budget, callers, clients, config, dataapi, errors, facts, memory, request, tools and log.
"""

from __future__ import annotations

import contextvars
import json
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from typing import Any, NamedTuple

from botocore.exceptions import (
    ClientError,
)

from . import budget, callers, clients, config, dataapi, facts, markdown, memory, request, tools
from .config import Settings
from .errors import DataError, UpstreamTimeout
from .log import log_token, logger
from .tools import ToolInputError

PENDING_ITEM = "~pending"  # sorts after every turn# item: one pending action per conversation
PENDING_MINUTES = 10
WRITE_RESERVE_MS = 3_000  # a confirmation needs this much time left: the claim, the transaction, the answer
_CONFIRM = frozenset("yes y yep confirm confirmed ok okay sure 네 예 응 확인 좋아요 그래요 넵".split()) | {
    "yes please", "yes confirm", "please do", "네 확인", "네 추가해 주세요", "확인했어요", "확인합니다"}
_CANCEL = frozenset("no n nope cancel stop 아니요 아니오 아니 취소 아뇨".split()) | {
    "no thanks", "cancel it", "취소해", "취소해 주세요", "취소할게요", "하지 마"}
_PHONE_RE = r"[0-9]{1,12}"  # ASCII digits only ("\d" would take fullwidth and Arabic-Indic digits)
_MAX_ID = 2**31 - 1  # the schema's INTEGER keys
# Column sizes of the PetClinic schema (VARCHAR lengths).
_NAME_FIELDS = frozenset({"first_name", "last_name", "name", "pet_name"})  # names: no markup at all
_LENGTHS = {"first_name": 30, "last_name": 30, "address": 255, "city": 80, "name": 30, "description": 255}


class WriteScope:
    """The request that may propose a write: its conversation, its id, and what it proposed (one at most)."""

    def __init__(self, conversation_id: str, request_id: str, principal: str = callers.OPERATOR.label,
                 asker_id: str = "") -> None:
        self.conversation_id, self.request_id, self.principal = conversation_id, request_id, principal
        self.asker_id = asker_id  # whose turns it reads (Memory)
        self.proposals: list[dict[str, Any]] = []
        self.lock = threading.Lock()


# Set by answer() only when writes are on, memory is on, there is a conversation, the request is not
# a GET (a link must never write) and the caller is an authenticated principal allowed to write
# (Callers): without it no write tool is offered or run, and no "yes" is read as a confirmation.
_WRITE_SCOPE: contextvars.ContextVar[WriteScope | None] = contextvars.ContextVar("petclinic_writes", default=None)


def reply_intent(text: str) -> str | None:
    """confirm, cancel, or None: only a short reply that is plainly one of them counts."""
    words = re.sub(r"[\s.!?~,]+", " ", text.lower()).strip()
    if words in _CONFIRM:
        return "confirm"
    if words in _CANCEL:
        return "cancel"
    return None


def _required_text(args: dict[str, Any], name: str, label: str | None = None) -> str:
    """A stored text: NFC, trimmed, visible, no control or format characters, within its column."""
    value = args.get(name)
    label = label or name
    if not isinstance(value, str) or not unicodedata.normalize("NFC", value).strip():
        raise ToolInputError(f"{label} must not be blank")
    value = unicodedata.normalize("NFC", value).strip()
    if not request._visible(value):
        raise ToolInputError(f"{label} must not be blank")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in value):
        raise ToolInputError(f"{label} must not contain control, format or line-break characters")
    limit = _LENGTHS.get(name, 255)
    if len(value) > limit:
        raise ToolInputError(f"{label} must be at most {limit} characters")
    if name in _NAME_FIELDS and markdown.has_markup(value):
        raise ToolInputError(f"{label} must be a plain name: no markup, links, entities or characters such as < > [ ] ` * _ #")
    return value


def _positive_id(args: dict[str, Any], name: str) -> int:
    value = args.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_ID:
        raise ToolInputError(f"{name} must be a positive integer from the search tools")
    return value


def _write_date(args: dict[str, Any], name: str, latest: date) -> date | None:
    """A date to store: YYYY-MM-DD, from 1900-01-01 (MySQL's DATE starts at 1000; no clinic record is older)."""
    value = args.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ToolInputError(f"{name} must be a date in YYYY-MM-DD form")
    found = tools._date_arg(args, name)
    if found is None or found < date(1900, 1, 1):
        raise ToolInputError(f"{name} must be a real date from 1900-01-01")
    if found > latest:
        raise ToolInputError(f"{name} must not be after {latest.isoformat()}")
    return found


def _owner_row(settings: Settings, owner_id: int, transaction_id: str | None = None) -> dict[str, Any]:
    rows = dataapi._execute(settings, "SELECT o.id, o.first_name, o.last_name, o.city FROM owners o WHERE o.id = :id",
                    {"id": owner_id}, transaction_id)
    if not rows:
        raise ToolInputError(f"no owner has owner_id {owner_id}")
    return rows[0]


def validate_owner(settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    values = {name: _required_text(args, name) for name in ("first_name", "last_name", "address", "city")}
    phone = args.get("telephone")
    phone = re.sub(r"[\s-]", "", phone) if isinstance(phone, str) else phone
    if not isinstance(phone, str) or not re.fullmatch(_PHONE_RE, phone):
        raise ToolInputError("telephone must be 1 to 12 digits (no letters or symbols)")
    return {**values, "telephone": phone}


def _type_row(settings: Settings, name: str, transaction_id: str | None = None) -> dict[str, Any]:
    rows = dataapi._execute(settings, "SELECT t.id, t.name FROM types t WHERE LOWER(t.name) = LOWER(:name)",
                    {"name": name}, transaction_id)
    if not rows:
        known = ", ".join(sorted(str(r["name"]) for r in dataapi._execute(settings, "SELECT t.name FROM types t ORDER BY t.name",
                                                                   None, transaction_id)))
        raise ToolInputError(f'there is no pet type "{name}"; the types are: {known}')
    return rows[0]


def _same_pet_name(settings: Settings, owner_id: int, name: str, transaction_id: str | None = None) -> bool:
    rows = dataapi._execute(settings, "SELECT COUNT(*) AS n FROM pets p WHERE p.owner_id = :owner AND LOWER(p.name) = LOWER(:name)",
                    {"owner": owner_id, "name": name}, transaction_id)
    return bool(rows and rows[0]["n"])


def validate_pet(settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    owner_id = _positive_id(args, "owner_id")
    name = _required_text(args, "name", "the pet's name")
    birth = _write_date(args, "birth_date", date.today())
    if birth is None:
        raise ToolInputError("birth_date is required (YYYY-MM-DD)")
    type_name = _required_text(args, "type", "type")
    owner = _owner_row(settings, owner_id)
    pet_type = _type_row(settings, type_name)
    if _same_pet_name(settings, owner_id, name):
        raise ToolInputError(f'owner {owner_id} already has a pet named "{name}"')
    return {"owner_id": owner_id, "name": name, "birth_date": birth.isoformat(), "type_id": pet_type["id"],
            "type": pet_type["name"], "owner": facts.display_name(owner["first_name"], owner["last_name"])}


def _pet_row(settings: Settings, owner_id: int, pet_name: str, transaction_id: str | None = None) -> dict[str, Any]:
    rows = dataapi._execute(settings, "SELECT p.id, p.name FROM pets p WHERE p.owner_id = :owner AND LOWER(p.name) = LOWER(:name)"
                    " ORDER BY p.id LIMIT 2", {"owner": owner_id, "name": pet_name}, transaction_id)
    if not rows:
        raise ToolInputError(f'owner {owner_id} has no pet named "{pet_name}"')
    if len(rows) > 1:
        raise ToolInputError(f'owner {owner_id} has more than one pet named "{pet_name}"')
    return rows[0]


def validate_visit(settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    owner_id = _positive_id(args, "owner_id")
    pet_name = _required_text(args, "pet_name", "pet_name")
    description = _required_text(args, "description")
    visit_date = _write_date(args, "visit_date", date.today() + timedelta(days=366)) or date.today()
    owner = _owner_row(settings, owner_id)
    pet = _pet_row(settings, owner_id, pet_name)
    return {"pet_id": pet["id"], "pet": pet["name"], "visit_date": visit_date.isoformat(), "description": description,
            "owner_id": owner_id, "owner": facts.display_name(owner["first_name"], owner["last_name"])}


class WriteKind(NamedTuple):
    table: str
    validate: Callable[[Settings, dict[str, Any]], dict[str, Any]]
    insert: str
    read_back: str


WRITE_KINDS: dict[str, WriteKind] = {
    "add_owner": WriteKind(
        "owners", validate_owner,
        "INSERT INTO owners (first_name, last_name, address, city, telephone)"
        " VALUES (:first_name, :last_name, :address, :city, :telephone)",
        "SELECT o.id, o.first_name, o.last_name, o.address, o.city, o.telephone FROM owners o WHERE o.id = :id"),
    "add_pet": WriteKind(
        "pets", validate_pet,
        "INSERT INTO pets (name, birth_date, type_id, owner_id) VALUES (:name, :birth_date, :type_id, :owner_id)",
        "SELECT p.id, p.name, p.birth_date, t.name AS type, o.first_name, o.last_name FROM pets p"
        " JOIN types t ON t.id = p.type_id JOIN owners o ON o.id = p.owner_id WHERE p.id = :id"),
    "add_visit": WriteKind(
        "visits", validate_visit,
        "INSERT INTO visits (pet_id, visit_date, description) VALUES (:pet_id, :visit_date, :description)",
        "SELECT v.id, v.visit_date, v.description, p.name AS pet, o.first_name, o.last_name FROM visits v"
        " JOIN pets p ON p.id = v.pet_id JOIN owners o ON o.id = p.owner_id WHERE v.id = :id"),
}
_INSERT_COLUMNS = {"add_owner": ("first_name", "last_name", "address", "city", "telephone"),
                   "add_pet": ("name", "birth_date", "type_id", "owner_id"),
                   "add_visit": ("pet_id", "visit_date", "description")}


def propose(settings: Settings, args: dict[str, Any], kind: str) -> dict[str, Any]:
    """A write tool: validate, store as the conversation's one pending action, write nothing.

    One proposal per answer: the function itself appends it to the answer, so what the asker
    confirms is exactly what is stored, whatever the model's own words say."""
    scope = _WRITE_SCOPE.get()
    if scope is None:
        raise ToolInputError("writes are not available here")
    with scope.lock:
        if scope.proposals:
            raise ToolInputError("only one change can be proposed per answer; let the user settle this one first")
        scope.proposals.append({})  # reserved before the checks, so a concurrent second call is refused
    try:
        values = WRITE_KINDS[kind].validate(settings, args)
        action = {"id": uuid.uuid4().hex, "kind": kind, "values": values}
        save_pending(settings, scope, action)
    except BaseException:
        scope.proposals.clear()
        raise
    scope.proposals[0] = action
    return {"status": "awaiting_confirmation", "nothing_written_yet": True, "would_write": {"action": kind, **values},
            "next": "Tell the user exactly what would be written and ask them to reply yes to confirm or no to"
                    f" cancel (the proposal expires in {PENDING_MINUTES} minutes, or with any other reply)."}


# -- the pending action, in the conversation's partition


def _pending_key(conversation_id: str) -> dict[str, Any]:
    return {"conversation_id": {"S": conversation_id}, "item": {"S": PENDING_ITEM}}


def save_pending(settings: Settings, scope: WriteScope, action: dict[str, Any]) -> None:
    """Replace the conversation's pending action (never one that is being written right now)."""
    try:
        clients.client("dynamodb", memory.memory_budget_s()).put_item(
            TableName=settings.conversation_table,
            Item={**_pending_key(scope.conversation_id), "action": {"S": json.dumps(action, ensure_ascii=False)},
                  "action_id": {"S": action["id"]}, "status": {"S": "pending"},
                  "request_id": {"S": scope.request_id}, "principal": {"S": scope.principal},
                  "expires_at": {"N": str(int(time.time()) + PENDING_MINUTES * 60)}},
            ConditionExpression="attribute_not_exists(#s) OR #s <> :committing",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":committing": {"S": "committing"}},
        )
    except Exception as err:
        memory._memory_failed("save_pending", err)
        raise ToolInputError("the proposal could not be saved; nothing was written, try again shortly") from err


def load_pending(settings: Settings, conversation_id: str, asker_id: str = "") -> tuple[dict[str, Any] | None, str | None]:
    """The pending action and the request id of ``asker_id``'s newest turn: only a proposal made in
    the asker's own turn just before can be confirmed. The asker's turns are read under their own
    sort-key prefix, so no number of other callers' turns in the conversation can push them out."""
    dynamodb = clients.client("dynamodb", memory.memory_budget_s())
    pending = dynamodb.get_item(
        TableName=settings.conversation_table, ConsistentRead=True,
        Key={"conversation_id": {"S": conversation_id}, "item": {"S": PENDING_ITEM}},
    ).get("Item")
    response = dynamodb.query(
        TableName=settings.conversation_table,
        KeyConditionExpression="conversation_id = :c AND begins_with(#i, :t)",
        ExpressionAttributeNames={"#i": "item"},
        ExpressionAttributeValues={":c": {"S": conversation_id}, ":t": {"S": memory.turn_prefix(asker_id)}},
        ScanIndexForward=False, Limit=1, ConsistentRead=True,
    )
    items = response.get("Items")
    if not isinstance(items, list) or not (pending is None or isinstance(pending, dict)):
        raise ValueError("Items is not a list")
    turn = next((i for i in items if i.get("asker", {}).get("S", "") == asker_id), None)
    newest = turn.get("request_id", {}).get("S") if turn else None
    return pending, newest if isinstance(newest, str) else None


def _set_status(settings: Settings, conversation_id: str, action_id: str, new: str, expected: str,
                result: str | None = None) -> bool:
    """Move the pending action from ``expected`` to ``new``; False when someone else moved it first."""
    names = {"#s": "status"}
    values = {":new": {"S": new}, ":old": {"S": expected}, ":id": {"S": action_id}}
    update = "SET #s = :new"
    if result is not None:
        update += ", #r = :result"
        names["#r"] = "result"
        values[":result"] = {"S": result}
    try:
        clients.client("dynamodb", memory.memory_budget_s()).update_item(
            TableName=settings.conversation_table, Key=_pending_key(conversation_id), UpdateExpression=update,
            ConditionExpression="#s = :old AND action_id = :id", ExpressionAttributeNames=names,
            ExpressionAttributeValues=values)
        return True
    except ClientError as err:
        if clients._error_code(err) == "ConditionalCheckFailedException":
            return False
        raise


# -- the transaction


def _transaction(settings: Settings, work: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """BeginTransaction, the work's statements, CommitTransaction; RollbackTransaction on any failure."""
    begun = dataapi._data_call(settings, "begin_transaction", 0, database=settings.db_name)
    transaction_id = begun.get("transactionId")
    if not isinstance(transaction_id, str) or not transaction_id:
        raise dataapi._bad_data("no transactionId")
    try:
        result = work(transaction_id)
    except BaseException:
        try:
            dataapi._data_call(settings, "rollback_transaction", -config.RESPONSE_RESERVE_MS, transactionId=transaction_id)
        except Exception as err:  # the Data API ends an abandoned transaction itself; nothing was committed
            logger.warning("rollback failed", extra={"error_type": type(err).__name__})
        raise
    try:
        dataapi._data_call(settings, "commit_transaction", 0, transactionId=transaction_id)
    except DataError as err:  # the commit may have happened: never release the action to be written again
        try:  # ends the transaction if the commit never arrived; fails harmlessly if it did
            dataapi._data_call(settings, "rollback_transaction", -config.RESPONSE_RESERVE_MS, transactionId=transaction_id)
        except Exception as rollback_err:
            logger.warning("rollback failed", extra={"error_type": type(rollback_err).__name__})
        raise CommitUncertain(err.message, err.code) from err
    return result


class CommitUncertain(DataError):
    """CommitTransaction failed on our side (timeout, dropped connection): the write may be committed."""


def execute_write(settings: Settings, action: dict[str, Any]) -> dict[str, Any]:
    """Re-check inside the transaction (a duplicate or a vanished owner since the proposal), insert, read back."""
    kind, values = WRITE_KINDS[action["kind"]], action["values"]

    def work(transaction_id: str) -> dict[str, Any]:
        if action["kind"] in ("add_pet", "add_visit"):
            _owner_row(settings, values["owner_id"], transaction_id)
        if action["kind"] == "add_pet" and _same_pet_name(settings, values["owner_id"], values["name"], transaction_id):
            raise ToolInputError(f'owner {values["owner_id"]} already has a pet named "{values["name"]}"')
        if action["kind"] == "add_owner":
            same = dataapi._execute(settings, "SELECT COUNT(*) AS n FROM owners o WHERE o.first_name = :first_name"
                            " AND o.last_name = :last_name AND o.telephone = :telephone",
                            {k: values[k] for k in ("first_name", "last_name", "telephone")}, transaction_id)
            if same and same[0]["n"]:
                raise ToolInputError("an owner with this name and telephone already exists")
        if action["kind"] == "add_visit":
            same = dataapi._execute(settings, "SELECT COUNT(*) AS n FROM visits v WHERE v.pet_id = :pet_id"
                            " AND v.visit_date = :visit_date AND v.description = :description",
                            {k: values[k] for k in ("pet_id", "visit_date", "description")}, transaction_id)
            if same and same[0]["n"]:
                raise ToolInputError("this visit is already recorded")
        params = {column: values[column] for column in _INSERT_COLUMNS[action["kind"]]}
        new_id = dataapi._insert(settings, kind.insert, params, transaction_id)
        rows = dataapi._execute(settings, kind.read_back, {"id": new_id}, transaction_id)
        if not rows:
            raise DataError("The new row could not be read back.", "database_error")
        return rows[0]

    return _transaction(settings, work)


# -- confirmation: the asker's next turn, handled without the model


WRITE_REPLIES = {
    "written": ("추가했습니다: {summary}", "Done: {summary}"),
    "already": ("이미 추가되어 있습니다: {summary}", "This was already written: {summary}"),
    "cancelled": ("취소했습니다. 아무것도 저장하지 않았습니다.", "Cancelled. Nothing was written."),
    "nothing": ("확인을 기다리는 작업이 없습니다(바로 앞 답변의 제안만 확인할 수 있고, 만료·취소되었거나 제안된 적이 없습니다). "
                "아무것도 저장하지 않았습니다.",
                "There is nothing waiting for confirmation (only the proposal in the answer just before can be"
                " confirmed; it expired, was cancelled or was never made). Nothing was written."),
    "other": ("이 변경은 다른 사용자가 제안한 것이라 확인하거나 취소할 수 없습니다. 아무것도 저장하지 않았습니다.",
              "Only the person who proposed this change can confirm or cancel it. Nothing was written."),
    "busy": ("이 작업은 지금 저장 중입니다. 잠시 후 다시 확인해 주세요.",
             "This change is being written right now. Please check again in a moment."),
    "refused": ("저장할 수 없습니다: {reason}. 아무것도 저장하지 않았습니다.", "It cannot be written: {reason}. Nothing was written."),
    "unavailable": ("대기 중인 작업을 확인할 수 없습니다. 아무것도 저장하지 않았습니다. 잠시 후 다시 시도해 주세요.",
                    "The pending change could not be checked. Nothing was written; please try again shortly."),
    "uncertain": ("저장이 끝났는지 확인하지 못했습니다. 다시 요청하기 전에 저장되었는지 조회해 주세요: {summary}",
                  "Saving could not be confirmed. Before asking again, check whether it was saved: {summary}"),
    "ask": ("아직 저장하지 않았습니다. 저장할 내용: {summary}. 저장하려면 '네', 취소하려면 '아니요'라고 답해 주세요.",
            "Nothing is saved yet. To be written: {summary}. Reply yes to save it or no to cancel."),
}


def _reply(kind: str, language: str, **values: str) -> str:
    korean, english = WRITE_REPLIES[kind]
    return (korean if language.startswith("ko") else english).format(**values)


def summarize(kind: str, row: dict[str, Any], language: str) -> str:
    """What is proposed (the validated values) or was written (the row read back), in the asker's
    language. Every stored value is escaped: the chat page renders this text with marked into innerHTML."""
    ko = language.startswith("ko")
    v = {name: markdown.escape_text(value) for name, value in row.items()}
    if kind == "add_owner":
        name = markdown.escape_text(facts.display_name(row["first_name"], row["last_name"]))
        where = f'{v["address"]}, {v["city"]}'
        return f'보호자 {name} ({where}, 전화 {v["telephone"]})' if ko else f'owner {name} ({where}, tel {v["telephone"]})'
    owner = v.get("owner") or markdown.escape_text(facts.display_name(row["first_name"], row["last_name"]))
    if kind == "add_pet":
        if ko:
            return f'반려동물 {v["name"]} ({v["type"]}, {v["birth_date"]}생) — 보호자 {owner}'
        return f'pet {v["name"]} ({v["type"]}, born {v["birth_date"]}) for owner {owner}'
    if ko:
        return f'{v["pet"]}의 방문 {v["visit_date"]}: {v["description"]} (보호자 {owner})'
    return f'visit of {v["pet"]} on {v["visit_date"]}: {v["description"]} (owner {owner})'


def settle_pending(settings: Settings, scope: WriteScope, intent: str, language: str) -> tuple[str, dict[str, Any] | None]:
    """Confirm or cancel the pending action. Returns the answer text and, after a write, what was written.

    Only the principal who proposed it, and only in the turn just after the proposal, can settle it
    (any other reply in between makes it stale). Idempotent: the action is claimed with a conditional update (pending -> committing)
    before the transaction, so a retried or concurrent confirmation cannot write it again; a retry
    after the write answers with the stored result, and a commit that may have happened is never
    released to be written again."""
    conversation_id, request_id = scope.conversation_id, scope.request_id
    try:
        item, newest_turn = load_pending(settings, conversation_id, scope.asker_id)
        if item is None or float(item.get("expires_at", {}).get("N", "0")) <= time.time():
            return _reply("nothing", language), None
        if item.get("principal", {}).get("S") != scope.principal:  # before anything about it is told
            return _reply("other", language), None
        action = json.loads(memory._text_attr(item, "action"))
        status, action_id = memory._text_attr(item, "status"), memory._text_attr(item, "action_id")
        if action.get("kind") not in WRITE_KINDS or not isinstance(action.get("values"), dict):
            raise ValueError("unknown action")
        proposed_in = memory._text_attr(item, "request_id")
    except Exception as err:  # DynamoDB down, slow, or an item of the wrong shape: nothing is written
        memory._memory_failed("load_pending", err)
        return _reply("unavailable", language), None
    summary = summarize(action["kind"], action["values"], language)
    if status == "done":
        return _reply("already", language, summary=memory._text_attr(item, "result")), None
    if status == "committing":
        return _reply("busy", language), None
    if status == "uncertain":
        return _reply("uncertain", language, summary=summary), None
    if status != "pending" or proposed_in != newest_turn:  # settled, failed, or not the turn just before
        return _reply("nothing", language), None
    if intent == "cancel":
        if not _moved(settings, conversation_id, action_id, "cancelled", "pending"):
            return _reply("unavailable", language), None
        return _reply("cancelled", language), None
    if budget.current_deadline().remaining_ms() < WRITE_RESERVE_MS:
        raise UpstreamTimeout()  # too little time for the claim, the transaction and the answer
    try:
        claimed = _set_status(settings, conversation_id, action_id, "committing", "pending")
    except Exception as err:
        memory._memory_failed("claim_pending", err)
        return _reply("unavailable", language), None
    if not claimed:
        return _reply("busy", language), None
    try:
        row = execute_write(settings, action)
    except ToolInputError as err:
        _moved(settings, conversation_id, action_id, "failed", "committing")
        return _reply("refused", language, reason=markdown.escape_text(str(err))), None
    except CommitUncertain:
        _moved(settings, conversation_id, action_id, "uncertain", "committing")
        return _reply("uncertain", language, summary=summary), None
    except BaseException:
        _moved(settings, conversation_id, action_id, "pending", "committing")  # nothing committed: may confirm again
        raise
    written = summarize(action["kind"], row, language)
    _moved(settings, conversation_id, action_id, "done", "committing", written)  # if not, retries say "busy"
    logger.info("audit", extra={"audit": {"conversation_id": conversation_id, "action": action["kind"],
                                          "table": WRITE_KINDS[action["kind"]].table, "row_id": row["id"],
                                          "request_id": request_id, "principal": log_token(scope.principal, 300),
                                          "read_scope": tools.read_scope()}})
    return _reply("written", language, summary=written), {"action": action["kind"], "id": row["id"]}


def _moved(settings: Settings, conversation_id: str, action_id: str, new: str, expected: str,
           result: str | None = None) -> bool:
    """_set_status for the steps after the claim: a DynamoDB failure is logged, never raised."""
    try:
        return _set_status(settings, conversation_id, action_id, new, expected, result)
    except Exception as err:
        memory._memory_failed("pending_" + new, err)
        return False


def confirmation_request(scope: WriteScope | None, language: str) -> str:
    """The proposal as stored, appended to the answer by the function itself (not left to the model)."""
    if scope is None or not scope.proposals or not scope.proposals[0]:
        return ""
    action = scope.proposals[0]
    return "\n\n" + _reply("ask", language, summary=summarize(action["kind"], action["values"], language))


# -- the write tools (offered to the model only when writes are enabled)

_WRITE_NOTE = " Writes nothing: stores a proposal the user must confirm in their next message."
WRITE_TOOLS: dict[str, tuple[Callable[[Settings, dict[str, Any]], dict[str, Any]], str, dict[str, Any]]] = {
    "propose_add_owner": (partial(propose, kind="add_owner"), "Propose adding a new owner." + _WRITE_NOTE,
                          tools._schema({"first_name": tools._S, "last_name": tools._S, "address": tools._S, "city": tools._S,
                                   "telephone": {"type": "string", "description": "1-12 digits"}},
                                  ["first_name", "last_name", "address", "city", "telephone"])),
    "propose_add_pet": (partial(propose, kind="add_pet"),
                        "Propose adding a pet to an owner (owner_id from search_owners)." + _WRITE_NOTE,
                        tools._schema({"owner_id": {"type": "integer"}, "name": tools._S,
                                 "type": {"type": "string", "description": "an existing pet type, e.g. cat, dog"},
                                 "birth_date": tools._DATE}, ["owner_id", "name", "type", "birth_date"])),
    "propose_add_visit": (partial(propose, kind="add_visit"),
                          "Propose recording a visit for an owner's pet (owner_id from search_owners)." + _WRITE_NOTE,
                          tools._schema({"owner_id": {"type": "integer"}, "pet_name": tools._S, "visit_date": tools._DATE,
                                   "description": tools._S}, ["owner_id", "pet_name", "description"])),
}
WRITES_PROMPT = """

Writes: you may propose adding an owner, a pet or a visit with the propose_* tools. A proposal writes \
nothing. After proposing, tell the user exactly what would be written and ask them to reply "yes" \
(네) to confirm or "no" (아니요) to cancel. Never say that anything was written or saved."""
