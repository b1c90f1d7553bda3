"""Helpers for stackhouse integration tests (python3, standard library only).

The test driver (regress/run_tests.sh) starts a throwaway server and exports
PGHOST, PGPORT, PGUSER (and PGDATABASE) plus STACKHOUSE_ROOT (the repository
root); every helper here connects through psql with that environment.

    from sthelper import psql, psql_expect_error, load_files, create_db
    db = create_db("mytest")                 # fresh database + CREATE EXTENSION
    load_files("corpus", paths, db=db)       # (name text, data bytea), client side
    rows = psql("SELECT 1, 'x'", db=db)      # -> [('1', 'x')]

Oracle helpers for `go tool pprof -top` output: parse_pprof_top(), pprof_format(),
split_value(), read_sample_types().
"""

import csv
import gzip
import io
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.environ.get("STACKHOUSE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "regress", "data")

# psql prints NULL as this (CSV output cannot tell NULL from '' otherwise)
_NULL = "\x01NULL\x01"


class PsqlError(Exception):
    """psql failed; .stderr holds its error output."""

    def __init__(self, sql, returncode, stderr):
        self.sql = sql
        self.returncode = returncode
        self.stderr = stderr
        short = sql if len(sql) < 400 else sql[:400] + "..."
        super().__init__("psql exited %d\n--- sql:\n%s\n--- stderr:\n%s"
                         % (returncode, short, stderr.rstrip()))


def _psql_cmd(db):
    cmd = ["psql", "-X", "-q", "--csv", "-t", "-v", "ON_ERROR_STOP=1",
           "-P", "null=" + _NULL]
    if db is not None:
        cmd += ["-d", db]
    return cmd


def _run(sql, db):
    return subprocess.run(_psql_cmd(db), input=sql, capture_output=True,
                          text=True, encoding="utf-8", errors="surrogateescape")


def psql(sql, db=None):
    """Run SQL (one or more statements) and return the result rows of every
    row-returning statement as a list of tuples of strings (None for NULL).
    Raises PsqlError (with psql's stderr) if anything fails."""
    p = _run(sql, db)
    if p.returncode != 0:
        raise PsqlError(sql, p.returncode, p.stderr)
    rows = []
    for rec in csv.reader(io.StringIO(p.stdout, newline="")):
        rows.append(tuple(None if f == _NULL else f for f in rec))
    return rows


def psql_value(sql, db=None):
    """The single value of a one-row, one-column query."""
    rows = psql(sql, db)
    if len(rows) != 1 or len(rows[0]) != 1:
        raise AssertionError("expected one value from %r, got %r" % (sql, rows[:5]))
    return rows[0][0]


def psql_expect_error(sql, db=None):
    """Run SQL that must fail; return psql's stderr (the error text).
    Raises AssertionError if it succeeds."""
    p = _run(sql, db)
    if p.returncode == 0:
        raise AssertionError("expected an error from:\n%s\nbut it succeeded, output:\n%s"
                             % (sql, p.stdout[:2000]))
    return p.stderr


def lit(s):
    """SQL string literal."""
    if s is None:
        return "NULL"
    return "'" + str(s).replace("'", "''") + "'"


def ident(s):
    """SQL identifier (quoted only if needed)."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?", s):
        return s
    return '"' + s.replace('"', '""') + '"'


def array_lit(items):
    """ARRAY['a','b']::text[]"""
    return "ARRAY[" + ",".join(lit(x) for x in items) + "]::text[]"


def create_db(name, extension=True):
    """(Re)create database NAME (dropping any previous one) and, unless
    extension=False, CREATE EXTENSION stackhouse in it.  Returns NAME."""
    psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % ident(name), db="postgres")
    psql("CREATE DATABASE %s;" % ident(name), db="postgres")
    if extension:
        psql("CREATE EXTENSION stackhouse;", db=name)
    return name


def drop_db(name):
    psql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % ident(name), db="postgres")


def _copy_text_escape(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def load_files(table, paths, db=None, names=None):
    """Load files into TABLE (name text, data bytea), created if missing.

    paths: file paths; each row's name is the path as given unless NAMES (a
    list of the same length) is passed, or an item is a (name, path) pair.
    Uses a client-side \\copy, so the server never reads the files.
    Returns the number of rows loaded."""
    items = []
    for i, p in enumerate(paths):
        if isinstance(p, (tuple, list)):
            items.append((p[0], p[1]))
        else:
            items.append((names[i] if names is not None else p, p))
    psql("CREATE TABLE IF NOT EXISTS %s (name text, data bytea);" % ident(table), db)
    fd, tmp = tempfile.mkstemp(prefix="sthelper-", suffix=".tsv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for name, path in items:
                with open(path, "rb") as src:
                    data = src.read()
                # COPY text format: a backslash is escaped, so \\x... is bytea's \x...
                f.write("%s\t\\\\x%s\n" % (_copy_text_escape(str(name)), data.hex()))
        psql("\\copy %s (name, data) from '%s'\n" % (ident(table), tmp.replace("'", "''")), db)
    finally:
        os.unlink(tmp)
    return len(items)


# ---------------------------------------------------------------------------
# go tool pprof -top oracle

# pprof's unit table (github.com/google/pprof internal/measurement, as vendored
# in Go 1.19): factor from the base unit (nanoseconds / bytes) to the suffix.
UNIT_FACTORS = {
    "": 1,
    "ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "hrs": 3600e9,
    "B": 1, "kB": float(1 << 10), "MB": float(1 << 20), "GB": float(1 << 30),
    "TB": float(1 << 40), "PB": float(1 << 50),
}

_VALUE_RE = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$")


def split_value(s):
    """'3.54s' -> ('3.54', 's'); '497' -> ('497', ''); '0' -> ('0', '')."""
    m = _VALUE_RE.match(s)
    if not m:
        raise ValueError("not a pprof value: %r" % s)
    return m.group(1), m.group(2)


def base_suffix(unit):
    """The pprof suffix of a sample type's base unit: nanoseconds -> 'ns',
    bytes -> 'B', anything else (count...) -> ''."""
    u = unit.lower()
    if len(u) > 2:
        u = u[:-1] if u.endswith("s") else u
    if u in ("ns", "nanosecond"):
        return "ns"
    if u in ("b", "byte"):
        return "B"
    return ""


def pprof_format(value, suffix):
    """Render an exact integer VALUE (in the base unit: ns, bytes, or a count)
    the way pprof prints it in the unit SUFFIX ('s', 'ms', 'kB', '' ...):
    scale, %.2f, strip a trailing '.00', and '0' for anything that rounds to 0."""
    if suffix not in UNIT_FACTORS:
        raise ValueError("unknown pprof unit suffix %r" % suffix)
    value = int(value)
    neg = value < 0
    v = float(-value if neg else value) / UNIT_FACTORS[suffix]
    if neg:
        v = -v
    sv = "%.2f" % v
    if sv.endswith(".00"):
        sv = sv[:-3]
    if sv in ("0", "-0"):
        return "0"
    return sv + suffix


def _open_text(path):
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


_TOP_ROW_RE = re.compile(
    r"^\s*(\S+)\s+(\S+%)\s+(\S+%)\s+(\S+)\s+(\S+%)\s+(.*)$")
_SHOWING_RE = re.compile(
    r"^Showing nodes accounting for (\S+), (\S+%) of (\S+) total")


def parse_pprof_top(path):
    """Parse `go tool pprof -top` output (gzip'd or plain).

    Returns (header, rows):
      header: dict of the 'Key: value' lines (File, Type, Time, Duration...),
              plus 'showing' = (accounted_str, total_str) from the
              'Showing nodes accounting for X, P% of Z total' line, 'dropped'
              = list of 'Dropped ...' lines, and 'inline' = {name: tag} for
              rows that carried ' (inline)' / ' (partial-inline)'.
      rows:   list of (flat_str, cum_str, name) with the inline tag stripped.
    """
    header = {"dropped": [], "inline": {}}
    rows = []
    in_rows = False
    with _open_text(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not in_rows:
                if re.match(r"^\s*flat\s+flat%\s+sum%\s+cum\s+cum%\s*$", line):
                    in_rows = True
                    continue
                m = _SHOWING_RE.match(line)
                if m:
                    header["showing"] = (m.group(1), m.group(3))
                    continue
                if line.startswith("Dropped "):
                    header["dropped"].append(line)
                    continue
                if ": " in line:
                    k, v = line.split(": ", 1)
                    header[k.strip()] = v.strip()
                continue
            if not line.strip():
                continue
            m = _TOP_ROW_RE.match(line)
            if not m:
                raise ValueError("%s: cannot parse top row %r" % (path, line))
            name = m.group(6)
            for tag in (" (inline)", " (partial-inline)"):
                if name.endswith(tag):
                    name = name[:-len(tag)]
                    header["inline"][name] = tag.strip()
                    break
            rows.append((m.group(1), m.group(4), name))
    if not in_rows and "showing" not in header:
        raise ValueError("%s: does not look like pprof -top output" % path)
    return header, rows


def read_sample_types(path):
    """Parse an oracle sample_types.txt: lines 'index type unit [default]'.
    Returns a list of (idx:int, type, unit, is_default:bool)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            out.append((int(parts[0]), parts[1], parts[2],
                        len(parts) > 3 and parts[3] == "default"))
    return out


def report_unit(header, rows):
    """The unit suffix a -top report uses (pprof picks one per report)."""
    for s in [header.get("showing", ("0", "0"))[1]] + [r[1] for r in rows] + [r[0] for r in rows]:
        if s != "0":
            return split_value(s)[1]
    return ""


def log(msg):
    print(msg, flush=True)


def fail(msg):
    print("FAIL: " + msg, file=sys.stdout, flush=True)


# ---------------------------------------------------------------- own servers
# Tests of the background workers need a server of their own (started with
# shared_preload_libraries, killed with SIGKILL, restarted...).

_CLUSTER_SH = os.environ.get("STACKHOUSE_PG_CLUSTER") or os.path.join(
    ROOT, "regress", "pg_cluster.sh")


class OwnCluster:
    """A throwaway server in $STACKHOUSE_TMP/NAME managed by
    regress/pg_cluster.sh; start() exports PGHOST/PGPORT so that psql()
    and friends talk to it."""

    def __init__(self, name):
        self.dir = os.path.join(os.environ.get("STACKHOUSE_TMP") or "/tmp", name)

    def _pgc(self, cmd, *args):
        p = subprocess.run(["bash", "-c", 'source "$0" && ' + cmd + ' "$@" >&2 && echo "$PGHOST $PGPORT"',
                            _CLUSTER_SH] + list(args), capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("%s failed: %s" % (cmd, p.stderr[-2000:]))
        return p.stdout.split()

    def start(self, *conf):
        """Start (initdb on first use), appending postgresql.conf lines."""
        host, port = self._pgc("pgc_start", self.dir, *conf)
        os.environ["PGHOST"], os.environ["PGPORT"] = host, port

    def stop(self):
        subprocess.run(["bash", "-c", 'source "$0" && pgc_stop "$1"', _CLUSTER_SH, self.dir])

    def log(self):
        with open(os.path.join(self.dir, "log"), encoding="utf-8", errors="replace") as f:
            return f.read()

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def running(self):
        pid = self.postmaster_pid()
        return pid is not None and process_alive(pid)


def process_alive(pid):
    """The process exists (a zombie too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Checks:
    """Collects a test's failures: check(cond, msg) prints ok/FAIL."""

    def __init__(self):
        self.failures = []

    def __call__(self, cond, msg):
        print(("ok: " if cond else "FAIL: ") + msg, flush=True)
        if not cond:
            self.failures.append(msg)
        return cond


def wait_for(what, fn, poll=0.2, give_up=None):
    """Poll fn() until it returns something true, and return that.  There is
    no time limit (no test has one): give_up(), when given, is asked every
    round whether the wait can still end well (e.g. "the server is gone");
    when it returns true the wait fails at once with AssertionError."""
    import time
    t0 = time.monotonic()
    while True:
        v = fn()
        if v:
            print("   (%s after %.1fs)" % (what, time.monotonic() - t0), flush=True)
            return v
        if give_up is not None and give_up():
            raise AssertionError("gave up waiting for: " + what)
        time.sleep(poll)
