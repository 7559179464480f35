# What a restore used to make differently without a word, or a backup
# refused (fixture_coverage.sql): partition index and key names, trigger
# clones' states on partitions, privileges changed on extension members,
# views in a cycle with a function. And a restore of some tables (--table)
# from a database with a publication naming others, which used to fail:
# the publication comes back with the tables restored, and a warning names
# the ones it lacks; a restore of a partitioned table (--table), which
# brings its partitions; and a restore of a table a view reads (--table),
# which used to fail on a function returning the view's rows. And verify
# --restore as a scratch role that is not a superuser, of objects only a
# superuser may make: each is named as not verified with the server's
# reason, and so is what needs one of them (an index of an operator class,
# built on a parallel connection), instead of the server's first error
# failing the verification; a restore as that role fails naming the first
# such object before anything is published.
# Oracles: pg_dump --schema-only and its rows, coverage_oracle.sql's catalog
# queries (never the tool's), and verify --restore's fingerprint.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql -c "CREATE DATABASE cov"
if ! ZB_PG_DB=cov zb_psql -f "$ZB_SOURCE_DIR/tests/integration/pg/fixture_coverage.sql" >/dev/null; then
    zb_fail "the fixture did not load"
    exit 1
fi
"$ZB_BIN" keygen --out key >/dev/null 2>&1
zb_expect_status 0 "backup" -- "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub --pg "$(zb_pg_conninfo cov)"
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "restore" -- "$ZB_BIN" --log-format text restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo copy)" --jobs 2

# the catalogs, read the same way in both databases
ZB_PG_DB=cov zb_psql -At -f "$ZB_SOURCE_DIR/tests/integration/pg/coverage_oracle.sql" >catalog.src
ZB_PG_DB=copy zb_psql -At -f "$ZB_SOURCE_DIR/tests/integration/pg/coverage_oracle.sql" >catalog.copy
if diff -u catalog.src catalog.copy >catalog.diff; then zb_pass; else zb_fail "the catalogs differ:"$'\n'"$(head -40 catalog.diff)"; fi
for want in 'index cov.events_2025 cov.e2025_by_hand_key attached to cov.events_key constraint e2025_by_hand_key valid true' \
    'index cov.events_2024 cov.ev24_kind attached to cov.events_by_kind' 'index cov.events_2026_a cov.ev26a_kind attached to cov.events_2026_kind_idx' \
    'index cov.events cov.events_by_kind attached to - valid true' 'trigger cov.events_2024 events_touch D' \
    'trigger cov.events_2025 events_touch R' 'trigger cov.events_2026_a events_touch A' 'trigger cov.events events_audit D' \
    'trigger cov.events_2024 events_audit O' 'trigger cov.events_2025 events_audit D' \
    'member function cov_ext.citext_larger(cov_ext.citext,cov_ext.citext) {postgres=X/postgres,zb_cov_reader=X/postgres}' \
    'big order 2'; do
    zb_expect_contains "$(cat catalog.src)" "$want" "the source has $want"
done
zb_pg_dump_schema cov >schema.src
zb_pg_dump_schema copy >schema.copy
if diff -u schema.src schema.copy >schema.diff; then zb_pass; else zb_fail "pg_dump schemas differ:"$'\n'"$(head -40 schema.diff)"; fi
zb_expect_contains "$(cat schema.src)" "ALTER INDEX cov.events_key ATTACH PARTITION cov.e2025_by_hand_key;" "pg_dump saw the fixture"
zb_pg_dump_data cov >data.src
zb_pg_dump_data copy >data.copy
if diff -q data.src data.copy >/dev/null; then zb_pass; else zb_fail "pg_dump rows differ"; fi
zb_expect_status 0 "verify --restore" -- "$ZB_BIN" --log-format text verify --restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo postgres)"

# restore --table of a table a view reads, where a function returns SETOF
# the view's row type: the view is not restored, so neither is the function
# (named in a warning) instead of the restore failing on it
zb_expect_status 0 "restore --table of a table a view's function needs" -- "$ZB_BIN" --log-format text restore \
    --key key "$archive" --pg-target "$(zb_pg_conninfo orders_only)" --table cov.orders
zb_expect_contains "$ZB_LAST_OUTPUT" "function cov.orders_over left out: it needs cov.big_orders, which is not restored" \
    "the function left out is named with the view it needs"
zb_expect_equal "$(ZB_PG_DB=orders_only zb_psql -At -c "SELECT (SELECT string_agg(id || ':' || total, ',' ORDER BY id)
    FROM cov.orders), (SELECT count(*) FROM pg_proc WHERE pronamespace = 'cov'::regnamespace AND proname LIKE 'orders%'),
    (SELECT count(*) FROM pg_class WHERE relnamespace = 'cov'::regnamespace AND relkind IN ('r', 'v', 'p'))")" \
    "1:50,2:500|0|1" "the table with its rows, without the view or the functions that need it"

zb_psql -c "CREATE DATABASE pubs"
ZB_PG_DB=pubs zb_psql -c "CREATE TABLE public.kept (id integer PRIMARY KEY)" -c "CREATE TABLE public.other (id integer)" \
    -c "INSERT INTO public.kept VALUES (1)" -c "CREATE PUBLICATION zb_both FOR TABLE public.kept, public.other"
