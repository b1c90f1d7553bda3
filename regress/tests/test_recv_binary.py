"""Binary receive (stacktree_recv) treats its input as hostile.

Binary COPY files are built by hand (the PGCOPY format) with a valid
stacktree field, then with garbage, truncations and single-byte corruptions
of it.  Each bad file must be refused with an ERROR carrying
invalid_binary_representation (22P03) or program_limit_exceeded (54000),
the server must stay up, and the good file must load and round-trip.
"""
import os
import random
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import create_db, drop_db, psql, psql_value, _run  # noqa: E402

SIG = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)


def copy_file(fields):
    """A binary COPY file with one row per field (one bytea-ish column)."""
    out = bytearray(SIG)
    for f in fields:
        out += struct.pack("!h", 1)
        out += struct.pack("!i", len(f)) + f
    out += struct.pack("!h", -1)
    return bytes(out)


def load(db, payload):
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as fh:
        fh.write(payload)
        path = fh.name
    try:
        p = _run("\\set VERBOSITY verbose\n\\copy t (tree) from %s with (format binary)\n"
                 % ("'" + path + "'"), db)
        return p.returncode, p.stderr
    finally:
        os.unlink(path)


def main():
    db = create_db("recv_binary")
    psql("CREATE TABLE t (id serial, tree stackhouse.stacktree);", db)
    folded = "\\n".join("main;f%d;g%d %d" % (i % 13, i % 5, i) for i in range(1, 300))
    good_hex = psql_value(
        "SELECT encode(stackhouse.stacktree_send(E'%s'::stackhouse.stacktree), 'hex')" % folded, db)
    good = bytes.fromhex(good_hex)
    small_hex = psql_value(
        "SELECT encode(stackhouse.stacktree_send('a;b 1'::stackhouse.stacktree), 'hex')", db)
    small = bytes.fromhex(small_hex)

    failures = 0
    rc, err = load(db, copy_file([good, small]))
    if rc != 0:
        print("FAIL: good binary COPY refused:", err)
        return 1
    same = psql_value("SELECT count(*) FROM t WHERE stackhouse.stacktree_send(tree) IN "
                      "(decode('%s','hex'), decode('%s','hex'))" % (good_hex, small_hex), db)
    if same != "2":
        print("FAIL: received values do not round-trip:", same)
        failures += 1

    rnd = random.Random(11)
    cases = [("empty", b""), ("one byte", b"\x01"), ("version 9", b"\x09" + good[1:])]
    for n in range(0, len(good), max(1, len(good) // 40)):
        cases.append(("truncated to %d" % n, good[:n]))
    for n in range(len(small)):
        cases.append(("small truncated to %d" % n, small[:n]))
    for i in range(120):
        b = bytearray(good if i % 2 else small)
        pos = rnd.randrange(len(b))
        b[pos] = rnd.randrange(256)
        cases.append(("byte %d set" % pos, bytes(b)))
    for i in range(60):
        cases.append(("random %d" % i, bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))))
    cases.append(("huge claimed length", b"\x01\x01\xff\xff\xff\x7f" + good[6:]))

    refused = accepted = 0
    for name, payload in cases:
        rc, err = load(db, copy_file([payload]))
        if rc == 0:
            # a corruption that still decodes to a valid tree is acceptable
            # only if the stored value is canonical and readable
            accepted += 1
            continue
        if "22P03" not in err and "54000" not in err:
            print("FAIL: %s: unexpected error: %s" % (name, err.strip()[:300]))
            failures += 1
        else:
            refused += 1
        if psql_value("SELECT 1", db) != "1":
            print("FAIL: server not answering after", name)
            return 1
    # everything accepted must read back
    psql("SELECT stackhouse.total(tree), stackhouse.stacktree_send(tree) FROM t;", db)
    print("binary recv: %d refused cleanly, %d accepted as valid trees" % (refused, accepted))
    if refused < len(cases) // 2:
        print("FAIL: too few corruptions detected")
        failures += 1
    drop_db(db)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
