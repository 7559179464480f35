#include "zakpos_backup/source/pg/schema.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/ident.h"

#include <stdlib.h>
#include <string.h>

/* Objects with oids below this were made by initdb: never dumped. */
#define FIRST_NORMAL_OID "16384"

/* Pre-data ranks break ties in the dependency sort (a schema before the
 * types in it); post-data ranks are the restore order. */
enum {
    RANK_SCHEMA = 0,
    RANK_EXTENSION,
    RANK_TYPE,
    RANK_FUNCTION,
    RANK_SEQUENCE,
    RANK_TABLE,
    RANK_VIEW,
    RANK_POST_SEQUENCE = 10,
    RANK_POST_INDEX,      /* indexes, primary keys, unique and exclusion constraints: parallel */
    RANK_POST_CHECK,
    RANK_POST_FOREIGN_KEY,
    RANK_POST_TRIGGER,
    RANK_POST_SECURITY,
    RANK_POST_REFRESH,
};

typedef struct item {
    unsigned int classid, objid;
    int rank;
    json_t *json;
    size_t *deps; /* indexes of pre-data items this one needs */
    size_t dep_count, dep_cap;
    int done;
} item;

typedef struct item_set {
    item *items;
    size_t count, cap;
    /* extra (classid, objid) identities that stand for an item: a table's row
     * type, a view's rewrite rule, a column default, a domain's constraint */
    struct alias {
        unsigned int classid, objid;
        size_t item;
    } *aliases;
    size_t alias_count, alias_cap;
    int version;
    int legacy_acl; /* ACLs as toc format 1 wrote them (see acl_sql) */
} item_set;

/* Not part of an extension, nor made internally along with another object
 * (a range type's constructors and casts): both come back with their owner.
 * A partition key's internal dependency on its own table does not count. */
static const char not_extension_member[] =
    "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = '%s'::pg_catalog.regclass "
    "AND e.objid = %s AND (e.deptype = 'e' OR (e.deptype = 'i' AND (e.refclassid, e.refobjid) <> (e.classid, e.objid))))";
static const char user_schema[] = "%s.nspname <> 'information_schema' AND %s.nspname !~ '^pg_'";

/* The condition every object query ends with: in a user schema (alias n),
 * not an extension's, not made internally with another object. */
static void user_object(zb_buf *q, const char *catalog, const char *oid)
{
    zb_buf_printf(q, user_schema, "n", "n");
    zb_buf_puts(q, " AND ");
    zb_buf_printf(q, not_extension_member, catalog, oid);
}

/* Runs a query built in q (NULL data: building it ran out of memory). */
static int add_items(item_set *set, PGconn *conn, const char *sql, const char *what);
static int add_built(item_set *set, PGconn *conn, const zb_buf *q, const char *what)
{
    return q->data ? add_items(set, conn, q->data, what) : zb_error_set(ZB_ENOMEM, "out of memory");
}

static int grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    void *p = realloc(*array, n * size);
    if (!p)
        return zb_error_set(ZB_ENOMEM, "out of memory reading the schema");
    *array = p;
    *cap = n;
    return 0;
}

static unsigned int oid_at(PGresult *res, int row, int col)
{
    return (unsigned int)strtoul(PQgetvalue(res, row, col), NULL, 10);
}

static int query(PGresult **out, PGconn *conn, const char *sql, const char *what)
{
    return zb_pg_query(out, conn, sql, what);
}

static void set_text(json_t *o, const char *key, PGresult *res, int row, int col)
{
    if (col >= 0 && !PQgetisnull(res, row, col) && *PQgetvalue(res, row, col))
        json_object_set_new(o, key, json_string(PQgetvalue(res, row, col)));
}

/* Every item query returns these columns, in this order; the last ones
 * only where they apply. C_LOCK: the lock its statement takes on its
 * table, when weaker than ACCESS EXCLUSIVE (so the restore may run it
 * alongside others); C_STEPS: the same work as statements the restore may
 * prefer (JSON: [{sql, lock, references_lock}], the object's comment goes
 * to the last). */
enum { C_CLASS, C_OID, C_RANK, C_KIND, C_SCHEMA, C_NAME, C_TABLE, C_SQL, C_OWNER, C_ACL, C_COMMENT, C_REFERENCES, C_LOCK, C_STEPS };

static int add_steps(json_t *it, PGresult *res, int row)
{
    if (PQnfields(res) <= C_STEPS || PQgetisnull(res, row, C_STEPS))
        return 0;
    json_t *steps = json_loads(PQgetvalue(res, row, C_STEPS), 0, NULL);
    json_t *last = json_array_get(steps, json_array_size(steps) - 1);
    if (!json_is_array(steps) || !json_is_string(json_object_get(last, "sql"))) {
        json_decref(steps);
        return zb_error_set(ZB_EFORMAT, "the server described the steps of %s unreadably", PQgetvalue(res, row, C_NAME));
    }
    if (!PQgetisnull(res, row, C_COMMENT)) {
        zb_buf sql = ZB_BUF_INIT;
        zb_buf_printf(&sql, "%s\n%s", json_string_value(json_object_get(last, "sql")), PQgetvalue(res, row, C_COMMENT));
        json_object_set_new(last, "sql", json_string(sql.data ? sql.data : ""));
        zb_buf_free(&sql);
    }
    json_object_set_new(it, "steps", steps);
    return 0;
}

static int add_items(item_set *set, PGconn *conn, const char *sql, const char *what)
{
    PGresult *res;
    int rc = query(&res, conn, sql, what);
    for (int r = 0; rc == 0 && res && r < PQntuples(res); r++) {
        if ((rc = grow((void **)&set->items, &set->cap, set->count, sizeof(item))) < 0)
            break;
        item *it = &set->items[set->count++];
        memset(it, 0, sizeof(*it));
        it->classid = oid_at(res, r, C_CLASS);
        it->objid = oid_at(res, r, C_OID);
        it->rank = atoi(PQgetvalue(res, r, C_RANK));
        it->json = json_object();
        json_object_set_new(it->json, "section", json_string(it->rank >= RANK_POST_SEQUENCE ? "post-data" : "pre-data"));
        set_text(it->json, "kind", res, r, C_KIND);
        set_text(it->json, "schema", res, r, C_SCHEMA);
        set_text(it->json, "name", res, r, C_NAME);
        set_text(it->json, "table", res, r, C_TABLE);
        zb_buf sql_text = ZB_BUF_INIT;
        zb_buf_puts(&sql_text, PQgetvalue(res, r, C_SQL));
        if (!PQgetisnull(res, r, C_COMMENT))
            zb_buf_printf(&sql_text, "\n%s", PQgetvalue(res, r, C_COMMENT));
        json_object_set_new(it->json, "sql", json_string(sql_text.data ? sql_text.data : ""));
        zb_buf_free(&sql_text);
        set_text(it->json, "owner", res, r, C_OWNER);
        set_text(it->json, "acl", res, r, C_ACL);
        if (PQnfields(res) > C_REFERENCES)
            set_text(it->json, "references", res, r, C_REFERENCES);
        if (PQnfields(res) > C_LOCK)
            set_text(it->json, "lock", res, r, C_LOCK);
        if ((rc = add_steps(it->json, res, r)) < 0)
            break;
        if (it->rank == RANK_POST_INDEX)
            json_object_set_new(it->json, "parallel", json_true());
        if (!json_is_string(json_object_get(it->json, "sql")))
            rc = zb_error_set(ZB_EFORMAT, "the server returned text that is not UTF-8 for %s", what);
    }
    PQclear(res);
    return rc;
}

