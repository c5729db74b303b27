"""The read tools the model may call (search owners, pets, visits; get an owner; list
vets; aggregates), their input validation (ToolInputError) and their JSON schemas. Every statement
is parameterised and every list bounded. The read scope (ANONYMOUS_READ_SCOPE for anonymous callers)
decides which tools, parameters, metrics and columns a request gets (tools_for_scope, check_scope).

Imports config, dataapi and understanding.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from datetime import date
from typing import Any

from . import dataapi, understanding
from .config import READ_SCOPES, Settings

TOOL_DEFAULT_LIMIT = 20
TOOL_MAX_LIMIT = 50
OWNER_ROWS_CAP = 200  # get_owner: joined pet/visit rows of one owner


class ToolInputError(ValueError):
    """The model passed arguments a tool cannot use; it gets the message back and can retry."""


# The read scope of the request being answered (set by the handler's answer() from the asker). Unset,
# the narrowest: a path that forgets to decide reads clinic-level data only.
_READ_SCOPE: contextvars.ContextVar[str] = contextvars.ContextVar("read_scope", default=READ_SCOPES[-1])
CONTACT_FIELDS = ("address", "telephone")  # an owner's contact details: withheld below "all"
CLINIC_METRICS = ("pets_per_type", "vets_per_specialty", "owners_per_city", "totals", "visits_in_period")
CLINIC_TOOLS = ("list_vets", "aggregate")  # "clinic": no owner, pet or visit record, and no count that finds one
# Why, as the model is told it (in a tool result, the facts' "withheld" entry and the refusals).
WITHHELD_WHY = {
    "no_contact": "owners' contact details (address, telephone) are shown to signed-in staff only",
    "clinic": "owner, pet and visit records (and anything that finds one) are shown to signed-in staff only",
}


def read_scope() -> str:
    return _READ_SCOPE.get()


def withheld_fields(scope: str) -> tuple[str, ...]:
    """The owner columns a scope never selects."""
    return () if scope == "all" else CONTACT_FIELDS


def _owner_columns(scope: str, prefix: str = "o") -> str:
    """address/telephone as selected for this scope: NULL (never the column) when withheld."""
    hidden = withheld_fields(scope)
    return ", ".join(f"NULL AS {c}" if c in hidden else f"{prefix}.{c}" for c in CONTACT_FIELDS)


def _limit(args: dict[str, Any]) -> int:
    value = args.get("limit", TOOL_DEFAULT_LIMIT)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ToolInputError("limit must be a positive integer")
    return min(value, TOOL_MAX_LIMIT)


def _text_arg(args: dict[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 80:
        raise ToolInputError(f"{name} must be a string of at most 80 characters")
    cleaned = value.replace("%", "").replace("_", "").replace("\\", "").strip()  # no LIKE wildcards or escapes
    if not cleaned:
        raise ToolInputError(f"{name} must contain letters")
    return cleaned


def _date_arg(args: dict[str, Any], name: str) -> date | None:
    value = args.get(name)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ToolInputError(f"{name} must be a date in YYYY-MM-DD form") from None


class _Where:
    """Collects parameterised conditions; SQL text comes only from the fixed fragments below."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: dict[str, Any] = {}

    def add(self, clause: str, **params: Any) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def _person_name(where: _Where, prefix: str, name: str, key: str) -> None:
    """Match a first or last name (prefix, case-insensitive) or a full name in either order ("박지훈", "Coleman Jean")."""
    clause = f"({prefix}.first_name LIKE :{key} OR {prefix}.last_name LIKE :{key}"
    params: dict[str, Any] = {key: name + "%"}
    parts = name.split()
    if len(parts) != 2 and understanding.has_hangul(name) and 3 <= len(name) <= 4:
        parts = [name[1:], name[0]]  # "박지훈": given name 지훈, family name 박
    if len(parts) == 2:  # both orders: names are entered either way round
        clause += (f" OR ({prefix}.first_name = :{key}_a AND {prefix}.last_name = :{key}_b)"
                   f" OR ({prefix}.first_name = :{key}_b AND {prefix}.last_name = :{key}_a)")
        params.update({f"{key}_a": parts[0], f"{key}_b": parts[1]})
    where.add(clause + ")", **params)


