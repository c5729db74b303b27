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
from genai import config, profiles
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
    assert providers["aws"]["source"] == "hashicorp/aws" and providers["aws"]["version"] == ">= 5.100.0, < 7.0.0"
    assert "archive" not in providers and "s3" in block["backend"][0]  # local/package.py builds the zip
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
    # The zip `make package` builds (source + bytecode), not an archive_file; its hash follows the file.
    assert function["filename"] == "${local.package_zip}"
    assert main_locals()["package_zip"] == "${path.module}/build/lambda_function.zip"
    assert "filebase64sha256(local.package_zip)" in function["source_code_hash"]
    assert not data_blocks("archive_file")
    assert function["logging_config"][0]["log_format"] == "JSON"
    assert "${aws_cloudwatch_log_group.this}" in function["depends_on"]


def test_environment_is_exactly_what_the_module_reads() -> None:
    environment = main_locals()["lambda_environment"]
    assert resources("aws_lambda_function")["this"]["environment"][0]["variables"] == "${local.lambda_environment}"
    shipped = [ROOT / "lambda_function.py", *sorted((ROOT / "genai").glob("*.py"))]
    read = {name for path in shipped for name in re.findall(r'(?:_env|_int_setting)\("([A-Z_]+)"', path.read_text())}
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
        geo: set(regions) for geo, regions in profiles.PROFILE_SOURCE_REGIONS.items()}
    assert {model: tuple(geos) for model, geos in hcl["model_profiles"].items()} == profiles.MODEL_PROFILES


def _arn_like(arn: str, pattern: str) -> bool:
    """IAM ArnLike: each of the six ARN parts matched on its own (`*` does not cross a colon)."""
    parts, wanted = arn.split(":", 5), pattern.split(":", 5)
    return len(parts) == len(wanted) == 6 and all(fnmatch.fnmatchcase(a, p) for a, p in zip(parts, wanted))


