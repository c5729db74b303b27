-- The project's own rows: Korean owners in Korean cities (the seed's example asks about Coco),
-- a Korean vet, and visits. Ids continue after the upstream rows.
INSERT INTO vets VALUES (7, '지훈', '박');
INSERT INTO vet_specialties VALUES (7, 3);
INSERT INTO vet_specialties VALUES (7, 2);

INSERT INTO owners VALUES (11, '서연', '이', '강남구 테헤란로 152', '서울', '01023456789');
INSERT INTO owners VALUES (12, '민준', '김', '해운대구 우동 1408', '부산', '01034567890');
INSERT INTO owners VALUES (13, '지은', '최', '마포구 월드컵북로 21', '서울', '01045678901');
INSERT INTO owners VALUES (14, '도윤', '정', '유성구 대학로 99', '대전', '01056789012');

INSERT INTO pets VALUES (14, 'Coco', '2019-05-14', 2, 11);
INSERT INTO pets VALUES (15, '나비', '2018-03-02', 1, 11);
INSERT INTO pets VALUES (16, '보리', '2020-07-21', 2, 12);
INSERT INTO pets VALUES (17, '두부', '2021-11-05', 6, 13);
INSERT INTO pets VALUES (18, 'Max', '2017-01-30', 2, 14);

INSERT INTO visits VALUES (5, 14, '2024-02-10', '종합 백신 접종');
INSERT INTO visits VALUES (6, 14, '2025-06-03', '스케일링');
INSERT INTO visits VALUES (7, 16, '2025-09-17', '슬개골 검사');
INSERT INTO visits VALUES (8, 15, '2023-12-01', 'neutered');
