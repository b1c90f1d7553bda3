-- warehouse: the profiles table, partitions, the inbox and decode_profile on
-- small hand-made folded inputs (totals computed by hand in the comments).
SET client_min_messages = warning;
-- a fresh warehouse, whatever earlier tests in this database did
DROP EXTENSION IF EXISTS stackhouse CASCADE;
CREATE EXTENSION stackhouse;

-- columns of stackhouse.profiles (a contract with the retention worker)
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull
  FROM pg_attribute WHERE attrelid = 'stackhouse.profiles'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT relkind, pg_get_partkeydef(oid) FROM pg_class WHERE oid = 'stackhouse.profiles'::regclass;
SELECT partition, bound FROM stackhouse.partitions ORDER BY partition::text;
SELECT stackhouse.partition_name('2024-02-29');

-- decode_profile: folded text; "a;b 2" + "a;c 3" + "a 1" -> total 6, one row
SELECT ts, duration, profile_type, labels, stackhouse.total(tree)
  FROM stackhouse.decode_profile(convert_to(E'a;b 2\na;c 3\na 1\n', 'UTF8'));
-- bad input names the source
SELECT * FROM stackhouse.decode_profile(convert_to(E'a;b x\n', 'UTF8'), NULL, 'my-file.txt');
SELECT * FROM stackhouse.decode_profile('\x', NULL, 'empty.bin');
SELECT * FROM stackhouse.decode_profile('\x1f8b', '{""}');
SELECT count(*) FROM stackhouse.decode_profile(NULL);

-- the inbox: two days, one with an explicit ts, no rows kept in the inbox
INSERT INTO stackhouse.inbox (name, service, labels, data, ts, duration) VALUES
  ('one', 'svc', '{"v": "1"}', convert_to(E'main;f 4\nmain;g 6\n', 'UTF8'), '2024-03-01 10:00+00', '10 s'),
  ('two', 'svc', '{"v": "2"}', convert_to(E'main;f 1\n', 'UTF8'), '2024-03-02 23:59:59.999999+00', NULL),
  ('three', 'other', '{}', convert_to(E'x 5\n', 'UTF8'), '2024-03-02 00:00+00', NULL);
SELECT count(*) FROM stackhouse.inbox;
SELECT ts, duration, service, labels, profile_type, stackhouse.total(tree), source_count
  FROM stackhouse.profiles ORDER BY ts;
-- labels must be an object; a bad row fails the whole statement
INSERT INTO stackhouse.inbox (name, service, labels, data) VALUES ('arr', 'svc', '[]', '\x00');
INSERT INTO stackhouse.inbox (name, service, data) VALUES
  ('good', 'svc', convert_to(E'ok 1\n', 'UTF8')), ('bad', 'svc', convert_to(E'ok one\n', 'UTF8'));
SELECT count(*) FROM stackhouse.profiles;

-- every row is in the default partition until its day gets a partition
SELECT tableoid::regclass, count(*) FROM stackhouse.profiles GROUP BY 1;
SELECT stackhouse.create_partition('2024-03-02');
SELECT stackhouse.create_partition('2024-03-02');
SELECT tableoid::regclass::text AS part, count(*) FROM stackhouse.profiles GROUP BY 1 ORDER BY 1;
SELECT stackhouse.ensure_partitions('0 days') >= 1;
SELECT count(*) FROM stackhouse.profiles_default;
SELECT tableoid::regclass::text AS part, count(*) FROM stackhouse.profiles GROUP BY 1 ORDER BY 1;
-- new rows route to the right partitions
INSERT INTO stackhouse.inbox (name, service, data, ts) VALUES
  ('late', 'svc', convert_to(E'main;f 2\n', 'UTF8'), '2024-03-01 00:00+00');
SELECT tableoid::regclass::text AS part, count(*) FROM stackhouse.profiles GROUP BY 1 ORDER BY 1;
SELECT stackhouse.ensure_partitions('-1 day');

-- helpers: svc in [03-01, 03-03): 4 + 6 + 1 + 2 = 13; v=1 only: 10
SELECT count(*) FROM stackhouse.select_profiles('svc', '2024-03-01', '2024-03-03');
SELECT stackhouse.total(stackhouse.merged_profile('svc', '2024-03-01', '2024-03-03'));
SELECT stackhouse.total(stackhouse.merged_profile('svc', '2024-03-01', '2024-03-03', '{"v": "1"}'));
SELECT stackhouse.merged_profile('svc', '2024-03-01', '2024-03-03', '{}', 'cpu') IS NULL;
SELECT * FROM stackhouse.pprof_split(convert_to(E'a 1\n', 'UTF8'), '{}');

-- constraints
INSERT INTO stackhouse.profiles (ts, service, labels, profile_type, tree)
VALUES ('2024-03-01', 's', '"x"', 't', 'a 1');
INSERT INTO stackhouse.profiles (ts, service, profile_type, tree, source_count)
VALUES ('2024-03-01', 's', 't', 'a 1', 0);
