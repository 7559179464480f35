-- The objects of fixture_kinds.sql as the catalogs describe them, without
-- oids: every object made by a user (pg_describe_object) with its owner, ACL
-- and comment, and the fields that define each kind, so that a restored copy
-- differing in any of them differs here. A test oracle, never used by the tool.
SET client_min_messages = warning;
WITH objects AS (
    SELECT classid, objid, objsubid FROM pg_depend WHERE objid >= 16384 AND deptype IN ('n', 'a', 'i')
    UNION SELECT 'pg_namespace'::regclass, oid, 0 FROM pg_namespace WHERE oid >= 16384
    UNION SELECT 'pg_event_trigger'::regclass, oid, 0 FROM pg_event_trigger
    UNION SELECT 'pg_publication'::regclass, oid, 0 FROM pg_publication
    UNION SELECT 'pg_subscription'::regclass, oid, 0 FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION SELECT 'pg_foreign_data_wrapper'::regclass, oid, 0 FROM pg_foreign_data_wrapper
    UNION SELECT 'pg_am'::regclass, oid, 0 FROM pg_am WHERE oid >= 16384
    UNION SELECT 'pg_default_acl'::regclass, oid, 0 FROM pg_default_acl
    UNION SELECT 'pg_collation'::regclass, oid, 0 FROM pg_collation WHERE oid >= 16384
)
SELECT DISTINCT pg_describe_object(classid, objid, objsubid) FROM objects
WHERE pg_describe_object(classid, objid, objsubid) IS NOT NULL
    AND pg_describe_object(classid, objid, objsubid) !~ 'pg_toast' ORDER BY 1;
SELECT 'aggregate ' || aggfnoid::regprocedure, aggkind, aggnumdirectargs, aggtransfn::regproc, aggfinalfn::regproc,
    aggcombinefn::regproc, aggmtransfn::regproc, aggminvtransfn::regproc, aggfinalextra, aggfinalmodify,
    format_type(aggtranstype, NULL), format_type(aggmtranstype, NULL), agginitval, aggminitval, p.proparallel,
    pg_get_userbyid(p.proowner), p.proacl, obj_description(p.oid, 'pg_proc')
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid WHERE p.oid >= 16384 ORDER BY 1;
SELECT 'operator ' || o.oid::regoperator, oprkind, oprcanhash, oprcanmerge, oprcode::regproc, oprcom::regoperator,
    oprnegate::regoperator, pg_get_userbyid(oprowner), obj_description(o.oid, 'pg_operator')
FROM pg_operator o WHERE o.oid >= 16384 ORDER BY 1;
SELECT 'opclass ' || opcname, opcdefault, format_type(opcintype, NULL), f.opfname, am.amname,
    (SELECT string_agg(amopstrategy || ' ' || amopopr::regoperator, ', ' ORDER BY amopstrategy) FROM pg_amop WHERE amopfamily = f.oid),
    (SELECT string_agg(amprocnum || ' ' || amproc::regprocedure, ', ' ORDER BY amprocnum) FROM pg_amproc WHERE amprocfamily = f.oid)
FROM pg_opclass c JOIN pg_opfamily f ON f.oid = c.opcfamily JOIN pg_am am ON am.oid = c.opcmethod WHERE c.oid >= 16384;
SELECT 'opfamily ' || opfname, am.amname,
    (SELECT string_agg(amprocnum || ' ' || amproc::regprocedure, ', ' ORDER BY amprocnum) FROM pg_amproc WHERE amprocfamily = f.oid)
FROM pg_opfamily f JOIN pg_am am ON am.oid = f.opfmethod WHERE f.oid >= 16384 ORDER BY 1;
SELECT 'cast ' || format_type(castsource, NULL) || ' ' || format_type(casttarget, NULL), castfunc::regprocedure, castcontext,
    castmethod, obj_description(oid, 'pg_cast') FROM pg_cast WHERE oid >= 16384 ORDER BY 1;
SELECT 'collation ' || collname, collprovider, collisdeterministic, collcollate, collctype, to_jsonb(c) ->> 'colliculocale',
    to_jsonb(c) ->> 'colllocale', obj_description(oid, 'pg_collation') FROM pg_collation c WHERE oid >= 16384 ORDER BY 1;
SELECT 'conversion ' || conname, pg_encoding_to_char(conforencoding), pg_encoding_to_char(contoencoding), conproc::regproc, condefault
FROM pg_conversion WHERE oid >= 16384;
SELECT 'ts config ' || cfgname, prsname, (SELECT string_agg(maptokentype || ' ' || mapseqno || ' ' || mapdict::regdictionary, ', '
    ORDER BY maptokentype, mapseqno) FROM pg_ts_config_map WHERE mapcfg = c.oid), obj_description(c.oid, 'pg_ts_config')