def _limited(rows: list[dict[str, Any]], limit: int, key: str) -> dict[str, Any]:
    return {key: rows[:limit], "count": min(len(rows), limit), "truncated": len(rows) > limit}


def _owner_filters(args: dict[str, Any], scope: str) -> _Where:
    """search_owners' and the owners count's conditions: name, city and (scope "all") address, telephone."""
    if any(args.get(field) not in (None, "") for field in withheld_fields(scope)):
        raise ToolInputError(f"address and telephone are not available to this caller: {WITHHELD_WHY['no_contact']}")
    where = _Where()
    if name := _text_arg(args, "name"):
        _person_name(where, "o", name, "name")
    if city := _text_arg(args, "city"):
        where.add("o.city = :city", city=city)
    if address := _text_arg(args, "address"):
        where.add("o.address LIKE :address", address="%" + address + "%")
    if (telephone := _text_arg(args, "telephone")) is not None:
        digits = "".join(ch for ch in telephone if ch.isdigit())
        if not digits:
            raise ToolInputError("telephone must contain digits")
        where.add("o.telephone LIKE :telephone", telephone="%" + digits)  # the number, or how it ends
    return where


def tool_search_owners(settings: Settings, args: dict[str, Any], scope: str = "all") -> dict[str, Any]:
    limit, where = _limit(args), _owner_filters(args, scope)
    rows = dataapi._execute(
        settings,
        f"SELECT o.id AS owner_id, o.first_name, o.last_name, o.city, {_owner_columns(scope)},"
        " (SELECT COUNT(*) FROM pets p WHERE p.owner_id = o.id) AS pet_count FROM owners o"
        + where.sql() + " ORDER BY o.last_name, o.first_name, o.id LIMIT :lim",
        {**where.params, "lim": limit + 1},
    )
    hidden = withheld_fields(scope)
    return _limited([{k: v for k, v in row.items() if k not in hidden} for row in rows], limit, "owners")


def tool_search_pets(settings: Settings, args: dict[str, Any], scope: str = "all") -> dict[str, Any]:
    limit, where = _limit(args), _Where()
    if name := _text_arg(args, "name"):
        where.add("p.name LIKE :name", name=name + "%")
    if pet_type := _text_arg(args, "type"):
        where.add("t.name = :type", type=pet_type)
    if owner := _text_arg(args, "owner_name"):
        _person_name(where, "o", owner, "owner")
    rows = dataapi._execute(
        settings,
        "SELECT p.name, p.birth_date, t.name AS type, o.id AS owner_id,"
        " o.first_name AS owner_first_name, o.last_name AS owner_last_name, o.city AS owner_city"
        " FROM pets p JOIN types t ON t.id = p.type_id JOIN owners o ON o.id = p.owner_id"
        + where.sql() + " ORDER BY p.name, p.id LIMIT :lim",
        {**where.params, "lim": limit + 1},
    )
    return _limited(rows, limit, "pets")


