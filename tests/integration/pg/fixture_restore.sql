-- Schemas a backup used to write and a restore then failed on: a domain
-- CHECK ... NOT VALID; domain defaults calling a sequence and a function by
-- names only the search path resolved; an inheritance child with a generated
-- column attached by ALTER TABLE ... INHERIT; a view relying on GROUP BY of
-- a primary key; an inherited NOT VALID CHECK over rows that break it; and
-- a dependency cycle the backup used to refuse (a column default calling a
-- function that takes the table's row type).
SET client_min_messages = warning;
CREATE SCHEMA cases;
SET search_path = cases;

CREATE DOMAIN positive AS integer;
CREATE TABLE measures (v positive);
INSERT INTO measures VALUES (-1), (5);
ALTER DOMAIN positive ADD CONSTRAINT above_zero CHECK (VALUE > 0) NOT VALID;

CREATE SEQUENCE ticket_numbers;
CREATE FUNCTION default_label() RETURNS text LANGUAGE sql STABLE AS $$SELECT 'label-' || current_date::text$$;
CREATE DOMAIN ticket_no AS bigint DEFAULT nextval('ticket_numbers');
CREATE DOMAIN label AS text DEFAULT default_label();
CREATE TABLE tickets (no ticket_no, tag label);
INSERT INTO tickets VALUES (DEFAULT, 'x');

CREATE TABLE shapes (side integer, area integer GENERATED ALWAYS AS (side * side) STORED);
CREATE TABLE squares (side integer, area integer GENERATED ALWAYS AS (side * side) STORED);
ALTER TABLE squares INHERIT shapes;
INSERT INTO squares (side) VALUES (3);

CREATE TABLE customers (id integer, name text);
ALTER TABLE customers ADD CONSTRAINT customers_pkey PRIMARY KEY (id);
INSERT INTO customers VALUES (1, 'ann'), (2, 'bob');
CREATE VIEW customer_counts AS SELECT c.id, c.name, count(*) AS n FROM customers c GROUP BY c.id;

CREATE TABLE amounts (x integer);
CREATE TABLE amounts_2024 () INHERITS (amounts);
CREATE TABLE amounts_2025 () INHERITS (amounts);
INSERT INTO amounts_2024 VALUES (-5), (1);
INSERT INTO amounts_2025 VALUES (-7);
ALTER TABLE amounts ADD CONSTRAINT amounts_positive CHECK (x > 0) NOT VALID;
-- the same constraint declared on a child, validated there, and then on
-- its parent NOT VALID (the parent's own rows break it)
CREATE TABLE fees (x integer);
CREATE TABLE fees_eu () INHERITS (fees);
CREATE TABLE fees_us () INHERITS (fees);
INSERT INTO fees VALUES (-1);
INSERT INTO fees_eu VALUES (2);
INSERT INTO fees_us VALUES (3);
ALTER TABLE fees_eu ADD CONSTRAINT fees_positive CHECK (x > 0);
ALTER TABLE fees_us ADD CONSTRAINT fees_positive CHECK (x > 0);
ALTER TABLE fees ADD CONSTRAINT fees_positive CHECK (x > 0) NOT VALID;
-- a cycle: a column default calling a function that takes the table's row
CREATE TABLE lines (qty integer, total integer);
CREATE FUNCTION line_default(l lines) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT coalesce($1.qty, 0) * 10';
ALTER TABLE lines ALTER COLUMN total SET DEFAULT line_default(NULL::lines);
INSERT INTO lines (qty) VALUES (2);
RESET search_path;
