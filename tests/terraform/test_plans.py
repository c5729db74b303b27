"""The layer planned by terraform itself: `terraform validate`, then `terraform test` with a mocked AWS
provider (tests/terraform/plans/*.tftest.hcl), then the message of every validation and precondition
those plans trip (terraform test's expect_failures cannot read a message).

The provider comes from a local filesystem mirror when the machine has one (any hashicorp/aws
5.100.0 .. 6.x under the usual plugin folders, or TF_PROVIDER_MIRROR), else from a normal
`terraform init` against the registry. Without terraform or a provider these tests skip, saying why;
under CI=true they fail.

The plans run in a temporary copy of the layer (*.tf and modules/) with a stub lambda_function.py and
a build/lambda_function.zip + stamp made from it, so they depend neither on `make package` nor on the
function's source."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local import tfdocs

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "tests" / "terraform" / "plans"
IN_CI = os.environ.get("CI", "").lower() == "true"
PROVIDER = ("registry.terraform.io", "hashicorp", "aws")
PROVIDER_RANGE = ((5, 100, 0), (7, 0, 0))  # backend.tf: >= 5.100.0, < 7.0.0


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must plan the Terraform layer: {reason}")
    pytest.skip(reason)


def _version(text: str) -> tuple[int, ...] | None:
    found = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(part) for part in found.groups()) if found else None


def _platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def find_provider_mirror() -> Path | None:
    """A filesystem mirror (unpacked layout) holding hashicorp/aws in the layer's range for this platform."""
    home = Path.home()
    configured: list[str] = []  # filesystem_mirror paths of the user's CLI configuration, if any
    for config in (os.environ.get("TF_CLI_CONFIG_FILE"), home / ".terraformrc"):
        if config and Path(config).is_file():
            configured += re.findall(r'filesystem_mirror\s*\{[^}]*?path\s*=\s*"([^"]+)"', Path(config).read_text())
    candidates = [os.environ.get("TF_PROVIDER_MIRROR"), *configured, "/opt/tf-plugins", home / ".terraform.d" / "plugins",
                  Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "terraform" / "plugins",
                  "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins"]
    for candidate in filter(None, candidates):
        base = Path(candidate)
        for binary in sorted(base.glob(f"{'/'.join(PROVIDER)}/*/{_platform()}/terraform-provider-aws_*")):
            version = _version(binary.parent.parent.name)
            if version and PROVIDER_RANGE[0] <= version < PROVIDER_RANGE[1] and os.access(binary, os.X_OK):
                return base
    return None


@dataclass
class Layer:
    directory: Path
    terraform: str
    env: dict[str, str]
    provider_source: str

    def run(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.terraform, *args], cwd=self.directory, env=self.env, capture_output=True,
                              text=True, timeout=timeout)


def _runtime_default() -> str:
    return tfdocs.blocks(ROOT / "variables.tf", "variable")["lambda_runtime"]["default"]


