"""Versioned install and upgrade scripts agree.

A database created at version 0.1 and updated with ALTER EXTENSION ...
UPDATE must end up with exactly the objects of a fresh install of the
default version, and values stored under 0.1 stay readable after the update.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import create_db, drop_db, psql, psql_value  # noqa: E402

MEMBERS = """
SELECT pg_describe_object(classid, objid, objsubid)
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'stackhouse')
ORDER BY 1;
"""

SIGNATURES = """
SELECT p.oid::regprocedure::text, pg_get_function_result(p.oid), p.provolatile,
       p.proparallel, p.proisstrict
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'stackhouse' ORDER BY 1;
"""


def main():
    failures = 0
    old = create_db("upgrade_old", extension=False)
    psql("CREATE EXTENSION stackhouse VERSION '0.1';", db=old)
    psql("CREATE TABLE keep (t stackhouse.stacktree); "
         "INSERT INTO keep VALUES (E'# column cpu nanoseconds\\nmain;a 5\\nmain 2');", db=old)
    before = psql_value("SELECT stackhouse.total(t) FROM keep", db=old)
    psql("ALTER EXTENSION stackhouse UPDATE;", db=old)
    version = psql_value("SELECT extversion FROM pg_extension WHERE extname = 'stackhouse'", db=old)
    new = create_db("upgrade_new")
    default = psql_value("SELECT default_version FROM pg_available_extensions WHERE name = 'stackhouse'", db=new)
    if version != default:
        print("FAIL: updated to %s, default is %s" % (version, default))
        failures += 1
    for what, sql in (("members", MEMBERS), ("function signatures", SIGNATURES)):
        a, b = psql(sql, db=old), psql(sql, db=new)
        if a != b:
            failures += 1
            print("FAIL: %s differ between update and fresh install" % what)
            print("  only after update:", sorted(set(a) - set(b))[:10])
            print("  only in fresh install:", sorted(set(b) - set(a))[:10])
        else:
            print("ok: %d %s identical" % (len(a), what))
    after = psql_value("SELECT stackhouse.total(t) FROM keep", db=old)
    if before != after or after != "7":
        print("FAIL: stored value changed across the update: %s -> %s" % (before, after))
        failures += 1
    drop_db(old)
    drop_db(new)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
