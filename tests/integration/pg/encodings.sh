# Databases in an encoding other than UTF8 on a UTF-8 cluster: a LATIN1
# one, and an SQL_ASCII one holding bytes that are not UTF-8, are backed up
# and restored byte for byte in their own encoding, into a database created
# with the source's encoding and locale; so are each database's own
# comment, settings and a role's settings in it (bytes that are not UTF-8
# in the SQL_ASCII one, LATIN1 characters in the LATIN1 one). Oracles: md5
# of every table's raw bytes (COPY ... TO STDOUT in the database's
# encoding) and pg_dump's schema and rows, equal for the source and the
# copy; verify --restore passes.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
zb_pg_start
zb_psql -c "CREATE DATABASE lat TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'" \
    -c "CREATE DATABASE raw TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null
# rows written as bytes in the database's own encoding
PGCLIENTENCODING=LATIN1 ZB_PG_DB=lat zb_psql >/dev/null <<'SQL'
CREATE TABLE notes (id int PRIMARY KEY, body text, tag varchar(20));
INSERT INTO notes VALUES (1, E'caf\xe9 cr\xe8me br\xfbl\xe9e', E'\xa9\xae'), (2, E'\xff\xfe\xfd', E'\xc0\xc1');
INSERT INTO notes SELECT g, repeat(E'\xe4\xf6\xfc', g % 50), NULL FROM generate_series(3, 500) g;
SQL
PGCLIENTENCODING=SQL_ASCII ZB_PG_DB=raw zb_psql >/dev/null <<'SQL'
CREATE TABLE blobs (id int PRIMARY KEY, body text);
INSERT INTO blobs VALUES (1, E'latin1 caf\xe9'), (2, E'broken utf-8 \xc3\x28 \xff\xfe'), (3, E'\xe2\x82\xac valid too');
SQL
# the schema too: names, comments, defaults, a view's text and a function's
# body holding bytes that are not UTF-8 (E'' strings make them in names and
# bodies alike, as a LATIN1 client would have)
PGCLIENTENCODING=SQL_ASCII ZB_PG_DB=raw zb_psql >/dev/null <<'SQL'
DO $$ BEGIN EXECUTE E'CREATE SCHEMA "sch\xe9ma"';
EXECUTE E'CREATE TABLE "sch\xe9ma"."caf\xe9" (id int PRIMARY KEY, "cr\xe8me" text DEFAULT \'br\xfbl\xe9e\xff\', n int)';
EXECUTE E'CREATE INDEX "idx_\xe9" ON "sch\xe9ma"."caf\xe9" ("cr\xe8me")';
EXECUTE E'COMMENT ON TABLE "sch\xe9ma"."caf\xe9" IS \'comment \xc3\x28 \xfe\'';
EXECUTE E'COMMENT ON COLUMN "sch\xe9ma"."caf\xe9"."cr\xe8me" IS \'\xe9\xe8\'';
EXECUTE E'CREATE VIEW "sch\xe9ma"."vue_\xe9" AS SELECT id, "cr\xe8me" || \'\xa9\' AS "t\xeate" FROM "sch\xe9ma"."caf\xe9" WHERE "cr\xe8me" <> \'\xff\'';
EXECUTE E'CREATE FUNCTION "sch\xe9ma"."f\xe9"(x text) RETURNS text LANGUAGE sql AS \'SELECT x || \'\'\xe9\xff\'\'\'';
EXECUTE E'CREATE FUNCTION "sch\xe9ma".plpg() RETURNS text LANGUAGE plpgsql AS \'BEGIN RETURN \'\'r\xe9sum\xe9\'\'; END\'';
EXECUTE E'CREATE TYPE "sch\xe9ma"."humeur_\xe9" AS ENUM (\'gai\xe9\', \'\xff\')';
EXECUTE E'CREATE SEQUENCE "sch\xe9ma"."s\xe9q"';
EXECUTE E'ALTER TABLE "sch\xe9ma"."caf\xe9" ADD CONSTRAINT "ch_\xe9" CHECK ("cr\xe8me" <> \'\xfe\')';
EXECUTE E'INSERT INTO "sch\xe9ma"."caf\xe9" (id, n) VALUES (1, 2)';
END $$;
SQL
# the database's own comment and settings, and a role's setting in it,
# holding bytes that are not UTF-8
zb_psql -c "CREATE ROLE zb_enc_app" >/dev/null
PGCLIENTENCODING=SQL_ASCII ZB_PG_DB=raw zb_psql >/dev/null <<'SQL'
DO $$ BEGIN EXECUTE E'COMMENT ON DATABASE raw IS \'base caf\xe9 \xc3\x28 \xff\'';
EXECUTE E'ALTER DATABASE raw SET zb.note = \'app\xe9\xfe\'';
EXECUTE E'ALTER DATABASE raw SET search_path = "sch\xe9ma", public';
EXECUTE E'ALTER ROLE zb_enc_app IN DATABASE raw SET zb.note = \'r\xf4le\xff\'';
END $$;
SQL
# and the LATIN1 database's, in LATIN1: shared catalogs keep each database's
# text in that database's encoding
PGCLIENTENCODING=LATIN1 ZB_PG_DB=lat zb_psql >/dev/null <<'SQL'
DO $$ BEGIN EXECUTE E'COMMENT ON DATABASE lat IS \'base caf\xe9\'';
EXECUTE E'ALTER DATABASE lat SET zb.note = \'caf\xe9\'';
EXECUTE E'ALTER ROLE zb_enc_app IN DATABASE lat SET zb.note = \'cr\xe8me\'';
END $$;
SQL
# the same, as hex of the bytes, read in the database itself
database_bytes() { ZB_PG_DB=$1 zb_psql -At <<'SQL'
SELECT encode(convert_to(coalesce(shobj_description(d.oid, 'pg_database'), '-'), 'SQL_ASCII'), 'hex')
    FROM pg_database d WHERE d.datname = current_database()
UNION ALL (SELECT coalesce(r.rolname, '-') || ' ' || encode(convert_to(array_to_string(s.setconfig, '|'), 'SQL_ASCII'), 'hex')
    FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole
    WHERE d.datname = current_database() ORDER BY 1)
SQL
}
# the catalogs' bytes, as hex so no client conversion touches them
catalog_bytes() { ZB_PG_DB=$1 zb_psql -At <<'SQL'
SELECT encode(convert_to(x, 'SQL_ASCII'), 'hex') FROM (
    SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    UNION ALL SELECT attname FROM pg_attribute WHERE attrelid >= 16384 AND attnum > 0
    UNION ALL SELECT description FROM pg_description WHERE objoid >= 16384
    UNION ALL SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
    UNION ALL SELECT proname || ':' || prosrc FROM pg_proc WHERE oid >= 16384
    UNION ALL SELECT pg_get_viewdef(c.oid) FROM pg_class c WHERE relkind = 'v' AND oid >= 16384
    UNION ALL SELECT enumlabel::text FROM pg_enum
    UNION ALL SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint WHERE oid >= 16384) o ORDER BY 1
SQL
}
raw_md5() { PGCLIENTENCODING=$2 ZB_PG_DB=$1 zb_psql -c "COPY $3 TO STDOUT" | md5sum | cut -d' ' -f1; }
dump() { PGCLIENTENCODING=$2 runuser -u postgres -- "$ZB_PG_BIN/pg_dump" -h "$ZB_PG_SOCKET" -p "$ZB_PG_PORT" "$1" |
    LC_ALL=C grep -av '^\\\(un\)\?restrict'; }
