"""stackhouse-ingest with hostile arguments and inputs (dry run, no server):

- --time in Unix seconds and --duration with a unit must not overflow the
  int64 nanoseconds they become (signed overflow gave a wrong year and a
  negative duration): the largest values that fit are accepted and printed
  as Python's datetime computes them, the next ones are usage errors;
- a directory holding symbolic links to its ancestors must not be walked
  forever: links to directories found inside are not followed, links to
  files are read, every file is listed once.
"""
import datetime
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import Checks, ROOT  # noqa: E402

CLI = os.path.join(ROOT, "ingest-cli", "stackhouse-ingest")
check = Checks()
INT64_MAX = 2 ** 63 - 1


def run(args):
    p = subprocess.run([CLI, "-n", "-q"] + args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def rows(out):
    return [l.split("\t") for l in out.splitlines() if l]


def time_and_duration(tmp):
    f = os.path.join(tmp, "one.folded")
    with open(f, "w") as fh:
        fh.write("main;f 1\n")
    max_s = INT64_MAX // 10 ** 9 - 1          # seconds whose nanoseconds fit
    rc, out, err = run(["--time", str(max_s), f])
    want = datetime.datetime.fromtimestamp(max_s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    check(rc == 0 and rows(out) and rows(out)[0][1] == want,
          "--time %d is %s: %r %s" % (max_s, want, out.strip(), err.strip()))
    for bad in (str(max_s + 1), "99999999999", "999999999999"):
        rc, out, err = run(["--time", bad, f])
        check(rc == 2 and "invalid --time" in err, "--time %s is a usage error (rc %d)" % (bad, rc))

    for arg, secs in (("%dh" % (max_s // 3600), max_s // 3600 * 3600),
                      ("%dm" % (max_s // 60), max_s // 60 * 60),
                      ("%d" % max_s, max_s)):
        rc, out, err = run(["--duration", arg, f])
        check(rc == 0 and rows(out) and rows(out)[0][2] == "%d.000" % secs,
              "--duration %s is %d s: %r %s" % (arg, secs, out.strip(), err.strip()))
    for bad in ("%dh" % (max_s // 3600 + 1), "%dm" % (max_s // 60 + 1), "9999999999h", "999999999999m"):
        rc, out, err = run(["--duration", bad, f])
        check(rc == 2 and "invalid --duration" in err, "--duration %s is a usage error (rc %d)" % (bad, rc))


def symlink_loops(tmp):
    d = os.path.join(tmp, "tree")
    os.makedirs(os.path.join(d, "sub"))
    with open(os.path.join(d, "a.folded"), "w") as fh:
        fh.write("main;a 1\n")
    with open(os.path.join(d, "sub", "b.folded"), "w") as fh:
        fh.write("main;b 2\n")
    os.symlink("..", os.path.join(d, "up1"))
    os.symlink("..", os.path.join(d, "up2"))
    os.symlink(os.path.join("..", ".."), os.path.join(d, "sub", "loop"))
    os.symlink(d, os.path.join(d, "sub", "self"))
    os.symlink(os.path.join("sub", "b.folded"), os.path.join(d, "link.folded"))
    rc, out, err = run([d])
    got = [(r[0], r[6]) for r in rows(out)]
    want = [(os.path.join(d, "a.folded"), "samples=1"),
            (os.path.join(d, "link.folded"), "samples=2"),
            (os.path.join(d, "sub", "b.folded"), "samples=2")]
    check(rc == 0 and got == want,
          "a directory with links to its ancestors: each file once, links to files read: %r (rc %d %s)"
          % (got, rc, err.strip()))


def main():
    with tempfile.TemporaryDirectory(dir=os.environ.get("STACKHOUSE_TMP")) as tmp:
        time_and_duration(tmp)
        symlink_loops(tmp)
    print("%d failures" % len(check.failures))
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