FROM pg_ts_config c JOIN pg_ts_parser p ON p.oid = c.cfgparser WHERE c.oid >= 16384;
SELECT 'ts dict ' || dictname, dictinitoption, tmplname FROM pg_ts_dict d JOIN pg_ts_template t ON t.oid = d.dicttemplate WHERE d.oid >= 16384;
SELECT 'ts parser ' || prsname, prsstart::regproc, prstoken::regproc, prsend::regproc, prsheadline::regproc, prslextype::regproc
FROM pg_ts_parser WHERE oid >= 16384;
SELECT 'ts template ' || tmplname, tmplinit::regproc, tmpllexize::regproc FROM pg_ts_template WHERE oid >= 16384;
SELECT 'language ' || lanname, lanispl, lanpltrusted, lanplcallfoid::regproc, pg_get_userbyid(lanowner), lanacl FROM pg_language WHERE oid >= 16384;
SELECT 'transform ' || format_type(trftype, NULL), trffromsql::regprocedure, trftosql::regprocedure FROM pg_transform;
SELECT 'am ' || amname, amtype, amhandler::regproc, obj_description(oid, 'pg_am') FROM pg_am WHERE oid >= 16384 ORDER BY 1;
SELECT 'fdw ' || fdwname, fdwhandler, fdwvalidator, fdwoptions, pg_get_userbyid(fdwowner), fdwacl FROM pg_foreign_data_wrapper;
SELECT 'server ' || srvname, srvtype, srvversion, srvoptions, srvacl FROM pg_foreign_server;
SELECT 'user mapping ' || usename || ' ' || srvname, umoptions FROM pg_user_mappings ORDER BY 1;
SELECT 'foreign table ' || ftrelid::regclass, ftoptions, (SELECT string_agg(attname || ' ' || coalesce(attfdwoptions::text, '') || ' '
    || attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY attnum) FROM pg_attribute a
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE attrelid = ftrelid AND attnum > 0)
FROM pg_foreign_table ORDER BY 1;
SELECT 'typed table ' || oid::regclass, reloftype::regtype, (SELECT string_agg(attname || ' ' || attnotnull || ' ' || attislocal,
    ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0) FROM pg_class c WHERE reloftype <> 0;
SELECT 'rule ' || rulename || ' ' || ev_class::regclass, ev_enabled, pg_get_ruledef(r.oid), obj_description(r.oid, 'pg_rewrite')
FROM pg_rewrite r WHERE rulename <> '_RETURN' AND oid >= 16384 ORDER BY 1;
SELECT 'statistics ' || stxname, pg_get_statisticsobjdef(s.oid), to_jsonb(s) ->> 'stxstattarget', obj_description(s.oid, 'pg_statistic_ext')
FROM pg_statistic_ext s ORDER BY 1;
SELECT 'column ' || attname || ' of table ' || attrelid::regclass || ' grants', attacl FROM pg_attribute
WHERE attacl IS NOT NULL AND attrelid >= 16384 ORDER BY 1;
SELECT 'default acl ' || pg_get_userbyid(defaclrole), defaclnamespace::regnamespace, defaclobjtype, defaclacl FROM pg_default_acl ORDER BY 1, 2, 3;
SELECT 'event trigger ' || evtname, evtevent, evtfoid::regproc, evtenabled, evttags, obj_description(oid, 'pg_event_trigger')
FROM pg_event_trigger;
SELECT current_setting('server_version_num')::int >= 150000 AS pg15 \gset
\if :pg15
SELECT 'publication ' || pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot,
    (SELECT string_agg(prrelid::regclass || ' ' || coalesce(prattrs::text, '') || ' ' || coalesce(pg_get_expr(prqual, prrelid), ''),
    ', ' ORDER BY prrelid::regclass::text) FROM pg_publication_rel r WHERE r.prpubid = p.oid),
    (SELECT string_agg(pnnspid::regnamespace::text, ', ') FROM pg_publication_namespace WHERE pnpubid = p.oid),
    obj_description(p.oid, 'pg_publication')
FROM pg_publication p ORDER BY 1;
\else
SELECT 'publication ' || pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, to_jsonb(p) ->> 'pubviaroot',
    (SELECT string_agg(prrelid::regclass::text, ', ' ORDER BY prrelid::regclass::text) FROM pg_publication_rel r
    WHERE r.prpubid = p.oid), obj_description(p.oid, 'pg_publication')
FROM pg_publication p ORDER BY 1;
\endif
SELECT 'subscription ' || subname, subenabled, subconninfo, subslotname, subsynccommit, subpublications,
    pg_get_userbyid(subowner), obj_description(oid, 'pg_subscription')
FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1;
SELECT 'base type ' || format_type(t.oid, NULL), typinput::regproc, typoutput::regproc, typreceive::regproc, typsend::regproc,
    typmodin::regproc, typmodout::regproc, typanalyze::regproc, to_jsonb(t) ->> 'typsubscript', typlen, typbyval, typalign,
    typstorage, typcategory, typispreferred, typdefault, format_type(typelem, NULL), typdelim, typcollation <> 0,
    obj_description(t.oid, 'pg_type')
    FROM pg_type t WHERE t.typtype = 'b' AND t.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid) ORDER BY 1;
SELECT 'window ' || p.oid::regprocedure, prokind, prosrc FROM pg_proc p WHERE prokind = 'w' AND oid >= 16384;
SELECT 'coded ' || id, c, t, p FROM kinds.coded ORDER BY id;