ZB_PG_DB=pubs zb_psql >/dev/null <<'SQL'
CREATE TABLE public.ev (id integer NOT NULL, at date NOT NULL, kind text NOT NULL, PRIMARY KEY (id, at, kind)) PARTITION BY RANGE (at);
CREATE INDEX ev_kind ON public.ev (kind);
CREATE TABLE public.ev_2024 PARTITION OF public.ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.ev_2026 PARTITION OF public.ev FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (kind);
CREATE TABLE public.ev_2026_a PARTITION OF public.ev_2026 FOR VALUES IN ('a');
CREATE TABLE public.ev_2025 (kind text NOT NULL, id integer NOT NULL, at date NOT NULL);
CREATE INDEX ev25_own_kind ON public.ev_2025 (kind);
ALTER TABLE public.ev ATTACH PARTITION public.ev_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO public.ev SELECT g, date '2024-01-01' + g, 'a' FROM generate_series(0, 1000) g;
SQL
zb_expect_status 0 "backup with a publication" -- "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub \
    --pg "$(zb_pg_conninfo pubs)"
archive=$("$ZB_BIN" latest --repo repo)
# restore --table of a partitioned table brings its partitions, two levels
# deep (one attached with an index of its own name), with their rows,
# indexes and keys, and no other table
tree() { ZB_PG_DB=$1 zb_psql -At -c "SELECT string_agg(relid::regclass::text, ',' ORDER BY relid::regclass::text),
    (SELECT md5(string_agg(e::text, ',' ORDER BY e::text)) FROM public.ev e),
    (SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY indexrelid::regclass::text) FROM pg_index
        WHERE indrelid IN (SELECT relid FROM pg_partition_tree('public.ev'))),
    (SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
        AND c.relkind IN ('r', 'p') AND c.oid NOT IN (SELECT relid FROM pg_partition_tree('public.ev')))
    FROM pg_partition_tree('public.ev')"; }
zb_expect_status 0 "restore --table of a partitioned table" -- "$ZB_BIN" -q restore --key key "$archive" \
    --pg-target "$(zb_pg_conninfo ev_only)" --table public.ev
source_tree=$(tree pubs)
zb_expect_contains "$source_tree" "ev_2026_a|" "the source's partition tree is two levels deep"
zb_expect_equal "$(tree ev_only)" "${source_tree%|*}|0" \
    "the partitions come with their parent: the same tree, rows and indexes, no other table"
zb_expect_status 0 "restore --table of one of the publication's tables" -- "$ZB_BIN" --log-format text restore --key key \
    "$archive" --pg-target "$(zb_pg_conninfo pubs_kept)" --table public.kept
zb_expect_contains "$ZB_LAST_OUTPUT" "publication zb_both restored without table public.other" "the table left out is named"
zb_expect_equal "$(ZB_PG_DB=pubs_kept zb_psql -At -c "SELECT string_agg(schemaname || '.' || tablename, ',')
    FROM pg_publication_tables WHERE pubname = 'zb_both'")" "public.kept" "the publication has the table restored"

zb_psql -c "CREATE DATABASE su" -c "CREATE ROLE zb_scratch LOGIN CREATEDB"
ZB_PG_DB=su zb_psql >/dev/null <<'SQL'
CREATE SCHEMA su;
CREATE TEXT SEARCH TEMPLATE su.plain_template (LEXIZE = dsimple_lexize, INIT = dsimple_init);
CREATE TEXT SEARCH DICTIONARY su.plain (TEMPLATE = su.plain_template);
CREATE FUNCTION su.length_of(text) RETURNS integer LANGUAGE internal IMMUTABLE STRICT AS 'textlen';
CREATE TABLE su.notes (id integer PRIMARY KEY, body text, n integer);
INSERT INTO su.notes VALUES (1, 'a', 1), (2, 'bb', 2);
CREATE FUNCTION su.rev_cmp(integer, integer) RETURNS integer LANGUAGE sql IMMUTABLE STRICT AS 'SELECT btint4cmp($2, $1)';
CREATE OPERATOR CLASS su.int4_rev FOR TYPE integer USING btree AS
    OPERATOR 1 >, OPERATOR 2 >=, OPERATOR 3 =, OPERATOR 4 <=, OPERATOR 5 <, FUNCTION 1 su.rev_cmp(integer, integer);
CREATE INDEX notes_rev ON su.notes (n su.int4_rev);
SQL
zb_expect_status 0 "backup of superuser-only objects" -- "$ZB_BIN" -q backup --repo repo --recipient key.pub \
    --pg "$(zb_pg_conninfo su)"
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "verify --restore as a role that is not a superuser" -- "$ZB_BIN" --log-format text verify --restore \
    --key key "$archive" --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=zb_scratch dbname=postgres" --jobs 2
for want in 'TEXT SEARCH TEMPLATE su.plain_template: not verified: the verification'"'"'s role cannot create it here (must be superuser' \
    'TEXT SEARCH DICTIONARY su.plain: not verified: it needs an object not verified here' \
    'FUNCTION su.length_of: not verified: the verification'"'"'s role cannot create it here (permission denied for language internal)' \
    'OPERATOR CLASS su.int4_rev: not verified: the verification'"'"'s role cannot create it here (must be superuser' \
    'INDEX su.notes_rev: not verified: it needs an object not verified here (operator class "su.int4_rev" does not exist' \
    'by restore (pg su, 2 rows)' 'except 6 objects not verified'; do
    zb_expect_contains "$ZB_LAST_OUTPUT" "$want" "verify names $want"
done
# a restore as that role fails on the first object only a superuser may
# make, naming it, before anything is published
zb_expect_status 10 "restore as a role that is not a superuser" -- "$ZB_BIN" --log-format text restore --key key \
    "$archive" --pg-target "host=$ZB_PG_SOCKET port=$ZB_PG_PORT user=zb_scratch dbname=su_plain" --no-owner --jobs 2
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: only a superuser may create" "the refusal says who may create it"
zb_expect_equal "$(zb_psql -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE '%su_plain%' OR datname LIKE 'zb%restore%'")" \
    "0" "nothing is published, no database is left behind"
zb_test_end
