/* The catalog queries of the fingerprint, one per kind of object. Each
 * returns the object's name in its first column and one attribute per
 * further column (the column's name is the attribute's); NULL means "not
 * set" and is left out. Names are schema-qualified and quoted by the queries
 * themselves (format %I), oids never leave the server, so the same object
 * has the same name in any database on any server. Version-dependent
 * columns are written @NAME@ and replaced by zb_pg_fingerprint_sql. */
#include "zakpos_backup/source/pg/fingerprint.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <stdlib.h>
#include <string.h>

/* what a user made: not the system's schemas, not an extension's members */
#define USER_NS(n) "(" n ".nspname <> 'information_schema' AND " n ".nspname !~ '^pg_')"
#define NOT_MEMBER(catalog, oid)                                                                                       \
    "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '" catalog "'::regclass AND e.objid = " oid               \
    " AND e.deptype = 'e')"
/* arrays as sorted text: ACLs, options and settings are sets */
#define SORTED(arr) "(SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(" arr ") x)"
#define QNAME(n, o) "format('%I.%I', " n ", " o ")"
/* An object's comment, as obj_description(oid, catalog) and
 * col_description(table, column) give it, read by a subquery instead: those
 * are SQL functions the planner cannot inline, run through the function
 * executor once a row, and at 8,000 columns a row each they were half of the
 * columns query's time. pg_description's key is (objoid, classoid, objsubid):
 * one row at most, as the functions find. */
#define DESCRIPTION_OF(oid, catalog, subid)                                                                            \
    "(SELECT ds.description FROM pg_description ds WHERE ds.objoid = " oid " AND ds.classoid = 'pg_catalog." catalog   \
    "'::regclass AND ds.objsubid = " subid ")"
#define DESCRIPTION(oid, catalog)         DESCRIPTION_OF(oid, catalog, "0")
#define COLUMN_DESCRIPTION(table, column) DESCRIPTION_OF(table, "pg_class", column)

static const char database_sql[] =
    "SELECT 'database' AS object, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding, "
    "d.datcollate AS lc_collate, d.datctype AS lc_ctype, @DATPROVIDER@ AS locale_provider, @DATLOCALE@ AS icu_locale, "
    "@ICURULES@ AS icu_rules, d.datconnlimit::text AS connection_limit, t.spcname AS tablespace, "
    SORTED("d.datacl") " AS acl, shobj_description(d.oid, 'pg_database') AS comment, "
    "(SELECT string_agg(x, ' ' ORDER BY x) FROM pg_db_role_setting s, unnest(s.setconfig) x "
    "WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings "
    "FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = current_database()";

static const char role_settings_sql[] =
    "SELECT 'settings of role ' || quote_ident(pg_get_userbyid(s.setrole)) || ' in the database', "
    "(SELECT string_agg(x, ' ' ORDER BY x) FROM unnest(s.setconfig) x) AS settings "
    "FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
    "WHERE d.datname = current_database() AND s.setrole <> 0";

static const char schemas_sql[] =
    "SELECT 'schema ' || quote_ident(n.nspname), pg_get_userbyid(n.nspowner) AS owner, " SORTED("n.nspacl") " AS acl, "
    DESCRIPTION("n.oid", "pg_namespace") " AS comment FROM pg_namespace n "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_namespace", "n.oid");