def tool_get_owner(settings: Settings, args: dict[str, Any], scope: str = "all") -> dict[str, Any]:
    owner_id = args.get("owner_id")
    if not isinstance(owner_id, int) or isinstance(owner_id, bool) or owner_id < 1:
        raise ToolInputError("owner_id must be a positive integer from search_owners or search_pets")
    cap = OWNER_ROWS_CAP
    rows = dataapi._execute(
        settings,
        f"SELECT o.first_name, o.last_name, o.city, {_owner_columns(scope)}, p.id AS pet_id, p.name AS pet,"
        " p.birth_date, t.name AS type, v.visit_date, v.description"
        " FROM owners o LEFT JOIN pets p ON p.owner_id = o.id LEFT JOIN types t ON t.id = p.type_id"
        " LEFT JOIN visits v ON v.pet_id = p.id WHERE o.id = :owner_id"
        " ORDER BY p.name, p.id, v.visit_date DESC LIMIT :lim",
        {"owner_id": owner_id, "lim": cap + 1},
    )
    if not rows:
        return {"found": False, "message": "no owner with that owner_id"}
    hidden = withheld_fields(scope)
    owner = {k: rows[0][k] for k in ("first_name", "last_name", "address", "city", "telephone") if k not in hidden}
    pets: dict[Any, dict[str, Any]] = {}
    for row in rows[:cap]:
        if row["pet_id"] is None:
            continue
        pet = pets.setdefault(
            row["pet_id"], {"name": row["pet"], "type": row["type"], "birth_date": row["birth_date"], "visits": []}
        )
        if row["visit_date"] is not None:
            pet["visits"].append({"date": row["visit_date"], "description": row["description"]})
    return {"found": True, "owner": owner, "pets": list(pets.values()), "truncated": len(rows) > cap}


def tool_list_vets(settings: Settings, args: dict[str, Any], scope: str = "all") -> dict[str, Any]:
    limit, where = _limit(args), _Where()
    if name := _text_arg(args, "name"):
        _person_name(where, "v", name, "name")
    if specialty := _text_arg(args, "specialty"):
        if specialty.lower() == "none":
            where.add("NOT EXISTS (SELECT 1 FROM vet_specialties x WHERE x.vet_id = v.id)")
        else:
            where.add(
                "v.id IN (SELECT x.vet_id FROM vet_specialties x JOIN specialties y ON y.id = x.specialty_id"
                " WHERE y.name = :specialty)",
                specialty=specialty,
            )
    rows = dataapi._execute(
        settings,
        "SELECT v.id AS vet_id, v.first_name, v.last_name, s.name AS specialty FROM vets v"
        " LEFT JOIN vet_specialties vs ON vs.vet_id = v.id LEFT JOIN specialties s ON s.id = vs.specialty_id"
        + where.sql() + " ORDER BY v.last_name, v.first_name, v.id, s.name LIMIT :lim",
        {**where.params, "lim": limit * 4 + 1},
    )
    vets: dict[Any, dict[str, Any]] = {}
    for row in rows[: limit * 4]:
        vet = vets.setdefault(
            row["vet_id"], {"first_name": row["first_name"], "last_name": row["last_name"], "specialties": []}
        )
        if row["specialty"] is not None:
            vet["specialties"].append(row["specialty"])
    listed = list(vets.values())
    return {"vets": listed[:limit], "count": min(len(listed), limit),
            "truncated": len(listed) > limit or len(rows) > limit * 4}


def tool_search_visits(settings: Settings, args: dict[str, Any], scope: str = "all") -> dict[str, Any]:
    limit, where = _limit(args), _Where()
    if pet := _text_arg(args, "pet_name"):
        where.add("p.name = :pet", pet=pet)
    if owner := _text_arg(args, "owner_name"):
        _person_name(where, "o", owner, "owner")
    if start := _date_arg(args, "date_from"):
        where.add("v.visit_date >= :date_from", date_from=start)
    if end := _date_arg(args, "date_to"):
        where.add("v.visit_date <= :date_to", date_to=end)
    if description := _text_arg(args, "description"):  # "rabies", "접종": words of the visit's description
        where.add("v.description LIKE :description", description="%" + description + "%")
    rows = dataapi._execute(
        settings,
        "SELECT v.visit_date, v.description, p.name AS pet_name, t.name AS pet_type,"
        " o.first_name AS owner_first_name, o.last_name AS owner_last_name"
        " FROM visits v JOIN pets p ON p.id = v.pet_id JOIN types t ON t.id = p.type_id"
        " JOIN owners o ON o.id = p.owner_id"
        + where.sql() + " ORDER BY v.visit_date DESC, v.id DESC LIMIT :lim",
        {**where.params, "lim": limit + 1},
    )
    return _limited(rows, limit, "visits")


