"""Question understanding, with no AWS and no SQL: Hangul detection, tokens (letters of any
script: "Zoë", "Kraków" stay whole), Korean endings, particles and household suffixes (네, 씨네),
the Hangul/Latin transliteration tables (Revised Romanization, and loanword spelling for Latin
names written in Hangul), specialty and pet-type word forms, the period, telephone numbers,
addresses and visit descriptions a question names, and the name candidates (``extract_names``)
that the prefetch looks up.

Pure: imports only the ground floor's pure text modules (loanwords, textnorm), so it is testable on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from . import loanwords, textnorm

HANGUL_FIRST, HANGUL_LAST = "\uac00", "\ud7a3"  # the Hangul syllables block (가 .. 힣)


def has_hangul(text: str) -> bool:
    """Hangul syllables present? (A loop, not a regex: a Hangul class costs ms to compile at import.)"""
    return any(HANGUL_FIRST <= ch <= HANGUL_LAST for ch in text)


MAX_CANDIDATES = 24
MAX_LOANWORD_TERMS = 2  # Hangul stems spelt back into Latin letters (loanwords.MAX_VARIANTS each)

# Korean question understanding: small tables, no NLP dependency. A token is cut down by the
# endings below (longest first, a few times) until a known word or a bare stem is left; every
# form is looked up, but only a stem that looks like a name may ever be reported as not found.
_ENDINGS = tuple(sorted(set("""
은 는 이 가 을 를 의 에게 에게서 한테 한테서 께 께서 라는 이라는 란 이란 라고 이라고 에서 에서는 에는 에 와 과 랑 이랑
하고 도 만 로 으로 까지 부터 보다 처럼 이나 나 이나요 이요 요 이의 이가 이는 이를 이랑 이도 이만 이에게 이한테
이야 야 이에요 예요 이예요 입니다 이다 인가요 인가 인지 이니 이지 이죠 죠 인데 이고
씨 님 선생님 수의사 수의사님 원장님 보호자 보호자님 고객님 들 별 마다
네 씨네 님네 께서는 한테서는 이랑은 랑은 하고는 에게서는 한테는 에게는 께는
""".split()), key=len, reverse=True))
# Whole tokens that are never names: question words, predicates, common nouns, counters.
_STOPWORDS = frozenset("""
a an the and or of in on at to for from by with about is are was were be been do does did has have had
who whom whose what which where when why how many much any all list show tell me please give find there
their its it this that these those my our your his her owner owners own owns owned pet pets animal animals
vet vets veterinarian veterinarians visit visits visited name named called live lives living city cities
type types kind kinds specialty specialties number count total clinic petclinic database data i we you they
hi hello hey thanks thank can could would should will not no yes dr mr mrs ms miss doctor each every per
most least more less than some other same also just only last first next recent recently ago year years
month months day days date today yesterday week born birth old age still currently phone telephone address
contact details info information people person does doing came come comes brought go went good morning
afternoon evening registered record records history have get got know want need see check weather
st street ave avenue blvd boulevard rd road la lane trail way drive
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday korean english he she him hers them us
add update delete remove change create book schedule cancel register search look lookup display print
summarize summarise explain describe compare sort ok okay sorry excuse yes great nice cool
누구 누구야 누구예요 누구인가요 누구죠 누가 무엇 뭐 뭐야 뭐예요 어디 어디야 언제 언제야 몇 몇명 몇마리 몇살 몇건 몇번
마리 명 건 번 살 개월 사람 분 반려동물 애완동물 동물 펫 주인 보호자 수의사 의사 선생님 원장님 방문 진료 기록 내역 전체 모든
모두 다 목록 명단 리스트 어떤 도시 지역 동네 이름 종류 품종 타입 유형 전문 분야 전문분야 정보 상세 그리고 좀 중 중에
중에서 총 개수 숫자 수 안녕 안녕하세요 반가워요 반갑습니다 감사합니다 고마워 고마워요 무슨 어느 얼마나 많이 데이터 병원
전화번호 전화 번호 연락처 주소 마지막 마지막으로 최근 최근에 처음 가장 제일 생일 나이 출생 언제쯤 혹시 그럼 그 저 또
오늘 어제 올해 작년 지난 이번 년 월 일 각 각각 담당 예약 접종 검사 날짜 일자 현재 지금 등록 등록된 맞아 맞나요
살아 살아요 살고 사는 산다 살았어 왔어 왔어요 왔나요 온 오는 왔던 방문한 방문했어 방문했나요 방문했던 키워 키우는 키우고
키워요 키운다 있어 있어요 있나요 있니 있는 있는지 있었어 없어 없는 없나요 알려줘 알려주세요 알려 보여줘 보여주세요
찾아줘 찾아주세요 찾아 했어 했나요 받은 받았어 받았나요 해줘 해주세요 가진 가지고 데려온 태어난 태어났어 있을까
내일 어때 어때요 어떻게 왜 날씨 무엇인가요 뭔가요 뭐지 누군가요 알고 싶어 궁금해 궁금합니다
고객 손님 환자 반려견 반려묘 예방접종 예방 백신 중성화 스케일링 체중 몸무게 증상 치료 처방 약 입원 퇴원 검진 건강검진 미용
사료 간식 성별 수컷 암컷 진단 결과 비용 가격 요금 영수증 결제 보험 위치 영업시간 시간 요일 오전 오후 아침 저녁 주말 평일
다음 이전 예전 전부 전원 모두들 내용 기분 수고 수고하세요 이번주 다음주 지난주 이번달 다음달 지난달 내년 근무 상태 결과
명단 리스트 목록 뽑아 뽑아줘 정리 정리해줘 요약 요약해줘 번호 성함 성명 사진 메모 특이사항 주의사항
새끼 아기 전문의 전문가 사이 끝자리 뒷자리 뒷번호 끝번호 자리 끝나는 끝나 주인은 집 온 받은 동물은
phone number numbers ends ending end digits shot shots
""".split())
# Korean words for the upstream pet types and specialties, added as extra lookup candidates.
_KO_SYNONYMS = {
    "고양이": "cat", "강아지": "dog", "개": "dog", "멍멍이": "dog", "도마뱀": "lizard", "뱀": "snake", "새": "bird",
    "앵무새": "bird", "햄스터": "hamster", "방사선": "radiology", "방사선과": "radiology", "영상의학": "radiology",
    "영상의학과": "radiology", "수술": "surgery", "외과": "surgery", "치과": "dentistry", "치아": "dentistry",
    "피부과": "dermatology", "피부": "dermatology", "엑스레이": "radiology", "토끼": "rabbit", "새끼고양이": "cat",
    "아기고양이": "cat", "냥이": "cat", "치과의사": "dentistry", "외과의사": "surgery",
}
# Young and pet forms of the pet types (the plural -> singular rule covers "cats", "puppies" -> "puppy").
_EN_TYPE_FORMS = {"kitten": "cat", "kitty": "cat", "kittie": "cat", "puppy": "dog", "pup": "dog", "doggy": "dog",
                  "doggie": "dog", "bunny": "rabbit", "birdie": "bird", "hammy": "hamster"}
# Specialty word forms: a word with a specialist's or an adjective's ending ("dentist", "surgeon",
# "surgical", "radiologist", "dental") gives its first four letters, matched as a prefix against the
# clinic's own specialties table (dentistry, surgery, radiology ...), not against a fixed list.
_SPECIALTY_SUFFIXES = ("ologists", "ologist", "ists", "ist", "ians", "ian", "eons", "eon", "ical", "al", "ic", "ology",
                       "ery", "istry")
_SPECIALTY_WORDS = {"x-ray": "radi", "xray": "radi", "x-rays": "radi", "teeth": "dent", "tooth": "dent",
                    "operation": "surg", "operations": "surg", "skin": "derm", "scan": "radi", "imaging": "radi"}
MAX_SPECIALTY_STEMS = 3
# Words of visit descriptions ("rabies shot", "광견병 접종"): the first specific one is searched in the
# visits' descriptions; a generic one (shot, 접종) only when no specific word is there.
_VISIT_SPECIFIC = frozenset("""
rabies x-ray xray dental cleaning neutered neuter neutering spayed spay spaying surgery checkup check-up microchip
deworming castration fracture vaccination vaccinated distemper parvo heartworm scaling teeth hip knee ultrasound
광견병 엑스레이 스케일링 중성화 수술 슬개골 검진 건강검진 치석 심장사상충 종합백신 구충 마이크로칩 초음파 골절
""".split())
_VISIT_GENERIC = frozenset("shot shots vaccine vaccines 접종 예방접종 백신 검사 진료 치료".split())

# Endings that make a token a predicate ("알려줘", "왔어요"), never a name.
# Unsure tokens ending so are still looked up, only never reported as not found.
_PREDICATE_ENDINGS = ("줘", "주세요", "세요", "습니까", "나요", "었어", "았어", "였어", "했어", "어요", "아요", "는지", "까요",
                      "니", "냐", "래", "까", "죠", "지", "요", "다", "하는", "해", "한다", "하니", "던", "어", "아", "야")
# Aggregates asked for in so many words ("도시별" = per city); the prefetch counts them.
_AGGREGATE_WORDS = {
    "owners_per_city": ("도시별", "지역별", "도시마다", "어느 도시", "per city", "each city", "by city", "every city",
                        "which city"),
    "pets_per_type": ("종류별", "동물별", "유형별", "종류마다", "per type", "each type", "by type", "each kind",
                      "every type", "of each kind"),
    "vets_per_specialty": ("분야별", "전문분야별", "전문 분야별", "per specialty", "each specialty", "by specialty"),
}
# A Hangul term is reported as not found only with a sign that it is a name: an honorific or
# "named" marker after it, a relation word after it ("뭉치의 보호자"), or the shape of a full name.
_NAME_MARKERS = ("씨", "님", "선생님", "수의사", "원장님", "보호자님", "고객님", "라는", "이라는", "이란", "라고", "이라고")
_RELATION_WORDS = frozenset("보호자 주인 전화번호 연락처 주소 반려동물 생일 나이 품종 진료 방문 전문 분야 담당".split())
_FAMILY_SYLLABLES = frozenset("김이박최정강조윤장임한오서신권황안송전홍유고문양손배백허남심노하곽성차주우구민류나진지엄채원"
                               "천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용")
_COUNT_WORDS = ("몇", "how many", "count", "number of", "총", "전체", "total", "합계", "모두")
_VET_WORDS = ("수의사", "의사", "선생님", "vet", "doctor")


# Names typed in the other script ("코코" for Coco, "Bori" for 보리, "Seoul" for 서울): a simple
# Revised-Romanization table, both ways, gives a few extra IN-list values (measured by make eval).
_INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h")
_MEDIALS = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi", "yu",
            "eu", "ui", "i")
_FINALS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t", "ng",
           "t", "t", "k", "t", "p", "t")
_LATIN_VARIANTS = {"k": ("k", "c"), "r": ("r", "l"), "eo": ("eo", "u"), "g": ("g", "k")}  # loanword spellings
_FAMILY_NAMES = {"lee": "이", "yi": "이", "rhee": "이", "kim": "김", "park": "박", "pak": "박", "choi": "최", "choe": "최",
                 "jung": "정", "jeong": "정", "chung": "정", "kang": "강", "cho": "조", "jo": "조", "yoon": "윤", "yun": "윤",
                 "jang": "장", "lim": "임", "han": "한", "oh": "오", "shin": "신", "kwon": "권", "hwang": "황", "ahn": "안"}
MAX_TRANSLITERATIONS = 4  # per name


def hangul_to_latin(word: str) -> list[str]:
    """Latin spellings of a Hangul word ("코코" -> koko, coko, koco, coco), at most MAX_TRANSLITERATIONS."""
    spellings = [""]
    for ch in word:
        code = ord(ch) - 0xAC00
        if not 0 <= code < 11172:
            return []
        initial, medial, final = _INITIALS[code // 588], _MEDIALS[code % 588 // 28], _FINALS[code % 28]
        parts = [i + m + final for i in _LATIN_VARIANTS.get(initial, (initial,)) for m in _LATIN_VARIANTS.get(medial, (medial,))]
        spellings = [s + p for s in spellings for p in parts][: MAX_TRANSLITERATIONS * 4]
    return sorted(spellings, key=lambda s: (s.count("c") + s.count("l") + s.count("u"), s))[:MAX_TRANSLITERATIONS][::-1]


# Longest first, so "ng" is tried before "n"; built once, not per word.
_LATIN_INITIALS = {**{v: i for i, v in enumerate(_INITIALS) if v}, "l": 5, "c": 15}
_LATIN_MEDIALS = {v: i for i, v in enumerate(_MEDIALS)}
_LATIN_FINALS = {"k": 1, "n": 4, "t": 7, "l": 8, "m": 16, "p": 17, "ng": 21}
_INITIAL_ORDER = sorted((*_LATIN_INITIALS, ""), key=len, reverse=True)
_MEDIAL_ORDER = sorted(_LATIN_MEDIALS, key=len, reverse=True)
_FINAL_ORDER = sorted((*_LATIN_FINALS, ""), key=len, reverse=True)
MAX_ROMANIZED_LETTERS = 12


@lru_cache(maxsize=2048)
def latin_to_hangul(word: str) -> str | None:
    """The Hangul a romanized Korean word reads as ("bori" -> 보리, "seoul" -> 서울), or None.

    Bounded: each position of the word is parsed once (memoised), so the work is linear in the
    word's length times the fixed syllable tables, and a repeated word costs nothing again."""
    lowered = word.lower()
    if lowered in _FAMILY_NAMES:
        return _FAMILY_NAMES[lowered]
    if not (lowered.isascii() and lowered.isalpha() and len(lowered) <= MAX_ROMANIZED_LETTERS):
        return None
    memo: dict[int, str | None] = {len(lowered): ""}

    def parse(pos: int) -> str | None:
        if pos in memo:
            return memo[pos]
        memo[pos] = None  # no syllable path from here, until one is found
        for ini in _INITIAL_ORDER:
            if not lowered.startswith(ini, pos):
                continue
            for med in _MEDIAL_ORDER:
                after = pos + len(ini)
                if not lowered.startswith(med, after):
                    continue
                after += len(med)
                for fin in _FINAL_ORDER:
                    if not lowered.startswith(fin, after):
                        continue
                    nxt = after + len(fin)
                    if fin and nxt < len(lowered) and lowered[nxt] in "aeiouwy":
                        continue  # a consonant before a vowel starts the next syllable
                    rest = parse(nxt)
                    if rest is not None:
                        code = _LATIN_INITIALS.get(ini, 11) * 588 + _LATIN_MEDIALS[med] * 28 + (
                            _LATIN_FINALS[fin] if fin else 0)
                        memo[pos] = chr(0xAC00 + code) + rest
                        return memo[pos]
        return None

    return parse(0)


