"""Retention downsampling conserves every stack's total, also under concurrency.

Four days of generated profiles (two services, two pods, two profile types,
some days in daily partitions, the rest in the DEFAULT partition) are
downsampled by stackhouse.run_retention to hourly, then daily buckets.  The
oracle is the generator itself: Python knows every stack it wrote, so the
sum per (service, pod, profile type, stack) after downsampling must equal
the generated sum exactly; the SQL sums taken before must match too (EXCEPT
both ways empty), and sum(source_count) must equal the number of rows
generated.  Then three sessions run the job concurrently (CALL
stackhouse.retention_job, a commit per batch) while a fourth inserts more
old profiles row by row: nothing is lost, and no (group, bucket) ever holds
two merged rows.
"""
import os
import random
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import create_db, drop_db, lit, psql, psql_value  # noqa: E402

DB = "retention_conservation"
FUNCS = ["main", "handler", "parse", "encode", "gc", "io_wait", "compress", "lookup"]
FAILURES = []


def check(cond, msg):
    if cond:
        print("ok: " + msg, flush=True)
    else:
        print("FAIL: " + msg, flush=True)
        FAILURES.append(msg)


def gen_profile(rng, ptype):
    """A random folded profile: (text, {frames tuple: value}).  For 'alloc'
    two columns (objects, bytes); the default (last) column is summed."""
    stacks = defaultdict(int)
    lines = []
    for _ in range(rng.randint(1, 5)):
        depth = rng.randint(1, 4)
        frames = ("main",) + tuple(rng.choice(FUNCS[1:]) for _ in range(depth - 1))
        v = rng.randint(0, 50)
        stacks[frames] += v
        if ptype == "alloc":
            lines.append("%s %d %d" % (";".join(frames), v + 1, v))
        else:
            lines.append("%s %d" % (";".join(frames), v))
    text = "\n".join(lines)
    if ptype == "alloc":
        text = "# column alloc_objects count\n# column alloc_space bytes default\n" + text
    return text, stacks


