"""Build the deployment zip: lambda_function.py alone at the root, byte-for-byte reproducible.

Same content as Terraform's archive_file, for `aws lambda update-function-code --zip-file`.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "lambda_function.py"


def build(target: str | Path) -> Path:
    target = ROOT / target if not Path(target).is_absolute() else Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    info = zipfile.ZipInfo("lambda_function.py", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(info, MODULE.read_bytes(), compresslevel=9)
    return target


if __name__ == "__main__":
    path = build(sys.argv[1] if len(sys.argv) > 1 else "build/lambda_function.zip")
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} {path.stat().st_size} bytes")