class Names(NamedTuple):
    """Lookup candidates taken from a question."""

    values: tuple[str, ...]
    full_names: tuple[tuple[str, str], ...]  # (family, given) splits of Korean full names; both orders are tried
    name_like: tuple[tuple[str, tuple[str, ...]], ...]  # (term, its forms): may be reported as not found
    aggregates: tuple[str, ...] = ()  # per-city / per-type / per-specialty counts asked for
    period: tuple[date, date] | None = None  # a date, month or year the question names
    totals: bool = False  # a "how many" question: overall counts are added
    vets: bool = False  # the question is about vets: the vets are listed
    specialty_stems: tuple[str, ...] = ()  # "dent" for dentist/dental: specialties whose name starts so
    phones: tuple[str, ...] = ()  # telephone numbers, digits only as stored ("01012345678")
    phone_suffix: str | None = None  # "ends in 5678": the digits a number ends in
    address: str | None = None  # a LIKE pattern for the address column ("12 %Elm%", "%테헤란로%123%")
    visit_terms: tuple[str, ...] = ()  # a word of a visit's description ("rabies", "광견병"), when no name is asked


def _forms(token: str) -> list[str]:
    """The token and what is left after cutting Korean endings, until a known word is reached."""
    forms = [token]
    word = token
    for _ in range(4):
        if word in _KO_SYNONYMS or word in _STOPWORDS:
            break
        cuts = [word[: -len(e)] for e in _ENDINGS if word.endswith(e) and len(word) > len(e)]
        if not cuts:
            break
        # A known word wins over the longest cut: "고양이는" is 고양이 + 는, not 고양 + 이는.
        word = next((cut for cut in cuts if cut in _KO_SYNONYMS or cut in _STOPWORDS), cuts[0])
        forms.append(word)
    return forms


