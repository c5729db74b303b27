-- Rows for tests/e2e/test_collation.py only: names with accents, strokes and ligatures, the same
-- name with and without them, and Hangul. Not the sample data (local/data), not the eval clinic.
INSERT INTO vets VALUES (1, 'Zoë', 'Ångström');
INSERT INTO vets VALUES (2, 'Renée', 'Dvořák');
INSERT INTO specialties VALUES (1, 'radiología');
INSERT INTO specialties VALUES (2, 'surgery');
INSERT INTO vet_specialties VALUES (1, 1);
INSERT INTO vet_specialties VALUES (2, 2);
INSERT INTO types VALUES (1, 'cat');
INSERT INTO types VALUES (2, 'dog');
INSERT INTO types VALUES (3, 'Königspython');

INSERT INTO owners VALUES (1, 'Zoë', 'Müller', 'Rynek Główny 7', 'Kraków', '48123456789');
INSERT INTO owners VALUES (2, 'Zoe', 'Muller', '12 Elm Street', 'Krakow', '6085550101');
INSERT INTO owners VALUES (3, 'Søren', 'Kierkegaard', 'Nørregade 10', 'København', '4533123456');
INSERT INTO owners VALUES (4, 'Łukasz', 'Straße', 'ul. Piotrkowska 3', 'Łódź', '48421234567');
INSERT INTO owners VALUES (5, 'François', 'Núñez', '1 Rue de l''Église', 'Montréal', '5145550199');
INSERT INTO owners VALUES (6, '서연', '이', '강남구 테헤란로 152', '서울', '01023456789');
INSERT INTO owners VALUES (7, 'José', 'Mueller', '9 Æbeltoft Way', 'Aarhus', '4587654321');
INSERT INTO owners VALUES (8, 'ZOE', 'MULLER', '3 Elm St.', 'KRAKÓW', '6085550102');

INSERT INTO pets VALUES (1, 'Björk', '2020-01-02', 1, 1);
INSERT INTO pets VALUES (2, 'Ångström', '2019-03-04', 2, 3);
INSERT INTO pets VALUES (3, 'Chloé', '2021-05-06', 1, 5);
INSERT INTO pets VALUES (4, 'Cookie', '2018-07-08', 2, 2);
INSERT INTO pets VALUES (5, 'Chloe', '2022-09-10', 3, 7);
INSERT INTO pets VALUES (6, '쿠키', '2023-11-12', 2, 6);

INSERT INTO visits VALUES (1, 1, '2024-01-15', 'Röntgen (X-ray) of the paw');
INSERT INTO visits VALUES (2, 6, '2024-02-10', '광견병 접종');
INSERT INTO visits VALUES (3, 3, '2024-03-01', 'rabies shot');
