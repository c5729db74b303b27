"""Generate the README's Terraform inputs/outputs tables from variables.tf and outputs.tf.

`make docs` rewrites the block between the markers; a test fails when README and .tf disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


def blocks(path: Path, kind: str) -> dict[str, dict[str, Any]]:
    """{name: body} of every `kind` block (variable, output) in a file."""
    return {name: body for entry in load(path).get(kind, []) for name, body in entry.items()}


def _cell(value: Any) -> str:
    if isinstance(value, str):
        text = value[2:-1] if value.startswith("${") and value.endswith("}") else json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(value, ensure_ascii=False)
    return "`" + text.replace("|", "\\|") + "`"


def render(directory: Path = ROOT) -> str:
    lines = ["### Inputs", "", "| name | type | default | description |", "|---|---|---|---|"]
    for name, body in blocks(directory / "variables.tf", "variable").items():
        kind = str(body["type"]).removeprefix("${").removesuffix("}")
        lines.append(f"| `{name}` | `{kind}` | {_cell(body.get('default'))} | {body['description']} |")
    lines += ["", "### Outputs", "", "| name | description |", "|---|---|"]
    for name, body in blocks(directory / "outputs.tf", "output").items():
        lines.append(f"| `{name}` | {body['description']} |")
    return "\n".join(lines)


def readme_block(text: str) -> str:
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(f"{before}{BEGIN}\n{render()}\n{END}{after}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
