#!/usr/bin/env python3
"""bench/flame: diff and flame graph over a day of 10-second profiles.

Builds one service's day: 8640 profiles (one per 10 s), re-sampled from the
30 real CPU profiles of regress/data/profiles/go/series (profile i is
series[i % 30] with its values scaled by a deterministic factor in
[0.75, 1.25), so no two consecutive hours are alike), stored as stacktree
rows in a table.  Then times, in one psql session each, best of --repeat:

  flame:  flamegraph(merge(tree)) over the whole day   (Grafana panel query)
  svg:    flamegraph_svg(merge(tree)) over the whole day
  diff:   top_functions_diff(diff(merge(morning), merge(afternoon)))

and the peer, in the same process tree, on the same 8640 profiles written
out as pprof files (stacktree_to_pprof of each row):

  pprof merge+top:  go tool pprof -proto <8640 files> > day.pb.gz; go tool pprof -top day.pb.gz
  pprof diff:       go tool pprof -proto <morning> > a; ... <afternoon> > b; go tool pprof -top -diff_base=a b

Usage: PGHOST=... PGPORT=... PGUSER=... python3 bench/flame/bench_flame.py [--n 8640] [--repeat 3]
(uses database stackhouse_bench_flame, dropped and recreated).
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "regress", "tests"))
import sthelper as sh  # noqa: E402

DB = "stackhouse_bench_flame"


def timed_sql(sql, repeat):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        sh.psql(sql, db=DB)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


def timed_cmd(cmds, repeat, cwd):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        for c in cmds:
            subprocess.run(c, shell=True, check=True, cwd=cwd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=dict(os.environ, TZ="UTC"))
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8640)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.n
    series = sorted(glob.glob(os.path.join(ROOT, "regress", "data", "profiles", "go", "series", "*.pb.gz")))
    sh.create_db(DB)
    sh.load_files("src", [(os.path.basename(p), p) for p in series], db=DB)
    t0 = time.perf_counter()
    sh.psql("""
CREATE TABLE series AS
  SELECT row_number() OVER (ORDER BY name) - 1 AS k, stackhouse.stacktree_from_pprof(data) AS tree FROM src;
CREATE TABLE day (ts timestamptz, tree stackhouse.stacktree);
INSERT INTO day
  SELECT '2026-11-17 00:00Z'::timestamptz + i * interval '10 seconds',
         stackhouse.scale(s.tree, 0.75 + ((i * 7919) %% 500) / 1000.0)
    FROM generate_series(0, %d) i JOIN series s ON s.k = i %% 30;
ANALYZE day;
""" % (n - 1), db=DB)
    build = time.perf_counter() - t0
    stored = int(sh.psql_value("SELECT sum(pg_column_size(tree)) FROM day", db=DB))
    nodes = int(sh.psql_value("SELECT stackhouse.node_count(stackhouse.merge(tree)) FROM day", db=DB))
    # morning / afternoon: the first and second half of the profiles
    half = "'2026-11-17 00:00Z'::timestamptz + %d * interval '10 seconds'" % (n // 2)
    r = args.repeat
    t_flame = timed_sql("SELECT count(*) FROM stackhouse.flamegraph((SELECT stackhouse.merge(tree) FROM day))", r)
    t_svg = timed_sql("SELECT length(stackhouse.flamegraph_svg(stackhouse.merge(tree))) FROM day", r)
    t_diff = timed_sql("SELECT count(*) FROM stackhouse.top_functions_diff((SELECT stackhouse.diff("
                       "stackhouse.merge(tree) FILTER (WHERE ts < %s), stackhouse.merge(tree) FILTER (WHERE ts >= %s)) "
                       "FROM day), 1000000)" % (half, half), r)
    rows = int(sh.psql_value("SELECT count(*) FROM stackhouse.flamegraph((SELECT stackhouse.merge(tree) FROM day))", db=DB))

    # the peer: the same profiles as pprof files
    work = tempfile.mkdtemp(prefix="bench-flame-")
    try:
        out = subprocess.run(["psql", "-X", "-At", "-d", DB, "-c",
                              "SELECT lpad((row_number() OVER (ORDER BY ts) - 1)::text, 6, '0') || ' ' || encode(stackhouse.stacktree_to_pprof(tree), 'hex') "
                              "FROM day ORDER BY ts"], capture_output=True, text=True, check=True).stdout
        names = []
        for line in out.splitlines():
            ts, hx = line.split(" ", 1)
            fn = "p%s.pb.gz" % ts
            with open(os.path.join(work, fn), "wb") as f:
                f.write(bytes.fromhex(hx))
            names.append(fn)
        morning = names[:n // 2]
        afternoon = names[n // 2:]
        with open(os.path.join(work, "all.txt"), "w") as f:
            f.write(" ".join(names))
        with open(os.path.join(work, "am.txt"), "w") as f:
            f.write(" ".join(morning))
        with open(os.path.join(work, "pm.txt"), "w") as f:
            f.write(" ".join(afternoon))
        pp = "go tool pprof -symbolize=none"
        t_pmerge = timed_cmd(["%s -proto $(cat all.txt) > day.pb.gz" % pp,
                              "%s -top -nodecount=100000 day.pb.gz > top.txt" % pp], r, work)
        t_pdiff = timed_cmd(["%s -proto $(cat am.txt) > am.pb.gz" % pp,
                             "%s -proto $(cat pm.txt) > pm.pb.gz" % pp,
                             "%s -top -nodecount=100000 -diff_base=am.pb.gz pm.pb.gz > diff.txt" % pp], r, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sh.drop_db(DB)

    print("profiles: %d (10 s each, re-sampled from %d real CPU profiles); built in %.1f s" % (n, len(series), build))
    print("stored: %.1f MB of stacktree (%.0f bytes/profile); merged day: %d nodes, %d flame graph rows"
          % (stored / 1e6, stored / float(n), nodes, rows))
    print("best of %d runs:" % r)
    print("  flamegraph(merge(day))            %8.3f s" % t_flame)
    print("  flamegraph_svg(merge(day))        %8.3f s" % t_svg)
    print("  top_functions_diff(diff(am, pm))  %8.3f s" % t_diff)
    print("  go tool pprof -proto all + -top   %8.3f s   ratio pprof/stackhouse flame: %.1fx" % (t_pmerge, t_pmerge / t_flame))
    print("  go tool pprof diff (2 merges+top) %8.3f s   ratio pprof/stackhouse diff:  %.1fx" % (t_pdiff, t_pdiff / t_diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
