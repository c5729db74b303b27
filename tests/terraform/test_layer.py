"""The Terraform layer, checked offline: structure (python-hcl2), formatting (python-terraform),
the Bedrock IAM module evaluated by terraform itself, and checkov."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest

import lambda_function as lf
from local import tfdocs

ROOT = Path(__file__).resolve().parents[2]
MODULE_DIR = ROOT / "modules" / "bedrock-access"
IN_CI = os.environ.get("CI", "").lower() == "true"
TF_FILES = ["main.tf", "data.tf", "variables.tf", "outputs.tf", "backend.tf"]
RESERVED_ENV = re.compile(r"^(AWS_.*|_HANDLER|_X_AMZN_TRACE_ID|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR|TZ|LANG|PATH|"
                          r"LD_LIBRARY_PATH|PYTHONPATH)$")


def parsed(path: Path) -> dict[str, Any]:
    return tfdocs.load(path)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in TF_FILES:
        for entry in parsed(ROOT / name).get("resource", []):
            for key, named in entry.items():
                if key == kind:
                    found.update(named)
    return found


def data_blocks(kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for entry in parsed(ROOT / "data.tf").get("data", []) for key, named in entry.items()
            if key == kind for name, body in named.items()}


def main_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in parsed(ROOT / "main.tf").get("locals", []):
        merged.update(entry)
    return merged


def _terraform_env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(tmp), "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull,
            "TF_IN_AUTOMATION": "1"}


@pytest.fixture(scope="module")
def terraform_bin() -> str:
    found = shutil.which("terraform")
    if not found:
        if IN_CI:
            pytest.fail("terraform is not on PATH: CI must check formatting and the Bedrock module")
        pytest.skip("no terraform binary here")
    return found


# ------------------------------------------------------------------ formatting and files


def test_terraform_fmt_check(terraform_bin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from python_terraform import Terraform

    for key, value in _terraform_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    code, out, err = Terraform(working_dir=str(ROOT), terraform_bin_path=terraform_bin).cmd(
        "fmt", "-check", "-recursive", "-list=true")
    assert code == 0, f"terraform fmt would change: {out} {err}"


def test_only_backend_tf_has_a_terraform_block() -> None:
    holders = [name for name in TF_FILES if "terraform" in parsed(ROOT / name)]
    assert holders == ["backend.tf"]
    block = parsed(ROOT / "backend.tf")["terraform"][0]
    providers = block["required_providers"][0]
    assert providers["aws"]["source"] == "hashicorp/aws" and providers["aws"]["version"].startswith(">= 6.")
    assert "archive" in providers and "s3" in block["backend"][0]
    config = (ROOT / "backend.config").read_text()
    assert re.search(r'^key\s*=\s*"06-lambda-genai/terraform.tfstate"', config, re.M)
    assert re.search(r"^encrypt\s*=\s*true", config, re.M) and re.search(r"^use_lockfile\s*=\s*true", config, re.M)


# ------------------------------------------------------------------ variables and outputs


@pytest.mark.parametrize("directory", [ROOT, MODULE_DIR], ids=["root", "bedrock-access"])
def test_every_variable_is_described_typed_and_validated(directory: Path) -> None:
    variables = tfdocs.blocks(directory / "variables.tf", "variable")
    assert variables
    for name, body in variables.items():
        assert body.get("description"), name
        assert body.get("type"), name
        if directory == ROOT:
            assert "default" in body, f"{name} has no default"
        validations = body.get("validation") or []
        assert validations and all(v.get("error_message") for v in validations), f"{name} has no validation"


@pytest.mark.parametrize("directory", [ROOT, MODULE_DIR], ids=["root", "bedrock-access"])
def test_every_output_is_described(directory: Path) -> None:
    outputs = tfdocs.blocks(directory / "outputs.tf", "output")
    assert outputs and all(body.get("description") for body in outputs.values())


def test_tfvars_sets_only_declared_variables() -> None:
    declared = set(tfdocs.blocks(ROOT / "variables.tf", "variable"))
    assigned = set(re.findall(r"^([a-z_]+)\s*=", (ROOT / "terraform.tfvars").read_text(), re.M))
    assert assigned and assigned <= declared


def test_readme_tables_match_the_tf_files() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert tfdocs.readme_block(readme) == tfdocs.render(), "run `make docs` to regenerate the README tables"


# ------------------------------------------------------------------ the function


def test_handler_runtime_and_package() -> None:
    function = resources("aws_lambda_function")["this"]
    module, handler = function["handler"].split(".")
    assert (ROOT / f"{module}.py").exists() and callable(getattr(lf, handler))
    runtime = tfdocs.blocks(ROOT / "variables.tf", "variable")["lambda_runtime"]
    assert runtime["default"] == "python3.13"
    assert "python3.11" not in runtime["validation"][0]["condition"]
    archive = data_blocks("archive_file")["this"]
    assert archive["source_file"] == "${path.module}/lambda_function.py"
    assert function["logging_config"][0]["log_format"] == "JSON"
    assert "${aws_cloudwatch_log_group.this}" in function["depends_on"]


def test_environment_is_exactly_what_the_module_reads() -> None:
    environment = main_locals()["lambda_environment"]
    assert resources("aws_lambda_function")["this"]["environment"][0]["variables"] == "${local.lambda_environment}"
    read = set(re.findall(r'(?:_env|_int_setting)\("([A-Z_]+)"', (ROOT / "lambda_function.py").read_text()))
    assert set(environment) == read
    assert not [key for key in environment if RESERVED_ENV.match(key)]


def test_log_group_is_the_functions() -> None:
    names = main_locals()
    assert names["log_group"] == "/aws/lambda/${local.name}"
    assert resources("aws_lambda_function")["this"]["function_name"] == "${local.name}"
    assert resources("aws_cloudwatch_log_group")["this"]["name"] == "${local.log_group}"


def test_function_url_uses_iam_auth() -> None:
    assert resources("aws_lambda_function_url")["this"]["authorization_type"] == "AWS_IAM"


# ------------------------------------------------------------------ least privilege


def _statements() -> Iterator[dict[str, Any]]:
    document = data_blocks("aws_iam_policy_document")["this"]
    yield from document.get("statement", [])
    for dynamic in document.get("dynamic", []):
        yield from dynamic["statement"]["content"]


def test_no_wildcard_resources_or_actions_in_the_inline_policy() -> None:
    statements = list(_statements())
    assert {s["sid"] for s in statements} >= {"WriteOwnLogs", "QueryPetclinicThroughDataApi", "ReadDatabaseSecret",
                                              "InvokeClaudeInferenceProfiles", "InvokeClaudeInRegion"}
    for statement in statements:
        resources_ = statement["resources"] if isinstance(statement["resources"], list) else [statement["resources"]]
        assert "*" not in resources_, statement["sid"]
        assert not [a for a in statement["actions"] if a.endswith(":*") or a == "*"], statement["sid"]
    by_sid = {s["sid"]: s for s in statements}
    assert by_sid["QueryPetclinicThroughDataApi"]["resources"] == ["${local.db_cluster_arn}"]
    assert by_sid["ReadDatabaseSecret"]["resources"] == ["${local.db_secret_arn}"]
    assert by_sid["WriteOwnLogs"]["resources"] == ["${aws_cloudwatch_log_group.this.arn}:*"]


def test_the_only_star_grants_are_the_listed_managed_policies() -> None:
    managed = main_locals()["managed_policy_arns"]
    names = set(re.findall(r"policy/(?:service-role/)?([A-Za-z]+)", json.dumps(managed)))
    assert names == {"AWSLambdaENIManagementAccess", "AWSXRayDaemonWriteAccess"}
    assert "AWSLambdaVPCAccessExecutionRole" not in json.dumps(managed)  # it would add logs:* on "*"


def test_security_group_is_https_egress_only() -> None:
    group = resources("aws_security_group")["this"]
    assert "ingress" not in group
    assert [(e["from_port"], e["to_port"], e["protocol"]) for e in group["egress"]] == [(443, 443, "tcp")]
    assert all(e.get("description") for e in group["egress"])
    assert not resources("aws_security_group_rule")


# ------------------------------------------------------------------ Bedrock ARNs vs the Python table


def _module_locals() -> dict[str, Any]:
    return parsed(MODULE_DIR / "main.tf")["locals"][0]


def test_region_tables_agree_with_the_handler() -> None:
    hcl = _module_locals()
    assert {geo: set(regions) for geo, regions in hcl["profile_source_regions"].items()} == {
        geo: set(regions) for geo, regions in lf.PROFILE_SOURCE_REGIONS.items()}
    assert {model: tuple(geos) for model, geos in hcl["model_profiles"].items()} == lf.MODEL_PROFILES


def _arn_like(arn: str, pattern: str) -> bool:
    """IAM ArnLike: each of the six ARN parts matched on its own (`*` does not cross a colon)."""
    parts, wanted = arn.split(":", 5), pattern.split(":", 5)
    return len(parts) == len(wanted) == 6 and all(fnmatch.fnmatchcase(a, p) for a, p in zip(parts, wanted))


@pytest.fixture(scope="module")
def bedrock_cases(terraform_bin: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Evaluate the module with terraform for every (Region, model, mode) case at once."""
    regions = sorted({r for rs in _module_locals()["profile_source_regions"].values() for r in rs}
                     | {"sa-east-1", "me-central-1"})
    models = [*lf.MODEL_PROFILES, "anthropic.claude-future-v1:0", f"apac.{lf.DEFAULT_MODEL_ID}"]
    regions += ["ap-east-1"]  # a Region in no geography (the module must still resolve like the function)
    cases = {f"{r}|{m}|auto": {"region": r, "model_id": m, "inference_profile": "auto"} for r in regions for m in models}
    cases.update({f"{r}|{m}|{mode}": {"region": r, "model_id": m, "inference_profile": mode}
                  for r in ("us-east-1", "ap-northeast-2", "eu-west-1", "us-gov-west-1") for m in models[:4]
                  for mode in ("none", "global", "apac")})
    tmp = tmp_path_factory.mktemp("bedrock-access")
    (tmp / "main.tf").write_text(
        'variable "cases" { type = map(object({ region = string, model_id = string, inference_profile = string })) }\n'
        'module "case" {\n  for_each = var.cases\n'
        f'  source = "{MODULE_DIR}"\n'
        '  region = each.value.region\n  account_id = "123456789012"\n'
        '  model_id = each.value.model_id\n  inference_profile = each.value.inference_profile\n}\n'
        'output "cases" { value = module.case }\n'
    )
    (tmp / "cases.tfvars.json").write_text(json.dumps({"cases": cases}))
    env = _terraform_env(tmp)
    for command in (["init", "-input=false", "-no-color"],
                    ["apply", "-auto-approve", "-input=false", "-no-color", "-var-file=cases.tfvars.json"]):
        done = subprocess.run([terraform_bin, *command], cwd=tmp, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shown = subprocess.run([terraform_bin, "output", "-json", "cases"], cwd=tmp, env=env, capture_output=True,
                           text=True, check=True)
    return {key: {**value, **cases[key]} for key, value in json.loads(shown.stdout).items()}


def test_role_may_invoke_whatever_the_function_resolves(bedrock_cases: dict[str, dict[str, Any]]) -> None:
    assert len(bedrock_cases) > 350
    for key, case in bedrock_cases.items():
        called = lf.resolve_model_id(case["model_id"], case["region"], case["inference_profile"])
        assert case["called_model_id"] == called, key  # the layer's bedrock_model_id output
        prefix = called.split(".", 1)[0]
        base = case["base_model_id"]
        destinations = case["destination_model_arns"]
        if prefix in lf.PROFILE_PREFIXES:
            profile = f"arn:aws:bedrock:{case['region']}:123456789012:inference-profile/{called}"
            assert profile in case["profile_arns"], key
            # Wherever the profile may route the call (every Region of its geography, or none for global) ...
            routed = {r for geo, regions in lf.PROFILE_SOURCE_REGIONS.items() if geo.split("+")[0] == prefix
                      for r in regions} | ({"", "us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-2"}
                                           if prefix == "global" else set())
            assert routed, key
            for region in routed:
                model = f"arn:aws:bedrock:{region}::foundation-model/{base}"
                assert any(_arn_like(model, pattern) for pattern in destinations), (key, model)
            # ... but only that model.
            other = f"arn:aws:bedrock:us-east-1::foundation-model/{base}-other"
            assert not any(_arn_like(other, pattern) for pattern in destinations), key
        else:
            assert case["in_region_model_arn"] == f"arn:aws:bedrock:{case['region']}::foundation-model/{called}", key


def test_model_in_any_region_is_granted_only_through_the_inference_profiles() -> None:
    """The destination-model ARNs carry a wildcard Region: without the bedrock:InferenceProfileArn
    condition the role could call the model directly anywhere. Every Bedrock statement is either on
    the profiles, on the in-Region model, or conditioned on exactly those profiles."""
    bedrock = [s for s in _statements() if any(a.startswith("bedrock:") for a in s["actions"])]
    assert {s["sid"] for s in bedrock} == {"InvokeClaudeInferenceProfiles", "InvokeClaudeInRegion",
                                           "InvokeClaudeThroughProfiles"}
    unconditioned = {"${module.bedrock_access.profile_arns}", "${[module.bedrock_access.in_region_model_arn]}"}
    for statement in bedrock:
        assert statement["actions"] == ["bedrock:InvokeModel"], statement["sid"]
        resources_ = statement["resources"]
        shown = resources_ if isinstance(resources_, str) else "${" + "[" + ", ".join(
            r.removeprefix("${").removesuffix("}") for r in resources_) + "]}"
        if shown in unconditioned:
            assert "condition" not in statement, statement["sid"]
            continue
        assert resources_ == "${module.bedrock_access.destination_model_arns}", statement["sid"]
        (condition,) = statement.get("condition", [None]) or [None]
        assert condition is not None, f"{statement['sid']}: the model in any Region without the profile condition"
        assert (condition["test"], condition["variable"], condition["values"]) == (
            "ArnLike", "bedrock:InferenceProfileArn", "${module.bedrock_access.profile_arns}"), statement["sid"]


def test_seoul_default_grants_named_arns_only(bedrock_cases: dict[str, dict[str, Any]]) -> None:
    case = bedrock_cases[f"ap-northeast-2|{lf.DEFAULT_MODEL_ID}|auto"]
    assert case["prefixes"] == ["apac", "global"]
    assert case["called_model_id"] == f"global.{lf.DEFAULT_MODEL_ID}"
    assert all(lf.DEFAULT_MODEL_ID in arn for arn in case["profile_arns"] + case["destination_model_arns"])
    assert not [arn for arn in case["profile_arns"] if ":inference-profile/us." in arn]


# ------------------------------------------------------------------ checkov


def test_checkov_has_no_failures() -> None:
    checkov = os.environ.get("CHECKOV_BIN") or shutil.which("checkov")
    if not checkov or not Path(checkov).exists():
        if IN_CI:
            pytest.fail("checkov is missing: `make test` installs it into .venv-checkov")
        pytest.skip("no checkov here (make test installs it)")
    done = subprocess.run([checkov, "--config-file", ".checkov.yaml", "-d", ".", "--quiet", "--compact", "-o", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout)
    summaries = [r["summary"] for r in (report if isinstance(report, list) else [report])]
    failed = [c["check_id"] + " " + c["resource"] for r in (report if isinstance(report, list) else [report])
              for c in r.get("results", {}).get("failed_checks", [])]
    assert sum(s["failed"] for s in summaries) == 0, failed
    assert sum(s["passed"] for s in summaries) >= 40
    assert sum(s["parsing_errors"] for s in summaries) == 0


def test_every_checkov_skip_has_a_reason() -> None:
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    skips = [i for i, line in enumerate(lines) if re.match(r"\s+- CKV", line)]
    assert skips
    for index in skips:
        assert lines[index - 1].strip().startswith("# ") and len(lines[index - 1]) > 30, lines[index]


# ------------------------------------------------------------------ Makefile


def test_makefile_targets() -> None:
    text = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", text, re.M))
    phony = set(re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split())
    assert {"help", "run", "lint", "test", "check", "bench", "package", "init", "plan", "apply", "invoke", "logs"} <= targets
    assert targets <= phony
    assert re.search(r"^\.DEFAULT_GOAL := help$", text, re.M)
    assert "-backend-config=backend.config" in text and "-var-file=terraform.tfvars" in text


def test_missing_network_or_database_inputs_fail_with_a_clear_message() -> None:
    for name in ("network", "database"):
        remote = data_blocks("terraform_remote_state")[name]
        (precondition,) = remote["lifecycle"][0]["precondition"]
        assert "remote_state_bucket" in precondition["condition"] and "set both" in precondition["error_message"]
    checks = resources("aws_lambda_function")["this"]["lifecycle"][0]["precondition"]
    assert {"local.vpc_id", "local.db_cluster_arn", "local.db_secret_arn"} <= {
        ref for check in checks for ref in re.findall(r"local\.[a-z_]+", check["condition"])}


def test_vpc_endpoints_admit_only_the_function() -> None:
    group = resources("aws_security_group")["endpoints"]
    (rule,) = group["ingress"]
    assert (rule["from_port"], rule["to_port"], rule["protocol"]) == (443, 443, "tcp")
    assert rule["security_groups"] == ["${aws_security_group.this.id}"] and "cidr_blocks" not in rule
    endpoint = resources("aws_vpc_endpoint")["this"]
    assert endpoint["private_dns_enabled"] is True and endpoint["vpc_endpoint_type"] == "Interface"
    assert set(re.findall(r'"([a-z-]+)"', main_locals()["vpc_endpoint_services"])) == {
        "rds-data", "bedrock-runtime", "secretsmanager", "logs"}
