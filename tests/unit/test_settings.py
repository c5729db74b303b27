"""Settings come from the environment and are validated once; errors never leak values."""

from __future__ import annotations

import json
import logging

import pytest

import lambda_function as lf
from genai import clients, config, errors

CLUSTER = "arn:aws:rds:ap-northeast-2:123456789012:cluster:petclinic-dev-aurora-cluster"
SECRET = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!cluster-1a2b3c-AbCdEf"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("DB_CLUSTER_ARN", CLUSTER)
    monkeypatch.setenv("DB_SECRET_ARN", SECRET)
    for name in ("DB_NAME", "BEDROCK_MODEL_ID", "BEDROCK_INFERENCE_PROFILE", "MAX_TOOL_ROUNDS", "MAX_OUTPUT_TOKENS",
                 "CONVERSATION_TABLE", "CONVERSATION_IDLE_MINUTES", "CONVERSATION_MAX_TURNS", "API_GATEWAY_BUDGET_MS",
                 "CORS_ALLOW_ORIGIN", "WRITES_ENABLED", "CONVERSATION_KEY",
                 "ANONYMOUS_READ_SCOPE", "ALB_OIDC_AUTH", "ALB_ARN"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults(env: pytest.MonkeyPatch) -> None:
    settings = config.Settings.from_env()
    assert settings.db_name == "petclinic"
    assert settings.model_id == "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert settings.inference_profile == "auto"
    assert settings.max_tool_rounds == config.DEFAULT_MAX_TOOL_ROUNDS
    assert (settings.memory, settings.writes_enabled, settings.cors_allow_origins) == (False, False, ())
    assert (settings.conversation_idle_minutes, settings.conversation_max_turns) == (60, 5)
    assert settings.api_gateway_budget_ms == 28_000 < 29_000
    assert settings.anonymous_read_scope == "no_contact"  # issue 21: no contact details for anonymous callers


@pytest.mark.parametrize("value, scope", [("all", "all"), ("NO_CONTACT", "no_contact"), (" clinic ", "clinic"), ("", "no_contact")])
def test_anonymous_read_scope(env: pytest.MonkeyPatch, value: str, scope: str) -> None:
    env.setenv("ANONYMOUS_READ_SCOPE", value)
    assert config.Settings.from_env().anonymous_read_scope == scope


def test_an_empty_setting_means_its_default(env: pytest.MonkeyPatch) -> None:
    """make exports WRITES_ENABLED even when unset: empty must not break make run."""
    env.setenv("WRITES_ENABLED", "")
    assert config.Settings.from_env().writes_enabled is False


def test_memory_writes_and_cors_settings(env: pytest.MonkeyPatch) -> None:
    env.setenv("CONVERSATION_TABLE", "petclinic-dev-genai-conversations")
    env.setenv("CONVERSATION_KEY", "0123456789abcdef" * 4)
    env.setenv("WRITES_ENABLED", "TRUE")
    env.setenv("CORS_ALLOW_ORIGIN", "https://petclinic.example.com, http://localhost:8080")
    env.setenv("API_GATEWAY_BUDGET_MS", "100")
    settings = config.Settings.from_env()
    assert settings.memory and settings.writes_enabled
    assert settings.cors_allow_origins == ("https://petclinic.example.com", "http://localhost:8080")
    assert settings.api_gateway_budget_ms == 1000  # clamped


def test_alb_sign_in_needs_the_load_balancers_arn(env: pytest.MonkeyPatch) -> None:
    """The signer of x-amzn-oidc-data is checked against ALB_ARN: without it nobody could sign in."""
    arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/web/0123456789abcdef"
    env.setenv("ALB_OIDC_AUTH", "true")
    with pytest.raises(errors.ConfigurationError):
        config.Settings.from_env()
    for wrong in ("arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/01",
                  "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/web/0123456789abcdef",
                  arn + "/x", "web"):
        env.setenv("ALB_ARN", wrong)
        with pytest.raises(errors.ConfigurationError):
            config.Settings.from_env()
    env.setenv("ALB_ARN", arn)
    settings = config.Settings.from_env()
    assert settings.alb_oidc_auth and settings.alb_arn == arn


def test_numbers_are_clamped(env: pytest.MonkeyPatch) -> None:
    env.setenv("MAX_TOOL_ROUNDS", "99")
    env.setenv("MAX_OUTPUT_TOKENS", "abc")
    settings = config.Settings.from_env()
    assert settings.max_tool_rounds == 10
    assert settings.max_output_tokens == config.DEFAULT_MAX_OUTPUT_TOKENS
    env.setenv("RATE_LIMIT_CLIENT_PER_DAY", "10000000")  # its tags would not fit one DynamoDB item
    assert config.Settings.from_env().client_per_day == config.MAX_CLIENT_PER_DAY == 20_000


@pytest.mark.parametrize(
    "name, value",
    [
        ("DB_SECRET_ARN", "petclinic-dev-aurora-master-secret"),  # the seed passed a secret *name*
        ("DB_CLUSTER_ARN", "petclinic-dev"),
        ("DB_NAME", "petclinic; DROP TABLE owners"),
        ("BEDROCK_INFERENCE_PROFILE", "mars"),
        ("WRITES_ENABLED", "yes please"),
        ("WRITES_ENABLED", "true"),  # without CONVERSATION_TABLE: a pending write needs the conversation
        ("CONVERSATION_TABLE", "no spaces allowed"),
        ("CONVERSATION_TABLE", "petclinic-dev-genai-conversations"),  # memory on without CONVERSATION_KEY
        ("CORS_ALLOW_ORIGIN", "javascript:alert(1)"),
        ("ANONYMOUS_READ_SCOPE", "public"),  # a typo must not open (or close) the data silently
    ],
)
def test_invalid_configuration_is_a_500_that_names_nothing_secret(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str, value: str
) -> None:
    env.setenv(name, value)
    with caplog.at_level(logging.ERROR):
        response = lf.lambda_handler({"question": "Who owns Leo?"}, None)
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["error"]["code"] == "configuration_error"
    assert value not in response["body"]
    logged = " ".join(str(vars(record)) for record in caplog.records)
    assert name in logged and value not in logged



@pytest.mark.parametrize("budget_s", [1.0, 1.9, 7.9, 29.0, 54.0, 120.5, 899.0])
@pytest.mark.parametrize("service", ["rds-data", "bedrock-runtime"])
def test_a_call_never_outlives_its_budget(env: pytest.MonkeyPatch, service: str, budget_s: float) -> None:
    config = clients.client(service, budget_s).meta.config
    per_attempt = config.connect_timeout + config.read_timeout
    assert per_attempt <= budget_s
    assert per_attempt > min(budget_s, clients.DATA_API_MAX_S if service == "rds-data" else budget_s) / 2  # not needlessly short
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}  # one attempt, counted as botocore counts