/* The SQL that turns an object's default privileges into its ACL: REVOKE
 * what the default grants and the ACL lacks, GRANT what the ACL holds beyond
 * the default, grantee by grantee in catalog order; NULL when the ACL is the
 * default. Stating only the difference, as pg_dump does, lets a newer server
 * keep privileges it added to the owner's default (PostgreSQL 17's MAINTAIN
 * on tables) instead of losing them to a REVOKE ALL and a list of the old
 * ones. OBJTYPE is acldefault()'s letter for the object's kind.
 * Archives of toc format 1 hold the older form (REVOKE ALL from PUBLIC and
 * the owner, then every grant); their verification reads ACLs that way. */
static void acl_sql(zb_buf *q, const item_set *set, const char *acl, const char *target, const char *owner, char objtype)
{
    static const char grants[] =
        "COALESCE((SELECT pg_catalog.string_agg(pg_catalog.format(' GRANT %%s ON %%s TO %%s%%s;', "
        "a.privilege_type, %s, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE "
        "pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, "
        "CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), '' ORDER BY a.n) "
        "FROM pg_catalog.aclexplode(%s) WITH ORDINALITY a(grantor, grantee, privilege_type, is_grantable, n)";
    if (set->legacy_acl) {
        zb_buf_printf(q,
                      "CASE WHEN %s IS NULL THEN NULL ELSE "
                      "'REVOKE ALL ON ' || %s || ' FROM PUBLIC; REVOKE ALL ON ' || %s || ' FROM ' || "
                      "pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(%s)) || ';' || ",
                      acl, target, target, owner);
        zb_buf_printf(q, grants, target, acl);
        zb_buf_puts(q, "), '') END");
        return;
    }
    zb_buf_printf(q,
                  "CASE WHEN %s IS NULL THEN NULL ELSE NULLIF("
                  "COALESCE((SELECT pg_catalog.string_agg(pg_catalog.format(' REVOKE %%s ON %%s FROM %%s;', "
                  "d.privilege_type, %s, CASE WHEN d.grantee = 0 THEN 'PUBLIC' ELSE "
                  "pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(d.grantee)) END), '' ORDER BY d.n) "
                  "FROM pg_catalog.aclexplode(pg_catalog.acldefault('%c', %s)) WITH ORDINALITY "
                  "d(grantor, grantee, privilege_type, is_grantable, n) WHERE NOT EXISTS (SELECT FROM "
                  "pg_catalog.aclexplode(%s) a WHERE a.grantee = d.grantee AND a.privilege_type = d.privilege_type)), '') || ",
                  acl, target, objtype, owner, acl);
    zb_buf_printf(q, grants, target, acl);
    zb_buf_printf(q,
                  " WHERE NOT EXISTS (SELECT FROM pg_catalog.aclexplode(pg_catalog.acldefault('%c', %s)) d "
                  "WHERE d.grantee = a.grantee AND d.privilege_type = a.privilege_type AND d.is_grantable = a.is_grantable)), ''), '') END",
                  objtype, owner);
}

static int add_schemas(item_set *set, PGconn *conn)
{
    zb_buf q = ZB_BUF_INIT;
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass::oid, n.oid, %d, 'SCHEMA', n.nspname, n.nspname, NULL, "
                  "pg_catalog.format('CREATE SCHEMA %%I;', n.nspname), "
                  "pg_catalog.format('ALTER SCHEMA %%I OWNER TO %%I;', n.nspname, pg_catalog.pg_get_userbyid(n.nspowner)), ",
                  RANK_SCHEMA);
    acl_sql(&q, set, "n.nspacl", "'SCHEMA ' || pg_catalog.quote_ident(n.nspname)", "n.nspowner", 'n');
    zb_buf_printf(&q,
                  ", (SELECT pg_catalog.format('COMMENT ON SCHEMA %%I IS %%L;', n.nspname, d.description) "
                  "FROM pg_catalog.pg_description d WHERE d.objoid = n.oid AND d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass) "
                  "FROM pg_catalog.pg_namespace n WHERE n.nspname <> 'public' AND ");
    user_object(&q, "pg_catalog.pg_namespace", "n.oid");
    int rc = add_built(set, conn, &q, "cannot read the schemas");
    zb_buf_free(&q);
    return rc;
}

static int add_extensions(item_set *set, PGconn *conn)
{
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT 'pg_catalog.pg_extension'::pg_catalog.regclass::oid, e.oid, %d, 'EXTENSION', n.nspname, e.extname, NULL, "
             "pg_catalog.format('CREATE EXTENSION IF NOT EXISTS %%I WITH SCHEMA %%I VERSION %%L;', e.extname, n.nspname, e.extversion), "
             "NULL, NULL, NULL FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
             "WHERE e.extname <> 'plpgsql' ORDER BY e.oid",
             RANK_EXTENSION);
    return add_items(set, conn, sql, "cannot read the extensions");
}

/* A column's COLLATE clause when it differs from its type's default. */
#define COLLATE_CLAUSE(att, typ)                                                                               \
    "CASE WHEN " att ".attcollation <> 0 AND " att ".attcollation <> " typ ".typcollation THEN "               \
    "(SELECT ' COLLATE ' || pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) "  \
    "FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace "            \
    "WHERE co.oid = " att ".attcollation) ELSE '' END"

