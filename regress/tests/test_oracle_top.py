#!/usr/bin/env python3
"""stackhouse vs Google's pprof (`go tool pprof -top`) on real profiles.

For every profile under regress/data/profiles/{go,go/series,node,node/series}
and every sample type, compare

    SELECT function, self, total
      FROM stackhouse.top_functions(tree, 1000000, '<type>')

with the oracle's top.<i>_<type>.txt.gz: the same functions (those with a
nonzero flat or cum), and each flat/cum equal once our exact value is rendered
the way pprof renders it in the oracle's own unit; the "Showing nodes
accounting for X ... of Z total" figures against stackhouse.total(tree, type);
top.default.txt.gz against the column argument omitted (the profile's default,
as pprof picks it); and stackhouse.sample_types(tree) against sample_types.txt.
Then the same for every oracle/merges/<name>/ (inputs.txt) using
stackhouse.merge(stackhouse.stacktree_from_pprof(data)).
"""

import glob
import os
import sys

import sthelper as sh

DATA = sh.DATA
ORACLE = os.path.join(DATA, "oracle")
MAX_REPORT = 15          # mismatch lines printed per comparison

DB = "stackhouse_oracle"


def oracle_dir_for(name):
    """'profiles/go/cpu_mixed.pb.gz' -> DATA/oracle/go/cpu_mixed"""
    rel = name[len("profiles/"):]
    if rel.endswith(".pb.gz"):
        rel = rel[:-len(".pb.gz")]
    return os.path.join(ORACLE, rel)


def fmt_cmp(ours, oracle_str, unit):
    """Does our exact value print as the oracle string (in the oracle's unit)?
    Returns (ok, our rendering)."""
    suffix = unit if oracle_str == "0" else sh.split_value(oracle_str)[1]
    mine = sh.pprof_format(ours, suffix)
    return mine == oracle_str, mine


def compare_top(label, tree_sql, top_file, column):
    """Compare one -top report with top_functions/total. Returns error lines."""
    errors = []
    header, rows = sh.parse_pprof_top(top_file)
    unit = sh.report_unit(header, rows)
    col_arg = "" if column is None else ", " + sh.lit(column)
    where = "%s [%s]" % (label, column if column is not None else "default: %s" % header.get("Type"))

    try:
        ours_rows = sh.psql("SELECT function, self, total FROM stackhouse.top_functions(%s, 1000000%s)"
                            % (tree_sql, col_arg), db=DB)
        total = sh.psql_value("SELECT stackhouse.total(%s%s)" % (tree_sql, col_arg), db=DB)
    except sh.PsqlError as e:
        return ["%s: query failed: %s" % (where, e.stderr.strip())]

    ours = {}
    for fn, self_v, total_v in ours_rows:
        s, t = int(self_v), int(total_v)
        if s == 0 and t == 0:
            continue
        if fn in ours:
            errors.append("%s: function %r appears twice in top_functions" % (where, fn))
        ours[fn] = (s, t)
    oracle = {name: (flat, cum) for flat, cum, name in rows}

    # totals
    if total is None:
        errors.append("%s: total() is NULL" % where)
    else:
        for what, s in (("accounted", header["showing"][0]), ("total", header["showing"][1])):
            ok, mine = fmt_cmp(int(total), s, unit)
            if not ok:
                errors.append("%s: %s: ours %s (%s) vs oracle %s" % (where, what, mine, total, s))
        sum_self = sum(v[0] for v in ours.values())
        if sum_self != int(total):
            errors.append("%s: sum of self %d != total %s" % (where, sum_self, total))

    detail = []
    for fn in sorted(set(oracle) - set(ours)):
        detail.append("%s: %s: missing from ours (oracle flat %s cum %s)" % (where, fn, *oracle[fn]))
    for fn in sorted(set(ours) - set(oracle)):
        detail.append("%s: %s: not in oracle (ours self %d total %d)" % (where, fn, *ours[fn]))
    for fn in sorted(set(ours) & set(oracle)):
        (s, t), (flat, cum) = ours[fn], oracle[fn]
        ok1, m1 = fmt_cmp(s, flat, unit)
        ok2, m2 = fmt_cmp(t, cum, unit)
        if not ok1:
            detail.append("%s: %s: self ours %s (%d) vs oracle flat %s" % (where, fn, m1, s, flat))
        if not ok2:
            detail.append("%s: %s: total ours %s (%d) vs oracle cum %s" % (where, fn, m2, t, cum))
    if detail:
        errors.extend(detail[:MAX_REPORT])
        if len(detail) > MAX_REPORT:
            errors.append("%s: ... and %d more mismatches" % (where, len(detail) - MAX_REPORT))
    return errors


