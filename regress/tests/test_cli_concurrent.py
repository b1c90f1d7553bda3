"""8 stackhouse-ingest processes load into the same table at once (small
batches, so transactions interleave) while a 9th process keeps calling
stackhouse.ensure_partitions(), which creates partitions and moves rows out
of the DEFAULT partition under their feet.  Nothing may be lost or
duplicated: row counts and summed totals per process equal the oracle's
(go tool pprof -raw of the same files) times one."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import ROOT, DATA, create_db, drop_db, psql, log  # noqa: E402
import ingest_oracle as orc  # noqa: E402

CLI = os.path.join(ROOT, "ingest-cli", "stackhouse-ingest")
DB = "cli_concurrent"
NPROC = 8


def main():
    failures = []
    create_db(DB)
    series = sorted(os.path.join(DATA, "profiles", "go", "series", f)
                    for f in os.listdir(os.path.join(DATA, "profiles", "go", "series")))
    want = orc.expected_rows(series)
    want_rows = sum(want.values())
    want_cpu = sum(dict(k[2])["cpu"] * n for k, n in want.items())

    procs = []
    for i in range(NPROC):
        args = [CLI, "-d", DB, "-s", "conc", "--label", "proc=%d" % i, "--batch-rows", "3", "-q"]
        if i % 2:
            # back-dated rows land in the DEFAULT partition until moved
            args += ["--time", "2025-0%d-15T10:00:00Z" % (i // 2 + 1)]
        procs.append(subprocess.Popen(args + series, stderr=subprocess.PIPE))
    # partition management racing with the loads (bounded number of rounds)
    mover = subprocess.Popen(["bash", "-c", 'for i in $(seq 1 40); do psql -X -q -d "$DB" -c "$SQL" '
                              '>/dev/null || exit 1; done'],
                             env=dict(os.environ, DB=DB, SQL="SELECT stackhouse.ensure_partitions('1 day')"),
                             stderr=subprocess.PIPE)
    for i, p in enumerate(procs):
        _, err = p.communicate()
        if p.returncode != 0:
            failures.append("process %d exit %d: %s" % (i, p.returncode, err.decode()))
    _, err = mover.communicate()
    if mover.returncode != 0:
        failures.append("ensure_partitions loop failed: %s" % err.decode())
    psql("SELECT stackhouse.ensure_partitions(interval '1 day')", DB)

    rows = psql("SELECT labels->>'proc', count(*), sum(stackhouse.total(p.tree, 'cpu')), "
                "count(DISTINCT (ts, labels, md5(tree::text))) "
                "FROM stackhouse.profiles p GROUP BY 1 ORDER BY 1", DB)
    log("per process: %r (oracle: %d rows, cpu %d)" % (rows, want_rows, want_cpu))
    if len(rows) != NPROC:
        failures.append("%d processes have rows, want %d" % (len(rows), NPROC))
    for proc, n, cpu, distinct in rows:
        if int(n) != want_rows or int(cpu) != want_cpu or int(distinct) != want_rows:
            failures.append("proc %s: %s rows (%s distinct), cpu %s; want %d rows, cpu %d"
                            % (proc, n, distinct, cpu, want_rows, want_cpu))
    # the unchanged-time processes match the oracle row for row
    for i in (0, 2):
        got = orc.db_rows(DB, "labels->>'proc' = '%d'" % i, strip_labels=("proc",))
        if got != want:
            failures.append("proc %d rows differ:\n%s" % (i, orc.diff_counters(got, want)))
    n_default = psql("SELECT count(*) FROM stackhouse.profiles_default", DB)[0][0]
    if n_default != "0":
        failures.append("%s rows left in the default partition after ensure_partitions" % n_default)
    parts = psql("SELECT count(*) FROM stackhouse.partitions WHERE bound LIKE '%2025-0%'", DB)[0][0]
    if parts != str(NPROC // 2):
        failures.append("%s back-dated partitions, want %d" % (parts, NPROC // 2))

    for f in failures:
        print("FAIL: " + f)
    drop_db(DB)
    print("%d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
