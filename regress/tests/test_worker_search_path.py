"""The retention worker must not resolve names through a search_path that
a database owner set (ALTER DATABASE ... SET search_path applies to the
worker's session, and the worker runs as the bootstrap superuser).

On a server of its own (shared_preload_libraries = 'stackhouse'): a
non-superuser owns the database and puts a schema of hers with her own
= (name, name) operator (logging who calls it) before pg_catalog in the
database's search_path.  The worker's run must do its job (one merged row)
and never call her operator, i.e. never run her code as a superuser.
No timing is asserted; waits poll the server (with a hang guard).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sthelper  # noqa: E402
from sthelper import Checks, OwnCluster, wait_for as _wait_for, ROOT, lit, psql, psql_value  # noqa: E402

DB = "worker_search_path"
OWNER = "wsp_owner"
check = Checks()
CLUSTER = OwnCluster("worker_search_path_pg")


def wait_for(what, fn, poll=0.2):
    return _wait_for(what, fn, poll=poll, give_up=lambda: not CLUSTER.running())


def psql_as(user, sql, db):
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", db],
                       input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("psql as %s failed: %s" % (user, p.stderr))


def scenario():
    psql("CREATE ROLE %s LOGIN;\nCREATE DATABASE %s OWNER %s;" % (OWNER, DB, OWNER), db="postgres")
    psql("CREATE EXTENSION stackhouse;\n"
         "INSERT INTO stackhouse.retention_policies (after, resolution) VALUES ('1 day', '1 hour');\n"
         "INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree)\n"
         "  SELECT date_trunc('hour', now() - interval '3 days') + i * interval '1 minute', '10 s', 'svc', '{}',\n"
         "         'cpu', ('main;f ' || i)::stackhouse.stacktree FROM generate_series(1, 10) i;\n", db=DB)
    psql_as(OWNER,
            "CREATE SCHEMA evil;\n"
            "CREATE TABLE evil.log (who text, super boolean);\n"
            "GRANT USAGE ON SCHEMA evil TO PUBLIC;\n"
            "GRANT INSERT ON evil.log TO PUBLIC;\n"
            "CREATE FUNCTION evil.name_eq(a name, b name) RETURNS boolean LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            "  INSERT INTO evil.log SELECT current_user, rolsuper FROM pg_catalog.pg_roles\n"
            "   WHERE rolname OPERATOR(pg_catalog.=) current_user;\n"
            "  RETURN a OPERATOR(pg_catalog.=) b;\n"
            "END $$;\n"
            "CREATE OPERATOR evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = evil.name_eq);\n"
            "ALTER DATABASE %s SET search_path = evil, pg_catalog;\n" % DB, db=DB)
    # the trap works: a session of the owner's runs her operator
    psql_as(OWNER, "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'stackhouse';", db=DB)
    check(psql_value("SELECT count(*) FROM evil.log", db=DB) != "0",
          "a session with the database's search_path calls the owner's = (name, name)")
    psql("DELETE FROM evil.log;", db=DB)

    psql("ALTER SYSTEM SET stackhouse.databases = %s; SELECT pg_reload_conf();" % lit(DB), db="postgres")
    wait_for("the worker's run done", lambda: psql_value(
        "SELECT count(*) FILTER (WHERE status = 'done') || '/' || count(*)"
        "  FROM stackhouse.retention_activity", db=DB) == "1/1")
    check(psql_value("SELECT count(*) || ' ' || sum(source_count) || ' ' || sum(stackhouse.total(tree))"
                     "  FROM stackhouse.profiles", db=DB) == "1 10 55",
          "the worker merged the 10 rows of the hour into one (samples 1..10 = 55)")
    log = psql("SELECT who, super FROM evil.log", db=DB)
    check(log == [], "the worker never called the database owner's operator: %r" % (log[:5],))
    psql("ALTER SYSTEM RESET ALL; SELECT pg_reload_conf();", db="postgres")
    crashes = [l for l in CLUSTER.log().splitlines() if "terminated by signal" in l or "PANIC" in l]
    check(not crashes, "no crash in the server log: %r" % crashes[:3])


def main():
    subprocess.run(["rm", "-rf", CLUSTER.dir])
    CLUSTER.start("shared_preload_libraries='stackhouse'", "stackhouse.naptime=3600")
    try:
        scenario()
    finally:
        CLUSTER.stop()
    print("%d failures" % len(check.failures))
    return 1 if check.failures else 0


if __name__ == "__main__":
    sthelper.ROOT = ROOT
    sys.exit(main())
