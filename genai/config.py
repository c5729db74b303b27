"""The function's settings: every environment variable it reads (``_env``), validated
once per instance into an immutable Settings, and the fixed limits (sizes, reserves, defaults) every
other module uses. A bad setting raises ConfigurationError.

Imports only the ground floor (errors, log, profiles).
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from . import profiles
from .errors import ConfigurationError
from .log import logger

DEFAULT_MODEL_ID = "anthropic.claude-haiku-4-5-20251001-v1:0"
MAX_QUESTION_CHARS = 2000
MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_TOOL_ROUNDS = 4
DEFAULT_MAX_OUTPUT_TOKENS = 1024
# No model call starts with less than this left (it could not finish); a database call leaves it
# for the model call that follows. Every call also leaves RESPONSE_RESERVE_MS to answer.
MODEL_CALL_RESERVE_MS = 8_000
RESPONSE_RESERVE_MS = 1_000
MAX_TOOL_CALLS_PER_ROUND = 6  # extra toolUse blocks in one turn get an error toolResult, not a statement
MAX_TOOL_INPUT_CHARS = 2_000  # a larger tool input is refused and not echoed back to the model
# Past this many tokens (input + output, all calls) a question runs no more tools: the next call must
# answer, so one question spends at most about twice this (the daily cap's overshoot per question).
QUESTION_TOKEN_CEILING = 60_000
DEFAULT_TIME_BUDGET_MS = 60_000
# API Gateway's REST integration timeout is 29 s: answer (504 if need be) before it gives up.
DEFAULT_API_GATEWAY_BUDGET_MS = 28_000
DEFAULT_CONVERSATION_IDLE_MINUTES = 60
DEFAULT_CONVERSATION_MAX_TURNS = 5
MIN_CONVERSATION_KEY_CHARS = 32
# Rate-limit and spend defaults for the public internet: a clinic's staff behind one office address stay well inside
# them; a loop from one address gets at most 20 questions a minute (40 across a window boundary).
DEFAULT_CLIENT_PER_MINUTE = 20
DEFAULT_CLIENT_PER_DAY = 500
DEFAULT_CONVERSATION_PER_MINUTE = 6
DEFAULT_DAILY_TOKEN_CAP = 2_000_000  # input + output tokens per UTC day, the whole function
DEFAULT_CLIENT_TOKENS_PER_DAY = 400_000  # one client alone cannot spend the day's cap (a fifth of it)
# Anonymous questions stop at this share of the cap: signed-in staff keep the rest of the day's budget.
ANONYMOUS_CAP_SHARE = 0.8
MAX_CLIENT_PER_DAY = 20_000  # the day window keeps a 12-character tag per admitted request (< 400 KB)
CLIENT_ADDRESS_SOURCES = ("viewer", "forwarded", "connection")
# What an anonymous caller may read (ANONYMOUS_READ_SCOPE), widest first: everything; no owner's address or
# telephone; clinic-level data only (vets, specialties, pet types, counts). Signed-in staff read "all".
READ_SCOPES = ("all", "no_contact", "clinic")
DEFAULT_ANONYMOUS_READ_SCOPE = "no_contact"

# Used with fullmatch ("$" would let a trailing newline through).
_CLUSTER_ARN_RE = r"arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]{0,62}"
_SECRET_ARN_RE = r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@!-]+"
_DB_NAME_RE = r"[A-Za-z0-9_$]{1,64}"
_MODEL_ID_RE = r"(arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d{0,12}:[a-z-]+/)?[A-Za-z0-9.:_-]{3,200}"
_TABLE_RE = r"[A-Za-z0-9_.-]{3,255}"
_ORIGIN_RE = r"\*|https?://[A-Za-z0-9.-]+(:\d{1,5})?"
_GROUP_RE = r"[^\s,]{1,128}"  # a Cognito group name (letters of any script, no spaces)
# An Application Load Balancer in a partition whose ELB signing keys the function knows where to fetch.
_ALB_ARN_RE = (r"arn:aws(-us-gov)?:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/app/"
               r"[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32}")  # compiled on first use


def _env(name: str, default: str = "") -> str:
    """Every variable this module reads goes through here (the Terraform tests rely on that)."""
    return os.environ.get(name, default).strip()


class Settings(NamedTuple):  # NamedTuple, not a dataclass: a third of the class-creation cost at import
    db_cluster_arn: str
    db_secret_arn: str
    db_name: str
    model_id: str
    inference_profile: str
    max_tool_rounds: int
    max_output_tokens: int
    conversation_table: str = ""  # empty: no conversation memory
    conversation_idle_minutes: int = DEFAULT_CONVERSATION_IDLE_MINUTES
    conversation_max_turns: int = DEFAULT_CONVERSATION_MAX_TURNS
    api_gateway_budget_ms: int = DEFAULT_API_GATEWAY_BUDGET_MS
    cors_allow_origins: tuple[str, ...] = ()
    writes_enabled: bool = False
    limits_table: str = ""  # empty: no rate limits and no daily cap
    client_per_minute: int = DEFAULT_CLIENT_PER_MINUTE  # 0 turns one limit off
    client_per_day: int = DEFAULT_CLIENT_PER_DAY
    client_tokens_per_day: int = DEFAULT_CLIENT_TOKENS_PER_DAY
    conversation_per_minute: int = DEFAULT_CONVERSATION_PER_MINUTE
    daily_token_cap: int = DEFAULT_DAILY_TOKEN_CAP
    client_address_source: str = "viewer"
    trusted_proxy_hops: int = 1
    write_groups: frozenset[str] = frozenset()  # empty: any authenticated principal may write
    alb_oidc_auth: bool = False  # the ALB authenticates, so its x-amzn-oidc-* headers can be trusted
    conversation_key: str = ""  # signs the conversation ids this function issues (memory on); never logged
    anonymous_read_scope: str = DEFAULT_ANONYMOUS_READ_SCOPE  # one of READ_SCOPES
    alb_arn: str = ""  # the load balancer whose signature (the signer of x-amzn-oidc-data) is trusted

    @property
    def memory(self) -> bool:
        return bool(self.conversation_table)

    @property
    def limits(self) -> bool:
        return bool(self.limits_table)

    @classmethod
    def from_env(cls) -> Settings:
        values = cls(
            db_cluster_arn=_env("DB_CLUSTER_ARN"),
            db_secret_arn=_env("DB_SECRET_ARN"),
            db_name=_env("DB_NAME", "petclinic"),
            model_id=_env("BEDROCK_MODEL_ID", DEFAULT_MODEL_ID) or DEFAULT_MODEL_ID,
            inference_profile=_env("BEDROCK_INFERENCE_PROFILE", "auto").lower() or "auto",
            max_tool_rounds=_int_setting("MAX_TOOL_ROUNDS", DEFAULT_MAX_TOOL_ROUNDS, 1, 10),
            max_output_tokens=_int_setting("MAX_OUTPUT_TOKENS", DEFAULT_MAX_OUTPUT_TOKENS, 64, 8192),
            conversation_table=_env("CONVERSATION_TABLE"),
            conversation_key=_env("CONVERSATION_KEY"),
            conversation_idle_minutes=_int_setting("CONVERSATION_IDLE_MINUTES", DEFAULT_CONVERSATION_IDLE_MINUTES,
                                                   5, 10080),
            conversation_max_turns=_int_setting("CONVERSATION_MAX_TURNS", DEFAULT_CONVERSATION_MAX_TURNS, 1, 20),
            api_gateway_budget_ms=_int_setting("API_GATEWAY_BUDGET_MS", DEFAULT_API_GATEWAY_BUDGET_MS, 1000, 900_000),
            cors_allow_origins=tuple(o.strip() for o in _env("CORS_ALLOW_ORIGIN").split(",") if o.strip()),
            writes_enabled=(_env("WRITES_ENABLED") or "false").lower() == "true",
            limits_table=_env("LIMITS_TABLE"),
            client_per_minute=_int_setting("RATE_LIMIT_CLIENT_PER_MINUTE", DEFAULT_CLIENT_PER_MINUTE, 0, 100_000),
            client_per_day=_int_setting("RATE_LIMIT_CLIENT_PER_DAY", DEFAULT_CLIENT_PER_DAY, 0, MAX_CLIENT_PER_DAY),
            client_tokens_per_day=_int_setting("RATE_LIMIT_CLIENT_TOKENS_PER_DAY", DEFAULT_CLIENT_TOKENS_PER_DAY, 0,
                                               10**10),
            conversation_per_minute=_int_setting("RATE_LIMIT_CONVERSATION_PER_MINUTE", DEFAULT_CONVERSATION_PER_MINUTE,
                                                 0, 100_000),
            daily_token_cap=_int_setting("DAILY_TOKEN_CAP", DEFAULT_DAILY_TOKEN_CAP, 0, 10**10),
            client_address_source=_env("CLIENT_ADDRESS_SOURCE", "viewer").lower() or "viewer",
            trusted_proxy_hops=_int_setting("TRUSTED_PROXY_HOPS", 1, 0, 5),
            write_groups=frozenset(g.strip() for g in _env("WRITE_GROUPS").split(",") if g.strip()),
            alb_oidc_auth=(_env("ALB_OIDC_AUTH") or "false").lower() == "true",
            anonymous_read_scope=(_env("ANONYMOUS_READ_SCOPE", DEFAULT_ANONYMOUS_READ_SCOPE).lower()
                                  or DEFAULT_ANONYMOUS_READ_SCOPE),
            alb_arn=_env("ALB_ARN"),
        )
        problems = values.problems()
        for switch in ("WRITES_ENABLED", "ALB_OIDC_AUTH"):  # empty (make exports it): off
            if (_env(switch) or "false").lower() not in ("true", "false"):
                problems.append(f"{switch} must be true or false")
        if problems:
            # Names of variables are not secret; their values may be, so only names are logged.
            logger.error("invalid configuration", extra={"problems": problems})
            raise ConfigurationError()
        return values

    def problems(self) -> list[str]:
        found = []
        if not re.fullmatch(_CLUSTER_ARN_RE, self.db_cluster_arn):
            found.append("DB_CLUSTER_ARN must be an Aurora cluster ARN")
        if not re.fullmatch(_SECRET_ARN_RE, self.db_secret_arn):
            found.append("DB_SECRET_ARN must be a Secrets Manager secret ARN (not a secret name)")
        if not re.fullmatch(_DB_NAME_RE, self.db_name):
            found.append("DB_NAME must be a plain database name")
        if not re.fullmatch(_MODEL_ID_RE, self.model_id):
            found.append("BEDROCK_MODEL_ID is not a Bedrock model ID or ARN")
        if self.inference_profile not in ("auto", "none", *profiles.PROFILE_PREFIXES):
            found.append("BEDROCK_INFERENCE_PROFILE must be auto, none or one of " + ", ".join(profiles.PROFILE_PREFIXES))
        if self.conversation_table and not re.fullmatch(_TABLE_RE, self.conversation_table):
            found.append("CONVERSATION_TABLE must be a DynamoDB table name")
        if self.conversation_table and len(self.conversation_key) < MIN_CONVERSATION_KEY_CHARS:
            found.append(f"CONVERSATION_KEY must be at least {MIN_CONVERSATION_KEY_CHARS} characters with "
                         "CONVERSATION_TABLE set: it signs the conversation ids")
        if [o for o in self.cors_allow_origins if not re.fullmatch(_ORIGIN_RE, o)]:
            found.append("CORS_ALLOW_ORIGIN must be *, or origins such as https://petclinic.example.com, comma-separated")
        if self.writes_enabled and not self.memory:
            found.append("WRITES_ENABLED needs CONVERSATION_TABLE: a pending write lives in the conversation")
        if self.limits_table and not re.fullmatch(_TABLE_RE, self.limits_table):
            found.append("LIMITS_TABLE must be a DynamoDB table name")
        if self.client_address_source not in CLIENT_ADDRESS_SOURCES:
            found.append("CLIENT_ADDRESS_SOURCE must be one of " + ", ".join(CLIENT_ADDRESS_SOURCES))
        if [g for g in self.write_groups if not re.fullmatch(_GROUP_RE, g)]:
            found.append("WRITE_GROUPS must be Cognito group names, comma-separated")
        if self.anonymous_read_scope not in READ_SCOPES:
            found.append("ANONYMOUS_READ_SCOPE must be one of " + ", ".join(READ_SCOPES))
        if self.alb_arn and not re.fullmatch(_ALB_ARN_RE, self.alb_arn):
            found.append("ALB_ARN must be an Application Load Balancer ARN (aws or aws-us-gov partition)")
        if self.alb_oidc_auth and not self.alb_arn:
            found.append("ALB_OIDC_AUTH needs ALB_ARN: the signer of x-amzn-oidc-data is checked against it")
        return found


def _int_setting(name: str, default: int, low: int, high: int) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = default
        logger.warning("ignoring non-integer setting", extra={"setting": name})
    return min(max(value, low), high)


_settings: Settings | None = None


def settings_once() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings
