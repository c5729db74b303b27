"""Text as staff type it: folding like MySQL's accent-insensitive collations, telephone numbers,
street addresses, and a one-edit check for typos.

Pure functions over the standard library (no AWS, no I/O). Every function is linear in the length
of its input and returns a bounded result, so a long or hostile question costs little.

- ``fold`` is the key under which the database's ``*_ai_ci`` collation calls two strings equal
  (MySQL's utf8mb4_0900_ai_ci, Aurora MySQL 3's default; MariaDB's utf8mb4_uca1400_ai_ci): case and
  accents are ignored ("Zoë Müller" = "zoe muller"), ß = ss, æ = ae, ø = o, ł = l, full-width
  letters are letters. The local SQLite Data API compares its text columns with the same function.
- Telephone numbers are stored digits only (at most 12): ``phone_digits`` turns what was typed
  (dashes, dots, spaces, parentheses, +82 / +1 or a leading 0) into the digit strings to look up.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

__all__ = ["MAX_PHONES", "Address", "find_address", "find_phone_numbers", "fold", "phone_digits", "phone_suffix",
           "within_one_edit"]

MAX_PHONES = 3  # telephone numbers taken from one question
MAX_TEXT = 4000  # characters of a question the finders look at (questions are far shorter)
MAX_PHONE_DIGITS = 12  # the telephone column holds digits only, at most 12

# Letters the Unicode decomposition leaves whole but the UCA collations (utf8mb4_0900_ai_ci,
# utf8mb4_uca1400_ai_ci, utf8mb4_unicode_520_ci) weigh as a base letter or as two letters.
# (þ, ı, ŧ, ŋ and ĸ are letters of their own there, and stay apart here too.)
_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "æ": "ae", "œ": "oe", "ŀ": "l"})


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept.casefold().translate(_LETTERS))


def fold(text: str) -> str:
    """Case- and accent-free form of ``text``: equal folds mean equal under utf8mb4_0900_ai_ci.

    "Zoë Müller" -> "zoe muller", "Straße" -> "strasse", "Łódź" -> "lodz"; Hangul stays composed."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(char) for char in unicodedata.normalize("NFC", text))


# ------------------------------------------------------------------------------------------ phones

# A run of digit groups joined by one separator each ("010-1234-5678", "(608) 555-1023", "+82 10 ...").
_PHONE_RE = r"(?<![0-9A-Za-z.+-])(\+\s?\d{1,3}[\s.-]?(?:\(0\)\s?)?)?(\(?\d{2,4}\)?(?:[\s.-]?\d{2,4}){1,3})(?![0-9A-Za-z-]|\.\d)"
_DATE_RE = r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{4}$"


def phone_digits(text: str) -> list[str]:
    """The digit strings under which the telephone number ``text`` may be stored, most likely first.

    "+82 10 1234 5678" -> ["01012345678", "821012345678"]; "(608) 555-1023" -> ["6085551023"];
    "+1 608 555 1023" -> ["6085551023", "16085551023"]. Empty when there is no plausible number."""
    text = text[:64]
    digits = "".join(c for c in text if c.isascii() and c.isdigit())
    if not 4 <= len(digits) <= 15:
        return []
    stripped = text.strip()
    forms: list[str] = []
    if stripped.startswith("+") or stripped.startswith("00"):
        international = digits[2:] if stripped.startswith("00") else digits
        if international.startswith("82"):  # Korea: +82 10 ... is 010 ... at home
            national = international[2:]
            forms += ["0" + national.removeprefix("0"), "82" + national.removeprefix("0")]
        elif international.startswith("1") and len(international) == 11:  # North America
            forms += [international[1:], international]
        else:
            forms.append(international)
    else:
        forms.append(digits)
    return [form for form in dict.fromkeys(forms) if 4 <= len(form) <= MAX_PHONE_DIGITS][:MAX_PHONES]


def find_phone_numbers(question: str) -> list[str]:
    """Telephone numbers written in ``question``, each as its most likely stored digit string.

    A number has 9 to 12 digits (an international prefix may add more), optionally in groups; dates
    (2024-02-10, 2025.06.03) and short numbers (house numbers, counts) are not telephone numbers."""
    found: list[str] = []
    for match in re.finditer(_PHONE_RE, question[:MAX_TEXT]):
        whole = match.group(0).strip()
        if re.match(_DATE_RE, whole):
            continue
        national = "".join(c for c in match.group(2) if c.isdigit())
        if not (9 <= len(national) <= MAX_PHONE_DIGITS or (match.group(1) and 7 <= len(national) <= MAX_PHONE_DIGITS)):
            continue
        forms = phone_digits(whole)
        if forms and forms[0] not in found:
            found.append(forms[0])
        if len(found) >= MAX_PHONES:
            break
    return found


