-- PetClinic schema, portable: runs as-is on SQLite 3.40; on MySQL/MariaDB the loader drops
-- "COLLATE NOCASE" and gives each table an accent- and case-insensitive collation (utf8mb4_0900_ai_ci,
-- Aurora MySQL 3's default). The local SQLite Data API redefines NOCASE to compare the same way.
-- Upstream columns and types; every column a lookup filters or joins on is indexed.
CREATE TABLE vets (
  id INTEGER NOT NULL PRIMARY KEY,
  first_name VARCHAR(30) COLLATE NOCASE,
  last_name VARCHAR(30) COLLATE NOCASE
);
CREATE INDEX vets_last_name ON vets (last_name);
CREATE INDEX vets_first_name ON vets (first_name);

CREATE TABLE specialties (
  id INTEGER NOT NULL PRIMARY KEY,
  name VARCHAR(80) COLLATE NOCASE
);
CREATE INDEX specialties_name ON specialties (name);

CREATE TABLE vet_specialties (
  vet_id INTEGER NOT NULL,
  specialty_id INTEGER NOT NULL,
  FOREIGN KEY (vet_id) REFERENCES vets (id),
  FOREIGN KEY (specialty_id) REFERENCES specialties (id),
  UNIQUE (vet_id, specialty_id)
);
CREATE INDEX vet_specialties_specialty ON vet_specialties (specialty_id);

CREATE TABLE types (
  id INTEGER NOT NULL PRIMARY KEY,
  name VARCHAR(80) COLLATE NOCASE
);
CREATE INDEX types_name ON types (name);

CREATE TABLE owners (
  id INTEGER NOT NULL PRIMARY KEY,
  first_name VARCHAR(30) COLLATE NOCASE,
  last_name VARCHAR(30) COLLATE NOCASE,
  address VARCHAR(255) COLLATE NOCASE,
  city VARCHAR(80) COLLATE NOCASE,
  telephone VARCHAR(20)
);
CREATE INDEX owners_last_name ON owners (last_name);
CREATE INDEX owners_first_name ON owners (first_name);
CREATE INDEX owners_city ON owners (city);
-- issue 20: "whose number is 010-...", "who lives at 12 Elm Street" (the suffix and a Korean address still scan)
CREATE INDEX owners_telephone ON owners (telephone);
CREATE INDEX owners_address ON owners (address);

CREATE TABLE pets (
  id INTEGER NOT NULL PRIMARY KEY,
  name VARCHAR(30) COLLATE NOCASE,
  birth_date DATE,
  type_id INTEGER NOT NULL,
  owner_id INTEGER NOT NULL,
  FOREIGN KEY (owner_id) REFERENCES owners (id),
  FOREIGN KEY (type_id) REFERENCES types (id)
);
CREATE INDEX pets_name ON pets (name);
CREATE INDEX pets_owner ON pets (owner_id);
CREATE INDEX pets_type ON pets (type_id);

CREATE TABLE visits (
  id INTEGER NOT NULL PRIMARY KEY,
  pet_id INTEGER NOT NULL,
  visit_date DATE,
  description VARCHAR(255) COLLATE NOCASE,
  FOREIGN KEY (pet_id) REFERENCES pets (id)
);
CREATE INDEX visits_pet ON visits (pet_id);
CREATE INDEX visits_date ON visits (visit_date);
