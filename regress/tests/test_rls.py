"""Tenancy: the row-level security recipe of docs/warehouse.md (its ```sql
blocks are run as written) on stackhouse.profiles.  CI roles with nothing
but INSERT load with stackhouse-ingest (COPY is refused under RLS, the CLI
falls back to INSERT) and through the inbox; a CI role cannot write another
tenant's rows; an analyst of tenant A cannot read or merge tenant B's rows
and sees exactly A's totals (oracle: go tool pprof -raw); partitions cannot
be read around the policy."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import ROOT, DATA, create_db, drop_db, psql, psql_value, psql_expect_error, log  # noqa: E402
import ingest_oracle as orc  # noqa: E402

CLI = os.path.join(ROOT, "ingest-cli", "stackhouse-ingest")
DB = "rls_test"
ROLES = ["acme_ci", "acme_analyst", "globex_ci", "globex_analyst", "tenant_acme", "tenant_globex"]
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)


def recipe_blocks():
    with open(os.path.join(ROOT, "docs", "warehouse.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Tenancy", 1)[1]
    section = re.split(r"\n## ", section, 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    assert len(blocks) >= 2, "recipe blocks not found"
    return blocks


def as_role(role, sql):
    return psql("SET ROLE %s;\n%s" % (role, sql), DB)


def cli(role, args):
    p = subprocess.run([CLI, "-d", DB, "-U", role] + args, capture_output=True, text=True)
    return p.returncode, p.stderr


def drop_roles():
    for r in ROLES:
        for db in (DB, "postgres"):
            try:
                psql("DROP OWNED BY %s;" % r, db)
            except Exception:
                pass
        psql("DROP ROLE IF EXISTS %s;" % r, "postgres")


def main():
    drop_db(DB)
    drop_roles()
    create_db(DB)
    for b in recipe_blocks():
        psql(b, DB)
    # the inbox path for the CI roles (docs/ci-recipe.md grants)
    psql("GRANT INSERT ON stackhouse.inbox TO acme_ci, globex_ci;", DB)

    series = sorted(os.path.join(DATA, "profiles", "go", "series", f)
                    for f in os.listdir(os.path.join(DATA, "profiles", "go", "series")))
    acme_files = series[:10]
    globex_files = [os.path.join(DATA, "profiles", "go", n) for n in ("cpu_jsonsvc.pb.gz", "cpu_treesort.pb.gz")]

    rc, err = cli("acme_ci", ["-s", "api", "--label", "tenant=acme"] + acme_files)
    check(rc == 0, "acme_ci load: %d %s" % (rc, err))
    rc, err = cli("globex_ci", ["-s", "api", "--label", "tenant=globex"] + globex_files)
    check(rc == 0, "globex_ci load: %d %s" % (rc, err))
    # a CI role cannot write another tenant's rows
    rc, err = cli("acme_ci", ["-s", "api", "--label", "tenant=globex", globex_files[0]])
    # (refused by the policy: the file is named with the reason, exit 1)
    check(rc == 1 and "%s: refused by the server (SQLSTATE 42501)" % globex_files[0] in err
          and "row-level security" in err, "acme_ci writing globex: %d %s" % (rc, err))
    # ... nor smuggle them in through per-sample labels (cpu_labels has tenant=globex samples)
    labels_file = os.path.join(DATA, "profiles", "go", "cpu_labels.pb.gz")
    rc, err = cli("acme_ci", ["-s", "smuggle", labels_file])
    check(rc == 1 and "%s: refused by the server (SQLSTATE 42501)" % labels_file in err,
          "acme_ci loading foreign sample tenants: exit %d %s" % (rc, err))
    check(psql_value("SELECT count(*) FROM stackhouse.profiles WHERE service = 'smuggle'", DB) == "0",
          "acme_ci loading foreign sample tenants: no row of that file kept")
    # ... nor through the inbox
    with open(globex_files[1], "rb") as f:
        hexdata = f.read().hex()
    err = psql_expect_error("SET ROLE acme_ci; INSERT INTO stackhouse.inbox (name, service, labels, data) "
                            "VALUES ('x', 'api', '{\"tenant\": \"globex\"}', '\\x%s')" % hexdata, DB)
    check("row-level security" in err, "inbox as acme_ci for globex: %s" % err)
    as_role("globex_ci", "INSERT INTO stackhouse.inbox (name, service, labels, data, split_keys) "
            "VALUES ('x', 'inboxed', '{\"tenant\": \"globex\"}', '\\x%s', '{}')" % hexdata)
    # the CI roles cannot read anything
    err = psql_expect_error("SET ROLE acme_ci; SELECT count(*) FROM stackhouse.profiles", DB)
    check("permission denied" in err, "acme_ci can read: %s" % err)

    # oracle totals
    want_acme = orc.expected_rows(acme_files)
    want_globex = orc.expected_rows(globex_files)
    acme_cpu = sum(dict(k[2])["cpu"] * n for k, n in want_acme.items())
    globex_cpu = sum(dict(k[2])["cpu"] * n for k, n in want_globex.items())
    globex_inboxed = sum(dict(k[2])["cpu"] * n for k, n in orc.expected_rows(globex_files[1:]).items())

    # superuser sees everything
    check(psql_value("SELECT count(DISTINCT labels->>'tenant') FROM stackhouse.profiles", DB) == "2",
          "both tenants stored")

    for role, mine, other, want_rows, cpu in (
            ("acme_analyst", "acme", "globex", sum(want_acme.values()), acme_cpu),
            ("globex_analyst", "globex", "acme", sum(want_globex.values()) + 1, globex_cpu + globex_inboxed)):
        rows = as_role(role, "SELECT count(*), coalesce(sum(stackhouse.total(tree, 'cpu')), 0), "
                       "stackhouse.total(stackhouse.merge(tree), 'cpu'), "
                       "count(*) FILTER (WHERE labels->>'tenant' <> '%s') FROM stackhouse.profiles" % mine)
        check(rows == [(str(want_rows), str(cpu), str(cpu), "0")],
              "%s sees %r, want %d rows, cpu %d" % (role, rows, want_rows, cpu))
        n = as_role(role, "SELECT count(*) FROM stackhouse.profiles WHERE labels @> '{\"tenant\": \"%s\"}'" % other)
        check(n == [("0",)], "%s reads %s rows: %r" % (role, other, n))
        m = as_role(role, "SELECT stackhouse.merged_profile('api', '-infinity', 'infinity', "
                    "'{\"tenant\": \"%s\"}') IS NULL" % other)
        check(m == [("t",)], "%s merges %s rows" % (role, other))
        err = psql_expect_error("SET ROLE %s; SELECT count(*) FROM stackhouse.profiles_default" % role, DB)
        check("permission denied" in err, "%s reads the default partition directly: %s" % (role, err))
        err = psql_expect_error("SET ROLE %s; DELETE FROM stackhouse.profiles" % role, DB)
        check("permission denied" in err, "%s can delete: %s" % (role, err))

    drop_db(DB)
    drop_roles()
    print("%d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
