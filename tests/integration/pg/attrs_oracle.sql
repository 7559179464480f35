-- The attributes fixture_attrs.sql sets, read from the catalogs (a test
-- oracle for servers Debian's pg_dump cannot read; never used by the tool).
SET client_min_messages = warning;
SELECT 'schema public', pg_get_userbyid(nspowner), nspacl, obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = 'public';
SELECT 'extension ' || extname, obj_description(oid, 'pg_extension') FROM pg_extension ORDER BY 1;
SELECT 'column ' || attrelid::regclass || '.' || attname, attnum, attstorage, COALESCE(attstattarget, -1), attoptions,
    to_jsonb(a) ->> 'attcompression', attnotnull, attislocal, pg_get_expr(d.adbin, d.adrelid), col_description(attrelid, attnum)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE attrelid IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'attrs')
    AND attnum > 0 AND NOT attisdropped ORDER BY 1;
SELECT 'relation ' || c.oid::regclass, c.relkind, c.relpersistence, c.relreplident, c.reloptions, t.reloptions
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE n.nspname = 'attrs' ORDER BY 1;
SELECT 'index ' || indexrelid::regclass, indisclustered, indisreplident FROM pg_index
WHERE indrelid IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'attrs') ORDER BY 1;
SELECT 'range ' || rngtypid::regtype, (SELECT opcname FROM pg_opclass WHERE oid = rngsubopc), rngcollation
FROM pg_range WHERE rngtypid >= 16384;
SELECT 'constraint ' || conname, obj_description(oid, 'pg_constraint') FROM pg_constraint WHERE contypid >= 16384 ORDER BY 1;
SELECT 'acl ' || oid::regclass, relacl FROM pg_class WHERE relacl IS NOT NULL AND oid >= 16384 ORDER BY 1;
SELECT 'database', pg_get_userbyid(d.datdba), d.datacl, shobj_description(d.oid, 'pg_database'),
    (SELECT string_agg(coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '-') || ' ' || s.setconfig::text, '; '
        ORDER BY 1) FROM pg_db_role_setting s WHERE s.setdatabase = d.oid)
FROM pg_database d WHERE d.datname = current_database();
