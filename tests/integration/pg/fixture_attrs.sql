-- Attributes a restore used to lose without a word (restore and its proof
-- both exited 0): the public schema's owner, privileges and comment; column
-- STORAGE, STATISTICS, n_distinct and COMPRESSION; toast.* options; REPLICA
-- IDENTITY; CLUSTER ON; unlogged sequences; an inheritance child's and a
-- partition's own NOT NULL and default; the column order of an attached
-- partition; view column defaults; statistics targets of index expressions;
-- a range type's subtype operator class; grants made by a grantor other
-- than the owner; comments on extensions, composite type attributes and
-- domain constraints; the database's own owner, settings, a role's
-- settings in it, comment and grants. Loaded as a superuser into an empty
-- database; works on PostgreSQL 12 to 17 (later features under \if).
SET client_min_messages = warning;
SELECT current_setting('server_version_num')::int >= 140000 AS pg14,
       current_setting('server_version_num')::int >= 150000 AS pg15 \gset
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zb_attrs_owner') THEN CREATE ROLE zb_attrs_owner; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zb_attrs_reader') THEN CREATE ROLE zb_attrs_reader; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zb_attrs_grantor') THEN CREATE ROLE zb_attrs_grantor; END IF;
END $$;

ALTER SCHEMA public OWNER TO zb_attrs_owner;
COMMENT ON SCHEMA public IS 'the application''s own';
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO zb_attrs_reader;

CREATE EXTENSION citext;
COMMENT ON EXTENSION citext IS 'case-insensitive text, for e-mail addresses';

CREATE SCHEMA attrs;
CREATE TYPE attrs.pair AS (left_side integer, right_side integer);
COMMENT ON COLUMN attrs.pair.left_side IS 'the smaller one';
CREATE DOMAIN attrs.positive AS integer CONSTRAINT above_zero CHECK (VALUE > 0);
COMMENT ON CONSTRAINT above_zero ON DOMAIN attrs.positive IS 'zero is not positive';
CREATE FUNCTION attrs.text_cmp_reverse(text, text) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT bttextcmp($2, $1)';
CREATE OPERATOR CLASS attrs.text_reverse_ops FOR TYPE text USING btree AS
    OPERATOR 1 pg_catalog.> (text, text), OPERATOR 2 pg_catalog.>= (text, text), OPERATOR 3 pg_catalog.= (text, text),
    OPERATOR 4 pg_catalog.<= (text, text), OPERATOR 5 pg_catalog.< (text, text), FUNCTION 1 attrs.text_cmp_reverse(text, text);
CREATE TYPE attrs.text_span AS RANGE (subtype = text, subtype_opclass = attrs.text_reverse_ops, collation = "C");

CREATE TABLE attrs.documents (
    id integer NOT NULL,
    body text,
    summary text,
    category text
) WITH (fillfactor = 80, toast.autovacuum_enabled = false);
ALTER TABLE attrs.documents ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE attrs.documents ALTER COLUMN summary SET STATISTICS 900;
ALTER TABLE attrs.documents ALTER COLUMN category SET (n_distinct = -0.25);
\if :pg14
ALTER TABLE attrs.documents ALTER COLUMN summary SET COMPRESSION pglz;
\endif
CREATE UNIQUE INDEX documents_id ON attrs.documents (id);
CREATE INDEX documents_lower ON attrs.documents (lower(summary), id);
ALTER INDEX attrs.documents_lower ALTER COLUMN 1 SET STATISTICS 700;
ALTER TABLE attrs.documents REPLICA IDENTITY USING INDEX documents_id;
ALTER TABLE attrs.documents CLUSTER ON documents_lower;
INSERT INTO attrs.documents SELECT g, repeat('body ', g), 'summary ' || g, 'c' || (g % 4) FROM generate_series(1, 40) g;
CREATE TABLE attrs.audit (at timestamptz, what text);
ALTER TABLE attrs.audit REPLICA IDENTITY FULL;
\if :pg15
CREATE UNLOGGED SEQUENCE attrs.scratch_numbers;
\endif

-- inheritance: the child's own NOT NULL and default on an inherited column
CREATE TABLE attrs.animal (name text, legs integer);
CREATE TABLE attrs.bird (wings integer) INHERITS (attrs.animal);
ALTER TABLE attrs.bird ALTER COLUMN legs SET NOT NULL;
ALTER TABLE attrs.bird ALTER COLUMN legs SET DEFAULT 2;
INSERT INTO attrs.bird VALUES ('robin', 2, 2);

-- partitions: one with its own NOT NULL and default, one attached with
-- its columns in another order
CREATE TABLE attrs.readings (taken date NOT NULL, sensor text, value numeric) PARTITION BY RANGE (taken);
CREATE TABLE attrs.readings_2024 PARTITION OF attrs.readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
ALTER TABLE attrs.readings_2024 ALTER COLUMN sensor SET NOT NULL;
ALTER TABLE attrs.readings_2024 ALTER COLUMN sensor SET DEFAULT 'main';
CREATE TABLE attrs.readings_2025 (value numeric, sensor text, taken date NOT NULL);
ALTER TABLE attrs.readings ATTACH PARTITION attrs.readings_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO attrs.readings VALUES ('2024-05-01', 'a', 1.5), ('2025-05-01', 'b', 2.5);

-- a view with a column default
CREATE VIEW attrs.recent_documents AS SELECT id, summary FROM attrs.documents WHERE id > 10;
ALTER VIEW attrs.recent_documents ALTER COLUMN summary SET DEFAULT 'pending';

-- a grant made by a role other than the owner, which holds it with GRANT OPTION
GRANT USAGE ON SCHEMA attrs TO zb_attrs_grantor;
GRANT SELECT ON attrs.documents TO zb_attrs_grantor WITH GRANT OPTION;
SET ROLE zb_attrs_grantor;
GRANT SELECT ON attrs.documents TO zb_attrs_reader;
RESET ROLE;

-- the database's own properties, which pg_dump --create keeps: owner,
-- settings, a role's settings in it, comment, and grants (one made by a
-- grantor other than the owner)
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO zb_attrs_owner', current_database());
    EXECUTE format('ALTER DATABASE %I SET work_mem = %L', current_database(), '3MB');
    EXECUTE format('ALTER ROLE zb_attrs_reader IN DATABASE %I SET statement_timeout = %L', current_database(), '5min');
    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), 'the attributes'' database');
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO zb_attrs_grantor WITH GRANT OPTION', current_database());
    SET LOCAL ROLE zb_attrs_grantor;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO zb_attrs_reader', current_database());
END $$;
