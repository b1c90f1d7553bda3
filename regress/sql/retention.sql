-- retention: policy validation, the on-demand job (run_retention) over
-- three days of profiles at fixed times, with totals conserved, per-service
-- policies, a group that cannot merge, batch limits, and drop policies
-- (rows in shared or DEFAULT partitions deleted, whole partitions dropped).
-- Expected row counts are computed by hand from the data below.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stackhouse;
RESET client_min_messages;
SET search_path = public;
SET TimeZone = 'UTC';
DELETE FROM stackhouse.retention_policies;
DELETE FROM stackhouse.profiles;

-- ---------------------------------------------------------------- policies
\set VERBOSITY terse
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('1 day', '1 mon');
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('1 day', '7 minutes');
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('1 day', '1.5 seconds');
INSERT INTO stackhouse.retention_policies (after, action, resolution) VALUES ('1 day', 'drop', '1 hour');
INSERT INTO stackhouse.retention_policies (after, action) VALUES ('1 day', 'keep');
INSERT INTO stackhouse.retention_policies (after) VALUES ('1 day');
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('-1 day', '1 hour');
-- a ladder: buckets must nest, a drop comes last
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('1 day', '1 hour'), ('2 days', '90 minutes');
INSERT INTO stackhouse.retention_policies (after, action) VALUES ('10 days', 'drop');
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('20 days', '1 day');
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('1 day', '1 hour'), ('1 day', '2 hours');
DELETE FROM stackhouse.retention_policies;
\set VERBOSITY default

-- the ladder used below: every service but db: hourly after 30 days, daily
-- after 60, dropped after 365; db: 6-hour buckets after 30 days, kept
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES
    ('30 days', '1 hour'), ('60 days', '1 day');
INSERT INTO stackhouse.retention_policies (after, action) VALUES ('365 days', 'drop');
INSERT INTO stackhouse.retention_policies (service, after, resolution) VALUES ('db', '30 days', '6 hours');
SELECT stackhouse.retention_policy_text(p) FROM stackhouse.retention_policies p ORDER BY service NULLS FIRST, after;

-- ---------------------------------------------------------------- data
-- 2024-03-01 .. 03-03 have partitions; 2024-02-15 rows stay in DEFAULT
SELECT stackhouse.create_partition(d::date)
  FROM generate_series('2024-03-01'::timestamp, '2024-03-03', '1 day') d;
-- every 10 minutes for 3 days: api (pods a, b) and db, 10 s cpu profiles
INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree)
SELECT '2024-03-01'::timestamptz + n * interval '10 minutes', '10 seconds', s.service, s.labels, 'cpu',
       format(E'main;work;f%s %s\nmain;idle 1', n % 4, n % 5 + 1)::stackhouse.stacktree
  FROM generate_series(0, 3 * 144 - 1) n,
       (VALUES ('api', '{"pod": "a"}'::jsonb), ('api', '{"pod": "b"}'), ('db', '{}')) s(service, labels);
-- hourly two-column allocation profiles of api pod a
INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree)
SELECT '2024-03-01'::timestamptz + n * interval '1 hour', '10 seconds', 'api', '{"pod": "a"}', 'alloc',
       format(E'# column alloc_objects count\n# column alloc_space bytes default\nmain;alloc %s %s', n + 1, 64 * (n + 1))::stackhouse.stacktree
  FROM generate_series(0, 71) n;
-- older rows, in the DEFAULT partition
INSERT INTO stackhouse.profiles (ts, duration, service, profile_type, tree)
SELECT '2024-02-15 12:00'::timestamptz + n * interval '1 minute', '1 minute', 'web', 'cpu', 'main;serve 2'
  FROM generate_series(0, 9) n;
-- two rows of one group in one hour that cannot be merged (different sample types)
INSERT INTO stackhouse.profiles (ts, duration, service, profile_type, tree) VALUES
    ('2024-03-02 05:10', '10 seconds', 'bad', 'cpu', 'main 1'),
    ('2024-03-02 05:20', '10 seconds', 'bad', 'cpu', E'# column cpu nanoseconds\nmain 5');

SELECT service, profile_type, count(*), sum(source_count) FROM stackhouse.profiles GROUP BY 1, 2 ORDER BY 1, 2;
SELECT partition, bound FROM stackhouse.partitions ORDER BY 1::text;

