#include "zakpos_backup/source/pg/database.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/fingerprint.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ reading */

/* The properties as one JSON object. @TEXT(x)@ and @TEXTS(x)@ stand for a
 * text and a text[] (properties_query): an SQL_ASCII database's comment,
 * settings and role names are its bytes as stored, which need not be UTF-8
 * and which the server's JSON would carry raw, so there each is read as
 * {"hex": ...} of its bytes. */
static const char properties_sql[] =
    "SELECT json_build_object('owner', @TEXT(pg_get_userbyid(d.datdba))@, "
    "'encoding', pg_encoding_to_char(d.encoding), "
    "'lc_collate', d.datcollate, 'lc_ctype', d.datctype, 'locale_provider', @DATPROVIDER@, "
    "'icu_locale', @DATLOCALE@, 'icu_rules', @ICURULES@, 'connection_limit', d.datconnlimit, "
    "'comment', @TEXT(shobj_description(d.oid, 'pg_database'))@, 'acl', @TEXTS(d.datacl::text[])@, "
    "'settings', (SELECT @TEXTS(s.setconfig)@ FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0), "
    "'role_settings', (SELECT json_agg(json_build_object('role', @TEXT(pg_get_userbyid(s.setrole))@, "
    "'settings', @TEXTS(s.setconfig)@) ORDER BY pg_get_userbyid(s.setrole)) FROM pg_db_role_setting s "
    "WHERE s.setdatabase = d.oid AND s.setrole <> 0)"
    ")::text FROM pg_database d WHERE d.datname = current_database()";

/* properties_sql with its @TEXT(x)@ and @TEXTS(x)@ written out: the values
 * themselves, or in an SQL_ASCII database their bytes in hex (a conversion
 * to SQL_ASCII converts nothing). */
static int properties_query(zb_buf *q, int sql_ascii)
{
    int rc = 0;
    for (const char *p = properties_sql; rc == 0 && *p;) {
        int is_texts = strncmp(p, "@TEXTS(", 7) == 0, is_text = !is_texts && strncmp(p, "@TEXT(", 6) == 0;
        const char *end = is_text || is_texts ? strstr(p, ")@") : NULL;
        if (!end) {
            const char *next = strchr(p + 1, '@');
            size_t n = next ? (size_t)(next - p) : strlen(p);
            rc = zb_buf_append(q, p, n);
            p += n;
            continue;
        }
        const char *arg = p + (is_texts ? 7 : 6);
        int n = (int)(end - arg);
        p = end + 2;
        if (!sql_ascii)
            rc = zb_buf_printf(q, "%.*s", n, arg);
        else if (is_text)
            rc = zb_buf_printf(q,
                               "CASE WHEN (%.*s) IS NULL THEN NULL ELSE json_build_object('hex', "
                               "encode(convert_to((%.*s)::text, 'SQL_ASCII'), 'hex')) END",
                               n, arg, n, arg);
        else
            rc = zb_buf_printf(q,
                               "(SELECT json_agg(json_build_object('hex', encode(convert_to(e, 'SQL_ASCII'), 'hex')) "
                               "ORDER BY o) FROM unnest(%.*s) WITH ORDINALITY u(e, o))",
                               n, arg);
    }
    return rc;
}

int zb_pg_database_read(json_t **out, PGconn *conn)
{
    *out = NULL;
    char *sql = NULL;
    zb_buf q = ZB_BUF_INIT;
    int sql_ascii = zb_pg_is_sql_ascii(conn);
    int rc = properties_query(&q, sql_ascii);
    if (rc == 0)
        rc = zb_pg_fingerprint_sql(&sql, q.data, PQserverVersion(conn));
    PGresult *res = rc == 0 ? PQexec(conn, sql) : NULL;
    if (rc == 0 && (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1))
        rc = zb_pg_result_error(conn, res, "cannot read the database's properties");
    if (rc == 0)
        rc = zb_json_parse_limited(out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0),
                                   "the database's properties");
    /* the bytes back, then in hex only the ones that are not UTF-8, as
     * everywhere in the archive: the properties of a database whose text
     * is all UTF-8 are written as they always were */
    json_t *encoded = NULL;
    if (rc == 0 && sql_ascii && (rc = zb_json_texts_decode(*out, "the database's properties")) == 0 &&
        (rc = zb_json_texts_encode(&encoded, *out)) == 0) {
        json_decref(*out);
        *out = encoded;
    }
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    PQclear(res);
    free(sql);
    zb_buf_free(&q);
    return rc;
}

