-- Corrupted stored values: every decoder path refuses them with an ERROR
-- (data_corrupted or program_limit_exceeded), never a crash.  A
-- binary-coercible cast from bytea stands in for disk corruption: it hands
-- arbitrary bytes to the decoder exactly as a damaged heap tuple would.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stackhouse;
RESET client_min_messages;
SET search_path = public, stackhouse;
CREATE CAST (bytea AS stackhouse.stacktree) WITHOUT FUNCTION;

\set VERBOSITY default
SELECT stackhouse.total(''::bytea::stackhouse.stacktree);
SELECT stackhouse.total('\x0100'::bytea::stackhouse.stacktree);
-- a format version this build does not know
SELECT stackhouse.total('\x02000000000000'::bytea::stackhouse.stacktree);
-- unknown flags
SELECT stackhouse.total('\x01800100000000'::bytea::stackhouse.stacktree);
-- a length over the decompression cap
SELECT stackhouse.total('\x0101ffffffff28b52ffd'::bytea::stackhouse.stacktree);

-- the stored form of a small (uncompressed) and a large (zstd) tree
CREATE TABLE good AS
SELECT 'small' AS name, stackhouse.stacktree_send('main;a 1
main;b;c 2'::stackhouse.stacktree) AS bytes
UNION ALL
SELECT 'large', stackhouse.stacktree_send(string_agg('main;f' || (g % 37) || ';g' || (g % 11) || ' ' || g, E'\n')::stackhouse.stacktree)
FROM generate_series(1, 400) g;
SELECT name, get_byte(bytes, 0) AS version, get_byte(bytes, 1) AS flags FROM good ORDER BY name;
-- the stored form reads back as the same tree
SELECT name, bytes::stackhouse.stacktree = bytes::stackhouse.stacktree AS readable,
       stackhouse.stacktree_send(bytes::stackhouse.stacktree) = bytes AS canonical
FROM good ORDER BY name;

-- every truncation and every single-byte corruption of both values ends in
-- a clean ERROR or a valid tree; collect the SQLSTATEs
CREATE TABLE outcomes (name text, kind text, state text);
DO $$
DECLARE
  r record;
  b bytea;
  st text;
  n int;
BEGIN
  FOR r IN SELECT * FROM good LOOP
    FOR i IN 0 .. length(r.bytes) - 1 LOOP
      -- truncated to i bytes
      BEGIN
        PERFORM stackhouse.total(substr(r.bytes, 1, i)::stackhouse.stacktree);
        st := 'ok';
      EXCEPTION WHEN OTHERS THEN
        st := SQLSTATE;
      END;
      INSERT INTO outcomes VALUES (r.name, 'truncated', st);
      -- byte i replaced by each of a few values
      FOREACH n IN ARRAY ARRAY[0, 1, 127, 128, 255] LOOP
        b := set_byte(r.bytes, i, n);
        BEGIN
          PERFORM stackhouse.total(b::stackhouse.stacktree),
                  (SELECT count(*) FROM stackhouse.stacks(b::stackhouse.stacktree)),
                  b::stackhouse.stacktree::text;
          st := 'ok';
        EXCEPTION WHEN OTHERS THEN
          st := SQLSTATE;
        END;
        INSERT INTO outcomes VALUES (r.name, 'byte', st);
      END LOOP;
    END LOOP;
  END LOOP;
END $$;
-- only these outcomes: ok, XX001 data_corrupted, 54000 program_limit_exceeded
SELECT state, count(*) > 0 AS seen FROM outcomes GROUP BY state ORDER BY state;
SELECT count(*) AS truncations_accepted FROM outcomes WHERE kind = 'truncated' AND state = 'ok';

-- random bytes
SELECT setseed(0.7);
DO $$
DECLARE
  b bytea;
  st text;
  bad int := 0;
BEGIN
  FOR i IN 1 .. 2000 LOOP
    SELECT decode(string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), ''), 'hex')
      INTO b FROM generate_series(1, 1 + (random() * 60)::int);
    -- half of them get a valid-looking header
    IF i % 2 = 0 THEN
      b := '\x0100'::bytea || int4send(length(b))::bytea || b;
    END IF;
    BEGIN
      PERFORM stackhouse.total(b::stackhouse.stacktree);
      st := 'ok';
    EXCEPTION WHEN OTHERS THEN
      st := SQLSTATE;
    END;
    IF st NOT IN ('ok', 'XX001', '54000') THEN
      bad := bad + 1;
      RAISE NOTICE 'unexpected SQLSTATE % for %', st, b;
    END IF;
  END LOOP;
  RAISE NOTICE 'random inputs with unexpected outcomes: %', bad;
END $$;

-- the merge aggregate refuses a corrupted input too
SELECT stackhouse.merge(t) FROM (VALUES ('a 1'::stackhouse.stacktree), ('\x01000a000000ffffffffffffffffffff'::bytea::stackhouse.stacktree)) v(t);

DROP TABLE good, outcomes;
DROP CAST (bytea AS stackhouse.stacktree);
