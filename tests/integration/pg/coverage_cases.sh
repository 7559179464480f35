# What a restore used to make differently without a word, or a backup
# refused (fixture_coverage.sql): partition index and key names, trigger
# clones' states on partitions, privileges changed on extension members,
# views in a cycle with a function. And a restore of some tables (--table)
# from a database with a publication naming others, which used to fail:
# the publication comes back with the tables restored, and a warning names
# the ones it lacks.
# Oracles: pg_dump --schema-only and its rows, the catalog queries below
# (written here, never the tool's), and verify --restore's fingerprint.
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
catalog() {
    ZB_PG_DB=$1 zb_psql -At <<'SQL'
SELECT 'index ' || x.indrelid::regclass || ' ' || x.indexrelid::regclass || ' attached to ' ||
    COALESCE((SELECT h.inhparent::regclass::text FROM pg_inherits h WHERE h.inhrelid = x.indexrelid), '-') ||
    COALESCE(' constraint ' || (SELECT k.conname FROM pg_constraint k WHERE k.conindid = x.indexrelid
        AND k.conrelid = x.indrelid), '') || ' valid ' || x.indisvalid
FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid WHERE c.relnamespace = 'cov'::regnamespace ORDER BY 1;
SELECT 'trigger ' || t.tgrelid::regclass || ' ' || t.tgname || ' ' || t.tgenabled::text FROM pg_trigger t
WHERE t.tgfoid = 'cov.touch'::regproc ORDER BY 1;
SELECT 'member ' || pg_describe_object(d.classid, d.objid, 0) || ' ' || COALESCE(p.proacl::text, t.typacl::text, '')
FROM pg_depend d LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'citext')
    AND COALESCE(p.proacl, t.typacl) IS NOT NULL ORDER BY 1;
SELECT 'view ' || c.oid::regclass || ' ' || pg_get_viewdef(c.oid) FROM pg_class c
WHERE c.relnamespace = 'cov'::regnamespace AND c.relkind = 'v' ORDER BY 1;
SELECT 'big order ' || id FROM cov.big_orders;
SQL
}
catalog cov >catalog.src
catalog copy >catalog.copy
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

zb_psql -c "CREATE DATABASE pubs"
ZB_PG_DB=pubs zb_psql -c "CREATE TABLE public.kept (id integer PRIMARY KEY)" -c "CREATE TABLE public.other (id integer)" \
    -c "INSERT INTO public.kept VALUES (1)" -c "CREATE PUBLICATION zb_both FOR TABLE public.kept, public.other"
zb_expect_status 0 "backup with a publication" -- "$ZB_BIN" --log-format text backup --repo repo --recipient key.pub \
    --pg "$(zb_pg_conninfo pubs)"
archive=$("$ZB_BIN" latest --repo repo)
zb_expect_status 0 "restore --table of one of the publication's tables" -- "$ZB_BIN" --log-format text restore --key key \
    "$archive" --pg-target "$(zb_pg_conninfo pubs_kept)" --table public.kept
zb_expect_contains "$ZB_LAST_OUTPUT" "publication zb_both restored without table public.other" "the table left out is named"
zb_expect_equal "$(ZB_PG_DB=pubs_kept zb_psql -At -c "SELECT string_agg(schemaname || '.' || tablename, ',')
    FROM pg_publication_tables WHERE pubname = 'zb_both'")" "public.kept" "the publication has the table restored"
zb_test_end