static const char relations_sql[] =
    "SELECT 'relation ' || " QNAME("n.nspname", "c.relname") ", c.relkind::text AS kind, "
    "pg_get_userbyid(c.relowner) AS owner, c.relpersistence::text AS persistence, ts.spcname AS tablespace, "
    "am.amname AS access_method, " SORTED("c.reloptions") " AS options, " SORTED("tc.reloptions") " AS toast_options, "
    "CASE WHEN c.relkind IN ('r', 'p', 'm') THEN c.relreplident::text END AS replica_identity, "
    "(SELECT quote_ident(i.relname) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
    " WHERE x.indrelid = c.oid AND x.indisreplident) AS replica_identity_index, "
    "(SELECT quote_ident(i.relname) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
    " WHERE x.indrelid = c.oid AND x.indisclustered) AS cluster_on, "
    "CASE WHEN c.relrowsecurity THEN 'enabled' END AS row_security, "
    "CASE WHEN c.relforcerowsecurity THEN 'forced' END AS force_row_security, "
    "(SELECT string_agg(" QNAME("pn.nspname", "p.relname") ", ', ' ORDER BY h.inhseqno) FROM pg_inherits h "
    " JOIN pg_class p ON p.oid = h.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace "
    " WHERE h.inhrelid = c.oid) AS inherits, "
    "pg_get_expr(c.relpartbound, c.oid) AS partition_bound, "
    "CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key, "
    "CASE WHEN c.reloftype <> 0 THEN format_type(c.reloftype, NULL) END AS typed_table_of, "
    "(SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a "
    " WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS column_order, "
    "CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition, "
    "(SELECT quote_ident(s.srvname) || coalesce(' ' || " SORTED("f.ftoptions") ", '') FROM pg_foreign_table f "
    " JOIN pg_foreign_server s ON s.oid = f.ftserver WHERE f.ftrelid = c.oid) AS foreign_server, "
    SORTED("c.relacl") " AS acl, " DESCRIPTION("c.oid", "pg_class") " AS comment "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace "
    "LEFT JOIN pg_am am ON am.oid = c.relam LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND " USER_NS("n") " AND " NOT_MEMBER("pg_class", "c.oid");

static const char sequences_sql[] =
    "SELECT 'relation ' || " QNAME("n.nspname", "c.relname") ", format_type(s.seqtypid, NULL) AS sequence_type, "
    "s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS minimum, "
    "s.seqmax::text AS maximum, s.seqcache::text AS cache, CASE WHEN s.seqcycle THEN 'cycle' END AS cycle, "
    "(SELECT format('%I.%I.%I', tn.nspname, t.relname, a.attname) || ' ' || d.deptype::text FROM pg_depend d "
    " JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace "
    " JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
    " WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass "
    " AND d.deptype IN ('a', 'i') LIMIT 1) AS owned_by "
    "FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_class", "c.oid");

static const char columns_sql[] =
    "SELECT 'column ' || format('%I.%I.%I', n.nspname, c.relname, a.attname), "
    "format_type(a.atttypid, a.atttypmod) AS type, CASE WHEN a.attnotnull THEN 'not null' END AS not_null, "
    "pg_get_expr(ad.adbin, ad.adrelid) AS default, NULLIF(a.attgenerated::text, '') AS generated, "
    "NULLIF(a.attidentity::text, '') AS identity, a.attstorage::text AS storage, @ATTSTAT@::text AS statistics, "
    SORTED("a.attoptions") " AS options, @COMPRESSION@ AS compression, "
    "CASE WHEN a.attcollation <> t.typcollation THEN (SELECT " QNAME("cn.nspname", "co.collname") " FROM pg_collation co "
    " JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END AS collation, "
    "CASE WHEN NOT a.attislocal THEN 'inherited only' END AS local, NULLIF(a.attinhcount, 0)::text AS inherited_from, "
    SORTED("a.attacl") " AS acl, " COLUMN_DESCRIPTION("c.oid", "a.attnum") " AS comment, " SORTED("a.attfdwoptions") " AS fdw_options "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum "
    "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND " USER_NS("n")
    " AND " NOT_MEMBER("pg_class", "c.oid");

/* INVALID indexes (a failed CREATE INDEX CONCURRENTLY) are not restored */
static const char indexes_sql[] =
    "SELECT 'index ' || " QNAME("n.nspname", "i.relname") ", " QNAME("n.nspname", "c.relname") " AS table, "
    "pg_get_indexdef(i.oid) AS definition, ts.spcname AS tablespace, " SORTED("i.reloptions") " AS options, "
    "(SELECT string_agg(a.attnum || '=' || @ATTSTAT@, ' ' ORDER BY a.attnum) FROM pg_attribute a "
    " WHERE a.attrelid = i.oid AND @ATTSTAT@ >= 0) AS statistics, "
    "(SELECT " QNAME("pn.nspname", "p.relname") " FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent "
    " JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE h.inhrelid = i.oid) AS attached_to, "
    DESCRIPTION("i.oid", "pg_class") " AS comment "
    "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid "
    "JOIN pg_namespace n ON n.oid = i.relnamespace LEFT JOIN pg_tablespace ts ON ts.oid = i.reltablespace "
    "WHERE x.indisvalid AND " USER_NS("n") " AND " NOT_MEMBER("pg_class", "c.oid");

