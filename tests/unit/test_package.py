"""The deployment zip: the handler, the genai package and every module's bytecode for the runtime,
reproducible, matching the sources; the code needs nothing but boto3; a runtime this machine cannot
build for is a plain error."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from local import package

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = package.runtime_from_terraform()
TAG = "cpython-" + package.version_of(RUNTIME).replace(".", "")
SOURCES = sorted(["lambda_function.py", *(f"genai/{p.name}" for p in (ROOT / "genai").glob("*.py"))])


def pyc_of(source: str) -> str:
    folder, _, name = source.rpartition("/")
    return (folder + "/" if folder else "") + f"__pycache__/{name[:-3]}.{TAG}.pyc"


# Run by the runtime's interpreter, independently of local/package.py: compile the shipped source as
# py_compile does, and report what that interpreter expects of a .pyc.
RECOMPILE = """
import importlib.util, json, marshal, py_compile, sys
root, out, name, pyc = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
source = root + "/" + name
py_compile.compile(source, cfile=out, dfile=name, doraise=True,
                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
shipped = open(root + "/" + pyc, "rb").read()
code = compile(open(source, "rb").read(), name, "exec")
print(json.dumps({"magic": importlib.util.MAGIC_NUMBER.hex(), "tag": sys.implementation.cache_tag,
                  "same_bytes": open(out, "rb").read() == shipped,
                  "source_hash": importlib.util.source_hash(open(source, "rb").read()).hex(),
                  "same_code": marshal.loads(shipped[16:]) == code}))
"""


def _unpack(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    return into


def test_zip_is_byte_for_byte_reproducible(runtime_python: str, tmp_path: Path) -> None:
    first = package.build(tmp_path / "a" / "lambda_function.zip", python=runtime_python)
    second = package.build(tmp_path / "b" / "lambda_function.zip", python=runtime_python)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == SOURCES + [pyc_of(name) for name in SOURCES]
        assert "genai/__init__.py" in SOURCES and len(SOURCES) > 10  # the whole package ships
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0) and info.external_attr >> 16 == 0o644, info
        for name in SOURCES:
            assert archive.read(name) == (ROOT / name).read_bytes(), name
    stamp = json.loads(package.stamp_path(first).read_text())
    assert stamp["runtime"] == RUNTIME and stamp["cache_tag"] == TAG and stamp["files"] == str(len(SOURCES))
    assert stamp["zip_sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    # The manifest Terraform rebuilds from the files (main.tf's package_manifest): sha256sum's lines, sorted.
    manifest = "".join(f"{hashlib.sha256((ROOT / name).read_bytes()).hexdigest()}  {name}\n" for name in SOURCES)
    assert stamp["sources_sha256"] == hashlib.sha256(manifest.encode()).hexdigest()


def test_a_changed_module_makes_the_stamp_stale(tmp_path: Path) -> None:
    """The stamp covers every shipped source, not only the handler: editing one module changes it."""
    copy = tmp_path / "copy"
    (copy / "genai").mkdir(parents=True)
    for name in SOURCES:
        (copy / name).write_bytes((ROOT / name).read_bytes())
    before = package.sources_manifest(copy)
    (copy / "genai" / "model.py").write_text((copy / "genai" / "model.py").read_text() + "# edited\n")
    assert package.sources_manifest(copy) != before


def test_shipped_bytecode_matches_the_shipped_source(runtime_python: str, tmp_path: Path) -> None:
    unpacked = _unpack(package.build(tmp_path / "lambda_function.zip", python=runtime_python), tmp_path / "task")
    for name in SOURCES:  # every module, not only the handler
        pyc = (unpacked / pyc_of(name)).read_bytes()
        done = subprocess.run([runtime_python, "-c", RECOMPILE, str(unpacked), str(tmp_path / "again.pyc"), name,
                               pyc_of(name)], env={"PATH": os.environ["PATH"], "PYTHONHASHSEED": "0"},
                              capture_output=True, text=True, check=True)
        expected = json.loads(done.stdout)
        assert expected["tag"] == TAG
        assert pyc[:4].hex() == expected["magic"]  # the runtime's magic number: any other, and Python ignores it
        assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, check_source off: UNCHECKED_HASH
        assert pyc[8:16].hex() == expected["source_hash"], name  # the hash of the very source beside it
        assert expected["same_code"] and expected["same_bytes"], name


def test_the_runtime_loads_the_bytecode_without_reading_the_source(runtime_python: str, tmp_path: Path) -> None:
    """An unchecked-hash .pyc is used as it is: with every source replaced, the import still gives the
    shipped modules (a .pyc the runtime rejected would make it compile the replacement and fail)."""
    unpacked = _unpack(package.build(tmp_path / "lambda_function.zip", python=runtime_python), tmp_path / "task")
    for name in SOURCES:
        (unpacked / name).write_text('raise SystemExit("compiled from source")\n')
    folders = (unpacked / "__pycache__", unpacked / "genai" / "__pycache__", unpacked / "genai", unpacked)
    for path in folders:
        path.chmod(0o555)  # read-only, as /var/task is
    try:
        done = subprocess.run([runtime_python, "-c", "import lambda_function as m; print(m.__cached__)"], cwd=unpacked,
                              env={"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True,
                              text=True)
    finally:
        for path in reversed(folders):
            path.chmod(0o755)
    assert "compiled from source" not in done.stderr + done.stdout
    # Without boto3 for this interpreter, the shipped module's own `import boto3` is what fails.
    assert done.returncode == 0 or "No module named 'boto3'" in done.stderr, done.stderr


def test_source_only_zip_for_comparison(tmp_path: Path) -> None:
    built = package.build(tmp_path / "lambda_function.zip", source_only=True)
    assert zipfile.ZipFile(built).namelist() == SOURCES
    assert not package.stamp_path(built).exists()  # no stamp: Terraform refuses to deploy it


def test_a_runtime_this_machine_cannot_build_for_is_a_plain_error(tmp_path: Path) -> None:
    target = tmp_path / "lambda_function.zip"
    done = subprocess.run([sys.executable, str(ROOT / "local" / "package.py"), "--runtime", "python3.99", str(target)],
                          env={**os.environ, "PYENV_ROOT": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("package: lambda_runtime is python3.99, but Python 3.99 is not on this machine")
    assert "make package" in done.stderr and "Traceback" not in done.stderr
    assert not target.exists() and not package.stamp_path(target).exists()


def test_runtime_follows_the_terraform_variable(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text((ROOT / "variables.tf").read_text())
    assert package.runtime_from_terraform(tmp_path) == "python3.13"  # variables.tf's default
    (tmp_path / "terraform.tfvars").write_text('name_prefix = "x"\nlambda_runtime = "python3.12"\n')
    assert package.runtime_from_terraform(tmp_path) == "python3.12"
    assert package.version_of("python3.12") == "3.12"


def test_lambda_venv_pins_the_same_boto3() -> None:
    def pins(name: str) -> dict[str, str]:
        return dict(re.findall(r"^([a-z0-9-]+)==(\S+)$", (ROOT / name).read_text(), re.M))

    lambda_pins = pins("requirements-lambda.txt")
    assert set(lambda_pins) == {"boto3", "botocore"}
    assert all(pins("requirements.txt")[name] == version for name, version in lambda_pins.items())


def test_shipped_code_imports_only_stdlib_boto_and_itself() -> None:
    roots: set[str] = set()
    for name in SOURCES:
        tree = ast.parse((ROOT / name).read_text())
        roots |= {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                  for alias in node.names}
        roots |= {node.module.split(".")[0] for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    third_party = {name for name in roots if name not in sys.stdlib_module_names and name != "__future__"}
    assert third_party == {"boto3", "botocore", "genai"}
