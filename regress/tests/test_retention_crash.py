"""Crash safety of retention: the postmaster (and then every child) is
killed with SIGKILL while the worker is in the middle of a run, the server
is started again, and:

- every stack total and sum(source_count) equal the generated ones (the
  generator is the oracle), checked before the worker resumes, in one
  snapshot;
- no (group, bucket) holds two merged rows;
- the killed run shows as 'interrupted' in stackhouse.retention_activity,
  with the counters of the batches that committed;
- the next run (the worker restarts with the server) completes the job:
  one row per (group, hour).
Runs on a server of its own (shared_preload_libraries = 'stackhouse'); a
small stackhouse.batch_size and a stackhouse.batch_delay make the run long
enough to be caught in the middle.  No timing is asserted.
"""
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import Checks, OwnCluster, process_alive, wait_for as _wait_for, ROOT, lit, psql, psql_value  # noqa: E402

DB = "retention_crash"
CHECK = Checks()
check = CHECK
FAILURES = CHECK.failures
CLUSTER = OwnCluster("retention_crash_pg")
DIR = CLUSTER.dir
start = CLUSTER.start
stop = CLUSTER.stop
server_log = CLUSTER.log


def wait_for(what, fn, poll=0.05):
    """wait, failing at once if the server died under us (no time limit)"""
    return _wait_for(what, fn, poll=poll, give_up=lambda: not CLUSTER.running())