def test_no_budget_no_call(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.UpstreamTimeout):
        clients.client("bedrock-runtime", 0.9)


@pytest.mark.parametrize("missing", ["region", "credentials"])
def test_missing_region_or_credentials_is_a_configuration_error(env: pytest.MonkeyPatch, missing: str) -> None:
    if missing == "region":
        env.delenv("AWS_DEFAULT_REGION", raising=False)
        env.delenv("AWS_REGION", raising=False)
    else:
        env.delenv("AWS_ACCESS_KEY_ID", raising=False)
        env.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    response = lf.lambda_handler({"question": "Who owns Leo?"}, None)
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["error"]["code"] == "configuration_error"


def test_debug_logging_never_shows_sql_parameters_or_prompts(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers: the request fails fast
    with caplog.at_level(logging.DEBUG):
        lf.lambda_handler({"question": "Who owns Leopoldina?"}, None)
    logged = " ".join(str(vars(record)) for record in caplog.records)
    assert "Leopoldina" not in logged
    assert "SELECT" not in logged


@pytest.mark.parametrize("level, expected", [("TRACE", "DEBUG"), ("DEBUG", "DEBUG"), ("INFO", "INFO"), ("WARN", "WARNING"),
                                             ("ERROR", "ERROR"), ("FATAL", "CRITICAL"), ("", "INFO"), ("nonsense", "INFO")])
def test_every_lambda_log_level_imports(level: str, expected: str) -> None:
    """Lambda's application_log_level allows TRACE and FATAL, which logging does not know."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(lf.__file__).resolve().parent
    code = "import logging, lambda_function; from genai import log; print(logging.getLevelName(log.logger.level))"
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "AWS_LAMBDA_LOG_LEVEL": level}, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == expected


def test_a_bad_configuration_is_logged_once_per_request(env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    env.setenv("DB_NAME", "petclinic; DROP TABLE owners")
    with caplog.at_level(logging.ERROR):
        lf.lambda_handler({"question": "Who owns Leo?"}, None)
    assert [r.getMessage() for r in caplog.records].count("invalid configuration") == 1
