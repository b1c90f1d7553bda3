#!/usr/bin/env python3
"""stacktree_to_pprof round trip against Google's pprof.

For every corpus profile (regress/data/profiles/**.pb.gz):
    tree   = stacktree_from_pprof(file)
    export = stacktree_to_pprof(tree)
then `go tool pprof -symbolize=none -top` and `-traces` of the export, for
every sample index, must equal the oracle files pprof wrote for the
original (regress/data/oracle/<rel>/top.<i>_<type>.txt.gz, traces.*) at
function granularity: the same "Showing ... total" figures, the same
per-function flat/cum, the same Type/Time/Duration header lines (File: and
the " (inline)" tags legitimately differ: the export has no mappings and
one frame per location), and the same value per distinct stack in -traces
(our export has one sample per stack, the original may have several, so
values are compared per stack within the rounding of pprof's printed
figures).  Also checks PeriodType/Period/Time of `-raw` and the export's sample types and default against the
oracle's sample_types.txt by reading `-raw` of the export.
"""

import glob
import os
import re
import subprocess
import sys
import tempfile

import sthelper as sh

DB = "stackhouse_export_rt"
ORACLE = os.path.join(sh.DATA, "oracle")
MAX_REPORT = 12

_VAL_RE = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?[A-Za-z]*$")