def compare_sample_types(label, tree_sql, types):
    try:
        rows = sh.psql("SELECT type, unit, is_default FROM stackhouse.sample_types(%s) ORDER BY idx"
                       % tree_sql, db=DB)
    except sh.PsqlError as e:
        return ["%s: sample_types failed: %s" % (label, e.stderr.strip())]
    ours = [(t, u) for t, u, _ in rows]
    want = [(t, u) for _, t, u, _ in types]
    if ours != want:
        return ["%s: sample_types ours %r vs oracle %r" % (label, ours, want)]
    ours_def = [i for i, r in enumerate(rows) if r[2] == "t"]
    want_def = [i for i, (_, _, _, d) in enumerate(types) if d]
    # no explicit default in the profile: pprof uses the last type; accept
    # "no default marked" or "the last one marked"
    ok_defs = [want_def] if want_def else [[], [len(types) - 1]]
    if ours_def not in ok_defs:
        return ["%s: default sample type ours %r vs oracle %r (pprof picks the last when unset)"
                % (label, [rows[i][0] for i in ours_def], [types[i][1] for i in want_def])]
    return []


def check_one(label, tree_sql, odir):
    """All reports of one profile or merge. Returns (errors, count of reports)."""
    types = sh.read_sample_types(os.path.join(odir, "sample_types.txt"))
    errors = compare_sample_types(label, tree_sql, types)
    n = 0
    for idx, typ, _unit, _ in types:
        f = os.path.join(odir, "top.%d_%s.txt.gz" % (idx, typ))
        if not os.path.exists(f):
            errors.append("%s: oracle file missing: %s" % (label, f))
            continue
        errors += compare_top(label, tree_sql, f, typ)
        n += 1
    f = os.path.join(odir, "top.default.txt.gz")
    if os.path.exists(f):
        errors += compare_top(label, tree_sql, f, None)
        n += 1
    return errors, n


def main():
    prof_root = os.path.join(DATA, "profiles")
    if not os.path.isdir(prof_root) or not os.path.isdir(ORACLE):
        print("FAIL: test data missing: %s and %s must exist" % (prof_root, ORACLE))
        return 1
    paths = []
    for pat in ("go/*.pb.gz", "go/series/*.pb.gz", "node/*.pb.gz", "node/series/*.pb.gz"):
        paths += sorted(glob.glob(os.path.join(prof_root, pat)))
    if not paths:
        print("FAIL: no profiles under %s" % prof_root)
        return 1
    names = [os.path.relpath(p, DATA) for p in paths]

    try:
        sh.create_db(DB)
    except sh.PsqlError as e:
        print("FAIL: cannot create database with the extension: %s" % e.stderr.strip())
        return 1
    sh.load_files("corpus", list(zip(names, paths)), db=DB)
    sh.psql("CREATE TABLE trees (name text PRIMARY KEY, tree stackhouse.stacktree);", db=DB)

    passed = failed = 0

    def report(label, errors, n):
        nonlocal passed, failed
        if errors:
            failed += 1
            print("FAIL %s" % label)
            for e in errors:
                print("    " + e)
        else:
            passed += 1
            print("pass %s (%d reports)" % (label, n))
        sys.stdout.flush()

    for name in names:
        try:
            # stored, then read back: the comparison also covers the on-disk form
            sh.psql("INSERT INTO trees SELECT name, stackhouse.stacktree_from_pprof(data) "
                    "FROM corpus WHERE name = %s;" % sh.lit(name), db=DB)
        except sh.PsqlError as e:
            report(name, ["stacktree_from_pprof failed: %s" % e.stderr.strip()], 0)
            continue
        odir = oracle_dir_for(name)
        if not os.path.isdir(odir):
            report(name, ["no oracle directory %s" % odir], 0)
            continue
        errors, n = check_one(name, "(SELECT tree FROM trees WHERE name = %s)" % sh.lit(name), odir)
        report(name, errors, n)

    merges = sorted(glob.glob(os.path.join(ORACLE, "merges", "*", "inputs.txt")))
    for inputs_txt in merges:
        odir = os.path.dirname(inputs_txt)
        label = "merge " + os.path.basename(odir)
        with open(inputs_txt, encoding="utf-8") as f:
            inputs = [line.strip() for line in f if line.strip()]
        missing = [i for i in inputs if i not in names]
        if missing:
            report(label, ["inputs not in the corpus: %r" % missing], 0)
            continue
        tree_sql = ("(SELECT stackhouse.merge(stackhouse.stacktree_from_pprof(data)) "
                    "FROM corpus WHERE name = ANY(%s))" % sh.array_lit(inputs))
        errors, n = check_one(label + " (%d inputs)" % len(inputs), tree_sql, odir)
        report(label, errors, n)
    if not merges:
        report("merges", ["no oracle/merges/*/inputs.txt found"], 0)

    if not failed:
        sh.drop_db(DB)
    print("oracle top: %d passed, %d failed (profiles and merges)" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
