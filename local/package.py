"""Build the deployment zip: the handler, its package and their bytecode for the Lambda runtime, reproducible.

`make package` (and `make plan`, which runs it first) writes build/lambda_function.zip: every shipped
source file (lambda_function.py and genai/*.py, in sorted order), then each one's .pyc, each entry
dated 1980-01-01 with mode 0644:

    genai/__init__.py ... genai/writes.py, lambda_function.py
    genai/__pycache__/__init__.cpython-3XY.pyc ... __pycache__/lambda_function.cpython-3XY.pyc

The .pyc is compiled by the runtime's own Python (python3.13 for lambda_runtime = "python3.13"),
with PycInvalidationMode.UNCHECKED_HASH: /var/task is read-only, so without it every new Lambda
instance compiles the 150 KB source before it can answer; an unchecked-hash .pyc is loaded without
comparing timestamps (the zip's entries are all dated 1980) or hashing the source. A .pyc of
another Python version would be ignored silently (its magic number differs), so the build refuses
to run without the runtime's exact minor version. Beside the zip, build/lambda_function.json (the
stamp) records the zip's sha256, the sources' sha256 (of the manifest `sources_manifest()` writes:
one "<sha256>  <path>" line per shipped source file, sorted by path), the runtime and the magic
number; Terraform's precondition computes the same manifest from the files and compares.

Standard library only: it runs with the system python3 before any virtual environment exists.
    python3 local/package.py [--runtime python3.13] [--source-only] [target.zip]
    python3 local/package.py --print-runtime | --print-python
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "genai"  # the package beside the handler; every genai/*.py ships
DEFAULT_ZIP = ROOT / "build" / "lambda_function.zip"
DATE = (1980, 1, 1, 0, 0, 0)
_RUNTIME_RE = re.compile(r"python(3\.\d{1,2})")
_ASSIGN_RE = re.compile(r'^\s*lambda_runtime\s*=\s*"([^"]+)"', re.M)
_DEFAULT_RE = re.compile(r'variable\s+"lambda_runtime"\s*\{[^}]*?default\s*=\s*"([^"]+)"', re.S)

# Run by the runtime's interpreter: compile each source as Lambda will find it (/var/task/<path>, named by
# its path in the zip), print the interpreter's cache tag, magic number and version.
_COMPILE = """
import importlib.util, platform, py_compile, sys
root, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
for i, name in enumerate(names):
    py_compile.compile(root + "/" + name, cfile=out + "/" + str(i), dfile=name, doraise=True, optimize=0,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
print(sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER.hex(), platform.python_version())
"""


class BuildError(Exception):
    """A plain reason the zip cannot be built (printed without a traceback)."""


def runtime_from_terraform(root: Path = ROOT) -> str:
    """lambda_runtime as `make plan` sets it: terraform.tfvars if it assigns one, else variables.tf's default."""
    tfvars = root / "terraform.tfvars"
    found = _ASSIGN_RE.search(tfvars.read_text(encoding="utf-8")) if tfvars.exists() else None
    if found is None:
        found = _DEFAULT_RE.search((root / "variables.tf").read_text(encoding="utf-8"))
    if found is None:
        raise BuildError("no lambda_runtime in terraform.tfvars nor a default in variables.tf")
    return found.group(1)


def version_of(runtime: str) -> str:
    """'python3.13' -> '3.13'."""
    matched = _RUNTIME_RE.fullmatch(runtime)
    if not matched:
        raise BuildError(f"lambda_runtime {runtime!r} is not a Python runtime (python3.X)")
    return matched.group(1)


def _child_env() -> dict[str, str]:
    """The environment the runtime's Python runs in: no PYTHON* settings from the caller (a
    PYTHONPATH or PYTHONHOME of another version breaks it), and a fixed hash seed: marshal writes a
    frozenset constant in iteration order, which follows string hashing, randomised per process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    return env


def _reports(python: str, version: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], env=_child_env(),
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def candidates(version: str) -> list[str]:
    """Where python3.X may be: PATH (a pyenv shim may be there and refuse), pyenv's versions, the usual bins."""
    found = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installed = sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"),
                       key=lambda p: [int(x) if x.isdigit() else -1 for x in re.split(r"[.]", p.parts[-3])], reverse=True)
    found += [str(p) for p in installed]
    found += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    unique: list[str] = []
    for path in found:
        if path and path not in unique and Path(path).exists():
            unique.append(path)
    return unique


def _apt_candidate(package: str) -> bool:
    done = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True)
    return done.returncode == 0 and "Candidate:" in done.stdout and "Candidate: (none)" not in done.stdout


def _apt_install(version: str) -> bool:
    """apt-get install python3.X where the distribution offers it (Debian 13 has python3.13; Debian 12 has not)."""
    if not shutil.which("apt-get") or not shutil.which("apt-cache") or os.geteuid() != 0:
        return False
    package = f"python{version}"
    lists = Path("/var/lib/apt/lists")
    if not _apt_candidate(package) and not any(lists.glob("*Packages*")):
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
    if not _apt_candidate(package):
        return False
    print(f"installing {package} with apt-get (the Lambda runtime's Python, to compile its bytecode)", file=sys.stderr)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, capture_output=True, text=True)
    return done.returncode == 0


