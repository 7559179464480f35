# The cluster globals come back on PostgreSQL 12, 14, 16 and 17: roles with
# their attributes, password verifiers (--with-role-passwords; md5 on 12,
# SCRAM after), memberships with the admin option (and, from 16 on, the
# inherit and set options), per-role settings (global and in the database),
# comments. Each version: a backup of a database with its globals, the
# roles and the database dropped, `recover` of the archive (a host with no
# Docker stack), then the test's own catalog queries compare source and
# recovery, and so does Debian's pg_dumpall --globals-only where it can read
# the server (12 and 14; the bootstrap role's lines filtered out: the new
# server makes its own).
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/pg.sh"
zb_test_begin
cd "$ZB_TMP"
"$ZB_BIN" keygen --out key >/dev/null 2>&1

catalog() {
    local v16=$1
    zb_psql -At <<SQL
SELECT 'role', rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls,
       rolconnlimit, rolvaliduntil, coalesce(rolpassword, '<none>'), coalesce(shobj_description(oid, 'pg_authid'), '')
  FROM pg_authid WHERE rolname LIKE 'app\_%' ORDER BY rolname;
SELECT 'member', r.rolname, m.rolname, a.admin_option, g.rolname $([ "$v16" = 1 ] && echo ", a.inherit_option, a.set_option")
  FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
  LEFT JOIN pg_roles g ON g.oid = a.grantor
 WHERE m.rolname LIKE 'app\_%' ORDER BY 2, 3;
SELECT 'setting', r.rolname, coalesce(d.datname, '*'), s.setconfig
  FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase
 WHERE r.rolname LIKE 'app\_%' ORDER BY 2, 3;
SELECT 'owner', pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'zakpos_db';
SQL
}
dumpall_globals() {
    "$ZB_PG_BIN/pg_dumpall" -h "$ZB_PG_SOCKET" -p "$ZB_PG_PORT" -U postgres --globals-only 2>&1 |
        grep -v -e '^--' -e '^SET ' -e '^$' -e 'ROLE postgres' -e '^\\'
}

for major in 12 14 16 17; do
    ZB_PG_SERVER_BIN=
    zb_pg_use_major "$major"
    ZB_PG_NAME=pg$major zb_pg_start
    v16=0
    [ "$major" -ge 16 ] && v16=1
    zb_psql >/dev/null <<SQL
CREATE ROLE app_group NOLOGIN;
CREATE ROLE app_owner LOGIN CREATEDB PASSWORD 'owner-pw-1' CONNECTION LIMIT 20;
CREATE ROLE app_reader LOGIN NOINHERIT VALID UNTIL '2031-01-01 00:00:00+00';
CREATE ROLE app_admin LOGIN CREATEROLE PASSWORD 'admin-pw-2';
CREATE ROLE app_super SUPERUSER;
CREATE ROLE app_replica LOGIN REPLICATION BYPASSRLS;
GRANT app_group TO app_reader WITH ADMIN OPTION;
GRANT app_group TO app_admin;
GRANT pg_monitor TO app_replica;
$([ "$v16" = 1 ] && echo "GRANT app_group TO app_owner WITH INHERIT FALSE, SET FALSE;")
ALTER ROLE app_reader SET search_path = app, public;
ALTER ROLE app_owner SET statement_timeout = '5min';
COMMENT ON ROLE app_owner IS 'the application''s owner';
COMMENT ON ROLE app_group IS 'everyone';
CREATE DATABASE zakpos_db OWNER app_owner;
ALTER ROLE app_reader IN DATABASE zakpos_db SET work_mem = '8MB';
SQL
    ZB_PG_DB=zakpos_db zb_psql -U app_owner -c "CREATE TABLE t (id int PRIMARY KEY)" -c "GRANT SELECT ON t TO app_group" >/dev/null
    catalog "$v16" >"catalog.$major.src"
    [ "$major" -le 15 ] && dumpall_globals >"globals.$major.src"
    zb_expect_status 0 "PostgreSQL $major: backup with --with-role-passwords" -- "$ZB_BIN" --log-format text backup \
        --repo "repo$major" --recipient key.pub --with-role-passwords --pg "$(zb_pg_conninfo zakpos_db)"
    zb_psql -c "DROP DATABASE zakpos_db" \
        -c "DROP ROLE app_group, app_owner, app_reader, app_admin, app_super, app_replica" >/dev/null
    zb_pg_recover_config "zb$major.conf" "$ZB_TMP/repo$major" "$ZB_TMP/state$major" zakpos_db "$ZB_TMP/key"
    zb_expect_status 0 "PostgreSQL $major: recover of the globals and the database" -- \
        "$ZB_BIN" --config "zb$major.conf" recover --report "$ZB_TMP/report$major"
    catalog "$v16" >"catalog.$major.after"
    if diff -u "catalog.$major.src" "catalog.$major.after" >diff; then zb_pass; else
        zb_fail "PostgreSQL $major: the roles differ after the recovery:"$'\n'"$(cat diff)"
    fi
    zb_expect_contains "$(cat "catalog.$major.src")" "member|app_group|app_reader|t|postgres" "PostgreSQL $major: the oracle saw the admin option"
    zb_expect_contains "$(cat "catalog.$major.src")" "|the application's owner" "PostgreSQL $major: and the comment"
    [ "$v16" = 1 ] && zb_expect_contains "$(cat "catalog.$major.src")" "member|app_group|app_owner|f|postgres|f|f" \
        "PostgreSQL $major: and the inherit and set options"
    if [ "$major" -le 15 ]; then
        dumpall_globals >"globals.$major.after"
        if diff -u "globals.$major.src" "globals.$major.after" >diff; then zb_pass; else
            zb_fail "PostgreSQL $major: pg_dumpall --globals-only differs:"$'\n'"$(cat diff)"
        fi
        zb_expect_contains "$(cat "globals.$major.src")" "CREATE ROLE app_reader" "PostgreSQL $major: pg_dumpall saw the roles"
    fi
    runuser -u postgres -- "$ZB_PG_SERVER_BIN/pg_ctl" -D "$ZB_PG_DATA" -m fast stop >/dev/null
done
zb_test_end
