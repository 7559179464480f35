# Databases in an encoding other than UTF8 on a UTF-8 cluster: a LATIN1
# one, and an SQL_ASCII one holding bytes that are not UTF-8, are backed up
# and restored byte for byte in their own encoding, into a database created
# with the source's encoding and locale. Oracles: md5 of every table's raw
# bytes (COPY ... TO STDOUT in the database's encoding) and pg_dump's schema
# and rows, equal for the source and the copy; verify --restore passes.
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
    zb_expect_status 0 "verify --restore of the $encoding database" -- "$ZB_BIN" -q verify --restore --key key "$archive" \
        --pg-target "$server"
done
# the bytes that are not UTF-8 were in the dump, not lost on both sides
zb_expect_equal "$(LC_ALL=C grep -ac $'\xc3\x28 \xff\xfe' raw.copy.dump)" "1" "the SQL_ASCII copy holds the broken UTF-8 bytes"
zb_expect_equal "$(LC_ALL=C grep -ac $'caf\xe9 cr\xe8me' lat.copy.dump)" "1" "the LATIN1 copy holds the LATIN1 bytes"
zb_test_end