@pytest.fixture(scope="module")
def bedrock_cases(terraform_bin: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Evaluate the module with terraform for every (Region, model, mode) case at once."""
    regions = sorted({r for rs in _module_locals()["profile_source_regions"].values() for r in rs}
                     | {"sa-east-1", "me-central-1"})
    models = [*profiles.MODEL_PROFILES, "anthropic.claude-future-v1:0", f"apac.{config.DEFAULT_MODEL_ID}",
              "global.anthropic.claude-sonnet-4-6", "us-gov.anthropic.claude-future-v1:0"]
    regions += ["ap-east-1"]  # a Region in no geography (the module must still resolve like the function)
    cases = {f"{r}|{m}|auto": {"region": r, "model_id": m, "inference_profile": "auto"} for r in regions for m in models}
    cases.update({f"{r}|{m}|{mode}": {"region": r, "model_id": m, "inference_profile": mode}
                  for r in ("us-east-1", "ap-northeast-2", "eu-west-1", "us-gov-west-1") for m in models[:4]
                  for mode in ("none", "global", "apac")})
    # The overrides with the fallback's cases: from a Region of each kind (one geography, two, Canada's,
    # GovCloud, none), a 4.5 and a 4.6 row, a model no table knows, and IDs that carry a prefix.
    cases.update({f"{r}|{m}|{mode}": {"region": r, "model_id": m, "inference_profile": mode}
                  for r in ("us-east-1", "ap-northeast-2", "ap-northeast-1", "eu-west-1", "ca-central-1",
                            "us-gov-west-1", "ap-east-1")
                  for m in (config.DEFAULT_MODEL_ID, "anthropic.claude-sonnet-4-6", *models[-4:])
                  for mode in ("none", "apac", "jp", "us-gov", "global")})
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


def test_candidate_ids_agree_with_the_handler(bedrock_cases: dict[str, dict[str, Any]]) -> None:
    """The module's candidates are profiles.candidate_ids, in its order, for every (Region, model, mode)
    of the matrix; the first of them is the layer's bedrock_model_id (resolve_model_id)."""
    assert len(bedrock_cases) > 700
    for key, case in bedrock_cases.items():
        wanted = profiles.candidate_ids(case["model_id"], case["region"], case["inference_profile"])
        assert tuple(case["candidate_ids"]) == wanted, key
        assert case["called_model_id"] == wanted[0] == profiles.resolve_model_id(
            case["model_id"], case["region"], case["inference_profile"]), key


def test_role_may_invoke_exactly_the_candidates(bedrock_cases: dict[str, dict[str, Any]]) -> None:
    """Every ID the fallback may call is granted (a profile: it and the model wherever the profile may
    route; the base ID: the model in this Region), and nothing else: no profile, no in-Region model the
    function never calls."""
    for key, case in bedrock_cases.items():
        candidates = profiles.candidate_ids(case["model_id"], case["region"], case["inference_profile"])
        base = case["base_model_id"]
        prefixed = [c for c in candidates if c.split(".", 1)[0] in profiles.PROFILE_PREFIXES]
        profile_arns = [f"arn:aws:bedrock:{case['region']}:123456789012:inference-profile/{c}" for c in prefixed]
        assert case["profile_arns"] == profile_arns, key
        assert case["prefixes"] == [c.split(".", 1)[0] for c in prefixed], key
        in_region = f"arn:aws:bedrock:{case['region']}::foundation-model/{base}"
        assert case["in_region_model_arns"] == ([in_region] if base in candidates else []), key
        destinations = case["destination_model_arns"]
        assert bool(destinations) == bool(prefixed), key
        for prefix in (c.split(".", 1)[0] for c in prefixed):
            # Wherever the profile may route the call (every Region of its geography, or none for global) ...
            routed = {r for geo, regions in profiles.PROFILE_SOURCE_REGIONS.items() if geo.split("+")[0] == prefix
                      for r in regions} | ({"", "us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-2"}
                                           if prefix == "global" else set())
            assert routed, key
            for region in routed:
                model = f"arn:aws:bedrock:{region}::foundation-model/{base}"
                assert any(_arn_like(model, pattern) for pattern in destinations), (key, model)
        # ... but only that model, and a Region-less model ARN only for a global profile.
        other = f"arn:aws:bedrock:us-east-1::foundation-model/{base}-other"
        assert not any(_arn_like(other, pattern) for pattern in destinations), key
        regionless = f"arn:aws:bedrock:::foundation-model/{base}"
        assert (regionless in destinations) == any(c.startswith("global.") for c in candidates), key


def test_model_in_any_region_is_granted_only_through_the_inference_profiles() -> None:
    """The destination-model ARNs carry a wildcard Region: without the bedrock:InferenceProfileArn
    condition the role could call the model directly anywhere. Every Bedrock statement is either on
    the profiles, on the in-Region model, or conditioned on exactly those profiles."""
    bedrock = [s for s in _statements() if any(a.startswith("bedrock:") for a in s["actions"])]
    assert {s["sid"] for s in bedrock} == {"InvokeClaudeInferenceProfiles", "InvokeClaudeInRegion",
                                           "InvokeClaudeThroughProfiles"}
    unconditioned = {"${module.bedrock_access.profile_arns}", "${module.bedrock_access.in_region_model_arns}"}
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
    case = bedrock_cases[f"ap-northeast-2|{config.DEFAULT_MODEL_ID}|auto"]
    assert case["candidate_ids"] == [f"global.{config.DEFAULT_MODEL_ID}", config.DEFAULT_MODEL_ID]
    assert case["prefixes"] == ["global"]  # Haiku 4.5 has no apac. profile: none is granted
    assert case["called_model_id"] == f"global.{config.DEFAULT_MODEL_ID}"
    assert all(config.DEFAULT_MODEL_ID in arn for arn in case["profile_arns"] + case["destination_model_arns"])
    assert not [arn for arn in case["profile_arns"] if ":inference-profile/us." in arn]


@pytest.mark.parametrize(("region", "model", "first"), [
    ("ap-northeast-2", "anthropic.claude-sonnet-4-6", "global.anthropic.claude-sonnet-4-6"),
    ("ap-northeast-1", "anthropic.claude-sonnet-4-6", "jp.anthropic.claude-sonnet-4-6"),
    ("eu-central-1", "anthropic.claude-sonnet-4-6", "eu.anthropic.claude-sonnet-4-6"),
    ("ap-northeast-2", "anthropic.claude-opus-4-6-v1", "apac.anthropic.claude-opus-4-6-v1"),
    ("ap-northeast-1", "anthropic.claude-opus-4-6-v1", "jp.anthropic.claude-opus-4-6-v1"),
    ("eu-central-1", "anthropic.claude-opus-4-6-v1", "eu.anthropic.claude-opus-4-6-v1"),
])
def test_the_46_models_first_call_is_a_published_profile(bedrock_cases: dict[str, dict[str, Any]], region: str,
                                                         model: str, first: str) -> None:
    """Issue 23's cases, written out (Anthropic's table: Sonnet 4.6 has no apac. profile)."""
    assert bedrock_cases[f"{region}|{model}|auto"]["called_model_id"] == first


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
    assert re.search(r"^plan: package\b", text, re.M), "make plan must build the zip it deploys"


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
    assert endpoint["subnet_ids"] == "${local.endpoint_subnet_ids}"
    gateway = resources("aws_vpc_endpoint")["dynamodb"]
    assert gateway["vpc_endpoint_type"] == "Gateway" and gateway["route_table_ids"] == "${var.vpc_endpoint_route_table_ids}"
    assert gateway["service_name"].endswith(".dynamodb")


# ------------------------------------------------------------------ the deployment package, checked at plan


def _package_case(terraform_bin: str, tmp: Path, runtime: str = "python3.13") -> tuple[int, str]:
    """terraform plan of main.tf's package locals and the function's package precondition, put on a
    terraform_data resource (built into terraform: no provider to download), in the folder ``tmp``."""
    def hcl(value: str) -> str:
        return _expression(value) or json.dumps(value)

    (check,) = [p for p in resources("aws_lambda_function")["this"]["lifecycle"][0]["precondition"]
                if "local.package_fresh" in p["condition"]]
    package_locals = {name: value for name, value in main_locals().items() if name.startswith("package_")}
    (tmp / "main.tf").write_text(
        'variable "lambda_runtime" {\n  type = string\n}\n'
        + "locals {\n" + "".join(f"  {name} = {hcl(value)}\n" for name, value in package_locals.items()) + "}\n"
        + 'resource "terraform_data" "package" {\n  lifecycle {\n    precondition {\n'
        + f"      condition     = {hcl(check['condition'])}\n      error_message = {hcl(check['error_message'])}\n"
        + "    }\n  }\n}\n")
    env = _terraform_env(tmp)
    done = subprocess.run([terraform_bin, "init", "-input=false", "-no-color"], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([terraform_bin, "plan", "-input=false", "-no-color", f"-var=lambda_runtime={runtime}"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def test_plan_deploys_only_a_fresh_build_for_the_runtime(terraform_bin: str, runtime_python: str, tmp_path: Path) -> None:
    from local import package

    shutil.copy(ROOT / "lambda_function.py", tmp_path / "lambda_function.py")
    shutil.copytree(ROOT / "genai", tmp_path / "genai", ignore=shutil.ignore_patterns("__pycache__"))
    code, message = _package_case(terraform_bin, tmp_path)
    assert code != 0 and "is missing, or was not built from these sources" in message, message
    assert "run make package" in message

    zip_path = package.build(tmp_path / "build" / "lambda_function.zip", python=runtime_python)
    code, message = _package_case(terraform_bin, tmp_path)
    assert code == 0, message

    code, message = _package_case(terraform_bin, tmp_path, runtime="python3.12")  # built for 3.13
    assert code != 0 and "for python3.12" in message and "run make package" in message, message

    with (tmp_path / "lambda_function.py").open("a") as source:  # edited after the build
        source.write("# changed\n")
    code, message = _package_case(terraform_bin, tmp_path)
    assert code != 0 and "run make package" in message, message

    shutil.copy(ROOT / "lambda_function.py", tmp_path / "lambda_function.py")
    assert _package_case(terraform_bin, tmp_path)[0] == 0
    with (tmp_path / "genai" / "model.py").open("a") as source:  # a module of the package edited after the build
        source.write("# changed\n")
    code, message = _package_case(terraform_bin, tmp_path)
    assert code != 0 and "run make package" in message, message

    shutil.copy(ROOT / "genai" / "model.py", tmp_path / "genai" / "model.py")
    assert _package_case(terraform_bin, tmp_path)[0] == 0
    package.build(zip_path, source_only=True)  # a source-only zip has no stamp: refused
    code, message = _package_case(terraform_bin, tmp_path)
    assert code != 0 and "run make package" in message, message


def test_make_plan_builds_first_and_stops_on_a_runtime_it_cannot_build(tmp_path: Path) -> None:
    done, _ = run_make(tmp_path, "plan", f"echo called >> {tmp_path / 'tf.log'}\n", extra=["LAMBDA_RUNTIME=python3.99"],
                       env={"PYENV_ROOT": str(tmp_path)})
    assert done.returncode != 0 and "Python 3.99 is not on this machine" in done.stderr, done.stderr
    assert not (tmp_path / "tf.log").exists()  # terraform never ran


# ------------------------------------------------------------------ optional features, evaluated by terraform
#
# The probe module holds a copy of variables.tf (validations included), every local of main.tf that
# depends on variables only, and one output per `count` / `for_each` (resources, and the dynamic
# statements of the inline policy) that depends on variables only. `terraform apply` evaluates it
# for each case, so the tests see what a plan would create, not the text of an expression.

REF = re.compile(r"\b(var|local|module|data|each|count|self|aws_[a-z0-9_]+)\.([a-z0-9_]+)")


def _expression(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return None


def _evaluable(expression: str, known_locals: set[str]) -> bool:
    return all(kind == "var" or (kind == "local" and name in known_locals)
               for kind, name in REF.findall(expression))


def _probe_parts() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(locals, instance counts by resource address, instance counts by policy statement sid)."""
    local_exprs = {name: expr for name, value in main_locals().items() if (expr := _expression(value)) is not None}
    known: set[str] = set()
    while True:
        more = {name for name, expr in local_exprs.items() if name not in known and _evaluable(expr, known)}
        if not more:
            break
        known |= more
    counts: dict[str, str] = {}
    for name in TF_FILES:
        for entry in parsed(ROOT / name).get("resource", []):
            for kind, named in entry.items():
                for label, body in named.items():
                    if "count" in body:
                        expr = _expression(body["count"]) or str(body["count"])
                    elif "for_each" in body:
                        expr = f"length({_expression(body['for_each'])})"
                    else:
                        expr = "1"
                    if _evaluable(expr, known):
                        counts[f"{kind}.{label}"] = expr
    statements: dict[str, str] = {}
    document = data_blocks("aws_iam_policy_document")["this"]
    for statement in document.get("statement", []):
        statements[statement["sid"]] = "1"
    for dynamic in document.get("dynamic", []):
        expr = f"length({_expression(dynamic['statement']['for_each'])})"
        if _evaluable(expr, known):
            statements[dynamic["statement"]["content"][0]["sid"]] = expr
    return {name: local_exprs[name] for name in known}, counts, statements


def _hcl_type(body: dict[str, Any]) -> str:
    return str(body["type"]).removeprefix("${").removesuffix("}")


@pytest.fixture(scope="module")
def probe(terraform_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("probe")
    module = tmp / "probe"
    module.mkdir()
    shutil.copy(ROOT / "variables.tf", module / "variables.tf")
    known, counts, statements = _probe_parts()
    permission = resources("aws_lambda_permission")["api_gateway"]
    source_arns = (f"[for k, v in {_expression(permission['for_each'])} : "
                   + json.dumps(permission["source_arn"]).replace("each.value", "v").replace("each.key", "k") + "]")
    body = ["locals {"] + [f"  {name} = {expr}" for name, expr in known.items()] + ["}"]
    body += ["output \"instances\" {\n  value = {"] + [f'    "{k}" = {v}' for k, v in counts.items()] + ["  }\n}"]
    body += ["output \"statements\" {\n  value = {"] + [f'    "{k}" = {v}' for k, v in statements.items()] + ["  }\n}"]
    body += ["output \"locals\" {\n  value = {"] + [f"    {name} = local.{name}" for name in known] + ["  }\n}"]
    body += [f"output \"api_gateway_source_arns\" {{\n  value = {source_arns}\n}}"]
    # The per-AZ subnet choice, with stub subnets standing in for data.aws_subnet.this.
    main = main_locals()
    stub = ('{ "subnet-b" = { availability_zone = "az-2" }, "subnet-a" = { availability_zone = "az-1" }, '
            '"subnet-c" = { availability_zone = "az-1" }, "subnet-d" = { availability_zone = "az-3" } }')
    by_az = _expression(main["subnet_ids_by_az"]).replace("data.aws_subnet.this", stub).replace(
        "local.subnet_ids", '["subnet-b", "subnet-c", "subnet-a", "subnet-d"]')
    pick = _expression(main["endpoint_subnet_ids"]).replace("local.subnet_ids_by_az", f"({by_az})")
    body += [f"output \"endpoint_subnet_ids\" {{\n  value = {pick}\n}}"]
    (module / "probe.tf").write_text("\n".join(body) + "\n")

    variables = tfdocs.blocks(ROOT / "variables.tf", "variable")

    def run(overrides: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
        case = tmp / f"case{len(list(tmp.glob('case*')))}"
        case.mkdir()
        (case / "main.tf").write_text(
            'module "probe" {\n  source = "../probe"\n'
            + "".join(f"  {name} = var.{name}\n" for name in overrides) + "}\n"
            + "".join(f'variable "{name}" {{ type = {_hcl_type(variables[name])} }}\n' for name in overrides)
            + 'output "probe" { value = module.probe }\n')
        (case / "case.auto.tfvars.json").write_text(json.dumps(overrides))
        env = _terraform_env(tmp)
        done = subprocess.run([terraform_bin, "init", "-input=false", "-no-color"], cwd=case, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        done = subprocess.run([terraform_bin, "apply", "-auto-approve", "-input=false", "-no-color"], cwd=case,
                              env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            return done.returncode, " ".join((done.stdout + done.stderr).split()), {}
        shown = subprocess.run([terraform_bin, "output", "-json", "probe"], cwd=case, env=env, capture_output=True,
                               text=True, check=True)
        return 0, "", json.loads(shown.stdout)

    return run


def _created(probe: Any, **overrides: Any) -> dict[str, Any]:
    code, message, outputs = probe(overrides)
    assert code == 0, message
    return outputs


def test_probe_sees_every_optional_resource_and_statement() -> None:
    _, counts, statements = _probe_parts()
    assert {"aws_dynamodb_table.this", "aws_vpc_endpoint.this", "aws_vpc_endpoint.dynamodb",
            "aws_security_group.endpoints", "aws_lambda_permission.api_gateway", "aws_lambda_permission.alb",
            "aws_lb_target_group.this", "aws_lb_target_group_attachment.this", "aws_lb_listener_rule.this",
            "aws_sns_topic.this", "aws_cloudwatch_metric_alarm.lambda", "aws_cloudwatch_metric_alarm.tokens",
            "aws_cloudwatch_dashboard.this", "aws_lambda_alias.live", "aws_dynamodb_table.limits",
            "aws_cloudwatch_metric_alarm.daily_tokens", "aws_cloudwatch_metric_alarm.limiter"} <= set(counts)
    assert {"RememberConversations", "UpdatePendingWrites", "WriteInDataApiTransactions",
            "DecryptConversationTable", "CountRequestsAndTokens", "DecryptLimitsTable"} <= set(statements)


def test_defaults_memory_on_writes_off_monitoring_on(probe: Any) -> None:
    out = _created(probe)
    instances, statements = out["instances"], out["statements"]
    assert instances["aws_dynamodb_table.this"] == 1 and statements["RememberConversations"] == 1
    assert statements["UpdatePendingWrites"] == 0 and statements["WriteInDataApiTransactions"] == 0
    assert statements["DecryptConversationTable"] == 0
    assert instances["aws_cloudwatch_metric_alarm.lambda"] == 3 and instances["aws_cloudwatch_metric_alarm.tokens"] == 1
    assert instances["aws_cloudwatch_dashboard.this"] == 1 and instances["aws_sns_topic.this"] == 0
    assert instances["aws_dynamodb_table.limits"] == 1 and statements["CountRequestsAndTokens"] == 1
    assert statements["DecryptLimitsTable"] == 0
    assert instances["aws_cloudwatch_metric_alarm.daily_tokens"] == 1
    assert instances["aws_cloudwatch_metric_alarm.limiter"] == 1
    assert out["locals"]["alb_oidc_auth"] is False
    for optional in ("aws_vpc_endpoint.this", "aws_vpc_endpoint.dynamodb", "aws_security_group.endpoints",
                     "aws_lambda_permission.api_gateway", "aws_lambda_permission.alb", "aws_lb_target_group.this",
                     "aws_lb_target_group_attachment.this", "aws_lb_listener_rule.this", "aws_lambda_alias.live"):
        assert instances[optional] == 0, optional


def test_writes_add_transactions_and_update_item_only(probe: Any) -> None:
    out = _created(probe, writes_enabled=True)
    statements = out["statements"]
    assert statements["WriteInDataApiTransactions"] == 1 and statements["UpdatePendingWrites"] == 1
    assert statements["RememberConversations"] == 1
    off = _created(probe, create_conversation_table=False)
    assert off["instances"]["aws_dynamodb_table.this"] == 0
    assert off["statements"]["RememberConversations"] == 0 and off["statements"]["UpdatePendingWrites"] == 0
    kms = _created(probe, conversation_table_kms_key_arn="arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab")
    assert kms["statements"]["DecryptConversationTable"] == 1


def _dynamic_statement(sid: str) -> dict[str, Any]:
    (statement,) = [s for s in _statements() if s["sid"] == sid]
    return statement


def test_dynamodb_actions_are_exactly_what_the_code_uses_on_the_table_only() -> None:
    conversations, limits = ["${aws_dynamodb_table.this[0].arn}"], ["${aws_dynamodb_table.limits[0].arn}"]
    granted: dict[str, tuple[list[str], list[str]]] = {}
    for statement in _statements():
        actions = [a for a in statement["actions"] if a.startswith("dynamodb:")]
        if actions:
            assert actions == statement["actions"], statement["sid"]
            granted[statement["sid"]] = (sorted(actions), statement["resources"])
    assert granted == {"RememberConversations": (["dynamodb:PutItem", "dynamodb:Query"], conversations),
                       "UpdatePendingWrites": (["dynamodb:UpdateItem"], conversations),
                       "CountRequestsAndTokens": (["dynamodb:GetItem", "dynamodb:UpdateItem"], limits)}
    counting = _dynamic_statement("CountRequestsAndTokens")
    assert "condition" not in counting and counting["effect"] == "Allow"
    (dynamic,) = [d for d in data_blocks("aws_iam_policy_document")["this"]["dynamic"]
                  if d["statement"]["content"][0]["sid"] == "CountRequestsAndTokens"]
    assert dynamic["statement"]["for_each"] == "${var.create_limits_table ? [1] : []}"
    limits_decrypt = _dynamic_statement("DecryptLimitsTable")
    assert limits_decrypt["actions"] == ["kms:Decrypt"] and limits_decrypt["resources"] == ["${statement.value}"]
    assert limits_decrypt["condition"][0]["variable"] == "kms:ViaService"
    assert limits_decrypt["condition"][0]["values"][0].startswith("dynamodb.")
    transactions = _dynamic_statement("WriteInDataApiTransactions")
    assert sorted(transactions["actions"]) == ["rds-data:BeginTransaction", "rds-data:CommitTransaction",
                                               "rds-data:RollbackTransaction"]
    assert transactions["resources"] == ["${local.db_cluster_arn}"]
    decrypt = _dynamic_statement("DecryptConversationTable")
    assert decrypt["actions"] == ["kms:Decrypt"] and decrypt["condition"][0]["variable"] == "kms:ViaService"
    assert decrypt["condition"][0]["values"][0].startswith("dynamodb.")


def test_conversation_table_shape() -> None:
    table = resources("aws_dynamodb_table")["this"]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert (table["hash_key"], table["range_key"]) == ("conversation_id", "item")
    assert {(a["name"], a["type"]) for a in table["attribute"]} == {("conversation_id", "S"), ("item", "S")}
    assert table["ttl"] == [{"attribute_name": "expires_at", "enabled": True}]
    assert table["server_side_encryption"] == [{"enabled": True, "kms_key_arn": "${var.conversation_table_kms_key_arn}"}]
    assert table["point_in_time_recovery"] == [{"enabled": True}]
    environment = main_locals()["lambda_environment"]
    assert environment["CONVERSATION_TABLE"] == '${var.create_conversation_table ? aws_dynamodb_table.this[0].name : ""}'
    assert environment["WRITES_ENABLED"] == '${var.writes_enabled ? "true" : "false"}'
    assert environment["METRICS_NAMESPACE"] == "${var.metrics_namespace}"


def test_environment_holds_the_contract_settings_as_strings() -> None:
    environment = main_locals()["lambda_environment"]
    contract = {"CONVERSATION_TABLE", "CONVERSATION_IDLE_MINUTES", "CONVERSATION_MAX_TURNS", "API_GATEWAY_BUDGET_MS",
                "CORS_ALLOW_ORIGIN", "WRITES_ENABLED", "METRICS_NAMESPACE"}
    assert contract <= set(environment)
    for name in ("CONVERSATION_IDLE_MINUTES", "CONVERSATION_MAX_TURNS", "API_GATEWAY_BUDGET_MS"):
        assert environment[name].startswith("${tostring(var."), name


def test_endpoints_only_for_what_the_function_calls(probe: Any) -> None:
    everything = _created(probe, create_vpc_endpoints=True, vpc_endpoint_route_table_ids=["rtb-0123456789abcdef0"])
    assert everything["locals"]["interface_endpoint_services"] == ["bedrock-runtime", "rds-data"]
    assert everything["instances"]["aws_vpc_endpoint.dynamodb"] == 1
    assert everything["instances"]["aws_security_group.endpoints"] == 1
    reuse = _created(probe, create_vpc_endpoints=True, vpc_endpoint_services=["rds-data"])
    assert reuse["locals"]["interface_endpoint_services"] == ["rds-data"] and reuse["instances"]["aws_vpc_endpoint.dynamodb"] == 0
    gateway_only = _created(probe, create_vpc_endpoints=True, vpc_endpoint_services=["dynamodb"],
                            vpc_endpoint_route_table_ids=["rtb-0123456789abcdef0"])
    assert gateway_only["instances"]["aws_security_group.endpoints"] == 0
    assert gateway_only["instances"]["aws_vpc_endpoint.dynamodb"] == 1
    no_tables = _created(probe, create_vpc_endpoints=True, create_conversation_table=False, create_limits_table=False)
    assert no_tables["instances"]["aws_vpc_endpoint.dynamodb"] == 0
    limits_only = _created(probe, create_vpc_endpoints=True, create_conversation_table=False,
                           vpc_endpoint_route_table_ids=["rtb-0123456789abcdef0"])
    assert limits_only["instances"]["aws_vpc_endpoint.dynamodb"] == 1
    memory_only = _created(probe, create_vpc_endpoints=True, create_limits_table=False,
                           vpc_endpoint_route_table_ids=["rtb-0123456789abcdef0"])
    assert memory_only["instances"]["aws_vpc_endpoint.dynamodb"] == 1


def test_interface_endpoints_get_the_first_subnet_of_each_zone(probe: Any) -> None:
    # subnets b (az-2), c (az-1), a (az-1), d (az-3), in that order
    assert _created(probe)["endpoint_subnet_ids"] == ["subnet-c", "subnet-b", "subnet-d"]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"reserved_concurrent_executions": 0}, "throttles every invocation"),
    ({"reserved_concurrent_executions": 1, "provisioned_concurrency": 2}, "is below provisioned_concurrency (2)"),
    ({"writes_enabled": True, "create_conversation_table": False}, "needs create_conversation_table"),
    ({"create_vpc_endpoints": True}, "set vpc_endpoint_route_table_ids"),
    ({"vpc_endpoint_services": ["rds-data", "logs"]}, "may hold only"),
    ({"create_alarm_topic": True}, "needs alarm_topic_kms_key_arn"),
    ({"create_alarm_topic": True, "alarm_topic_kms_key_arn": "arn:aws:kms:ap-northeast-2:123456789012:key/1234",
      "alarm_topic_arn": "arn:aws:sns:ap-northeast-2:123456789012:ops"}, "not both"),
    ({"api_gateway_execution_arn": "arn:aws:execute-api:ap-northeast-2:123456789012:abcde12345/v1"}, "no stage or path"),
    ({"cors_allow_origin": "*"}, "one origin"),
    ({"create_vpc_endpoints": True, "create_conversation_table": False}, "set vpc_endpoint_route_table_ids"),
    ({"rate_limit_client_per_minute": -1}, "rate_limit_client_per_minute must be a whole number from 0"),
    ({"rate_limit_client_per_minute": 2.5}, "rate_limit_client_per_minute must be a whole number from 0"),
    ({"rate_limit_client_per_day": 20001}, "rate_limit_client_per_day must be a whole number from 0"),
    ({"rate_limit_client_tokens_per_day": -1}, "rate_limit_client_tokens_per_day must be a whole number from 0"),
    ({"rate_limit_conversation_per_minute": 0.5}, "rate_limit_conversation_per_minute must be a whole number"),
    ({"daily_token_cap": 10000000001}, "daily_token_cap must be a whole number of tokens from 0"),
    ({"daily_token_cap": -1}, "daily_token_cap must be a whole number of tokens from 0"),
    ({"client_address_source": "x-forwarded-for"}, "client_address_source must be one of"),
    ({"trusted_proxy_hops": 6}, "trusted_proxy_hops must be a whole number from 0 to 5"),
    ({"trusted_proxy_hops": 1.5}, "trusted_proxy_hops must be a whole number from 0 to 5"),
    ({"write_groups": ["staff,admins"]}, "write_groups must hold Cognito group names"),
    ({"write_groups": ["front desk"]}, "write_groups must hold Cognito group names"),
    ({"write_groups": [""]}, "write_groups must hold Cognito group names"),
    ({"write_groups": ["staff", "staff"]}, "at most 20 distinct"),
    ({"limits_table_kms_key_arn": "alias/limits"}, "limits_table_kms_key_arn must be null or a KMS key ARN"),
    ({"alb_authenticate_cognito": {"user_pool_arn": "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123",
                                   "user_pool_client_id": "1h57kf5cpq17m0eml12EXAMPLE", "user_pool_domain": "petclinic-staff"}},
     "needs alb_listener_arn"),
    ({"alb_listener_arn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef",
      "alb_authenticate_cognito": {"user_pool_arn": "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/petclinic",
                                   "user_pool_client_id": "1h57kf5cpq17m0eml12EXAMPLE", "user_pool_domain": "petclinic-staff"}},
     "user_pool_arn must be a user pool ARN"),
    ({"alb_listener_arn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef",
      "alb_authenticate_cognito": {"user_pool_arn": "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123",
                                   "user_pool_client_id": "1h57kf5cpq17m0eml12EXAMPLE", "user_pool_domain": "petclinic-staff",
                                   "on_unauthenticated_request": "redirect"}},
     "on_unauthenticated_request must be one of"),
], ids=["reserved-0", "reserved-below-provisioned", "writes-without-memory", "dynamodb-endpoint-without-routes",
        "endpoint-not-called", "topic-without-key", "topic-twice", "api-arn-with-stage", "cors-star",
        "dynamodb-endpoint-for-limits-without-routes", "client-minute-negative", "client-minute-fraction",
        "client-day-too-high", "client-tokens-negative", "conversation-minute-fraction", "cap-too-high", "cap-negative", "address-source-unknown",
        "proxy-hops-too-many", "proxy-hops-fraction", "write-group-comma", "write-group-space", "write-group-empty",
        "write-groups-repeated", "limits-key-alias", "alb-auth-without-listener", "alb-auth-bad-pool",
        "alb-auth-bad-unauthenticated"])
def test_wrong_combinations_fail_at_plan(probe: Any, overrides: dict[str, Any], message: str) -> None:
    code, output, _ = probe(overrides)
    assert code != 0 and message in output, output[-2000:]


def test_valid_concurrency_passes(probe: Any) -> None:
    out = _created(probe, reserved_concurrent_executions=5, provisioned_concurrency=5)
    assert out["instances"]["aws_lambda_alias.live"] == 1


def test_api_gateway_permission_is_scoped_to_that_api(probe: Any) -> None:
    api = "arn:aws:execute-api:ap-northeast-2:123456789012:abcde12345"
    out = _created(probe, api_gateway_execution_arn=api)
    assert out["instances"]["aws_lambda_permission.api_gateway"] == 2
    assert sorted(out["api_gateway_source_arns"]) == [f"{api}/*/*/api/genai", f"{api}/*/*/api/genai/*"]
    permission = resources("aws_lambda_permission")["api_gateway"]
    assert permission["principal"] == "apigateway.amazonaws.com" and permission["action"] == "lambda:InvokeFunction"


def test_alb_wiring(probe: Any) -> None:
    listener = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef"
    out = _created(probe, alb_listener_arn=listener)
    for address in ("aws_lb_target_group.this", "aws_lambda_permission.alb", "aws_lb_target_group_attachment.this",
                    "aws_lb_listener_rule.this"):
        assert out["instances"][address] == 1, address
    group = resources("aws_lb_target_group")["this"]
    assert group["target_type"] == "lambda" and group["lambda_multi_value_headers_enabled"] is False
    permission = resources("aws_lambda_permission")["alb"]
    assert permission["principal"] == "elasticloadbalancing.amazonaws.com"
    assert permission["source_arn"] == "${aws_lb_target_group.this[0].arn}"
    rule = resources("aws_lb_listener_rule")["this"]
    assert rule["listener_arn"] == "${var.alb_listener_arn}" and rule["priority"] == "${var.alb_listener_rule_priority}"
    assert rule["condition"][0]["path_pattern"][0]["values"] == ["/api/genai", "/api/genai/*"]
    assert rule["action"][0]["target_group_arn"] == "${aws_lb_target_group.this[0].arn}"


def test_alb_sign_in_names_the_listeners_load_balancer(probe: Any) -> None:
    """The function checks x-amzn-oidc-data's signer against ALB_ARN: the load balancer of the listener,
    derived from the listener's ARN, in the form genai/config.py accepts."""
    environment = main_locals()["lambda_environment"]
    assert environment["ALB_ARN"] == '${local.alb_oidc_auth ? local.alb_arn : ""}'
    assert _created(probe)["locals"]["alb_arn"] == ""
    cognito = {"user_pool_arn": "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123",
               "user_pool_client_id": "1h57kf5cpq17m0eml12EXAMPLE", "user_pool_domain": "petclinic-staff"}
    for partition, region in (("aws", "ap-northeast-2"), ("aws-us-gov", "us-gov-west-1")):
        listener = f"arn:{partition}:elasticloadbalancing:{region}:123456789012:listener/app/web/0123456789abcdef/fedcba98"
        out = _created(probe, alb_listener_arn=listener, alb_authenticate_cognito=cognito)
        expected = f"arn:{partition}:elasticloadbalancing:{region}:123456789012:loadbalancer/app/web/0123456789abcdef"
        assert out["locals"]["alb_oidc_auth"] is True and out["locals"]["alb_arn"] == expected
        assert re.fullmatch(config._ALB_ARN_RE, expected)


def test_every_caller_reaches_the_alias_when_there_is_one() -> None:
    main = main_locals()
    assert main["qualifier"] == "${local.use_alias ? aws_lambda_alias.live[0].name : null}"
    assert main["target_arn"] == "${local.use_alias ? aws_lambda_alias.live[0].arn : aws_lambda_function.this.arn}"
    for name in ("api_gateway", "alb"):
        assert resources("aws_lambda_permission")[name]["qualifier"] == "${local.qualifier}", name
    assert resources("aws_lambda_function_url")["this"]["qualifier"] == "${local.qualifier}"
    assert resources("aws_lb_target_group_attachment")["this"]["target_id"] == "${local.target_arn}"
    outputs = tfdocs.blocks(ROOT / "outputs.tf", "output")
    assert outputs["lambda_function_invoke_arn"]["value"] == "${local.target_invoke_arn}"
    assert main["target_invoke_arn"] == (
        "${local.use_alias ? aws_lambda_alias.live[0].invoke_arn : aws_lambda_function.this.invoke_arn}")


def test_neighbour_outputs_exist() -> None:
    outputs = tfdocs.blocks(ROOT / "outputs.tf", "output")
    assert {"lambda_function_invoke_arn", "lambda_function_name", "lambda_function_arn", "bedrock_model_id",
            "dynamodb_table_name", "dynamodb_table_arn"} <= set(outputs)
    assert outputs["bedrock_model_id"]["value"] == "${module.bedrock_access.called_model_id}"
    assert outputs["bedrock_model_id_candidates"]["value"] == "${module.bedrock_access.candidate_ids}"


def test_monitoring_off_switches_and_topic(probe: Any) -> None:
    off = _created(probe, create_alarms=False, create_dashboard=False)
    for address in ("aws_cloudwatch_metric_alarm.lambda", "aws_cloudwatch_metric_alarm.tokens",
                    "aws_cloudwatch_metric_alarm.daily_tokens", "aws_cloudwatch_metric_alarm.limiter",
                    "aws_cloudwatch_metric_alarm.model_id_fallbacks", "aws_cloudwatch_dashboard.this",
                    "aws_sns_topic.this"):
        assert off["instances"][address] == 0, address
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd"
    topic = _created(probe, create_alarm_topic=True, alarm_topic_kms_key_arn=key)
    assert topic["instances"]["aws_sns_topic.this"] == 1
    no_alarms = _created(probe, create_alarms=False, create_alarm_topic=True, alarm_topic_kms_key_arn=key)
    assert no_alarms["instances"]["aws_sns_topic.this"] == 0
    assert resources("aws_sns_topic")["this"]["kms_master_key_id"] == "${var.alarm_topic_kms_key_arn}"


def test_alarms_watch_the_right_metrics() -> None:
    alarms = main_locals()["lambda_alarms"]
    for metric, statistic, threshold in (("Errors", "Sum", "1"), ("Throttles", "Sum", "1"),
                                         ("Duration", "Maximum", "var.lambda_timeout * 900")):
        assert re.search(rf'metric = "{metric}", statistic = "{statistic}", threshold = {re.escape(threshold)},', alarms), metric
    lambda_alarm = resources("aws_cloudwatch_metric_alarm")["lambda"]
    assert lambda_alarm["namespace"] == "AWS/Lambda" and lambda_alarm["alarm_actions"] == "${local.alarm_actions}"
    tokens = resources("aws_cloudwatch_metric_alarm")["tokens"]
    assert tokens["threshold"] == "${var.alarm_tokens_per_hour}" and tokens["alarm_actions"] == "${local.alarm_actions}"
    (query,) = tokens["metric_query"]
    assert query["return_data"] is True and re.fullmatch(r"FILL\(input, 0\) \+ FILL\(output, 0\)", query["expression"])
    (dynamic,) = tokens["dynamic"]
    assert dynamic["metric_query"]["for_each"] == {"input": "InputTokens", "output": "OutputTokens"}
    metric = dynamic["metric_query"]["content"][0]["metric"][0]
    assert metric["namespace"] == "${var.metrics_namespace}" and metric["stat"] == "Sum" and metric["period"] == 3600
    assert "alarm_topic_arn" in main_locals()["alarm_actions"]


# ------------------------------------------------------------------ make invoke / make logs


FAKE_AWS = '#!/bin/sh\nif [ "$1" = --version ]; then echo "{version} Python/3.11"; exit 0; fi\necho "$@" >> {calls}\n'


def run_make(tmp_path: Path, target: str, terraform_script: str, aws_version: str = "aws-cli/2.17.0",
             extra: list[str] | None = None, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    """make TARGET with a fake terraform and a fake aws (which records its calls) first on PATH."""
    if not shutil.which("make"):
        pytest.skip("no make here")
    fake_tf, calls = tmp_path / "terraform", tmp_path / "aws.log"
    fake_tf.write_text("#!/bin/sh\n" + terraform_script)
    (tmp_path / "aws").write_text(FAKE_AWS.format(version=aws_version, calls=calls))
    for script in (fake_tf, tmp_path / "aws"):
        script.chmod(0o755)
    env = {**os.environ, **(env or {}), "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    done = subprocess.run(["make", "--no-print-directory", target, f"TF={fake_tf}", *(extra or [])], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    return done, calls


@pytest.mark.parametrize("target", ["logs", "invoke"])
def test_make_refuses_aws_cli_v1(tmp_path: Path, target: str) -> None:
    """v1 has no --cli-binary-format nor logs tail: say so instead of failing obscurely."""
    done, calls = run_make(tmp_path, target, "printf 'petclinic-dev-genai'\n", "aws-cli/1.45.11")
    assert done.returncode != 0 and "needs the AWS CLI v2" in done.stderr and "aws-cli/1.45.11" in done.stderr
    assert not calls.exists()


@pytest.mark.parametrize("target", ["logs", "invoke"])
@pytest.mark.parametrize("terraform_says", ["", "fail"], ids=["empty-output", "no-state"])
def test_make_never_runs_aws_with_an_empty_name(tmp_path: Path, target: str, terraform_says: str) -> None:
    done, calls = run_make(tmp_path, target, "exit 1\n" if terraform_says == "fail" else "printf ''\n")
    assert done.returncode != 0
    assert "is empty or missing" in done.stderr and "make apply" in done.stderr
    assert not calls.exists(), calls.read_text()


def test_make_logs_tails_the_named_group(tmp_path: Path) -> None:
    done, calls = run_make(tmp_path, "logs", "printf '/aws/lambda/petclinic-dev-genai'\n")
    assert done.returncode == 0, done.stderr
    assert calls.read_text().split() == ["logs", "tail", "/aws/lambda/petclinic-dev-genai", "--follow", "--format", "short"]


# ------------------------------------------------------------------ on the public internet

LISTENER = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/web/0123456789abcdef/0123456789abcdef"
COGNITO = {"user_pool_arn": "arn:aws:cognito-idp:ap-northeast-2:123456789012:userpool/ap-northeast-2_AbC123",
           "user_pool_client_id": "1h57kf5cpq17m0eml12EXAMPLE", "user_pool_domain": "petclinic-staff"}


def test_limits_table_shape() -> None:
    table = resources("aws_dynamodb_table")["limits"]
    assert table["count"] == "${var.create_limits_table ? 1 : 0}"
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["hash_key"] == "pk" and "range_key" not in table
    assert [(a["name"], a["type"]) for a in table["attribute"]] == [("pk", "S")]
    assert table["ttl"] == [{"attribute_name": "expires_at", "enabled": True}]
    assert table["server_side_encryption"] == [{"enabled": True, "kms_key_arn": "${var.limits_table_kms_key_arn}"}]
    assert "point_in_time_recovery" not in table
    # PITR is skipped on this table alone, with a reason, not for the whole layer.
    text = (ROOT / "main.tf").read_text()
    block = text.split('resource "aws_dynamodb_table" "limits" {', 1)[1].split("\n}\n", 1)[0]
    assert re.search(r"^\s*#checkov:skip=CKV_AWS_28:\S.{30,}$", block, re.M), "inline skip with a reason"
    assert "CKV_AWS_28" not in (ROOT / ".checkov.yaml").read_text()
    environment = main_locals()["lambda_environment"]
    assert environment["LIMITS_TABLE"] == '${var.create_limits_table ? aws_dynamodb_table.limits[0].name : ""}'
    outputs = tfdocs.blocks(ROOT / "outputs.tf", "output")
    assert outputs["dynamodb_limits_table_name"]["value"] == "${try(aws_dynamodb_table.limits[0].name, null)}"
    assert outputs["dynamodb_limits_table_arn"]["value"] == "${try(aws_dynamodb_table.limits[0].arn, null)}"


def test_environment_passes_the_internet_settings() -> None:
    environment = main_locals()["lambda_environment"]
    for name, variable in (("RATE_LIMIT_CLIENT_PER_MINUTE", "rate_limit_client_per_minute"),
                           ("RATE_LIMIT_CLIENT_PER_DAY", "rate_limit_client_per_day"),
                           ("RATE_LIMIT_CLIENT_TOKENS_PER_DAY", "rate_limit_client_tokens_per_day"),
                           ("RATE_LIMIT_CONVERSATION_PER_MINUTE", "rate_limit_conversation_per_minute"),
                           ("DAILY_TOKEN_CAP", "daily_token_cap"), ("TRUSTED_PROXY_HOPS", "trusted_proxy_hops")):
        assert environment[name] == f"${{tostring(var.{variable})}}", name
    assert environment["CLIENT_ADDRESS_SOURCE"] == "${var.client_address_source}"
    assert environment["WRITE_GROUPS"] == '${join(",", var.write_groups)}'
    assert environment["ALB_OIDC_AUTH"] == '${local.alb_oidc_auth ? "true" : "false"}'
    variables = tfdocs.blocks(ROOT / "variables.tf", "variable")
    defaults = {name: variables[name]["default"] for name in (
        "create_limits_table", "rate_limit_client_per_minute", "rate_limit_client_per_day",
        "rate_limit_client_tokens_per_day", "rate_limit_conversation_per_minute", "daily_token_cap",
        "client_address_source", "trusted_proxy_hops", "write_groups", "alb_authenticate_cognito")}
    # The layer's defaults are the function's own (lambda_function's constants, not copies).
    assert defaults == {"create_limits_table": True, "rate_limit_client_per_minute": config.DEFAULT_CLIENT_PER_MINUTE,
                        "rate_limit_client_per_day": config.DEFAULT_CLIENT_PER_DAY,
                        "rate_limit_client_tokens_per_day": config.DEFAULT_CLIENT_TOKENS_PER_DAY,
                        "rate_limit_conversation_per_minute": config.DEFAULT_CONVERSATION_PER_MINUTE,
                        "daily_token_cap": config.DEFAULT_DAILY_TOKEN_CAP, "client_address_source": "viewer",
                        "trusted_proxy_hops": 1, "write_groups": [], "alb_authenticate_cognito": None}


def test_limits_switch_and_key(probe: Any) -> None:
    off = _created(probe, create_limits_table=False)
    for address in ("aws_dynamodb_table.limits", "aws_cloudwatch_metric_alarm.daily_tokens",
                    "aws_cloudwatch_metric_alarm.limiter"):
        assert off["instances"][address] == 0, address
    assert off["statements"]["CountRequestsAndTokens"] == 0 and off["statements"]["DecryptLimitsTable"] == 0
    assert off["instances"]["aws_dynamodb_table.this"] == 1  # memory stays on
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab"
    kms = _created(probe, limits_table_kms_key_arn=key)
    assert kms["statements"]["DecryptLimitsTable"] == 1 and kms["statements"]["DecryptConversationTable"] == 0
    unused_key = _created(probe, create_limits_table=False, limits_table_kms_key_arn=key)
    assert unused_key["statements"]["DecryptLimitsTable"] == 0


@pytest.mark.parametrize(("cap", "threshold"), [(2000000, 1600000), (1001, 800), (10000000000, 8000000000), (1, 0)])
def test_daily_token_alarm_is_80_percent_of_the_cap(probe: Any, cap: int, threshold: int) -> None:
    out = _created(probe, daily_token_cap=cap)
    assert out["locals"]["daily_token_alarm_threshold"] == threshold
    assert out["instances"]["aws_cloudwatch_metric_alarm.daily_tokens"] == 1


def test_daily_token_alarm_only_with_a_cap_and_the_table(probe: Any) -> None:
    assert _created(probe, daily_token_cap=0)["instances"]["aws_cloudwatch_metric_alarm.daily_tokens"] == 0
    assert _created(probe, create_alarms=False)["instances"]["aws_cloudwatch_metric_alarm.daily_tokens"] == 0
    no_cap = _created(probe, daily_token_cap=0)
    assert no_cap["instances"]["aws_cloudwatch_metric_alarm.limiter"] == 1  # the rate limits still use the table
    alarm = resources("aws_cloudwatch_metric_alarm")["daily_tokens"]
    assert (alarm["namespace"], alarm["metric_name"]) == ("${var.metrics_namespace}", "DailyTokens")
    assert alarm["dimensions"] == {"FunctionName": "${aws_lambda_function.this.function_name}"}
    assert (alarm["statistic"], alarm["period"], alarm["evaluation_periods"]) == ("Maximum", 300, 1)
    assert alarm["threshold"] == "${local.daily_token_alarm_threshold}"
    assert alarm["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["alarm_actions"] == "${local.alarm_actions}" and alarm["ok_actions"] == "${local.alarm_actions}"
    limiter = resources("aws_cloudwatch_metric_alarm")["limiter"]
    assert limiter["namespace"] == "${var.metrics_namespace}" and limiter["statistic"] == "Sum"
    assert re.search(r'metric += "LimiterErrors", threshold += 1,', main_locals()["limiter_alarms"])


def test_model_id_fallbacks_alarm(probe: Any) -> None:
    """Any fallback (EMF ModelIdFallbacks, genai/metrics.py) in five minutes: wired as the other alarms."""
    assert _created(probe)["instances"]["aws_cloudwatch_metric_alarm.model_id_fallbacks"] == 1
    assert _created(probe, create_alarms=False)["instances"]["aws_cloudwatch_metric_alarm.model_id_fallbacks"] == 0
    alarm = resources("aws_cloudwatch_metric_alarm")["model_id_fallbacks"]
    assert (alarm["namespace"], alarm["metric_name"]) == ("${var.metrics_namespace}", "ModelIdFallbacks")
    assert '"ModelIdFallbacks": "Count"' in (ROOT / "genai" / "metrics.py").read_text()
    assert alarm["dimensions"] == {"FunctionName": "${aws_lambda_function.this.function_name}"}
    assert (alarm["statistic"], alarm["period"], alarm["evaluation_periods"]) == ("Sum", 300, 1)
    assert (alarm["threshold"], alarm["comparison_operator"]) == (0, "GreaterThanThreshold")
    assert alarm["treat_missing_data"] == "notBreaching"
    assert alarm["alarm_actions"] == "${local.alarm_actions}" and alarm["ok_actions"] == "${local.alarm_actions}"
    assert "${module.bedrock_access.called_model_id}" in alarm["alarm_description"]
    widgets = {widget["title"]: widget for widget in main_locals()["dashboard_widgets"]}
    (fallbacks,) = [w for title, w in widgets.items() if "fallback" in title.lower()]
    assert fallbacks["stat"] == "Sum" and fallbacks["metrics"] == ["${local.dashboard_metric.ModelIdFallbacks}"]


def test_dashboard_shows_the_days_tokens_and_refusals() -> None:
    widgets = {widget["title"]: widget for widget in main_locals()["dashboard_widgets"]}
    (tokens,) = [w for title, w in widgets.items() if title.startswith("Tokens today")]
    assert tokens["stat"] == "Maximum" and tokens["metrics"] == ["${local.dashboard_metric.DailyTokens}"]
    (refused,) = [w for title, w in widgets.items() if "RateLimited" in title]
    assert refused["stat"] == "Sum" and refused["metrics"] == ["${local.dashboard_metric.RateLimited}",
                                                               "${local.dashboard_metric.LimiterErrors}"]
    assert '"DailyTokens", "RateLimited", "LimiterErrors"' in main_locals()["dashboard_metric"]


def test_alb_oidc_auth_only_with_the_alb_authentication(probe: Any) -> None:
    assert _created(probe)["locals"]["alb_oidc_auth"] is False
    assert _created(probe, alb_listener_arn=LISTENER)["locals"]["alb_oidc_auth"] is False
    signed_in = _created(probe, alb_listener_arn=LISTENER, alb_authenticate_cognito=COGNITO)
    assert signed_in["locals"]["alb_oidc_auth"] is True
    assert signed_in["instances"]["aws_lb_listener_rule.this"] == 1
    # The authenticate action comes from the same local, first; the forward action follows it.
    rule = resources("aws_lb_listener_rule")["this"]
    (dynamic,) = rule["dynamic"]
    assert dynamic["action"]["for_each"] == "${local.alb_oidc_auth ? [var.alb_authenticate_cognito] : []}"
    (content,) = dynamic["action"]["content"]
    assert content["type"] == "authenticate-cognito" and content["order"] == 1
    (cognito,) = content["authenticate_cognito"]
    assert cognito["user_pool_arn"] == "${action.value.user_pool_arn}"
    assert cognito["on_unauthenticated_request"] == "${action.value.on_unauthenticated_request}"
    (forward,) = rule["action"]
    assert forward["type"] == "forward" and forward["order"] == "${local.alb_oidc_auth ? 2 : 1}"
    assert main_locals()["alb_oidc_auth"] == "${var.alb_listener_arn != null && var.alb_authenticate_cognito != null}"