static int add_types(item_set *set, PGconn *conn)
{
    zb_buf q = ZB_BUF_INIT;
    const char *multirange = set->version >= 140000
                                 ? "(SELECT pg_catalog.format(', multirange_type_name = %I.%I', mn.nspname, mt.typname) "
                                   "FROM pg_catalog.pg_type mt JOIN pg_catalog.pg_namespace mn ON mn.oid = mt.typnamespace "
                                   "WHERE mt.oid = r.rngmultitypid)"
                                 : "''";
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::oid, t.oid, %d, "
                  "CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, n.nspname, t.typname, NULL, "
                  "CASE t.typtype "
                  "WHEN 'e' THEN pg_catalog.format('CREATE TYPE %%s AS ENUM (%%s);', q.name, (SELECT "
                  "pg_catalog.string_agg(pg_catalog.quote_literal(l.enumlabel), ', ' ORDER BY l.enumsortorder) "
                  "FROM pg_catalog.pg_enum l WHERE l.enumtypid = t.oid)) "
                  "WHEN 'c' THEN pg_catalog.format('CREATE TYPE %%s AS (%%s);', q.name, (SELECT pg_catalog.string_agg("
                  "pg_catalog.format('%%I %%s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)) || " COLLATE_CLAUSE("a", "at")
                  ", ', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid "
                  "WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)) "
                  "WHEN 'r' THEN pg_catalog.format('CREATE TYPE %%s AS RANGE (subtype = %%s%%s%%s%%s);', q.name, "
                  "pg_catalog.format_type(r.rngsubtype, NULL), "
                  "CASE WHEN r.rngsubdiff <> 0 THEN ', subtype_diff = ' || r.rngsubdiff::pg_catalog.regproc::text ELSE '' END, "
                  "CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation THEN (SELECT ', collation = ' || "
                  "pg_catalog.format('%%I.%%I', cn.nspname, co.collname) FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn "
                  "ON cn.oid = co.collnamespace WHERE co.oid = r.rngcollation) ELSE '' END, %s) "
                  "ELSE pg_catalog.format('CREATE DOMAIN %%s AS %%s', q.name, pg_catalog.format_type(t.typbasetype, t.typtypmod)) || "
                  "CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation THEN (SELECT ' COLLATE ' || "
                  "pg_catalog.format('%%I.%%I', cn.nspname, co.collname) FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn "
                  "ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) ELSE '' END || "
                  "CASE WHEN t.typdefault IS NOT NULL THEN ' DEFAULT ' || t.typdefault ELSE '' END || "
                  "CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END || "
                  "COALESCE((SELECT pg_catalog.string_agg(pg_catalog.format(' CONSTRAINT %%I %%s', c.conname, "
                  "pg_catalog.pg_get_constraintdef(c.oid)), '' ORDER BY c.conname) FROM pg_catalog.pg_constraint c "
                  "WHERE c.contypid = t.oid AND c.contype = 'c'), '') || ';' END, "
                  "pg_catalog.format('ALTER %%s %%s OWNER TO %%I;', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, q.name, "
                  "pg_catalog.pg_get_userbyid(t.typowner)), ",
                  RANK_TYPE, multirange);
    acl_sql(&q, set, "t.typacl", "'TYPE ' || q.name", "t.typowner", 'T');
    zb_buf_printf(&q,
                  ", (SELECT pg_catalog.format('COMMENT ON %%s %%s IS %%L;', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, "
                  "q.name, d.description) FROM pg_catalog.pg_description d WHERE d.objoid = t.oid "
                  "AND d.classoid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objsubid = 0) "
                  "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
                  "CROSS JOIN LATERAL (SELECT pg_catalog.format('%%I.%%I', n.nspname, t.typname) AS name) q "
                  "LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid "
                  "LEFT JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype "
                  "LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype "
                  "WHERE (t.typtype IN ('e', 'r', 'd') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c "
                  "WHERE c.oid = t.typrelid) = 'c')) AND ");
    user_object(&q, "pg_catalog.pg_type", "t.oid");
    int rc = add_built(set, conn, &q, "cannot read the types");
    zb_buf_free(&q);
    return rc;
}

static int add_functions(item_set *set, PGconn *conn)
{
    zb_buf q = ZB_BUF_INIT;
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::oid, p.oid, %d, "
                  "CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, n.nspname, p.proname, NULL, "
                  "pg_catalog.pg_get_functiondef(p.oid) || ';', "
                  "pg_catalog.format('ALTER %%s OWNER TO %%I;', q.name, pg_catalog.pg_get_userbyid(p.proowner)), ",
                  RANK_FUNCTION);
    acl_sql(&q, set, "p.proacl", "q.name", "p.proowner", 'f');
    zb_buf_puts(&q,
                ", (SELECT pg_catalog.format('COMMENT ON %s IS %L;', q.name, d.description) FROM pg_catalog.pg_description d "
                "WHERE d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass) "
                "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
                "CROSS JOIN LATERAL (SELECT pg_catalog.format('%s %I.%I(%s)', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' "
                "ELSE 'FUNCTION' END, n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS name) q "
                "WHERE p.prokind IN ('f', 'p') AND ");
    user_object(&q, "pg_catalog.pg_proc", "p.oid");
    int rc = add_built(set, conn, &q, "cannot read the functions");
    zb_buf_free(&q);
    return rc;
}

/* Relations: tables, sequences, views. The FROM clause every relation query
 * shares; q.name is the quoted qualified name. */
static void relation_from_any(zb_buf *q, const char *kinds, const char *join, int with_internal);

static void relation_from(zb_buf *q, const char *kinds, const char *join)
{
    relation_from_any(q, kinds, join, 0);
}

/* with_internal: also relations made along with another object (identity
 * sequences), still not an extension's. */
static void relation_from_any(zb_buf *q, const char *kinds, const char *join, int with_internal)
{
    zb_buf_printf(q,
                  " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace %s "
                  "CROSS JOIN LATERAL (SELECT pg_catalog.format('%%I.%%I', n.nspname, c.relname) AS name) q "
                  "WHERE c.relkind IN (%s) AND ",
                  join, kinds);
    if (with_internal) {
        zb_buf_printf(q, user_schema, "n", "n");
        zb_buf_puts(q, " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = "
                       "'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.oid AND e.deptype = 'e')");
        return;
    }
    user_object(q, "pg_catalog.pg_class", "c.oid");
}

static void relation_common(zb_buf *q, const item_set *set, const char *keyword)
{
    zb_buf_printf(q, "pg_catalog.format('ALTER %s %%s OWNER TO %%I;', q.name, pg_catalog.pg_get_userbyid(c.relowner)), ",
                  keyword);
    int sequence = strcmp(keyword, "SEQUENCE") == 0;
    acl_sql(q, set, "c.relacl", sequence ? "'SEQUENCE ' || q.name" : "'TABLE ' || q.name", "c.relowner", sequence ? 's' : 'r');
    /* the relation's comment and its columns' */
    zb_buf_printf(q,
                  ", (SELECT pg_catalog.string_agg(CASE WHEN d.objsubid = 0 THEN "
                  "pg_catalog.format('COMMENT ON %s %%s IS %%L;', q.name, d.description) ELSE "
                  "pg_catalog.format('COMMENT ON COLUMN %%s.%%I IS %%L;', q.name, (SELECT a.attname FROM pg_catalog.pg_attribute a "
                  "WHERE a.attrelid = c.oid AND a.attnum = d.objsubid), d.description) END, E'\\n' ORDER BY d.objsubid) "
                  "FROM pg_catalog.pg_description d WHERE d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass)",
                  keyword);
}

