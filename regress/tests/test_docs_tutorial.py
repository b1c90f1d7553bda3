"""Every example in docs/tutorial.md, docs/ci-recipe.md and docs/cli.md is
run, in order, one fresh database per document, and its shown output is
compared with what it prints.

Fenced blocks:
  ```sql   run with psql (aligned output, ON_ERROR_STOP) in the document's db
  ```sh    run with bash -euo pipefail from the repository root
  ```yaml  a GitHub Actions step: its `env:` is exported, its `run: |` body is
           run as a ```sh block
  ```text  right after one of the above: its expected standard output
Commands find `psql` and `stackhouse-ingest` (the one built in ingest-cli/)
on PATH; PGHOST/PGPORT/PGUSER come from the harness, PGDATABASE is the
document's database.  Set STACKHOUSE_DOCS_PRINT=1 to print actual outputs.
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import ROOT, create_db, drop_db  # noqa: E402

DOCS = ["tutorial.md", "ci-recipe.md", "cli.md"]
BLOCK_RE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.S | re.M)


def yaml_step(text):
    """env: and run: | of one GitHub Actions step (the subset we write)."""
    env, run, mode, indent = {}, [], None, None
    for line in text.split("\n"):
        s = line.strip()
        if mode == "run":
            if s and indent is None:
                indent = len(line) - len(line.lstrip())
            if s and len(line) - len(line.lstrip()) < (indent or 0):
                mode = None
            else:
                run.append(line[indent or 0:])
                continue
        if re.match(r"^\s*-?\s*env:\s*$", line):
            mode = "env"
        elif re.match(r"^\s*-?\s*run:\s*\|\s*$", line):
            mode, indent = "run", None
        elif mode == "env" and ":" in s:
            k, v = s.split(":", 1)
            env[k.strip()] = v.strip().strip('"')
    return env, "\n".join(run)


def normalize(out):
    return "\n".join(l.rstrip() for l in out.strip("\n").split("\n"))


def run_doc(name):
    db = "docs_" + re.sub(r"\W", "_", name[:-3])
    create_db(db, extension=False)
    env = dict(os.environ, PGDATABASE=db,
               PATH=os.path.join(ROOT, "ingest-cli") + os.pathsep + os.environ["PATH"])
    with open(os.path.join(ROOT, "docs", name), encoding="utf-8") as f:
        text = f.read()
    blocks = BLOCK_RE.findall(text)
    failures, nrun = [], 0
    i = 0
    while i < len(blocks):
        kind, body = blocks[i]
        expected = None
        if i + 1 < len(blocks) and blocks[i + 1][0] == "text":
            expected = blocks[i + 1][1]
        if kind == "text":
            i += 1
            continue
        if kind == "sql":
            p = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", db], input=body,
                               capture_output=True, text=True, env=env)
        elif kind in ("sh", "bash", "yaml"):
            e = dict(env)
            script = body
            if kind == "yaml":
                extra, script = yaml_step(body)
                e.update(extra)
            p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT,
                               capture_output=True, text=True, env=e)
        else:
            failures.append("%s: block %d: unknown fence %r" % (name, i, kind))
            i += 1
            continue
        nrun += 1
        where = "%s: %s block %d (%s...)" % (name, kind, i, body.strip().split("\n")[0][:60])
        if os.environ.get("STACKHOUSE_DOCS_PRINT"):
            print("=== %s\n%s%s" % (where, p.stdout, p.stderr))
        if p.returncode != 0:
            failures.append("%s exited %d:\n%s%s" % (where, p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
        elif expected is not None and normalize(p.stdout) != normalize(expected):
            failures.append("%s output differs:\n--- shown\n%s\n--- actual\n%s" %
                            (where, normalize(expected), normalize(p.stdout)))
        i += 2 if expected is not None else 1
    drop_db(db)
    print("%s: %d blocks run, %d failed" % (name, nrun, len(failures)), flush=True)
    if nrun == 0:
        failures.append("%s: no runnable block" % name)
    return failures


def main():
    failures = []
    for d in DOCS:
        failures += run_doc(d)
    for f in failures:
        print("FAIL: " + f)
    print("%d passed, %d failed" % (len(DOCS) - len({f.split(":")[0] for f in failures}),
                                    len({f.split(":")[0] for f in failures})))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