def _tokens(text: str) -> Iterator[str]:
    """Runs of Latin letters (with inner ' and -) and runs of Hangul syllables."""
    run: list[str] = []
    kind: str | None = None
    for ch in text:
        if HANGUL_FIRST <= ch <= HANGUL_LAST:
            now: str | None = "ko"
        elif ch.isalpha() or (kind == "en" and ch in "'-\u2019"):  # letters of any script: "Zoë", "Łódź"
            now = "en"
        else:
            now = None
        if now != kind and run:
            yield "".join(run)
            run = []
        kind = now
        if now:
            run.append(ch)
    if run:
        yield "".join(run)


def extract_period(question: str) -> tuple[date, date] | None:
    """A date (2025-06-03, 2025년 6월 3일), a month (2025년 6월, 2025-06) or a year (2024년, in 2024)."""
    found = re.search(r"((?:19|20)\d\d)\s*(?:년|[-./])\s*(\d{1,2})?\s*(?:월|[-./])?\s*(\d{1,2})?", question)
    if found is None:
        found = re.search(r"(?<!\d)((?:19|20)\d\d)(?!\d)()()", question)
    if found is None:
        return None
    year, month, day = int(found[1]), int(found[2] or 0), int(found[3] or 0)
    try:
        if month and day:
            return date(year, month, day), date(year, month, day)
        if month:
            end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            return date(year, month, 1), date.fromordinal(end.toordinal() - 1)
        return date(year, 1, 1), date(year, 12, 31)
    except ValueError:
        return None


