-- Object kinds beyond the application schema of fixture.sql, each of which
-- a backup once refused: aggregates, operators, operator classes and
-- families, casts, collations, conversions, text search objects, procedural
-- languages, transforms, access methods, foreign-data wrappers, servers,
-- user mappings, foreign tables, typed tables, shell types, rules, extended
-- statistics, column grants, default privileges, event triggers and
-- publications. Loaded as a superuser into an empty database; works on
-- PostgreSQL 12 to 17 (later features under \if).
SET client_min_messages = warning;
SELECT current_setting('server_version_num')::int >= 130000 AS pg13,
       current_setting('server_version_num')::int >= 140000 AS pg14,
       current_setting('server_version_num')::int >= 150000 AS pg15 \gset

DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zb_kinds_owner') THEN CREATE ROLE zb_kinds_owner; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zb_kinds_reader') THEN CREATE ROLE zb_kinds_reader; END IF;
END $$;

CREATE SCHEMA kinds;
GRANT USAGE ON SCHEMA kinds TO zb_kinds_owner;

-- collations: ICU (one not deterministic) and libc
CREATE COLLATION kinds.german_phonebook (provider = icu, locale = 'de-u-co-phonebk');
CREATE COLLATION kinds.case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE COLLATION kinds."C copy" (lc_collate = 'C', lc_ctype = 'C');
COMMENT ON COLLATION kinds.german_phonebook IS 'sorts ä as ae';

-- types: a shell, an enum with casts, a composite for a typed table
CREATE TYPE kinds.later;
CREATE TYPE kinds.mood AS ENUM ('sad', 'ok', 'happy');
CREATE FUNCTION kinds.mood_rank(kinds.mood) RETURNS integer LANGUAGE sql IMMUTABLE
    AS 'SELECT array_position(enum_range(NULL::kinds.mood), $1)';
CREATE CAST (kinds.mood AS integer) WITH FUNCTION kinds.mood_rank(kinds.mood) AS ASSIGNMENT;
CREATE TYPE kinds.rgb AS (r integer, g integer, b integer);
CREATE CAST (kinds.rgb AS text) WITH INOUT;
COMMENT ON CAST (kinds.mood AS integer) IS 'rank of a mood';
CREATE TYPE kinds.person AS (name text, age integer);

-- aggregates: plain (with a combine function), moving, zero-argument,
-- ordered-set
CREATE FUNCTION kinds.add_abs(integer, integer) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT abs($1) + abs($2)';
CREATE AGGREGATE kinds.sum_abs(integer) (SFUNC = kinds.add_abs, STYPE = integer, COMBINEFUNC = kinds.add_abs,
    INITCOND = '0', PARALLEL = SAFE);
CREATE AGGREGATE kinds.moving_sum(integer) (SFUNC = int4pl, STYPE = integer, MSFUNC = int4pl, MINVFUNC = int4mi,
    MSTYPE = integer);
CREATE AGGREGATE kinds.how_many(*) (SFUNC = int8inc, STYPE = bigint, INITCOND = '0');
CREATE AGGREGATE kinds.pct(double precision ORDER BY double precision) (SFUNC = ordered_set_transition,
    STYPE = internal, FINALFUNC = percentile_cont_float8_final);