def gen_rows(rng, start_minute, end_minute, step, expected):
    """Rows every `step` minutes from 2024-01-01 + start_minute, for services
    a and b, pods p1 and p2, types cpu (every step) and alloc (every 3rd)."""
    rows = []
    for m in range(start_minute, end_minute, step):
        for service in ("a", "b"):
            for pod in ("p1", "p2"):
                for ptype in ("cpu", "alloc"):
                    if ptype == "alloc" and (m // step) % 3:
                        continue
                    text, stacks = gen_profile(rng, ptype)
                    for frames, v in stacks.items():
                        expected[(service, pod, ptype, frames)] += v
                    rows.append((m, service, pod, ptype, text))
    return rows


def row_sql(r):
    m, service, pod, ptype, text = r
    return ("(timestamptz '2024-01-01 00:00+00' + interval '%d minutes', interval '10 seconds', %s, "
            "jsonb_build_object('pod', %s), %s, %s::stackhouse.stacktree)"
            % (m, lit(service), lit(pod), lit(ptype), "E" + lit(text.replace("\\", "\\\\").replace("\n", "\\n"))))


def insert_sql(rows):
    out = []
    for i in range(0, len(rows), 200):
        out.append("INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree) VALUES\n"
                   + ",\n".join(row_sql(r) for r in rows[i:i + 200]) + ";\n")
    return "".join(out)


SUMS_SQL = """
SELECT service, labels->>'pod', profile_type, s.frames::text, sum(s.value)
  FROM stackhouse.profiles, stackhouse.stacks(tree) s
 GROUP BY 1, 2, 3, 4
"""


def actual_sums():
    got = {}
    for service, pod, ptype, frames, v in psql(SUMS_SQL, db=DB):
        got[(service, pod, ptype, tuple(frames.strip("{}").split(",")))] = int(v)
    return got


def compare_oracle(expected, what):
    got = actual_sums()
    exp = {k: v for k, v in expected.items()}
    missing = [(k, v, got.get(k)) for k, v in exp.items() if got.get(k) != v]
    extra = [k for k in got if k not in exp]
    check(not missing and not extra,
          "%s: all %d stack totals equal the generator's (%d differ, %d unexpected)"
          % (what, len(exp), len(missing), len(extra)))
    for m in missing[:5]:
        print("   key %r: expected %r, got %r" % m)


def compare_before(what):
    n = psql_value("""
SELECT count(*) FROM (
  (TABLE retention_before EXCEPT %s) UNION ALL (%s EXCEPT TABLE retention_before)) d""" % (SUMS_SQL, SUMS_SQL), db=DB)
    check(n == "0", "%s: SQL sums before and after: EXCEPT both ways empty (%s rows differ)" % (what, n))


def merged_dups(width, services):
    """(group, bucket) with more than one merged row (duration >= width)."""
    return int(psql_value("""
SELECT count(*) FROM (SELECT 1 FROM stackhouse.profiles
 WHERE duration >= interval %s AND service = ANY (%s)
 GROUP BY service, labels, profile_type, date_bin(interval %s, ts, timestamptz '2000-01-01 00:00+00')
 HAVING count(*) > 1) d""" % (lit(width), "ARRAY[%s]::text[]" % ",".join(lit(s) for s in services), lit(width)),
        db=DB))


def rows_per_bucket_max(width, services):
    return int(psql_value("""
SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM stackhouse.profiles
 WHERE service = ANY (%s)
 GROUP BY service, labels, profile_type, date_bin(interval %s, ts, timestamptz '2000-01-01 00:00+00')) d"""
        % ("ARRAY[%s]::text[]" % ",".join(lit(s) for s in services), lit(width)), db=DB))


def main():
    rng = random.Random(20240101)
    create_db(DB)
    expected = defaultdict(int)
    # four days every 10 minutes; days 1 and 2 get partitions, 3 and 4 stay in DEFAULT
    rows = gen_rows(rng, 0, 4 * 1440, 10, expected)
    psql("""
SELECT stackhouse.create_partition('2024-01-01'), stackhouse.create_partition('2024-01-02');
-- everyone: hourly after 7 days, daily after 30; service b: 2-hour buckets after 7 days, nothing more
INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('7 days', '1 hour'), ('30 days', '1 day');
INSERT INTO stackhouse.retention_policies (service, after, resolution) VALUES ('b', '7 days', '2 hours');
""" + insert_sql(rows), db=DB)
    nrows = len(rows)
    check(psql_value("SELECT count(*) FROM stackhouse.profiles", db=DB) == str(nrows),
          "loaded %d generated profiles" % nrows)
    psql("CREATE TABLE retention_before AS " + SUMS_SQL, db=DB)
    compare_oracle(expected, "before")

    # ---- hourly (service b: 2-hourly), small batches
    runs = psql("SELECT policy, status, rows_in, rows_out FROM stackhouse.run_retention("
                "batch_size => 37, as_of => '2024-01-20') ORDER BY policy", db=DB)
    check(all(r[1] == "done" for r in runs) and len(runs) == 2, "hourly pass: two runs, both done: %r" % (runs,))
    compare_oracle(expected, "after hourly")
    compare_before("after hourly")
    check(psql_value("SELECT sum(source_count) FROM stackhouse.profiles", db=DB) == str(nrows),
          "after hourly: sum(source_count) = %d" % nrows)
    # a hour holds 6 cpu profiles (and 2 or 1 alloc) per group: one row per (group, hour) now
    check(rows_per_bucket_max("1 hour", ["a"]) == 1, "service a: one row per (group, hour)")
    check(rows_per_bucket_max("2 hours", ["b"]) == 1, "service b: one row per (group, 2 hours)")
    # 4 days * 24 hours * 2 pods * 2 types for a, 4 * 12 * 2 * 2 for b
    check(psql_value("SELECT count(*) FROM stackhouse.profiles", db=DB) == str(4 * 24 * 4 + 4 * 12 * 4),
          "row count after hourly = 4*24*4 + 4*12*4")

    # ---- daily, with three concurrent job sessions and concurrent ingest
    extra = gen_rows(rng, 5, 4 * 1440, 20, expected)      # more raw profiles for the same days
    nrows += len(extra)
    root = os.environ.get("STACKHOUSE_TMP", "/tmp")
    ingest_file = os.path.join(root, "retention_ingest.sql")
    with open(ingest_file, "w", encoding="utf-8") as f:
        for r in extra:        # one transaction per row
            f.write("INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree) VALUES %s;\n"
                    % row_sql(r))
    procs = []
    for _ in range(3):
        procs.append(subprocess.Popen(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB, "-c",
             "CALL stackhouse.retention_job(batch_size => 5, as_of => '2024-03-01')"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    procs.append(subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB, "-f", ingest_file],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        out, err = p.communicate()
        check(p.returncode == 0, "concurrent session exited 0%s" % ("" if p.returncode == 0 else ": " + err[-500:]))
    os.unlink(ingest_file)
    # right after the concurrent passes: never two merged rows for one (group, day)
    check(merged_dups("1 day", ["a"]) == 0, "after concurrent passes: no (group, day) has two merged rows")
    check(merged_dups("2 hours", ["b"]) == 0, "after concurrent passes: no (group, 2 hours) has two merged rows")
    compare_oracle(expected, "after concurrent passes + ingest")
    check(psql_value("SELECT sum(source_count) FROM stackhouse.profiles", db=DB) == str(nrows),
          "after concurrent passes + ingest: sum(source_count) = %d" % nrows)
    # what the concurrent passes left (rows ingested behind them) goes in one more pass
    psql("SELECT * FROM stackhouse.run_retention(as_of => '2024-03-01')", db=DB)
    compare_oracle(expected, "after the final pass")
    check(psql_value("SELECT sum(source_count) FROM stackhouse.profiles", db=DB) == str(nrows),
          "after the final pass: sum(source_count) = %d" % nrows)
    check(rows_per_bucket_max("1 day", ["a"]) == 1, "service a: one row per (group, day)")
    check(rows_per_bucket_max("2 hours", ["b"]) == 1, "service b: still one row per (group, 2 hours)")
    check(psql_value("SELECT count(*) FROM stackhouse.profiles", db=DB) == str(4 * 4 + 4 * 12 * 4),
          "row count after daily = 4*4 + 4*12*4")
    bad = psql("SELECT id, status, error FROM stackhouse.retention_activity WHERE status <> 'done'", db=DB)
    check(not bad, "every run in the log is done: %r" % (bad[:3],))
    nruns = int(psql_value("SELECT count(*) FROM stackhouse.retention_runs", db=DB))
    check(nruns >= 3, "the log holds the runs of the concurrent sessions (%d runs)" % nruns)

    drop_db(DB)
    print("%d failures" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
