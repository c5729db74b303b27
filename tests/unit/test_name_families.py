"""Issue 20: names as staff type them, family by family, in Korean and English (understanding only:
what the question is read into; tests/e2e/test_name_families.py checks what the prefetch then finds)."""

from __future__ import annotations

import pytest

from genai.understanding import extract_names


def values(question: str) -> set[str]:
    return {value.lower() for value in extract_names(question).values}


def name_like(question: str) -> list[str]:
    return [term for term, _ in extract_names(question).name_like]


# 1. Letters outside ASCII stay whole.
@pytest.mark.parametrize("question, expected", [
    ("Which pet does Zoë Müller have?", {"zoë", "müller"}),
    ("Zoë Müller 씨의 반려동물은?", {"zoë", "müller"}),
    ("Kraków에 사는 보호자는 누구야?", {"kraków"}),
    ("Which pets does Łukasz Nowak have?", {"łukasz", "nowak"}),
    ("Søren Nielsen의 전화번호는?", {"søren", "nielsen"}),
])
def test_letters_outside_ascii_stay_in_the_word(question: str, expected: set[str]) -> None:
    assert expected <= values(question)
    assert not {"zo", "m", "ller", "krak", "s"} & values(question)


def test_accented_names_are_name_like_whole() -> None:
    assert name_like("Which pet does Zoë Müller have?") == ["Zoë", "Müller"]
    assert name_like("pets of ZOË MÜLLER") == ["ZOË", "MÜLLER"]


# 3. Latin names written in Hangul (loanword spelling), bounded.
@pytest.mark.parametrize("question, spelling", [
    ("찰리 보호자가 누구야?", "charlie"), ("쿠키 보호자 연락처 알려줘", "cookie"), ("몰리는 누구 반려동물이야?", "molly"),
    ("올리버의 보호자는?", "oliver"), ("토비 주인 알려줘", "toby"), ("맥도널드 씨 반려동물은?", "mcdonald"),
    ("데이지는 어떤 동물이야?", "daisy"), ("루나 주인 누구야?", "luna"),
])
def test_hangul_loanwords_are_looked_up_in_latin_letters(question: str, spelling: str) -> None:
    assert spelling in values(question)
    assert len(extract_names(question).values) <= 24


# 7. Korean particles and household suffixes; a space inside a full name.
@pytest.mark.parametrize("question, stem", [
    ("지호네 강아지 이름이 뭐야?", "지호"), ("한지호 씨네 반려동물은?", "한지호"), ("윤수아 님네 고양이는?", "윤수아"),
    ("오민서한테서 온 고양이 이름은?", "오민서"), ("수아께서는 반려동물이 몇 마리야?", "수아"), ("민서랑은 무슨 사이야?", "민서"),
    ("지호이랑은?", "지호"),
])
def test_particles_and_household_suffixes_are_cut(question: str, stem: str) -> None:
    assert stem in values(question)
    assert not {"씨네", "님네"} & set(name_like(question))


def test_a_space_inside_a_korean_full_name() -> None:
    names = extract_names("김 하은 선생님 전문 분야는?")
    assert ("김", "하은") in names.full_names
    assert "김하은" in names.values


# 6. Specialty and type word forms.
@pytest.mark.parametrize("question, expected", [
    ("Which vets are dentists?", "dent"), ("Who does dental work?", "dent"), ("Who is the surgeon here?", "surg"),
    ("Any surgical vets?", "surg"), ("Is there a radiologist?", "radi"), ("Who does X-ray?", "radi"),
])
def test_specialty_word_forms_become_stems(question: str, expected: str) -> None:
    assert expected in extract_names(question).specialty_stems


@pytest.mark.parametrize("question, expected", [
    ("치과 의사는 누구야?", "dentistry"), ("외과 전문의 알려줘", "surgery"), ("영상의학과 선생님은?", "radiology"),
    ("피부과 선생님은 누구야?", "dermatology"), ("How many kittens are registered?", "cat"),
    ("How many puppies does the clinic have?", "dog"), ("새끼 고양이는 몇 마리야?", "cat"), ("a puppy", "dog"),
])
def test_type_and_specialty_words(question: str, expected: str) -> None:
    assert expected in values(question)
    assert not name_like(question)


# 8. Case.
def test_all_caps_and_lower_case_names_are_looked_up() -> None:
    assert "max" in values("WHO OWNS MAX?")
    assert name_like("WHO OWNS MAX?") == ["MAX"]
    assert {"robert", "franklin", "robert franklin"} <= values("what does robert franklin have")
    assert "bella" in values("who owns bella")


# 5. Addresses, telephone numbers and visit descriptions.
def test_phone_numbers_and_suffixes() -> None:
    assert extract_names("Whose number is 010-1234-5678?").phones == ("01012345678",)
    assert extract_names("+82 10 5555 6666 번호 주인은?").phones == ("01055556666",)
    assert extract_names("Who is the owner whose phone ends in 5432?").phone_suffix == "5432"
    assert extract_names("전화번호 끝자리 1023인 보호자는?").phone_suffix == "1023"
    assert extract_names("2025-06-03에 온 동물은?").phones == ()


def test_addresses() -> None:
    assert extract_names("Who lives at 12 Elm Street?").address == "12 %Elm%"
    assert extract_names("테헤란로 123에 사는 보호자는?").address == "%테헤란로%123%"
    names = extract_names("who lives at 110 W Liberty Street?")
    assert names.address == "110 %Liberty%"
    assert "W" not in name_like("who lives at 110 W Liberty Street?")


@pytest.mark.parametrize("question, term", [
    ("Which pet had a rabies shot?", "rabies"), ("광견병 접종 받은 동물은?", "광견병"), ("Who had an X-ray?", "x-ray"),
    ("스케일링 받은 동물은?", "스케일링"), ("Which pets were neutered?", "neutered"),
])
def test_visit_descriptions(question: str, term: str) -> None:
    assert extract_names(question).visit_terms[0].lower() == term


def test_no_visit_terms_in_a_plain_name_question() -> None:
    assert extract_names("Who owns Leo?").visit_terms == ()


# The read scope: below "all" nobody is looked up by telephone or address (docs/internet.md).
@pytest.mark.parametrize("question", ["Whose number is 010-1234-5678?", "Who lives at 12 Elm Street?",
                                      "전화번호 끝자리 1023인 보호자는?"])
def test_contact_lookups_only_in_scope_all(question: str) -> None:
    from genai import facts

    names = extract_names(question)
    everything = " ".join(sql for sql, _ in facts._prefetch_sql(names, "all").values())
    assert "x.telephone" in everything or "x.address" in everything
    for scope in ("no_contact", "clinic"):
        statements = facts._prefetch_sql(names, scope).values()
        assert not any("x.telephone" in sql or "x.address" in sql for sql, _ in statements), scope


def test_contact_lookup_params_are_bound_never_inlined() -> None:
    from genai import facts

    sql, params = facts._prefetch_sql(extract_names("Whose number is 010-1234-5678? ends in 5678"), "all")["people"]
    assert "01012345678" not in sql and "5678" not in sql
    assert params["ph0"] == "01012345678"
