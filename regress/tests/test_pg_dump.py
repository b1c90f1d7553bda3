"""pg_dump / pg_restore of a database with stacktree columns.

Real profiles and multi-column folded trees are stored, the database is
dumped (custom format, and plain SQL) and restored into new databases;
totals, stacks() and the stored bytes must be identical after restore.
"""
import glob
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import DATA, create_db, drop_db, load_files, psql  # noqa: E402

SIGNATURE = """
SELECT name, stackhouse.total(tree), md5(stackhouse.stacktree_send(tree)::text),
       (SELECT md5(string_agg(frames::text || ' ' || "values"::text, '|' ORDER BY frames))
        FROM stackhouse.stacks(tree))
FROM stored ORDER BY name;
"""


def main():
    src = create_db("dump_src")
    paths = sorted(glob.glob(os.path.join(DATA, "profiles", "go", "*.pb.gz")) +
                   glob.glob(os.path.join(DATA, "profiles", "node", "*.pb.gz")))
    load_files("raw", paths, db=src, names=[os.path.relpath(p, DATA) for p in paths])
    psql("""
CREATE TABLE stored (name text PRIMARY KEY, tree stackhouse.stacktree);
INSERT INTO stored SELECT name, stackhouse.stacktree_from_pprof(data) FROM raw;
INSERT INTO stored VALUES ('folded', E'# stackhouse 1\\n# column samples count\\n# column cpu nanoseconds default\\n# period cpu nanoseconds 10\\n# time 5 7\\nmain;a\\\\;b 1 10\\n3 30\\n');
DROP TABLE raw;
""", db=src)
    before = psql(SIGNATURE, db=src)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("custom", "plain"):
            out = os.path.join(tmp, "dump." + fmt)
            subprocess.run(["pg_dump", "-F", fmt[0], "-f", out, src], check=True)
            dst = create_db("dump_dst_" + fmt, extension=False)
            if fmt == "custom":
                subprocess.run(["pg_restore", "--exit-on-error", "-d", dst, out], check=True)
            else:
                subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dst, "-f", out],
                               check=True, stdout=subprocess.DEVNULL)
            after = psql(SIGNATURE, db=dst)
            if after != before:
                failures += 1
                print("FAIL: %s dump/restore changed stored trees" % fmt)
                for a, b in zip(before, after):
                    if a != b:
                        print("  before", a, "\n  after ", b)
            else:
                print("ok: %s dump/restore of %d trees identical" % (fmt, len(after)))
            drop_db(dst)
    drop_db(src)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
