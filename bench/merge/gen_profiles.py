#!/usr/bin/env python3
"""bench/merge/gen_profiles.py -- real-shaped CPU profiles for the merge benchmark.

Usage: gen_profiles.py OUTDIR N [--seed S] [--series DIR]

Writes OUTDIR/cpu_00000.pb.gz ... (N files).  Profile i is the real Go CPU
profile regress/data/profiles/go/series/cpu_{i % 30}.pb.gz with its samples
perturbed: each sample's samples/count value is scaled by a random factor in
[0.5, 1.5] and rounded (at least 1), cpu/nanoseconds is set to count * period
so the two columns stay consistent, ~10% of the samples are dropped, and
time_nanos is set to a 10-second spacing.  Everything else (locations,
functions, mappings, string table, labels) is kept byte for byte.  The seed
is fixed, so the output is deterministic.

python3 stdlib only: a minimal protobuf wire-format reader/writer.
"""
import argparse
import glob
import gzip
import os
import random
import sys

# ---- protobuf wire format ---------------------------------------------------

WT_VARINT, WT_I64, WT_LEN, WT_I32 = 0, 1, 2, 5


def read_varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long")


def write_varint(out, v):
    if v < 0:
        v &= (1 << 64) - 1  # int64 negatives: 10-byte two's complement
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def fields(buf):
    """Yield (field_number, wire_type, value, raw_bytes) for each field of a
    message; value is an int for varint/fixed, a bytes slice for LEN."""
    pos = 0
    n = len(buf)
    while pos < n:
        start = pos
        key, pos = read_varint(buf, pos)
        fno, wt = key >> 3, key & 7
        if wt == WT_VARINT:
            val, pos = read_varint(buf, pos)
        elif wt == WT_I64:
            val = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == WT_LEN:
            ln, pos = read_varint(buf, pos)
            if pos + ln > n:
                raise ValueError("truncated length-delimited field")
            val = buf[pos:pos + ln]
            pos += ln
        elif wt == WT_I32:
            val = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        if pos > n:
            raise ValueError("truncated field")
        yield fno, wt, val, buf[start:pos]


def unpack_varints(b):
    out = []
    pos = 0
    while pos < len(b):
        v, pos = read_varint(b, pos)
        out.append(v)
    return out


def to_int64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def put_key(out, fno, wt):
    write_varint(out, (fno << 3) | wt)


def put_len(out, fno, payload):
    put_key(out, fno, WT_LEN)
    write_varint(out, len(payload))
    out += payload


def put_packed(out, fno, ints):
    body = bytearray()
    for v in ints:
        write_varint(body, v)
    put_len(out, fno, body)


# ---- pprof Profile ----------------------------------------------------------

class Profile:
    """The parts of a Profile we touch; every other field kept raw, in order."""

    def __init__(self, data):
        self.parts = []          # ("raw", bytes) | ("samples",) | ("time",)
        self.samples = []        # (location_ids, values, raw label fields)
        self.strings = []
        self.sample_types = []   # (type string index, unit string index)
        self.period = 0
        have_samples = have_time = False
        for fno, wt, val, raw in fields(data):
            if fno == 2 and wt == WT_LEN:
                self.samples.append(self._sample(val))
                if not have_samples:
                    self.parts.append(("samples",))
                    have_samples = True
                continue
            if fno == 9:
                if not have_time:
                    self.parts.append(("time",))
                    have_time = True
                continue
            if fno == 1 and wt == WT_LEN:
                st = {1: 0, 2: 0}
                for f2, w2, v2, _ in fields(val):
                    if w2 == WT_VARINT and f2 in st:
                        st[f2] = v2
                self.sample_types.append((st[1], st[2]))
            elif fno == 6 and wt == WT_LEN:
                self.strings.append(bytes(val).decode("utf-8", "replace"))
            elif fno == 12 and wt == WT_VARINT:
                self.period = to_int64(val)
            self.parts.append(("raw", bytes(raw)))
        if not have_time:
            self.parts.append(("time",))
        if not have_samples:
            self.parts.append(("samples",))

    @staticmethod
    def _sample(buf):
        locs, vals, labels = [], [], []
        for fno, wt, val, raw in fields(buf):
            if fno == 1:
                locs.extend(unpack_varints(val) if wt == WT_LEN else [val])
            elif fno == 2:
                vals.extend(unpack_varints(val) if wt == WT_LEN else [val])
            else:
                labels.append(bytes(raw))
        return locs, [to_int64(v) for v in vals], labels

    def column(self, name):
        for i, (t, _) in enumerate(self.sample_types):
            if 0 <= t < len(self.strings) and self.strings[t] == name:
                return i
        return -1

    def encode(self, samples, time_nanos):
        out = bytearray()
        for part in self.parts:
            if part[0] == "raw":
                out += part[1]
            elif part[0] == "time":
                put_key(out, 9, WT_VARINT)
                write_varint(out, time_nanos)
            else:
                for locs, vals, labels in samples:
                    body = bytearray()
                    if locs:
                        put_packed(body, 1, locs)
                    if vals:
                        put_packed(body, 2, vals)
                    for lab in labels:
                        body += lab
                    put_len(out, 2, body)
        return bytes(out)


def perturb(prof, rng):
    """A perturbed copy of prof's samples (prof itself is not changed)."""
    ci = prof.column("samples")
    pi = prof.column("cpu")
    if ci < 0 or pi < 0 or prof.period <= 0:
        raise ValueError("not a CPU profile with samples/count and cpu columns")
    kept = []
    for locs, vals, labels in prof.samples:
        if rng.random() < 0.10:
            continue
        count = max(1, round(vals[ci] * rng.uniform(0.5, 1.5)))
        vals = list(vals)
        vals[ci] = count
        vals[pi] = count * prof.period
        kept.append((locs, vals, labels))
    return kept


BASE_TIME_NS = 1_790_000_000 * 1_000_000_000  # 2026-09-21, fixed
SPACING_NS = 10 * 1_000_000_000


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=20260921)
    ap.add_argument("--series", default=os.path.join(
        here, "..", "..", "regress", "data", "profiles", "go", "series"))
    args = ap.parse_args()

    srcs = sorted(glob.glob(os.path.join(args.series, "cpu_*.pb.gz")))
    if not srcs:
        sys.exit("no cpu_*.pb.gz in %s" % args.series)
    profs = [Profile(gzip.decompress(open(p, "rb").read())) for p in srcs]
    os.makedirs(args.outdir, exist_ok=True)
    rng = random.Random(args.seed)
    width = max(5, len(str(args.n - 1)))
    for i in range(args.n):
        prof = profs[i % len(profs)]
        data = prof.encode(perturb(prof, rng), BASE_TIME_NS + i * SPACING_NS)
        path = os.path.join(args.outdir, "cpu_%0*d.pb.gz" % (width, i))
        with open(path, "wb") as f:
            # level 1 = gzip.BestSpeed, as runtime/pprof writes;
            # mtime=0: byte-identical output across runs
            f.write(gzip.compress(data, compresslevel=1, mtime=0))
    print("wrote %d profiles to %s (from %d series files)" %
          (args.n, args.outdir, len(srcs)))


if __name__ == "__main__":
    main()
