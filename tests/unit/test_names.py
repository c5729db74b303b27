"""Names taken from questions, in Korean and English."""

from __future__ import annotations

import pytest

from genai.understanding import extract_names


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
    from genai.tools import ToolInputError, _text_arg

    assert _text_arg({"name": "Le%o_\\"}, "name") == "Leo"
    for bad in ({"name": "%%"}, {"name": 7}, {"name": "x" * 81}):
        with pytest.raises(ToolInputError):
            _text_arg(bad, "name")
    assert _text_arg({}, "name") is None


@pytest.mark.parametrize("word", ["이야", "살아", "왔어", "마리야", "알려줘", "전화번호", "주소", "마지막", "도시별", "종류별",
                                  "수의사님", "선생님", "들"])
def test_ordinary_korean_words_are_not_name_like(word: str) -> None:
    names = extract_names(f"Coco {word}")
    assert [term for term, _ in names.name_like] == ["Coco"]


@pytest.mark.parametrize("question, name", [
    ("박지훈 수의사의 전문 분야는?", "박지훈"), ("박지훈수의사님은 누구야?", "박지훈"), ("이서연이야?", "이서연"),
    ("최지은 님", "최지은"), ("나비들은?", "나비"),
])
def test_honorifics_copulas_and_plurals_are_cut(question: str, name: str) -> None:
    names = extract_names(question)
    assert name in names.values
    if len(name) == 3:
        assert (name[0], name[1:]) in names.full_names


def test_aggregate_words_become_aggregates() -> None:
    assert extract_names("도시별 보호자 수는?").aggregates == ("owners_per_city",)
    assert extract_names("종류별로 반려동물이 몇 마리야?").aggregates == ("pets_per_type",)
    assert extract_names("How many vets per specialty?").aggregates == ("vets_per_specialty",)
    assert extract_names("고양이는 몇 마리야?").totals


def test_periods() -> None:
    from datetime import date

    from genai.understanding import extract_period

    assert extract_period("2024년에 방문은 몇 건이야?") == (date(2024, 1, 1), date(2024, 12, 31))
    assert extract_period("2025년 6월 방문") == (date(2025, 6, 1), date(2025, 6, 30))
    assert extract_period("visits on 2025-06-03") == (date(2025, 6, 3), date(2025, 6, 3))
    assert extract_period("visits in 2010") == (date(2010, 1, 1), date(2010, 12, 31))
    assert extract_period("Who owns Leo?") is None
    assert extract_period("tel 6085552023") is None


def test_the_contract_tests_question_needs_no_prefetch() -> None:
    from genai.facts import _prefetch_sql

    assert _prefetch_sql(extract_names("and the pets?")) == {}


def test_transliteration_both_ways() -> None:
    from genai.understanding import MAX_TRANSLITERATIONS, hangul_to_latin, latin_to_hangul

    assert "coco" in hangul_to_latin("코코") and "leo" in hangul_to_latin("레오")
    assert len(hangul_to_latin("럭키")) <= MAX_TRANSLITERATIONS
    assert latin_to_hangul("Bori") == "보리" and latin_to_hangul("Seoul") == "서울" and latin_to_hangul("Lee") == "이"
    assert latin_to_hangul("Zorro") is None
    assert ("이", "서연") in extract_names("Seoyeon Lee's phone?").full_names
    names = extract_names("코코의 보호자는?")
    assert "coco" in names.values and names.values.index("coco") > names.values.index("코코")  # typed forms first
