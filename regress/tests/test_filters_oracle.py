#!/usr/bin/env python3
"""focus / ignore / diff against Google's pprof; prune and the diff sides
against independent Python computations.

1. focus(t, re) and ignore(t, re) vs `go tool pprof -focus=re` / `-ignore=re`
   run here on the original files: the "Showing nodes accounting for X ...
   of Y total" figures (X = total of the filtered tree, Y = total of the
   original) and every function's flat/cum (top_functions of the filtered
   tree), rendered as pprof renders them; total_of(t, re) = X for focus,
   total - X for ignore; self_of(t, '^name$') = pprof's flat of that name.
2. The corpus A/B pair: top_functions_diff(diff(A, B)) delta_self/delta_total
   vs the oracle's `-diff_base` reports (both sample types),
   diff_normalized vs `-normalize -diff_base` (within pprof's rounding),
   and main.applyDiscounts, the function B deliberately slowed, has the
   largest test/base ratio of the application's functions.
3. Each side of diff(a, b) is a and b: stacks(diff, 'base'/'test') equal
   stacks(a)/stacks(b); diff(a, a) has equal sides.
4. prune(t, f): the same stacks as a Python fold of stacks(t) (nodes whose
   cumulative value is below f * total folded into their parent).
"""

import os
import subprocess
import sys

import sthelper as sh

DB = "stackhouse_filters"
PROFILES = os.path.join(sh.DATA, "profiles")
ORACLE = os.path.join(sh.DATA, "oracle")

# (profile, sample index, type, mode, regex); regexes avoid matching file
# names, which pprof also matches against
CASES = [
    ("go/ab_A_cpu", 1, "cpu", "focus", r"^main\.applyDiscounts$"),
    ("go/ab_A_cpu", 0, "samples", "focus", r"^encoding/json\.\(\*decodeState\)"),
    ("go/ab_A_cpu", 1, "cpu", "ignore", r"^runtime\."),
    ("go/cpu_mixed", 1, "cpu", "focus", r"^compress/flate\."),
    ("go/cpu_mixed", 1, "cpu", "ignore", r"^main\.(treeSort|quickSort|mergeSort)"),
    ("go/cpu_hashdeep", 1, "cpu", "focus", r"^crypto/sha256\.block"),
    ("go/cpu_hashdeep", 1, "cpu", "ignore", r"^main\.deepChain$"),
    ("go/heap", 1, "alloc_space", "focus", r"^encoding/json\."),
    ("go/heap", 3, "inuse_space", "ignore", r"^runtime\.malg$"),
    ("go/block", 1, "delay", "focus", r"^sync\.\(\*WaitGroup\)\.Wait$"),
    ("node/wall_mixed", 1, "wall", "focus", r"^handleApiRequest$"),
    ("node/wall_mixed", 1, "wall", "ignore", r"^mergeSortArr$|^parseBody$"),
    ("go/series/cpu_012", 1, "cpu", "focus", r"^compress/"),
]


