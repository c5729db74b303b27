"""What one request is offered and how a tool call runs: the read tools its read scope
allows (read_scope_of: signed-in staff and direct invokes read everything, anonymous callers what
ANONYMOUS_READ_SCOPE allows), plus the write tools when this request may write; the matching system
prompt; run_tool, which turns every failure into an error toolResult, never an exception.

Imports callers, config, errors, facts, tools, writes and log.
"""

from __future__ import annotations

from typing import Any

from . import facts, tools, writes
from .callers import Asker
from .config import Settings
from .errors import DataError, UpstreamTimeout
from .log import logger
from .tools import ToolInputError


def run_tool(settings: Settings, tool_use: dict[str, Any]) -> dict[str, Any]:
    """Run one toolUse; failures come back as an error toolResult, never as an exception."""
    name, tool_use_id, raw = tool_use.get("name"), tool_use.get("toolUseId"), tool_use.get("input")
    args: dict[str, Any] = raw if isinstance(raw, dict) else {}
    status = "success"
    content: dict[str, Any]
    try:
        offered, scope = tools_for(settings), tools.read_scope()
        if name in tools.TOOLS and name not in offered:
            raise ToolInputError(f"{name} is not available to this caller: {tools.WITHHELD_WHY[scope]}")
        if name not in offered:
            raise ToolInputError("unknown tool; use one of " + ", ".join(offered))
        if name in writes.WRITE_TOOLS:
            content = {"json": offered[name][0](settings, args)}
        else:
            tools.check_scope(name, args, scope)
            result = offered[name][0](settings, args, scope=scope)
            content = {"json": {**result, "withheld": tools.WITHHELD_WHY[scope]} if scope != "all" else result}
    except ToolInputError as err:
        status, content = "error", {"text": f"Invalid input: {err}"}
    except DataError as err:
        status, content = "error", {"text": f"The database could not answer ({err.code}). {err.message}"}
    except UpstreamTimeout:  # too little time left to start the statement
        status, content = "error", {"text": "Not run: too little time left (timeout). Answer from what you have."}
    except Exception:
        logger.exception("tool failed", extra={"tool": tool_label(name)})
        status, content = "error", {"text": "The tool failed unexpectedly."}
    logger.info("tool", extra={"tool": tool_label(name), "status": status})
    return {"toolResult": {"toolUseId": tool_use_id, "content": [content], "status": status}}


def known_tool(name: Any) -> bool:
    """One of our tool names (read or write)? The model controls the name; anything else may hold data."""
    return isinstance(name, str) and (name in tools.TOOLS or name in writes.WRITE_TOOLS)


def tool_label(name: Any) -> str:
    """A tool name fit for the log: ours, or "unknown"."""
    return name if known_tool(name) else "unknown"


def refused_tool(tool_use: dict[str, Any], reason: str) -> dict[str, Any]:
    """An error toolResult for a call we do not run (over the per-round cap, or an oversized input)."""
    logger.info("tool", extra={"tool": tool_label(tool_use.get("name")), "status": "refused"})
    return {"toolResult": {"toolUseId": tool_use.get("toolUseId"), "content": [{"text": reason}], "status": "error"}}


def read_scope_of(asker: Asker, settings: Settings) -> str:
    """Decided once per request: a principal (signed-in staff, or the operator's direct invoke) reads
    everything; an anonymous caller reads what ANONYMOUS_READ_SCOPE allows."""
    return "all" if asker.principal is not None else settings.anonymous_read_scope


def writes_offered(settings: Settings) -> bool:
    return settings.writes_enabled and writes._WRITE_SCOPE.get() is not None


def tools_for(settings: Settings) -> dict[str, Any]:
    read = tools.TOOLS_BY_SCOPE[tools.read_scope()]
    return {**read, **writes.WRITE_TOOLS} if writes_offered(settings) else read


def tool_config_for(settings: Settings) -> dict[str, Any]:
    read = tools.TOOL_CONFIG_BY_SCOPE[tools.read_scope()]
    if not writes_offered(settings):
        return read
    return {"tools": read["tools"] + [
        {"toolSpec": {"name": name, "description": spec[1], "inputSchema": spec[2]}} for name, spec in writes.WRITE_TOOLS.items()]}


def system_prompt_for(settings: Settings) -> str:
    prompt = facts.SYSTEM_PROMPT + (facts.WITHHELD_PROMPT if tools.read_scope() != "all" else "")
    return prompt + writes.WRITES_PROMPT if writes_offered(settings) else prompt
