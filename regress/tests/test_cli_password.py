"""stackhouse-ingest and passwords, against a server of its own whose
pg_hba.conf asks every role but postgres for a scram-sha-256 password:
-w (--no-password) fails at once with exit 3 and says a password is
needed; without a terminal the default does not prompt either; PGPASSWORD
and a password in the connection string work, a wrong one is refused; on a
terminal (a pseudo-terminal made the CLI's controlling terminal) the CLI
prompts once, "Password for user NAME: ", without echo, and loads; -W
prompts before connecting even when PGPASSWORD is set, and fails without a
terminal.  --help documents -w and -W.  Loaded rows are checked against the
oracle (go tool pprof -raw output)."""

import fcntl
import os
import pty
import subprocess
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import ROOT, DATA, Checks, OwnCluster, psql, psql_value, log  # noqa: E402
import ingest_oracle as orc  # noqa: E402

CLI = os.path.join(ROOT, "ingest-cli", "stackhouse-ingest")
CLUSTER = OwnCluster("cli_password_pg")
DB = "pw"
USER = "pw_user"
PASSWORD = "s3cret pass-\u00e9"   # a space and a non-ASCII letter
PROFILE = os.path.join(DATA, "profiles", "go", "cpu_jsonsvc.pb.gz")
check = Checks()


def env_without_password(**extra):
    e = dict(os.environ)
    e.pop("PGPASSWORD", None)
    e["PGPASSFILE"] = "/nonexistent/pgpass"   # no ~/.pgpass either
    e.update(extra)
    return e


def run(args, **env):
    """No terminal at all: a new session (no controlling tty), stdin /dev/null."""
    p = subprocess.run([CLI, "-d", DB, "-U", USER] + args, capture_output=True,
                       stdin=subprocess.DEVNULL, start_new_session=True,
                       env=env_without_password(**env))
    return p.returncode, p.stderr.decode("utf-8", "replace")


