"""The function's logger and log hygiene: one named logger, its level from Lambda's
logging_config, botocore kept below DEBUG (its records carry SQL parameters and prompts), and
log_token, which bounds any value from a dependency before it reaches a log line.

Ground floor: imports nothing of the package.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

logger = logging.getLogger("petclinic_genai")
# botocore's DEBUG records carry request bodies (SQL parameters, prompts): keep them out even
# when the function's log level is DEBUG.
for _noisy in ("boto3", "botocore", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)
# Lambda sets AWS_LAMBDA_LOG_LEVEL from logging_config (TRACE DEBUG INFO WARN ERROR FATAL); INFO when
# it is not configured. TRACE, WARN and FATAL are not logging's names: map them, never fail the import.
_LAMBDA_LOG_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
                      "WARNING": logging.WARNING, "ERROR": logging.ERROR, "FATAL": logging.CRITICAL,
                      "CRITICAL": logging.CRITICAL}
logger.setLevel(_LAMBDA_LOG_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").strip().upper(), logging.INFO))
_LOG_TOKEN_RE = r"[^A-Za-z0-9_.:-]"


def log_token(value: Any, limit: int = 64) -> str:
    """A value from a dependency (an error code, a tool name) made safe to log: bounded, no free text."""
    return re.sub(_LOG_TOKEN_RE, "?", str(value)[:limit])
