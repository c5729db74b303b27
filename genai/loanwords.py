"""Korean loanword spelling (외래어 표기법) read backwards: a Hangul word -> the Latin spellings it may
stand for, most likely first ("찰리" -> charlie, charly, ...; "맥스" -> max; "쿠키" -> cookie).

Revised Romanization turns 찰리 into "chalri"; staff who write an English pet name in Hangul follow
the loanword rules instead, which lose letters English keeps (doubled consonants, silent e, r after a
vowel) and add a vowel English has not (스 for a final s). So each jamo becomes a few spellings with a
cost, chosen by its neighbours (ㄹㄹ -> l/ll, final ㅅ -> t/s, word-final 이 -> y/ie/i/ey, 스 -> s,
즈 -> s/z, ㅋ -> c/k/ck, 프 -> f/p, ㅓ -> o/u/e/er, ㅐ/ㅔ -> a/e, 우 -> u/oo, 데이 -> dai/day/da,
맥스 -> max ...), and a beam search keeps the cheapest BEAM spellings after each jamo: linear in
the word's length, at most MAX_VARIANTS results. Pure and standard library only.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["BEAM", "MAX_SYLLABLES", "MAX_VARIANTS", "latin_spellings"]

MAX_VARIANTS = 6
MAX_SYLLABLES = 10  # longer "words" are not names
BEAM = 40

Options = list[tuple[str, float]]  # spelling, cost (lower is likelier)

_ONSETS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_CODAS = ["", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ", "ㅁ", "ㅂ", "ㅄ",
          "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ"]

_ONSET: dict[str, Options] = {
    "ㄱ": [("g", 0), ("k", 1.0), ("c", 1.2)], "ㄲ": [("k", 0.3), ("c", 0.5), ("g", 0.8)], "ㄴ": [("n", 0)],
    "ㄷ": [("d", 0), ("t", 1.2)], "ㄸ": [("t", 0.3), ("d", 0.5)], "ㄹ": [("l", 0), ("r", 0.2)], "ㅁ": [("m", 0)],
    "ㅂ": [("b", 0), ("v", 0.3)], "ㅃ": [("p", 0.3), ("b", 0.5)], "ㅅ": [("s", 0), ("c", 0.8), ("th", 1.6)],
    "ㅆ": [("s", 0.2), ("ss", 0.5)], "ㅇ": [("", 0)], "ㅈ": [("j", 0), ("g", 0.8), ("z", 0.7), ("s", 1.2)],
    "ㅉ": [("z", 0.3), ("j", 0.5)], "ㅊ": [("ch", 0), ("c", 1.2), ("t", 1.6)], "ㅋ": [("c", 0.1), ("k", 0.2), ("ch", 1.6)],
    "ㅌ": [("t", 0), ("th", 1.4)], "ㅍ": [("p", 0.1), ("f", 0.2), ("ph", 0.7)], "ㅎ": [("h", 0), ("", 2.0)],
}
_VOWEL: dict[str, Options] = {
    "ㅏ": [("a", 0), ("ar", 0.8), ("o", 1.3), ("u", 1.5)], "ㅐ": [("a", 0), ("e", 0.6), ("ai", 1.5)],
    "ㅑ": [("ya", 0), ("ia", 0.5)], "ㅒ": [("ya", 0.3), ("ye", 0.5)],
    "ㅓ": [("u", 0.5), ("o", 0.5), ("a", 0.6), ("e", 0.8), ("er", 1.0), ("ur", 1.3), ("ir", 1.6)],
    "ㅔ": [("e", 0), ("a", 0.8), ("ai", 1.6)], "ㅕ": [("ye", 0.3), ("yo", 0.5), ("ie", 1.0)], "ㅖ": [("ye", 0.2), ("e", 0.6)],
    "ㅗ": [("o", 0), ("or", 1.3), ("oa", 1.6)], "ㅘ": [("wa", 0), ("ua", 0.8)], "ㅙ": [("wa", 0.2), ("we", 0.4)],
    "ㅚ": [("oe", 0.3), ("we", 0.4), ("wi", 1.0)], "ㅛ": [("yo", 0), ("io", 0.6)],
    "ㅜ": [("u", 0.2), ("oo", 0.2), ("ou", 1.0), ("o", 1.4)], "ㅝ": [("wo", 0), ("wa", 0.7), ("war", 1.0)],
    "ㅞ": [("we", 0)], "ㅟ": [("wi", 0), ("wee", 0.8), ("ui", 1.0)], "ㅠ": [("u", 0.2), ("yu", 0.5), ("ew", 0.9)],
    "ㅡ": [("e", 0.8), ("u", 1.0), ("", 1.2)], "ㅢ": [("ui", 0.5), ("ee", 0.6), ("i", 0.8)],
    "ㅣ": [("i", 0), ("e", 0.7), ("ee", 0.8), ("y", 1.0), ("ea", 1.3)],
}
_CODA: dict[str, Options] = {
    "ㄱ": [("ck", 0.1), ("k", 0.3), ("c", 0.5), ("g", 1.0)], "ㄴ": [("n", 0)], "ㄷ": [("t", 0.2), ("d", 0.4)],
    "ㄹ": [("l", 0), ("ll", 0.8), ("r", 0.8)], "ㅁ": [("m", 0), ("mm", 1.0)], "ㅂ": [("p", 0.2), ("b", 0.4)],
    "ㅅ": [("t", 0.2), ("s", 0.4), ("tt", 1.0)], "ㅆ": [("ss", 0.4), ("t", 0.6)], "ㅇ": [("ng", 0), ("n", 1.5)],
    "ㅈ": [("t", 0.5), ("ch", 0.5)], "ㅊ": [("ch", 0.3), ("t", 0.5)], "ㅋ": [("k", 0.2), ("ck", 0.3)],
    "ㅌ": [("t", 0.1)], "ㅍ": [("p", 0.2), ("f", 0.4)], "ㅎ": [("", 0.5), ("h", 1.0)],
}
_DOUBLED = {"ㄷ": "dd", "ㅌ": "tt", "ㅂ": "bb", "ㅍ": "pp", "ㅁ": "mm", "ㄴ": "nn", "ㄱ": "gg", "ㅋ": "ck", "ㅅ": "ss", "ㄹ": "rr"}
_SHORT = set("ㅐㅔㅓ")  # a doubled consonant after these is likely: buddy, betty, pepper, teddy
_FRONT = set("ㅣㅔㅐㅖㅒㅟ")  # c before these is soft: 키 -> ki, not ci
_Y_VOWEL = {"ㅑ": "ㅏ", "ㅕ": "ㅓ", "ㅛ": "ㅗ", "ㅠ": "ㅜ", "ㅒ": "ㅐ", "ㅖ": "ㅔ"}
# A vowel followed by the syllable 이 (ㅇ+ㅣ) is one English vowel: 데이 day/dai/da, 마이 mi/my, 로이 roy/roe.
_GLIDE_I: dict[str, Options] = {
    "ㅏ": [("i", 0), ("y", 0.3), ("ai", 0.7), ("igh", 1.5)], "ㅔ": [("a", 0.1), ("ai", 0.2), ("ay", 0.3), ("ey", 0.6), ("ei", 0.9)],
    "ㅐ": [("a", 0.2), ("ai", 0.3), ("ay", 0.4)], "ㅗ": [("oy", 0.1), ("oe", 0.3), ("oi", 0.4)], "ㅜ": [("ui", 0.5), ("ouie", 0.8), ("ewi", 1.5)],
}
# ... and followed by 우: 브라운 brown, 오우 ow.
_GLIDE_U: dict[str, Options] = {"ㅏ": [("ow", 0), ("ou", 0.3), ("au", 0.8)], "ㅗ": [("ow", 0.1), ("o", 0.3), ("oe", 1.0)]}


def _syllables(word: str) -> list[tuple[str, str, str]] | None:
    out = []
    for char in word:
        code = ord(char) - 0xAC00
        if not 0 <= code < 11172:
            return None
        out.append((_ONSETS[code // 588], _VOWELS[code % 588 // 28], _CODAS[code % 28]))
    return out


def _segments(syllables: list[tuple[str, str, str]]) -> list[Options]:
    """Per jamo (onset, vowel, coda of each syllable), the spellings it may have in this word."""
    segments: list[Options] = []
    skip_onset = skip_vowel = False
    last = len(syllables) - 1
    for i, (onset, vowel, coda) in enumerate(syllables):
        final = i == last
        after = syllables[i + 1] if not final else None
        before = syllables[i - 1] if i else None
        epenthetic = vowel == "ㅡ" and not coda and i > 0  # 스, 크, 드, 트, 즈: a consonant with no vowel in English

        # --- onset
        if skip_onset:
            options: Options = [("", 0)]
        else:
            options = list(_ONSET[onset])
            if onset == "ㅋ" and vowel in _FRONT:
                options = [("k", 0), ("c", 0.8), ("ck", 1.2)]
            if onset == "ㅅ" and vowel in _FRONT:
                options = [("s", 0), ("c", 0.3), ("ss", 1.0), ("th", 1.6)]
            if onset == "ㅂ" and vowel in "ㅓㅣ" and i > 0:  # oliver, davis, trevor
                options = [("b", 0), ("v", 0.1)]
            if onset == "ㅅ" and vowel == "ㅣ" and final:  # lucy, stacy, percy
                options = [("c", 0), ("s", 0.1), ("ss", 0.4)]
            if onset == "ㄹ" and before and before[1] == "ㅡ" and not before[2] and i == 1:  # 그레이스 grace, 브라운 brown
                options = [("r", 0), ("l", 0.3)]
            if onset == "ㅅ" and vowel in _Y_VOWEL:  # 섀, 셔, 쇼, 슈: sh
                options = [("sh", 0), ("s", 0.8)]
            if onset == "ㅈ" and final and vowel == "ㅣ":  # 로지 rosie, 데이지 daisy, 조지 george
                options = [("s", 0.4), ("z", 0.6), ("j", 0.7), ("g", 0.9), ("ge", 1.0)]
            if onset == "ㅈ" and vowel == "ㅗ" and i == 0:
                options += [("geo", 1.4)]
            if onset == "ㅈ" and epenthetic:  # 즈: s/z
                options = [("s", 0), ("z", 0.2), ("ds", 1.0)]
            if onset == "ㅅ" and epenthetic:  # 스: s, ce, ss, th
                options = [("s", 0), ("ce", 0.6 if final else 2.0), ("ss", 0.8), ("se", 1.0 if final else 2.0), ("th", 1.2)]
            if onset == "ㅋ" and epenthetic:
                options = [("k", 0), ("ke", 0.5 if final else 2.0), ("c", 0.6), ("ck", 0.5)]
            if onset == "ㅊ" and epenthetic:
                options = [("ch", 0), ("tch", 0.8)]
            if onset == "ㅍ" and epenthetic:
                options = [("f", 0), ("p", 0.1), ("ph", 0.9)]
            if (before and not before[2] and onset in _DOUBLED and vowel != "ㅡ"
                    and not (onset == "ㅅ" and vowel in _Y_VOWEL)):  # between vowels: doubled (buddy, betty, rocky)
                short = before[1] in _SHORT and onset != "ㅂ"
                doubled = (0.0 if short else 0.2 if before[1] == "ㅣ" else 0.3) if final and vowel in "ㅣㅓ" else 0.8
                if onset == "ㅋ":
                    doubled = 0.1 if final and vowel == "ㅣ" else 0.6
                if short and final and vowel in "ㅣㅓ":
                    options = [(spelling, cost + 0.3) for spelling, cost in options]
                options.append((_DOUBLED[onset], doubled))
            if onset == "ㅇ" and vowel in ("ㅜ", "ㅝ", "ㅟ") and i > 0 and before and not before[2]:
                pass  # 브라운: the glide was spelt with the vowel before
        segments.append(options)
        skip_onset = False

        # --- vowel
        skip_vowel_next = False
        if skip_vowel:
            options = [("", 0)]
        elif after and not coda and after[0] == "ㅇ" and after[1] == "ㅣ" and vowel in _GLIDE_I:
            options = list(_GLIDE_I[vowel])
            skip_onset = skip_vowel_next = True
        elif after and not coda and after[0] == "ㅇ" and after[1] == "ㅜ" and vowel in _GLIDE_U:
            options = list(_GLIDE_U[vowel])
            skip_onset = skip_vowel_next = True
        else:
            if epenthetic:
                options = [("", 0), ("e", 0.7 if final else 1.5), ("u", 1.6)]
            elif vowel == "ㅡ" and coda == "ㄹ" and after and after[0] == "ㄹ":  # 클린 klin, 틀리 tley
                options = [("", 0), ("e", 0.9)]
            elif vowel == "ㅡ" and coda:  # 슨, 틀, 클: son, tle, cl
                options = [("", 0.2), ("o", 0.6), ("e", 0.7), ("u", 0.9), ("i", 1.1)]
            elif vowel == "ㅡ":
                options = [("", 0.2), ("e", 0.8), ("u", 1.0)]
            elif onset == "ㅅ" and vowel in _Y_VOWEL and not skip_onset:
                options = list(_VOWEL[_Y_VOWEL[vowel]])  # 섀 sha: the y went into sh
            elif vowel == "ㅣ" and final and not coda:  # -y, -ie, -i, -ey, -ee
                options = [("y", 0), ("ie", 0.1), ("ey", 0.4), ("i", 0.5), ("ee", 0.9), ("e", 1.2)]
            elif vowel == "ㅓ" and final and not coda:  # oliver, peter, carter
                options = [("er", 0), ("or", 0.5), ("a", 0.6), ("ar", 0.9), ("o", 1.0), ("ah", 1.4)]
            elif vowel == "ㅓ" and coda == "ㄹ" and after:  # 해럴드 harold, 도널드 donald
                options = [("o", 0.2), ("a", 0.3), ("e", 0.5), ("u", 0.6)]
            elif vowel == "ㅏ" and final and not coda:
                options = [("a", 0), ("ar", 0.6), ("ah", 1.0), ("er", 1.2)]
            elif vowel == "ㅗ" and final and not coda:
                options = [("o", 0), ("oe", 0.9), ("ow", 1.0)]
            elif vowel == "ㅜ" and after and after[0] in "ㅋㄱ" and not coda:  # 쿠키 cookie, 루키 rookie
                options = [("oo", 0), ("u", 0.3), ("ou", 1.0)]
            elif vowel == "ㅐ" and i == 0 and onset == "ㅁ" and coda == "ㄱ" and after and after[:2] != ("ㅅ", "ㅡ"):  # 맥 mac/mc
                options = [("a", 0), ("", 0.2)]
            else:
                options = list(_VOWEL[vowel])
        segments.append(options)
        skip_vowel = skip_vowel_next

        # --- coda
        if not coda:
            continue
        nxt_onset = after[0] if after else None
        if coda == "ㄹ" and nxt_onset == "ㄹ" and vowel == "ㅡ":  # 클린 -klin, 틀리 -tley
            options = [("l", 0), ("ll", 0.6)]
            skip_onset = True
        elif coda == "ㄹ" and nxt_onset == "ㄹ":  # 찰리 charlie, 벨라 bella, 릴리 lily, 올리버 oliver
            options = [("ll", 0), ("l", 0.1), ("rl", 0.2)]
            skip_onset = True
        elif coda == "ㄴ" and nxt_onset == "ㄴ":  # 안나 anna
            options = [("nn", 0), ("n", 0.3)]
            skip_onset = True
        elif coda == "ㅁ" and nxt_onset == "ㅁ":  # 엠마 emma
            options = [("mm", 0), ("m", 0.3)]
            skip_onset = True
        elif coda == "ㄱ" and after and after[:2] == ("ㅅ", "ㅡ") and not after[2]:  # 맥스 max, 펠릭스 felix
            options = [("x", 0), ("cks", 0.6), ("ks", 0.8), ("cs", 1.0)]
            skip_onset = skip_vowel = True
        elif coda == "ㄱ" and i == 0 and onset == "ㅁ" and vowel == "ㅐ" and after:  # 맥도널드 mcdonald, macdonald
            options = [("c", 0), ("ck", 0.4), ("k", 0.6)]
        elif coda == "ㄱ" and after and after[0] == "ㅅ":  # 잭슨 jackson
            options = [("ck", 0), ("x", 0.5), ("k", 0.5), ("c", 0.8)]
        elif coda == "ㅇ" and nxt_onset in ("ㄱ", "ㅋ"):  # 프랭클린 franklin, 잉글 ingl
            options = [("n", 0), ("ng", 0.3)]
        elif coda == "ㅇ" and after:
            options = [("ng", 0), ("n", 0.8)]
        else:
            options = list(_CODA.get(coda) or [(_CODA.get(coda[:1], [("", 0)])[0][0], 0.5)])
        segments.append(options)
    return segments


@lru_cache(maxsize=2048)
def _search(word: str, limit: int) -> tuple[str, ...]:
    syllables = _syllables(word)
    if not syllables or len(syllables) > MAX_SYLLABLES:
        return ()
    beam: dict[str, float] = {"": 0.0}
    for options in _segments(syllables):
        grown: dict[str, float] = {}
        for prefix, cost in beam.items():
            for spelling, extra in options:
                text, total = prefix + spelling, cost + extra
                if total < grown.get(text, float("inf")):
                    grown[text] = total
        beam = dict(sorted(grown.items(), key=lambda item: (item[1], item[0]))[:BEAM])
    ranked = sorted(((cost, text) for text, cost in beam.items() if text), key=lambda item: (item[0], len(item[1]), item[1]))
    return tuple(text for _, text in ranked[:limit])


def latin_spellings(word: str, limit: int = MAX_VARIANTS) -> list[str]:
    """Up to ``limit`` (at most MAX_VARIANTS) lower-case Latin spellings of the Hangul word ``word``,
    most likely first; [] when ``word`` is not a word of Hangul syllables (1 to MAX_SYLLABLES)."""
    return list(_search(word, max(1, min(limit, MAX_VARIANTS))))