int zb_pg_read_entry(char **out, size_t *len, zb_archive_reader *r, struct archive_entry *entry, size_t limit,
                     const char *what)
{
    la_int64_t size = archive_entry_size(entry);
    if (size < 0 || (uint64_t)size > limit)
        return zb_error_set(ZB_EFORMAT, "%s is too large (%lld bytes)", what, (long long)size);
    char *buf = malloc((size_t)size + 1);
    if (!buf)
        return zb_error_set(ZB_ENOMEM, "out of memory for %s", what);
    size_t got = 0;
    ssize_t n;
    while (got < (size_t)size && (n = zb_archive_reader_read(r, buf + got, (size_t)size - got)) > 0)
        got += (size_t)n;
    if (got != (size_t)size) {
        sodium_memzero(buf, got); /* a partly read globals.json may hold password verifiers */
        free(buf);
        return zb_error_code() < 0 ? zb_error_code() : zb_error_set(ZB_EFORMAT, "%s is truncated", what);
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

int zb_pg_read_json_entry(json_t **out, zb_archive_reader *r, struct archive_entry *entry, const char *what)
{
    char *text = NULL;
    size_t len = 0;
    int rc = zb_pg_read_entry(&text, &len, r, entry, ZB_JSON_MAX_CATALOG_TEXT, what);
    if (rc == 0)
        rc = zb_json_parse_catalog(out, text, len, what);
    free(text);
    return rc;
}

/* ------------------------------------------------------------ creating */

static const char *prop(json_t *props, const char *name) { return json_string_value(json_object_get(props, name)); }

static int append_literal(zb_buf *sql, PGconn *conn, const char *text)
{
    char *q = PQescapeLiteral(conn, text, strlen(text));
    int rc = q ? zb_buf_puts(sql, q) : zb_error_set(ZB_ENOMEM, "out of memory");
    PQfreemem(q);
    return rc;
}

static int append_ident(zb_buf *sql, PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    int rc = q ? zb_buf_puts(sql, q) : zb_error_set(ZB_ENOMEM, "out of memory");
    PQfreemem(q);
    return rc;
}

/* " KEYWORD 'value'" when value is set */
static int append_option(zb_buf *sql, PGconn *conn, const char *keyword, const char *value)
{
    if (!value || !*value)
        return 0;
    int rc = zb_buf_printf(sql, " %s ", keyword);
    return rc < 0 ? rc : append_literal(sql, conn, value);
}

/* The locale clauses: the ones asked for, else the source's. */
static int append_locale(zb_buf *sql, PGconn *conn, json_t *props, const zb_pg_database_locale *asked,
                         const char **what)
{
    int v = PQserverVersion(conn), rc = 0;
    const char *provider = prop(props, "locale_provider") ?: "c";
    const char *collate = prop(props, "lc_collate"), *ctype = prop(props, "lc_ctype");
    const char *icu = prop(props, "icu_locale");
    if (asked && asked->locale)
        collate = ctype = asked->locale, provider = "c", icu = NULL;
    if (asked && asked->icu_locale)
        provider = "i", icu = asked->icu_locale;
    *what = strcmp(provider, "i") == 0 ? icu : collate;
    if (strcmp(provider, "c") != 0 && v < 150000) {
        zb_error_set(ZB_EPG,
                     "the target server (PostgreSQL %d) has no %s locale provider, which the database uses (%s)",
                     v / 10000, strcmp(provider, "i") == 0 ? "ICU" : "builtin", icu ? icu : "?");
        return zb_error_hint("restore into PostgreSQL 15 or newer, or pass --pg-locale NAME to use a libc locale");
    }
    if (v >= 150000)
        rc = zb_buf_printf(sql, " LOCALE_PROVIDER %s",
                           strcmp(provider, "i") == 0   ? "icu"
                           : strcmp(provider, "b") == 0 ? "builtin"
                                                        : "libc");
    if (rc == 0)
        rc = append_option(sql, conn, "LC_COLLATE", collate);
    if (rc == 0)
        rc = append_option(sql, conn, "LC_CTYPE", ctype);
    if (rc == 0 && strcmp(provider, "i") == 0)
        rc = append_option(sql, conn, "ICU_LOCALE", icu);
    if (rc == 0 && strcmp(provider, "b") == 0)
        rc = append_option(sql, conn, "BUILTIN_LOCALE", icu);
    if (rc == 0 && strcmp(provider, "i") == 0 && !(asked && asked->icu_locale))
        rc = append_option(sql, conn, "ICU_RULES", prop(props, "icu_rules"));
    return rc;
}

int zb_pg_database_create(PGconn *maintenance, const char *name, json_t *props, const char *encoding,
                          const zb_pg_database_locale *locale)
{
    const char *enc = prop(props, "encoding") ?: encoding ?: "UTF8";
    const char *what = NULL;
    zb_buf sql = ZB_BUF_INIT;
    int rc = zb_buf_puts(&sql, "CREATE DATABASE ");
    if (rc == 0)
        rc = append_ident(&sql, maintenance, name);
    if (rc == 0)
        rc = append_option(&sql, maintenance, "TEMPLATE template0 ENCODING", enc);
    /* archives without the properties: the server's locale, as before */
    if (rc == 0 && (props || (locale && (locale->locale || locale->icu_locale))))
        rc = append_locale(&sql, maintenance, props, locale, &what);
    PGresult *res = rc == 0 ? PQexec(maintenance, sql.data) : NULL;
    if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
        zb_pg_result_error(maintenance, res, "the server says");
        char *why = zb_strdup(zb_error_message());
        rc = zb_error_set(ZB_EPG, "the target server cannot create a database with encoding %s and locale %s: %s", enc,
                          what ? what : "(the server's default)", why ? why : "?");
        free(why);
        zb_error_hint(
            "pass --pg-locale NAME (a locale the server's system has that fits encoding %s) or "
            "--pg-icu-locale NAME to restore with another locale",
            enc);
    }
    PQclear(res);
    zb_buf_free(&sql);
    return rc;
}

/* ------------------------------------------------------------ applying */

typedef struct applying {
    PGconn *conn;
    const char *name; /* the database */
    int scratch;
    json_t *left_out;
} applying;

static int role_exists(applying *a, const char *role, const char *needed_for)
{
    const char *params[1] = {role};
    PGresult *res =
        PQexecParams(a->conn, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", 1, NULL, params, NULL, NULL, 0);
    int exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
    PQclear(res);
    if (!exists)
        zb_log_warn(
            "role \"%s\" does not exist on the target server: %s of database \"%s\" skipped (the recover "
            "command creates the source's roles)",
            role, needed_for, a->name);
    /* a scratch database missing it is not a restore that differs */
    if (!exists && a->scratch)
        json_array_append_new(a->left_out, json_pack("{s:s, s:s, s:s}", "id", "DATABASE", "what", "owner", "reason",
                                                     "the role does not exist on the verification server"));
    return exists;
}

/* Runs one statement; in a scratch restore a refusal is listed, not fatal
 * (the comparison then leaves the database's own properties out). */
static int run(applying *a, const char *sql, const char *what)
{
    PGresult *res = PQexec(a->conn, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : zb_pg_result_error(a->conn, res, what);
    PQclear(res);
    if (rc < 0 && a->scratch) {
        zb_log_warn("%s", zb_error_message());
        json_array_append_new(a->left_out, json_pack("{s:s, s:s, s:s}", "id", "DATABASE", "what",
                                                     strstr(what, "privilege") ? "privileges" : "owner", "reason",
                                                     zb_error_message()));
        zb_error_clear();
        rc = 0;
    }
    return rc;
}

/* ALTER DATABASE name <clause> */
static int alter(applying *a, zb_buf *sql, const char *what)
{
    int rc = run(a, sql->data, what);
    zb_buf_reset(sql);
    return rc;
}

static int start_alter(zb_buf *sql, applying *a, const char *head)
{
    zb_buf_reset(sql);
    int rc = zb_buf_puts(sql, head);
    return rc < 0 ? rc : append_ident(sql, a->conn, a->name);
}

/* Settings whose value is a list the server printed already quoted
 * (GUC_LIST_QUOTE): each element is given again as its own literal. */
static int is_list_setting(const char *name)
{
    static const char *const lists[] = {"search_path",
                                        "temp_tablespaces",
                                        "session_preload_libraries",
                                        "local_preload_libraries",
                                        "shared_preload_libraries",
                                        "unix_socket_directories",
                                        NULL};
    for (size_t i = 0; lists[i]; i++)
        if (strcmp(name, lists[i]) == 0)
            return 1;
    return 0;
}

static int append_list_value(zb_buf *sql, PGconn *conn, const char *value)
{
    int rc = 0, first = 1;
    const char *p = value;
    while (rc == 0 && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        zb_buf item = ZB_BUF_INIT;
        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
                if (*p == '"')
                    p++; /* "" is one quote */
                zb_buf_append(&item, p, 1);
            }
            if (*p == '"')
                p++;
        } else {
            const char *end = p;
            while (*end && *end != ',')
                end++;
            const char *last = end;
            while (last > p && last[-1] == ' ')
                last--;
            zb_buf_append(&item, p, (size_t)(last - p));
            p = end;
        }
        rc = zb_buf_puts(sql, first ? "" : ", ");
        if (rc == 0)
            rc = append_literal(sql, conn, item.data ? item.data : "");
        zb_buf_free(&item);
        first = 0;
    }
    return rc == 0 && first ? append_literal(sql, conn, "") : rc;
}

/* " SET name = value" from a pg_db_role_setting entry "name=value" */
static int append_setting(zb_buf *sql, PGconn *conn, const char *setting)
{
    const char *eq = strchr(setting, '=');
    if (!eq)
        return zb_error_set(ZB_EFORMAT, "a database setting without a value: %s", setting);
    char *name = zb_strdup(setting);
    if (!name)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    name[eq - setting] = '\0';
    int rc = zb_buf_puts(sql, " SET ");
    if (rc == 0)
        rc = append_ident(sql, conn, name);
    if (rc == 0)
        rc = zb_buf_puts(sql, " = ");
    if (rc == 0)
        rc = is_list_setting(name) ? append_list_value(sql, conn, eq + 1) : append_literal(sql, conn, eq + 1);
    free(name);
    return rc;
}

static int apply_settings(applying *a, json_t *props)
{
    zb_buf sql = ZB_BUF_INIT;
    int rc = 0;
    size_t i, k;
    json_t *s, *rs;
    json_array_foreach (json_object_get(props, "settings"), i, s) {
        if ((rc = start_alter(&sql, a, "ALTER DATABASE ")) < 0 ||
            (rc = append_setting(&sql, a->conn, json_string_value(s) ?: "")) < 0 ||
            (rc = alter(a, &sql, "cannot apply a setting of the database")) < 0)
            break;
    }
    json_array_foreach (json_object_get(props, "role_settings"), k, rs) {
        const char *role = prop(rs, "role");
        if (rc < 0 || !role || !role_exists(a, role, "the role's settings"))
            continue;
        json_array_foreach (json_object_get(rs, "settings"), i, s) {
            zb_buf_reset(&sql);
            if ((rc = zb_buf_puts(&sql, "ALTER ROLE ")) < 0 || (rc = append_ident(&sql, a->conn, role)) < 0 ||
                (rc = zb_buf_puts(&sql, " IN DATABASE ")) < 0 || (rc = append_ident(&sql, a->conn, a->name)) < 0 ||
                (rc = append_setting(&sql, a->conn, json_string_value(s) ?: "")) < 0 ||
                (rc = alter(a, &sql, "cannot apply a role's setting in the database")) < 0)
                break;
        }
    }
    zb_buf_free(&sql);
    return rc;
}

/* One role name of an aclitem's text: quoted ("a""b") or bare; "" is PUBLIC. */
static const char *acl_name(zb_buf *out, const char *p, char stop)
{
    zb_buf_reset(out);
    if (*p == '"') {
        for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
            if (*p == '"')
                p++;
            zb_buf_append(out, p, 1);
        }
        return *p ? p + 1 : p;
    }
    while (*p && *p != stop)
        zb_buf_append(out, p++, 1);
    return p;
}

