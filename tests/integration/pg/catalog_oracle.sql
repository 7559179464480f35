-- A description of a database's user objects and rows, written by the
-- server's own catalog functions, for comparing a source with its restored
-- copy where no pg_dump of the server's version is at hand (Debian's
-- pg_dump refuses servers newer than itself). It is the tests' oracle only;
-- the tool never runs it. Object identifiers (OIDs) differ between the two
-- databases and are left out; everything is sorted by what it describes.
\pset format unaligned
\pset tuples_only on
\pset footer off
SET client_min_messages = warning;
SET search_path = pg_catalog;
SET extra_float_digits = 3;
SET DateStyle = ISO;
SET IntervalStyle = postgres;
SET TimeZone = UTC;

CREATE TEMP VIEW user_ns AS
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%';
-- objects an extension created are the extension's, not the database's
CREATE TEMP VIEW ext_member AS
    SELECT classid, objid FROM pg_depend WHERE deptype = 'e';

SELECT 'extension ' || extname || ' in ' || extnamespace::regnamespace FROM pg_extension ORDER BY 1;
SELECT 'schema ' || n.nspname || ' owner ' || pg_get_userbyid(s.nspowner) || ' acl ' || coalesce(s.nspacl::text, '-')
    FROM user_ns n JOIN pg_namespace s ON s.oid = n.oid ORDER BY 1;
SELECT 'type ' || format_type(t.oid, NULL) || ' kind ' || t.typtype::text || ' owner ' || pg_get_userbyid(t.typowner)
    || ' base ' || coalesce(format_type(nullif(t.typbasetype, 0), t.typtypmod), '-')
    -- a domain's default as the server deparses it (pg_dump reads it so):
    -- typdefault keeps the text it was given, which may rely on the
    -- search path of the session that gave it
    || ' notnull ' || t.typnotnull || ' default ' || coalesce(pg_get_expr(t.typdefaultbin, 0), t.typdefault, '-')
    || ' labels ' || coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '-')
    || ' range ' || coalesce((SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid), '-')
    || ' checks ' || coalesce((SELECT string_agg(c.conname || ' ' || pg_get_constraintdef(c.oid), '; ' ORDER BY c.conname)
                               FROM pg_constraint c WHERE c.contypid = t.oid), '-')
    FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd', 'r', 'c') AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
      AND NOT EXISTS (SELECT 1 FROM ext_member x WHERE x.classid = 'pg_type'::regclass AND x.objid = t.oid)
    ORDER BY 1;
SELECT 'relation ' || c.oid::regclass || ' kind ' || c.relkind::text || ' persistence ' || c.relpersistence::text
    || ' owner ' || pg_get_userbyid(c.relowner) || ' acl ' || coalesce(c.relacl::text, '-')
    || ' options ' || coalesce(c.reloptions::text, '-') || ' rls ' || c.relrowsecurity || '/' || c.relforcerowsecurity
    || ' partkey ' || coalesce(pg_get_partkeydef(c.oid), '-')
    || ' bound ' || coalesce(pg_get_expr(c.relpartbound, c.oid), '-')
    || ' parents ' || coalesce((SELECT string_agg(i.inhparent::regclass::text, ',' ORDER BY i.inhseqno) FROM pg_inherits i WHERE i.inhrelid = c.oid), '-')
    || ' view ' || coalesce(CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END, '-')
    || ' populated ' || c.relispopulated
    FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
      AND NOT EXISTS (SELECT 1 FROM ext_member x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid)
    ORDER BY 1;
SELECT 'column ' || a.attrelid::regclass || '.' || quote_ident(a.attname) || ' #' || a.attnum
    || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull ' || a.attnotnull
    || ' identity ' || a.attidentity::text || ' generated ' || a.attgenerated::text
    || ' default ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
    || ' collation ' || coalesce((SELECT collname FROM pg_collation WHERE oid = nullif(a.attcollation, 0)), '-')
    || ' acl ' || coalesce(a.attacl::text, '-') || ' local ' || a.attislocal
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN user_ns n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
      AND NOT EXISTS (SELECT 1 FROM ext_member x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid)
    ORDER BY 1;
SELECT 'sequence ' || s.seqrelid::regclass || ' ' || format_type(s.seqtypid, NULL) || ' start ' || s.seqstart
    || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache
    || ' cycle ' || s.seqcycle || ' value ' || coalesce(v.last_value::text, 'unset')
    || ' owned by ' || coalesce((SELECT d.refobjid::regclass || '.' || d.refobjsubid FROM pg_depend d
                                 WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '-')
    FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN user_ns n ON n.oid = c.relnamespace
    LEFT JOIN pg_sequences v ON v.schemaname = n.nspname AND v.sequencename = c.relname
    ORDER BY 1;
SELECT 'index ' || pg_get_indexdef(i.indexrelid) || ' clustered ' || i.indisclustered
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN user_ns n ON n.oid = c.relnamespace
    ORDER BY 1;
SELECT 'constraint ' || coalesce(nullif(c.conrelid, 0)::regclass::text, format_type(c.contypid, NULL)) || ' ' || quote_ident(c.conname)
    || ' ' || pg_get_constraintdef(c.oid) || ' validated ' || c.convalidated
    || ' deferrable ' || c.condeferrable || '/' || c.condeferred
    FROM pg_constraint c JOIN user_ns n ON n.oid = c.connamespace
    ORDER BY 1;
SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN user_ns n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal ORDER BY 1;
SELECT 'routine ' || pg_get_functiondef(p.oid) || ' owner ' || pg_get_userbyid(p.proowner) || ' acl ' || coalesce(p.proacl::text, '-')
    FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
    WHERE p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM ext_member x WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid)
    ORDER BY 1;
SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || permissive || ' ' || roles::text
    || ' ' || cmd || ' using ' || coalesce(qual, '-') || ' check ' || coalesce(with_check, '-')
    FROM pg_policies ORDER BY 1;
SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
    FROM pg_description d
    WHERE d.objoid >= 16384
      AND NOT EXISTS (SELECT 1 FROM ext_member x WHERE x.classid = d.classoid AND x.objid = d.objoid)
      AND pg_describe_object(d.classoid, d.objoid, d.objsubid) NOT LIKE 'extension %'
    ORDER BY 1;
SELECT 'large object ' || m.oid || ' owner ' || pg_get_userbyid(m.lomowner) || ' acl ' || coalesce(m.lomacl::text, '-')
    || ' md5 ' || md5(lo_get(m.oid)) || ' comment ' || coalesce(obj_description(m.oid, 'pg_largeobject'), '-')
    FROM pg_largeobject_metadata m ORDER BY 1;

-- rows: every table's rows as text, sorted, hashed
CREATE TEMP TABLE row_digest (rel text, rows bigint, md5 text);
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'm') AND c.relispopulated
               AND NOT EXISTS (SELECT 1 FROM ext_member x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid)
    LOOP
        EXECUTE format('INSERT INTO row_digest SELECT %L, count(*), md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), ''''))'
                       ' FROM ONLY %s t', r.rel::text, r.rel);
    END LOOP;
END
$$;
SELECT 'rows ' || rel || ' ' || rows || ' ' || md5 FROM row_digest ORDER BY 1;