static int add_sequences(item_set *set, PGconn *conn)
{
    zb_buf q = ZB_BUF_INIT;
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, c.oid, %d, 'SEQUENCE', n.nspname, c.relname, NULL, "
                  "pg_catalog.format('CREATE SEQUENCE %%s AS %%s START WITH %%s INCREMENT BY %%s MINVALUE %%s MAXVALUE %%s "
                  "CACHE %%s%%s;', q.name, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, "
                  "s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END), ",
                  RANK_SEQUENCE);
    relation_common(&q, set, "SEQUENCE");
    relation_from(&q, "'S'", "JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid");
    zb_buf_puts(&q, " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
                    "AND i.objid = c.oid AND i.deptype = 'i')");
    int rc = add_built(set, conn, &q, "cannot read the sequences");
    /* every sequence's value (identity ones too), set once the data is in;
     * sequences are not transactional, so this is the value when read */
    zb_buf_reset(&q);
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, c.oid, %d, 'SEQUENCE SET', n.nspname, c.relname, "
                  "(SELECT pg_catalog.format('%%I.%%I', tn.nspname, tc.relname) FROM pg_catalog.pg_depend d "
                  "JOIN pg_catalog.pg_class tc ON tc.oid = d.refobjid JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace "
                  "WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i') "
                  "AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass LIMIT 1), "
                  "pg_catalog.format('SELECT pg_catalog.setval(%%L, %%s, %%s);', q.name, "
                  "COALESCE(pg_catalog.pg_sequence_last_value(c.oid), s.seqstart), "
                  "CASE WHEN pg_catalog.pg_sequence_last_value(c.oid) IS NULL THEN 'false' ELSE 'true' END), NULL, NULL, NULL",
                  RANK_POST_SEQUENCE);
    relation_from_any(&q, "'S'", "JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid", 1);
    if (rc == 0)
        rc = add_built(set, conn, &q, "cannot read the sequence values");
    zb_buf_free(&q);
    return rc;
}

/* One column of CREATE TABLE: type, collation, default or generation
 * expression, identity (with its sequence's options), NOT NULL. */
static const char column_definition[] =
    "pg_catalog.format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)) || " COLLATE_CLAUSE("a", "at")
    " || CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) || ') STORED' "
    "WHEN a.atthasdef THEN ' DEFAULT ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) ELSE '' END || "
    "CASE WHEN a.attidentity IN ('a', 'd') THEN (SELECT pg_catalog.format(' GENERATED %s AS IDENTITY (SEQUENCE NAME %I.%I "
    "START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s%s)', CASE a.attidentity WHEN 'a' THEN 'ALWAYS' "
    "ELSE 'BY DEFAULT' END, sn.nspname, sc.relname, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, "
    "CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END) FROM pg_catalog.pg_depend dep "
    "JOIN pg_catalog.pg_class sc ON sc.oid = dep.objid JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace "
    "JOIN pg_catalog.pg_sequence s ON s.seqrelid = sc.oid WHERE dep.refobjid = c.oid AND dep.refobjsubid = a.attnum "
    "AND dep.deptype = 'i' AND dep.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND sc.relkind = 'S' LIMIT 1) ELSE '' END || "
    "CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END";

static int add_tables(item_set *set, PGconn *conn)
{
    zb_buf q = ZB_BUF_INIT;
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, c.oid, %d, 'TABLE', n.nspname, c.relname, q.name, "
                  "'CREATE ' || CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END || 'TABLE ' || q.name || "
                  "CASE WHEN c.relispartition THEN (SELECT pg_catalog.format(' PARTITION OF %%I.%%I ', pn.nspname, pc.relname) "
                  "FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent JOIN pg_catalog.pg_namespace pn "
                  "ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) || pg_catalog.pg_get_expr(c.relpartbound, c.oid) "
                  "ELSE ' (' || COALESCE((SELECT pg_catalog.string_agg(",
                  RANK_TABLE);
    zb_buf_puts(&q, column_definition);
    zb_buf_puts(&q,
                ", ', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid "
                "LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum "
                "WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attislocal), '') || ')' || "
                "COALESCE((SELECT ' INHERITS (' || pg_catalog.string_agg(pg_catalog.format('%I.%I', pn.nspname, pc.relname), ', ' "
                "ORDER BY i.inhseqno) || ')' FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent "
                "JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid), '') END || "
                "CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END || "
                "CASE WHEN c.reloptions IS NOT NULL THEN ' WITH (' || pg_catalog.array_to_string(c.reloptions, ', ') || ')' ELSE '' END "
                "|| ';', ");
    relation_common(&q, set, "TABLE");
    relation_from(&q, "'r', 'p'", "");
    int rc = add_built(set, conn, &q, "cannot read the tables");
    zb_buf_free(&q);
    return rc;
}

static int add_views(item_set *set, PGconn *conn)
{
    zb_buf q = ZB_BUF_INIT;
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, c.oid, %d, "
                  "CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, n.nspname, c.relname, q.name, "
                  "CASE c.relkind WHEN 'm' THEN 'CREATE MATERIALIZED VIEW ' ELSE 'CREATE VIEW ' END || q.name || "
                  "CASE WHEN c.reloptions IS NOT NULL THEN ' WITH (' || pg_catalog.array_to_string(c.reloptions, ', ') || ')' ELSE '' END "
                  "|| E' AS\\n' || pg_catalog.regexp_replace(pg_catalog.pg_get_viewdef(c.oid), ';\\s*$', '') || "
                  "CASE c.relkind WHEN 'm' THEN E'\\n  WITH NO DATA;' ELSE ';' END, "
                  "pg_catalog.format('ALTER %%s %%s OWNER TO %%I;', CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, "
                  "q.name, pg_catalog.pg_get_userbyid(c.relowner)), ",
                  RANK_VIEW);
    acl_sql(&q, set, "c.relacl", "'TABLE ' || q.name", "c.relowner", 'r');
    zb_buf_puts(&q, ", (SELECT pg_catalog.string_agg(CASE WHEN d.objsubid = 0 THEN pg_catalog.format('COMMENT ON %s %s IS %L;', "
                    "CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, q.name, d.description) ELSE "
                    "pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L;', q.name, (SELECT a.attname FROM pg_catalog.pg_attribute a "
                    "WHERE a.attrelid = c.oid AND a.attnum = d.objsubid), d.description) END, E'\\n' ORDER BY d.objsubid) "
                    "FROM pg_catalog.pg_description d WHERE d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass)");
    relation_from(&q, "'v', 'm'", "");
    int rc = add_built(set, conn, &q, "cannot read the views");
    zb_buf_free(&q);
    return rc;
}

/* Post-data items that hang off a table: sequence ownership, indexes,
 * constraints, triggers, row security and policies. */