static const char *database_privilege(char c)
{
    return c == 'C' ? "CREATE" : c == 'T' ? "TEMPORARY" : c == 'c' ? "CONNECT" : NULL;
}

/* GRANT for one aclitem "grantee=privileges/grantor", as its grantor. */
static int grant_item(applying *a, const char *item, const char *owner)
{
    zb_buf grantee = ZB_BUF_INIT, grantor = ZB_BUF_INIT, sql = ZB_BUF_INIT;
    const char *p = acl_name(&grantee, item, '=');
    const char *privs = *p == '=' ? p + 1 : p;
    const char *slash = strchr(privs, '/');
    int rc = 0;
    if (slash)
        acl_name(&grantor, slash + 1, '\0');
    const char *to = grantee.len ? grantee.data : NULL, *by = grantor.len ? grantor.data : owner;
    if ((to && !role_exists(a, to, "a grant")) || (by && !role_exists(a, by, "a grant")))
        goto done;
    int as_other = by && owner && strcmp(by, owner) != 0;
    if (as_other && ((rc = zb_buf_puts(&sql, "SET ROLE ")) < 0 || (rc = append_ident(&sql, a->conn, by)) < 0 ||
                     (rc = zb_buf_puts(&sql, "; ")) < 0))
        goto done;
    for (const char *c = privs; rc == 0 && *c && *c != '/'; c++) {
        const char *word = database_privilege(*c);
        if (!word)
            continue;
        rc = zb_buf_printf(&sql, "GRANT %s ON DATABASE ", word);
        if (rc == 0)
            rc = append_ident(&sql, a->conn, a->name);
        if (rc == 0)
            rc = zb_buf_puts(&sql, " TO ");
        if (rc == 0)
            rc = to ? append_ident(&sql, a->conn, to) : zb_buf_puts(&sql, "PUBLIC");
        if (rc == 0)
            rc = zb_buf_puts(&sql, c[1] == '*' ? " WITH GRANT OPTION; " : "; ");
    }
    if (rc == 0 && as_other)
        rc = zb_buf_puts(&sql, "RESET ROLE");
    if (rc == 0 && sql.len)
        rc = run(a, sql.data, "cannot grant a privilege on the database");
    if (as_other)
        PQclear(PQexec(a->conn, "RESET ROLE"));
done:
    zb_buf_free(&grantee);
    zb_buf_free(&grantor);
    zb_buf_free(&sql);
    return rc;
}