static const char constraints_sql[] =
    "SELECT 'constraint ' || quote_ident(co.conname) || ' on ' || CASE WHEN co.conrelid <> 0 THEN "
    " (SELECT " QNAME("rn.nspname", "r.relname") " FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace "
    " WHERE r.oid = co.conrelid) ELSE 'domain ' || format_type(co.contypid, NULL) END, "
    "co.contype::text AS type, pg_get_constraintdef(co.oid) AS definition, "
    "CASE WHEN NOT co.convalidated THEN 'not valid' END AS validated, "
    "CASE WHEN co.condeferrable THEN CASE WHEN co.condeferred THEN 'deferred' ELSE 'immediate' END END AS deferrable, "
    "CASE WHEN NOT co.conislocal THEN 'inherited only' END AS local, NULLIF(co.coninhcount, 0)::text AS inherited_from, "
    "CASE WHEN co.connoinherit THEN 'no inherit' END AS no_inherit, "
    "(SELECT quote_ident(p.conname) FROM pg_constraint p WHERE p.oid = co.conparentid) AS parent, "
    DESCRIPTION("co.oid", "pg_constraint") " AS comment "
    "FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE " USER_NS("n")
    /* NOT NULL is a column's or a domain's attribute (17 also lists a domain's here) */
    " AND co.contype <> 'n'"
    " AND " NOT_MEMBER("pg_class", "co.conrelid") " AND " NOT_MEMBER("pg_type", "co.contypid");

static const char triggers_sql[] =
    "SELECT 'trigger ' || quote_ident(t.tgname) || ' on ' || " QNAME("n.nspname", "c.relname") ", "
    "pg_get_triggerdef(t.oid) AS definition, t.tgenabled::text AS enabled, " DESCRIPTION("t.oid", "pg_trigger") " AS comment "
    "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE NOT t.tgisinternal AND " USER_NS("n") " AND " NOT_MEMBER("pg_class", "c.oid");

static const char rules_sql[] =
    "SELECT 'rule ' || quote_ident(r.rulename) || ' on ' || " QNAME("n.nspname", "c.relname") ", "
    "pg_get_ruledef(r.oid) AS definition, r.ev_enabled::text AS enabled, " DESCRIPTION("r.oid", "pg_rewrite") " AS comment "
    "FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE r.rulename <> '_RETURN' AND " USER_NS("n") " AND " NOT_MEMBER("pg_class", "c.oid");

static const char policies_sql[] =
    "SELECT 'policy ' || quote_ident(p.polname) || ' on ' || " QNAME("n.nspname", "c.relname") ", "
    "p.polcmd::text AS command, CASE WHEN NOT p.polpermissive THEN 'restrictive' END AS restrictive, "
    "(SELECT string_agg(x, ', ' ORDER BY x) FROM (SELECT CASE WHEN r = 0 THEN 'public' "
    " ELSE quote_ident(pg_get_userbyid(r)) END AS x FROM unnest(p.polroles) r) s) AS roles, pg_get_expr(p.polqual, p.polrelid) AS using_expression, "
    "pg_get_expr(p.polwithcheck, p.polrelid) AS check_expression, " DESCRIPTION("p.oid", "pg_policy") " AS comment "
    "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE " USER_NS("n");

static const char functions_sql[] =
    "SELECT 'function ' || p.oid::regprocedure::text, p.prokind::text AS kind, pg_get_userbyid(p.proowner) AS owner, "
    "l.lanname AS language, pg_get_function_result(p.oid) AS result, p.provolatile::text AS volatility, "
    "CASE WHEN p.proisstrict THEN 'strict' END AS strict, CASE WHEN p.prosecdef THEN 'definer' END AS security, "
    "CASE WHEN p.proleakproof THEN 'leakproof' END AS leakproof, p.proparallel::text AS parallel, "
    "p.procost::text AS cost, p.prorows::text AS rows, " SORTED("p.proconfig") " AS settings, "
    "md5(p.prosrc) AS source_md5, p.probin AS object_file, @SQLBODY@ AS sql_body, "
    SORTED("p.proacl") " AS acl, " DESCRIPTION("p.oid", "pg_proc") " AS comment "
    "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_proc", "p.oid");