def find_python(runtime: str, install: bool = True) -> str:
    """The interpreter of the runtime's Python minor version, installed with apt if it must and can be.

    The .pyc's magic number is fixed for a minor version (3.13.0 and every later 3.13.x share it), so
    any 3.13.x builds what python3.13 on Lambda loads. Raises BuildError saying what is missing."""
    version = version_of(runtime)
    for python in candidates(version):
        if _reports(python, version):
            return python
    if install and _apt_install(version):
        for python in candidates(version):
            if _reports(python, version):
                return python
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    raise BuildError(
        f"lambda_runtime is {runtime}, but Python {version} is not on this machine: no working python{version} on PATH, "
        f"in {pyenv_root}/versions/{version}.*, /usr/bin or /usr/local/bin, and apt-get offers none. Install it "
        f"(pyenv install {version}, or apt-get install python{version} where the distribution has it) and run "
        f"`make package` again. Nothing was built: a .pyc from another Python version would be ignored by Lambda.")


def sources(root: Path = ROOT) -> list[str]:
    """Every shipped source file, as a path relative to root, sorted: the handler and its package."""
    return sorted(["lambda_function.py", *(f"{PACKAGE}/{p.name}" for p in (root / PACKAGE).glob("*.py"))])


def sources_manifest(root: Path = ROOT) -> str:
    """One "<sha256>  <path>" line per shipped source (sha256sum's format); Terraform builds the same text."""
    return "".join(f"{hashlib.sha256((root / name).read_bytes()).hexdigest()}  {name}\n" for name in sources(root))


def pyc_name(source: str, cache_tag: str) -> str:
    """'genai/model.py' -> 'genai/__pycache__/model.cpython-313.pyc' (where the runtime looks for it)."""
    folder, _, file = source.rpartition("/")
    return (f"{folder}/" if folder else "") + f"__pycache__/{file.removesuffix('.py')}.{cache_tag}.pyc"


def compile_sources(python: str, names: list[str], root: Path = ROOT) -> tuple[list[tuple[str, bytes]], str, str, str]:
    """([(each .pyc's path in the zip, its bytes)], the cache tag, the magic number in hex, the full Python version)."""
    with tempfile.TemporaryDirectory(prefix="petclinic-pyc-") as tmp:
        done = subprocess.run([python, "-c", _COMPILE, str(root), tmp, *names], env=_child_env(), capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise BuildError(f"{python} could not compile the sources: {done.stderr.strip()}")
        cache_tag, magic, full_version = done.stdout.split()
        pycs = [(pyc_name(name, cache_tag), (Path(tmp) / str(i)).read_bytes()) for i, name in enumerate(names)]
        return pycs, cache_tag, magic, full_version


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=DATE)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever builds it
    return info


def stamp_path(target: Path) -> Path:
    return target.with_suffix(".json")


def build(target: str | Path = DEFAULT_ZIP, runtime: str | None = None, source_only: bool = False,
          python: str | None = None, install: bool = True) -> Path:
    """Write the zip (and, unless source_only, its stamp) and return its path."""
    target = ROOT / target if not Path(target).is_absolute() else Path(target)
    names = sources()
    entries = [(name, (ROOT / name).read_bytes()) for name in names]
    stamp: dict[str, str] = {}
    if not source_only:
        runtime = runtime or runtime_from_terraform()
        python = python or find_python(runtime, install=install)
        pycs, cache_tag, magic, full_version = compile_sources(python, names)
        entries += pycs
        stamp = {"runtime": runtime, "python": full_version, "magic": magic, "cache_tag": cache_tag,
                 "files": str(len(names)),
                 "sources_sha256": hashlib.sha256(sources_manifest().encode("utf-8")).hexdigest()}
    target.parent.mkdir(parents=True, exist_ok=True)
    stamp_file = stamp_path(target)
    stamp_file.unlink(missing_ok=True)  # a failed build below must not leave an old stamp vouching for it
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in entries:
            archive.writestr(_entry(name), data, compresslevel=9)
    if stamp:
        stamp["zip_sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
        stamp_file.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", nargs="?", default=str(DEFAULT_ZIP))
    parser.add_argument("--runtime", default=os.environ.get("LAMBDA_RUNTIME") or None,
                        help="python3.X (default: lambda_runtime from terraform.tfvars, else variables.tf)")
    parser.add_argument("--source-only", action="store_true", help="the sources alone, no bytecode (for comparison)")
    parser.add_argument("--print-runtime", action="store_true", help="print the runtime the build follows")
    parser.add_argument("--print-python", action="store_true", help="print the runtime's interpreter (install it if needed)")
    args = parser.parse_args(argv)
    try:
        runtime = args.runtime or runtime_from_terraform()
        if args.print_runtime:
            print(runtime)
            return 0
        if args.print_python:
            print(find_python(runtime))
            return 0
        path = build(args.target, runtime=runtime, source_only=args.source_only)
    except BuildError as err:
        print(f"package: {err}", file=sys.stderr)
        return 1
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    stamp = stamp_path(path)
    recorded = json.loads(stamp.read_text()) if not args.source_only and stamp.exists() else None
    detail = (f" ({recorded['files']} sources + their {recorded['cache_tag']} .pyc, Python {recorded['python']})"
              if recorded else " (source only)")
    print(f"{shown} {path.stat().st_size} bytes{detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