static int add_post_data(item_set *set, PGconn *conn)
{
    const char *trigger_filter = set->version >= 130000 ? "NOT t.tgisinternal AND t.tgparentid = 0" : "NOT t.tgisinternal";
    zb_buf q = ZB_BUF_INIT;
    /* sequence OWNED BY (serial columns) */
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, c.oid, %d, 'SEQUENCE OWNED BY', n.nspname, c.relname, "
                  "pg_catalog.format('%%I.%%I', tn.nspname, tc.relname), "
                  "pg_catalog.format('ALTER SEQUENCE %%s OWNED BY %%I.%%I.%%I;', q.name, tn.nspname, tc.relname, a.attname), "
                  "NULL, NULL, NULL FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                  "CROSS JOIN LATERAL (SELECT pg_catalog.format('%%I.%%I', n.nspname, c.relname) AS name) q "
                  "JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid "
                  "AND d.deptype = 'a' AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
                  "JOIN pg_catalog.pg_class tc ON tc.oid = d.refobjid JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace "
                  "JOIN pg_catalog.pg_attribute a ON a.attrelid = tc.oid AND a.attnum = d.refobjsubid "
                  "WHERE c.relkind = 'S' AND ",
                  RANK_POST_SEQUENCE);
    zb_buf_printf(&q, user_schema, "n", "n");
    int rc = add_built(set, conn, &q, "cannot read the sequence owners");
    /* indexes not made by a constraint, nor by a partitioned parent's index */
    zb_buf_reset(&q);
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, ic.oid, %d, 'INDEX', n.nspname, ic.relname, "
                  "pg_catalog.format('%%I.%%I', n.nspname, c.relname), "
                  "pg_catalog.replace(pg_catalog.pg_get_indexdef(ic.oid), ' ON ONLY ', ' ON ') || ';', NULL, NULL, "
                  "(SELECT pg_catalog.format('COMMENT ON INDEX %%I.%%I IS %%L;', n.nspname, ic.relname, d.description) "
                  "FROM pg_catalog.pg_description d WHERE d.objoid = ic.oid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass), "
                  "NULL, CASE WHEN c.relkind IN ('r', 'm') THEN 'SHARE' END "
                  "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
                  "JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE c.relkind IN ('r', 'p', 'm') AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k "
                  "WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')) "
                  "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid) AND ",
                  RANK_POST_INDEX);
    user_object(&q, "pg_catalog.pg_class", "c.oid");
    if (rc == 0)
        rc = add_built(set, conn, &q, "cannot read the indexes");
    /* constraints declared on the table itself (inherited copies come with their parent's) */
    zb_buf_reset(&q);
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass::oid, k.oid, "
                  "CASE k.contype WHEN 'c' THEN %d WHEN 'f' THEN %d ELSE %d END, "
                  "CASE k.contype WHEN 'f' THEN 'FK CONSTRAINT' ELSE 'CONSTRAINT' END, n.nspname, k.conname, "
                  "pg_catalog.format('%%I.%%I', n.nspname, c.relname), "
                  "pg_catalog.format('ALTER TABLE %%I.%%I ADD CONSTRAINT %%I %%s;', n.nspname, c.relname, k.conname, "
                  "pg_catalog.pg_get_constraintdef(k.oid)), NULL, NULL, "
                  "(SELECT pg_catalog.format('COMMENT ON CONSTRAINT %%I ON %%I.%%I IS %%L;', k.conname, n.nspname, c.relname, "
                  "d.description) FROM pg_catalog.pg_description d WHERE d.objoid = k.oid "
                  "AND d.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass), "
                  "(SELECT pg_catalog.format('%%I.%%I', rn.nspname, rc.relname) FROM pg_catalog.pg_class rc "
                  "JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = k.confrelid), NULL, "
                  /* a key of a plain table: its index built under a SHARE lock
                   * (alongside the table's other indexes), then attached */
                  "CASE WHEN k.contype IN ('p', 'u') AND c.relkind = 'r' AND ic.reltablespace = 0 THEN pg_catalog.json_build_array("
                  "pg_catalog.json_build_object('sql', pg_catalog.pg_get_indexdef(k.conindid) || ';', 'lock', 'SHARE'), "
                  "pg_catalog.json_build_object('sql', pg_catalog.format('ALTER TABLE %%I.%%I ADD CONSTRAINT %%I %%s USING INDEX %%I%%s;', "
                  "n.nspname, c.relname, k.conname, CASE k.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, ic.relname, "
                  "CASE WHEN k.condeferrable THEN ' DEFERRABLE' || CASE WHEN k.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END "
                  "ELSE '' END)))::text "
                  /* a valid foreign key of a plain table: added unchecked, then
                   * validated under locks that let checks of other tables'
                   * keys to the same table run alongside */
                  "WHEN k.contype = 'f' AND c.relkind = 'r' AND k.convalidated THEN pg_catalog.json_build_array("
                  "pg_catalog.json_build_object('sql', pg_catalog.format('ALTER TABLE %%I.%%I ADD CONSTRAINT %%I %%s NOT VALID;', "
                  "n.nspname, c.relname, k.conname, pg_catalog.pg_get_constraintdef(k.oid)), "
                  "'lock', 'SHARE ROW EXCLUSIVE', 'references_lock', 'SHARE ROW EXCLUSIVE'), "
                  "pg_catalog.json_build_object('sql', pg_catalog.format('ALTER TABLE %%I.%%I VALIDATE CONSTRAINT %%I;', "
                  "n.nspname, c.relname, k.conname), 'lock', 'SHARE UPDATE EXCLUSIVE', 'references_lock', 'ROW SHARE'))::text END "
                  "FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid "
                  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_catalog.pg_class ic ON ic.oid = k.conindid "
                  "WHERE k.contype IN ('p', 'u', 'x', 'c', 'f') AND k.conislocal AND k.conparentid = 0 AND c.relkind IN ('r', 'p') AND ",
                  RANK_POST_CHECK, RANK_POST_FOREIGN_KEY, RANK_POST_INDEX);
    user_object(&q, "pg_catalog.pg_class", "c.oid");
    if (rc == 0)
        rc = add_built(set, conn, &q, "cannot read the constraints");
    /* triggers (not a constraint's internal ones, not a partition's clones) */
    zb_buf_reset(&q);
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass::oid, t.oid, %d, 'TRIGGER', n.nspname, t.tgname, "
                  "pg_catalog.format('%%I.%%I', n.nspname, c.relname), pg_catalog.pg_get_triggerdef(t.oid) || ';' || "
                  "CASE t.tgenabled WHEN 'D' THEN pg_catalog.format(E'\\nALTER TABLE %%I.%%I DISABLE TRIGGER %%I;', n.nspname, "
                  "c.relname, t.tgname) WHEN 'R' THEN pg_catalog.format(E'\\nALTER TABLE %%I.%%I ENABLE REPLICA TRIGGER %%I;', "
                  "n.nspname, c.relname, t.tgname) WHEN 'A' THEN pg_catalog.format(E'\\nALTER TABLE %%I.%%I ENABLE ALWAYS TRIGGER %%I;', "
                  "n.nspname, c.relname, t.tgname) ELSE '' END, NULL, NULL, "
                  "(SELECT pg_catalog.format('COMMENT ON TRIGGER %%I ON %%I.%%I IS %%L;', t.tgname, n.nspname, c.relname, "
                  "d.description) FROM pg_catalog.pg_description d WHERE d.objoid = t.oid "
                  "AND d.classoid = 'pg_catalog.pg_trigger'::pg_catalog.regclass) "
                  "FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
                  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE %s AND ",
                  RANK_POST_TRIGGER, trigger_filter);
    user_object(&q, "pg_catalog.pg_class", "c.oid");
    if (rc == 0)
        rc = add_built(set, conn, &q, "cannot read the triggers");
    /* row level security: switched on after the data is in, then policies */
    zb_buf_reset(&q);
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, c.oid, %d, 'ROW SECURITY', n.nspname, c.relname, q.name, "
                  "pg_catalog.format('ALTER TABLE %%s ENABLE ROW LEVEL SECURITY;', q.name) || CASE WHEN c.relforcerowsecurity "
                  "THEN pg_catalog.format(E'\\nALTER TABLE %%s FORCE ROW LEVEL SECURITY;', q.name) ELSE '' END, NULL, NULL, NULL",
                  RANK_POST_SECURITY);
    relation_from(&q, "'r', 'p'", "");
    zb_buf_puts(&q, " AND c.relrowsecurity");
    if (rc == 0)
        rc = add_built(set, conn, &q, "cannot read row security");
    zb_buf_reset(&q);
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_policy'::pg_catalog.regclass::oid, p.oid, %d, 'POLICY', n.nspname, p.polname, "
                  "pg_catalog.format('%%I.%%I', n.nspname, c.relname), "
                  "pg_catalog.format('CREATE POLICY %%I ON %%I.%%I AS %%s FOR %%s TO %%s%%s%%s;', p.polname, n.nspname, c.relname, "
                  "CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END, "
                  "CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END, "
                  "(SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) "
                  "END, ', ' ORDER BY r) FROM pg_catalog.unnest(p.polroles) r), "
                  "CASE WHEN p.polqual IS NOT NULL THEN ' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')' ELSE '' END, "
                  "CASE WHEN p.polwithcheck IS NOT NULL THEN ' WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) "
                  "|| ')' ELSE '' END), NULL, NULL, "
                  "(SELECT pg_catalog.format('COMMENT ON POLICY %%I ON %%I.%%I IS %%L;', p.polname, n.nspname, c.relname, "
                  "d.description) FROM pg_catalog.pg_description d WHERE d.objoid = p.oid "
                  "AND d.classoid = 'pg_catalog.pg_policy'::pg_catalog.regclass) "
                  "FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid "
                  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ",
                  RANK_POST_SECURITY);
    zb_buf_printf(&q, user_schema, "n", "n");
    if (rc == 0)
        rc = add_built(set, conn, &q, "cannot read the policies");
    zb_buf_free(&q);
    return rc;
}