-- what every stack adds up to, before
CREATE TABLE retention_before AS
SELECT service, labels, profile_type, s.frames, sum(s.value) AS value, sum(s."values"[1]) AS value1
  FROM stackhouse.profiles, stackhouse.stacks(tree) s GROUP BY 1, 2, 3, 4;
CREATE VIEW retention_diff AS
SELECT count(*) AS differences FROM (
    (SELECT * FROM retention_before EXCEPT
     SELECT service, labels, profile_type, s.frames, sum(s.value), sum(s."values"[1])
       FROM stackhouse.profiles, stackhouse.stacks(tree) s GROUP BY 1, 2, 3, 4)
    UNION ALL
    (SELECT service, labels, profile_type, s.frames, sum(s.value), sum(s."values"[1])
       FROM stackhouse.profiles, stackhouse.stacks(tree) s GROUP BY 1, 2, 3, 4
     EXCEPT SELECT * FROM retention_before)) d;
-- (service, labels, type, bucket of width w) with more than one row
CREATE FUNCTION retention_dups(w interval, svc text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (SELECT 1 FROM stackhouse.profiles WHERE service = svc
                           GROUP BY service, labels, profile_type, date_bin(w, ts, '2000-01-01')
                          HAVING count(*) > 1) d $$;

-- ---------------------------------------------------------------- 2024-03-20
-- only the web rows of Feb 15 are 30 days old: 10 rows into one hour
SELECT policy, status, batches, rows_in, rows_out, partitions_dropped, error
  FROM stackhouse.run_retention(as_of => '2024-03-20');

-- ---------------------------------------------------------------- 35 days later: hourly
-- a batch limit stops the pass: its run says 'stopped'
SELECT policy, status, batches, rows_in, rows_out
  FROM stackhouse.run_retention(max_batches => 2, batch_size => 50, as_of => '2024-04-05');
SELECT policy, status, batches, rows_in, rows_out, partitions_dropped, error
  FROM stackhouse.run_retention(batch_size => 100, as_of => '2024-04-05');
-- api cpu: 72 hours x 2 pods; alloc: 72 hours; db: 12 six-hour buckets;
-- web (Feb 15, one hour, 10 rows): 1; bad: its 2 rows untouched
SELECT service, profile_type, count(*), sum(source_count), min(duration), max(duration)
  FROM stackhouse.profiles GROUP BY 1, 2 ORDER BY 1, 2;
SELECT * FROM retention_diff;
SELECT retention_dups('1 hour', 'api') AS api, retention_dups('6 hours', 'db') AS db,
       retention_dups('1 hour', 'web') AS web, retention_dups('1 hour', 'bad') AS bad;
-- merged rows: start of the hour, one hour long, 6 sources each
SELECT ts, duration, labels, source_count, stackhouse.total(tree)
  FROM stackhouse.profiles WHERE service = 'api' AND profile_type = 'cpu' ORDER BY ts, labels LIMIT 3;
SELECT ts, duration, source_count, tree::text FROM stackhouse.profiles
 WHERE service = 'api' AND profile_type = 'alloc' ORDER BY ts LIMIT 2;
-- a second run finds nothing to do but the group that cannot merge
-- (rows_in counts rows deleted, rows_out rows written: re-merging a row
-- merged earlier counts it again)
SELECT policy, status, rows_in, rows_out, error
  FROM stackhouse.run_retention(as_of => '2024-04-05');

-- ---------------------------------------------------------------- 75 days: daily
SELECT policy, status, rows_in, rows_out, partitions_dropped
  FROM stackhouse.run_retention(batch_size => 7, as_of => '2024-05-15');
SELECT service, profile_type, count(*), sum(source_count), min(duration), max(duration)
  FROM stackhouse.profiles GROUP BY 1, 2 ORDER BY 1, 2;
SELECT * FROM retention_diff;
SELECT retention_dups('1 day', 'api') AS api, retention_dups('6 hours', 'db') AS db,
       retention_dups('1 day', 'web') AS web, retention_dups('1 day', 'bad') AS bad;

-- the same job as a procedure committing each batch (nothing left to do
-- but the group that cannot merge)
CALL stackhouse.retention_job(as_of => '2024-05-15');

-- ---------------------------------------------------------------- a year later: drop
-- the partitions also hold db rows (kept): rows of the others are deleted
SELECT policy, status, rows_in, rows_out, partitions_dropped
  FROM stackhouse.run_retention(batch_size => 4, as_of => '2025-04-01');
SELECT service, count(*) FROM stackhouse.profiles GROUP BY 1 ORDER BY 1;
-- now db too is dropped after 400 days: its partitions hold nothing else
INSERT INTO stackhouse.retention_policies (service, after, action) VALUES ('db', '400 days', 'drop');
SELECT policy, status, rows_in, rows_out, partitions_dropped
  FROM stackhouse.run_retention(as_of => '2025-06-01');
SELECT count(*) AS rows_left FROM stackhouse.profiles;
SELECT partition FROM stackhouse.partitions ORDER BY 1::text;

-- ---------------------------------------------------------------- the log
SELECT policy, status, batches, rows_in, rows_out, partitions_dropped, error IS NOT NULL AS has_error,
       finished_at >= started_at AS finished
  FROM stackhouse.retention_activity ORDER BY id;

-- bad arguments
SELECT * FROM stackhouse.run_retention(batch_size => 1);
SELECT * FROM stackhouse.run_retention(max_batches => -1);
SELECT * FROM stackhouse.retention_batch(10, '[]');

-- ---------------------------------------------------------------- rows far in the past
-- A row dated year 1 (and one in 1970) before the rows of 2024: the job
-- jumps from one day with candidates to the next, it does not walk the
-- 739,000 days in between.  Hand-computed: batch 1 merges the two rows of
-- 0001-01-01 10:00-11:00, batch 2 the 1970 row, batch 3 the 12 rows of
-- 2024-03-01 (two hours of api); then nothing is left: 3 batches, 15 rows
-- in, 4 out.  The scans of the partitions and their indexes in the job's
-- transaction are counted (pg_stat_xact): a few per batch and partition,
-- where a walk through the days since year 1 makes about 739,000.
DELETE FROM stackhouse.retention_policies;
DELETE FROM stackhouse.profiles;
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('30 days', '1 hour');
SELECT stackhouse.create_partition('2024-03-01');
INSERT INTO stackhouse.profiles (ts, duration, service, profile_type, tree) VALUES
    ('0001-01-01 10:20+00', '10 seconds', 'old', 'cpu', 'main;a 1'),
    ('0001-01-01 10:40+00', '10 seconds', 'old', 'cpu', 'main;b 2'),
    ('1970-01-01 00:05+00', '10 seconds', 'old', 'cpu', 'main;a 4');
INSERT INTO stackhouse.profiles (ts, duration, service, profile_type, tree)
SELECT '2024-03-01'::timestamptz + n * interval '10 minutes', '10 seconds', 'api', 'cpu',
       format('main;f%s %s', n % 3, n + 1)::stackhouse.stacktree
  FROM generate_series(0, 11) n;
-- (pending statistics of earlier statements are flushed when this one ends)
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT policy, status, batches, rows_in, rows_out, error
  FROM stackhouse.run_retention(as_of => '2024-06-01');
SELECT sum(pg_stat_get_xact_numscans(c.oid)) < 100 AS few_scans
  FROM pg_class c
 WHERE c.oid IN (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = 'stackhouse.profiles'::regclass)
    OR c.oid IN (SELECT x.indexrelid FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indrelid
                  WHERE i.inhparent = 'stackhouse.profiles'::regclass);
COMMIT;
-- totals by hand: year 1 a 1, b 2; 1970 a 4; 2024-03-01 00:00 f0 1+4, f1 2+5,
-- f2 3+6; 01:00 f0 7+10, f1 8+11, f2 9+12
SELECT service, to_char(ts, 'YYYY-MM-DD HH24:MI') AS ts, duration, source_count, tree::text
  FROM stackhouse.profiles ORDER BY profiles.ts;
-- a second run finds nothing
SELECT count(*) AS runs FROM stackhouse.run_retention(as_of => '2024-06-01');

-- clean up
DROP VIEW retention_diff;
DROP TABLE retention_before;
DROP FUNCTION retention_dups(interval, text);
DELETE FROM stackhouse.retention_policies;
DELETE FROM stackhouse.profiles;
