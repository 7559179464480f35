-- What fixture_coverage.sql sets, read from the catalogs (a test oracle,
-- never used by the tool): partition indexes and keys with what they are
-- attached to, the states of cov.touch's triggers and their clones, the
-- privileges of citext's members that have any, the views' definitions
-- and the rows of the view in a cycle.
SET client_min_messages = warning;
SELECT 'index ' || x.indrelid::regclass || ' ' || x.indexrelid::regclass || ' attached to ' ||
    COALESCE((SELECT h.inhparent::regclass::text FROM pg_inherits h WHERE h.inhrelid = x.indexrelid), '-') ||
    COALESCE(' constraint ' || (SELECT k.conname FROM pg_constraint k WHERE k.conindid = x.indexrelid
        AND k.conrelid = x.indrelid), '') || ' valid ' || x.indisvalid
FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid WHERE c.relnamespace = 'cov'::regnamespace ORDER BY 1;
SELECT 'trigger ' || t.tgrelid::regclass || ' ' || t.tgname || ' ' || t.tgenabled::text FROM pg_trigger t
WHERE t.tgfoid = 'cov.touch'::regproc ORDER BY 1;
SELECT 'member ' || pg_describe_object(d.classid, d.objid, 0) || ' ' || COALESCE(p.proacl::text, t.typacl::text, '')
FROM pg_depend d LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'citext')
    AND COALESCE(p.proacl, t.typacl) IS NOT NULL ORDER BY 1;
SELECT 'view ' || c.oid::regclass || ' ' || pg_get_viewdef(c.oid) FROM pg_class c
WHERE c.relnamespace = 'cov'::regnamespace AND c.relkind = 'v' ORDER BY 1;
SELECT 'big order ' || id FROM cov.big_orders;
