"""Names taken from questions, in Korean and English."""

from __future__ import annotations

import pytest

from lambda_function import extract_names


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Coco라는 반려동물을 키우고 있는 사람은 누구야?", {"Coco"}),
        ("Who owns Leo?", {"Leo"}),
        ("Leo's owner?", {"Leo"}),
        ("보리는 어떤 동물이야?", {"보리"}),
        ("서울에 사는 보호자는 몇 명이야?", {"서울"}),
    ],
)
def test_names_are_found_and_noise_is_dropped(question: str, expected: set[str]) -> None:
    names = extract_names(question)
    assert expected <= set(names.values)
    assert not {"누구야", "반려동물", "Who", "owns", "라는", "owner"} & set(names.values)


def test_particles_are_stripped_but_the_whole_token_is_kept() -> None:
    names = extract_names("지은이의 고양이는?")
    assert "지은" in names.values  # 이의 stripped
    assert "cat" in names.values  # 고양이 -> cat, not stripped to 고양
    assert "고양" not in names.values


def test_korean_full_names_are_split_family_name_first() -> None:
    assert ("김", "민준") in extract_names("김민준 씨의 반려동물은?").full_names


def test_two_word_cities_and_plurals() -> None:
    names = extract_names("How many cats live in Sun Prairie?")
    assert {"Sun Prairie", "cat"} <= set(names.values)


def test_candidates_are_bounded() -> None:
    question = " ".join(f"Name{i}" for i in range(100))
    assert len(extract_names(question).values) <= 16


def test_tool_text_arguments_cannot_smuggle_like_wildcards() -> None:
    from lambda_function import ToolInputError, _text_arg

    assert _text_arg({"name": "Le%o_\\"}, "name") == "Leo"
    for bad in ({"name": "%%"}, {"name": 7}, {"name": "x" * 81}):
        with pytest.raises(ToolInputError):
            _text_arg(bad, "name")
    assert _text_arg({}, "name") is None