static const char aggregates_sql[] =
    "SELECT 'function ' || a.aggfnoid::regprocedure::text, a.aggkind::text AS aggregate_kind, "
    "a.aggtransfn::regproc::text AS transition, format_type(a.aggtranstype, NULL) AS state_type, "
    "a.aggfinalfn::regproc::text AS final, a.aggcombinefn::regproc::text AS combine, a.agginitval AS initial_value, "
    "a.aggsortop::regoperator::text AS sort_operator "
    "FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_proc", "p.oid");

/* types with a life of their own: not a table's row type, not an automatic array */
static const char types_sql[] =
    "SELECT 'type ' || format_type(t.oid, NULL), t.typtype::text AS kind, pg_get_userbyid(t.typowner) AS owner, "
    SORTED("t.typacl") " AS acl, " DESCRIPTION("t.oid", "pg_type") " AS comment, "
    "CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type, "
    "CASE WHEN t.typnotnull THEN 'not null' END AS not_null, "
    "CASE WHEN t.typdefaultbin IS NOT NULL THEN pg_get_expr(t.typdefaultbin, 0) ELSE t.typdefault END AS default, "
    "CASE WHEN t.typtype = 'd' AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype) "
    " THEN (SELECT " QNAME("cn.nspname", "co.collname") " FROM pg_collation co JOIN pg_namespace cn "
    " ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) END AS collation, "
    "(SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e "
    " WHERE e.enumtypid = t.oid) AS labels, "
    "(SELECT format_type(r.rngsubtype, NULL) || ' opclass ' || " QNAME("opn.nspname", "oc.opcname")
    " || CASE WHEN cl.oid IS NOT NULL THEN ' collate ' || " QNAME("cln.nspname", "cl.collname") " ELSE '' END "
    " || ' canonical ' || r.rngcanonical::regproc::text || ' subdiff ' || r.rngsubdiff::regproc::text "
    " FROM pg_range r JOIN pg_opclass oc ON oc.oid = r.rngsubopc JOIN pg_namespace opn ON opn.oid = oc.opcnamespace "
    " LEFT JOIN pg_collation cl ON cl.oid = r.rngcollation LEFT JOIN pg_namespace cln ON cln.oid = cl.collnamespace "
    " WHERE r.rngtypid = t.oid) AS range, "
    /* a base type's every CREATE TYPE property; SUBSCRIPT (14 on) when not
     * the one an ELEMENT gets by default, so a type of 12 restored into 17
     * is the same */
    "CASE WHEN t.typtype = 'b' THEN concat_ws(' ', t.typinput::regproc, t.typoutput::regproc, t.typreceive::regproc, "
    " t.typsend::regproc, t.typlen, t.typalign, t.typstorage, t.typcategory, 'typmod_in ' || NULLIF(t.typmodin, 0)::regproc, "
    " 'typmod_out ' || NULLIF(t.typmodout, 0)::regproc, 'analyze ' || NULLIF(t.typanalyze, 0)::regproc, 'subscript ' || "
    " NULLIF(NULLIF(to_jsonb(t) ->> 'typsubscript', '-'), 'raw_array_subscript_handler'), "
    " CASE WHEN t.typbyval THEN 'passedbyvalue' END, CASE WHEN t.typispreferred THEN 'preferred' END, "
    " 'element ' || format_type(NULLIF(t.typelem, 0), NULL), 'delimiter ' || t.typdelim::text, "
    " CASE WHEN t.typcollation <> 0 THEN 'collatable' END) END AS base "
    "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE " USER_NS("n") " AND "
    NOT_MEMBER("pg_type", "t.oid") " AND t.typtype <> 'm' "
    "AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c') "
    "AND NOT (t.typelem <> 0 AND t.typlen = -1 AND EXISTS (SELECT 1 FROM pg_type el WHERE el.typarray = t.oid))";