def pprof(args, path):
    env = dict(os.environ, TZ="UTC", LC_ALL="C")
    p = subprocess.run(["go", "tool", "pprof", "-symbolize=none"] + args + [path],
                       capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError("go tool pprof %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


def strip_inline(name):
    for tag in (" (inline)", " (partial-inline)"):
        if name.endswith(tag):
            return name[:-len(tag)]
    return name


def value_of(s):
    """pprof value string -> (value in base unit, rounding half-width)"""
    num, suffix = sh.split_value(s)
    f = sh.UNIT_FACTORS[suffix]
    return float(num) * f, 0.005 * f


def parse_traces(text):
    """-> (header lines dict, {stack tuple (leaf first): [value, tolerance]})"""
    header = {}
    stacks = {}
    blocks = text.split("-----------+-------------------------------------------------------")
    for line in blocks[0].splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            header[k.strip()] = v.strip()
    for blk in blocks[1:]:
        value = None
        frames = []
        for line in blk.splitlines():
            if not line.strip():
                continue
            if value is None:
                parts = line.split(None, 1)
                if parts and _VAL_RE.match(parts[0]):
                    value = value_of(parts[0])
                    if len(parts) > 1:
                        frames.append(strip_inline(parts[1].strip()))
                continue    # a label line
            frames.append(strip_inline(line.strip()))
        if value is None:
            continue
        e = stacks.setdefault(tuple(frames), [0.0, 0.0])
        e[0] += value[0]
        e[1] += value[1]
    return header, stacks


def compare_traces(where, ours_text, oracle_path):
    errors = []
    with sh._open_text(oracle_path) as f:
        oh, ostacks = parse_traces(f.read())
    mh, mstacks = parse_traces(ours_text)
    for k in ("Type", "Time", "Duration"):
        if oh.get(k) != mh.get(k):
            errors.append("%s: traces header %s: ours %r vs oracle %r" % (where, k, mh.get(k), oh.get(k)))
    keys = set(k for k, v in ostacks.items() if v[0] != 0) | set(k for k, v in mstacks.items() if v[0] != 0)
    for k in sorted(keys):
        o = ostacks.get(k, [0.0, 0.0])
        m = mstacks.get(k, [0.0, 0.0])
        if abs(o[0] - m[0]) > o[1] + m[1] + 1e-9 * max(abs(o[0]), 1):
            errors.append("%s: stack %s: ours %g vs oracle %g" % (where, " <- ".join(k[:4]) + (" ..." if len(k) > 4 else ""), m[0], o[0]))
    if not keys:
        errors.append("%s: no stacks at all" % where)
    return errors


def compare_top(where, ours_text, oracle_path):
    errors = []
    fd, tmp = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write(ours_text)
    try:
        mh, mrows = sh.parse_pprof_top(tmp)
    finally:
        os.unlink(tmp)
    oh, orows = sh.parse_pprof_top(oracle_path)
    for k in ("Type", "Time", "Duration", "showing"):
        if oh.get(k) != mh.get(k):
            errors.append("%s: top %s: ours %r vs oracle %r" % (where, k, mh.get(k), oh.get(k)))
    o = {n: (fl, cu) for fl, cu, n in orows}
    m = {n: (fl, cu) for fl, cu, n in mrows}
    if len(o) != len(orows):
        errors.append("%s: oracle has a function twice (by name)" % where)
    for n in sorted(set(o) | set(m)):
        if o.get(n) != m.get(n):
            errors.append("%s: %s: ours flat/cum %r vs oracle %r" % (where, n, m.get(n), o.get(n)))
    if not orows:
        errors.append("%s: oracle has no rows" % where)
    return errors


def main():
    profiles = sorted(glob.glob(os.path.join(sh.DATA, "profiles", "**", "*.pb.gz"), recursive=True))
    if not profiles:
        sh.fail("no corpus profiles")
        return 1
    sh.create_db(DB)
    names = [os.path.relpath(p, os.path.join(sh.DATA, "profiles")) for p in profiles]
    sh.load_files("corpus", profiles, db=DB, names=names)
    sh.psql("CREATE TABLE exported AS SELECT name, stackhouse.stacktree_to_pprof("
            "stackhouse.stacktree_from_pprof(data)) AS pb FROM corpus;", db=DB)
    errors = []
    checked = 0
    work = tempfile.mkdtemp(prefix="st-export-")
    for name in names:
        rel = name[:-len(".pb.gz")]
        odir = os.path.join(ORACLE, rel)
        types = sh.read_sample_types(os.path.join(odir, "sample_types.txt"))
        hexdata = sh.psql_value("SELECT encode(pb, 'hex') FROM exported WHERE name = %s" % sh.lit(name), db=DB)
        path = os.path.join(work, rel.replace("/", "_") + ".pb.gz")
        with open(path, "wb") as f:
            f.write(bytes.fromhex(hexdata))
        # sample types and default, from -raw of the export
        raw = pprof(["-raw"], path)
        m = re.search(r"^Samples:\n(.*)$", raw, re.M)
        got = m.group(1).split() if m else []
        want = []
        for _, t, u, d in types:
            want.append("%s/%s%s" % (t, u, "[dflt]" if d else ""))
        if [g.replace("[dflt]", "") for g in got] != [w.replace("[dflt]", "") for w in want] or \
                ("[dflt]" in " ".join(want) and got != want):
            errors.append("%s: sample types ours %r vs oracle %r" % (name, got, want))
        with sh._open_text(os.path.join(odir, "raw.txt.gz")) as f:
            oraw = f.read()
        for key in ("PeriodType", "Period", "Time"):
            rm = re.search(r"^%s: (.*)$" % key, raw, re.M)
            ro = re.search(r"^%s: (.*)$" % key, oraw, re.M)
            if (rm and rm.group(1)) != (ro and ro.group(1)):
                errors.append("%s: -raw %s: ours %r vs oracle %r" % (name, key, rm and rm.group(1), ro and ro.group(1)))
        for idx, t, _, _ in types:
            where = "%s [%d_%s]" % (name, idx, t)
            top = pprof(["-top", "-nodecount=100000", "-nodefraction=0", "-edgefraction=0",
                         "-sample_index=%d" % idx], path)
            errors += compare_top(where, top, os.path.join(odir, "top.%d_%s.txt.gz" % (idx, t)))
            tr = pprof(["-traces", "-sample_index=%d" % idx], path)
            errors += compare_traces(where, tr, os.path.join(odir, "traces.%d_%s.txt.gz" % (idx, t)))
            checked += 1
        top = pprof(["-top", "-nodecount=100000", "-nodefraction=0", "-edgefraction=0"], path)
        errors += compare_top(name + " [default]", top, os.path.join(odir, "top.default.txt.gz"))
    for p in glob.glob(os.path.join(work, "*")):
        os.unlink(p)
    os.rmdir(work)
    sh.drop_db(DB)
    for e in errors[:200]:
        sh.fail(e)
    print("%d profiles, %d (profile, sample type) pairs checked; %d mismatches"
          % (len(names), checked, len(errors)))
    return 1 if errors or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