def write_stub_package(directory: Path, runtime: str) -> None:
    """A lambda_function.py (the only source in the copy), its zip and the stamp main.tf's
    package_fresh compares, so the function's zip precondition holds in the copy. The stamp carries
    the source's sha256 both ways local/package.py has written it: of the one file (source_sha256)
    and of the manifest of every shipped source, "<sha256>  <path>" lines (sources_sha256)."""
    source = directory / "lambda_function.py"
    source.write_text("def lambda_handler(event, context):\n    return {}\n")
    build = directory / "build"
    build.mkdir()
    with zipfile.ZipFile(build / "lambda_function.zip", "w") as archive:
        archive.write(source, "lambda_function.py")
    digest = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in (source, build / "lambda_function.zip")}
    manifest = f"{digest[source]}  lambda_function.py\n"
    (build / "lambda_function.json").write_text(json.dumps({
        "runtime": runtime, "source_sha256": digest[source],
        "sources_sha256": hashlib.sha256(manifest.encode()).hexdigest(),
        "zip_sha256": digest[build / "lambda_function.zip"]}))


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Layer:
    terraform = shutil.which("terraform")
    if not terraform:
        _unavailable("no terraform binary on PATH: the layer's plans cannot run")
    tmp = tmp_path_factory.mktemp("layer-plans")
    directory = tmp / "layer"
    directory.mkdir()
    for path in ROOT.glob("*.tf"):
        shutil.copy(path, directory / path.name)
    shutil.copytree(ROOT / "modules", directory / "modules")
    shutil.copytree(PLANS, directory / "tests")
    write_stub_package(directory, _runtime_default())
    (tmp / "home").mkdir()
    env = {**os.environ, "HOME": str(tmp / "home"), "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1",
           "TF_CLI_CONFIG_FILE": os.devnull, "TF_PLUGIN_CACHE_DIR": ""}
    for name in ("TF_CLI_ARGS", "TF_CLI_ARGS_init", "TF_CLI_ARGS_test", "TF_DATA_DIR", "TF_WORKSPACE"):
        env.pop(name, None)
    mirror = find_provider_mirror()
    init = ["init", "-backend=false", "-input=false", "-no-color"]
    if mirror:
        init.append(f"-plugin-dir={mirror}")
    source = f"the provider mirror {mirror}" if mirror else "the Terraform registry"
    try:
        done = subprocess.run([terraform, *init], cwd=directory, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        _unavailable(f"terraform init timed out getting hashicorp/aws from {source}")
    if done.returncode != 0:
        detail = " ".join((done.stdout + done.stderr).split())[-600:]
        _unavailable(f"no hashicorp/aws provider (>= 5.100.0, < 7.0.0): no local mirror found and terraform init "
                     f"could not get it from {source}: {detail}" if not mirror else
                     f"terraform init with {source} failed: {detail}")
    return Layer(directory, terraform, env, source)


# ------------------------------------------------------------------ validate


def test_terraform_validate_with_no_warnings(layer: Layer) -> None:
    """Valid against the provider found (5.100.0 in this machine's mirror), and no deprecation
    warning (the offline schema checker in ../shared/tools covers 6.x)."""
    done = layer.run("validate", "-json", "-no-color")
    report = json.loads(done.stdout)
    assert report["valid"], report["diagnostics"]
    assert report["warning_count"] == 0, [d["summary"] + ": " + d.get("detail", "") for d in report["diagnostics"]]


# ------------------------------------------------------------------ the plans


def _events(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _test_file(layer: Layer, test_directory: str, name: str) -> dict[str, Any]:
    """terraform test of one file: each run's status and each run's (or the file's) error diagnostics."""
    done = layer.run("test", "-json", "-no-color", f"-test-directory={test_directory}",
                     f"-filter={test_directory}/{name}", timeout=900)
    runs: dict[str, str] = {}
    diagnostics: dict[str, list[dict[str, Any]]] = {}
    for event in _events(done.stdout):
        if event.get("type") == "test_run" and event["test_run"].get("progress") == "complete":
            runs[event["test_run"]["run"]] = event["test_run"]["status"]
        if event.get("type") == "diagnostic":
            diagnostics.setdefault(event.get("@testrun", ""), []).append(event["diagnostic"])
    return {"returncode": done.returncode, "runs": runs, "diagnostics": diagnostics, "stderr": done.stderr}


PLAN_FILES = sorted(path.name for path in PLANS.glob("*.tftest.hcl"))


@pytest.fixture(scope="module")
def plan_results(layer: Layer) -> dict[str, dict[str, Any]]:
    """Every plan file at once, one terraform process per file (the validations are the long one)."""
    with ThreadPoolExecutor(max_workers=max(2, min(len(PLAN_FILES), os.cpu_count() or 2))) as pool:
        return dict(zip(PLAN_FILES, pool.map(lambda name: _test_file(layer, "tests", name), PLAN_FILES)))


def _shown(diagnostics: list[dict[str, Any]]) -> str:
    return "\n".join(f"{d['severity']}: {d['summary']}: {d.get('detail', '')}" for d in diagnostics)


@pytest.mark.parametrize("name", PLAN_FILES)
def test_plans_pass(plan_results: dict[str, dict[str, Any]], name: str) -> None:
    result = plan_results[name]
    declared = re.findall(r'^run "([a-z0-9_]+)"', (PLANS / name).read_text(), re.M)
    failed = {run: status for run, status in result["runs"].items() if status != "pass"}
    report = "\n".join(f"run {run!r}: {status}\n{_shown(result['diagnostics'].get(run, []))}" for run, status in failed.items())
    assert not failed, report + _shown(result["diagnostics"].get("", [])) + result["stderr"][-2000:]
    assert sorted(result["runs"]) == sorted(declared), result["stderr"][-2000:] + _shown(result["diagnostics"].get("", []))
    assert result["returncode"] == 0


def test_plans_cover_the_paths_the_layer_offers() -> None:
    runs = {name: re.findall(r'^run "([a-z0-9_]+)"', (PLANS / name).read_text(), re.M) for name in PLAN_FILES}
    assert {"plain_variables_alone", "remote_state_alone", "network_given_database_from_state",
            "given_values_win_over_state_per_value"} <= set(runs["sources.tftest.hcl"])
    assert {"defaults", "everything_on"} <= set(runs["features.tftest.hcl"])


# ------------------------------------------------------------------ every validation: tripped, with its message


def _validation_rules() -> dict[tuple[str, int], tuple[int, str]]:
    """(variable, n) -> (line of its n-th validation block in variables.tf, that block's error_message)."""
    variables = tfdocs.blocks(ROOT / "variables.tf", "variable")
    rules: dict[tuple[str, int], tuple[int, str]] = {}
    current, count = None, 0
    for number, line in enumerate((ROOT / "variables.tf").read_text().splitlines(), 1):
        if found := re.match(r'^variable "([a-z0-9_]+)"', line):
            current, count = found.group(1), 0
        elif re.match(r"^  validation \{", line):
            count += 1
            rules[(current, count)] = (number, variables[current]["validation"][count - 1]["error_message"])
    return rules


def _message_pattern(template: str) -> re.Pattern[str]:
    """The error_message as a pattern: each ${...} interpolation matches whatever it rendered."""
    parts = re.split(r"\$\{[^}]*\}", template)
    return re.compile(".+?".join(re.escape(part) for part in parts), re.S)


def _runs(name: str) -> dict[str, dict[str, Any]]:
    parsed = tfdocs.load(PLANS / name)
    return {label: body for entry in parsed.get("run", []) for label, body in entry.items()}


def _file_variables(name: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in tfdocs.load(PLANS / name).get("variables", []):
        merged.update(entry)
    return merged


def _hcl(value: Any) -> str:
    return f"jsondecode({json.dumps(json.dumps(value))})"


def test_every_validation_rule_has_a_plan_that_trips_it() -> None:
    runs = _runs("validations.tftest.hcl")
    tripping = {label: body for label, body in runs.items() if body.get("expect_failures")}
    wanted = {f"invalid_{variable}_{n}" for variable, n in _validation_rules()}
    assert set(tripping) == wanted, f"missing: {sorted(wanted - set(tripping))}; unknown: {sorted(set(tripping) - wanted)}"
    for label, body in tripping.items():
        variable = re.fullmatch(r"invalid_([a-z0-9_]+)_[0-9]+", label).group(1)
        assert body["expect_failures"] == [f"${{var.{variable}}}"], label


def test_validation_messages(layer: Layer) -> None:
    """Each tripping run's values, given to a copy of variables.tf as a module: the diagnostic names the
    run's own validation rule (by its line) and carries that rule's error_message. All cases go in one
    plan; rules that read other variables are reported in a later pass, so what is left is planned again."""
    rules = _validation_rules()
    base = _file_variables("validations.tftest.hcl")
    cases = {label: {**base, **(body.get("variables") or [{}])[0]}
             for label, body in _runs("validations.tftest.hcl").items() if body.get("expect_failures")}
    def plan(batch: Path, labels: list[str]) -> list[dict[str, Any]]:
        (batch / "variables").mkdir(parents=True)
        shutil.copy(ROOT / "variables.tf", batch / "variables" / "variables.tf")
        (batch / "main.tf").write_text("".join(
            f'module "{label}" {{\n  source = "./variables"\n' + "".join(f"  {k} = {_hcl(v)}\n" for k, v in cases[label].items())
            + "}\n" for label in labels))
        for command in (["init", "-input=false", "-no-color"], ["plan", "-json", "-input=false", "-no-color"]):
            done = subprocess.run([layer.terraform, *command], cwd=batch, env=layer.env, capture_output=True, text=True,
                                  timeout=300)
        return [event["diagnostic"] for event in _events(done.stdout) if event.get("type") == "diagnostic"]

    # One plan for all; a diagnostic whose snippet names no module (a rule that reads another variable
    # the call left at its default) cannot be told apart, so the cases it could be are planned alone.
    found: dict[str, list[dict[str, Any]]] = {}
    for diagnostic in plan(layer.directory.parent / "validation-messages", list(cases)):
        context = re.fullmatch(r'module "([a-z0-9_]+)"', diagnostic.get("snippet", {}).get("context", ""))
        if context:
            found.setdefault(context.group(1), []).append(diagnostic)
    alone = [label for label in cases if label not in found]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda label: plan(layer.directory.parent / f"validation-message-{label}", [label]), alone)
        found.update(zip(alone, results))
    for label in cases:
        variable, n = re.fullmatch(r"invalid_([a-z0-9_]+)_([0-9]+)", label).groups()
        line, message = rules[(variable, int(n))]
        diagnostics = found.get(label, [])
        assert [d["summary"] for d in diagnostics] == ["Invalid value for variable"], (label, _shown(diagnostics))
        detail = diagnostics[0]["detail"]
        assert f"validation rule at variables/variables.tf:{line}," in detail, (label, detail)
        assert _message_pattern(message).match(detail), (label, message, detail)


# ------------------------------------------------------------------ every precondition: tripped, with its message

PRECONDITION_MESSAGES = {
    "defaults_ask_for_a_network_and_a_database": [
        "Set remote_state_bucket to read the 01-network layer's state, or set both vpc_id and private_subnet_ids.",
        "Set remote_state_bucket to read the 03-database layer's state, or set both db_cluster_arn and db_secret_arn."],
    "precondition_network_state_needs_a_bucket": [
        "Set remote_state_bucket to read the 01-network layer's state, or set both vpc_id and private_subnet_ids."],
    "precondition_database_state_needs_a_bucket": [
        "Set remote_state_bucket to read the 03-database layer's state, or set both db_cluster_arn and db_secret_arn."],
    # main.tf's own message for the package check, rendered for lambda_runtime = "python3.12".
    "precondition_package_built_for_another_runtime": [
        " ".join(p["error_message"] for p in tfdocs.blocks(ROOT / "main.tf", "resource")["aws_lambda_function"]["this"]
                 ["lifecycle"][0]["precondition"] if "local.package_fresh" in p["condition"])
        .replace("${var.lambda_runtime}", "python3.12")],
    "precondition_network_state_without_a_vpc": [
        "No VPC or private subnets: the network layer's state has no vpc_id/private_app_subnet_ids outputs; set vpc_id "
        "and private_subnet_ids."],
    "precondition_database_state_without_a_cluster": [
        "No Aurora cluster ARN: the database layer's state has no cluster_arn output; set db_cluster_arn."],
    "precondition_secret_name_is_not_an_arn": [
        "No database secret ARN (a secret name is not enough): check database_secret_arn_output or set db_secret_arn."],
    # The Region's inference profiles, mocked in models.tftest.hcl: the message names those it lists.
    "precondition_inference_profile_not_listed": [
        "ap-northeast-2 lists no inference profile apac.anthropic.claude-future-v1:0, the ID the function calls first "
        "(bedrock_model_id anthropic.claude-future-v1:0, bedrock_inference_profile auto). Its profiles of "
        "anthropic.claude-future-v1:0: global.anthropic.claude-future-v1:0 (set bedrock_model_id to one of them, or "
        "bedrock_inference_profile to its prefix). Set bedrock_check_inference_profile = false to plan without this "
        "check."],
    "precondition_inference_profile_model_not_listed": [
        "ap-northeast-2 lists no inference profile apac.anthropic.claude-sonnet-4-6, the ID the function calls first "
        "(bedrock_model_id anthropic.claude-sonnet-4-6, bedrock_inference_profile apac). It lists no profile of "
        "anthropic.claude-sonnet-4-6 (its inference profiles: apac.anthropic.claude-sonnet-4-20250514-v1:0, "
        "global.anthropic.claude-haiku-4-5-20251001-v1:0): set bedrock_inference_profile = none to call the model on "
        "demand, or choose another bedrock_model_id. Set bedrock_check_inference_profile = false to plan without this "
        "check."],
}


def _resource_tripping_runs() -> dict[str, tuple[str, str]]:
    """run name -> (its file, its text) for every run expecting a resource or data source to fail."""
    found: dict[str, tuple[str, str]] = {}
    for name in PLAN_FILES:
        text = (PLANS / name).read_text()
        for block in re.findall(r'^run "[a-z0-9_]+" \{\n.*?^\}\n', text, re.M | re.S):
            label = re.match(r'run "([a-z0-9_]+)"', block).group(1)
            expected = re.search(r"expect_failures = \[(.*?)\]", block, re.S)
            if expected and not re.fullmatch(r"\s*(var\.[a-z0-9_]+,?\s*)+", expected.group(1)):
                found[label] = (name, block)
    return found


def test_every_precondition_has_a_plan_that_trips_it() -> None:
    runs = _resource_tripping_runs()
    assert set(runs) == set(PRECONDITION_MESSAGES)
    checks = [p["error_message"] for p in tfdocs.blocks(ROOT / "main.tf", "resource")["aws_lambda_function"]["this"]
              ["lifecycle"][0]["precondition"]]
    checks += [p["error_message"] for entry in tfdocs.load(ROOT / "data.tf")["data"] for kind, named in entry.items()
               if kind == "terraform_remote_state" for body in named.values() for p in body["lifecycle"][0]["precondition"]]
    expected = [message for messages in PRECONDITION_MESSAGES.values() for message in messages]
    for check in checks:
        assert any(_message_pattern(check).fullmatch(message) for message in expected), f"untripped: {check}"


def test_precondition_messages(layer: Layer) -> None:
    """Each run that trips a precondition, alone in a file without its expect_failures: it fails with
    exactly the expected preconditions' messages (one process; a failing file does not stop the others)."""
    directory = layer.directory / "tests-messages"
    directory.mkdir()
    for label, (name, block) in _resource_tripping_runs().items():
        text = (PLANS / name).read_text()
        header = text[:text.index('\nrun "')]
        (directory / f"{label}.tftest.hcl").write_text(
            header + "\n" + re.sub(r"\n  expect_failures = \[.*?\]\n", "\n", block, flags=re.S))
    done = layer.run("test", "-json", "-no-color", "-test-directory=tests-messages", timeout=900)
    diagnostics: dict[str, list[dict[str, Any]]] = {}
    for event in _events(done.stdout):
        if event.get("type") == "diagnostic" and event.get("@testrun"):
            diagnostics.setdefault(event["@testrun"], []).append(event["diagnostic"])
    for label, messages in PRECONDITION_MESSAGES.items():
        got = diagnostics.get(label, [])
        assert {d["summary"] for d in got} <= {"Resource precondition failed"} and got, (label, _shown(got))
        details = sorted(" ".join(d["detail"].split()) for d in got)
        assert details == sorted(messages), (label, details)