/* Large objects: their content travels as blobs/<oid>.blob entries and is
 * created with the data; owner and privileges follow in post-data. */
static int add_large_objects(item_set *set, PGconn *conn)
{
    zb_buf q = ZB_BUF_INIT;
    zb_buf_printf(&q,
                  "SELECT 'pg_catalog.pg_largeobject_metadata'::pg_catalog.regclass::oid, l.oid, %d, 'LARGE OBJECT', NULL, "
                  "l.oid::text, NULL, COALESCE((SELECT pg_catalog.format('COMMENT ON LARGE OBJECT %%s IS %%L;', l.oid, d.description) "
                  "FROM pg_catalog.pg_description d WHERE d.objoid = l.oid "
                  "AND d.classoid = 'pg_catalog.pg_largeobject'::pg_catalog.regclass), ''), "
                  "pg_catalog.format('ALTER LARGE OBJECT %%s OWNER TO %%I;', l.oid, pg_catalog.pg_get_userbyid(l.lomowner)), ",
                  RANK_POST_SEQUENCE);
    acl_sql(&q, set, "l.lomacl", "'LARGE OBJECT ' || l.oid::text", "l.lomowner", 'L');
    zb_buf_puts(&q, ", NULL FROM pg_catalog.pg_largeobject_metadata l ORDER BY l.oid");
    int rc = add_built(set, conn, &q, "cannot read the large objects");
    zb_buf_free(&q);
    return rc;
}

/* Identities that stand for a pre-data item in pg_depend. */
static const char aliases_sql[] =
    "SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::oid, c.reltype, 'pg_catalog.pg_class'::pg_catalog.regclass::oid, c.oid "
    "FROM pg_catalog.pg_class c WHERE c.reltype <> 0 AND c.oid >= " FIRST_NORMAL_OID " "
    "UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::oid, t.typarray, 'pg_catalog.pg_type'::pg_catalog.regclass::oid, t.oid "
    "FROM pg_catalog.pg_type t WHERE t.typarray <> 0 AND t.oid >= " FIRST_NORMAL_OID " "
    "UNION ALL SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, t.typrelid, 'pg_catalog.pg_type'::pg_catalog.regclass::oid, t.oid "
    "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_class c ON c.oid = t.typrelid WHERE c.relkind = 'c' AND t.oid >= " FIRST_NORMAL_OID " "
    "UNION ALL SELECT 'pg_catalog.pg_rewrite'::pg_catalog.regclass::oid, r.oid, 'pg_catalog.pg_class'::pg_catalog.regclass::oid, r.ev_class "
    "FROM pg_catalog.pg_rewrite r WHERE r.oid >= " FIRST_NORMAL_OID " "
    "UNION ALL SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass::oid, a.oid, 'pg_catalog.pg_class'::pg_catalog.regclass::oid, a.adrelid "
    "FROM pg_catalog.pg_attrdef a WHERE a.oid >= " FIRST_NORMAL_OID " "
    "UNION ALL SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass::oid, k.oid, 'pg_catalog.pg_type'::pg_catalog.regclass::oid, k.contypid "
    "FROM pg_catalog.pg_constraint k WHERE k.contypid <> 0 AND k.oid >= " FIRST_NORMAL_OID;

/* Dependencies between user objects. A sequence's automatic dependency on
 * its serial column is left out: the table needs the sequence (its default
 * calls nextval), and ownership is set in post-data. */
static const char depend_sql[] =
    "SELECT d.classid, d.objid, d.refclassid, d.refobjid FROM pg_catalog.pg_depend d "
    "WHERE d.deptype IN ('n', 'a') AND d.objid >= " FIRST_NORMAL_OID " AND d.refobjid >= " FIRST_NORMAL_OID " "
    "AND NOT (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'a' AND "
    "(SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = d.objid) = 'S')";

static long find_item(const item_set *set, unsigned int classid, unsigned int objid)
{
    for (size_t i = 0; i < set->count; i++)
        if (set->items[i].objid == objid && set->items[i].classid == classid && set->items[i].rank < RANK_POST_SEQUENCE)
            return (long)i;
    for (size_t i = 0; i < set->alias_count; i++)
        if (set->aliases[i].objid == objid && set->aliases[i].classid == classid)
            return (long)set->aliases[i].item;
    return -1;
}

static int read_aliases(item_set *set, PGconn *conn)
{
    PGresult *res;
    int rc = query(&res, conn, aliases_sql, "cannot read the catalog");
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        long target = find_item(set, oid_at(res, r, 2), oid_at(res, r, 3));
        if (target < 0)
            continue;
        if ((rc = grow((void **)&set->aliases, &set->alias_cap, set->alias_count, sizeof(*set->aliases))) < 0)
            break;
        set->aliases[set->alias_count++] = (struct alias){oid_at(res, r, 0), oid_at(res, r, 1), (size_t)target};
    }
    PQclear(res);
    return rc;
}