COMMENT ON AGGREGATE kinds.sum_abs(integer) IS 'sum of absolute values';
ALTER AGGREGATE kinds.how_many(*) OWNER TO zb_kinds_owner;
REVOKE ALL ON FUNCTION kinds.sum_abs(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kinds.sum_abs(integer) TO zb_kinds_reader;

-- operators, an operator class with its implicit family, a family with a
-- member of its own
CREATE OPERATOR kinds.#+# (FUNCTION = kinds.add_abs, LEFTARG = integer, RIGHTARG = integer,
    COMMUTATOR = OPERATOR(kinds.#+#));
CREATE FUNCTION kinds.negate(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT -$1';
CREATE OPERATOR kinds.~~~ (FUNCTION = kinds.negate, RIGHTARG = integer);
COMMENT ON OPERATOR kinds.#+# (integer, integer) IS 'adds absolute values';
CREATE FUNCTION kinds.reverse_cmp(integer, integer) RETURNS integer LANGUAGE sql IMMUTABLE
    AS 'SELECT btint4cmp($2, $1)';
CREATE OPERATOR CLASS kinds.int4_reverse_ops FOR TYPE integer USING btree AS
    OPERATOR 1 >, OPERATOR 2 >=, OPERATOR 3 =, OPERATOR 4 <=, OPERATOR 5 <,
    FUNCTION 1 kinds.reverse_cmp(integer, integer);
CREATE OPERATOR FAMILY kinds.loose_hash USING hash;
ALTER OPERATOR FAMILY kinds.loose_hash USING hash ADD FUNCTION 1 (integer, integer) hashint4(integer);

-- a conversion
CREATE CONVERSION kinds.latin1_to_utf8 FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;

-- text search: template, dictionary, parser, configuration with mappings
CREATE TEXT SEARCH TEMPLATE kinds.simple_template (INIT = dsimple_init, LEXIZE = dsimple_lexize);
CREATE TEXT SEARCH DICTIONARY kinds.keep_all (TEMPLATE = kinds.simple_template, accept = false);
CREATE TEXT SEARCH PARSER kinds.default_parser (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end,
    LEXTYPES = prsd_lextype, HEADLINE = prsd_headline);
CREATE TEXT SEARCH CONFIGURATION kinds.shop_search (PARSER = kinds.default_parser);
ALTER TEXT SEARCH CONFIGURATION kinds.shop_search ADD MAPPING FOR asciiword, word WITH kinds.keep_all, simple;
ALTER TEXT SEARCH CONFIGURATION kinds.shop_search ADD MAPPING FOR int WITH simple;
COMMENT ON TEXT SEARCH CONFIGURATION kinds.shop_search IS 'product search';

-- a procedural language, a transform for it, access methods
CREATE FUNCTION kinds.pl_handler() RETURNS language_handler AS '$libdir/plpgsql', 'plpgsql_call_handler' LANGUAGE c;
CREATE LANGUAGE zb_pl HANDLER kinds.pl_handler;
CREATE FUNCTION kinds.mood_from_sql(internal) RETURNS internal LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE FUNCTION kinds.mood_to_sql(internal) RETURNS kinds.mood LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE TRANSFORM FOR kinds.mood LANGUAGE zb_pl (FROM SQL WITH FUNCTION kinds.mood_from_sql(internal),
    TO SQL WITH FUNCTION kinds.mood_to_sql(internal));
CREATE ACCESS METHOD zb_heap TYPE TABLE HANDLER heap_tableam_handler;
CREATE ACCESS METHOD zb_btree TYPE INDEX HANDLER bthandler;
COMMENT ON ACCESS METHOD zb_heap IS 'the heap, under another name';

-- foreign data: a wrapper, a server, user mappings, a foreign table
CREATE FOREIGN DATA WRAPPER zb_fdw OPTIONS (debug 'true');
CREATE SERVER zb_server TYPE 'archive' VERSION '1.0' FOREIGN DATA WRAPPER zb_fdw OPTIONS (host 'files.example', port '4000');
GRANT USAGE ON FOREIGN SERVER zb_server TO zb_kinds_reader;
CREATE USER MAPPING FOR zb_kinds_owner SERVER zb_server OPTIONS (user 'remote owner');
CREATE USER MAPPING FOR PUBLIC SERVER zb_server;
CREATE FOREIGN TABLE kinds.remote_orders (
    id integer OPTIONS (column_name 'order id') NOT NULL,
    note text COLLATE kinds."C copy" DEFAULT 'none'
) SERVER zb_server OPTIONS (file 'orders.csv');
COMMENT ON FOREIGN TABLE kinds.remote_orders IS 'orders kept elsewhere';

-- tables: a typed table, rules, extended statistics, column grants
CREATE TABLE kinds.people OF kinds.person (name WITH OPTIONS NOT NULL DEFAULT 'nobody');
INSERT INTO kinds.people VALUES ('ann', 31), ('bob', NULL);
CREATE TABLE kinds.items (
    id integer PRIMARY KEY,
    label text COLLATE kinds.case_insensitive,
    colour kinds.rgb,
    mood kinds.mood,
    price integer,
    secret text
);
INSERT INTO kinds.items SELECT g, 'item ' || g, ROW(g, g * 2, g * 3)::kinds.rgb, 'ok', g * 10, 'hidden ' || g FROM generate_series(1, 50) g;
CREATE TABLE kinds.items_log (id integer, at_time timestamptz DEFAULT now());
CREATE RULE log_delete AS ON DELETE TO kinds.items DO ALSO INSERT INTO kinds.items_log (id) VALUES (old.id);
CREATE RULE no_update_log AS ON UPDATE TO kinds.items_log DO INSTEAD NOTHING;
ALTER TABLE kinds.items_log DISABLE RULE no_update_log;
COMMENT ON RULE log_delete ON kinds.items IS 'keeps a trail';
CREATE VIEW kinds.cheap_items AS SELECT id, label, price FROM kinds.items WHERE price < 100;
CREATE RULE cheap_insert AS ON INSERT TO kinds.cheap_items DO INSTEAD
    INSERT INTO kinds.items (id, label, price) VALUES (new.id, new.label, new.price);
CREATE STATISTICS kinds.items_price_mood (ndistinct, dependencies) ON price, mood FROM kinds.items;
COMMENT ON STATISTICS kinds.items_price_mood IS 'price follows mood';
\if :pg13
ALTER STATISTICS kinds.items_price_mood SET STATISTICS 500;
\endif
\if :pg14
CREATE STATISTICS kinds.items_expr (mcv) ON lower(label), price FROM kinds.items;
\endif
CREATE INDEX items_label_reverse ON kinds.items (price kinds.int4_reverse_ops);
GRANT SELECT (id, label), UPDATE (label) ON kinds.items TO zb_kinds_reader;
GRANT SELECT (id) ON kinds.cheap_items TO zb_kinds_reader WITH GRANT OPTION;
GRANT INSERT (note) ON kinds.remote_orders TO zb_kinds_reader;

-- default privileges: for a role everywhere, and in a schema
ALTER DEFAULT PRIVILEGES FOR ROLE zb_kinds_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE zb_kinds_owner IN SCHEMA kinds GRANT SELECT ON TABLES TO zb_kinds_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE zb_kinds_owner IN SCHEMA kinds GRANT USAGE ON SEQUENCES TO zb_kinds_reader WITH GRANT OPTION;

-- an event trigger (disabled, as the restore must leave it) and publications
CREATE TABLE public.plain (id integer);
CREATE FUNCTION kinds.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'ddl'; END $$;
CREATE EVENT TRIGGER zb_on_ddl ON ddl_command_start WHEN TAG IN ('CREATE TABLE', 'DROP TABLE') EXECUTE FUNCTION kinds.on_ddl();
ALTER EVENT TRIGGER zb_on_ddl DISABLE;
COMMENT ON EVENT TRIGGER zb_on_ddl IS 'watches DDL';
-- base types written in `internal` functions (a C library would do the
-- same), over their shells, with every property CREATE TYPE takes; a window
-- function; a table and a view using them
CREATE TYPE kinds.code;
CREATE FUNCTION kinds.code_in(cstring) RETURNS kinds.code LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
CREATE FUNCTION kinds.code_out(kinds.code) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
CREATE FUNCTION kinds.code_recv(internal) RETURNS kinds.code LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE FUNCTION kinds.code_send(kinds.code) RETURNS bytea LANGUAGE internal IMMUTABLE STRICT AS 'int4send';
CREATE FUNCTION kinds.code_typmod_in(cstring[]) RETURNS integer LANGUAGE internal IMMUTABLE STRICT AS 'varchartypmodin';
CREATE FUNCTION kinds.code_typmod_out(integer) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'varchartypmodout';
CREATE FUNCTION kinds.code_analyze(internal) RETURNS boolean LANGUAGE internal STRICT AS 'array_typanalyze';
CREATE TYPE kinds.code (INPUT = kinds.code_in, OUTPUT = kinds.code_out, RECEIVE = kinds.code_recv, SEND = kinds.code_send,
    TYPMOD_IN = kinds.code_typmod_in, TYPMOD_OUT = kinds.code_typmod_out,
    INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4, STORAGE = plain, CATEGORY = 'N', DEFAULT = '7', DELIMITER = ';');
COMMENT ON TYPE kinds.code IS 'a base type in internal functions';
-- ANALYZE on a type no column has: the function is an array's, which an
-- ANALYZE of a column of this type would refuse
CREATE TYPE kinds.unused;
CREATE FUNCTION kinds.unused_in(cstring) RETURNS kinds.unused LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
CREATE FUNCTION kinds.unused_out(kinds.unused) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
CREATE TYPE kinds.unused (INPUT = kinds.unused_in, OUTPUT = kinds.unused_out, ANALYZE = kinds.code_analyze,
    INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4);
CREATE TYPE kinds.tag;
CREATE FUNCTION kinds.tag_in(cstring) RETURNS kinds.tag LANGUAGE internal IMMUTABLE STRICT AS 'textin';
CREATE FUNCTION kinds.tag_out(kinds.tag) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'textout';
CREATE TYPE kinds.tag (INPUT = kinds.tag_in, OUTPUT = kinds.tag_out, INTERNALLENGTH = variable, ALIGNMENT = int4,
    STORAGE = main, CATEGORY = 'S', PREFERRED = true, COLLATABLE = true);
CREATE TYPE kinds.pair;
CREATE FUNCTION kinds.pair_in(cstring) RETURNS kinds.pair LANGUAGE internal IMMUTABLE STRICT AS 'point_in';
CREATE FUNCTION kinds.pair_out(kinds.pair) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'point_out';
CREATE TYPE kinds.pair (INPUT = kinds.pair_in, OUTPUT = kinds.pair_out, INTERNALLENGTH = 16, ELEMENT = float8,
    ALIGNMENT = double);
CREATE FUNCTION kinds.row_no() RETURNS bigint LANGUAGE internal WINDOW IMMUTABLE AS 'window_row_number';
CREATE TABLE kinds.coded (id integer PRIMARY KEY, c kinds.code, t kinds.tag COLLATE "C", p kinds.pair);
INSERT INTO kinds.coded VALUES (1, '42', 'first', '(1,2)'), (2, DEFAULT, 'second', '(3.5,-4)');
CREATE VIEW kinds.coded_rows AS SELECT id, kinds.row_no() OVER (ORDER BY id) AS n FROM kinds.coded;
SET client_min_messages = error;
CREATE PUBLICATION zb_items FOR TABLE kinds.items, kinds.people WITH (publish = 'insert, update');
CREATE PUBLICATION zb_everything FOR ALL TABLES;
COMMENT ON PUBLICATION zb_items IS 'items for the reporting replica';
\if :pg15
CREATE PUBLICATION zb_filtered FOR TABLE kinds.items (id, label, price) WHERE (price > 100);
CREATE PUBLICATION zb_schema FOR TABLES IN SCHEMA kinds, TABLE public.plain;
\endif
-- a subscription, kept as pg_dump keeps it: not connecting, so disabled
CREATE SUBSCRIPTION zb_from_head_office CONNECTION 'host=127.0.0.1 port=1 dbname=head_office user=replicator'
    PUBLICATION zb_items, "Other Items" WITH (connect = false, slot_name = 'zb_branch_slot');
COMMENT ON SUBSCRIPTION zb_from_head_office IS 'prices from the head office';
