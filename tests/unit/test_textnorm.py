"""genai.textnorm: text folding like MySQL's accent-insensitive collations, phone numbers, street addresses,
and the one-edit check. Pure functions, standard library only."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from genai import textnorm
from genai.textnorm import fold, find_address, find_phone_numbers, phone_digits, phone_suffix, within_one_edit

# ------------------------------------------------------------------------------------------ fold


@pytest.mark.parametrize("typed, stored", [
    ("Zoe", "Zoë"), ("MULLER", "Müller"), ("muller", "Müller"), ("Krakow", "Kraków"), ("angstrom", "Ångström"),
    ("francois", "François"), ("jose", "José"), ("NUNEZ", "Núñez"), ("soren", "Søren"), ("lukasz", "Łukasz"),
    ("strasse", "Straße"), ("aesir", "Æsir"), ("coeur", "Cœur"), ("dorde", "Đorđe"), ("max", "Ｍａｘ"),
    ("fiona", "ﬁona"), ("zoe", "Zoe\u0308"),
])
def test_fold_makes_accent_and_case_variants_equal(typed: str, stored: str) -> None:
    assert fold(typed) == fold(stored)


@pytest.mark.parametrize("a, b", [("Zoe", "Zoo"), ("x-ray", "xray"), ("Þór", "thor"), ("Anna", "Ana"), ("o'brien", "obrien")])
def test_fold_keeps_what_the_collation_keeps_apart(a: str, b: str) -> None:
    assert fold(a) != fold(b)


def test_fold_leaves_hangul_composed() -> None:
    assert fold("이서연") == "이서연"
    assert fold("서울 Kraków") == "서울 krakow"


# ------------------------------------------------------------------------------------------ phones


@pytest.mark.parametrize("typed, digits", [
    ("010-1234-5678", "01012345678"), ("010 1234 5678", "01012345678"), ("010.1234.5678", "01012345678"),
    ("01012345678", "01012345678"), ("+82 10 1234 5678", "01012345678"), ("+82-10-1234-5678", "01012345678"),
    ("+82 (0)10 1234 5678", "01012345678"), ("608.555.1023", "6085551023"), ("(608) 555-1023", "6085551023"),
    ("608-555-1023", "6085551023"), ("+1 608 555 1023", "6085551023"), ("02-123-4567", "021234567"),
])
def test_phone_digits_first_form_is_the_stored_one(typed: str, digits: str) -> None:
    forms = phone_digits(typed)
    assert forms[0] == digits
    assert all(form.isdigit() and len(form) <= 12 for form in forms)
    assert len(forms) <= 3


def test_phone_digits_keeps_the_international_form_too() -> None:
    assert "821012345678" in phone_digits("+82 10 1234 5678")
    assert phone_digits("no digits") == []
    assert phone_digits("1" * 40) == []  # too long to be a telephone number


@pytest.mark.parametrize("question, expected", [
    ("whose number is 010-1234-5678?", ["01012345678"]),
    ("010-1234-5678 번호 주인이 누구야?", ["01012345678"]),
    ("Who has the phone (608) 555-1023?", ["6085551023"]),
    ("call 608.555.1023 or +82 10 2345 6789", ["6085551023", "01023456789"]),
    ("전화번호가 01023456789인 보호자", ["01023456789"]),
])
def test_phone_numbers_are_found_in_questions(question: str, expected: list[str]) -> None:
    assert find_phone_numbers(question) == expected


@pytest.mark.parametrize("question", [
    "Visits on 2024-02-10?", "2025.06.03에 방문한 동물", "Who lives at 110 W. Liberty St.?", "How many pets are there?",
    "Owners with 3 pets", "visits between 2023-12-01 and 2024-02-10",
])
def test_dates_counts_and_house_numbers_are_not_phone_numbers(question: str) -> None:
    assert find_phone_numbers(question) == []


@pytest.mark.parametrize("question, digits", [
    ("the owner whose phone ends in 5678", "5678"), ("phone number ending with 1023?", "1023"),
    ("last four digits 5678", "5678"), ("whose number ends 1749", "1749"),
    ("전화번호 끝자리 5678인 보호자", "5678"), ("뒷자리가 5678인 사람", "5678"), ("뒷번호 1023 보호자 누구야", "1023"),
    ("5678로 끝나는 번호", "5678"), ("끝번호가 6789인 분", "6789"),
])
def test_phone_suffix(question: str, digits: str) -> None:
    assert phone_suffix(question) == digits


@pytest.mark.parametrize("question", ["Who owns Leo?", "010-1234-5678 번호 주인", "ends in a dog", "끝자리"])
def test_no_phone_suffix(question: str) -> None:
    assert phone_suffix(question) is None


# ------------------------------------------------------------------------------------------ addresses


@pytest.mark.parametrize("question, number, street", [
    ("who lives at 12 Elm Street?", "12", "Elm"),
    ("Who lives at 110 W. Liberty St.?", "110", "Liberty"),
    ("owner at 638 Cardinal Ave.", "638", "Cardinal"),
    ("Who lives on Cardinal Ave?", None, "Cardinal"),
    ("who lives at 2387 s. fair way", "2387", "fair"),
    ("Zoë at 7 Rynek Główny Street", "7", "Główny"),
    ("서울시 강남구 테헤란로 123에 사는 사람", "123", "테헤란로"),
    ("테헤란로 152 사는 보호자", "152", "테헤란로"),
    ("해운대구 우동 1408 주소의 보호자", "1408", "우동"),
    ("월드컵북로 21에 누가 살아?", "21", "월드컵북로"),
])
def test_street_addresses_are_found(question: str, number: str | None, street: str) -> None:
    address = find_address(question)
    assert address is not None
    assert (address.number, address.street) == (number, street)
    assert street in address.like() and (number or "") in address.like()


@pytest.mark.parametrize("question", ["Who owns Leo?", "Ask Dr. Carter about Max", "How many pets in Madison?",
                                      "보리의 보호자는 누구야?", "서울에 사는 보호자는 몇 명이야?", "Visits on 2024-02-10?",
                                      "보리가 3마리 있어?", "고양이로 2마리", "2024년 3월 방문"])
def test_no_address(question: str) -> None:
    assert find_address(question) is None


def test_address_like_pattern_has_no_wildcards_from_the_question() -> None:
    address = find_address("who lives at 12 E%m_ Street?")
    assert address is None or ("%" not in address.street and "_" not in address.street)


# ------------------------------------------------------------------------------------------ one edit


@pytest.mark.parametrize("a, b", [
    ("charlie", "charly"[:-1] + "ie"), ("charlie", "charlee"), ("bella", "belal"), ("bella", "bela"), ("bella", "bellla"),
    ("mcdonald", "mcdonnald"), ("mcdonald", "mcdonlad"), ("leo", "leo"), ("max", "mx"), ("lucy", "lucky"),
    ("muller", "mueller"), ("", "a"),
])
def test_within_one_edit(a: str, b: str) -> None:
    assert within_one_edit(a, b)
    assert within_one_edit(b, a)


@pytest.mark.parametrize("a, b", [("charlie", "charly"), ("bella", "ballo"), ("max", "maxie"), ("abcd", "badc"),
                                  ("leo", "lion"), ("ab", "ba" + "x"), ("", "ab")])
def test_not_within_one_edit(a: str, b: str) -> None:
    assert not within_one_edit(a, b)
    assert not within_one_edit(b, a)


def test_everything_is_linear_on_long_input() -> None:
    long_text = ("010-1234-5678 " + "a" * 50 + " 12 Elm Street 끝자리 5678 ") * 400
    started = time.perf_counter()
    fold(long_text)
    find_phone_numbers(long_text)
    phone_suffix(long_text)
    find_address(long_text)
    within_one_edit("a" * 100_000, "a" * 99_999 + "b")
    assert time.perf_counter() - started < 1.0
    assert len(find_phone_numbers(long_text)) <= textnorm.MAX_PHONES
