"""Server-safety regressions found in review (shared test server):

- stacks() of a tree whose stacks are deep must not keep every row's frame
  array in backend memory: the output (depth x stacks frames) goes to the
  tuplestore, which spills to disk; the backend's peak memory (VmHWM in
  /proc, the server is local) may grow by a few MB, not by the output size.
  The rows themselves are checked against the hand-computed tree.
- CALL stackhouse.retention_job() under a hostile search_path (a schema
  listed before pg_catalog with its own int4 + and >= operators) must not
  call those operators: PL/pgSQL plans n + 1 after a COMMIT, i.e. under the
  caller's search_path, and keeps that plan.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import Checks, create_db, drop_db, psql, psql_value  # noqa: E402

DB = "server_safety"
check = Checks()

DEPTH = 2000     # frames f1..f2000 above every leaf
LEAVES = 4000    # leaf1..leaf4000, one sample each
# without the per-row reset the frame arrays alone take about
# DEPTH * LEAVES * 8 bytes = 64 MB
MAX_GROWTH_KB = 24 * 1024


def hwm_kb(out, label):
    for line in out.splitlines():
        if line.startswith(label):
            return int(line.split()[1])
    raise AssertionError("no %s line in %r" % (label, out[-2000:]))


def stacks_memory():
    psql("CREATE TABLE wide AS SELECT stackhouse.merge((p.s || ';leaf' || k || ' 1')::stackhouse.stacktree) t"
         "  FROM (SELECT string_agg('f' || j, ';' ORDER BY j) s FROM generate_series(1, %d) j) p,"
         "       generate_series(1, %d) k;" % (DEPTH, LEAVES), db=DB)
    check(psql_value("SELECT stackhouse.node_count(t) FROM wide", db=DB) == str(DEPTH + LEAVES),
          "the test tree has %d nodes" % (DEPTH + LEAVES))
    # one session: peak memory after reading the tree, then after stacks()
    script = (
        "SELECT pg_backend_pid() AS pid \\gset\n"
        "\\setenv PID :pid\n"
        "SELECT stackhouse.node_count(t) FROM wide;\n"
        "\\! sed -n 's/^VmHWM:/HWM_BEFORE/p' /proc/$PID/status\n"
        "SELECT 'ROWS', count(*), sum(cardinality(frames)), sum(value),"
        "       count(*) FILTER (WHERE frames[1] = 'f1' AND frames[%d] = 'f%d'"
        "                         AND frames[%d] = 'leaf' || substr(frames[%d], 5)"
        "                         AND value = 1 AND \"values\" = '{1}')"
        "  FROM wide, stackhouse.stacks(t);\n"
        "\\! sed -n 's/^VmHWM:/HWM_AFTER/p' /proc/$PID/status\n"
        % (DEPTH, DEPTH, DEPTH + 1, DEPTH + 1))
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", " ", "-v", "ON_ERROR_STOP=1", "-d", DB],
                       input=script, capture_output=True, text=True)
    check(p.returncode == 0, "stacks() session ran (%s)" % p.stderr.strip()[-500:])
    rows = [l for l in p.stdout.splitlines() if l.startswith("ROWS ")]
    want = "ROWS %d %d %d %d" % (LEAVES, LEAVES * (DEPTH + 1), LEAVES, LEAVES)
    check(rows == [want], "stacks(): %d rows of %d frames each, value 1: %r" % (LEAVES, DEPTH + 1, rows))
    before = hwm_kb(p.stdout, "HWM_BEFORE")
    after = hwm_kb(p.stdout, "HWM_AFTER")
    check(after - before <= MAX_GROWTH_KB,
          "stacks() of %d frames grew the backend's peak memory by %d kB (at most %d kB)"
          % (LEAVES * (DEPTH + 1), after - before, MAX_GROWTH_KB))


def retention_job_search_path():
    psql("INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('1 day', '1 hour');\n"
         "INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree)\n"
         "  SELECT timestamptz '2024-01-10 10:00:00+00' + i * interval '1 minute', '10 s', 'svc', '{}', 'cpu',\n"
         "         ('main;f ' || i)::stackhouse.stacktree FROM generate_series(1, 10) i;\n"
         "CREATE SCHEMA evil;\n"
         "CREATE TABLE evil.log (who text, what text);\n"
         "CREATE FUNCTION evil.plus(a int4, b int4) RETURNS int4 LANGUAGE plpgsql AS\n"
         "  $$ BEGIN INSERT INTO evil.log VALUES (current_user, '+'); RETURN a OPERATOR(pg_catalog.+) b; END $$;\n"
         "CREATE FUNCTION evil.ge(a int4, b int4) RETURNS boolean LANGUAGE plpgsql AS\n"
         "  $$ BEGIN INSERT INTO evil.log VALUES (current_user, '>='); RETURN a OPERATOR(pg_catalog.>=) b; END $$;\n"
         "CREATE OPERATOR evil.+ (LEFTARG = int4, RIGHTARG = int4, FUNCTION = evil.plus);\n"
         "CREATE OPERATOR evil.>= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = evil.ge);\n", db=DB)
    # batches of 3 rows: several batches (n counted), a max_batches limit (n compared)
    psql("SET search_path = evil, pg_catalog;\n"
         "CALL stackhouse.retention_job(NULL, 3, timestamptz '2024-02-01 00:00:00+00');\n", db=DB)
    check(psql_value("SELECT count(*) || ' ' || sum(source_count) || ' ' || sum(stackhouse.total(tree))"
                     "  FROM stackhouse.profiles", db=DB) == "1 10 55",
          "retention_job merged the 10 rows of the hour into one (samples 1..10 = 55)")
    psql("INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree)\n"
         "  SELECT timestamptz '2024-01-11 10:00:00+00' + i * interval '1 minute', '10 s', 'svc', '{}', 'cpu',\n"
         "         'main;g 1' FROM generate_series(1, 10) i;\n", db=DB)
    psql("SET search_path = evil, pg_catalog;\n"
         "CALL stackhouse.retention_job(2, 3, timestamptz '2024-02-01 00:00:00+00');\n", db=DB)
    check(psql_value("SELECT string_agg(status, ',' ORDER BY id) FROM stackhouse.retention_activity", db=DB)
          == "done,stopped", "retention_job(max_batches => 2) stopped its run after two batches")
    check(psql_value("SELECT (count(*) < 11) || ' ' || sum(source_count) || ' ' || sum(stackhouse.total(tree))"
                     "  FROM stackhouse.profiles", db=DB) == "true 20 65",
          "it merged some rows, and no sample was lost or counted twice")
    log = psql("SELECT who, what FROM evil.log", db=DB)
    check(log == [], "no operator of the hostile schema was called: %r" % (log[:5],))


def main():
    create_db(DB)
    try:
        stacks_memory()
        retention_job_search_path()
    finally:
        drop_db(DB)
    print("%d failures" % len(check.failures))
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
