#include "zakpos_backup/source/pg/globals.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/database.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Roles the server makes itself (pg_*) are never stored: every server has them. */
#define ROLE_COLUMNS                                                                                                   \
    "r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolreplication, "           \
    "r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil::text, pg_catalog.shobj_description(r.oid, 'pg_authid')"

static const char roles_sql[] = "SELECT " ROLE_COLUMNS
                                ", NULL::text FROM pg_catalog.pg_roles r "
                                "WHERE r.rolname !~ '^pg_' ORDER BY r.rolname";
static const char roles_with_passwords_sql[] = "SELECT " ROLE_COLUMNS
                                               ", r.rolpassword FROM pg_catalog.pg_authid r "
                                               "WHERE r.rolname !~ '^pg_' ORDER BY r.rolname";

/* Shared catalogs' text as an SQL_ASCII database shows it may not be UTF-8
 * (a comment, a role's setting in that database): such text is kept as
 * {"hex": ...}, decoded when globals.json is read. */
static json_t *text_or_null(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null()
                                      : zb_json_text(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

static int flag(PGresult *res, int row, int col) { return PQgetvalue(res, row, col)[0] == 't'; }

/* pg_authid is readable by superusers only: a backup role that is not one
 * gets every role without its verifier, and says so once. */
static int read_roles(json_t *roles, PGconn *conn, int with_passwords, int *passwords_read)
{
    PGresult *res = NULL;
    *passwords_read = 0;
    /* inside the backup's snapshot a refused query would end the
     * transaction: a savepoint keeps it */
    int in_transaction = PQtransactionStatus(conn) == PQTRANS_INTRANS;
    if (with_passwords && in_transaction && zb_pg_exec(conn, "SAVEPOINT zb_globals", "cannot set a savepoint") < 0)
        return zb_error_code();
    if (with_passwords) {
        res = PQexec(conn, roles_with_passwords_sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            *passwords_read = 1;
        else {
            char reason[256];
            snprintf(reason, sizeof(reason), "%s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?: "refused");
            zb_log_warn(
                "--with-role-passwords: this role cannot read pg_authid (%s); the roles are stored without "
                "their password verifiers",
                reason);
            PQclear(res);
            res = NULL;
            if (in_transaction &&
                zb_pg_exec(conn, "ROLLBACK TO SAVEPOINT zb_globals", "cannot roll back to a savepoint") < 0)
                return zb_error_code();
        }
    }
    int rc = res ? 0 : zb_pg_query(&res, conn, roles_sql, "cannot read the roles");
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        json_t *role = json_pack(
            "{s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:i, s:o, s:o}", "name", PQgetvalue(res, i, 0), "superuser",
            flag(res, i, 1), "inherit", flag(res, i, 2), "createrole", flag(res, i, 3), "createdb", flag(res, i, 4),
            "login", flag(res, i, 5), "replication", flag(res, i, 6), "bypassrls", flag(res, i, 7), "connection_limit",
            atoi(PQgetvalue(res, i, 8)), "valid_until", text_or_null(res, i, 9), "comment", text_or_null(res, i, 10));
        if (role && !PQgetisnull(res, i, 11))
            json_object_set_new(role, "password", json_string(PQgetvalue(res, i, 11)));
        rc = role && json_array_append_new(roles, role) == 0 ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

/* Memberships of stored roles in any role (pg_read_all_data included), with
 * who granted them and, from PostgreSQL 16 on, the inherit and set options. */
static int read_memberships(json_t *out, PGconn *conn)
{
    int v16 = PQserverVersion(conn) >= 160000;
    zb_buf sql = ZB_BUF_INIT;
    zb_buf_printf(&sql,
                  "SELECT ur.rolname, um.rolname, ug.rolname, a.admin_option, %s FROM pg_catalog.pg_auth_members a "
                  "JOIN pg_catalog.pg_roles ur ON ur.oid = a.roleid JOIN pg_catalog.pg_roles um ON um.oid = a.member "
                  "LEFT JOIN pg_catalog.pg_roles ug ON ug.oid = a.grantor WHERE um.rolname !~ '^pg_' "
                  "ORDER BY 1, 2, 3",
                  v16 ? "a.inherit_option, a.set_option" : "NULL::bool, NULL::bool");
    PGresult *res = NULL;
    int rc = sql.data ? zb_pg_query(&res, conn, sql.data, "cannot read the role memberships")
                      : zb_error_set(ZB_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        json_t *m = json_pack("{s:s, s:s, s:o, s:b}", "role", PQgetvalue(res, i, 0), "member", PQgetvalue(res, i, 1),
                              "grantor", text_or_null(res, i, 2), "admin", flag(res, i, 3));
        if (m && v16) {
            json_object_set_new(m, "inherit", json_boolean(flag(res, i, 4)));
            json_object_set_new(m, "set", json_boolean(flag(res, i, 5)));
        }
        rc = m && json_array_append_new(out, m) == 0 ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    }
    zb_buf_free(&sql);
    PQclear(res);
    return rc;
}

/* ALTER ROLE ... [IN DATABASE ...] SET: one "name=value" per setting, as the
 * server keeps them. */
static int read_settings(json_t *out, PGconn *conn)
{
    PGresult *res = NULL;
    int rc = zb_pg_query(&res, conn,
                         "SELECT r.rolname, d.datname, c.setting FROM pg_catalog.pg_db_role_setting s "
                         "JOIN pg_catalog.pg_roles r ON r.oid = s.setrole "
                         "LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase "
                         "CROSS JOIN LATERAL pg_catalog.unnest(s.setconfig) WITH ORDINALITY AS c(setting, n) "
                         "WHERE r.rolname !~ '^pg_' ORDER BY 1, 2 NULLS FIRST, c.n",
                         "cannot read the per-role settings");
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        json_t *s = json_pack("{s:s, s:o, s:o}", "role", PQgetvalue(res, i, 0), "database", text_or_null(res, i, 1),
                              "setting", text_or_null(res, i, 2));
        rc = s && json_array_append_new(out, s) == 0 ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

static int read_tablespaces(json_t *out, PGconn *conn)
{
    PGresult *res = NULL;
    int rc = zb_pg_query(
        &res, conn,
        "SELECT t.spcname, pg_catalog.pg_get_userbyid(t.spcowner), pg_catalog.pg_tablespace_location(t.oid), "
        "pg_catalog.array_to_string(t.spcoptions, ', '), pg_catalog.shobj_description(t.oid, 'pg_tablespace') "
        "FROM pg_catalog.pg_tablespace t WHERE t.spcname !~ '^pg_' ORDER BY 1",
        "cannot read the tablespaces");
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        json_t *t = json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", PQgetvalue(res, i, 0), "owner",
                              PQgetvalue(res, i, 1), "location", PQgetvalue(res, i, 2), "options",
                              text_or_null(res, i, 3), "comment", text_or_null(res, i, 4));
        rc = t && json_array_append_new(out, t) == 0 ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

int zb_pg_globals_read(json_t **out, PGconn *conn, int with_passwords)
{
    json_t *roles = json_array(), *memberships = json_array(), *settings = json_array(), *tablespaces = json_array();
    int passwords = 0;
    int rc = roles && memberships && settings && tablespaces ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = read_roles(roles, conn, with_passwords, &passwords);
    if (rc == 0)
        rc = read_memberships(memberships, conn);
    if (rc == 0)
        rc = read_settings(settings, conn);
    if (rc == 0)
        rc = read_tablespaces(tablespaces, conn);
    PGresult *owner = NULL;
    if (rc == 0)
        rc = zb_pg_query(&owner, conn,
                         "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database "
                         "WHERE datname = pg_catalog.current_database()",
                         "cannot read the database's owner");
    *out = rc == 0
               ? json_pack("{s:i, s:s, s:s, s:i, s:b, s:O, s:O, s:O, s:O}", "format", ZB_PG_GLOBALS_FORMAT, "database",
                           PQdb(conn), "database_owner", PQntuples(owner) ? PQgetvalue(owner, 0, 0) : "",
                           "server_version", PQserverVersion(conn), "passwords", passwords, "roles", roles,
                           "memberships", memberships, "settings", settings, "tablespaces", tablespaces)
               : NULL;
    if (rc == 0 && !*out)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    PQclear(owner);
    json_decref(roles);
    json_decref(memberships);
    json_decref(settings);
    json_decref(tablespaces);
    if (rc < 0)
        zb_error_context("reading the cluster globals (roles, tablespaces)");
    return rc;
}

/* --- applying ------------------------------------------------------------ */

static const char *str(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static int appendf_ident(zb_buf *sql, PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    int rc = q ? zb_buf_puts(sql, q) : zb_pg_result_error(conn, NULL, "cannot quote a name");
    PQfreemem(q);
    return rc;
}

static int appendf_literal(zb_buf *sql, PGconn *conn, const char *text)
{
    char *q = PQescapeLiteral(conn, text, strlen(text));
    int rc = q ? zb_buf_puts(sql, q) : zb_pg_result_error(conn, NULL, "cannot quote a value");
    PQfreemem(q);
    return rc;
}

static int role_exists(int *exists, PGconn *conn, const char *name)
{
    const char *params[1] = {name};
    PGresult *res =
        PQexecParams(conn, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", 1, NULL, params, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : zb_pg_result_error(conn, res, "cannot look up a role");
    *exists = rc == 0 && PQntuples(res) > 0;
    PQclear(res);
    return rc;
}

/* The verifier goes into the statement and nowhere else: the statement is
 * never logged, and a failure reports the server's message only. */
static int create_role_sql(zb_buf *sql, PGconn *conn, json_t *role)
{
    static const char *const attrs[][3] = {{"superuser", "SUPERUSER", "NOSUPERUSER"},
                                           {"inherit", "INHERIT", "NOINHERIT"},
                                           {"createrole", "CREATEROLE", "NOCREATEROLE"},
                                           {"createdb", "CREATEDB", "NOCREATEDB"},
                                           {"login", "LOGIN", "NOLOGIN"},
                                           {"replication", "REPLICATION", "NOREPLICATION"},
                                           {"bypassrls", "BYPASSRLS", "NOBYPASSRLS"}};
    int rc = zb_buf_puts(sql, "CREATE ROLE ");
    if (rc == 0)
        rc = appendf_ident(sql, conn, str(role, "name"));
    if (rc == 0)
        rc = zb_buf_puts(sql, " WITH");
    for (size_t i = 0; rc == 0 && i < ZB_ARRAY_LEN(attrs); i++)
        rc = zb_buf_printf(sql, " %s", json_is_true(json_object_get(role, attrs[i][0])) ? attrs[i][1] : attrs[i][2]);
    if (rc == 0)
        rc = zb_buf_printf(sql, " CONNECTION LIMIT %d",
                           (int)json_integer_value(json_object_get(role, "connection_limit")));
    if (rc == 0 && str(role, "valid_until") && (rc = zb_buf_puts(sql, " VALID UNTIL ")) == 0)
        rc = appendf_literal(sql, conn, str(role, "valid_until"));
    if (rc == 0 && str(role, "password") && (rc = zb_buf_puts(sql, " PASSWORD ")) == 0)
        rc = appendf_literal(sql, conn, str(role, "password"));
    return rc;
}

static int comment_sql(zb_buf *sql, PGconn *conn, const char *kind, const char *name, const char *comment)
{
    int rc = zb_buf_printf(sql, "COMMENT ON %s ", kind);
    if (rc == 0)
        rc = appendf_ident(sql, conn, name);
    if (rc == 0)
        rc = zb_buf_puts(sql, " IS ");
    return rc == 0 ? appendf_literal(sql, conn, comment) : rc;
}

/* A statement whose failure is not fatal: the server's message goes to the
 * report's problems and a warning. */
/* The error just set, as a warning and one of the report's problems. */
static void report_problem(zb_pg_globals_result *result)
{
    zb_log_warn("%s", zb_error_message());
    json_array_append_new(result->problems, json_string(zb_error_message()));
    zb_error_clear();
}

static void try_exec(zb_pg_globals_result *result, PGconn *conn, const char *sql, const char *what)
{
    if (zb_pg_exec(conn, sql, what) < 0)
        report_problem(result);
}

static int was_created(const zb_pg_globals_result *result, const char *name)
{
    size_t i;
    json_t *x;
    json_array_foreach (result->created, i, x)
        if (strcmp(json_string_value(x), name) == 0)
            return 1;
    return 0;
}

static int create_role(zb_pg_globals_result *result, PGconn *conn, json_t *role)
{
    const char *name = str(role, "name");
    int exists = 0;
    int rc = name ? role_exists(&exists, conn, name) : zb_error_set(ZB_EFORMAT, "globals.json: a role without a name");
    if (rc < 0 || exists) {
        if (rc == 0 && !was_created(result, name))
            json_array_append_new(result->kept, json_string(name));
        return rc;
    }
    zb_buf sql = ZB_BUF_INIT;
    if ((rc = create_role_sql(&sql, conn, role)) == 0 && (rc = zb_pg_exec(conn, sql.data, "cannot create a role")) < 0)
        zb_error_context("role %s", name);
    if (sql.data)
        sodium_memzero(sql.data, sql.len); /* it held the verifier */
    zb_buf_reset(&sql);
    ZB_FAULT_POINT("pg-role-created", name);
    if (rc == 0) {
        /* a role an interrupted recovery meant to create is listed already */
        if (!was_created(result, name))
            json_array_append_new(result->created, json_string(name));
        if (!str(role, "password") && json_is_true(json_object_get(role, "login")))
            json_array_append_new(result->without_password, json_string(name));
    }
    zb_buf_free(&sql);
    return rc;
}

/* After the roles: a kill between a role's creation and its comment leaves
 * it to the next recovery, which counts the role as its own. */
static void comment_role(zb_pg_globals_result *result, PGconn *conn, json_t *role)
{
    const char *name = str(role, "name");
    zb_buf sql = ZB_BUF_INIT;
    if (name && str(role, "comment") && was_created(result, name) &&
        comment_sql(&sql, conn, "ROLE", name, str(role, "comment")) == 0)
        try_exec(result, conn, sql.data, "cannot set a role's comment");
    zb_buf_free(&sql);
}

/* GRANT role TO member, with the options the source had where this server
 * knows them; GRANTED BY as recorded, else (the grantor cannot grant here)
 * by the restoring role. */
static void grant_membership(zb_pg_globals_result *result, PGconn *conn, json_t *m)
{
    int v16 = PQserverVersion(conn) >= 160000;
    for (int with_grantor = str(m, "grantor") ? 1 : 0; with_grantor >= 0; with_grantor--) {
        zb_buf sql = ZB_BUF_INIT;
        zb_buf_puts(&sql, "GRANT ");
        appendf_ident(&sql, conn, str(m, "role"));
        zb_buf_puts(&sql, " TO ");
        appendf_ident(&sql, conn, str(m, "member"));
        if (v16)
            zb_buf_printf(&sql, " WITH ADMIN %s, INHERIT %s, SET %s",
                          json_is_true(json_object_get(m, "admin")) ? "TRUE" : "FALSE",
                          json_object_get(m, "inherit") && !json_is_true(json_object_get(m, "inherit")) ? "FALSE"
                                                                                                        : "TRUE",
                          json_object_get(m, "set") && !json_is_true(json_object_get(m, "set")) ? "FALSE" : "TRUE");
        else if (json_is_true(json_object_get(m, "admin")))
            zb_buf_puts(&sql, " WITH ADMIN OPTION");
        if (with_grantor) {
            zb_buf_puts(&sql, " GRANTED BY ");
            appendf_ident(&sql, conn, str(m, "grantor"));
        }
        int rc = sql.data ? zb_pg_exec(conn, sql.data, "cannot grant a role membership")
                          : zb_error_set(ZB_ENOMEM, "out of memory");
        zb_buf_free(&sql);
        if (rc == 0)
            return;
        if (with_grantor) {
            zb_log_detail("%s; granting it again without GRANTED BY", zb_error_message());
            zb_error_clear();
            continue;
        }
        zb_error_context("membership of %s in %s", str(m, "member"), str(m, "role"));
        report_problem(result);
    }
}

/* Lists such as search_path are stored as the server prints them (names
 * already quoted where needed), so they go back unquoted, as pg_dumpall does. */
static int is_list_setting(const char *name, size_t len)
{
    static const char *const lists[] = {"search_path", "temp_tablespaces", "session_preload_libraries",
                                        "local_preload_libraries", "shared_preload_libraries"};
    for (size_t i = 0; i < ZB_ARRAY_LEN(lists); i++)
        if (strlen(lists[i]) == len && strncmp(lists[i], name, len) == 0)
            return 1;
    return 0;
}

static void apply_setting(zb_pg_globals_result *result, PGconn *conn, json_t *s, const char *db)
{
    const char *setting = str(s, "setting");
    const char *eq = setting ? strchr(setting, '=') : NULL;
    if (!eq || eq == setting)
        return;
    zb_buf sql = ZB_BUF_INIT;
    int rc = zb_buf_puts(&sql, "ALTER ROLE ");
    if (rc == 0)
        rc = appendf_ident(&sql, conn, str(s, "role"));
    if (rc == 0 && db && (rc = zb_buf_puts(&sql, " IN DATABASE ")) == 0)
        rc = appendf_ident(&sql, conn, db);
    if (rc == 0)
        rc = zb_buf_printf(&sql, " SET %.*s TO ", (int)(eq - setting), setting);
    if (rc == 0)
        rc = is_list_setting(setting, (size_t)(eq - setting)) ? zb_buf_puts(&sql, eq + 1)
                                                              : appendf_literal(&sql, conn, eq + 1);
    /* a value this session cannot quote (bytes not in its encoding) is a
     * problem to report, never half a statement to run */
    if (rc == 0)
        try_exec(result, conn, sql.data, "cannot restore a per-role setting");
    else {
        zb_error_context("cannot restore a per-role setting of role %s", str(s, "role"));
        report_problem(result);
    }
    zb_buf_free(&sql);
}

/* CREATE TABLESPACE cannot run in a transaction and needs its folder on
 * this host: one that fails is reported, the database then uses the default.
 * Its owner is given here where the role exists already, else by
 * zb_pg_globals_apply once the roles are made. */
static void create_tablespace(zb_pg_globals_result *result, PGconn *conn, json_t *t)
{
    const char *params[1] = {str(t, "name")};
    PGresult *res =
        PQexecParams(conn, "SELECT 1 FROM pg_catalog.pg_tablespace WHERE spcname = $1", 1, NULL, params, NULL, NULL, 0);
    int exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
    PQclear(res);
    if (exists || !params[0])
        return;
    zb_buf sql = ZB_BUF_INIT;
    int owner_exists = 0;
    if (str(t, "owner") && role_exists(&owner_exists, conn, str(t, "owner")) < 0) {
        zb_error_context("tablespace %s", params[0]);
        report_problem(result);
        return;
    }
    zb_buf_puts(&sql, "CREATE TABLESPACE ");
    appendf_ident(&sql, conn, params[0]);
    if (owner_exists) {
        zb_buf_puts(&sql, " OWNER ");
        appendf_ident(&sql, conn, str(t, "owner"));
    }
    zb_buf_puts(&sql, " LOCATION ");
    appendf_literal(&sql, conn, str(t, "location") ? str(t, "location") : "");
    if (str(t, "options"))
        zb_buf_printf(&sql, " WITH (%s)", str(t, "options"));
    if (sql.data && zb_pg_exec(conn, sql.data, "cannot create a tablespace") == 0) {
        json_array_append_new(result->tablespaces, json_string(params[0]));
        zb_buf_reset(&sql);
        if (str(t, "comment") && comment_sql(&sql, conn, "TABLESPACE", params[0], str(t, "comment")) == 0)
            try_exec(result, conn, sql.data, "cannot set a tablespace's comment");
    } else if (sql.data) {
        zb_error_context("tablespace %s", params[0]);
        report_problem(result);
    }
    zb_buf_free(&sql);
}

static int result_init(zb_pg_globals_result *r)
{
    if (r->created)
        return 0;
    r->created = json_array();
    r->kept = json_array();
    r->without_password = json_array();
    r->tablespaces = json_array();
    r->problems = json_array();
    return r->created && r->kept && r->without_password && r->tablespaces && r->problems
               ? 0
               : zb_error_set(ZB_ENOMEM, "out of memory");
}

void zb_pg_globals_result_free(zb_pg_globals_result *r)
{
    if (!r)
        return;
    json_decref(r->created);
    json_decref(r->kept);
    json_decref(r->without_password);
    json_decref(r->tablespaces);
    json_decref(r->problems);
    memset(r, 0, sizeof(*r));
}

static int created_tablespace(const zb_pg_globals_result *result, const char *name)
{
    size_t i;
    json_t *x;
    json_array_foreach (result->tablespaces, i, x)
        if (name && strcmp(json_string_value(x), name) == 0)
            return 1;
    return 0;
}

/* A tablespace made before its owner's role existed belongs to the
 * connecting role until now. */
static void give_tablespace_owner(zb_pg_globals_result *result, PGconn *conn, json_t *t)
{
    zb_buf sql = ZB_BUF_INIT;
    zb_buf_puts(&sql, "ALTER TABLESPACE ");
    appendf_ident(&sql, conn, str(t, "name"));
    zb_buf_puts(&sql, " OWNER TO ");
    appendf_ident(&sql, conn, str(t, "owner"));
    if (sql.data)
        try_exec(result, conn, sql.data, "cannot give a tablespace its owner");
    zb_buf_free(&sql);
}

int zb_pg_globals_create_tablespaces(zb_pg_globals_result *result, PGconn *conn, json_t *globals)
{
    int rc = result_init(result);
    size_t i;
    json_t *x;
    json_array_foreach (json_object_get(globals, "tablespaces"), i, x)
        if (rc == 0)
            create_tablespace(result, conn, x);
    return rc;
}

void zb_pg_globals_drop_tablespaces(zb_pg_globals_result *result, PGconn *conn)
{
    size_t i;
    json_t *x;
    json_array_foreach (result->tablespaces, i, x) {
        zb_buf sql = ZB_BUF_INIT;
        zb_buf_puts(&sql, "DROP TABLESPACE ");
        appendf_ident(&sql, conn, json_string_value(x));
        if (sql.data && zb_pg_exec(conn, sql.data, "cannot drop a tablespace this recovery created") < 0) {
            zb_log_warn("%s", zb_error_message());
            zb_error_clear();
        }
        zb_buf_free(&sql);
    }
    json_array_clear(result->tablespaces);
}

int zb_pg_globals_apply(zb_pg_globals_result *result, PGconn *conn, json_t *globals, json_t *ours)
{
    int rc = result_init(result);
    size_t i;
    json_t *x;
    json_array_foreach (ours, i, x)
        if (rc == 0 && !was_created(result, json_string_value(x)))
            json_array_append(result->created, x);
    json_array_foreach (json_object_get(globals, "roles"), i, x) {
        if (rc == 0)
            rc = create_role(result, conn, x);
    }
    if (rc < 0)
        return zb_error_context("restoring the cluster's roles");
    json_array_foreach (json_object_get(globals, "roles"), i, x)
        comment_role(result, conn, x);
    /* memberships and settings only where a role is new here: a role that
     * existed keeps what it has */
    json_array_foreach (json_object_get(globals, "memberships"), i, x)
        if (was_created(result, str(x, "member")))
            grant_membership(result, conn, x);
    json_array_foreach (json_object_get(globals, "settings"), i, x)
        if (json_is_null(json_object_get(x, "database")) && was_created(result, str(x, "role")))
            apply_setting(result, conn, x, NULL);
    zb_pg_globals_create_tablespaces(result, conn, globals);
    json_array_foreach (json_object_get(globals, "tablespaces"), i, x)
        if (str(x, "owner") && created_tablespace(result, str(x, "name")))
            give_tablespace_owner(result, conn, x);
    size_t n = json_array_size(result->without_password);
    if (n > 0) {
        zb_buf names = ZB_BUF_INIT;
        json_array_foreach (result->without_password, i, x)
            zb_buf_printf(&names, "%s%s", i ? ", " : "", json_string_value(x));
        zb_log_warn(
            "%zu login role%s restored without a password (the archive holds no verifier; back up with "
            "--with-role-passwords, or set one with ALTER ROLE ... PASSWORD): %s",
            n, n == 1 ? "" : "s", names.data ? names.data : "");
        zb_buf_free(&names);
    }
    return 0;
}

int zb_pg_globals_apply_database(zb_pg_globals_result *result, PGconn *conn, json_t *globals, const char *db)
{
    int rc = result_init(result);
    size_t i;
    json_t *x;
    const char *owner = str(globals, "database_owner");
    if (rc == 0 && owner && *owner) { /* a restore creates the database as the role it connects as */
        zb_buf sql = ZB_BUF_INIT;
        zb_buf_puts(&sql, "ALTER DATABASE ");
        appendf_ident(&sql, conn, db);
        zb_buf_puts(&sql, " OWNER TO ");
        appendf_ident(&sql, conn, owner);
        if (sql.data)
            try_exec(result, conn, sql.data, "cannot give the database its owner");
        zb_buf_free(&sql);
    }
    json_array_foreach (json_object_get(globals, "settings"), i, x) {
        const char *setting_db = str(x, "database");
        /* the database is new: every role's settings in it come back */
        if (rc == 0 && setting_db && strcmp(setting_db, db) == 0)
            apply_setting(result, conn, x, db);
    }
    return rc;
}

int zb_pg_globals_check(json_t *blocked, json_t *existing, PGconn *conn, json_t *globals)
{
    PGresult *res = NULL;
    int rc =
        zb_pg_query(&res, conn, "SELECT rolsuper, rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user",
                    "cannot read the connecting role");
    if (rc < 0)
        return rc;
    int super = PQntuples(res) > 0 && flag(res, 0, 0), createrole = PQntuples(res) > 0 && flag(res, 0, 1);
    PQclear(res);
    size_t i;
    json_t *role;
    zb_buf msg = ZB_BUF_INIT;
    json_array_foreach (json_object_get(globals, "roles"), i, role) {
        int exists = 0;
        const char *name = str(role, "name");
        if (!name || (rc = role_exists(&exists, conn, name)) < 0)
            break;
        if (exists) {
            json_array_append_new(existing, json_string(name));
            continue;
        }
        int needs_super = json_is_true(json_object_get(role, "superuser")) ||
                          json_is_true(json_object_get(role, "replication")) ||
                          json_is_true(json_object_get(role, "bypassrls"));
        zb_buf_reset(&msg);
        if (!super && !createrole)
            zb_buf_printf(&msg, "role %s cannot be created: the connecting role has neither SUPERUSER nor CREATEROLE",
                          name);
        else if (!super && needs_super)
            zb_buf_printf(&msg,
                          "role %s cannot be created: it has SUPERUSER, REPLICATION or BYPASSRLS, which only a "
                          "superuser can give",
                          name);
        if (msg.data && msg.len)
            json_array_append_new(blocked, json_string(msg.data));
    }
    zb_buf_free(&msg);
    return rc;
}

int zb_pg_globals_missing(json_t *missing, PGconn *conn, json_t *globals)
{
    size_t i;
    json_t *role;
    json_array_foreach (json_object_get(globals, "roles"), i, role) {
        int exists = 0;
        const char *name = str(role, "name");
        int rc =
            name ? role_exists(&exists, conn, name) : zb_error_set(ZB_EFORMAT, "globals.json: a role without a name");
        if (rc < 0)
            return rc;
        if (!exists && json_array_append_new(missing, json_string(name)) != 0)
            return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    return 0;
}

int zb_pg_globals_take(json_t **globals, zb_archive_reader *r, struct archive_entry *entry, const zb_entry_info *info)
{
    if (strcmp(info->source_kind, ZB_SOURCE_PG) != 0 || strcmp(info->relative, ZB_PG_GLOBALS_NAME) != 0)
        return 0;
    if (*globals)
        return zb_error_set(ZB_EFORMAT,
                            "the archive holds a second %s (database %s): one recovery restores one "
                            "database's globals",
                            ZB_PG_GLOBALS_NAME, info->source_name);
    char what[256], *text = NULL;
    size_t len = 0;
    snprintf(what, sizeof(what), "%s of database %s", ZB_PG_GLOBALS_NAME, info->source_name);
    int rc = zb_pg_read_entry(&text, &len, r, entry, ZB_JSON_MAX_TEXT, what);
    if (rc == 0)
        rc = zb_json_parse_limited(globals, text, len, what);
    if (rc == 0)
        rc = zb_json_texts_decode(*globals, what);
    if (text)
        sodium_memzero(text, len); /* may hold password verifiers */
    free(text);
    return rc < 0 ? rc : 1;
}
