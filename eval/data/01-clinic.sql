-- The names eval's own clinic (eval/names.jsonl runs against it, never against local/data): owners
-- with accented names in accented cities, Latin-named pets, Korean households, telephone numbers in
-- several countries' lengths (digits only), street addresses, visits with descriptions.
INSERT INTO vets VALUES (1, 'Marta', 'Kowalski');
INSERT INTO vets VALUES (2, 'Renée', 'Dubois');
INSERT INTO vets VALUES (3, '하은', '김');
INSERT INTO vets VALUES (4, 'Samuel', 'Okafor');
INSERT INTO vets VALUES (5, 'Björn', 'Lindqvist');

INSERT INTO specialties VALUES (1, 'radiology');
INSERT INTO specialties VALUES (2, 'surgery');
INSERT INTO specialties VALUES (3, 'dentistry');
INSERT INTO specialties VALUES (4, 'dermatology');

INSERT INTO vet_specialties VALUES (1, 3);
INSERT INTO vet_specialties VALUES (2, 2);
INSERT INTO vet_specialties VALUES (3, 1);
INSERT INTO vet_specialties VALUES (3, 2);
INSERT INTO vet_specialties VALUES (4, 4);
INSERT INTO vet_specialties VALUES (5, 1);

INSERT INTO types VALUES (1, 'cat');
INSERT INTO types VALUES (2, 'dog');
INSERT INTO types VALUES (3, 'bird');
INSERT INTO types VALUES (4, 'rabbit');
INSERT INTO types VALUES (5, 'hamster');

INSERT INTO owners VALUES (1, 'Zoë', 'Müller', 'Rynek Główny 7', 'Kraków', '48123456789');
INSERT INTO owners VALUES (2, 'François', 'Lefèvre', '12 Elm Street', 'Montréal', '5145550147');
INSERT INTO owners VALUES (3, 'José', 'Núñez', '638 Cardinal Ave.', 'Sevilla', '34912345678');
INSERT INTO owners VALUES (4, 'Søren', 'Nielsen', 'Nørregade 10', 'København', '4533123456');
INSERT INTO owners VALUES (5, 'Łukasz', 'Nowak', 'ul. Piotrkowska 3', 'Łódź', '48421234567');
INSERT INTO owners VALUES (6, 'Emily', 'McDonald', '110 W. Liberty St.', 'Madison', '6085551023');
INSERT INTO owners VALUES (7, 'Robert', 'Franklin', '2693 Commerce St.', 'Madison', '6085558763');
INSERT INTO owners VALUES (8, '지호', '한', '강남구 테헤란로 123', '서울', '01012345678');
INSERT INTO owners VALUES (9, '수아', '윤', '해운대구 우동 1408', '부산', '01098765432');
INSERT INTO owners VALUES (10, 'Chloé', 'Bernard', '4 Rue de la Paix', 'Paris', '33142345678');
INSERT INTO owners VALUES (11, 'Anna', 'Davis', '563 Friendly St.', 'Windsor', '6085553198');
INSERT INTO owners VALUES (12, '민서', '오', '마포구 월드컵북로 21', '서울', '01055556666');

INSERT INTO pets VALUES (1, 'Charlie', '2019-04-02', 2, 1);
INSERT INTO pets VALUES (2, 'Bella', '2020-06-11', 1, 2);
INSERT INTO pets VALUES (3, 'Lucy', '2018-09-23', 2, 3);
INSERT INTO pets VALUES (4, 'Cookie', '2023-02-14', 5, 8);
INSERT INTO pets VALUES (5, 'Max', '2016-12-01', 2, 11);
INSERT INTO pets VALUES (6, 'Molly', '2021-03-30', 1, 6);
INSERT INTO pets VALUES (7, 'Luna', '2022-08-08', 1, 9);
INSERT INTO pets VALUES (8, 'Daisy', '2020-05-05', 4, 4);
INSERT INTO pets VALUES (9, 'Oliver', '2017-07-17', 2, 5);
INSERT INTO pets VALUES (10, 'Milo', '2024-01-20', 1, 12);
INSERT INTO pets VALUES (11, 'Toby', '2015-10-10', 2, 7);
INSERT INTO pets VALUES (12, 'Leo', '2019-11-11', 1, 10);
INSERT INTO pets VALUES (13, 'Buddy', '2020-02-29', 2, 8);
INSERT INTO pets VALUES (14, 'Jack', '2022-04-04', 3, 6);
INSERT INTO pets VALUES (15, 'Rocky', '2018-03-03', 2, 9);
INSERT INTO pets VALUES (16, 'Björk', '2021-09-09', 3, 4);

INSERT INTO visits VALUES (1, 1, '2025-03-14', 'rabies shot');
INSERT INTO visits VALUES (2, 13, '2025-05-02', '광견병 접종');
INSERT INTO visits VALUES (3, 2, '2024-11-20', 'dental cleaning');
INSERT INTO visits VALUES (4, 9, '2025-01-08', 'X-ray of the left hip');
INSERT INTO visits VALUES (5, 7, '2025-06-19', '스케일링');
INSERT INTO visits VALUES (6, 11, '2024-08-30', 'neutered');
INSERT INTO visits VALUES (7, 15, '2025-02-11', '슬개골 수술');