def pprof_top(path, args):
    env = dict(os.environ, TZ="UTC", LC_ALL="C")
    p = subprocess.run(["go", "tool", "pprof", "-symbolize=none", "-top", "-nodecount=100000",
                        "-nodefraction=0", "-edgefraction=0"] + args + [path],
                       capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError("pprof failed: %s" % p.stderr)
    fd = os.path.join(os.environ.get("STACKHOUSE_TMP", "/tmp"), "filters_top.txt")
    with open(fd, "w") as f:
        f.write(p.stdout)
    try:
        return sh.parse_pprof_top(fd)
    finally:
        os.unlink(fd)


def fmt_ok(ours, oracle_str, unit):
    suffix = unit if oracle_str == "0" else sh.split_value(oracle_str)[1]
    return sh.pprof_format(ours, suffix) == oracle_str


def close_ok(ours, oracle_str, unit):
    """within pprof's print rounding plus 1 ns/unit per 100 (normalize rounds per sample)"""
    suffix = unit if oracle_str == "0" else sh.split_value(oracle_str)[1]
    num, _ = sh.split_value(oracle_str) if oracle_str != "0" else ("0", "")
    f = sh.UNIT_FACTORS[suffix]
    return abs(ours - float(num) * f) <= 0.0051 * f + 100


def compare_top(where, header, rows, ours_rows, accounted, total, approx=False):
    errors = []
    unit = sh.report_unit(header, rows)
    cmp = close_ok if approx else fmt_ok
    if "showing" not in header:
        return ["%s: pprof printed no Showing line" % where]
    if not cmp(accounted, header["showing"][0], unit):
        errors.append("%s: accounted ours %d vs pprof %s" % (where, accounted, header["showing"][0]))
    if not cmp(total, header["showing"][1], unit):
        errors.append("%s: total ours %d vs pprof %s" % (where, total, header["showing"][1]))
    oracle = {n: (fl, cu) for fl, cu, n in rows}
    ours = {fn: (s, t) for fn, s, t in ours_rows if (s, t) != (0, 0)}
    for fn in sorted(set(oracle) | set(ours)):
        if fn not in ours:
            errors.append("%s: %s missing from ours (pprof %r)" % (where, fn, oracle[fn]))
        elif fn not in oracle:
            errors.append("%s: %s not in pprof (ours %r)" % (where, fn, ours[fn]))
        else:
            (s, t), (fl, cu) = ours[fn], oracle[fn]
            if not (cmp(s, fl, unit) and cmp(t, cu, unit)):
                errors.append("%s: %s ours self/total %d/%d vs pprof flat/cum %s/%s" % (where, fn, s, t, fl, cu))
    if not rows:
        errors.append("%s: pprof shows no rows" % where)
    return errors[:15]


def q(sql):
    return sh.psql(sql, db=DB)


def check_filters():
    errors = []
    for rel, idx, typ, mode, regex in CASES:
        path = os.path.join(PROFILES, rel + ".pb.gz")
        header, rows = pprof_top(path, ["-sample_index=%d" % idx, "-%s=%s" % (mode, regex)])
        tree = "(SELECT t FROM trees WHERE name = %s)" % sh.lit(rel)
        ftree = "stackhouse.%s(%s, %s)" % (mode, tree, sh.lit(regex))
        ours = [(fn, int(s), int(t)) for fn, s, t in
                q("SELECT function, self, total FROM stackhouse.top_functions(%s, 1000000, %s)"
                  % (ftree, sh.lit(typ)))]
        acc = int(sh.psql_value("SELECT stackhouse.total(%s, %s)" % (ftree, sh.lit(typ)), db=DB))
        tot = int(sh.psql_value("SELECT stackhouse.total(%s, %s)" % (tree, sh.lit(typ)), db=DB))
        where = "%s %s=%s [%s]" % (rel, mode, regex, typ)
        errors += compare_top(where, header, rows, ours, acc, tot)
        tof = int(sh.psql_value("SELECT stackhouse.total_of(%s, %s, %s)" % (tree, sh.lit(regex), sh.lit(typ)), db=DB))
        want = acc if mode == "focus" else tot - acc
        if tof != want:
            errors.append("%s: total_of %d, expected %d" % (where, tof, want))
        if mode == "focus" and acc == 0:
            errors.append("%s: the focus keeps nothing: a useless case" % where)
        # self_of of an exact name equals pprof's flat of that function (full profile)
        h2, r2 = pprof_top(path, ["-sample_index=%d" % idx])
        unit = sh.report_unit(h2, r2)
        for fl, cu, fn in r2[:5]:
            so = int(sh.psql_value("SELECT stackhouse.self_of(%s, %s, %s)"
                                   % (tree, sh.lit("^" + "".join("\\" + c if not c.isalnum() else c for c in fn) + "$"),
                                      sh.lit(typ)), db=DB))
            if not fmt_ok(so, fl, unit):
                errors.append("%s: self_of(%s) %d vs pprof flat %s" % (rel, fn, so, fl))
        sh.log("checked %s" % where)
    return errors


def check_ab():
    errors = []
    d = os.path.join(ORACLE, "diff", "go_ab")
    for idx, typ in ((0, "samples"), (1, "cpu")):
        for fn_name, oracle_file, approx in (("diff", "top_diff_base", False),
                                              ("diff_normalized", "top_diff_base_normalize", True)):
            header, rows = sh.parse_pprof_top(os.path.join(d, "%s.%d_%s.txt.gz" % (oracle_file, idx, typ)))
            dt = "stackhouse.%s((SELECT t FROM trees WHERE name = 'go/ab_A_cpu'), " \
                 "(SELECT t FROM trees WHERE name = 'go/ab_B_cpu'), %s)" % (fn_name, sh.lit(typ))
            ours = [(fn, int(ds), int(dt_)) for fn, ds, dt_ in
                    q("SELECT function, delta_self, delta_total FROM stackhouse.top_functions_diff(%s, 1000000)" % dt)]
            tb = int(sh.psql_value("SELECT stackhouse.total(%s, 'base')" % dt, db=DB))
            tt = int(sh.psql_value("SELECT stackhouse.total(%s, 'test')" % dt, db=DB))
            errors += compare_top("A/B %s [%s]" % (fn_name, typ), header, rows, ours, tt - tb, tb, approx)
            sh.log("checked A/B %s [%s] against %s" % (fn_name, typ, oracle_file))
    # the deliberately slowed function stands out
    rows = q("SELECT function, ratio FROM stackhouse.top_functions_diff(stackhouse.diff_normalized("
             "(SELECT t FROM trees WHERE name = 'go/ab_A_cpu'), (SELECT t FROM trees WHERE name = 'go/ab_B_cpu'),"
             " 'cpu'), 1000000) WHERE function LIKE 'main.%' AND ratio IS NOT NULL ORDER BY ratio DESC")
    if not rows or rows[0][0] != "main.applyDiscounts":
        errors.append("A/B: main.applyDiscounts is not the main.* function with the largest ratio: %r" % rows[:3])
    else:
        r = float(rows[0][1])
        sh.log("A/B: main.applyDiscounts test/base total ratio (normalized) = %.2f" % r)
        if not 1.8 <= r <= 3.5:
            errors.append("A/B: main.applyDiscounts ratio %.2f outside [1.8, 3.5]" % r)
    return errors


def stacks_of(tree_sql, col):
    return sorted((f, int(v)) for f, v in
                  q("SELECT frames::text, value FROM stackhouse.stacks(%s, %s) WHERE value <> 0"
                    % (tree_sql, sh.lit(col))))


def check_sides():
    errors = []
    pairs = [("go/ab_A_cpu", "go/ab_B_cpu", "cpu"), ("go/heap", "go/allocs", "alloc_space"),
             ("go/series/cpu_000", "go/series/cpu_029", "samples"),
             ("node/series/wall_000", "node/series/wall_002", "wall")]
    for a, b, col in pairs:
        ta = "(SELECT t FROM trees WHERE name = %s)" % sh.lit(a)
        tb = "(SELECT t FROM trees WHERE name = %s)" % sh.lit(b)
        dab = "stackhouse.diff(%s, %s, %s)" % (ta, tb, sh.lit(col))
        daa = "stackhouse.diff(%s, %s, %s)" % (ta, ta, sh.lit(col))
        sa, sb = stacks_of(ta, col), stacks_of(tb, col)
        if not sa or not sb:
            errors.append("%s/%s: no stacks" % (a, b))
        if stacks_of(dab, "base") != sa:
            errors.append("diff(%s, %s): base side differs from %s" % (a, b, a))
        if stacks_of(dab, "test") != sb:
            errors.append("diff(%s, %s): test side differs from %s" % (a, b, b))
        if stacks_of(daa, "base") != sa or stacks_of(daa, "test") != sa:
            errors.append("diff(%s, %s): sides differ" % (a, a))
        sh.log("checked diff sides %s / %s [%s]" % (a, b, col))
    return errors


def py_prune(stacks, frac):
    """stacks: {tuple(frames): value} -> pruned {tuple: value}"""
    total = sum(stacks.values())
    cum = {}
    for fr, v in stacks.items():
        for i in range(1, len(fr) + 1):
            cum[fr[:i]] = cum.get(fr[:i], 0) + v
    out = {}
    for fr, v in stacks.items():
        keep = 0
        while keep < len(fr) and cum[fr[:keep + 1]] > 0 and cum[fr[:keep + 1]] >= frac * total:
            keep += 1
        out[fr[:keep]] = out.get(fr[:keep], 0) + v
    return {k: v for k, v in out.items() if v}


def check_prune():
    errors = []
    for rel, col, frac in (("go/cpu_mixed", "cpu", 0.01), ("go/heap", "alloc_space", 0.005),
                           ("node/wall_mixed", "wall", 0.02), ("go/cpu_hashdeep", "cpu", 0.02)):
        tree = "(SELECT t FROM trees WHERE name = %s)" % sh.lit(rel)
        rows = q("SELECT array_to_json(frames)::text, value FROM stackhouse.stacks(%s, %s) WHERE value <> 0"
                 % (tree, sh.lit(col)))
        import json
        stacks = {}
        for fr, v in rows:
            k = tuple(json.loads(fr))
            stacks[k] = stacks.get(k, 0) + int(v)
        want = py_prune(stacks, frac)
        got = {}
        for fr, v in q("SELECT array_to_json(frames)::text, value FROM stackhouse.stacks("
                       "stackhouse.prune(%s, %r, %s), %s) WHERE value <> 0" % (tree, frac, sh.lit(col), sh.lit(col))):
            k = tuple(json.loads(fr))
            got[k] = got.get(k, 0) + int(v)
        if got != want:
            diff = sorted(set(got.items()) ^ set(want.items()))[:5]
            errors.append("prune(%s, %g): differs from the Python fold, e.g. %r" % (rel, frac, diff))
        if len(want) >= len(stacks):
            errors.append("prune(%s, %g): folds nothing: a useless case" % (rel, frac))
        sh.log("checked prune %s %g: %d stacks -> %d" % (rel, frac, len(stacks), len(want)))
    return errors


def main():
    sh.create_db(DB)
    names = sorted(set(c[0] for c in CASES) | {"go/ab_A_cpu", "go/ab_B_cpu", "go/heap", "go/allocs",
                                              "go/series/cpu_000", "go/series/cpu_029",
                                              "node/series/wall_000", "node/series/wall_002"})
    sh.load_files("corpus", [(n, os.path.join(PROFILES, n + ".pb.gz")) for n in names], db=DB)
    q("CREATE TABLE trees AS SELECT name, stackhouse.stacktree_from_pprof(data) AS t FROM corpus")
    errors = check_filters() + check_ab() + check_sides() + check_prune()
    sh.drop_db(DB)
    for e in errors:
        sh.fail(e)
    print("%d mismatches" % len(errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