/* A NULL ACL is the default (owner all, PUBLIC connect and temporary) and
 * needs nothing; otherwise the defaults go and the source's items come. */
static int apply_acl(applying *a, json_t *props)
{
    json_t *acl = json_object_get(props, "acl");
    if (!json_is_array(acl))
        return 0;
    const char *owner = prop(props, "owner");
    zb_buf sql = ZB_BUF_INIT;
    int rc = start_alter(&sql, a, "REVOKE ALL ON DATABASE ");
    if (rc == 0)
        rc = zb_buf_puts(&sql, " FROM PUBLIC");
    if (rc == 0 && owner && role_exists(a, owner, "the owner's privileges")) {
        if ((rc = zb_buf_puts(&sql, "; REVOKE ALL ON DATABASE ")) == 0 &&
            (rc = append_ident(&sql, a->conn, a->name)) == 0 && (rc = zb_buf_puts(&sql, " FROM ")) == 0)
            rc = append_ident(&sql, a->conn, owner);
    }
    if (rc == 0)
        rc = alter(a, &sql, "cannot revoke the default privileges on the database");
    size_t i;
    json_t *item;
    json_array_foreach (acl, i, item) {
        if (rc == 0)
            rc = grant_item(a, json_string_value(item) ?: "", owner);
    }
    zb_buf_free(&sql);
    return rc;
}

