# Connecting as a backup does, against a real server this test starts:
# the password from a file or PGPASSWORD (never argv), DATABASE_URL, the
# session settings, and clear errors for a wrong password or no server.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
secret='s3cr3t pass phrase'
zb_pg_start "$secret"
url="postgresql://postgres@127.0.0.1:$ZB_PG_PORT/postgres"
printf '%s\n' "$secret" >pw && chmod 600 pw
printf 'nope\n' >wrong

zb_expect_status 0 "check with a password file" -- "$ZB_BIN" check --pg "$url" --pg-password-file pw
zb_expect_contains "$ZB_LAST_OUTPUT" "postgresql: ok: PostgreSQL 1" "reports the server"
zb_expect_contains "$ZB_LAST_OUTPUT" "encoding UTF8" "reports the encoding"
zb_expect_status 0 "the password file from the environment" -- env ZAKPOS_BACKUP_PG_PASSWORD_FILE="$ZB_TMP/pw" "$ZB_BIN" check --pg "$url"
zb_expect_status 0 "PGPASSWORD, as libpq reads it" -- env PGPASSWORD="$secret" "$ZB_BIN" check --pg "$url"
zb_expect_status 0 "DATABASE_URL when no connection string is given" -- env DATABASE_URL="$url" PGPASSWORD="$secret" "$ZB_BIN" check
zb_expect_status 0 "a keyword connection string" -- "$ZB_BIN" check --pg "host=127.0.0.1 port=$ZB_PG_PORT user=postgres dbname=postgres" --pg-password-file pw

zb_expect_status 10 "a wrong password" -- "$ZB_BIN" --log-format text check --pg "$url" --pg-password-file wrong
zb_expect_contains "$ZB_LAST_OUTPUT" "password authentication failed" "quotes the server"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: check the password" "hints at the password"
if [[ "$ZB_LAST_OUTPUT" == *nope* ]]; then zb_fail "the wrong password appears in the output"; else zb_pass; fi

zb_expect_status 10 "a database that does not exist" -- "$ZB_BIN" --log-format text check --pg "postgresql://postgres@127.0.0.1:$ZB_PG_PORT/nosuchdb" --pg-password-file pw
zb_expect_contains "$ZB_LAST_OUTPUT" "does not exist" "names the missing database"

free_port=$(zb_pg_free_port)
zb_expect_status 10 "no server on that port" -- "$ZB_BIN" --log-format text check --pg "postgresql://postgres@127.0.0.1:$free_port/postgres"
zb_expect_contains "$ZB_LAST_OUTPUT" "cannot connect to PostgreSQL at 127.0.0.1:$free_port/postgres" "names where it tried"
zb_expect_contains "$ZB_LAST_OUTPUT" "hint: is the server running" "hints at the server"
zb_expect_status 13 "a missing password file" -- "$ZB_BIN" --log-format text check --pg "$url" --pg-password-file /nonexistent/pw
zb_expect_contains "$ZB_LAST_OUTPUT" "PostgreSQL password: cannot open /nonexistent/pw" "names the file"
zb_test_end