_SUFFIX_RES = (  # patterns as text: re compiles each on first use (a Hangul class costs ms at import)
    # English: "ends in 5678", "ending with 1023", "last four digits 5678", "last 4 digits are 5678"
    r"(?i)\b(?:ends?|ending)\s+(?:in|with)?\s*(\d{3,8})\b",
    r"(?i)\blast\s+(?:\w+\s+)?digits?\s+(?:are\s+|is\s+|of\s+)?(\d{3,8})\b",
    # Korean: "끝자리 5678", "뒷자리가 5678", "뒷번호 1023", "끝번호가 6789", "마지막 네 자리 5678"
    r"(?:끝\s?자리|뒷\s?자리|뒷\s?번호|끝\s?번호|마지막\s?(?:네|4)?\s?자리)\s*(?:[가-힣]{1,2}\s*)?(\d{3,8})(?!\d)",
    # "5678로 끝나는 번호"
    r"(?<!\d)(\d{3,8})\s*(?:으로|로)\s*끝나",
)


def phone_suffix(question: str) -> str | None:
    """The digits a telephone number is said to end in ("phone ends in 5678", "끝자리 5678",
    "뒷자리가 5678", "5678로 끝나는 번호"), or None. 3 to 8 digits."""
    text = question[:MAX_TEXT]
    for pattern in _SUFFIX_RES:
        if match := re.search(pattern, text):
            return match.group(1)
    return None


# ------------------------------------------------------------------------------------------ addresses


class Address(NamedTuple):
    """A street address in a question: ``street`` is the street's distinctive word ("Liberty" in
    "110 W. Liberty St.", "테헤란로" in "테헤란로 152"), ``number`` the house number if given."""

    number: str | None
    street: str
    korean: bool = False

    def like(self) -> str:
        """A LIKE pattern for the address column (street names and numbers hold no wildcards)."""
        if not self.number:
            return f"%{self.street}%"
        if self.korean:  # 강남구 테헤란로 152: street, then number
            return f"%{self.street}%{self.number}%"
        return f"{self.number} %{self.street}%"  # 110 W. Liberty St.: number first


_SUFFIXES = ("street|st|avenue|ave|road|rd|lane|ln|way|drive|dr|boulevard|blvd|court|ct|place|pl|terrace|ter"
             "|circle|cir|parkway|pkwy|highway|hwy|square|sq")
_LETTERS_ETC = r"(?:[^\W_]|['’-])*"  # the rest of a word: letters, digits, apostrophes, hyphens
_EN_ADDRESS_RE = (rf"(?:(?<![\w.-])(\d{{1,6}})\s+)?(?i:(?:north|south|east|west|[nsew])\.?\s+)?"
    rf"((?:[^\W\d_a-z]{_LETTERS_ETC}\s+){{0,2}}[^\W\d_]{_LETTERS_ETC})\s+(?i:({_SUFFIXES}))\b(\.?)(\s+[A-Z])?")
# "테헤란로 152", "월드컵북로 21", "우동 1408", "세종대로 110-1"; not "보리로 3마리" (a count, not a house number)
_KO_ADDRESS_RE = (r"(?<![가-힣\d])([가-힣\d]{1,12}(?:대로|로|길|동))\s*(\d{1,5}(?:-\d{1,4})?)(?![\d-])"
                            r"(?!\s*(?:마리|명|개|번|살|세|월|일|년|시|회|건|곳|분|달))")
_NOT_STREET = frozenset({"who", "what", "the", "a", "an", "on", "at", "in", "of", "to", "lives", "live", "owner", "owners"})


def find_address(question: str) -> Address | None:
    """The first street address in ``question``: "12 Elm Street", "110 W. Liberty St.",
    "Cardinal Ave" (no number), "서울시 강남구 테헤란로 123", "우동 1408". None when there is none."""
    text = question[:MAX_TEXT]
    if match := re.search(_KO_ADDRESS_RE, text):
        return Address(match.group(2), match.group(1), korean=True)
    for match in re.finditer(_EN_ADDRESS_RE, text):
        number, name, suffix, dot, capital = match.groups()
        words = name.split()
        # "Dr. Carter", "St. Louis": a title before a name, not a street (unless a house number says so)
        if capital and not number and suffix.lower() in ("dr", "st"):
            continue
        if not number and suffix.lower() in ("dr", "st", "ct", "pl", "ter", "cir", "sq") and not dot and not words[-1][0].isupper():
            continue
        street = words[-1]
        if street.lower() in _NOT_STREET:
            continue
        return Address(number, street)
    return None


# ------------------------------------------------------------------------------------------ typos


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are equal or one edit apart: one letter substituted, inserted or
    deleted (a doubled letter is an insertion), or two adjacent letters swapped (Damerau).
    Linear time; compares the strings as given (fold them first to ignore case and accents)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    middle_a, middle_b = a[start:end_a], b[start:end_b]
    if len(middle_a) + len(middle_b) <= 1 or (len(middle_a) == 1 and len(middle_b) == 1):
        return True  # one insertion/deletion, or one substitution
    return len(middle_a) == len(middle_b) == 2 and middle_a == middle_b[::-1]  # adjacent transposition
