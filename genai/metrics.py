"""One CloudWatch Embedded Metric Format line per question: the log line is the metric.

Imports budget, config, errors and log.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from . import config
from .budget import Usage
from .errors import RateLimited
from .log import log_token

_METRIC_UNITS = {"Questions": "Count", "ModelCalls": "Count", "InputTokens": "Count", "OutputTokens": "Count",
                 "ToolCalls": "Count", "AnswerLatency": "Milliseconds", "Errors": "Count", "RateLimited": "Count",
                 "LimiterErrors": "Count", "ModelIdFallbacks": "Count"}


def emit_metrics(usage: Usage, started: float, error_code: str | None = None, read_scope: str | None = None) -> None:
    """Print the question's EMF record to stdout as one JSON line.

    print(), not the logger: with Lambda's JSON log format a logging record is wrapped in
    {"message": ...}, and CloudWatch extracts metrics only when ``_aws`` is a top-level key of the
    line; stdout lines pass through as they are. Hand-written: Powertools' import costs ~7 ms
    of a cold-start budget that has no margin. Only on Lambda (AWS_LAMBDA_FUNCTION_NAME is set).

    ``read_scope`` (all, no_contact, clinic: the scope's name, never what it withheld) is a property
    of the line and a dimension of one more Questions metric (FunctionName, ReadScope)."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if not function:  # not on Lambda (make run/chat/serve, tests): a metric line would only be noise
        return
    values = {"Questions": 1, "ModelCalls": usage.model_calls, "InputTokens": usage.input_tokens,
              "OutputTokens": usage.output_tokens, "ToolCalls": usage.tool_calls,
              "AnswerLatency": round((time.monotonic() - started) * 1000, 1), "Errors": int(error_code is not None),
              "RateLimited": int(error_code == RateLimited.code), "LimiterErrors": usage.limiter_errors,
              "ModelIdFallbacks": usage.model_id_fallbacks}  # above 0: the table's first choice was refused
    units = dict(_METRIC_UNITS)
    if usage.daily_tokens is not None:  # the budget used so far today (the 80 % alarm reads its Maximum)
        values["DailyTokens"], units["DailyTokens"] = usage.daily_tokens, "Count"
    namespace = config._env("METRICS_NAMESPACE", "PetClinic/GenAI") or "PetClinic/GenAI"
    directives = [{"Namespace": namespace, "Dimensions": [["FunctionName"]],
                   "Metrics": [{"Name": name, "Unit": unit} for name, unit in units.items()]}]
    record: dict[str, Any] = {"FunctionName": function, **values}
    if error_code is not None:
        directives.append({"Namespace": namespace, "Dimensions": [["FunctionName", "ErrorCode"]],
                           "Metrics": [{"Name": "Errors", "Unit": "Count"}]})
        record["ErrorCode"] = log_token(error_code)
    if read_scope in config.READ_SCOPES:
        directives.append({"Namespace": namespace, "Dimensions": [["FunctionName", "ReadScope"]],
                           "Metrics": [{"Name": "Questions", "Unit": "Count"}]})
        record["ReadScope"] = read_scope
    record["_aws"] = {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": directives}
    print(json.dumps(record, separators=(",", ":")), flush=True)
