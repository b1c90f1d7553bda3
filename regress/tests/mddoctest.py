"""Run the SQL examples of a Markdown page and compare their output.

An example is a ```sql block followed directly (blank lines allowed) by a
``` block with no language (or ```text): the second block is what psql
prints for the first, in psql's default aligned format.  A ```sql block
with no output block after it is run and must succeed.  All blocks of a
page run in order in one fresh database, so later examples see the tables
earlier ones made.  Used by test_docs_*.py so that the docs cannot rot.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sthelper import ROOT, create_db, drop_db  # noqa: E402

FENCE = re.compile(r"^```(\w*)\s*$")


def examples(path):
    """[(lineno, sql, expected or None)] of a Markdown file."""
    blocks = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i + 1
        j = start
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        blocks.append((lang, start, "\n".join(lines[start:j]), j))
        i = j + 1
    out = []
    k = 0
    while k < len(blocks):
        lang, start, body, _ = blocks[k]
        if lang == "sql":
            expected = None
            end = blocks[k][3]
            if (k + 1 < len(blocks) and blocks[k + 1][0] in ("", "text") and
                    all(l.strip() == "" for l in lines[end + 1:blocks[k + 1][1] - 1])):
                expected = blocks[k + 1][2]
                k += 1
            out.append((start, body, expected))
        k += 1
    return out


def normalize(text):
    return "\n".join(l.rstrip() for l in text.strip("\n").split("\n")).strip("\n")


def bless(path, results):
    """Rewrite the output blocks of PATH with RESULTS {sql lineno: output}."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        out.append(lines[i])
        m = FENCE.match(lines[i])
        if m and m.group(1) == "sql" and (i + 1) in results:
            j = i + 1
            while not lines[j].startswith("```"):
                out.append(lines[j])
                j += 1
            out.append(lines[j])
            k = j + 1
            while k < len(lines) and lines[k].strip() == "":
                k += 1
            if k < len(lines) and FENCE.match(lines[k]) and FENCE.match(lines[k]).group(1) in ("", "text"):
                e = k + 1
                while not lines[e].startswith("```"):
                    e += 1
                out.extend(lines[j + 1:k + 1])
                out.extend(normalize(results[i + 1]).split("\n"))
                out.append(lines[e])
                i = e + 1
                continue
            i = j + 1
            continue
        i += 1
    open(path, "w", encoding="utf-8").write("\n".join(out))


def run_page(relpath, setup_sql="", workdir=None):
    """Run every example of ROOT/relpath; returns the number of failures.
    With STACKHOUSE_DOC_BLESS=1 the page's output blocks are rewritten with
    what psql printed (review the diff before committing)."""
    path = os.path.join(ROOT, relpath)
    db = create_db("doc_" + re.sub(r"\W", "_", os.path.basename(relpath))[:40])
    failures = 0
    exs = examples(path)
    if not exs:
        print("FAIL: %s has no SQL examples" % relpath)
        return 1
    results = {}
    for lineno, sql, expected in exs:
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-P", "footer=on",
                            "-d", db], input=setup_sql + sql + "\n", capture_output=True,
                           text=True, cwd=workdir or ROOT)
        got = p.stdout
        wants_error = expected is not None and normalize(expected).startswith(("ERROR:", "psql:"))
        if p.returncode != 0:
            # an example may document an error: its output block then holds
            # psql's error text
            got = p.stdout + "".join(l for l in p.stderr.splitlines(True)
                                     if not l.startswith("psql:<stdin>"))
            got = p.stdout + re.sub(r"^psql:<stdin>:\d+: ", "", p.stderr, flags=re.M)
        results[lineno] = got
        if p.returncode != 0 and not wants_error and not os.environ.get("STACKHOUSE_DOC_BLESS"):
            failures += 1
            print("FAIL: %s:%d: example failed:\n%s" % (relpath, lineno, p.stderr.strip()))
            continue
        if wants_error and p.returncode == 0:
            failures += 1
            print("FAIL: %s:%d: example should fail but succeeded" % (relpath, lineno))
            continue
        if expected is not None and normalize(got) != normalize(expected):
            failures += 1
            print("FAIL: %s:%d: output differs\n--- documented:\n%s\n--- actual:\n%s"
                  % (relpath, lineno, normalize(expected), normalize(got)))
    if os.environ.get("STACKHOUSE_DOC_BLESS") == "1":
        bless(path, results)
        print("%s: output blocks rewritten" % relpath)
    print("%s: %d examples, %d failed" % (relpath, len(exs), failures))
    drop_db(db)
    return failures