_AGGREGATES = {
    "owners_per_city": "SELECT o.city AS label, COUNT(*) AS n FROM owners o GROUP BY o.city"
    " ORDER BY n DESC, label LIMIT :lim",
    "pets_per_type": "SELECT t.name AS label, COUNT(p.id) AS n FROM types t LEFT JOIN pets p ON p.type_id = t.id"
    " GROUP BY t.name ORDER BY n DESC, label LIMIT :lim",
    "vets_per_specialty": "SELECT s.name AS label, COUNT(vs.vet_id) AS n FROM specialties s"
    " LEFT JOIN vet_specialties vs ON vs.specialty_id = s.id GROUP BY s.name ORDER BY n DESC, label LIMIT :lim",
    "totals": "SELECT (SELECT COUNT(*) FROM owners) AS owners, (SELECT COUNT(*) FROM pets) AS pets,"
    " (SELECT COUNT(*) FROM vets) AS vets, (SELECT COUNT(*) FROM visits) AS visits,"
    " (SELECT COUNT(*) FROM types) AS pet_types, (SELECT COUNT(*) FROM specialties) AS specialties",
}


def tool_aggregate(settings: Settings, args: dict[str, Any], scope: str = "all") -> dict[str, Any]:
    metric = args.get("metric")
    if metric == "owners":  # how many owners match: the count of what search_owners would find
        where = _owner_filters(args, scope)
        rows = dataapi._execute(settings, "SELECT COUNT(*) AS n FROM owners o" + where.sql(), where.params)
        filters = {k: args[k] for k in _OWNER_FILTERS if args.get(k) not in (None, "")}
        return {"metric": metric, "filters": filters, "owners": rows[0]["n"]}
    if metric == "visits_in_period":
        start, end = _date_arg(args, "date_from"), _date_arg(args, "date_to")
        where = _Where()
        if start:
            where.add("v.visit_date >= :date_from", date_from=start)
        if end:
            where.add("v.visit_date <= :date_to", date_to=end)
        rows = dataapi._execute(settings, "SELECT COUNT(*) AS n FROM visits v" + where.sql(), where.params)
        return {"metric": metric, "date_from": str(start or ""), "date_to": str(end or ""), "visits": rows[0]["n"]}
    if metric == "totals":
        return {"metric": metric, **dataapi._execute(settings, _AGGREGATES["totals"])[0]}
    if metric not in _AGGREGATES:
        raise ToolInputError("metric must be one of: " + ", ".join(_METRICS))
    limit = _limit(args)
    rows = dataapi._execute(settings, _AGGREGATES[metric], {"lim": limit + 1})
    return {"metric": metric, **_limited([{"label": r["label"], "count": r["n"]} for r in rows], limit, "groups")}


def _schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"json": {"type": "object", "properties": properties, "required": required or []}}


_S = {"type": "string"}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": TOOL_MAX_LIMIT, "description": "max rows, default 20"}
_DATE = {"type": "string", "description": "YYYY-MM-DD"}
_ADDRESS = {"type": "string", "description": "words of the street address, e.g. Liberty St."}
_TELEPHONE = {"type": "string", "description": "the number, or its last digits"}
_OWNER_FILTERS = ("name", "city", "address", "telephone")
_METRICS = [*_AGGREGATES, "visits_in_period", "owners"]
Tool = Callable[..., dict[str, Any]]  # (settings, args, scope=...)
TOOLS: dict[str, tuple[Tool, str, dict[str, Any]]] = {
    "search_owners": (tool_search_owners, "Find owners by first/last name prefix, Korean full name, city, "
                      "street address or telephone number (or its last digits).",
                      _schema({"name": _S, "city": _S, "address": _ADDRESS, "telephone": _TELEPHONE, "limit": _LIMIT})),
    "search_pets": (tool_search_pets, "Find pets by name prefix, pet type (cat, dog, ...) or owner name.",
                    _schema({"name": _S, "type": _S, "owner_name": _S, "limit": _LIMIT})),
    "get_owner": (tool_get_owner, "An owner's full record: contact details, pets and each pet's visits.",
                  _schema({"owner_id": {"type": "integer"}}, ["owner_id"])),
    "list_vets": (tool_list_vets, "Vets with their specialties; filter by name or specialty ('none' = no specialty).",
                  _schema({"name": _S, "specialty": _S, "limit": _LIMIT})),
    "search_visits": (tool_search_visits, "Visits, newest first, by pet name, owner name, date range and/or words"
                      " of the description (e.g. rabies, 접종).",
                      _schema({"pet_name": _S, "owner_name": _S, "date_from": _DATE, "date_to": _DATE,
                               "description": {"type": "string", "description": "a word of the visit's description"},
                               "limit": _LIMIT})),
    "aggregate": (tool_aggregate, "Counts: owners_per_city, pets_per_type, vets_per_specialty, totals, "
                  "visits_in_period (with date_from/date_to), owners (how many match name, city, address, telephone).",
                  _schema({"metric": {"type": "string", "enum": _METRICS}, "date_from": _DATE, "date_to": _DATE,
                           "name": _S, "city": _S, "address": _ADDRESS, "telephone": _TELEPHONE, "limit": _LIMIT},
                          ["metric"])),
}


