"""The retention background workers, on a server of their own started with
shared_preload_libraries = 'stackhouse'.

- listing a database in stackhouse.databases and reloading starts its worker,
  which downsamples at once and shows its run in stackhouse.retention_activity;
- a policy added to the table and a reload: the worker applies it;
- stackhouse.batch_size changed and reloaded: the next run uses it;
- profiles ingested while the worker runs (small batches, a batch_delay) are
  not lost: every generated stack total is found afterwards;
- pg_terminate_backend (SIGTERM) stops the worker; a fast shutdown stops
  everything; the worker starts with the server again;
- the launcher is killed (SIGTERM) and restarted by the postmaster while
  its worker lives on: the new launcher's workers find the database taken
  and exit, which the launcher does not count as failures (the delay it
  computes before the next start stays stackhouse.naptime, as it logs at
  DEBUG1, instead of doubling); once the old worker is gone, a new one
  takes over;
- removing the database from the list stops its worker.
No timing is asserted; waits poll the server (with a hang guard).
"""
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sthelper  # noqa: E402
from sthelper import Checks, OwnCluster, wait_for as _wait_for, ROOT, lit, psql, psql_value  # noqa: E402

DB = "retention_worker"
CHECK = Checks()
check = CHECK
FAILURES = CHECK.failures
CLUSTER = OwnCluster("retention_worker_pg")
DIR = CLUSTER.dir
start = CLUSTER.start
stop = CLUSTER.stop
server_log = CLUSTER.log


def wait_for(what, fn, poll=0.2):
    """wait, failing at once if the server died under us (no time limit)"""
    return _wait_for(what, fn, poll=poll, give_up=lambda: not CLUSTER.running())



def worker_pids():
    return [r[0] for r in psql("SELECT pid FROM pg_stat_activity WHERE backend_type = "
                               "'stackhouse retention worker' AND datname = %s" % lit(DB), db="postgres")]


def launcher_pid():
    pm = CLUSTER.postmaster_pid()
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pm)], capture_output=True, text=True).stdout
    pids = [int(l.split(None, 1)[0]) for l in out.splitlines() if "stackhouse retention launcher" in l]
    return pids[0] if len(pids) == 1 else None


def reload_conf(*settings):
    sql = "".join("ALTER SYSTEM SET %s = %s;\n" % (k, lit(v)) for k, v in settings)
    psql(sql + "SELECT pg_reload_conf();", db="postgres")


def last_run_id():
    return int(psql_value("SELECT coalesce(max(id), 0) FROM stackhouse.retention_runs", db=DB))


def idle_after(run_id):
    """all runs after run_id finished, and at least one of them exists"""
    rows = psql("SELECT status FROM stackhouse.retention_activity WHERE id > %d" % run_id, db=DB)
    return rows and all(r[0] not in ("running",) for r in rows)


# ---- generated profiles with known totals
EXPECTED = defaultdict(int)
NSOURCES = [0]


def gen_insert(rng, n, minutes_back_from, spread_minutes):
    """n raw cpu profiles for pods p1/p2, ts = now() - minutes_back_from +
    random minute within spread; returns INSERT statements (one per row)."""
    stmts = []
    for _ in range(n):
        pod = rng.choice(["p1", "p2"])
        m = minutes_back_from - rng.randrange(spread_minutes)
        frames = ["main"] + [rng.choice(["a", "b", "c", "d"]) for _ in range(rng.randint(0, 3))]
        v = rng.randint(1, 100)
        EXPECTED[(pod, tuple(frames))] += v
        NSOURCES[0] += 1
        stmts.append("INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree) "
                     "VALUES (now() - interval '%d minutes', '10 seconds', 'svc', jsonb_build_object('pod', %s), "
                     "'cpu', %s);\n" % (m, lit(pod), lit("%s %d" % (";".join(frames), v))))
    return stmts


