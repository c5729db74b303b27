"""The deployment zip holds lambda_function.py alone, and the module needs nothing but boto3."""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path

from local import package

ROOT = Path(__file__).resolve().parents[2]


def test_zip_holds_the_module_alone_and_is_reproducible(tmp_path: Path) -> None:
    first = package.build(tmp_path / "a.zip")
    second = package.build(tmp_path / "b.zip")
    assert zipfile.ZipFile(first).namelist() == ["lambda_function.py"]
    assert first.read_bytes() == second.read_bytes()
    assert zipfile.ZipFile(first).read("lambda_function.py") == (ROOT / "lambda_function.py").read_bytes()


def test_module_imports_only_stdlib_and_boto() -> None:
    tree = ast.parse((ROOT / "lambda_function.py").read_text())
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    third_party = {name for name in roots if name not in sys.stdlib_module_names and name != "__future__"}
    assert third_party == {"boto3", "botocore"}
