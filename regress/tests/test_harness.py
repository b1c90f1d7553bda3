#!/usr/bin/env python3
"""Self-test of the test harness: the server run_tests.sh started, sthelper's
psql/load_files round trips, and the pprof -top parser and formatter against
every oracle file.  Needs no stackhouse code."""

import os
import random
import sys
import tempfile

import sthelper as sh

failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        sh.fail(msg)


# --- psql and the cluster environment
for var in ("PGHOST", "PGPORT", "PGUSER", "STACKHOUSE_ROOT"):
    check(os.environ.get(var), "%s is not exported by the driver" % var)
check(sh.psql("SELECT 1, 'a', NULL, ''") == [("1", "a", None, "")], "psql basic row")
check(sh.psql("SELECT E'x\\ny,z\"\\t'") == [("x\ny,z\"\t",)], "psql multi-line/CSV quoting")
check(sh.psql("SELECT g FROM generate_series(1,3) g") == [("1",), ("2",), ("3",)], "psql rows")
check(sh.psql("SELECT 1 WHERE false") == [], "psql empty result")
err = sh.psql_expect_error("SELECT 1/0")
check("division by zero" in err, "psql_expect_error returns stderr: %r" % err)
try:
    sh.psql("SELECT no_such_function()")
    check(False, "psql must raise on error")
except sh.PsqlError as e:
    check("no_such_function" in e.stderr, "PsqlError carries stderr")
check(sh.psql_value("SHOW fsync") == "off", "cluster runs with fsync=off")

# --- databases and client-side \copy of binary files
db = sh.create_db("stackhouse_harness", extension=False)
with tempfile.TemporaryDirectory() as d:
    blobs = {"all bytes": bytes(range(256)) * 3, "empty": b"",
             "tab\tback\\slash\nnewline 'quote'": os.urandom(5000)}
    paths = []
    for i, (name, data) in enumerate(blobs.items()):
        p = os.path.join(d, "f%d" % i)
        with open(p, "wb") as f:
            f.write(data)
        paths.append((name, p))
    n = sh.load_files("blobs", paths, db=db)
    check(n == 3, "load_files count")
    rows = sh.psql("SELECT name, encode(data, 'hex') FROM blobs ORDER BY name", db=db)
    got = {name: bytes.fromhex(h) for name, h in rows}
    check(got == blobs, "load_files round trip (names %r)" % sorted(got))
sh.drop_db(db)

# --- pprof_format: known renderings
cases = [(4970000000, "s", "4.97s"), (497, "", "497"), (0, "s", "0"), (0, "", "0"),
         (170424 * 1024, "kB", "170424kB"), (1500000, "ms", "1.50ms"),
         (4000, "ms", "0"), (5000, "ms", "0.01ms"), (-3540000000, "s", "-3.54s"),
         (22000, "us", "22us"), (54 * (1 << 20), "MB", "54MB")]
for v, u, want in cases:
    got = sh.pprof_format(v, u)
    check(got == want, "pprof_format(%d, %r) = %r, want %r" % (v, u, got, want))

# --- parse every oracle -top file; the numbers must be self-consistent
oracle = os.path.join(sh.DATA, "oracle")
nfiles = 0
for dirpath, _, files in os.walk(oracle):
    for fn in sorted(files):
        if not (fn.startswith("top.") and fn.endswith(".txt.gz")):
            continue
        path = os.path.join(dirpath, fn)
        nfiles += 1
        try:
            header, rows = sh.parse_pprof_top(path)
        except Exception as e:  # noqa: BLE001
            check(False, "parse %s: %s" % (path, e))
            continue
        check("Type" in header and "showing" in header, "%s: header %r" % (path, header))
        check(len(rows) > 0, "%s: no rows" % path)
        unit = sh.report_unit(header, rows)
        check(unit in sh.UNIT_FACTORS, "%s: unit %r" % (path, unit))
        names = [r[2] for r in rows]
        check(len(names) == len(set(names)), "%s: duplicate function names" % path)
        for flat, cum, name in rows:
            for s in (flat, cum):
                num, suf = sh.split_value(s)
                check(s == "0" or suf == unit, "%s: %s has unit %r, report unit %r" % (path, name, suf, unit))
check(nfiles > 100, "found only %d oracle top files under %s" % (nfiles, oracle))

# pprof_format is the inverse of parsing for values that are exact in the unit
rnd = random.Random(7)
for _ in range(2000):
    u = rnd.choice(["s", "ms", "kB", "MB", ""])
    cents = rnd.randrange(1, 10 ** 6)
    v = int(round(cents * sh.UNIT_FACTORS[u] / 100)) if u else cents
    s = sh.pprof_format(v, u)
    num, suf = sh.split_value(s)
    check(suf == u, "pprof_format suffix %r" % s)

if failures:
    print("test_harness: %d failures" % failures)
    sys.exit(1)
print("test_harness: ok (%d oracle top files parsed)" % nfiles)
