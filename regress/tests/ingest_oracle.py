"""Oracle side of the ingest tests (not a test itself): what rows loading a
profile must give, computed from `go tool pprof -raw` output
(regress/data/oracle/<rel>/raw.txt.gz) and, for folded stacks, from the text
itself -- never from stackhouse's own decoders.

expected_rows(paths) -> Counter of (ts_usecs, labels_json, totals) where
  ts_usecs  = the profile's Time (microseconds since the Unix epoch, or None)
  labels    = canonical JSON of the string sample labels of one split part
  totals    = tuple of (sample_type, summed value) sorted by type
"""

import collections
import datetime
import gzip
import json
import os
import re

from sthelper import DATA, psql

# numeric sample labels in the corpus (pprof -raw prints them like string
# labels, on a line of their own); they are not split keys
NUMERIC_LABEL_KEYS = {"bytes"}

_LABEL_RE = re.compile(r"(\S+?):\[([^\]]*)\]")


def oracle_dir(profile_path):
    rel = os.path.relpath(profile_path, os.path.join(DATA, "profiles"))
    assert rel.endswith(".pb.gz"), rel
    return os.path.join(DATA, "oracle", rel[:-len(".pb.gz")])


def parse_go_time(s):
    """'2026-11-21 04:57:57.1776058 +0000 UTC' -> microseconds since epoch."""
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? ([+-]\d{4})", s)
    assert m, s
    y, mo, d, h, mi, se = (int(m.group(i)) for i in range(1, 7))
    frac = (m.group(7) or "").ljust(9, "0")[:9]
    off = m.group(8)
    dt = datetime.datetime(y, mo, d, h, mi, se, tzinfo=datetime.timezone.utc)
    secs = int(dt.timestamp())
    offs = (int(off[1:3]) * 3600 + int(off[3:5]) * 60) * (1 if off[0] == "+" else -1)
    nanos = (secs - offs) * 10**9 + int(frac)
    return nanos // 1000


def parse_raw(path):
    """-> dict(time_us, duration_str, types[list], samples[list of (values, labels)])"""
    out = {"time_us": None, "duration": None, "types": None, "samples": []}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines) and lines[i] != "Samples:":
        if lines[i].startswith("Time: "):
            out["time_us"] = parse_go_time(lines[i][6:])
        elif lines[i].startswith("Duration: "):
            out["duration"] = lines[i][10:]
        i += 1
    out["types"] = [t.split("/")[0] for t in lines[i + 1].split()]
    i += 2
    while i < len(lines) and not lines[i].startswith("Locations"):
        line = lines[i]
        if ":" in line and re.match(r"^\s*-?\d+(\s+-?\d+)*:", line):
            vals = [int(v) for v in line.split(":")[0].split()]
            out["samples"].append((vals, {}))
        elif line.strip():
            pairs = _LABEL_RE.findall(line)
            assert pairs, "unparsed -raw line %r in %s" % (line, path)
            for k, v in pairs:
                if k not in NUMERIC_LABEL_KEYS:
                    out["samples"][-1][1][k] = v
        i += 1
    return out


def canon_labels(d):
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def expected_pprof(path, split=True):
    """Counter of rows for one pprof file under --split-labels=all (split=True)
    or none."""
    raw = parse_raw(os.path.join(oracle_dir(path), "raw.txt.gz"))
    groups = collections.OrderedDict()
    for vals, labels in raw["samples"]:
        key = canon_labels(labels if split else {})
        acc = groups.setdefault(key, [0] * len(raw["types"]))
        for j, v in enumerate(vals):
            acc[j] += v
    if not groups:
        groups[canon_labels({})] = [0] * len(raw["types"])
    rows = collections.Counter()
    for key, acc in groups.items():
        rows[(raw["time_us"], key, tuple(sorted(zip(raw["types"], acc))))] += 1
    return rows


def expected_folded(path):
    """Folded stacks: one row, one 'samples' column = sum of the last field."""
    total = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip():
                total += int(line.rsplit(" ", 1)[1])
    return collections.Counter({(None, canon_labels({}), (("samples", total),)): 1})


def expected_rows(paths, split=True):
    c = collections.Counter()
    for p in paths:
        if p.endswith(".pb.gz"):
            c += expected_pprof(p, split)
        else:
            c += expected_folded(p)
    return c


def corpus_files(subdirs=("go", "node", "perf")):
    """The profiles under regress/data/profiles/<subdir>, recursively, sorted."""
    out = []
    for sd in subdirs:
        for dp, _dn, fns in os.walk(os.path.join(DATA, "profiles", sd)):
            for fn in fns:
                if fn.endswith(".pb.gz") or fn.endswith("_folded_textpipe.txt"):
                    out.append(os.path.join(dp, fn))
    return sorted(out)


def db_rows(db, where="true", strip_labels=(), with_ts=True):
    """Counter of (ts_us, labels_json, totals) for the rows of stackhouse.profiles
    matching WHERE; label keys in strip_labels are removed (the CLI's own)."""
    sql = """
    SELECT (extract(epoch FROM p.ts) * 1000000)::bigint, p.labels::text,
           (SELECT string_agg(st.type || '=' || stackhouse.total(p.tree, st.type), ',' ORDER BY st.type)
              FROM stackhouse.sample_types(p.tree) st)
      FROM stackhouse.profiles p WHERE %s""" % where
    c = collections.Counter()
    for ts, labels, totals in psql(sql, db):
        d = json.loads(labels)
        for k in strip_labels:
            d.pop(k, None)
        tot = tuple(sorted((kv.split("=")[0], int(kv.split("=")[1])) for kv in totals.split(",")))
        c[(int(ts) if with_ts else None, canon_labels(d), tot)] += 1
    return c


def folded_ts_free(counter):
    """Replace the ts of 'samples'-only rows (folded stacks: time = load time)
    by None so they compare with expected_folded()."""
    out = collections.Counter()
    for (ts, labels, totals), n in counter.items():
        if len(totals) == 1 and totals[0][0] == "samples":
            ts = None
        out[(ts, labels, totals)] += n
    return out


def diff_counters(got, want):
    """Human-readable difference, '' when equal."""
    lines = []
    for k in sorted(set(got) | set(want), key=repr):
        if got.get(k, 0) != want.get(k, 0):
            lines.append("  %r: got %d, want %d" % (k, got.get(k, 0), want.get(k, 0)))
    return "\n".join(lines[:40])
