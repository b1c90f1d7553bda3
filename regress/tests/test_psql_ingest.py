"""The psql-only ingest path (stackhouse.inbox + its trigger), used as a CI
step would: a shell pipeline (od + printf) COPYs every corpus profile into
the inbox; the rows must equal the oracle's (go tool pprof -raw, folded text)
and be identical, tree for tree, to what stackhouse-ingest loads.  Also:
a bad file fails its COPY naming the file; pprof_split(); split_keys; the
inbox stores nothing."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import ROOT, DATA, create_db, drop_db, psql, psql_value, psql_expect_error, log, lit  # noqa: E402
import ingest_oracle as orc  # noqa: E402

CLI = os.path.join(ROOT, "ingest-cli", "stackhouse-ingest")
DB = "psql_ingest"
failures = []

# the CI pipeline of docs/ci-recipe.md ("psql only"), with $FILES and $DB
PIPELINE = r'''
set -euo pipefail
for f in $FILES; do
  printf '%s\t%s\t%s\t\\\\x' "$f" "$SERVICE" "$LABELS"
  od -An -v -tx1 "$f" | tr -d ' \n'
  printf '\n'
done | psql -X -v ON_ERROR_STOP=1 -d "$DB" \
  -c '\copy stackhouse.inbox (name, service, labels, data) FROM STDIN'
'''


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)


def pipeline(files, service, labels='{}'):
    env = dict(os.environ, FILES=" ".join(files), SERVICE=service, LABELS=labels, DB=DB)
    return subprocess.run(["bash", "-c", PIPELINE], capture_output=True, text=True, env=env)


def tree_rows(where):
    """multiset of (ts or None for folded, labels, profile_type, md5 of the tree text)"""
    rows = psql("SELECT CASE WHEN profile_type = 'samples' THEN NULL ELSE ts::text END, labels::text, "
                "profile_type, md5(tree::text), duration::text FROM stackhouse.profiles WHERE " + where
                + " ORDER BY 1, 2, 3, 4", DB)
    return rows


def main():
    create_db(DB)
    files = orc.corpus_files()

    # ---- the whole corpus through psql alone
    p = pipeline(files, "viapsql", '{"ci": "yes"}')
    check(p.returncode == 0, "pipeline failed: %s" % p.stderr)
    check(psql_value("SELECT count(*) FROM stackhouse.inbox", DB) == "0", "inbox keeps nothing")
    want = orc.expected_rows(files)
    got = orc.folded_ts_free(orc.db_rows(DB, "service = 'viapsql'", strip_labels=("ci",)))
    check(got == want, "psql path vs oracle:\n" + orc.diff_counters(got, want))
    check(psql_value("SELECT bool_and(labels->>'ci' = 'yes') FROM stackhouse.profiles WHERE service = 'viapsql'", DB) == "t",
          "inbox labels on every row")

    # ---- the same files through the CLI: identical rows, tree for tree
    r = subprocess.run([CLI, "-d", DB, "-s", "viacli", "--label", "ci=yes"] + files,
                       capture_output=True, text=True)
    check(r.returncode == 0, "CLI: %s" % r.stderr)
    a = tree_rows("service = 'viapsql'")
    b = tree_rows("service = 'viacli'")
    check(len(a) == len(want) and a == b,
          "psql path and CLI differ: %d vs %d rows, first diff %r" %
          (len(a), len(b), next(((x, y) for x, y in zip(a, b) if x != y), None)))

    # ---- a bad file fails its COPY and names the file; nothing of that COPY stays
    bad = os.path.join(os.environ.get("STACKHOUSE_TMP", "/tmp"), "psql_bad_%d.pb.gz" % os.getpid())
    with open(files[0], "rb") as f:
        content = f.read()
    with open(bad, "wb") as f:
        f.write(content[:100])
    try:
        p = pipeline([files[0], bad], "badbatch")
        check(p.returncode != 0, "bad file COPY succeeded")
        check(os.path.basename(bad) in p.stderr, "error names the bad file: %r" % p.stderr)
        check(psql_value("SELECT count(*) FROM stackhouse.profiles WHERE service = 'badbatch'", DB) == "0",
              "the failed COPY left rows behind")
    finally:
        os.unlink(bad)

    # ---- explicit ts / profile_type / split_keys in the inbox
    labels_file = os.path.join(DATA, "profiles", "go", "cpu_labels.pb.gz")
    with open(labels_file, "rb") as f:
        hexdata = f.read().hex()
    psql("INSERT INTO stackhouse.inbox (name, service, data, ts, profile_type, split_keys) VALUES "
         "('x', 'explicit', '\\x%s', '2024-01-01 00:00:00+00', 'mine', '{endpoint}')" % hexdata, DB)
    raw = orc.parse_raw(os.path.join(orc.oracle_dir(labels_file), "raw.txt.gz"))
    endpoints = {}
    for vals, labels in raw["samples"]:
        k = labels.get("endpoint")
        endpoints[k] = endpoints.get(k, 0) + vals[raw["types"].index("cpu")]
    rows = psql("SELECT labels->>'endpoint', stackhouse.total(tree, 'cpu') FROM stackhouse.profiles "
                "WHERE service = 'explicit' AND ts = '2024-01-01' AND profile_type = 'mine'", DB)
    check({r[0]: int(r[1]) for r in rows} == endpoints, "split_keys {endpoint}: %r vs %r" % (rows, endpoints))

    # ---- pprof_split directly
    rows = psql("SELECT labels::text, stackhouse.total(tree, 'samples') FROM stackhouse.pprof_split('\\x%s', '{tenant}')"
                % hexdata, DB)
    tenants = {}
    for vals, labels in raw["samples"]:
        k = ('{"tenant": "%s"}' % labels["tenant"]) if "tenant" in labels else "{}"
        tenants[k] = tenants.get(k, 0) + vals[raw["types"].index("samples")]
    check({r[0]: int(r[1]) for r in rows} == tenants, "pprof_split by tenant: %r vs %r" % (rows, tenants))
    n = psql_value("SELECT count(*) FROM stackhouse.pprof_split('\\x%s', '{}')" % hexdata, DB)
    check(n == "1", "pprof_split with no keys: %s rows" % n)
    err = psql_expect_error("SELECT * FROM stackhouse.pprof_split('\\x%s', '{\"\"}')" % hexdata, DB)
    check("empty key" in err, "empty split key refused: %s" % err)
    err = psql_expect_error("SELECT * FROM stackhouse.pprof_split('\\x1f8b0800', NULL)", DB)
    check("gzip" in err, "corrupt gzip refused: %s" % err)
    err = psql_expect_error("INSERT INTO stackhouse.inbox (name, service, labels, data) VALUES "
                            "('arr', 's', '[1]', '\\x00')", DB)
    check("JSON object" in err, "labels must be an object: %s" % err)

    drop_db(DB)
    print("%d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
