"""A 'drop' policy that drops a whole partition logs as rows_in exactly the
rows the partition held when it was dropped, including rows committed while
the job waited for its lock.

Session B inserts a row into the partition of 2024-03-01 and keeps its
transaction open (it holds a lock on stackhouse.profiles); session A runs
stackhouse.run_retention with a drop policy: it finds the partition, and
waits for the lock it needs to drop it.  Once A is seen waiting (pg_locks),
B commits; A gets the lock and drops the partition with B's row in it.  The
oracle is the test's own count of the rows it inserted: rows_in must equal
it (a count taken before the lock misses B's row).

The job waits at most 2 seconds for that lock (lock_timeout) and then leaves
the partition for the next pass; an attempt that ends that way is repeated
(with one more row), a bounded number of times.  No timing is asserted.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import Checks, create_db, drop_db, psql, psql_value, wait_for  # noqa: E402

DB = "retention_drop_count"
CHECK = Checks()
check = CHECK
ATTEMPTS = 20


def insert_sql(minute):
    return ("INSERT INTO stackhouse.profiles (ts, duration, service, profile_type, tree) VALUES "
            "(timestamptz '2024-03-01 00:00+00' + interval '%d minutes', '10 seconds', 'svc', 'cpu', "
            "'main;work 3');\n" % minute)


def a_waiting_or_done(a):
    """A waits for a lock on stackhouse.profiles or its partition (or A has
    already finished, having given up)."""
    if a.poll() is not None:
        return "done"
    n = psql_value("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid "
                   "WHERE s.datname = current_database() AND s.application_name = 'drop_count_a' "
                   "AND NOT l.granted AND l.locktype = 'relation'", db=DB)
    return "waiting" if n != "0" else None


def attempt(minute, committed):
    """One try; returns (exercised, rows_in, partitions_dropped)."""
    b = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", DB],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, bufsize=1)
    b.stdin.write("BEGIN;\n" + insert_sql(minute) + "SELECT 'inserted';\n")
    b.stdin.flush()
    line = b.stdout.readline().strip()
    check(line == "inserted", "session B inserted its row and holds its transaction open (%r)" % line)
    env = dict(os.environ, PGAPPNAME="drop_count_a")
    a = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-F", ",", "-v", "ON_ERROR_STOP=1", "-d", DB, "-c",
                          "SELECT rows_in, partitions_dropped FROM stackhouse.run_retention(as_of => '2024-06-01') "
                          "WHERE policy_id IS NOT NULL"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    state = wait_for("session A waiting for its lock (or done)", lambda: a_waiting_or_done(a), poll=0.02)
    b.stdin.write("COMMIT;\n\\q\n")
    b.stdin.flush()
    _, berr = b.communicate()
    check(b.returncode == 0, "session B committed%s" % ("" if b.returncode == 0 else ": " + berr[-300:]))
    out, err = a.communicate()
    check(a.returncode == 0, "session A (run_retention) exited 0%s" % ("" if a.returncode == 0 else ": " + err[-300:]))
    rows = [l.split(",") for l in out.split("\n") if l.strip()]
    if state != "waiting" or not rows or rows[0][1] != "1":
        print("   (attempt not exercised: A %s, runs %r; committed rows now %d)" % (state, rows, committed + 1))
        return False, None, None
    return True, int(rows[0][0]), int(rows[0][1])


def main():
    create_db(DB)
    psql("INSERT INTO stackhouse.retention_policies (after, action) VALUES ('1 day', 'drop');\n"
         "SELECT stackhouse.create_partition('2024-03-01');\n"
         + "".join(insert_sql(m) for m in range(0, 50, 10)), db=DB)
    committed = 5
    check(psql_value("SELECT count(*) FROM stackhouse.profiles_p20240301", db=DB) == "5",
          "5 rows in the partition of 2024-03-01")
    done = False
    for i in range(ATTEMPTS):
        exercised, rows_in, dropped = attempt(60 + i, committed)
        committed += 1          # B's row is committed either way
        if exercised:
            check(dropped == 1, "the partition was dropped while B's row arrived")
            check(rows_in == committed,
                  "rows_in = %s, the %d rows the partition held when dropped (B's row included)"
                  % (rows_in, committed))
            check(psql_value("SELECT count(*) FROM stackhouse.profiles", db=DB) == "0",
                  "no row is left")
            check(psql_value("SELECT to_regclass('stackhouse.profiles_p20240301') IS NULL", db=DB) == "t",
                  "the partition is gone")
            logged = psql("SELECT rows_in, partitions_dropped FROM stackhouse.retention_runs "
                          "WHERE partitions_dropped > 0", db=DB)
            check(logged == [(str(committed), "1")],
                  "the run log says the same: %r" % (logged,))
            done = True
            break
    check(done, "the race (a row committed while the job waited for its lock) was exercised "
                "within %d attempts" % ATTEMPTS)
    drop_db(DB)
    print("%d failures" % len(CHECK.failures))
    return 1 if CHECK.failures else 0


if __name__ == "__main__":
    sys.exit(main())
