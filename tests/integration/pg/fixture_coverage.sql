-- What a restore used to make differently without a word, or refuse: the
-- names of a partitioned index's and key's partitions (made by the server
-- on recursion, where the source had its own, some attached under other
-- names); the state of a trigger's clone on a partition (disabled, ENABLE
-- REPLICA, ENABLE ALWAYS, set on the partition alone); privileges changed
-- on an extension's members; and views caught in a cycle with a function
-- (a function returning SETOF the view's row type that the view selects
-- from; from 14 on, a function whose SQL body reads the view that calls
-- it), which the backup refused. Loaded as a superuser into an empty
-- database; works on PostgreSQL 12 to 17 (later features under \if).
SET client_min_messages = warning;
SELECT current_setting('server_version_num')::int >= 140000 AS pg14 \gset
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zb_cov_reader') THEN CREATE ROLE zb_cov_reader; END IF;
END $$;
CREATE SCHEMA cov;

-- partitions: a key and an index on the parent; one partition attached
-- with its own key and index under other names; one two levels down
CREATE TABLE cov.events (id integer NOT NULL, at date NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE cov.events_2024 PARTITION OF cov.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE cov.events_2026 PARTITION OF cov.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (kind);
CREATE TABLE cov.events_2026_a PARTITION OF cov.events_2026 FOR VALUES IN ('a');
ALTER TABLE cov.events ADD CONSTRAINT events_key PRIMARY KEY (id, at, kind);
CREATE INDEX events_by_kind ON cov.events (kind);
ALTER INDEX cov.events_2024_kind_idx RENAME TO ev24_kind;
ALTER INDEX cov.events_2026_a_kind_idx RENAME TO ev26a_kind;
ALTER TABLE cov.events_2024 RENAME CONSTRAINT events_2024_pkey TO ev24_key;
COMMENT ON INDEX cov.ev24_kind IS 'the 2024 partition''s own';
CREATE TABLE cov.events_2025 (id integer NOT NULL, at date NOT NULL, kind text NOT NULL);
ALTER TABLE cov.events_2025 ADD CONSTRAINT e2025_by_hand_key PRIMARY KEY (id, at, kind);
CREATE INDEX e2025_by_hand_kind ON cov.events_2025 (kind);
ALTER TABLE cov.events ATTACH PARTITION cov.events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO cov.events VALUES (1, '2024-03-01', 'a'), (2, '2025-03-01', 'b'), (3, '2026-03-01', 'a');

-- triggers cloned on the partitions, their state changed on some
CREATE FUNCTION cov.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER events_touch AFTER INSERT ON cov.events FOR EACH ROW EXECUTE FUNCTION cov.touch();
ALTER TABLE cov.events_2024 DISABLE TRIGGER events_touch;
ALTER TABLE cov.events_2025 ENABLE REPLICA TRIGGER events_touch;
ALTER TABLE cov.events_2026_a ENABLE ALWAYS TRIGGER events_touch;
CREATE TRIGGER events_audit AFTER INSERT ON cov.events FOR EACH ROW EXECUTE FUNCTION cov.touch();
ALTER TABLE ONLY cov.events DISABLE TRIGGER events_audit;
ALTER TABLE cov.events_2025 DISABLE TRIGGER events_audit;

-- privileges changed on an extension's members
CREATE SCHEMA cov_ext;
CREATE EXTENSION citext WITH SCHEMA cov_ext;
REVOKE EXECUTE ON FUNCTION cov_ext.citext_larger(cov_ext.citext, cov_ext.citext) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cov_ext.citext_larger(cov_ext.citext, cov_ext.citext) TO zb_cov_reader;
GRANT USAGE ON TYPE cov_ext.citext TO zb_cov_reader WITH GRANT OPTION;

-- a view and a function returning its rows that it selects from
CREATE TABLE cov.orders (id integer, total numeric);
INSERT INTO cov.orders VALUES (1, 50), (2, 500);
CREATE VIEW cov.big_orders AS SELECT id, total FROM cov.orders;
CREATE FUNCTION cov.orders_over(minimum numeric) RETURNS SETOF cov.big_orders LANGUAGE sql STABLE
    AS $$SELECT id, total FROM cov.orders WHERE total > minimum$$;
CREATE OR REPLACE VIEW cov.big_orders AS SELECT id, total FROM cov.orders_over(100);
\if :pg14
-- a function whose body reads a view that calls it
CREATE VIEW cov.order_count AS SELECT count(*) AS n FROM cov.orders;
CREATE FUNCTION cov.orders_counted() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT n FROM cov.order_count; END;
CREATE OR REPLACE VIEW cov.order_count AS SELECT count(*) AS n, CASE WHEN false THEN cov.orders_counted() END AS again
    FROM cov.orders;
\endif