static const char operators_sql[] =
    "SELECT 'operator ' || o.oid::regoperator::text, pg_get_userbyid(o.oprowner) AS owner, "
    "o.oprcode::regproc::text AS function, o.oprcom::regoperator::text AS commutator, "
    "o.oprnegate::regoperator::text AS negator, o.oprrest::regproc::text AS restrict, o.oprjoin::regproc::text AS join, "
    "CASE WHEN o.oprcanhash THEN 'hashes' END AS hashes, CASE WHEN o.oprcanmerge THEN 'merges' END AS merges, "
    DESCRIPTION("o.oid", "pg_operator") " AS comment FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_operator", "o.oid");

static const char opclasses_sql[] =
    "SELECT 'operator class ' || " QNAME("n.nspname", "c.opcname") " || ' using ' || am.amname, "
    "pg_get_userbyid(c.opcowner) AS owner, format_type(c.opcintype, NULL) AS type, "
    "CASE WHEN c.opcdefault THEN 'default' END AS is_default, "
    "(SELECT " QNAME("fn.nspname", "f.opfname") " FROM pg_opfamily f JOIN pg_namespace fn ON fn.oid = f.opfnamespace "
    " WHERE f.oid = c.opcfamily) AS family, format_type(NULLIF(c.opckeytype, 0), NULL) AS storage, "
    DESCRIPTION("c.oid", "pg_opclass") " AS comment FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace "
    "JOIN pg_am am ON am.oid = c.opcmethod WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_opclass", "c.oid");

static const char opfamilies_sql[] =
    "SELECT 'operator family ' || " QNAME("n.nspname", "f.opfname") " || ' using ' || am.amname, "
    "pg_get_userbyid(f.opfowner) AS owner, "
    "(SELECT string_agg(o.amopstrategy || ' ' || o.amopopr::regoperator::text || ' ' || o.amoppurpose::text, ', ' "
    " ORDER BY o.amopstrategy, o.amopopr::regoperator::text) FROM pg_amop o WHERE o.amopfamily = f.oid) AS operators, "
    "(SELECT string_agg(p.amprocnum || ' ' || p.amproc::regprocedure::text, ', ' "
    " ORDER BY p.amprocnum, p.amproc::regprocedure::text) FROM pg_amproc p WHERE p.amprocfamily = f.oid) AS functions, "
    DESCRIPTION("f.oid", "pg_opfamily") " AS comment FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace "
    "JOIN pg_am am ON am.oid = f.opfmethod WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_opfamily", "f.oid");

static const char casts_sql[] =
    "SELECT 'cast (' || format_type(c.castsource, NULL) || ' AS ' || format_type(c.casttarget, NULL) || ')', "
    "CASE WHEN c.castfunc <> 0 THEN c.castfunc::regprocedure::text END AS function, c.castcontext::text AS context, "
    "c.castmethod::text AS method, " DESCRIPTION("c.oid", "pg_cast") " AS comment FROM pg_cast c "
    "WHERE c.oid >= 16384 AND " NOT_MEMBER("pg_cast", "c.oid");

static const char collations_sql[] =
    "SELECT 'collation ' || " QNAME("n.nspname", "co.collname") ", pg_get_userbyid(co.collowner) AS owner, "
    "co.collprovider::text AS provider, co.collcollate AS lc_collate, co.collctype AS lc_ctype, "
    "@COLLLOCALE@ AS icu_locale, CASE WHEN NOT co.collisdeterministic THEN 'nondeterministic' END AS deterministic, "
    "pg_encoding_to_char(co.collencoding) AS encoding, " DESCRIPTION("co.oid", "pg_collation") " AS comment "
    "FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_collation", "co.oid");

static const char conversions_sql[] =
    "SELECT 'conversion ' || " QNAME("n.nspname", "c.conname") ", pg_get_userbyid(c.conowner) AS owner, "
    "pg_encoding_to_char(c.conforencoding) AS source, pg_encoding_to_char(c.contoencoding) AS destination, "
    "c.conproc::regproc::text AS function, CASE WHEN c.condefault THEN 'default' END AS is_default, "
    DESCRIPTION("c.oid", "pg_conversion") " AS comment FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_conversion", "c.oid");