"$ZB_BIN" keygen --out key >/dev/null 2>&1
server=$(zb_pg_conninfo postgres)

for db in lat:LATIN1:notes raw:SQL_ASCII:blobs; do
    name=${db%%:*} encoding=${db#*:} table=${db##*:}
    encoding=${encoding%%:*}
    zb_expect_status 0 "backup of the $encoding database" -- "$ZB_BIN" -q backup --repo "repo_$name" --recipient key.pub \
        --pg "$(zb_pg_conninfo "$name")"
    archive=$("$ZB_BIN" latest --repo "repo_$name")
    zb_expect_status 0 "restore of the $encoding database" -- "$ZB_BIN" -q restore --key key "$archive" \
        --pg-target "$(zb_pg_conninfo "${name}_copy")"
    zb_expect_equal "$(zb_psql -At -c "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database
        WHERE datname = '${name}_copy'")" "$encoding|C|C" "the copy is created in $encoding with the source's locale"
    zb_expect_equal "$(raw_md5 "${name}_copy" "$encoding" "$table")" "$(raw_md5 "$name" "$encoding" "$table")" \
        "$encoding: the rows' bytes are the source's"
    dump "$name" "$encoding" >"$name.dump"
    dump "${name}_copy" "$encoding" >"$name.copy.dump"
    if diff -u "$name.dump" "$name.copy.dump" >"$name.diff"; then zb_pass; else zb_fail "pg_dump differs:"$'\n'"$(head -30 "$name.diff")"; fi
    zb_expect_equal "$(catalog_bytes "${name}_copy")" "$(catalog_bytes "$name")" "$encoding: the catalogs' names, comments, defaults and bodies are the source's bytes"
    zb_expect_equal "$(database_bytes "${name}_copy")" "$(database_bytes "$name")" \
        "$encoding: the database's comment and settings, and the role's in it, are the source's bytes"
    zb_expect_status 0 "verify --restore of the $encoding database" -- "$ZB_BIN" -q verify --restore --key key "$archive" \
        --pg-target "$server"
done
# the bytes that are not UTF-8 were in the dump, not lost on both sides
zb_expect_equal "$(LC_ALL=C grep -ac $'\xc3\x28 \xff\xfe' raw.copy.dump)" "1" "the SQL_ASCII copy holds the broken UTF-8 bytes"
zb_expect_equal "$(LC_ALL=C grep -ac $'caf\xe9 cr\xe8me' lat.copy.dump)" "1" "the LATIN1 copy holds the LATIN1 bytes"
zb_expect_equal "$(LC_ALL=C grep -ac $'COMMENT ON TABLE "sch\xe9ma"."caf\xe9" IS \'comment \xc3\x28 \xfe\';' raw.copy.dump)" "1" \
    "the SQL_ASCII copy's schema holds the names' and comments' bytes"
zb_expect_equal "$(database_bytes raw | grep -c "$(printf 'app\xe9\xfe' | od -An -tx1 | tr -d ' \n')")" "1" \
    "the oracle reads the database's setting"
zb_expect_equal "$(database_bytes lat | grep -c "$(printf 'cr\xe8me' | od -An -tx1 | tr -d ' \n')")" "1" \
    "the oracle reads the LATIN1 database's role setting in LATIN1"
zb_expect_equal "$(catalog_bytes raw_copy | grep -c "$(printf 'vue_\xe9' | od -An -tx1 | tr -d ' \n')")" "1" "the oracle reads the view's name"
zb_test_end
