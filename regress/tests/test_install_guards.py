"""CREATE EXTENSION refuses a non-UTF8 database and a pre-existing schema
owned by another role (whose owner could swap the extension's functions)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import create_db, drop_db, ident, psql, psql_expect_error  # noqa: E402


def main():
    failures = 0
    psql("DROP DATABASE IF EXISTS guard_latin1;", db="postgres")
    psql("CREATE DATABASE guard_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;",
         db="postgres")
    err = psql_expect_error("CREATE EXTENSION stackhouse;", db="guard_latin1")
    if "needs a UTF8 database" not in err:
        failures += 1
        print("FAIL: LATIN1 database:", err.strip())
    else:
        print("ok: a LATIN1 database is refused:", err.strip().splitlines()[0])
    drop_db("guard_latin1")

    db = create_db("guard_schema", extension=False)
    psql("DROP ROLE IF EXISTS guard_other; CREATE ROLE guard_other;", db=db)
    psql("CREATE SCHEMA stackhouse AUTHORIZATION guard_other;", db=db)
    err = psql_expect_error("CREATE EXTENSION stackhouse;", db=db)
    if "owned by another role" not in err:
        failures += 1
        print("FAIL: foreign schema:", err.strip())
    else:
        print("ok: a schema owned by another role is refused")
    psql("DROP SCHEMA stackhouse; CREATE EXTENSION stackhouse;", db=db)
    owner = psql("SELECT n.nspowner::regrole::text FROM pg_namespace n WHERE nspname = 'stackhouse';", db=db)
    print("ok: without it, CREATE EXTENSION makes the schema, owned by", owner[0][0])
    drop_db(db)
    psql("DROP ROLE guard_other;", db="postgres")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
