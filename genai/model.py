"""Claude on Bedrock through the Converse API: one call bounded by the deadline and
retried once when throttled and time allows, Bedrock's errors mapped to statuses, the fallback to the
next candidate model ID when Bedrock refuses one as invalid or not found (remembered per instance),
and the tool loop (converse_loop) with its per-round and per-question bounds.

Imports budget, clients, config, errors, profiles, toolset and log.
"""

from __future__ import annotations

import json
import re
import threading
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

from . import clients, config, errors, profiles, toolset
from .budget import Deadline, Usage
from .config import Settings
from .errors import ConfigurationError, ServiceUnavailable, Throttled, UpstreamError, UpstreamTimeout
from .log import log_token, logger

_MODEL_THROTTLED = {"ThrottlingException", "ServiceQuotaExceededException"}
_MODEL_UNAVAILABLE = {"ServiceUnavailableException", "ModelNotReadyException", "InternalServerException"}


MODEL_RETRY_PAUSE_S = 1.0

# Bedrock refusing the model ID itself: the next candidate ID may be served. A ResourceNotFoundException
# from Converse can only be about the model (no guardrail or prompt resource is named); a
# ValidationException only when its message says the ID is invalid, unknown, or needs an inference
# profile ("Invocation of model ID ... with on-demand throughput isn't supported. Retry your request
# with the ID or ARN of an inference profile that contains this model."). Anything else, a validation
# error about the messages, access denied, throttling, is not a reason to try another ID.
_ID_REFUSAL_RE = ("(?i)"
    r"model identifier is invalid|invalid model identifier|on-demand throughput isn.t supported"
    r"|could not resolve the foundation model|(model|inference profile) (id|identifier)\b.{0,200}?"
    r"\b(is invalid|isn.t valid|is not valid|not found|does not exist)")


class ModelIdRefused(UpstreamError):
    """Bedrock refused the model ID (invalid, not found, or an inference profile is needed): the same
    502 model_error as any rejected request when no other candidate is left to try."""

    code = "model_error"
    message = "The language model rejected the request."


def _refuses_the_id(code: str, err: ClientError) -> bool:
    if code == "ResourceNotFoundException":
        return True
    message = err.response.get("Error", {}).get("Message", "") if isinstance(err.response, dict) else ""
    return code == "ValidationException" and isinstance(message, str) and bool(re.search(_ID_REFUSAL_RE, message))


def _converse(model_id: str, settings: Settings, messages: list[dict[str, Any]], usage: Usage,
              deadline: Deadline, may_retry: bool = True) -> dict[str, Any]:
    """One Converse call, bounded by the time left; a throttled or unavailable model is tried at
    most twice in all (botocore does not retry), the second time only when the deadline allows
    (and ``may_retry``: not after a refused ID, so the question stays within three calls)."""
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
            retry = transient and attempt == 1 and may_retry and (
                deadline.remaining_ms() > config.MODEL_CALL_RESERVE_MS + MODEL_RETRY_PAUSE_S * 1000)
            logger.warning("bedrock error", extra={"error_code": code, "model_id": model_id, "retry": retry})
            if retry:
                time.sleep(MODEL_RETRY_PAUSE_S)
                continue
            if _refuses_the_id(code, err):
                raise ModelIdRefused() from err
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
    model_id: str = ""  # the ID that answered


class Route(NamedTuple):
    """The model IDs one question may call, in order, and the key a working one is remembered under."""

    ids: tuple[str, ...]
    key: tuple[str, str, str] | None = None  # (configured model, Region, override); None: no fallback


# The ID that answered after the first choice was refused, for the life of the instance.
_WORKING_IDS: dict[tuple[str, str, str], str] = {}
_WORKING_LOCK = threading.Lock()


def route_for(settings: Settings, region: str) -> Route:
    """The candidates of profiles.candidate_ids, the remembered working ID first when there is one."""
    key = (settings.model_id, region, settings.inference_profile)
    ids = profiles.candidate_ids(settings.model_id, region, settings.inference_profile)
    remembered = _WORKING_IDS.get(key)
    if remembered in ids:
        ids = (remembered, *(i for i in ids if i != remembered))
    return Route(ids, key)


def _remember(route: Route, refused: list[str], working: str) -> None:
    """Keep the ID that worked; the first question that finds it logs it, with the refused IDs."""
    if route.key is None:
        return
    with _WORKING_LOCK:
        changed = _WORKING_IDS.get(route.key) != working
        _WORKING_IDS[route.key] = working
    if changed:
        logger.warning("model id refused, using the next candidate",
                       extra={"refused_model_ids": [log_token(i, 200) for i in refused],
                              "model_id": log_token(working, 200)})


def _first_call(route: Route, settings: Settings, messages: list[dict[str, Any]], usage: Usage,
                deadline: Deadline) -> tuple[dict[str, Any], str]:
    """The question's first model call: a refused ID moves on to the next candidate while one is left
    and the deadline still leaves MODEL_CALL_RESERVE_MS for it; any other error is raised as it is."""
    refused: list[str] = []
    for index, model_id in enumerate(route.ids):
        try:
            response = _converse(model_id, settings, messages, usage, deadline, may_retry=not refused)
        except ModelIdRefused:
            refused.append(model_id)
            last = index + 1 >= len(route.ids)
            if last or deadline.remaining_ms() < config.MODEL_CALL_RESERVE_MS:
                raise
            usage.model_id_fallbacks += 1
            continue
        if refused:
            _remember(route, refused, model_id)
        return response, model_id
    raise AssertionError("unreachable")


def converse_loop(settings: Settings, model_id: str | Route, messages: list[dict[str, Any]], deadline: Deadline,
                  usage: Usage | None = None) -> tuple[Answer, Usage]:
    """Call the model, run the tools it asks for, and stop at an answer, the round cap or the deadline.

    ``model_id`` is one ID, or a Route whose first call falls back through its candidates; every later
    round calls the ID that answered the first."""
    messages, usage = list(messages), usage or Usage()
    route = model_id if isinstance(model_id, Route) else Route((model_id,))
    chosen = route.ids[0]
    final = False  # the round cap or the token ceiling was reached: this call must answer
    for round_number in range(1, settings.max_tool_rounds + 2):
        if deadline.remaining_ms() < config.MODEL_CALL_RESERVE_MS:
            raise UpstreamTimeout()
        if round_number == 1:
            response, chosen = _first_call(route, settings, messages, usage, deadline)
        else:
            response = _converse(chosen, settings, messages, usage, deadline)
        turn = read_turn(response)
        if turn.stop_reason != "tool_use" or not turn.tool_uses:
            if not turn.text:
                raise UpstreamError("The language model returned no answer.", "empty_answer")
            return Answer(turn.text, turn.stop_reason == "max_tokens", chosen), usage
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
