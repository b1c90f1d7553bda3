-- merge: the aggregate and merge(a, b); totals conserved, NULLs ignored,
-- columns aligned by name, incompatible inputs refused; associativity and
-- commutativity over random trees; a parallel plan equals a serial one.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stackhouse;
RESET client_min_messages;
SET search_path = public, stackhouse;

SELECT stackhouse.merge(t) FROM (VALUES ('a;b 1'::stackhouse.stacktree), (NULL), ('a;b 2'), ('c 5'), ('a 1')) v(t);
SELECT stackhouse.merge(t) IS NULL AS all_null FROM (VALUES (NULL::stackhouse.stacktree)) v(t);
SELECT stackhouse.merge(t) IS NULL AS no_rows FROM (SELECT 'a 1'::stackhouse.stacktree WHERE false) v(t);
SELECT stackhouse.merge('a 1'::stackhouse.stacktree, 'a;b 2'::stackhouse.stacktree);
SELECT stackhouse.merge(NULL::stackhouse.stacktree, 'a 1'::stackhouse.stacktree);

-- columns are aligned by name, whatever their order
SELECT stackhouse.merge(t) FROM (VALUES
  (E'# column samples count\n# column cpu nanoseconds\nmain 1 10'::stackhouse.stacktree),
  (E'# column cpu nanoseconds\n# column samples count\nmain 20 2')) v(t);

-- header merge as pprof: earliest start, summed duration, largest period
SELECT stackhouse.merge(t) FROM (VALUES
  (E'# column cpu nanoseconds\n# period cpu nanoseconds 10\n# time 2000 50\nmain 1'::stackhouse.stacktree),
  (E'# column cpu nanoseconds\n# period cpu nanoseconds 20\n# time 1000 70\nmain 2')) v(t);

-- incompatible inputs are refused
SELECT stackhouse.merge(t) FROM (VALUES ('a 1'::stackhouse.stacktree), (E'# column cpu nanoseconds\na 1')) v(t);
SELECT stackhouse.merge(t) FROM (VALUES (E'# column cpu nanoseconds\na 1'::stackhouse.stacktree), (E'# column cpu count\na 1')) v(t);
SELECT stackhouse.merge(t) FROM (VALUES
  (E'# column cpu nanoseconds\n# period cpu nanoseconds 10\na 1'::stackhouse.stacktree),
  (E'# column cpu nanoseconds\n# period wall nanoseconds 10\na 1')) v(t);
-- overflow is an error, never a wrap-around
SELECT stackhouse.merge(t) FROM (VALUES ('a 9223372036854775807'::stackhouse.stacktree), ('a 1')) v(t);

-- random trees: 200 trees over a small alphabet so stacks collide
SELECT setseed(0.42);
CREATE TABLE rt AS
SELECT g AS id,
       (SELECT string_agg(s, E'\n') FROM (
          SELECT (SELECT string_agg(chr(97 + (random() * 5)::int), ';')
                  FROM generate_series(1, 1 + (random() * 6)::int) WHERE g > 0)
                 || ' ' || (random() * 1000)::int AS s
          FROM generate_series(1, 1 + (random() * 20)::int) WHERE g > 0) x)::stackhouse.stacktree AS t
FROM generate_series(1, 200) g;

-- totals add up exactly
SELECT (SELECT stackhouse.total(stackhouse.merge(t)) FROM rt) =
       (SELECT sum(stackhouse.total(t)) FROM rt) AS total_conserved;
-- every stack's value adds up exactly
SELECT count(*) AS stacks_differing FROM (
  SELECT frames, sum(value) AS v FROM rt, stackhouse.stacks(t) GROUP BY frames) a
FULL JOIN (SELECT frames, value AS v FROM stackhouse.stacks((SELECT stackhouse.merge(t) FROM rt))) b
USING (frames) WHERE a.v IS DISTINCT FROM b.v;
-- commutative: any order gives the same tree
SELECT (SELECT stackhouse.merge(t ORDER BY id) FROM rt) =
       (SELECT stackhouse.merge(t ORDER BY id DESC) FROM rt) AS commutative,
       (SELECT stackhouse.merge(t ORDER BY md5(id::text)) FROM rt) =
       (SELECT stackhouse.merge(t ORDER BY id) FROM rt) AS shuffled;
-- associative: merging groups, then the groups, gives the same tree
SELECT (SELECT stackhouse.merge(m) FROM (SELECT stackhouse.merge(t) AS m FROM rt GROUP BY id % 7) g) =
       (SELECT stackhouse.merge(t) FROM rt) AS associative;
SELECT (SELECT stackhouse.merge(stackhouse.merge(a.t, b.t)) FROM rt a JOIN rt b ON b.id = a.id + 100) =
       (SELECT stackhouse.merge(t) FROM rt) AS pairwise;

-- a parallel plan (Partial Aggregate + combine) gives the serial result
CREATE TABLE big AS SELECT g AS id, t FROM rt, generate_series(1, 50) g;
ANALYZE big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT stackhouse.merge(t) FROM big;
-- the workers really run, and the leader combines their partial states
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT stackhouse.merge(t) FROM big;
CREATE TEMP TABLE par AS SELECT stackhouse.merge(t) AS m FROM big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT stackhouse.merge(t) FROM big;
SELECT (SELECT m FROM par) = (SELECT stackhouse.merge(t) FROM big) AS parallel_equals_serial,
       (SELECT stackhouse.total(m) FROM par) = (SELECT 50 * sum(stackhouse.total(t)) FROM rt) AS parallel_total;
RESET max_parallel_workers_per_gather;

-- the aggregate also works grouped and as a window function
SELECT id % 2 AS g, stackhouse.total(stackhouse.merge(t)) = sum(stackhouse.total(t)) AS ok FROM rt GROUP BY 1 ORDER BY 1;
SELECT bool_and(running = expected) AS window_ok FROM (
  SELECT stackhouse.total(stackhouse.merge(t) OVER (ORDER BY id)) AS running,
         sum(stackhouse.total(t)) OVER (ORDER BY id) AS expected FROM rt) w;
DROP TABLE rt, big;
