-- The stacktree type: folded text in and out, header lines, escapes,
-- canonical order, equality, and clean errors for malformed text.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stackhouse;
RESET client_min_messages;
SET search_path = public;

-- canonical order: depth first, siblings by name; duplicates add up
SELECT 'main;b 2
main;a;x 1
main;b 3
main 4'::stackhouse.stacktree;

-- text -> tree -> text is the identity on canonical text
SELECT (t::text)::stackhouse.stacktree::text = t::text AS identity
FROM (SELECT 'main;a;x 1
main;b 5
main 4'::stackhouse.stacktree AS t) s;

-- several columns, a default column, period and time span
SELECT E'# stackhouse 1\n# column samples count\n# column cpu nanoseconds default\n# period cpu nanoseconds 10000000\n# time 1700000000000000000 3000000000\nmain;work 3 30000000\nmain 1 10000000\n'::stackhouse.stacktree;
SELECT * FROM stackhouse.sample_types(E'# column samples count\n# column cpu nanoseconds default\nmain 1 2'::stackhouse.stacktree);
-- without a default, the last column is the default, as in pprof
SELECT * FROM stackhouse.sample_types(E'# column samples count\n# column cpu nanoseconds\nmain 1 2'::stackhouse.stacktree);

-- names with spaces, semicolons, backslashes, tabs and a leading '#'
SELECT E'operator new(unsigned long);a\\;b 1\nC:\\\\dir\\\\file 2\n\\#hash;x\\ty 3\n'::stackhouse.stacktree;
SELECT frames FROM stackhouse.stacks(E'operator new(unsigned long);a\\;b 1\n\\#hash;x\\ty 3\n'::stackhouse.stacktree);

-- samples with an empty stack are kept (a line with values only)
SELECT E'7\nmain 1'::stackhouse.stacktree;
SELECT stackhouse.total(E'7\nmain 1'::stackhouse.stacktree);

-- zero-valued leaves are kept: nothing is lost
SELECT 'main;idle 0
main 2'::stackhouse.stacktree;

-- CRLF, blank lines and comments are tolerated
SELECT E'# a comment\r\n\r\nmain;a 1\r\nmain;a 2\r\n'::stackhouse.stacktree;

-- empty input is an empty tree
SELECT ''::stackhouse.stacktree::text = '' AS empty_ok, stackhouse.total('') AS total;

-- equality compares trees, not spellings
-- (operators live in the extension's schema: qualify them, or put the
-- schema on search_path)
SELECT 'a;b 1
a;b 1'::stackhouse.stacktree OPERATOR(stackhouse.=) 'a;b 2'::stackhouse.stacktree AS same,
       'a;b 1'::stackhouse.stacktree OPERATOR(stackhouse.=) 'a;c 1'::stackhouse.stacktree AS different,
       'a;b 1'::stackhouse.stacktree OPERATOR(stackhouse.<>) 'a;c 1'::stackhouse.stacktree AS ne;

-- malformed text
\set VERBOSITY default
SELECT 'a;;b 1'::stackhouse.stacktree;
SELECT 'a;b; 1'::stackhouse.stacktree;
SELECT 'a;b'::stackhouse.stacktree;
SELECT 'a;b x'::stackhouse.stacktree;
SELECT 'a;b -1'::stackhouse.stacktree;
SELECT 'a;b 9223372036854775808'::stackhouse.stacktree;
SELECT 'a;b 99999999999999999999999'::stackhouse.stacktree;
SELECT E'a 9223372036854775807\na 1'::stackhouse.stacktree;
SELECT E'# column cpu nanoseconds\n# column cpu nanoseconds\na 1 1'::stackhouse.stacktree;
SELECT E'# column cpu\na 1'::stackhouse.stacktree;
SELECT E'# column a/b count\na 1'::stackhouse.stacktree;
SELECT E'# column cpu nanoseconds\na 1 2'::stackhouse.stacktree;
SELECT E'# column cpu nanoseconds\n# column n count\na 1'::stackhouse.stacktree;
SELECT E'a 1\n# column cpu nanoseconds\n'::stackhouse.stacktree;
SELECT E'# stackhouse 2\na 1'::stackhouse.stacktree;
SELECT E'# period cpu nanoseconds -5\na 1'::stackhouse.stacktree;
-- a 100,000-frame stack is over the depth limit
SELECT (repeat('f;', 99999) || 'f 1')::stackhouse.stacktree;
-- a 100,000-byte frame name is over the name limit
SELECT (repeat('x', 100000) || ' 1')::stackhouse.stacktree;
