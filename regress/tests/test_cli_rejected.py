"""stackhouse-ingest when the server refuses rows: a BEFORE INSERT trigger
that raises (P0001), a CHECK constraint (23514) and a row-level security
WITH CHECK policy (42501, through the INSERT fallback) refuse the rows of
some files of a directory that also holds good files and a corrupt one.
Whatever the batch size (all in one batch, one file per batch, three rows
per batch), every refused file is named once with the server's SQLSTATE and
message, a file is refused whole when one of its split rows is refused,
every other file is loaded (rows and totals equal the oracle: go tool pprof
-raw output and the folded text), and the exit status is 1.  A lost
connection (the trigger terminates its own backend) and a role without the
INSERT privilege still stop the run with exit status 3, no file blamed."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import ROOT, DATA, Checks, create_db, drop_db, psql, psql_value, log  # noqa: E402
import ingest_oracle as orc  # noqa: E402

CLI = os.path.join(ROOT, "ingest-cli", "stackhouse-ingest")
DB = "cli_rejected"
ROLES = ("rej_ci", "rej_noins")
check = Checks()

GO = os.path.join(DATA, "profiles", "go")
NODE = os.path.join(DATA, "profiles", "node")
FOLDED = os.path.join(DATA, "profiles", "perf", "perf_folded_textpipe.txt")

# what the test's trigger, constraint and policy refuse (restated from SETUP)
TRIGGER_CONTENTION = "contention profiles are not kept here"
TRIGGER_COLD = "cold phase rows are not kept here"
CHECK_HEAP = 'violates check constraint "rej_no_heap"'
RLS = "row-level security policy"

SETUP = r"""
CREATE FUNCTION public.rej_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.service LIKE 'r\_%' AND NEW.profile_type = 'contention' THEN
        RAISE EXCEPTION 'contention profiles are not kept here'
            USING DETAIL = E'asked by\nthe test';
    END IF;
    IF NEW.service LIKE 'r\_%' AND NEW.labels->>'phase' = 'cold' THEN
        RAISE EXCEPTION 'cold phase rows are not kept here';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER rej_refuse BEFORE INSERT ON stackhouse.profiles
    FOR EACH ROW EXECUTE FUNCTION public.rej_refuse();
-- fires first (trigger names in order): a lost connection, not a refusal
CREATE FUNCTION public.rej_die() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.service = 'r_die' AND NEW.profile_type = 'goroutine' THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
        PERFORM pg_sleep(1);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER a_rej_die BEFORE INSERT ON stackhouse.profiles
    FOR EACH ROW EXECUTE FUNCTION public.rej_die();
ALTER TABLE stackhouse.profiles ADD CONSTRAINT rej_no_heap
    CHECK (service NOT LIKE 'r\_%' OR profile_type <> 'heap');
CREATE ROLE rej_ci LOGIN;
CREATE ROLE rej_noins LOGIN;
GRANT USAGE ON SCHEMA stackhouse TO rej_ci, rej_noins;
GRANT INSERT ON stackhouse.profiles TO rej_ci;
ALTER TABLE stackhouse.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY rej_ci_insert ON stackhouse.profiles FOR INSERT TO rej_ci
    WITH CHECK (labels->>'route' IS DISTINCT FROM 'reindex');