static int read_dependencies(item_set *set, PGconn *conn)
{
    PGresult *res;
    int rc = query(&res, conn, depend_sql, "cannot read the dependencies");
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        long from = find_item(set, oid_at(res, r, 0), oid_at(res, r, 1));
        long to = find_item(set, oid_at(res, r, 2), oid_at(res, r, 3));
        if (from < 0 || to < 0 || from == to)
            continue;
        item *it = &set->items[from];
        if ((rc = grow((void **)&it->deps, &it->dep_cap, it->dep_count, sizeof(size_t))) < 0)
            break;
        it->deps[it->dep_count++] = (size_t)to;
    }
    PQclear(res);
    return rc;
}

static int ready(const item_set *set, const item *it)
{
    for (size_t d = 0; d < it->dep_count; d++)
        if (!set->items[it->deps[d]].done)
            return 0;
    return 1;
}

static int before(const item *a, const item *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->objid < b->objid;
}

/* Pre-data in dependency order (ties by rank, then oid, which is creation
 * order); post-data by rank. A cycle names one object caught in it. */
static int sort_items(json_t *out, item_set *set)
{
    for (size_t placed = 0; placed < set->count; placed++) {
        long best = -1;
        for (size_t i = 0; i < set->count; i++) {
            item *it = &set->items[i];
            if (it->done || (it->rank < RANK_POST_SEQUENCE && !ready(set, it)))
                continue;
            if (best < 0 || before(it, &set->items[best]))
                best = (long)i;
        }
        if (best < 0) {
            for (size_t i = 0; i < set->count; i++)
                if (!set->items[i].done)
                    return zb_error_set(ZB_EPG, "circular dependency in the schema involving %s %s.%s",
                                        json_string_value(json_object_get(set->items[i].json, "kind")),
                                        json_string_value(json_object_get(set->items[i].json, "schema")),
                                        json_string_value(json_object_get(set->items[i].json, "name")));
        }
        set->items[best].done = 1;
        json_array_append(out, set->items[best].json);
    }
    return 0;
}

/* Populated materialized views are refreshed last, in creation order. */
static void add_refreshes(json_t *sorted)
{
    size_t n = json_array_size(sorted);
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(sorted, i);
        if (!json_is_true(json_object_get(it, "populated")))
            continue;
        json_object_del(it, "populated");
        json_t *refresh = json_object();
        json_object_set_new(refresh, "section", json_string("post-data"));
        json_object_set_new(refresh, "kind", json_string("REFRESH MATERIALIZED VIEW"));
        json_object_set(refresh, "schema", json_object_get(it, "schema"));
        json_object_set(refresh, "name", json_object_get(it, "name"));
        json_object_set(refresh, "table", json_object_get(it, "table"));
        char sql[1024];
        snprintf(sql, sizeof(sql), "REFRESH MATERIALIZED VIEW %s;", json_string_value(json_object_get(it, "table")));
        json_object_set_new(refresh, "sql", json_string(sql));
        json_array_append_new(sorted, refresh);
    }
}

static int mark_populated(item_set *set, PGconn *conn)
{
    PGresult *res;
    int rc = query(&res, conn, "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relkind = 'm' AND c.relispopulated",
                   "cannot read the materialized views");
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        long i = find_item(set, 1259, oid_at(res, r, 0)); /* pg_class's own oid, fixed in every version */
        if (i >= 0)
            json_object_set_new(set->items[i].json, "populated", json_true());
    }
    PQclear(res);
    return rc;
}

/* Object kinds this module does not reproduce, made by users (not initdb,
 * not an extension). */
static const char unsupported_sql[] =
    "SELECT pg_catalog.pg_describe_object(o.classid, o.objid, 0) FROM ("
    "SELECT 'pg_catalog.pg_class'::pg_catalog.regclass AS classid, c.oid AS objid FROM pg_catalog.pg_class c WHERE c.relkind = 'f' OR c.reloftype <> 0 "
    "UNION ALL SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid FROM pg_catalog.pg_proc p WHERE p.prokind IN ('a', 'w') "
    "UNION ALL SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, oid FROM pg_catalog.pg_operator "
    "UNION ALL SELECT 'pg_catalog.pg_cast'::pg_catalog.regclass, oid FROM pg_catalog.pg_cast "
    "UNION ALL SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, oid FROM pg_catalog.pg_collation "
    "UNION ALL SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass, oid FROM pg_catalog.pg_ts_config "
    "UNION ALL SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass, oid FROM pg_catalog.pg_ts_dict "
    "UNION ALL SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, oid FROM pg_catalog.pg_conversion "
    "UNION ALL SELECT 'pg_catalog.pg_event_trigger'::pg_catalog.regclass, oid FROM pg_catalog.pg_event_trigger "
    "UNION ALL SELECT 'pg_catalog.pg_publication'::pg_catalog.regclass, oid FROM pg_catalog.pg_publication "
    "UNION ALL SELECT 'pg_catalog.pg_foreign_server'::pg_catalog.regclass, oid FROM pg_catalog.pg_foreign_server "
    "UNION ALL SELECT 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass, oid FROM pg_catalog.pg_foreign_data_wrapper "
    "UNION ALL SELECT 'pg_catalog.pg_rewrite'::pg_catalog.regclass, oid FROM pg_catalog.pg_rewrite WHERE rulename <> '_RETURN' "
    "UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, oid FROM pg_catalog.pg_statistic_ext "
    "UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, oid FROM pg_catalog.pg_type WHERE typtype IN ('b', 'p') AND typcategory <> 'A' "
    "UNION ALL SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, oid FROM pg_catalog.pg_opclass "
    "UNION ALL SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, oid FROM pg_catalog.pg_opfamily "
    "UNION ALL SELECT 'pg_catalog.pg_am'::pg_catalog.regclass, oid FROM pg_catalog.pg_am "
    "UNION ALL SELECT 'pg_catalog.pg_language'::pg_catalog.regclass, oid FROM pg_catalog.pg_language "
    "UNION ALL SELECT 'pg_catalog.pg_default_acl'::pg_catalog.regclass, oid FROM pg_catalog.pg_default_acl "
    "UNION ALL SELECT 'pg_catalog.pg_transform'::pg_catalog.regclass, oid FROM pg_catalog.pg_transform "
    "UNION ALL SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, a.attrelid FROM pg_catalog.pg_attribute a WHERE a.attacl IS NOT NULL "
    ") o WHERE o.objid >= " FIRST_NORMAL_OID " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e "
    "WHERE e.classid = o.classid AND e.objid = o.objid AND (e.deptype = 'e' OR (e.deptype = 'i' AND "
    "(e.refclassid, e.refobjid) <> (e.classid, e.objid)))) ORDER BY 1";