int zb_pg_database_apply(PGconn *maintenance, const char *name, json_t *props, int no_owner, int no_acl, int scratch,
                         json_t *left_out)
{
    if (!props)
        return 0; /* an archive from before the properties were kept */
    applying a = {maintenance, name, scratch, left_out};
    zb_buf sql = ZB_BUF_INIT;
    const char *owner = prop(props, "owner"), *comment = prop(props, "comment");
    json_int_t limit = json_integer_value(json_object_get(props, "connection_limit"));
    int rc = 0;
    if (!no_owner && owner && role_exists(&a, owner, "the owner")) {
        if ((rc = start_alter(&sql, &a, "ALTER DATABASE ")) == 0 && (rc = zb_buf_puts(&sql, " OWNER TO ")) == 0 &&
            (rc = append_ident(&sql, maintenance, owner)) == 0)
            rc = alter(&a, &sql, "cannot give the database its owner");
    }
    if (rc == 0 && json_object_get(props, "connection_limit") && limit != -1) {
        if ((rc = start_alter(&sql, &a, "ALTER DATABASE ")) == 0 &&
            (rc = zb_buf_printf(&sql, " CONNECTION LIMIT %lld", (long long)limit)) == 0)
            rc = alter(&a, &sql, "cannot set the database's connection limit");
    }
    if (rc == 0)
        rc = apply_settings(&a, props);
    if (rc == 0 && comment) {
        if ((rc = start_alter(&sql, &a, "COMMENT ON DATABASE ")) == 0 && (rc = zb_buf_puts(&sql, " IS ")) == 0 &&
            (rc = append_literal(&sql, maintenance, comment)) == 0)
            rc = alter(&a, &sql, "cannot comment on the database");
    }
    if (rc == 0 && !no_acl)
        rc = apply_acl(&a, props);
    zb_buf_free(&sql);
    if (rc < 0)
        zb_error_context("giving the restored database the source's properties");
    return rc;
}

/* ------------------------------------------------------------ encoding */

static int set_client_encoding(PGconn *conn, const char *encoding)
{
    zb_buf sql = ZB_BUF_INIT;
    int rc = zb_buf_puts(&sql, "SET client_encoding = ");
    if (rc == 0)
        rc = append_literal(&sql, conn, encoding);
    if (rc == 0)
        rc = zb_pg_exec(conn, sql.data, "cannot set the session's encoding for COPY");
    zb_buf_free(&sql);
    return rc;
}

static int is_utf8(const char *encoding) { return !encoding || strcmp(encoding, "UTF8") == 0; }

int zb_pg_copy_encoding_set(PGconn *conn, const char *encoding)
{
    return is_utf8(encoding) ? 0 : set_client_encoding(conn, encoding);
}

int zb_pg_copy_encoding_reset(PGconn *conn, const char *encoding)
{
    /* an SQL_ASCII database's sessions stay in SQL_ASCII (connect_as) */
    return is_utf8(encoding) || zb_pg_is_sql_ascii(conn) ? 0 : set_client_encoding(conn, "UTF8");
}
