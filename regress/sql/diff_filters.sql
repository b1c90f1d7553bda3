-- diff, focus, ignore, prune, scale, self_of, total_of, top_functions_diff
-- on small trees whose answers are worked out by hand in the comments.
SET search_path = pg_catalog;
CREATE TEMP TABLE t (name text, tree stackhouse.stacktree);
INSERT INTO t VALUES
  ('a', E'main;parse;lex 3\nmain;parse 2\nmain;run;gzip 5\nidle 1'),
  ('b', E'main;parse;lex 1\nmain;run;gzip 12\nmain;run;crc 4\nidle 1');

-- diff: union of stacks, base = a, test = b
SELECT stackhouse.diff((SELECT tree FROM t WHERE name = 'a'), (SELECT tree FROM t WHERE name = 'b'));
-- diff(a, a): both sides equal a
SELECT stackhouse.diff((SELECT tree FROM t WHERE name = 'a'), (SELECT tree FROM t WHERE name = 'a'));
-- normalized: test (total 18) scaled to base total (11): 1*11/18 = 0.61 -> 1,
-- 12*11/18 = 7.33 -> 7, 4*11/18 = 2.44 -> 2, 1 -> 1
SELECT stackhouse.diff_normalized((SELECT tree FROM t WHERE name = 'a'), (SELECT tree FROM t WHERE name = 'b'));
-- diff of aggregates directly
SELECT stackhouse.diff(stackhouse.merge(tree) FILTER (WHERE name = 'a'),
                       stackhouse.merge(tree) FILTER (WHERE name = 'b'))
  OPERATOR(stackhouse.=) stackhouse.diff((SELECT tree FROM t WHERE name = 'a'), (SELECT tree FROM t WHERE name = 'b')) AS agg_diff_ok
  FROM t;
-- per function: main 10 -> 17, gzip 5 -> 12, parse self 2 -> 0, total 5 -> 1 ...
SELECT * FROM stackhouse.top_functions_diff(
  stackhouse.diff((SELECT tree FROM t WHERE name = 'a'), (SELECT tree FROM t WHERE name = 'b')));
SELECT function, delta_self FROM stackhouse.top_functions_diff(
  stackhouse.diff((SELECT tree FROM t WHERE name = 'a'), (SELECT tree FROM t WHERE name = 'b')), 2);

-- focus: stacks through parse (5 of 11); re-rooted at parse
SELECT stackhouse.focus(tree, '^parse$') FROM t WHERE name = 'a';
SELECT stackhouse.focus(tree, '^parse$', true) FROM t WHERE name = 'a';
-- re-rooting at the root-most match: x;a;y;a;z re-rooted at 'a' keeps a;y;a;z
SELECT stackhouse.focus(E'x;a;y;a;z 2\nx;q 1\na 4', '^a$', true);
-- ignore: drop stacks through run (5), keep the rest (6)
SELECT stackhouse.ignore(tree, 'run') FROM t WHERE name = 'a';
-- regexes are PostgreSQL AREs, unanchored
SELECT stackhouse.total(stackhouse.focus(tree, 'ars')) FROM t WHERE name = 'a';
-- nothing matches: an empty tree; everything matches: ignore leaves nothing
SELECT stackhouse.total(stackhouse.focus(tree, 'nomatch')),
       stackhouse.total(stackhouse.ignore(tree, '.')) FROM t WHERE name = 'a';
