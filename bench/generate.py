"""Generated PetClinic data for the benchmark: N owners, ~1.3 pets each, a few visits per pet.

Realistic mixed names (English and Korean owners in US and Korean cities; pet names repeat, as
they do in a real clinic). Deterministic for a given seed. The upstream and Korean sample rows are
loaded first, so the benchmark's named questions (Coco, Leo, 김민준) have answers at every size.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from collections.abc import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local import dataapi

EN_FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
            "Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony Betty Mark Margaret Donald "
            "Sandra Steven Ashley Paul Kimberly Andrew Emily Joshua Donna Kenneth Michelle Kevin Carol Brian Amanda "
            "George Melissa Timothy Deborah Ronald Stephanie Jason Rebecca Edward Sharon Jeffrey Laura Ryan Cynthia").split()
EN_LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
           "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
           "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall "
           "Rivera Campbell Mitchell Carter Roberts Franklin Coleman Black Escobito Schroeder Estaban McTavish").split()
KO_LAST = "김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 홍".split()
KO_FIRST = ("민준 서준 도윤 예준 시우 하준 주원 지호 지후 준우 서연 서윤 지우 서현 민서 하은 하윤 윤서 지유 채원 "
            "지민 수아 지아 지윤 은서 다은 예은 수빈 소율 예린 현우 건우 우진 선우 민재 현준 연우 유준 정우 승우").split()
US_CITIES = ("Madison", "Sun Prairie", "McFarland", "Windsor", "Monona", "Waunakee", "Middleton", "Verona",
             "Fitchburg", "Stoughton", "Cottage Grove", "DeForest")
KO_CITIES = ("서울", "부산", "대구", "인천", "광주", "대전", "울산", "수원", "성남", "고양", "용인", "창원")
PET_NAMES = ("Max Bella Charlie Luna Lucy Cooper Daisy Milo Bailey Buddy Rocky Molly Bear Sadie Tucker Maggie Duke "
             "Coco Lola Oliver Chloe Jack Sophie Toby Ruby Leo Lucky Rosy Jewel Iggy Basil Freddy Sly Samantha "
             "Mulligan Oscar Simba Nala Pepper Ginger Shadow Smokey Oreo Peanut Biscuit Mocha Kiwi Mango").split() + \
            "초코 보리 코코 두부 나비 콩이 별이 해피 구름 호두 밤이 사랑 뭉치 까미 순이 복실 몽이 토리 루비 감자".split()
VISIT_REASONS = ("rabies shot", "annual checkup", "dental cleaning", "vaccination", "neutered", "spayed",
                 "skin allergy", "ear infection", "x-ray", "limping", "종합 백신 접종", "스케일링", "피부 질환", "건강 검진")
FIRST_IDS = {"owners": 100, "pets": 100, "visits": 100, "vets": 100}  # above the sample rows' ids


def rows(owners: int, seed: int = 7) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, batch of rows), in foreign-key order; vets scale at one per 1,000 owners."""
    rng = random.Random(seed)
    vets = [(FIRST_IDS["vets"] + i, rng.choice(EN_FIRST), rng.choice(EN_LAST)) for i in range(max(1, owners // 1000))]
    yield "vets", vets
    yield "vet_specialties", [(vet[0], rng.randint(1, 3)) for vet in vets if rng.random() < 0.7]
    start = date(2015, 1, 1)
    pet_id, visit_id = FIRST_IDS["pets"], FIRST_IDS["visits"]
    batch_owners: list[tuple[Any, ...]] = []
    batch_pets: list[tuple[Any, ...]] = []
    batch_visits: list[tuple[Any, ...]] = []
    for i in range(owners):
        owner_id = FIRST_IDS["owners"] + i
        if rng.random() < 0.4:
            first, last, city = rng.choice(KO_FIRST), rng.choice(KO_LAST), rng.choice(KO_CITIES)
            address = f"{rng.choice(('중앙로', '대학로', '해안로', '시청로'))} {rng.randint(1, 999)}"
            phone = f"010{rng.randint(10000000, 99999999)}"
        else:
            first, last, city = rng.choice(EN_FIRST), rng.choice(EN_LAST), rng.choice(US_CITIES)
            address = f"{rng.randint(1, 9999)} {rng.choice(('Oak', 'Maple', 'Cedar', 'Lake', 'Hill'))} St."
            phone = f"608555{rng.randint(1000, 9999)}"
        batch_owners.append((owner_id, first, last, address, city, phone))
        for _ in range(1 if rng.random() < 0.65 else rng.choice((0, 2, 2, 3, 3))):  # ~1.3 pets per owner
            birth = start + timedelta(days=rng.randint(0, 3000))
            batch_pets.append((pet_id, rng.choice(PET_NAMES), birth.isoformat(), rng.randint(1, 6), owner_id))
            for _ in range(rng.randint(0, 5)):  # ~2.5 visits per pet
                day = birth + timedelta(days=rng.randint(30, 3300))
                batch_visits.append((visit_id, pet_id, day.isoformat(), rng.choice(VISIT_REASONS)))
                visit_id += 1
            pet_id += 1
        if len(batch_owners) >= 20_000:
            yield "owners", batch_owners
            yield "pets", batch_pets
            yield "visits", batch_visits
            batch_owners, batch_pets, batch_visits = [], [], []
    yield "owners", batch_owners
    yield "pets", batch_pets
    yield "visits", batch_visits


def load(backend: dataapi.SqliteBackend | dataapi.MysqlBackend, owners: int, seed: int = 7, *,
         replace: bool = False) -> dict[str, int]:
    """Schema + sample rows + generated rows, all or nothing; returns the generated row counts per table.

    Like every loader here it refuses a database that already has PetClinic tables unless ``replace``."""
    counts: dict[str, int] = {}

    def counted() -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        for table, batch in rows(owners, seed):
            counts[table] = counts.get(table, 0) + len(batch)
            yield table, batch

    dataapi.load_database(backend, replace=replace, more_rows=counted())
    return counts


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    target = Path(sys.argv[2] if len(sys.argv) > 2 else f"/tmp/petclinic-{size}.sqlite")
    if target.exists():  # never delete a file someone named: it may be their database
        sys.exit(f"generate.py: {target} exists; remove it yourself or name a new file")
    started = time.perf_counter()
    print(load(dataapi.SqliteBackend(target), size), f"{time.perf_counter() - started:.1f} s")
