"""The README is the front door and docs/ holds the depth: every relative link and anchor resolves.

Links are the inline kind, `[text](target)`, outside code fences and code spans; http(s) and mailto
targets are left alone. An anchor must be the GitHub slug of a heading in the target file: the
heading's text lowercased, punctuation dropped except `-` and `_` (letters of any script, Korean
included, stay), each space a `-`, and `-1`, `-2` ... after a repeated slug."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README_MAX_LINES = 350
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^ {0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _prose(text: str) -> list[str]:
    """The lines outside code fences (a fenced line comes back empty, so numbering holds)."""
    out, fence = [], None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
            out.append("")
        elif fence is not None:
            if line.lstrip().startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(line)
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's source text."""
    text = LINK.sub(lambda m: m.group(1), heading)       # a link in a heading counts by its text
    text = re.sub(r"<[^>]+>", "", text)                   # inline HTML
    text = text.replace("`", "").replace("*", "")         # markup, not text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())  # \w is Unicode: Hangul stays, so does _
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every relative link in a markdown file."""
    out = []
    for number, line in enumerate(_prose(path.read_text(encoding="utf-8")), start=1):
        for match in LINK.finditer(CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)):
            target = match.group(2)
            if not re.match(r"(?i)(https?:|mailto:)", target):
                out.append((number, target))
    return out


def broken(path: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each relative link of a page, as "<page>:<line>: <target>: <why>"."""
    problems = []
    for number, target in links(path):
        file_part, _, anchor = target.partition("#")
        where = path if not file_part else (path.parent / unquote(file_part)).resolve()
        if not where.exists():
            problems.append(f"{path.relative_to(root)}:{number}: {target}: no such file")
        elif anchor and (where.is_dir() or where.suffix != ".md"):
            problems.append(f"{path.relative_to(root)}:{number}: {target}: an anchor into a file that is not markdown")
        elif anchor and unquote(anchor) not in anchors(where):
            problems.append(f"{path.relative_to(root)}:{number}: {target}: no heading slugifies to #{anchor}")
    return problems


def test_slugs_follow_github() -> None:
    assert slug("Performance (`make bench`)") == "performance-make-bench"
    assert slug('Which address is "the client"') == "which-address-is-the-client"
    assert slug("Fail open / fail closed") == "fail-open--fail-closed"
    assert slug("Deploy (Terraform)") == "deploy-terraform"
    assert slug("snake_case and dash-ed") == "snake_case-and-dash-ed"
    assert slug("보호자 찾기: Coco") == "보호자-찾기-coco"


def test_the_checker_finds_a_broken_link_and_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## Fail open / fail closed\n", encoding="utf-8")
    page.write_text("# Page\n\n[ok](other.md#fail-open--fail-closed) [self](#page) [web](https://example.com/#x)\n"
                    "[gone](missing.md) [bad](other.md#nowhere) [bad self](#other)\n"
                    "```\n[in a fence](missing.md)\n```\n`[in a span](missing.md)`\n", encoding="utf-8")
    assert [target for _, target in links(page)] == ["other.md#fail-open--fail-closed", "#page", "missing.md",
                                                     "other.md#nowhere", "#other"]
    found = broken(page, root=tmp_path)
    assert [p.split(": ")[1] for p in found] == ["missing.md", "other.md#nowhere", "#other"]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert not broken(page), "\n".join(broken(page))


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES, f"README.md has {len(readme.splitlines())} lines"


def test_every_page_in_docs_is_reachable_from_the_readme() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for _, target in links(ROOT / "README.md")
              if target.partition("#")[0]}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


def _package_map() -> list[str]:
    """The module names of the README's map, in order: the code block under "## The package"."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## The package\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    return [line.split()[0].removeprefix("genai/").removesuffix(".py") for line in block.splitlines() if line.strip()]


def _imports(name: str) -> set[str]:
    """The genai modules a module imports at its top level."""
    path = ROOT / ("lambda_function.py" if name == "lambda_function" else f"genai/{name}.py")
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "genai":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("genai."):
            found.add(node.module.split(".")[1])
    return found


def test_the_readme_maps_every_module_in_import_order() -> None:
    """One line per module plus the handler, and each imports only what is listed below it."""
    listed = _package_map()
    modules = sorted(p.stem for p in (ROOT / "genai").glob("*.py") if p.stem != "__init__")
    assert listed[0] == "lambda_function" and sorted(listed[1:]) == modules
    for at, name in enumerate(listed):
        above = set(listed[:at + 1])
        assert not _imports(name) & above, f"{name} imports {sorted(_imports(name) & above)}, listed above it"


def test_the_cloudfront_snippet_forwards_the_cookie_the_function_sets() -> None:
    """A reviewer followed the allow-list in docs/internet.md: it named the cookie before its __Host-
    prefix, CloudFront dropped the real one, and every question started a new conversation."""
    from genai import memory

    text = (ROOT / "docs" / "internet.md").read_text(encoding="utf-8")
    named = set(re.findall(r'"([\w-]*petclinic_genai_conversation)"', text))
    assert named == {memory.COOKIE_NAME}
