"""Claude on Bedrock through the Converse API: one call bounded by the deadline and
retried once when throttled and time allows, Bedrock's errors mapped to statuses, and the tool loop
(converse_loop) with its per-round and per-question bounds.

Imports budget, clients, config, errors, toolset and log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple, NoReturn

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from . import clients, config, errors, toolset
from .budget import Deadline, Usage
from .config import Settings
from .errors import ConfigurationError, ServiceUnavailable, Throttled, UpstreamError, UpstreamTimeout
from .log import logger

_MODEL_THROTTLED = {"ThrottlingException", "ServiceQuotaExceededException"}
_MODEL_UNAVAILABLE = {"ServiceUnavailableException", "ModelNotReadyException", "InternalServerException"}


MODEL_RETRY_PAUSE_S = 1.0


def _converse(model_id: str, settings: Settings, messages: list[dict[str, Any]], usage: Usage,
              deadline: Deadline) -> dict[str, Any]:
    """One Converse call, bounded by the time left; a throttled or unavailable model is tried at
    most twice in all (botocore does not retry), the second time only when the deadline allows."""
    for attempt in (1, 2):
        budget_s = deadline.budget_s(config.RESPONSE_RESERVE_MS)
        try:
            response = clients.client("bedrock-runtime", budget_s).converse(
                modelId=model_id,
                system=[{"text": toolset.system_prompt_for(settings)}],
                messages=messages,
                toolConfig=toolset.tool_config_for(settings),
                inferenceConfig={"maxTokens": settings.max_output_tokens, "temperature": 0},
            )
        except ClientError as err:
            code = clients._error_code(err)
            transient = code in _MODEL_THROTTLED | _MODEL_UNAVAILABLE or clients._is_server_error(code)
            retry = transient and attempt == 1 and (
                deadline.remaining_ms() > config.MODEL_CALL_RESERVE_MS + MODEL_RETRY_PAUSE_S * 1000)
            logger.warning("bedrock error", extra={"error_code": code, "model_id": model_id, "retry": retry})
            if retry:
                time.sleep(MODEL_RETRY_PAUSE_S)
                continue
            _raise_model_error(code, err)
        except ReadTimeoutError as err:
            logger.warning("bedrock read timeout", extra={"budget_s": round(budget_s, 1)})
            raise UpstreamTimeout(code="model_timeout") from err
        except NoCredentialsError as err:
            logger.error("no AWS credentials")
            raise ConfigurationError() from err
        except ParamValidationError:
            raise  # our bug, not the model's
        except BotoCoreError as err:  # refused or dropped connection, broken stream
            logger.warning("bedrock unreachable", extra={"error_type": type(err).__name__})
            raise ServiceUnavailable(code="model_unreachable") from err
        except (AttributeError, TypeError, ValueError, KeyError) as err:  # botocore parsing a body of the wrong shape
            raise errors._bad_model(type(err).__name__) from err
        usage.add(response.get("usage") if isinstance(response, dict) else None)
        return response
    raise AssertionError("unreachable")


def _raise_model_error(code: str, err: ClientError) -> NoReturn:
    if code in _MODEL_THROTTLED:
        raise Throttled(code="model_throttled") from err
    if code in _MODEL_UNAVAILABLE or clients._is_server_error(code):
        raise ServiceUnavailable(code="model_unavailable") from err
    if code == "ModelTimeoutException":
        raise UpstreamTimeout(code="model_timeout") from err
    raise UpstreamError("The language model rejected the request.", "model_error") from err


class Turn(NamedTuple):
    """One model response, checked: its stop reason, text, tool calls, and the message to echo back."""

    stop_reason: str
    text: str
    tool_uses: list[dict[str, Any]]
    echo: dict[str, Any]


def read_turn(response: dict[str, Any]) -> Turn:
    """Check the response's shape; anything unexpected is a bad response (502), never a crash."""
    output = response.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    stop_reason = response.get("stopReason")
    if not isinstance(content, list) or not isinstance(stop_reason, str):
        raise errors._bad_model("message content is not a list")
    texts, tool_uses, echo = [], [], []
    for block in content:
        if not isinstance(block, dict):
            raise errors._bad_model("content block is not an object")
        if "text" in block:
            if not isinstance(block["text"], str):
                raise errors._bad_model("text block is not a string")
            texts.append(block["text"])
            echo.append({"text": block["text"]})
        elif "toolUse" in block:
            tool_use = block["toolUse"]
            if not isinstance(tool_use, dict) or not isinstance(tool_use.get("toolUseId"), str) \
                    or not 0 < len(tool_use["toolUseId"]) <= 64:
                raise errors._bad_model("toolUse is not an object with an id")
            tool_uses.append(tool_use)
            echo.append({"toolUse": _bounded_tool_use(tool_use)})
    return Turn(stop_reason, "\n".join(texts).strip(), tool_uses, {"role": "assistant", "content": echo})