static const char text_search_sql[] =
    "SELECT 'text search configuration ' || " QNAME("n.nspname", "c.cfgname") ", pg_get_userbyid(c.cfgowner) AS owner, "
    "(SELECT " QNAME("pn.nspname", "p.prsname") " FROM pg_ts_parser p JOIN pg_namespace pn ON pn.oid = p.prsnamespace "
    " WHERE p.oid = c.cfgparser) AS parser, "
    "(SELECT string_agg(m.maptokentype || ':' || m.mapseqno || ':' || m.mapdict::regdictionary::text, ' ' "
    " ORDER BY m.maptokentype, m.mapseqno) FROM pg_ts_config_map m WHERE m.mapcfg = c.oid) AS mapping, "
    DESCRIPTION("c.oid", "pg_ts_config") " AS comment FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_ts_config", "c.oid") " UNION ALL "
    "SELECT 'text search dictionary ' || " QNAME("n.nspname", "d.dictname") ", pg_get_userbyid(d.dictowner), "
    "(SELECT " QNAME("tn.nspname", "t.tmplname") " FROM pg_ts_template t JOIN pg_namespace tn ON tn.oid = t.tmplnamespace "
    " WHERE t.oid = d.dicttemplate), d.dictinitoption, " DESCRIPTION("d.oid", "pg_ts_dict") " "
    "FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_ts_dict", "d.oid") " UNION ALL "
    "SELECT 'text search parser ' || " QNAME("n.nspname", "p.prsname") ", NULL, concat_ws(' ', p.prsstart::regproc, "
    "p.prstoken::regproc, p.prsend::regproc, p.prsheadline::regproc, p.prslextype::regproc), NULL, "
    DESCRIPTION("p.oid", "pg_ts_parser") " FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_ts_parser", "p.oid") " UNION ALL "
    "SELECT 'text search template ' || " QNAME("n.nspname", "t.tmplname") ", NULL, "
    "concat_ws(' ', t.tmplinit::regproc, t.tmpllexize::regproc), NULL, " DESCRIPTION("t.oid", "pg_ts_template") " "
    "FROM pg_ts_template t JOIN pg_namespace n ON n.oid = t.tmplnamespace "
    "WHERE " USER_NS("n") " AND " NOT_MEMBER("pg_ts_template", "t.oid");

static const char event_triggers_sql[] =
    "SELECT 'event trigger ' || quote_ident(t.evtname), pg_get_userbyid(t.evtowner) AS owner, t.evtevent AS event, "
    "t.evtenabled::text AS enabled, t.evtfoid::regproc::text AS function, " SORTED("t.evttags") " AS tags, "
    DESCRIPTION("t.oid", "pg_event_trigger") " AS comment FROM pg_event_trigger t "
    "WHERE " NOT_MEMBER("pg_event_trigger", "t.oid");

static const char publications_sql[] =
    "SELECT 'publication ' || quote_ident(p.pubname), pg_get_userbyid(p.pubowner) AS owner, "
    "CASE WHEN p.puballtables THEN 'all tables' END AS all_tables, "
    "concat_ws(',', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END, "
    "CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END) AS actions, "
    "@PUBVIAROOT@ AS via_root, "
    "(SELECT string_agg(x, ', ' ORDER BY x) FROM (SELECT " QNAME("cn.nspname", "c.relname") " AS x "
    " FROM pg_publication_rel r JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace "
    " WHERE r.prpubid = p.oid) s) AS tables, "
    DESCRIPTION("p.oid", "pg_publication") " AS comment FROM pg_publication p";

