"""stacktree_from_pprof treats its input as hostile, in the server.

Hand-built pprof messages (a minimal protobuf encoder below, independent
of the code under test) and damaged real profiles must each end in an
ERROR with the right SQLSTATE and a message naming the problem; the
server must keep answering.  Complements the decoder's C unit test with
the errcode mapping and memory-context behaviour of the real server.
"""
import gzip
import os
import random
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import DATA, create_db, drop_db, psql, psql_value, _run  # noqa: E402


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def packed(nums):
    return b"".join(varint(n & 0xFFFFFFFFFFFFFFFF) for n in nums)


def profile(strings, sample_types, samples, functions, locations, extra=b""):
    """sample_types: [(type_idx, unit_idx)]; samples: [(loc_ids, values)];
    functions: [(id, name_idx)]; locations: [(id, [function ids])]"""
    out = bytearray()
    for t, u in sample_types:
        out += field(1, 2, field(1, 0, t) + field(2, 0, u))
    for locs, vals in samples:
        out += field(2, 2, field(1, 2, packed(locs)) + field(2, 2, packed(vals)))
    for lid, fids in locations:
        lines = b"".join(field(4, 2, field(1, 0, f)) for f in fids)
        out += field(4, 2, field(1, 0, lid) + lines)
    for fid, name in functions:
        out += field(5, 2, field(1, 0, fid) + field(2, 0, name))
    for s in strings:
        out += field(6, 2, s)
    return bytes(out) + extra


BASE_STRINGS = [b"", b"samples", b"count", b"main", b"work"]


def simple(**kw):
    args = dict(strings=BASE_STRINGS, sample_types=[(1, 2)],
                samples=[([2, 1], [5])], functions=[(1, 3), (2, 4)],
                locations=[(1, [1]), (2, [2])])
    args.update(kw)
    return profile(**args)


def try_load(db, data):
    p = _run("\\set VERBOSITY verbose\nSELECT stackhouse.total(stackhouse.stacktree_from_pprof(decode('%s', 'hex')));\n"
             % data.hex(), db)
    return p.returncode, p.stdout.strip(), p.stderr


def main():
    db = create_db("pprof_hostile")
    failures = 0

    rc, out, err = try_load(db, simple())
    if rc != 0 or out != "5":
        print("FAIL: the well-formed hand-built profile does not load: %r %r" % (out, err))
        return 1
    # gzip'd as well
    rc, out, err = try_load(db, gzip.compress(simple()))
    if rc != 0 or out != "5":
        print("FAIL: gzipped hand-built profile: %r %r" % (out, err))
        failures += 1

    deep_locs = list(range(1, 100001))
    cases = [
        ("negative value", simple(samples=[([2, 1], [-5])]), "22003", "negative"),
        ("location id not in the profile", simple(samples=[([9], [1])]), "22P03", "location"),
        ("function id not in the profile", simple(locations=[(1, [7]), (2, [2])]), "22P03", "function"),
        ("string index out of range", simple(functions=[(1, 99), (2, 4)]), "22P03", "string"),
        ("first string not empty", simple(strings=[b"x"] + BASE_STRINGS[1:]), "22P03", "string"),
        ("value count differs from sample types", simple(samples=[([1], [1, 2])]), "22P03", "value"),
        ("no sample types", simple(sample_types=[], samples=[]), "22P03", "sample type"),
        ("invalid UTF-8 in a name", simple(strings=BASE_STRINGS + [b"bad\xff\xfe"], functions=[(1, 3), (2, 5)]), "22021", "UTF-8"),
        ("NUL in a name", simple(strings=BASE_STRINGS + [b"nul\x00name"], functions=[(1, 3), (2, 5)]), "22021", "NUL"),
        ("100,000-frame stack", simple(samples=[(deep_locs, [1])], locations=[(i, [1]) for i in deep_locs]), "54000", "depth"),
        ("overflowing sum", simple(samples=[([1], [2**63 - 1]), ([1], [1])]), "22003", "overflow"),
        ("truncated message", simple()[:-3], "22P03", "pprof"),
        ("random bytes", bytes(random.Random(3).randrange(256) for _ in range(300)), "22P03", ""),
    ]
    # a gzip bomb: 1 GiB of zeros in about 1 MiB
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(comp.compress(chunk) for _ in range(1024)) + comp.flush()
    cases.append(("gzip bomb (%d bytes -> 1 GiB)" % len(bomb), bomb, "54000", "exceeds"))
    real = open(os.path.join(DATA, "profiles", "go", "cpu_jsonsvc.pb.gz"), "rb").read()
    cases.append(("truncated real gzip", real[: len(real) // 2], "22P03", "gzip"))
    raw = gzip.decompress(real)
    cases.append(("truncated real profile", raw[: len(raw) // 3], "22P03", "pprof"))

    for name, data, state, word in cases:
        rc, out, err = try_load(db, data)
        if rc == 0:
            print("FAIL: %s: accepted (total %s)" % (name, out))
            failures += 1
        elif state not in err or word.lower() not in err.lower():
            print("FAIL: %s: expected SQLSTATE %s mentioning %r, got: %s"
                  % (name, state, word, err.strip()[:300]))
            failures += 1
        else:
            msg = [l for l in err.splitlines() if "ERROR" in l][0]
            print("ok: %-40s %s" % (name, msg.strip()[:110]))
        if psql_value("SELECT 1", db) != "1":
            print("FAIL: server gone after", name)
            return 1
    drop_db(db)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