def _make_controlling_tty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_tty(args, answer, **env):
    """Run with a pseudo-terminal as stdin and controlling terminal; answer
    each password prompt with ANSWER.  Returns (rc, stderr, what the
    terminal showed, number of prompts, echo on at the end)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([CLI, "-d", DB, "-U", USER] + args, stdin=slave,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True, preexec_fn=_make_controlling_tty,
                         env=env_without_password(**env))
    os.close(slave)
    shown = b""
    prompts = 0
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:             # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        shown += chunk
        if shown.count(b"Password") > prompts:
            prompts = shown.count(b"Password")
            os.write(master, answer.encode("utf-8") + b"\n")
    err = p.stderr.read().decode("utf-8", "replace")
    rc = p.wait()
    echo = bool(termios.tcgetattr(master)[3] & termios.ECHO)   # the pair's settings
    os.close(master)
    return rc, err, shown.decode("utf-8", "replace"), prompts, echo


def rows_of(service):
    return orc.db_rows(DB, "service = '%s'" % service)


def main():
    if not os.access(CLI, os.X_OK):
        print("FAIL: %s is not built (run make)" % CLI)
        return 1

    # --help documents the options (no server needed)
    p = subprocess.run([CLI, "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "-w, --no-password" in p.stdout and "-W, --password" in p.stdout,
          "--help documents -w/--no-password and -W/--password")
    # both parse (with --dry-run no connection is made)
    for opt in ("-w", "--no-password", "-W", "--password"):
        p = subprocess.run([CLI, opt, "-q", "-n", "-s", "x", PROFILE], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, start_new_session=True)
        check(p.returncode == 0, "%s parses (dry run): exit %d %s" % (opt, p.returncode, p.stderr))

    subprocess.run(["rm", "-rf", CLUSTER.dir])
    os.makedirs(CLUSTER.dir)
    hba = os.path.join(CLUSTER.dir, "hba.conf")
    with open(hba, "w") as f:
        f.write("local all postgres trust\nlocal all all scram-sha-256\n")
    os.chmod(hba, 0o644)
    CLUSTER.start("hba_file = '%s'" % hba)
    try:
        return scenario()
    finally:
        CLUSTER.stop()


def scenario():
    psql("CREATE DATABASE %s;" % DB, db="postgres")
    psql("CREATE EXTENSION stackhouse;\n"
         "CREATE ROLE %s LOGIN PASSWORD '%s';\n"
         "GRANT USAGE ON SCHEMA stackhouse TO %s;\n"
         "GRANT INSERT ON stackhouse.profiles TO %s;\n" % (USER, PASSWORD, USER, USER), db=DB)
    want = orc.expected_rows([PROFILE])

    # the server really asks: psql without a password fails
    r = subprocess.run(["psql", "-X", "-w", "-d", DB, "-U", USER, "-c", "SELECT 1"],
                       capture_output=True, text=True, env=env_without_password())
    check(r.returncode != 0 and "password" in r.stderr, "the server asks %s for a password: %s" % (USER, r.stderr))

    # -w: exit 3 at once, saying why
    rc, err = run(["-w", "-s", "nopw", PROFILE])
    log(err.strip())
    check(rc == 3 and "connection failed" in err and "no password supplied" in err
          and "-w (--no-password)" in err, "-w without a password: exit %d %r" % (rc, err))
    # default, no terminal: no prompt, same exit
    rc, err = run(["-s", "nopw", PROFILE])
    check(rc == 3 and "standard input is not a terminal" in err and "PGPASSWORD" in err,
          "no terminal, no password: exit %d %r" % (rc, err))
    # -W without a terminal
    rc, err = run(["-W", "-s", "nopw", PROFILE])
    check(rc == 3 and "cannot prompt for a password: no terminal" in err,
          "-W without a terminal: exit %d %r" % (rc, err))
    check(psql_value("SELECT count(*) FROM stackhouse.profiles", DB) == "0", "nothing loaded so far")

    # PGPASSWORD (with -w: no prompt needed), a wrong one, the connection string
    rc, err = run(["-w", "-s", "env", PROFILE], PGPASSWORD=PASSWORD)
    check(rc == 0, "PGPASSWORD: exit %d %s" % (rc, err))
    check(rows_of("env") == want, "PGPASSWORD: rows equal the oracle")
    rc, err = run(["-w", "-s", "wrong", PROFILE], PGPASSWORD="not-it")
    check(rc == 3 and "password authentication failed" in err, "wrong PGPASSWORD: exit %d %r" % (rc, err))
    p = subprocess.run([CLI, "-w", "-s", "conninfo", "-d", "dbname=%s user=%s password='%s'" % (DB, USER, PASSWORD),
                        PROFILE], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       start_new_session=True, env=env_without_password())
    check(p.returncode == 0 and rows_of("conninfo") == want,
          "password in the connection string: exit %d %s" % (p.returncode, p.stderr))

    # on a terminal: one prompt, no echo, loads
    rc, err, shown, prompts, echo = run_on_tty(["-s", "tty", PROFILE], PASSWORD)
    check(rc == 0, "terminal prompt: exit %d %s" % (rc, err))
    check(echo, "the terminal echoes again after the prompt")
    check(prompts == 1 and "Password for user %s: " % USER in shown,
          "terminal prompt: %d prompts, terminal showed %r" % (prompts, shown))
    check(PASSWORD not in shown and "s3cret" not in shown, "the password was not echoed: %r" % shown)
    check(rows_of("tty") == want, "terminal prompt: rows equal the oracle")
    # a wrong answer: one prompt only, then exit 3
    rc, err, shown, prompts, echo = run_on_tty(["-s", "tty_wrong", PROFILE], "wrong")
    check(rc == 3 and prompts == 1 and "password authentication failed" in err,
          "wrong answer: exit %d, %d prompts, %r" % (rc, prompts, err))
    # -w on a terminal: never prompts
    rc, err, shown, prompts, echo = run_on_tty(["-w", "-s", "tty_w", PROFILE], PASSWORD)
    check(rc == 3 and prompts == 0, "-w on a terminal: exit %d, %d prompts" % (rc, prompts))
    # -W: prompts before connecting, and the answer wins over PGPASSWORD
    rc, err, shown, prompts, echo = run_on_tty(["-W", "-s", "tty_W", PROFILE], PASSWORD, PGPASSWORD="not-it")
    check(rc == 0 and prompts == 1 and "Password: " in shown, "-W: exit %d, %d prompts, %r %s" % (rc, prompts, shown, err))
    check(rows_of("tty_W") == want, "-W: rows equal the oracle")
    check(psql_value("SELECT count(*) FROM stackhouse.profiles WHERE service IN ('nopw', 'wrong', 'tty_wrong', 'tty_w')",
                     DB) == "0", "failed connections loaded nothing")

    print("%d passed, %d failed" % (0 if check.failures else 1, 1 if check.failures else 0))
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