static const char foreign_data_sql[] =
    "SELECT 'foreign-data wrapper ' || quote_ident(w.fdwname), pg_get_userbyid(w.fdwowner) AS owner, "
    "concat_ws(' ', w.fdwhandler::regproc, w.fdwvalidator::regproc) AS functions, " SORTED("w.fdwoptions") " AS options, "
    SORTED("w.fdwacl") " AS acl, " DESCRIPTION("w.oid", "pg_foreign_data_wrapper") " AS comment "
    "FROM pg_foreign_data_wrapper w WHERE " NOT_MEMBER("pg_foreign_data_wrapper", "w.oid") " UNION ALL "
    "SELECT 'server ' || quote_ident(s.srvname), pg_get_userbyid(s.srvowner), "
    "concat_ws(' ', (SELECT quote_ident(w.fdwname) FROM pg_foreign_data_wrapper w WHERE w.oid = s.srvfdw), "
    "s.srvtype, s.srvversion), " SORTED("s.srvoptions") ", " SORTED("s.srvacl") ", "
    DESCRIPTION("s.oid", "pg_foreign_server") " FROM pg_foreign_server s "
    "WHERE " NOT_MEMBER("pg_foreign_server", "s.oid") " UNION ALL "
    "SELECT 'user mapping for ' || quote_ident(m.usename) || ' on server ' || quote_ident(m.srvname), NULL, NULL, "
    SORTED("m.umoptions") ", NULL, NULL FROM pg_user_mappings m";

static const char statistics_sql[] =
    "SELECT 'statistics ' || " QNAME("n.nspname", "s.stxname") ", pg_get_userbyid(s.stxowner) AS owner, "
    "pg_get_statisticsobjdef(s.oid) AS definition, @STXSTAT@ AS statistics, "
    DESCRIPTION("s.oid", "pg_statistic_ext") " AS comment FROM pg_statistic_ext s "
    "JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE " USER_NS("n");

static const char extensions_sql[] =
    "SELECT 'extension ' || quote_ident(x.extname), x.extversion AS version, n.nspname AS schema, " DESCRIPTION(
        "x.oid", "pg_extension") " AS comment FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace";

/* privileges changed on an extension's members (pg_dump keeps these): the
 * members whose privileges are not what the extension's script gave them */
static const char extension_members_sql[] =
    "SELECT 'extension member ' || o.type || ' ' || o.identity, " SORTED("m.acl") " AS acl "
    "FROM (SELECT c.oid, 'pg_class'::regclass AS classid, c.relacl AS acl FROM pg_class c UNION ALL "
    " SELECT p.oid, 'pg_proc'::regclass, p.proacl FROM pg_proc p UNION ALL "
    " SELECT t.oid, 'pg_type'::regclass, t.typacl FROM pg_type t UNION ALL "
    " SELECT n.oid, 'pg_namespace'::regclass, n.nspacl FROM pg_namespace n) m "
    "JOIN pg_depend d ON d.classid = m.classid AND d.objid = m.oid AND d.deptype = 'e' "
    "LEFT JOIN pg_init_privs ip ON ip.classoid = m.classid AND ip.objoid = m.oid AND ip.objsubid = 0 "
    "CROSS JOIN LATERAL pg_identify_object(m.classid, m.oid, 0) o "
    "WHERE m.acl IS DISTINCT FROM ip.initprivs";

static const char default_privileges_sql[] =
    "SELECT 'default privileges of role ' || quote_ident(pg_get_userbyid(d.defaclrole)) || "
    "coalesce(' in schema ' || quote_ident(n.nspname), '') || ' on ' || d.defaclobjtype::text, " SORTED("d.defaclacl") " AS acl "
    "FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace";

static const char large_objects_sql[] =
    "SELECT 'large object ' || l.oid, pg_get_userbyid(l.lomowner) AS owner, " SORTED(
        "l.lomacl") " AS acl, " DESCRIPTION("l.oid", "pg_largeobject") " AS comment FROM pg_largeobject_metadata l";

static const char languages_sql[] =
    "SELECT 'language ' || quote_ident(l.lanname), pg_get_userbyid(l.lanowner) AS owner, "
    "CASE WHEN l.lanpltrusted THEN 'trusted' END AS trusted, concat_ws(' ', l.lanplcallfoid::regproc, "
    "l.laninline::regproc, l.lanvalidator::regproc) AS functions, " SORTED("l.lanacl") " AS acl, "
    DESCRIPTION("l.oid", "pg_language") " AS comment FROM pg_language l "
    "WHERE l.oid >= 16384 AND " NOT_MEMBER("pg_language", "l.oid") " UNION ALL "
    "SELECT 'access method ' || quote_ident(a.amname), NULL, a.amtype::text, a.amhandler::regproc::text, NULL, "
    DESCRIPTION("a.oid", "pg_am") " FROM pg_am a WHERE a.oid >= 16384 AND " NOT_MEMBER("pg_am", "a.oid") " UNION ALL "
    "SELECT 'transform for ' || format_type(t.trftype, NULL) || ' language ' || "
    "(SELECT quote_ident(l.lanname) FROM pg_language l WHERE l.oid = t.trflang), NULL, NULL, "
    "concat_ws(' ', t.trffromsql::regproc, t.trftosql::regproc), NULL, NULL FROM pg_transform t "
    "WHERE " NOT_MEMBER("pg_transform", "t.oid");