-- prune at 30% of 11 = 3.3: parse (5) and run;gzip (5) stay, lex (3) folds
-- into parse, idle (1) into the root
SELECT stackhouse.prune(tree, 0.3) FROM t WHERE name = 'a';
SELECT stackhouse.total(stackhouse.prune(tree, 0.3)) = stackhouse.total(tree) FROM t WHERE name = 'a';
-- prune 0 keeps everything, prune 1 folds everything into the root
SELECT stackhouse.prune(tree, 0) OPERATOR(stackhouse.=) tree FROM t WHERE name = 'a';
SELECT stackhouse.stacks(stackhouse.prune(tree, 1)) FROM t WHERE name = 'a';
-- scale: 3*1.5 = 4.5 -> 5, 2*1.5 = 3, 5*1.5 = 7.5 -> 8, 1*1.5 = 1.5 -> 2
SELECT stackhouse.scale(tree, 1.5) FROM t WHERE name = 'a';
SELECT stackhouse.scale(tree, 1) OPERATOR(stackhouse.=) tree FROM t WHERE name = 'a';
-- self_of / total_of: lex self 3; parse self 2, total 5; recursion counted once
SELECT stackhouse.self_of(tree, '^lex$'), stackhouse.self_of(tree, '^parse$'),
       stackhouse.total_of(tree, '^parse$'), stackhouse.total_of(tree, 'a')
  FROM t WHERE name = 'a';
SELECT stackhouse.self_of(E'f;f;f 2\nf;g 1', '^f$'), stackhouse.total_of(E'f;f;f 2\nf;g 1', '^f$');
-- share of CPU in gzip per row (a: 5 of 11, b: 12 of 18), and per group
SELECT name, round(100.0 * stackhouse.total_of(tree, 'gzip') / stackhouse.total(tree), 1) AS gzip_pct
  FROM t ORDER BY name;
SELECT name = 'a' AS is_a, round(100.0 * stackhouse.total_of(stackhouse.merge(tree), 'gzip')
                                 / stackhouse.total(stackhouse.merge(tree)), 1) AS gzip_pct
  FROM t GROUP BY 1 ORDER BY 1;
-- multi-column trees: choose the column
SELECT stackhouse.total_of(E'# stackhouse 1\n# column samples count\n# column cpu nanoseconds default\na;b 1 10\nc 2 20', 'b', 'samples'),
       stackhouse.total_of(E'# stackhouse 1\n# column samples count\n# column cpu nanoseconds default\na;b 1 10\nc 2 20', 'b');

-- errors
SELECT stackhouse.focus(tree, '(') FROM t WHERE name = 'a';
SELECT stackhouse.prune(tree, 1.5) FROM t WHERE name = 'a';
SELECT stackhouse.prune(tree, 'NaN') FROM t WHERE name = 'a';
SELECT stackhouse.scale(tree, -1) FROM t WHERE name = 'a';
SELECT stackhouse.scale(tree, 'Infinity') FROM t WHERE name = 'a';
SELECT stackhouse.scale('a 5000000000000000000', 2);
SELECT * FROM stackhouse.top_functions_diff((SELECT tree FROM t WHERE name = 'a'));
SELECT stackhouse.diff(E'# stackhouse 1\n# column cpu nanoseconds\na 1', E'# stackhouse 1\n# column alloc bytes\na 1');
SELECT stackhouse.diff(E'# stackhouse 1\n# column cpu nanoseconds\na 1', 'a 1', 'nosuch');
-- NULLs
SELECT stackhouse.diff(NULL, 'a 1') IS NULL, stackhouse.focus(NULL, 'a') IS NULL,
       stackhouse.total_of(NULL, 'a') IS NULL, stackhouse.prune(NULL, 0.1) IS NULL;
-- deep stacks (10000 frames): no recursion on depth; focus keeps all 7,
-- prune at 50% of 8 keeps the 7-deep chain and folds z into the root
SELECT stackhouse.total(stackhouse.focus((string_agg('f' || i, ';') || ' 7')::stackhouse.stacktree, 'f9999$'))
  FROM generate_series(1, 10000) i;
SELECT stackhouse.node_count(p), stackhouse.total(p), stackhouse.self_of(p, '^z$')
  FROM (SELECT stackhouse.prune((string_agg('f' || i, ';') || E' 7\nz 1')::stackhouse.stacktree, 0.5) AS p
          FROM generate_series(1, 10000) i) s;
