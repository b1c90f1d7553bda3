"""stackhouse-ingest against a real server: a directory of real Go, Node and
folded profiles loads with the right rows, labels, timestamps and totals
(oracle: go tool pprof -raw output, and the folded text itself); stdin;
--split-labels, --label, --time; a mix of good and corrupt files loads every
good one, names every bad one and exits 1; usage/connection exit codes;
a role with nothing but INSERT on stackhouse.profiles can load."""

import collections
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import ROOT, DATA, create_db, drop_db, psql, psql_value, log  # noqa: E402
import ingest_oracle as orc  # noqa: E402

CLI = os.path.join(ROOT, "ingest-cli", "stackhouse-ingest")
DB = "cli_load"
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)


def run_cli(args, db=DB, stdin_bytes=None, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([CLI, "-d", db] + args, input=stdin_bytes,
                       capture_output=True, env=e)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def go_duration_prefix(nanos):
    """Go's time.Duration.String() of nanos, first 4 characters (pprof -raw
    prints Duration with %.4v)."""
    if nanos < 60 * 10**9:
        s = ("%d.%09d" % divmod(nanos, 10**9)).rstrip("0").rstrip(".") + "s"
    else:
        m, ns = divmod(nanos, 60 * 10**9)
        h, m = divmod(m, 60)
        secs = ("%d.%09d" % divmod(ns, 10**9)).rstrip("0").rstrip(".") + "s"
        s = ("%dh" % h if h else "") + "%dm" % m + secs
    return s[:4]


def expected_type(types):
    """The documented profile_type rule (docs/warehouse.md), restated."""
    t = set(types)
    if "cpu" in t:
        return "cpu"
    if "wall" in t:
        return "wall"
    if t & {"alloc_space", "inuse_space", "alloc_objects", "inuse_objects"}:
        return "heap"
    if t & {"goroutine", "goroutines"}:
        return "goroutine"
    if t & {"contentions", "delay"}:
        return "contention"
    return None


def main():
    if not os.access(CLI, os.X_OK):
        print("FAIL: %s is not built (run make)" % CLI)
        return 1
    create_db(DB)
    files = orc.corpus_files()
    check(len(files) >= 50, "corpus has %d files" % len(files))

    # ---- 1. the whole corpus from three directory arguments
    rc, out, err = run_cli(["--service", "corpus", "--label", "run=dir",
                            os.path.join(DATA, "profiles", "go"),
                            os.path.join(DATA, "profiles", "node"),
                            os.path.join(DATA, "profiles", "perf")])
    log(err.strip())
    check(rc == 0, "directory load exit %d: %s" % (rc, err))
    want = orc.expected_rows(files)
    got = orc.folded_ts_free(orc.db_rows(DB, "labels->>'run' = 'dir'", strip_labels=("run",)))
    check(sum(got.values()) == sum(want.values()),
          "row count %d, oracle %d" % (sum(got.values()), sum(want.values())))
    check(got == want, "rows differ from the oracle:\n" + orc.diff_counters(got, want))
    check(psql_value("SELECT count(DISTINCT service) || ':' || min(service) FROM stackhouse.profiles", DB)
          == "1:corpus", "service column")
    check("loaded %d of %d inputs (0 bad)" % (len(files), len(files)) in err,
          "summary line: %r" % err)

    # profile types and durations, per file (each file loaded alone, split none)
    for path in files:
        rel = os.path.relpath(path, DATA)
        rc, out, err = run_cli(["-s", "perfile", "--split-labels", "none",
                                "--label", "file=" + rel, path])
        check(rc == 0, "%s: exit %d %s" % (rel, rc, err))
    rows = psql("SELECT labels->>'file', profile_type, (extract(epoch FROM duration) * 1e9)::bigint, "
                "count(*) FROM stackhouse.profiles WHERE service = 'perfile' GROUP BY 1, 2, 3", DB)
    byfile = {r[0]: r for r in rows}
    check(len(byfile) == len(files), "one row per file with split none: %d of %d" % (len(byfile), len(files)))
    for path in files:
        rel = os.path.relpath(path, DATA)
        r = byfile.get(rel)
        if r is None:
            check(False, "%s: no row" % rel)
            continue
        check(r[3] == "1", "%s: %s rows with --split-labels none" % (rel, r[3]))
        if path.endswith(".pb.gz"):
            raw = orc.parse_raw(os.path.join(orc.oracle_dir(path), "raw.txt.gz"))
            check(r[1] == expected_type(raw["types"]),
                  "%s: profile_type %s, types %s" % (rel, r[1], raw["types"]))
            dur = int(r[2])
            if raw["duration"] is None:
                check(dur == 0, "%s: duration %d, profile has none" % (rel, dur))
            else:
                # ours is truncated to microseconds; compare pprof's 4 chars
                check(go_duration_prefix(dur) == raw["duration"],
                      "%s: duration %d ns -> %r, pprof says %r" % (rel, dur, go_duration_prefix(dur), raw["duration"]))
        else:
            check(r[1] == "samples", "%s: folded profile_type %s" % (rel, r[1]))
    # split none == per file sums of the oracle
    want_none = orc.expected_rows(files, split=False)
    got_none = orc.folded_ts_free(orc.db_rows(DB, "service = 'perfile'", strip_labels=("file",)))
    check(got_none == want_none, "split none differs:\n" + orc.diff_counters(got_none, want_none))

    # ---- 2. stdin, --time, --type, --label overriding a sample label
    labels_file = os.path.join(DATA, "profiles", "go", "cpu_labels.pb.gz")
    with open(labels_file, "rb") as f:
        data = f.read()
    rc, out, err = run_cli(["-s", "stdin", "--label", "tenant=override", "--type", "mycpu",
                            "--time", "2024-05-01T12:00:00.5Z", "-"], stdin_bytes=data)
    check(rc == 0, "stdin exit %d %s" % (rc, err))
    rows = psql("SELECT ts = '2024-05-01 12:00:00.5+00', profile_type, labels->>'tenant', count(*), "
                "sum(stackhouse.total(tree, 'cpu')) FROM stackhouse.profiles WHERE service = 'stdin' "
                "GROUP BY 1, 2, 3", DB)
    raw = orc.parse_raw(os.path.join(orc.oracle_dir(labels_file), "raw.txt.gz"))
    cpu_total = sum(v[raw["types"].index("cpu")] for v, _ in raw["samples"])
    check(rows == [("t", "mycpu", "override", str(len(orc.expected_pprof(labels_file))), str(cpu_total))],
          "stdin rows %r (oracle cpu total %d)" % (rows, cpu_total))
    # explicit split key list: endpoint only
    rc, out, err = run_cli(["-s", "split1", "--split-labels", "endpoint", labels_file])
    endpoints = collections.Counter()
    for vals, labels in raw["samples"]:
        endpoints[labels.get("endpoint")] += vals[raw["types"].index("cpu")]
    rows = psql("SELECT labels->>'endpoint', stackhouse.total(tree, 'cpu'), labels ? 'tenant' "
                "FROM stackhouse.profiles WHERE service = 'split1'", DB)
    check({r[0]: int(r[1]) for r in rows} == dict(endpoints) and all(r[2] == "f" for r in rows),
          "split by endpoint %r vs oracle %r" % (rows, dict(endpoints)))
    # GROUP BY labels->>'endpoint' over the default split gives the same sums
    rows = psql("SELECT labels->>'endpoint', sum(stackhouse.total(tree, 'cpu')) FROM stackhouse.profiles "
                "WHERE labels->>'run' = 'dir' AND ts = (SELECT ts FROM stackhouse.profiles "
                "WHERE service = 'split1' LIMIT 1) GROUP BY 1", DB)
    check({r[0]: int(r[1]) for r in rows} == dict(endpoints), "GROUP BY endpoint %r" % rows)

    # folded stacks with --time: exact ts
    folded = os.path.join(DATA, "profiles", "perf", "perf_folded_textpipe.txt")
    rc, out, err = run_cli(["-s", "folded", "--time", "1700000000", "--duration", "3s", "--type", "cpu", folded])
    rows = psql("SELECT extract(epoch FROM ts)::bigint, duration, profile_type, stackhouse.total(tree) "
                "FROM stackhouse.profiles WHERE service = 'folded'", DB)
    check(rows == [("1700000000", "00:00:03", "cpu", str(orc.expected_folded(folded).most_common(1)[0][0][2][0][1]))],
          "folded with --time: %r" % rows)

    # ---- 3. good and corrupt files mixed
    tmp = tempfile.mkdtemp(prefix="cli-mix-", dir=os.environ.get("STACKHOUSE_TMP"))
    try:
        good = [os.path.join(DATA, "profiles", "go", n) for n in
                ("cpu_jsonsvc.pb.gz", "goroutine.pb.gz", "mutex.pb.gz")] + \
               [os.path.join(DATA, "profiles", "node", "wall_labels.pb.gz"), folded]
        os.makedirs(os.path.join(tmp, "sub"))
        for i, g in enumerate(good):
            shutil.copy(g, os.path.join(tmp, "sub" if i % 2 else "", "g%d_%s" % (i, os.path.basename(g))))
        with open(good[0], "rb") as f:
            gz = f.read()
        bad = {
            "b_truncated.pb.gz": gz[: len(gz) // 2],
            "b_empty.pb.gz": b"",
            "b_binary.bin": bytes(range(256)) * 4,
            "b_badline.txt": b"main;f 1\nmain;g notanumber\n",
            "b_gzip_garbage.pb.gz": gzip.compress(b"\x0a\xff\xff\xff\xff\x0f"),
            "b_raw_proto_bad.pb": gzip.decompress(gz)[:-7],
        }
        for name, content in bad.items():
            with open(os.path.join(tmp, "sub", name), "wb") as f:
                f.write(content)
        missing = os.path.join(tmp, "does_not_exist.pb.gz")
        rc, out, err = run_cli(["-s", "mix", "--batch-rows", "2", tmp, missing])
        log(err.strip())
        check(rc == 1, "mixed load exit %d, want 1" % rc)
        for name in bad:
            check(any(name in l for l in err.splitlines()), "bad file %s not reported" % name)
        check("does_not_exist.pb.gz" in err, "missing file not reported")
        reported = [l for l in err.splitlines() if l.startswith("stackhouse-ingest: " + tmp) or "does_not_exist" in l]
        check(len(reported) == len(bad) + 1, "%d bad reports, want %d: %r" % (len(reported), len(bad) + 1, reported))
        want = orc.folded_ts_free(orc.expected_rows(good))
        got = orc.folded_ts_free(orc.db_rows(DB, "service = 'mix'"))
        check(got == want, "good files of the mix:\n" + orc.diff_counters(got, want))
        check("loaded %d of %d inputs (%d bad)" % (len(good), len(good) + len(bad) + 1, len(bad) + 1) in err,
              "mix summary: %r" % err)
        # the last input bad: the rows of the good ones before it are still sent
        rc, out, err = run_cli(["-s", "lastbad", good[2], os.path.join(tmp, "sub", "b_badline.txt")])
        check(rc == 1 and psql_value("SELECT count(*) FROM stackhouse.profiles WHERE service = 'lastbad'", DB) == "1",
              "good input before a bad last one: exit %d, %s" % (rc, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- 4. exit codes: usage 2, connection 3, dry run needs no server
    rc, _, err = run_cli(["-s", "x"])
    check(rc == 2, "no input: exit %d" % rc)
    rc, _, err = run_cli([labels_file])
    check(rc == 2 and "no service" in err, "no service: exit %d %s" % (rc, err))
    rc, _, err = run_cli(["-s", "x", "--time", "yesterday", labels_file])
    check(rc == 2, "bad --time: exit %d" % rc)
    rc, _, err = run_cli(["-s", "x", "--nonsense", labels_file])
    check(rc == 2, "unknown option: exit %d" % rc)
    rc, out, err = run_cli(["--help"])
    check(rc == 0 and "Exit status" in out, "--help")
    rc, out, err = run_cli(["--version"])
    check(rc == 0 and out.startswith("stackhouse-ingest"), "--version")
    rc, _, err = run_cli(["-s", "x", labels_file], env={"PGHOST": "/nonexistent-dir"})
    check(rc == 3 and "connection failed" in err, "bad server: exit %d %s" % (rc, err))
    rc, out, err = run_cli(["-s", "x", "-n", labels_file], env={"PGHOST": "/nonexistent-dir"})
    check(rc == 0 and len(out.splitlines()) == len(orc.expected_pprof(labels_file)),
          "dry run: exit %d, %d lines" % (rc, len(out.splitlines())))
    rc, _, err = run_cli(["-s", "x", labels_file], db="no_such_database_here")
    check(rc == 3, "missing database: exit %d" % rc)

    # ---- 5. a role with only INSERT on stackhouse.profiles (and USAGE on the schema)
    psql("""
        DROP ROLE IF EXISTS ingest_only;
        CREATE ROLE ingest_only LOGIN;
        GRANT USAGE ON SCHEMA stackhouse TO ingest_only;
        GRANT INSERT ON stackhouse.profiles TO ingest_only;
    """, DB)
    rc, out, err = run_cli(["-U", "ingest_only", "-s", "insert_only",
                            os.path.join(DATA, "profiles", "go", "series")])
    check(rc == 0, "INSERT-only role: exit %d %s" % (rc, err))
    series = [f for f in files if "/go/series/" in f]
    got = orc.db_rows(DB, "service = 'insert_only'")
    want = orc.expected_rows(series)
    check(got == want, "INSERT-only role rows:\n" + orc.diff_counters(got, want))
    rc, out, err = run_cli(["-U", "ingest_only", "-s", "x", "--ensure-partitions", labels_file])
    check(rc == 3 and "ensure_partitions" in err, "INSERT-only role cannot manage partitions: %d %s" % (rc, err))
    check(psql_value("SELECT count(*) FROM stackhouse.profiles WHERE service = 'x'", DB) == "0",
          "nothing loaded after the failed ensure_partitions")

    # the owner can: rows of past days move out of the default partition
    rc, out, err = run_cli(["-s", "owner", "--ensure-partitions=2 days", "--time", "2020-01-02T03:04:05Z", labels_file])
    check(rc == 0, "owner --ensure-partitions: %d %s" % (rc, err))
    rc, out, err = run_cli(["-s", "owner2", "--ensure-partitions=1 day", labels_file])
    check(psql_value("SELECT count(*) FROM stackhouse.profiles_default", DB) == "0",
          "default partition is empty after ensure_partitions")
    check(psql_value("SELECT count(*) FROM stackhouse.profiles_p20200102", DB) ==
          str(len(orc.expected_pprof(labels_file))), "2020-01-02 partition holds the back-dated rows")
    total_after = orc.db_rows(DB)
    check(sum(total_after.values()) == int(psql_value("SELECT count(*) FROM stackhouse.profiles", DB)),
          "row count stable")

    psql("DROP OWNED BY ingest_only; DROP ROLE ingest_only;", DB)
    drop_db(DB)
    psql("DROP ROLE IF EXISTS ingest_only;", "postgres")
    print("%d passed, %d failed" % (1 if not failures else 0, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