def _narrowed(scope: str) -> dict[str, tuple[Tool, str, dict[str, Any]]]:
    """The read tools a scope offers: withheld parameters, metrics and whole tools are left out."""
    if scope == "all":
        return TOOLS
    offered = {}
    for name, (function, description, schema) in TOOLS.items():
        if scope == "clinic" and name not in CLINIC_TOOLS:
            continue
        properties = {k: v for k, v in schema["json"]["properties"].items() if k not in CONTACT_FIELDS}
        if name == "search_owners":
            description = "Find owners by first/last name prefix, Korean full name, or city."
        elif name == "get_owner":
            description = "An owner's record: name, city, pets and each pet's visits (no contact details)."
        elif name == "aggregate":
            metrics = CLINIC_METRICS if scope == "clinic" else _METRICS
            if scope == "clinic":
                properties = {k: v for k, v in properties.items() if k not in _OWNER_FILTERS}
                description = ("Counts: owners_per_city, pets_per_type, vets_per_specialty, totals, "
                               "visits_in_period (with date_from/date_to).")
            else:
                description = description.replace("name, city, address, telephone", "name or city")
            properties["metric"] = {"type": "string", "enum": list(metrics)}
        offered[name] = (function, description, _schema(properties, schema["json"]["required"]))
    return offered


TOOLS_BY_SCOPE = {scope: _narrowed(scope) for scope in READ_SCOPES}


def tool_config(tools: dict[str, tuple[Tool, str, dict[str, Any]]]) -> dict[str, Any]:
    return {"tools": [{"toolSpec": {"name": name, "description": spec[1], "inputSchema": spec[2]}}
                      for name, spec in tools.items()]}


TOOL_CONFIG = tool_config(TOOLS)
TOOL_CONFIG_BY_SCOPE = {scope: tool_config(TOOLS_BY_SCOPE[scope]) for scope in READ_SCOPES}


def check_scope(name: str, args: dict[str, Any], scope: str) -> None:
    """Below "all", an argument or metric the scope's schema does not offer is refused before any SQL:
    a withheld parameter never returns results (nor a count: that would make an oracle of it)."""
    if scope == "all":
        return
    properties = TOOLS_BY_SCOPE[scope][name][2]["json"]["properties"]
    for key in args:
        if key not in properties:
            raise ToolInputError(f"the parameter {str(key)[:40]!r} is not available to this caller: "
                                 + WITHHELD_WHY[scope] + ". Tell the asker so; do not guess.")
    allowed = properties.get("metric", {}).get("enum")
    if allowed is not None and args.get("metric") not in allowed:
        raise ToolInputError(f"the metric {str(args.get('metric'))[:40]!r} is not available to this caller; use one of "
                             + ", ".join(allowed) + ". " + WITHHELD_WHY[scope] + ".")