def check_totals(what):
    got = {}
    for pod, frames, v in psql("SELECT labels->>'pod', s.frames::text, sum(s.value) FROM stackhouse.profiles, "
                               "stackhouse.stacks(tree) s GROUP BY 1, 2", db=DB):
        got[(pod, tuple(frames.strip("{}").split(",")))] = int(v)
    check(got == dict(EXPECTED), "%s: every stack total equals the generated one (%d stacks)" % (what, len(EXPECTED)))
    check(psql_value("SELECT sum(source_count) FROM stackhouse.profiles", db=DB) == str(NSOURCES[0]),
          "%s: sum(source_count) = %d profiles generated" % (what, NSOURCES[0]))


def max_rows_per_bucket(width):
    return int(psql_value("SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM stackhouse.profiles GROUP BY "
                          "labels, date_bin(interval %s, ts, timestamptz '2000-01-01 00:00+00')) d" % lit(width),
                          db=DB))


def main():
    rng = random.Random(7)
    subprocess.run(["rm", "-rf", DIR])
    start("shared_preload_libraries='stackhouse'", "stackhouse.naptime=3600")
    try:
        return scenario(rng)
    finally:
        stop()


def scenario(rng):
    log = server_log()
    check("stackhouse retention launcher started" in log, "the launcher starts with the server")
    psql("CREATE DATABASE %s;" % DB, db="postgres")
    psql("CREATE EXTENSION stackhouse;\n"
         "INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('1 day', '1 hour');\n"
         + "".join(gen_insert(rng, 300, 4 * 1440, 240)), db=DB)

    # ---- the database is listed: its worker starts and downsamples
    reload_conf(("stackhouse.databases", DB))
    pid = wait_for("worker started", worker_pids)[0]
    check(True, "worker running for %s (pid %s)" % (DB, pid))
    wait_for("first run done", lambda: idle_after(0))
    runs = psql("SELECT policy, status, rows_in FROM stackhouse.retention_activity", db=DB)
    check(len(runs) == 1 and runs[0][0] == "after 1 day: 01:00:00 buckets" and runs[0][1] == "done"
          and runs[0][2] == "300", "the view shows the worker's hourly run: %r" % (runs,))
    check(max_rows_per_bucket("1 hour") == 1, "one row per (pod, hour)")
    check_totals("after the hourly run")

    # ---- a policy added + reload: applied
    before = last_run_id()
    psql("INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('2 days', '1 day');", db=DB)
    reload_conf()
    wait_for("daily run done", lambda: idle_after(before))
    runs = psql("SELECT policy, status FROM stackhouse.retention_activity WHERE id > %d" % before, db=DB)
    check(runs == [("after 2 days: 1 day buckets", "done")], "the new daily policy ran: %r" % (runs,))
    check(max_rows_per_bucket("1 day") == 1, "one row per (pod, day)")
    check_totals("after the daily run")

    # ---- batch_size changed + reload: used by the next run
    before = last_run_id()
    psql("".join(gen_insert(rng, 40, 4 * 1440, 60)), db=DB)
    reload_conf(("stackhouse.batch_size", "3"))
    wait_for("run with batch_size 3 done", lambda: idle_after(before))
    r = psql("SELECT rows_in, batches FROM stackhouse.retention_activity WHERE id > %d" % before, db=DB)
    check(len(r) == 1 and int(r[0][1]) * 3 >= int(r[0][0]) and int(r[0][0]) >= 40,
          "the run merged %s rows in %s batches of at most 3" % (r[0][0] if r else "?", r[0][1] if r else "?"))
    check_totals("after the batch_size run")

    # ---- concurrent ingest while the worker runs
    before = last_run_id()
    psql("".join(gen_insert(rng, 600, 4 * 1440, 1440)), db=DB)
    reload_conf(("stackhouse.batch_size", "5"), ("stackhouse.batch_delay", "20ms"))
    wait_for("a run in progress", lambda: psql_value(
        "SELECT count(*) FROM stackhouse.retention_activity WHERE id > %d AND status = 'running'" % before,
        db=DB) != "0")
    ingest = "".join(gen_insert(rng, 300, 4 * 1440, 1440))
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB], input=ingest,
                       capture_output=True, text=True)
    check(p.returncode == 0, "300 profiles ingested, one transaction each, while the worker ran")
    still = psql_value("SELECT count(*) FROM stackhouse.retention_activity WHERE id > %d AND status = 'running'"
                       % before, db=DB)
    print("   (runs still in progress when the ingest ended: %s)" % still)
    wait_for("runs finished", lambda: idle_after(before))
    check_totals("after the run with concurrent ingest")
    # rows ingested behind the pass go in the next one (a reload starts it)
    reload_conf(("stackhouse.batch_delay", "0"))
    wait_for("every (pod, day) merged, no run in progress", lambda: max_rows_per_bucket("1 day") == 1 and psql_value(
        "SELECT count(*) FROM stackhouse.retention_activity WHERE status = 'running'", db=DB) == "0")
    check(max_rows_per_bucket("1 day") == 1, "one row per (pod, day) after the next pass")
    check_totals("after the next pass")

    # ---- SIGTERM
    pid = worker_pids()[0]
    psql("SELECT pg_terminate_backend(%s);" % pid, db="postgres")
    wait_for("worker %s gone" % pid, lambda: pid not in worker_pids())
    check('terminating background worker "stackhouse retention worker" due to administrator command' in server_log(),
          "the worker logged its exit on SIGTERM")

    # ---- fast shutdown, start again: the worker starts with the server
    stop()
    check("database system is shut down" in server_log(), "fast shutdown completed with the workers running")
    start()
    pid2 = wait_for("worker started with the server", worker_pids)[0]
    check(pid2 != pid, "a new worker (pid %s) after the restart" % pid2)
    check_totals("after the restart")

    # ---- the launcher restarts while its worker lives on
    reload_conf(("stackhouse.naptime", "1s"), ("log_min_messages", "debug1"))
    old_launcher = wait_for("the launcher", launcher_pid)
    mark = len(server_log())
    os.kill(old_launcher, signal.SIGTERM)
    new_launcher = wait_for("a new launcher", lambda: (lambda p: p if p not in (None, old_launcher) else None)(
        launcher_pid()))
    check(new_launcher != old_launcher, "the postmaster restarted the launcher (pid %s -> %s)" % (old_launcher, new_launcher))
    busy_msg = 'the worker for database "%s" found another one there (not a failure); next start in ' % DB
    # the workers' own messages (the launcher logs its decision about exit k
    # before it starts worker k + 1)
    exit_msg = 'stackhouse retention worker for database "%s": another worker holds the database; exiting' % DB
    wait_for("four workers exited, finding the database taken", lambda: server_log()[mark:].count(exit_msg) >= 4)
    log = server_log()[mark:]
    delays = [l.split(busy_msg, 1)[1] for l in log.splitlines() if busy_msg in l]
    check(len(delays) >= 3 and all(d == "1000 ms" for d in delays),
          "each busy exit: next start after naptime (1000 ms), not a growing back-off: %r" % (delays[:6],))
    failed_msg = 'the worker for database "%s" exited (' % DB
    check(failed_msg not in log, "no exit was counted as a failure")
    check(log.count('database "%s" already has a retention worker' % DB) == 1,
          "the launcher logged the situation once")
    check(pid2 in worker_pids(), "the worker started before the launcher restart still serves the database")
    started_msg = 'stackhouse retention worker started for database "%s"' % DB
    check(started_msg not in log, "no second worker took the database meanwhile")
    psql("SELECT pg_terminate_backend(%s);" % pid2, db="postgres")
    wait_for("a worker of the new launcher took over", lambda: started_msg in server_log()[mark:])
    pid3 = wait_for("the new worker", lambda: [p for p in worker_pids() if p != pid2])[0]
    check(pid3 != pid2, "the new launcher's worker (pid %s) serves the database" % pid3)
    reload_conf(("stackhouse.naptime", "3600"), ("log_min_messages", "warning"))

    # ---- the database leaves the list: its worker stops
    reload_conf(("stackhouse.databases", ""))
    wait_for("worker stopped", lambda: not worker_pids())
    check("no longer in stackhouse.databases" in server_log(), "the launcher logged why it stopped the worker")
    psql("ALTER SYSTEM RESET ALL; SELECT pg_reload_conf();", db="postgres")
    crashes = [l for l in server_log().splitlines() if "terminated by signal" in l or "PANIC" in l]
    check(not crashes, "no crash in the server log: %r" % crashes[:3])
    print("%d failures" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sthelper.ROOT = ROOT
    sys.exit(main())
