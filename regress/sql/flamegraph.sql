-- flamegraph (Grafana rows), flamegraph_diff, flamegraph_svg basics and
-- stacktree_to_pprof basics on small trees worked out by hand.
SET search_path = pg_catalog;
-- tree:  a;b 3, a;c 2, a 1, x 4  =>  total 10; a = 6 (self 1), b 3, c 2, x 4
-- pre-order, children by name: total, a, b, c, x
SELECT * FROM stackhouse.flamegraph(E'a;b 3\na;c 2\na 1\nx 4');
-- root self (empty stacks) shows as the root's self
SELECT * FROM stackhouse.flamegraph(E'a 2\n5');
-- empty tree: only the root
SELECT * FROM stackhouse.flamegraph('');
-- column choice; a node that is zero in the column is left out (c)
SELECT * FROM stackhouse.flamegraph(E'# stackhouse 1\n# column samples count\n# column cpu nanoseconds default\na;b 1 10\na;c 2 0', 'cpu');
SELECT * FROM stackhouse.flamegraph(E'# stackhouse 1\n# column samples count\n# column cpu nanoseconds default\na;b 1 10\na;c 2 0', 'samples');
-- diff: base a;b 3, a;c 2 / test a;b 1, a;d 5: value/self = base, valueRight/selfRight = test
SELECT * FROM stackhouse.flamegraph_diff(stackhouse.diff(E'a;b 3\na;c 2', E'a;b 1\na;d 5'));
SELECT * FROM stackhouse.flamegraph_diff('a 1');
-- deep: 10000 levels, 10001 rows, last level 10000
SELECT count(*), max(level), min(value), max(value)
  FROM stackhouse.flamegraph((SELECT string_agg('f' || i, ';') || ' 7' FROM generate_series(1, 10000) i)::stackhouse.stacktree);

-- SVG: a document with one frame element per shown node, titles escaped
SELECT left(s, 37) AS head, right(s, 7) = E'</svg>\n' AS tail,
       (length(s) - length(replace(s, '<g class="f"', ''))) / length('<g class="f"') AS frames,
       strpos(s, '<title>a&lt;b&gt; &amp; &quot;c&quot;') > 0 AS escaped
  FROM stackhouse.flamegraph_svg(E'a<b> & "c";d 3\nx 1', 'my <title>') s;
SELECT strpos(stackhouse.flamegraph_svg('a 1', 'T&T'), '>T&amp;T</text>') > 0;
SELECT strpos(stackhouse.flamegraph_svg(stackhouse.diff('a 1', 'a 2')), 'Differential Flame Graph') > 0;
SELECT stackhouse.flamegraph_svg('a 1', width => 10);
SELECT stackhouse.flamegraph_svg('a 1', min_width => -1);

-- pprof export: gzip magic, and round trip through stacktree_from_pprof
SELECT substr(stackhouse.stacktree_to_pprof('a;b 3'), 1, 2) = '\x1f8b'::bytea AS gzip;
SELECT stackhouse.stacktree_from_pprof(stackhouse.stacktree_to_pprof(E'a;b 3\na;c 2\nx 4\n7'));
SELECT stackhouse.stacktree_from_pprof(stackhouse.stacktree_to_pprof(
  E'# stackhouse 1\n# column samples count\n# column cpu nanoseconds default\na;b 1 10\na;c 2 0'));