def _tool_input_size(tool_use: dict[str, Any]) -> int:
    try:
        return len(json.dumps(tool_use.get("input"), ensure_ascii=False))
    except (TypeError, ValueError, RecursionError):
        return config.MAX_TOOL_INPUT_CHARS + 1


def _bounded_tool_use(tool_use: dict[str, Any]) -> dict[str, Any]:
    """The toolUse as echoed back to Bedrock: an unknown name or an oversized input is replaced by
    a bounded placeholder (the toolResult says why), so the model cannot inflate the next request."""
    name = tool_use.get("name")
    oversized = _tool_input_size(tool_use) > config.MAX_TOOL_INPUT_CHARS
    return {"toolUseId": tool_use["toolUseId"],
            "name": name if toolset.known_tool(name) else "unknown_tool",
            "input": {"omitted": "input too large"} if oversized else tool_use.get("input")}


def run_round(settings: Settings, tool_uses: list[dict[str, Any]], usage: Usage) -> list[dict[str, Any]]:
    """The tool calls of one turn: at most MAX_TOOL_CALLS_PER_ROUND run; every toolUse gets a result."""
    calls: list[Callable[[], dict[str, Any]]] = []
    for index, tool_use in enumerate(tool_uses):
        if index >= config.MAX_TOOL_CALLS_PER_ROUND:
            reason = f"Not run: at most {config.MAX_TOOL_CALLS_PER_ROUND} tool calls per turn; ask again if needed."
            calls.append(partial(toolset.refused_tool, tool_use, reason))
        elif _tool_input_size(tool_use) > config.MAX_TOOL_INPUT_CHARS:
            calls.append(partial(toolset.refused_tool, tool_use, f"Not run: the input is over {config.MAX_TOOL_INPUT_CHARS} characters."))
        else:
            usage.tool_calls += 1
            calls.append(partial(toolset.run_tool, settings, tool_use))
    return clients.run_concurrently(calls)


class Answer(NamedTuple):
    text: str
    truncated: bool  # the model hit maxTokens: the text ends mid-sentence


def converse_loop(settings: Settings, model_id: str, messages: list[dict[str, Any]], deadline: Deadline,
                  usage: Usage | None = None) -> tuple[Answer, Usage]:
    """Call the model, run the tools it asks for, and stop at an answer, the round cap or the deadline."""
    messages, usage = list(messages), usage or Usage()
    final = False  # the round cap or the token ceiling was reached: this call must answer
    for round_number in range(1, settings.max_tool_rounds + 2):
        if deadline.remaining_ms() < config.MODEL_CALL_RESERVE_MS:
            raise UpstreamTimeout()
        turn = read_turn(_converse(model_id, settings, messages, usage, deadline))
        if turn.stop_reason != "tool_use" or not turn.tool_uses:
            if not turn.text:
                raise UpstreamError("The language model returned no answer.", "empty_answer")
            return Answer(turn.text, turn.stop_reason == "max_tokens"), usage
        if final or round_number > settings.max_tool_rounds:
            break
        if usage.input_tokens + usage.output_tokens >= config.QUESTION_TOKEN_CEILING:
            reason = "Not run: this question's token budget is used up."
            results, final = [toolset.refused_tool(tool_use, reason) for tool_use in turn.tool_uses], True
        else:
            results = run_round(settings, turn.tool_uses, usage)
            final = round_number == settings.max_tool_rounds
        if final:
            results.append({"text": "Tool budget used up: answer now from what you have."})
        messages += [turn.echo, {"role": "user", "content": results}]
    raise UpstreamError("The assistant could not finish within its step limit.", "tool_rounds_exceeded")
