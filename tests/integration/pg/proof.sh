# The catalog fingerprint names what the DDL generator could restore
# silently different: a database with every attribute of that list is
# backed up, verify --restore passes on it (so the database's own properties,
# applied on restore, match), and then, in one more restore, a test hook
# (ZAKPOS_BACKUP_TEST_HOOK_SQL, read by the test build only, run in the restored database before the
# comparison) changes each attribute; verification fails (exit 14) and names
# every one: the object, the attribute, the archive's value and the restored
# one. Table-driven: each case is a statement and the difference it must
# produce. PostgreSQL 15 (Debian's), or the major given as $1 (15 to 17: 12 to
# 14 have no per-database locale provider; 17 renamed daticulocale to
# datlocale, and the case changes whichever the server has).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
[ -n "${1:-}" ] && zb_pg_use_major "$1"
zb_pg_start
mkdir -p "$ZB_TMP/space" && chown postgres "$ZB_TMP/space"
zb_psql >/dev/null <<SQL
CREATE ROLE zb_app LOGIN;
CREATE ROLE zb_reader;
CREATE ROLE zb_other;
CREATE ROLE zb_grantor;
CREATE TABLESPACE zb_space LOCATION '$ZB_TMP/space';
CREATE DATABASE pos OWNER zb_app;
ALTER DATABASE pos SET work_mem = '3MB';
ALTER DATABASE pos SET search_path = "\$user", public, app;
ALTER ROLE zb_app IN DATABASE pos SET statement_timeout = '5min';
COMMENT ON DATABASE pos IS 'the shop''s database';
GRANT CONNECT, CREATE ON DATABASE pos TO zb_reader;
SQL
ZB_PG_DB=pos zb_psql >/dev/null <<'SQL'
CREATE SCHEMA app AUTHORIZATION zb_app;
CREATE TABLE app.t (id int PRIMARY KEY, body text, n int, e text);
CREATE INDEX t_expr ON app.t ((lower(body)));
INSERT INTO app.t SELECT g, 'row ' || g, g % 7, 'e' FROM generate_series(1, 200) g;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER t_one BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE TRIGGER t_two BEFORE UPDATE ON app.t FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE TRIGGER t_three BEFORE DELETE ON app.t FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE SEQUENCE app.s;
CREATE TABLE app.parent (id int, x int);
CREATE TABLE app.child (y int) INHERITS (app.parent);
CREATE TABLE app.p (k int NOT NULL, v text) PARTITION BY RANGE (k);
CREATE TABLE app.p1 PARTITION OF app.p (PRIMARY KEY (k)) FOR VALUES FROM (0) TO (100);
CREATE TABLE app.p2 PARTITION OF app.p FOR VALUES FROM (100) TO (200);
CREATE INDEX p_v ON app.p (v);
INSERT INTO app.p VALUES (1, 'one');
CREATE VIEW app.v AS SELECT id, body FROM app.t;
CREATE TYPE app.addr AS (street text, city text);
CREATE DOMAIN app.pos_int AS int CONSTRAINT positive CHECK (VALUE > 0);
CREATE TYPE app.textrange AS RANGE (subtype = text);
CREATE TYPE app.code;
CREATE FUNCTION app.code_in(cstring) RETURNS app.code LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
CREATE FUNCTION app.code_out(app.code) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
CREATE TYPE app.code (INPUT = app.code_in, OUTPUT = app.code_out, INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4);
CREATE FUNCTION app.row_no() RETURNS bigint LANGUAGE internal WINDOW IMMUTABLE AS 'window_row_number';
GRANT USAGE ON SCHEMA app TO zb_grantor;
GRANT SELECT ON app.t TO zb_grantor WITH GRANT OPTION;
CREATE TABLE app.placed (id int PRIMARY KEY USING INDEX TABLESPACE zb_space, note text) TABLESPACE zb_space;
CREATE INDEX placed_note ON app.placed (note) TABLESPACE zb_space;
INSERT INTO app.placed VALUES (1, 'one');
CREATE MATERIALIZED VIEW app.placed_view TABLESPACE zb_space AS SELECT id, note FROM app.placed;
CREATE TABLE app.sales (id int, at date) PARTITION BY RANGE (at) TABLESPACE zb_space;
CREATE TABLE app.sales_new PARTITION OF app.sales FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE app.sales_old PARTITION OF app.sales FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') TABLESPACE pg_default;
ALTER TABLE app.sales ADD CONSTRAINT sales_key PRIMARY KEY (id, at) USING INDEX TABLESPACE zb_space;
CREATE INDEX sales_at ON app.sales (at) TABLESPACE zb_space;
ALTER INDEX app.sales_old_at_idx SET TABLESPACE pg_default;
ALTER INDEX app.sales_old_pkey SET TABLESPACE pg_default;
INSERT INTO app.sales VALUES (1, '2025-06-01'), (2, '2026-06-01');
SQL
# the column of the database's ICU locale, by version
icu_column=$(zb_psql -At -c "SELECT CASE WHEN current_setting('server_version_num')::int >= 170000
    THEN 'datlocale' ELSE 'daticulocale' END")
p1_index=$(ZB_PG_DB=pos zb_psql -At -c "SELECT c.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
    WHERE i.inhparent = 'app.p_v'::regclass AND c.relnamespace = 'app'::regnamespace AND c.relname LIKE 'p1%'")
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_expect_status 0 "backup" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub --pg "$(zb_pg_conninfo pos)"
archive=$("$ZB_BIN" latest --repo repo)
server=$(zb_pg_conninfo postgres)
zb_expect_status 0 "verify --restore of the unchanged database passes" -- "$ZB_BIN" --log-format text verify --restore \
    --key key "$archive" --pg-target "$server"
# a table and its indexes in a tablespace come back there (oracle: pg_class)
placement() {
    ZB_PG_DB=$1 zb_psql -At -c "SELECT c.relname || ' ' || coalesce(t.spcname, '-') FROM pg_class c
        LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE c.relnamespace = 'app'::regnamespace
        AND c.relkind IN ('r', 'i', 'S', 'p', 'm', 'I') ORDER BY 1"
}
zb_expect_status 0 "restore" -- "$ZB_BIN" -q restore --key key "$archive" --pg-target "$(zb_pg_conninfo pos_copy)"
zb_expect_equal "$(placement pos_copy)" "$(placement pos)" "every relation in the source's tablespace"
zb_expect_contains "$(placement pos)" "placed_note zb_space" "the oracle saw the tablespace"
# a materialized view, a partitioned table, its key and index in the
# tablespace, one partition and its indexes in the default one
for r in "placed_view zb_space" "sales zb_space" "sales_at zb_space" "sales_key zb_space" "sales_new_pkey zb_space" \
    "sales_old -" "sales_old_at_idx -" "sales_old_pkey -"; do
    zb_expect_contains "$(placement pos)" "$r" "the oracle saw $r"
done

# case: the statement run in the restored database | the difference named
in_db() { echo "DO \$\$ BEGIN EXECUTE pg_catalog.format('$1', pg_catalog.current_database()); END \$\$;"; }
cases=(
    "ALTER SCHEMA public OWNER TO zb_other|schema public: owner: archive '"
    "GRANT USAGE ON SCHEMA public TO zb_other|schema public: acl: archive "
    "COMMENT ON SCHEMA public IS 'changed'|schema public: comment: archive "
    "$(in_db 'ALTER DATABASE %I OWNER TO zb_other')|database: owner: archive 'zb_app', restored 'zb_other'"
    "$(in_db "ALTER DATABASE %I SET work_mem = ''7MB''")|database: settings: archive 'search_path=\"\$user\", public, app work_mem=3MB'"
    "$(in_db "ALTER ROLE zb_app IN DATABASE %I SET statement_timeout = ''1min''")|settings of role zb_app in the database: settings: archive 'statement_timeout=5min', restored 'statement_timeout=1min'"
    "$(in_db "COMMENT ON DATABASE %I IS ''changed''")|database: comment: archive 'the shop's database', restored 'changed'"
    "$(in_db 'GRANT TEMPORARY ON DATABASE %I TO zb_other')|database: acl: archive "
    "UPDATE pg_catalog.pg_database SET datcollate = 'POSIX' WHERE datname = pg_catalog.current_database()|database: lc_collate: archive 'C.UTF-8', restored 'POSIX'"
    "UPDATE pg_catalog.pg_database SET datlocprovider = 'i', $icu_column = 'sv-SE' WHERE datname = pg_catalog.current_database()|database: icu_locale: archive (not set), restored 'sv-SE'"
    "SELECT 1|database: locale_provider: archive 'c', restored 'i'"
    "ALTER TABLE app.t ALTER body SET STORAGE EXTERNAL|column app.t.body: storage: archive 'x', restored 'e'"
    "ALTER TABLE app.t ALTER n SET STATISTICS 55|column app.t.n: statistics: archive '-1', restored '55'"
    "ALTER TABLE app.t ALTER n SET (n_distinct = 5)|column app.t.n: options: archive (not set), restored 'n_distinct=5'"
    "ALTER TABLE app.t ALTER e SET COMPRESSION pglz|column app.t.e: compression: archive (not set), restored 'p'"
    "ALTER TABLE app.t SET (toast.autovacuum_enabled = false)|relation app.t: toast_options: archive (not set), restored 'autovacuum_enabled=false'"
    "ALTER TABLE app.t REPLICA IDENTITY FULL|relation app.t: replica_identity: archive 'd', restored 'f'"
    "ALTER TABLE app.t CLUSTER ON t_pkey|relation app.t: cluster_on: archive (not set), restored 't_pkey'"
    "ALTER TABLE app.parent SET TABLESPACE zb_space|relation app.parent: tablespace: archive (not set), restored 'zb_space'"
    "ALTER MATERIALIZED VIEW app.placed_view SET TABLESPACE pg_default|relation app.placed_view: tablespace: archive 'zb_space', restored (not set)"
    "ALTER TABLE app.sales_new SET TABLESPACE pg_default|relation app.sales_new: tablespace: archive 'zb_space', restored (not set)"
    "ALTER INDEX app.sales_at SET TABLESPACE pg_default|index app.sales_at: tablespace: archive 'zb_space', restored (not set)"
    "ALTER INDEX app.sales_old_pkey SET TABLESPACE zb_space|index app.sales_old_pkey: tablespace: archive (not set), restored 'zb_space'"
    "ALTER SEQUENCE app.s SET UNLOGGED|relation app.s: persistence: archive 'p', restored 'u'"
    "ALTER TABLE ONLY app.child ALTER x SET NOT NULL|column app.child.x: not_null: archive (not set), restored 'not null'"
    "ALTER TABLE ONLY app.child ALTER x SET DEFAULT 5|column app.child.x: default: archive (not set), restored '5'"
    "ALTER TABLE app.p1 ALTER v SET NOT NULL|column app.p1.v: not_null: archive (not set), restored 'not null'"
    "ALTER TABLE app.p1 ALTER v SET DEFAULT 'x'|column app.p1.v: default: archive (not set), restored "
    "ALTER INDEX app.$p1_index RENAME TO p1_renamed|index app.$p1_index: missing from the restored database"
    "ALTER TABLE app.p1 RENAME CONSTRAINT p1_pkey TO p1_key|constraint p1_pkey on app.p1: missing from the restored database"
    "ALTER TABLE app.t DISABLE TRIGGER t_one|trigger t_one on app.t: enabled: archive 'O', restored 'D'"
    "ALTER TABLE app.t ENABLE ALWAYS TRIGGER t_two|trigger t_two on app.t: enabled: archive 'O', restored 'A'"
    "ALTER TABLE app.t ENABLE REPLICA TRIGGER t_three|trigger t_three on app.t: enabled: archive 'O', restored 'R'"
    "ALTER TABLE app.p DETACH PARTITION app.p2; DROP TABLE app.p2; CREATE TABLE app.p2 (v text, k int NOT NULL); ALTER TABLE app.p ATTACH PARTITION app.p2 FOR VALUES FROM (100) TO (200)|relation app.p2: column_order: archive 'k, v', restored 'v, k'"
    "ALTER VIEW app.v ALTER body SET DEFAULT 'none'|column app.v.body: default: archive (not set), restored "
    "ALTER INDEX app.t_expr ALTER COLUMN 1 SET STATISTICS 70|index app.t_expr: statistics: archive (not set), restored '1=70'"
    "UPDATE pg_catalog.pg_range SET rngsubopc = (SELECT o.oid FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_am a ON a.oid = o.opcmethod WHERE o.opcname = 'text_pattern_ops' AND a.amname = 'btree') WHERE rngtypid = 'app.textrange'::pg_catalog.regtype|type app.textrange: range: archive 'text opclass pg_catalog.text_ops"
    "SET ROLE zb_grantor; GRANT SELECT ON app.t TO zb_other; RESET ROLE|relation app.t: acl: archive "
    "COMMENT ON EXTENSION plpgsql IS 'changed'|extension plpgsql: comment: archive 'PL/pgSQL procedural language', restored 'changed'"
    "COMMENT ON COLUMN app.addr.city IS 'changed'|column app.addr.city: comment: archive (not set), restored 'changed'"
    "COMMENT ON CONSTRAINT positive ON DOMAIN app.pos_int IS 'changed'|constraint positive on domain app.pos_int: comment: archive (not set), restored 'changed'"
    "UPDATE pg_catalog.pg_type SET typispreferred = true, typdelim = ';' WHERE oid = 'app.code'::pg_catalog.regtype|type app.code: base: archive 'app.code_in app.code_out - - 4 i p U passedbyvalue delimiter ,', restored 'app.code_in app.code_out - - 4 i p U passedbyvalue preferred delimiter ;'"
    "UPDATE pg_catalog.pg_proc SET prokind = 'f' WHERE oid = 'app.row_no'::pg_catalog.regproc|function app.row_no(): kind: archive 'w', restored 'f'"
    "GRANT EXECUTE ON FUNCTION pg_catalog.plpgsql_validator(oid) TO zb_other|extension member function pg_catalog.plpgsql_validator(pg_catalog.oid): in the restored database but not in the archive"
)
hook=""
for c in "${cases[@]}"; do hook+="${c%%|*};"$'\n'; done
zb_expect_status 14 "verify --restore after every change" -- env ZAKPOS_BACKUP_TEST_HOOK_SQL="$hook" \
    "$ZB_FAULT_BIN" --log-format text verify --restore --key key "$archive" --pg-target "$server"
out=$ZB_LAST_OUTPUT
for c in "${cases[@]}"; do
    zb_expect_contains "$out" "pg pos: ${c#*|}" "named: ${c%%|*}"
done
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'zakpos_backup_verify_%'")" "0" \
    "no scratch database left"
# on a server without the tablespace the relations go to the default one,
# with one note naming it
zb_psql -c "DROP DATABASE pos" -c "DROP DATABASE pos_copy" -c "DROP TABLESPACE zb_space" >/dev/null
zb_expect_status 0 "restore where the tablespace is missing" -- "$ZB_BIN" --log-format text restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo pos_elsewhere)"
zb_expect_equal "$(grep -c 'the target server has no tablespace zb_space: the relations' <<<"$ZB_LAST_OUTPUT")" "1" \
    "one note names the missing tablespace"
zb_expect_equal "$(placement pos_elsewhere | grep -c zb_space)" "0" "all in the default tablespace"
zb_expect_contains "$(placement pos_elsewhere)" "sales_key -" "the oracle saw them"
zb_test_end