const char *const zb_pg_fingerprint_queries[] = {database_sql,
                                                 role_settings_sql,
                                                 schemas_sql,
                                                 relations_sql,
                                                 sequences_sql,
                                                 columns_sql,
                                                 indexes_sql,
                                                 constraints_sql,
                                                 triggers_sql,
                                                 rules_sql,
                                                 policies_sql,
                                                 functions_sql,
                                                 aggregates_sql,
                                                 types_sql,
                                                 operators_sql,
                                                 opclasses_sql,
                                                 opfamilies_sql,
                                                 casts_sql,
                                                 collations_sql,
                                                 conversions_sql,
                                                 text_search_sql,
                                                 event_triggers_sql,
                                                 publications_sql,
                                                 foreign_data_sql,
                                                 statistics_sql,
                                                 extensions_sql,
                                                 extension_members_sql,
                                                 default_privileges_sql,
                                                 large_objects_sql,
                                                 languages_sql,
                                                 NULL};

/* @NAME@ -> the column or expression the server has, by version */
typedef struct version_part {
    const char *name;
    int since; /* server_version_num from which `current` applies */
    const char *current;
    const char *older;
} version_part;

static const version_part parts[] = {
    /* from 17 on NULL means "the default", which was -1 before */
    {"@ATTSTAT@", 170000, "coalesce(a.attstattarget, -1)", "a.attstattarget"},
    {"@COMPRESSION@", 140000, "NULLIF(a.attcompression::text, '')", "NULL::text"},
    {"@DATPROVIDER@", 150000, "d.datlocprovider::text", "'c'::text"},
    {"@DATLOCALE@", 170000, "d.datlocale", "@DATLOCALE15@"},
    {"@DATLOCALE15@", 150000, "d.daticulocale", "NULL::text"},
    {"@ICURULES@", 160000, "d.daticurules", "NULL::text"},
    {"@COLLLOCALE@", 170000, "co.colllocale", "@COLLLOCALE15@"},
    {"@COLLLOCALE15@", 150000, "co.colliculocale", "NULL::text"},
    {"@STXSTAT@", 170000, "coalesce(s.stxstattarget, -1)::text", "@STXSTAT13@"},
    {"@STXSTAT13@", 130000, "s.stxstattarget::text", "'-1'::text"},
    {"@PUBVIAROOT@", 130000, "CASE WHEN p.pubviaroot THEN 'via root' END", "NULL::text"},
    {"@SQLBODY@", 140000, "CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) END", "NULL::text"},
};

int zb_pg_fingerprint_sql(char **out, const char *sql, int server_version)
{
    zb_buf b = ZB_BUF_INIT;
    int rc = zb_buf_puts(&b, sql);
    /* a part may name an older one: replace until none is left */
    for (int changed = 1; rc == 0 && changed;) {
        changed = 0;
        for (size_t i = 0; rc == 0 && i < sizeof(parts) / sizeof(parts[0]); i++) {
            char *at;
            while (rc == 0 && (at = strstr(b.data, parts[i].name)) != NULL) {
                const char *with = server_version >= parts[i].since ? parts[i].current : parts[i].older;
                zb_buf next = ZB_BUF_INIT;
                rc = zb_buf_append(&next, b.data, (size_t)(at - b.data));
                if (rc == 0)
                    rc = zb_buf_puts(&next, with);
                if (rc == 0)
                    rc = zb_buf_puts(&next, at + strlen(parts[i].name));
                zb_buf_free(&b);
                b = next;
                changed = 1;
            }
        }
    }
    if (rc < 0) {
        zb_buf_free(&b);
        return rc;
    }
    *out = zb_buf_detach(&b);
    return *out ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}
