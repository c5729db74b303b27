"""What one request is offered and how a tool call runs: the read tools, plus the write
tools when this request may write; the matching system prompt; run_tool, which turns every failure
into an error toolResult, never an exception.

Imports config, errors, facts, tools, writes and log.
"""

from __future__ import annotations

from typing import Any

from . import facts, tools, writes
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
        offered = tools_for(settings)
        if name not in offered:
            raise ToolInputError("unknown tool; use one of " + ", ".join(offered))
        content = {"json": offered[name][0](settings, args)}
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


def writes_offered(settings: Settings) -> bool:
    return settings.writes_enabled and writes._WRITE_SCOPE.get() is not None


def tools_for(settings: Settings) -> dict[str, Any]:
    return {**tools.TOOLS, **writes.WRITE_TOOLS} if writes_offered(settings) else tools.TOOLS


def tool_config_for(settings: Settings) -> dict[str, Any]:
    if not writes_offered(settings):
        return tools.TOOL_CONFIG
    return {"tools": tools.TOOL_CONFIG["tools"] + [
        {"toolSpec": {"name": name, "description": spec[1], "inputSchema": spec[2]}} for name, spec in writes.WRITE_TOOLS.items()]}


def system_prompt_for(settings: Settings) -> str:
    return facts.SYSTEM_PROMPT + writes.WRITES_PROMPT if writes_offered(settings) else facts.SYSTEM_PROMPT