def crash():
    """SIGKILL the postmaster, then each of its children (collected first),
    as a power cut would; wait until they are all gone."""
    with open(os.path.join(DIR, "data", "postmaster.pid")) as f:
        pm = int(f.readline())
    children = [int(x) for x in subprocess.run(["ps", "-o", "pid=", "--ppid", str(pm)],
                                               capture_output=True, text=True).stdout.split()]
    os.kill(pm, signal.SIGKILL)
    for c in children:
        try:
            os.kill(c, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _wait_for("postmaster and %d children gone" % len(children),
              lambda: not any(process_alive(p) for p in [pm] + children), poll=0.05)


EXPECTED = defaultdict(int)
NSOURCES = [0]


def gen_rows(rng):
    """Two days of raw cpu profiles every 5 minutes for pods p1..p3, 5 days ago."""
    stmts = []
    for m in range(0, 2 * 1440, 5):
        vals = []
        for pod in ("p1", "p2", "p3"):
            lines = []
            for _ in range(rng.randint(1, 4)):
                frames = ["main"] + [rng.choice(["a", "b", "c", "d", "e"]) for _ in range(rng.randint(0, 3))]
                v = rng.randint(1, 1000)
                EXPECTED[(pod, tuple(frames))] += v
                lines.append("%s %d" % (";".join(frames), v))
            NSOURCES[0] += 1
            vals.append("(date_trunc('day', now()) - interval '5 days' + interval '%d minutes', '10 seconds', 'svc', "
                        "jsonb_build_object('pod', %s), 'cpu', E%s)" % (m, lit(pod), lit("\\n".join(lines))))
        stmts.append("INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree) VALUES "
                     + ", ".join(vals) + ";\n")
    return "".join(stmts)


def check_state(what):
    """Totals, source count and merged-row uniqueness, in one snapshot."""
    rows = psql("""
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT labels->>'pod', s.frames::text, sum(s.value) FROM stackhouse.profiles, stackhouse.stacks(tree) s GROUP BY 1, 2;
SELECT 'sources', sum(source_count)::text, NULL FROM stackhouse.profiles;
SELECT 'merged_dups', count(*)::text, NULL FROM (SELECT 1 FROM stackhouse.profiles WHERE duration >= interval '1 hour'
  GROUP BY labels, date_bin(interval '1 hour', ts, timestamptz '2000-01-01 00:00+00') HAVING count(*) > 1) d;
COMMIT;""", db=DB)
    got = {}
    extra = {}
    for a, b, c in rows:
        if c is None:
            extra[a] = b
        else:
            got[(a, tuple(b.strip("{}").split(",")))] = int(c)
    check(got == dict(EXPECTED), "%s: every stack total equals the generated one (%d stacks)" % (what, len(EXPECTED)))
    check(extra.get("sources") == str(NSOURCES[0]), "%s: sum(source_count) = %d (got %s)"
          % (what, NSOURCES[0], extra.get("sources")))
    check(extra.get("merged_dups") == "0", "%s: no (pod, hour) holds two merged rows" % what)


def main():
    rng = random.Random(99)
    subprocess.run(["rm", "-rf", DIR])
    start("shared_preload_libraries='stackhouse'", "stackhouse.naptime=3600",
          "stackhouse.batch_size=10", "stackhouse.batch_delay=50")
    try:
        return scenario(rng)
    finally:
        stop()


def scenario(rng):
    psql("CREATE DATABASE %s;" % DB, db="postgres")
    psql("CREATE EXTENSION stackhouse;\n"
         "SELECT stackhouse.create_partition((date_trunc('day', now()) - interval '5 days')::date);\n"
         "INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('1 day', '1 hour');\n"
         + gen_rows(rng), db=DB)
    check_state("before")
    psql("ALTER SYSTEM SET stackhouse.databases = %s; SELECT pg_reload_conf();" % lit(DB), db="postgres")
    run = wait_for("a run in progress with committed batches", lambda: psql(
        "SELECT id, rows_in FROM stackhouse.retention_activity WHERE status = 'running' AND batches >= 5",
        db=DB))[0]
    crash()
    check(True, "killed the server with run %s in progress (%s rows in so far)" % run)

    # start again without the worker (the database unlisted: ALTER SYSTEM's
    # file edited while the server is down) to look at the state as left
    auto = os.path.join(DIR, "data", "postgresql.auto.conf")
    with open(auto) as f:
        lines = [l for l in f if not l.startswith("stackhouse.databases")]
    with open(auto, "w") as f:
        f.writelines(lines)
    psql_env = dict(os.environ)
    start()
    check(not psql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'stackhouse retention worker'",
                   db="postgres"), "restarted with no worker")
    check("database system was not properly shut down; automatic recovery in progress" in
          open(os.path.join(DIR, "log"), errors="replace").read(), "the server went through crash recovery")
    check_state("after the crash")
    st = psql("SELECT status, batches, rows_in, rows_out, finished_at IS NULL FROM stackhouse.retention_activity "
              "WHERE id = %s" % run[0], db=DB)
    check(st and st[0][0] == "interrupted" and int(st[0][1]) >= 1,
          "the killed run shows as interrupted: %r" % (st,))
    # the counters were updated in each batch's transaction: they match the
    # table exactly (the test server runs with synchronous_commit = off, so
    # the last batches seen before the kill may be lost, each as a whole)
    nrows = int(psql_value("SELECT count(*) FROM stackhouse.profiles", db=DB))
    check(st and int(st[0][2]) - int(st[0][3]) == NSOURCES[0] - nrows,
          "rows_in - rows_out of the killed run (%s - %s) = rows the table lost (%d - %d)"
          % (st[0][2], st[0][3], NSOURCES[0], nrows))
    left = int(psql_value("SELECT count(*) FROM stackhouse.profiles WHERE duration < interval '1 hour'", db=DB))
    check(left > 0, "raw rows are left to merge after the crash (%d)" % left)

    # the worker, back with the server, completes the job
    psql("ALTER SYSTEM SET stackhouse.databases = %s; ALTER SYSTEM SET stackhouse.batch_delay = 0; "
         "SELECT pg_reload_conf();" % lit(DB), db="postgres")
    wait_for("the job completed", lambda: psql_value(
        "SELECT count(*) FROM stackhouse.profiles WHERE duration < interval '1 hour'", db=DB) == "0"
        and psql_value("SELECT count(*) FROM stackhouse.retention_activity WHERE status = 'running'", db=DB) == "0",
        poll=0.2)
    check_state("after the next run")
    runs = psql("SELECT status FROM stackhouse.retention_activity WHERE id > %s ORDER BY id" % run[0], db=DB)
    check(runs and runs[-1][0] == "done", "the next run is done: %r" % (runs,))
    check(psql_value("SELECT count(*) FROM stackhouse.retention_runs WHERE status = 'interrupted'", db=DB) == "1",
          "the next pass marked the killed run 'interrupted' in the table too")
    n = int(psql_value("SELECT count(*) FROM stackhouse.profiles", db=DB))
    check(n == 2 * 24 * 3, "one row per (pod, hour): %d rows = 2 days * 24 * 3 pods" % n)
    os.environ.update(psql_env)
    print("%d failures" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