"""


def run_cli(args, user=None):
    cmd = [CLI, "-d", DB, "-w"] + (["-U", user] if user else []) + args
    p = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def drop_roles():
    for r in ROLES:
        for db in (DB, "postgres"):
            try:
                psql("DROP OWNED BY %s;" % r, db)
            except Exception:
                pass
        psql("DROP ROLE IF EXISTS %s;" % r, "postgres")


def make_dir(tmp):
    """Copies named so that good and refused files alternate in the CLI's
    (name) order.  Returns (dir, {copy: original}, {copy: expected reason
    substrings or None for good}, corrupt copy)."""
    d = os.path.join(tmp, "in")
    os.makedirs(os.path.join(d, "m_series"))
    plan = [
        ("a_cpu_jsonsvc.pb.gz", os.path.join(GO, "cpu_jsonsvc.pb.gz"), None),
        ("b_block.pb.gz", os.path.join(GO, "block.pb.gz"), ("P0001", TRIGGER_CONTENTION)),
        ("c_cpu_treesort.pb.gz", os.path.join(GO, "cpu_treesort.pb.gz"), None),
        # 8 rows by sample labels, 2 of them phase=cold: refused whole
        ("d_cpu_labels.pb.gz", os.path.join(GO, "cpu_labels.pb.gz"), ("P0001", TRIGGER_COLD)),
        ("e_heap.pb.gz", os.path.join(GO, "heap.pb.gz"), ("23514", CHECK_HEAP)),
        ("f_goroutine.pb.gz", os.path.join(GO, "goroutine.pb.gz"), None),
        ("g_mutex.pb.gz", os.path.join(GO, "mutex.pb.gz"), ("P0001", TRIGGER_CONTENTION)),
        ("h_folded.txt", FOLDED, None),
        # 7 rows, 2 with route=reindex: refused whole under the RLS policy only
        ("i_wall_labels.pb.gz", os.path.join(NODE, "wall_labels.pb.gz"), "rls"),
        ("k_allocs.pb.gz", os.path.join(GO, "allocs.pb.gz"), ("23514", CHECK_HEAP)),
        ("l_node_heap.pb.gz", os.path.join(NODE, "heap.pb.gz"), ("23514", CHECK_HEAP)),
    ]
    series = sorted(os.listdir(os.path.join(GO, "series")))[:8]
    plan += [(os.path.join("m_series", n), os.path.join(GO, "series", n), None) for n in series]
    plan.append(("z_last_mutex.pb.gz", os.path.join(GO, "mutex.pb.gz"), ("P0001", TRIGGER_CONTENTION)))
    origin, reason = {}, {}
    for name, src, why in plan:
        dst = os.path.join(d, name)
        shutil.copy(src, dst)
        origin[dst] = src
        reason[dst] = why
    corrupt = os.path.join(d, "j_truncated.pb.gz")
    with open(os.path.join(GO, "cpu_jsonsvc.pb.gz"), "rb") as f:
        data = f.read()
    with open(corrupt, "wb") as f:
        f.write(data[: len(data) // 2])
    return d, origin, reason, corrupt


def check_run(what, service, rc, err, origin, reason, corrupt, rls):
    """rc 1; each refused file named once with its reason; the corrupt one
    reported; good files loaded exactly (oracle)."""
    log(err.strip())
    check(rc == 1, "%s: exit %d, want 1" % (what, rc))
    lines = err.splitlines()
    refused, good = [], []
    for path, why in reason.items():
        if why == "rls":
            why = ("42501", RLS) if rls else None
        if why is None:
            good.append(path)
            check(not any(path in l for l in lines), "%s: good file %s reported" % (what, path))
            continue
        refused.append(path)
        mine = [l for l in lines if l.startswith("stackhouse-ingest: %s: " % path)]
        check(len(mine) == 1, "%s: %s reported %d times, want once" % (what, path, len(mine)))
        if mine:
            state, text = why
            check("refused by the server (SQLSTATE %s)" % state in mine[0] and text in mine[0],
                  "%s: %s: reason %r, want SQLSTATE %s and %r" % (what, path, mine[0], state, text))
    check(sum(1 for l in lines if l.startswith("stackhouse-ingest: %s: " % corrupt)) == 1,
          "%s: corrupt file reported once" % what)
    check(sum(1 for l in lines if "refused by the server" in l) == len(refused),
          "%s: %d refusals reported, want %d" % (what, sum(1 for l in lines if "refused by the server" in l),
                                                 len(refused)))
    # the newline of the trigger's DETAIL does not split the report
    check(all(l.startswith("stackhouse-ingest: ") for l in lines),
          "%s: every stderr line is one report: %r" % (what, [l for l in lines if not l.startswith("stackhouse-ingest: ")]))
    total = len(reason) + 1
    check("loaded %d of %d inputs (%d bad)" % (len(good), total, len(refused) + 1) in err,
          "%s: summary, want loaded %d of %d inputs (%d bad): %r" % (what, len(good), total, len(refused) + 1, err[-300:]))
    want = orc.folded_ts_free(orc.expected_rows([origin[p] for p in good]))
    got = orc.folded_ts_free(orc.db_rows(DB, "service = '%s'" % service))
    check(sum(got.values()) == sum(want.values()),
          "%s: %d rows, oracle %d" % (what, sum(got.values()), sum(want.values())))
    check(got == want, "%s: rows differ from the oracle (good files only):\n%s" % (what, orc.diff_counters(got, want)))


def main():
    if not os.access(CLI, os.X_OK):
        print("FAIL: %s is not built (run make)" % CLI)
        return 1
    drop_db(DB)
    drop_roles()
    create_db(DB)
    psql(SETUP, DB)
    tmp = tempfile.mkdtemp(prefix="cli-rejected-", dir=os.environ.get("STACKHOUSE_TMP"))
    try:
        d, origin, reason, corrupt = make_dir(tmp)

        # ---- 1. trigger + CHECK, binary COPY: one batch, one file a batch, 3 rows a batch
        for service, extra in (("r_one", []), ("r_each", ["--batch-rows", "1"]),
                               ("r_three", ["--batch-rows", "3"])):
            rc, err = run_cli(["-s", service] + extra + [d])
            check_run(service, service, rc, err, origin, reason, corrupt, rls=False)

        # ---- 2. under row-level security (COPY refused: prepared INSERTs)
        rc, err = run_cli(["-s", "r_rls", d], user="rej_ci")
        check_run("r_rls", "r_rls", rc, err, origin, reason, corrupt, rls=True)
        rc, err = run_cli(["-s", "r_rls3", "--batch-rows", "3", d], user="rej_ci")
        check_run("r_rls3", "r_rls3", rc, err, origin, reason, corrupt, rls=True)

        # a batch of one refused file, the last input
        mutex = os.path.join(GO, "mutex.pb.gz")
        rc, err = run_cli(["-s", "r_single", mutex])
        check(rc == 1 and err.count("refused by the server (SQLSTATE P0001)") == 1
              and TRIGGER_CONTENTION in err and "loaded 0 of 1 inputs (1 bad)" in err,
              "single refused file: exit %d %s" % (rc, err))
        check(psql_value("SELECT count(*) FROM stackhouse.profiles WHERE service = 'r_single'", DB) == "0",
              "single refused file: no rows")

        # ---- 3. the connection is lost in the second batch: exit 3, nothing blamed
        first = [os.path.join(GO, "cpu_jsonsvc.pb.gz"), os.path.join(GO, "cpu_treesort.pb.gz")]
        rc, err = run_cli(["-s", "r_die", "--batch-rows", "2"] + first +
                          [os.path.join(GO, "goroutine.pb.gz"), os.path.join(GO, "series", "cpu_000.pb.gz")])
        log(err.strip())
        check(rc == 3, "lost connection: exit %d, want 3" % rc)
        check("terminating connection" in err and "1 inputs of the failed batch were not loaded" in err,
              "lost connection message: %r" % err)
        check("refused by the server" not in err, "lost connection blamed on a file: %r" % err)
        want = orc.expected_rows(first)
        got = orc.db_rows(DB, "service = 'r_die'")
        check(got == want, "lost connection: the batch before it stays loaded, nothing after:\n"
              + orc.diff_counters(got, want))

        # ---- 4. no INSERT privilege: the same for every row, so exit 3 (COPY and INSERT)
        for method in ("copy", "insert"):
            rc, err = run_cli(["-s", "r_noins", "--method", method, d], user="rej_noins")
            check(rc == 3 and "permission denied" in err and "refused by the server" not in err,
                  "no INSERT privilege, --method %s: exit %d %r" % (method, rc, err))
        check(psql_value("SELECT count(*) FROM stackhouse.profiles WHERE service = 'r_noins'", DB) == "0",
              "no INSERT privilege: no rows")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    drop_db(DB)
    drop_roles()
    print("%d passed, %d failed" % (0 if check.failures else 1, 1 if check.failures else 0))
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