def _specialty_stem(lowered: str) -> str | None:
    """"dentist", "surgeon", "surgical", "radiologist", "dental" -> the first four letters; "x-ray" -> "radi"."""
    if lowered in _SPECIALTY_WORDS:
        return _SPECIALTY_WORDS[lowered]
    if len(lowered) >= 6 and lowered.isalpha() and lowered.endswith(_SPECIALTY_SUFFIXES) and lowered not in _STOPWORDS:
        return lowered[:4]
    return None


def _singular(lowered: str) -> str | None:
    """"cats" -> "cat", "puppies" -> "puppy"; None when the word is no plural."""
    if len(lowered) > 4 and lowered.endswith("ies"):
        return lowered[:-3] + "y"
    if len(lowered) > 3 and lowered.endswith("s") and not lowered.endswith("ss"):
        return lowered[:-1]
    return None


def _visit_terms(tokens: list[str]) -> tuple[str, ...]:
    """The words of a visit's description the question names, the most specific first (at most two)."""
    specific: list[str] = []
    generic: list[str] = []
    for token in tokens:
        for form in _forms(token) if has_hangul(token) else [token.lower()]:
            if form in _VISIT_SPECIFIC and form not in specific:
                specific.append(form)
                break
            if form in _VISIT_GENERIC and form not in generic:
                generic.append(form)
                break
    return tuple((specific + generic)[:2])


def extract_names(question: str) -> Names:
    """Names a question may mention (Latin and Hangul) and what it asks for, from the tables above.

    Linear in the question's length: each token is cut a bounded number of times, and every list
    (values, full names, name-like terms, loanword spellings, specialty stems) has a fixed cap."""
    values: list[str] = []
    full_names: list[tuple[str, str]] = []
    name_like: list[tuple[str, tuple[str, ...]]] = []
    latin_run: list[str] = []
    other_script: list[str] = []  # transliterations: looked up after every name as typed
    stems: list[str] = []
    loanword_terms = 0
    lowered_question = question.lower()

    def add(value: str) -> None:
        if value and value.lower() not in _STOPWORDS and value not in values:
            values.append(value)

    tokens = list(_tokens(question))
    visit_terms = _visit_terms(tokens[:200])
    for position, token in enumerate(tokens):
        following = tokens[position + 1] if position + 1 < len(tokens) else ""
        if has_hangul(token):
            latin_run = []
            forms = _forms(token)
            stem = forms[-1]
            # "김 하은 선생님": a family name typed apart from the given name
            given = next((form for form in _forms(following) if 1 <= len(form) <= 2), "") if has_hangul(following) else ""
            if (len(token) == 1 and token in _FAMILY_SYLLABLES and given and given not in _STOPWORDS
                    and given not in _KO_SYNONYMS and len(full_names) < 4):
                full_names.append((token, given))
                add(token + given)
                continue
            if token in _ENDINGS or stem in _STOPWORDS or token in _STOPWORDS or stem in _ENDINGS:
                continue
            if stem in _KO_SYNONYMS:
                add(_KO_SYNONYMS[stem])
                continue
            if stem in _VISIT_SPECIFIC or stem in _VISIT_GENERIC:
                continue  # "광견병": searched in the visits' descriptions, not as a name
            for form in forms:
                add(form)
            for form in forms:
                if 3 <= len(form) <= 4 and (form[0], form[1:]) not in full_names:
                    full_names.append((form[0], form[1:]))
            if len(stem) < 2:  # "루나" is not 루 + 나, "데이지는" not 데 + 이지는: keep a stem of two syllables
                stem = next((form for form in reversed(forms) if len(form) >= 2), stem)
            suffix = token[len(stem):]
            named = (any(marker in suffix for marker in _NAME_MARKERS) or following.startswith(_NAME_MARKERS)
                     or (suffix in ("", "의") and _forms(following)[-1] in _RELATION_WORDS)
                     or (len(stem) == 3 and stem[0] in _FAMILY_SYLLABLES))
            predicate = token.endswith(_PREDICATE_ENDINGS)
            latin: list[str] = []
            if 2 <= len(stem) <= 5 and not predicate and loanword_terms < MAX_LOANWORD_TERMS:
                loanword_terms += 1  # Latin names written in Hangul: 찰리 -> charlie, 맥도널드 -> mcdonald
                latin = (hangul_to_latin(stem) if named else []) + loanwords.latin_spellings(stem)
                other_script += latin
            if named and 2 <= len(stem) <= 5 and not predicate and all(term != token for term, _ in name_like):
                name_like.append((token, (*forms, *latin)))
            continue
        token = token.strip("'-\u2019")
        if token.lower().endswith(("'s", "\u2019s")):
            token = token[:-2]
        lowered = token.lower()
        if not token or lowered in _STOPWORDS or lowered in _VISIT_SPECIFIC or lowered in _VISIT_GENERIC:
            latin_run = []  # a visit word ("X-ray", "rabies") is searched in descriptions, not as a name
            word_stem = _specialty_stem(lowered) if lowered not in _VISIT_GENERIC else None
            if word_stem and len(stems) < MAX_SPECIALTY_STEMS and word_stem not in stems:
                stems.append(word_stem)
            continue
        singular = _singular(lowered)
        stem_word = _specialty_stem(lowered)
        if stem_word and len(stems) < MAX_SPECIALTY_STEMS and stem_word not in stems:
            stems.append(stem_word)
        kind = _EN_TYPE_FORMS.get(lowered) or _EN_TYPE_FORMS.get(singular or "")
        if kind:  # "kittens" -> cat, "puppies" -> dog
            add(kind)
            latin_run = []
            continue
        add(token)
        forms = [token]
        if singular:
            add(singular)  # "cats" -> "cat"; a wrong singular costs nothing in an IN list
            forms.append(singular)
        capital = token[0].isupper()
        hangul = latin_to_hangul(token) if capital and len(name_like) < 3 else None
        if latin_run:
            add(f"{latin_run[-1]} {token}")  # two-word cities such as "Sun Prairie"
            previous = latin_to_hangul(latin_run[-1]) if hangul else None
            if hangul and previous:  # "Seoyeon Lee" -> 이 + 서연 (both orders are tried)
                full_names.append((hangul, previous))
        latin_run.append(token)
        if hangul:
            other_script.append(hangul)
            forms.append(hangul)
        if following.lower() in ("st", "street", "ave", "avenue", "blvd", "rd", "road", "lane", "trail", "way"):
            continue  # a street ("Cardinal Ave"): addresses are not names
        if capital and len(token) > 1 and all(term != token for term, _ in name_like):
            name_like.append((token, tuple(forms)))
    values = values[:MAX_CANDIDATES]
    for value in other_script:
        if len(values) < MAX_CANDIDATES:
            add(value)
    aggregates = tuple(kind for kind, words in _AGGREGATE_WORDS.items() if any(w in lowered_question for w in words))
    address = textnorm.find_address(question)
    return Names(
        values=tuple(values[:MAX_CANDIDATES]),
        full_names=tuple(full_names[:4]),
        name_like=tuple(name_like[:6]),
        aggregates=aggregates,
        period=extract_period(question),
        totals=any(word in lowered_question for word in _COUNT_WORDS),
        vets=any(word in lowered_question for word in _VET_WORDS) or bool(stems),
        specialty_stems=tuple(stems[:MAX_SPECIALTY_STEMS]),
        phones=tuple(textnorm.find_phone_numbers(question)),
        phone_suffix=textnorm.phone_suffix(question),
        address=address.like() if address else None,
        visit_terms=visit_terms if not name_like else (),
    )
