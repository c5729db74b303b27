"""Question understanding costs work linear in the question's length, whatever the question.

Work is counted, not timed: the number of Python line events spent inside genai/understanding.py
while extract_names reads one question (sys.settrace), so the bound holds on any machine."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from genai import understanding

MAX_QUESTION = 2000
# Ordinary questions cost 15-50 steps a character; the bound leaves room for any mix of words, and
# sits far below what the unmemoised transliteration cost on a repeated romanised word (>10,000).
STEPS_PER_CHARACTER = 300
STEPS_PER_WORD = 5_000  # one romanised word of at most 12 letters, read from scratch


def steps(function: Any, *args: Any) -> int:
    getattr(understanding.latin_to_hangul, "cache_clear", lambda: None)()  # from a cold cache: the worst case
    count = 0
    here = understanding.__file__

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if frame.f_code.co_filename != here:
            return None
        count += 1
        return tracer

    sys.settrace(tracer)
    try:
        function(*args)
    finally:
        sys.settrace(None)
    return count


def _fill(word: str) -> str:
    return ((word + " ") * MAX_QUESTION)[: MAX_QUESTION - 1]


ADVERSARIAL = {
    "a romanised word that never parses, repeated": _fill("Eoeoeoeoeoex"),
    "another, other vowels": _fill("Oeoeoeoeoeoq"),
    "a romanised syllable, repeated": _fill("Bori"),
    "distinct unparsable words (no cache helps)": " ".join(
        "Eoeoeo" + "".join("aeiou"[(i // 5 ** k) % 5] for k in range(5)) + "x" for i in range(160))[: MAX_QUESTION - 1],
    "one long Latin run": ("Eo" * MAX_QUESTION)[: MAX_QUESTION - 1],
    "Hangul with endings, repeated": _fill("보리보리에게서는"),
    "one long Hangul run": ("보" * MAX_QUESTION)[: MAX_QUESTION - 1],
    "years and separators": _fill("2024 -"),
    "name markers everywhere": _fill("김하은씨네"),
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_adversarial_questions_cost_linear_work(name: str) -> None:
    question = ADVERSARIAL[name]
    assert len(question) < MAX_QUESTION
    assert steps(understanding.extract_names, question) <= STEPS_PER_CHARACTER * len(question)


def test_one_romanised_word_is_bounded() -> None:
    for word in ("Eoeoeoeoeoex", "Ngangangangx", "Yaeyaeyaeyaq", "Wawawawawawv"):
        assert steps(understanding.latin_to_hangul, word) <= STEPS_PER_WORD, word


def test_memoised_transliteration_still_reads_the_same() -> None:
    assert understanding.latin_to_hangul("bori") == "보리"
    assert understanding.latin_to_hangul("Seoyeon") == "서연"
    assert understanding.latin_to_hangul("Eoeoeoeoeoex") is None
    assert understanding.latin_to_hangul("x" * 13) is None