static int check_unsupported(json_t *skipped, PGconn *conn, const zb_pg_schema_options *opts)
{
    PGresult *res;
    int rc = query(&res, conn, unsupported_sql, "cannot look for unsupported objects");
    if (rc < 0)
        return rc;
    int n = PQntuples(res);
    if (n > 0 && !(opts && opts->skip_unsupported)) {
        rc = zb_error_set(ZB_EPG, "the database holds %d object%s this tool cannot back up yet, first: %s", n, n == 1 ? "" : "s",
                          PQgetvalue(res, 0, 0));
        zb_error_hint("to back up everything else and list these in the manifest as skipped, pass --pg-skip-unsupported");
    }
    for (int r = 0; rc == 0 && r < n; r++)
        json_array_append_new(skipped, json_string(PQgetvalue(res, r, 0)));
    PQclear(res);
    return rc;
}

static void item_set_free(item_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        json_decref(set->items[i].json);
        free(set->items[i].deps);
    }
    free(set->items);
    free(set->aliases);
}

int zb_pg_schema_read(json_t **items, json_t **skipped, PGconn *conn, const zb_pg_schema_options *opts)
{
    item_set set;
    memset(&set, 0, sizeof(set));
    set.version = PQserverVersion(conn);
    set.legacy_acl = opts->legacy_acl;
    *items = json_array();
    *skipped = json_array();
    int rc = check_unsupported(*skipped, conn, opts);
    if (rc == 0)
        rc = add_schemas(&set, conn);
    if (rc == 0)
        rc = add_extensions(&set, conn);
    if (rc == 0)
        rc = add_types(&set, conn);
    if (rc == 0)
        rc = add_functions(&set, conn);
    if (rc == 0)
        rc = add_sequences(&set, conn);
    if (rc == 0)
        rc = add_tables(&set, conn);
    if (rc == 0)
        rc = add_views(&set, conn);
    if (rc == 0)
        rc = add_post_data(&set, conn);
    if (rc == 0)
        rc = add_large_objects(&set, conn);
    if (rc == 0)
        rc = read_aliases(&set, conn);
    if (rc == 0)
        rc = read_dependencies(&set, conn);
    if (rc == 0)
        rc = mark_populated(&set, conn);
    if (rc == 0)
        rc = sort_items(*items, &set);
    if (rc == 0)
        add_refreshes(*items);
    item_set_free(&set);
    if (rc < 0) {
        json_decref(*items);
        json_decref(*skipped);
        *items = *skipped = NULL;
    }
    return rc;
}

/* Whether every copied column has a type whose binary COPY form carries no
 * oid of this database and reads back on any version: built-in types (and
 * arrays of them, domains over them) except the reg* and oid-like ones, and
 * enums (sent as their label). Such tables are copied in binary, which the
 * server writes and parses faster than text; the others in text. */
static const char binary_safe_sql[] =
    "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t0 ON t0.oid = a.atttypid "
    "JOIN pg_catalog.pg_type t ON t.oid = CASE WHEN t0.typtype = 'd' THEN t0.typbasetype ELSE t0.oid END "
    "LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' "
    "WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND NOT ("
    "(t.oid < " FIRST_NORMAL_OID " OR (t.typtype = 'e' AND t.typcategory <> 'A')) "
    "AND t.typname !~ '^(_?reg|_?oid$|_?xid|_?cid$|_?tid$|_?aclitem$|_?oidvector$)' "
    "AND (e.oid IS NULL OR (e.oid < " FIRST_NORMAL_OID " AND e.typname !~ '^(reg|oid$|xid|cid$|tid$|aclitem$)'))))";

int zb_pg_schema_data_tables(json_t **tables, PGconn *conn)
{
    zb_buf q = ZB_BUF_INIT;
    zb_buf_puts(&q, "SELECT c.oid, n.nspname, c.relname, q.name, (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), "
                    "', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 "
                    "AND NOT a.attisdropped AND a.attgenerated = ''), ");
    zb_buf_puts(&q, binary_safe_sql);
    relation_from(&q, "'r'", "");
    zb_buf_puts(&q, " ORDER BY c.oid");
    PGresult *res = NULL;
    int rc = q.data ? query(&res, conn, q.data, "cannot list the tables") : zb_error_set(ZB_ENOMEM, "out of memory");
    zb_buf_free(&q);
    if (rc < 0)
        return rc;
    *tables = json_array();
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *t = json_object();
        json_object_set_new(t, "oid", json_integer(oid_at(res, r, 0)));
        json_object_set_new(t, "schema", json_string(PQgetvalue(res, r, 1)));
        json_object_set_new(t, "name", json_string(PQgetvalue(res, r, 2)));
        json_object_set_new(t, "table", json_string(PQgetvalue(res, r, 3)));
        json_object_set_new(t, "columns", json_string(PQgetvalue(res, r, 4)));
        json_object_set_new(t, "format", json_string(PQgetvalue(res, r, 5)[0] == 't' ? "binary" : "text"));
        json_array_append_new(*tables, t);
    }
    PQclear(res);
    return 0;
}

int zb_pg_table_is_binary(json_t *table)
{
    const char *format = json_string_value(json_object_get(table, "format"));
    return format && strcmp(format, "binary") == 0;
}

int zb_pg_copy_sql(zb_buf *sql, json_t *table, const char *direction, int freeze)
{
    const char *columns = json_string_value(json_object_get(table, "columns"));
    /* a table without columns still has rows: COPY it without a list */
    int rc = zb_buf_puts(sql, "COPY ");
    if (rc == 0)
        rc = zb_pg_ident_relation(sql, table);
    if (rc == 0 && columns && *columns) {
        if ((rc = zb_buf_puts(sql, " (")) == 0 && (rc = zb_pg_ident_columns(sql, table)) == 0)
            rc = zb_buf_puts(sql, ")");
    }
    if (rc == 0)
        rc = zb_buf_printf(sql, " %s", direction);
    int binary = zb_pg_table_is_binary(table);
    if (rc == 0 && (binary || freeze))
        rc = zb_buf_printf(sql, " (%s%s%s)", binary ? "FORMAT binary" : "", binary && freeze ? ", " : "", freeze ? "FREEZE" : "");
    return rc;
}

int zb_pg_copy_out(PGconn *conn, json_t *table, zb_pg_copy_message_fn message, void *payload)
{
    zb_buf sql = ZB_BUF_INIT;
    int rc = zb_pg_copy_sql(&sql, table, "TO STDOUT", 0);
    PGresult *res = rc == 0 ? PQexec(conn, sql.data) : NULL;
    zb_buf_free(&sql);
    if (rc == 0 && PQresultStatus(res) != PGRES_COPY_OUT)
        rc = zb_pg_result_error(conn, res, "cannot start copying");
    PQclear(res);
    while (rc == 0) {
        char *data = NULL;
        int len = PQgetCopyData(conn, &data, 0);
        if (len == -1)
            break;
        if (len < 0) {
            rc = zb_pg_result_error(conn, NULL, "copy failed");
            break;
        }
        rc = message(data, (size_t)len, payload);
        PQfreemem(data);
    }
    /* the COPY's own result says whether it ended well */
    while ((res = PQgetResult(conn)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = zb_pg_result_error(conn, res, "copy failed");
        PQclear(res);
    }
    return rc;
}
