#!/usr/bin/env python3
"""docs/questions.md is true: every ```sql block of the page runs, in order,
in one psql session (the page builds its own TEMP tables), and what psql
prints for it is exactly the ```text block that follows it in the page
(trailing spaces ignored); a ```sql block with no ```text block after it
must print nothing.  The expected outputs in the page were checked by hand
(see the arithmetic in the page's prose: 60-62 units of parse, 20/21 vs
40/41 of gzip per profile)."""

import os
import re
import subprocess
import sys

import sthelper as sh

DB = "stackhouse_docs_questions"
DOC = os.path.join(sh.ROOT, "docs", "questions.md")


def blocks(text):
    """-> list of (sql, expected output or '')"""
    fences = re.findall(r"^```(\w*)\n(.*?)^```\s*$", text, flags=re.M | re.S)
    out = []
    for lang, body in fences:
        if lang == "sql":
            out.append([body, ""])
        elif lang == "text" and out and out[-1][1] == "":
            out[-1][1] = body
    return out


def norm(s):
    return "\n".join(l.rstrip() for l in s.strip("\n").split("\n")).strip("\n")


def main():
    with open(DOC, encoding="utf-8") as f:
        bl = blocks(f.read())
    if len(bl) < 8:
        sh.fail("docs/questions.md has only %d sql blocks" % len(bl))
        return 1
    sh.create_db(DB)
    script = "".join("\\echo @@BLOCK %d@@\n%s\n" % (i, sql) for i, (sql, _) in enumerate(bl))
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB],
                       input=script, capture_output=True, text=True)
    errors = []
    if p.returncode != 0:
        errors.append("psql failed: %s" % p.stderr.strip())
    outs = re.split(r"^@@BLOCK \d+@@\n", p.stdout, flags=re.M)[1:]
    if len(outs) != len(bl):
        errors.append("ran %d of %d blocks" % (len(outs), len(bl)))
    for i, ((sql, want), got) in enumerate(zip(bl, outs)):
        if norm(got) != norm(want):
            errors.append("block %d (%s...): output differs\n--- page:\n%s\n--- psql:\n%s"
                          % (i, sql.strip().split("\n")[0][:60], norm(want), norm(got)))
    sh.drop_db(DB)
    for e in errors:
        sh.fail(e)
    print("%d blocks checked, %d differ" % (len(bl), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
