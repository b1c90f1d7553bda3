#!/usr/bin/env python3
"""flamegraph_svg output in a real browser.

For a corpus CPU profile and for the A/B diff:
  - `\\o file.svg` + SELECT stackhouse.flamegraph_svg(...) in psql -At gives
    a file that python3's xml.etree parses (well-formed XML, an <svg> root);
  - the widest functions, taken from pprof's own report (the oracle's
    top.default: functions whose cum is at least 25% of the total), appear
    as <text> elements with their complete names (not truncated);
  - headless Chromium (Debian package `chromium`) renders it to a PNG that is
    not blank: the PNG is decoded here (zlib + PNG row filters, stdlib only)
    and must show many distinct colours over a large part of the picture;
  - the diff graph has red (grew) and blue (shrank) frames, and the frame
    of main.applyDiscounts (slowed down deliberately in B) is red.
"""

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

import sthelper as sh

DB = "stackhouse_svg"
NS = "{http://www.w3.org/2000/svg}"


def write_svg(sql, path):
    # exactly what a user does: \o file, then the query, with psql -At
    script = "\\o %s\nSELECT %s;\n\\o\n" % (path, sql)
    p = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", DB], input=script,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)


def png_pixels(path):
    """-> (width, height, list of rows of RGB(A) tuples); 8-bit RGB/RGBA only"""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise ValueError("unsupported PNG format %d/%d/%d" % (depth, ctype, interlace))
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ft = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def screenshot(svg, png):
    prof = tempfile.mkdtemp(prefix="st-chromium-")
    try:
        p = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            "--user-data-dir=" + prof, "--screenshot=" + png,
                            "--window-size=1200,800", "file://" + svg],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    if p.returncode != 0 or not os.path.exists(png):
        raise RuntimeError("chromium failed (%d): %s" % (p.returncode, p.stderr[-2000:]))


def check_png(label, png):
    errors = []
    w, h, rows = png_pixels(png)
    colors = {}
    for r in rows:
        for px in r:
            colors[px] = colors.get(px, 0) + 1
    bg, nbg = max(colors.items(), key=lambda kv: kv[1])
    non_bg = 1.0 - nbg / float(w * h)
    sh.log("%s: %dx%d PNG, %d distinct colours, %.0f%% not the dominant colour" % (label, w, h, len(colors), 100 * non_bg))
    if len(colors) < 50:
        errors.append("%s: only %d distinct colours: blank-looking screenshot" % (label, len(colors)))
    if non_bg < 0.10:
        errors.append("%s: %.1f%% of the picture differs from its dominant colour" % (label, 100 * non_bg))
    return errors


def frames(root):
    """-> list of (title first line, text, fill) per frame group"""
    out = []
    for g in root.iter(NS + "g"):
        if g.get("class") != "f":
            continue
        title = g.find(NS + "title").text or ""
        text = g.find(NS + "text")
        rect = g.find(NS + "rect")
        out.append((title.split("\n")[0], (text.text or "") if text is not None else "", rect.get("fill"),
                    float(rect.get("width"))))
    return out


def main():
    errors = []
    sh.create_db(DB)
    prof = os.path.join(sh.DATA, "profiles", "go")
    sh.load_files("corpus", [("mixed", os.path.join(prof, "cpu_mixed.pb.gz")),
                             ("A", os.path.join(prof, "ab_A_cpu.pb.gz")),
                             ("B", os.path.join(prof, "ab_B_cpu.pb.gz"))], db=DB)
    sh.psql("CREATE TABLE trees AS SELECT name, stackhouse.stacktree_from_pprof(data) AS t FROM corpus", db=DB)
    work = tempfile.mkdtemp(prefix="st-svg-")
    os.chmod(work, 0o755)
    try:
        # 1. plain flame graph of cpu_mixed
        svg = os.path.join(work, "flame.svg")
        write_svg("stackhouse.flamegraph_svg(t, 'cpu_mixed') FROM trees WHERE name = 'mixed'", svg)
        root = ET.parse(svg).getroot()
        if root.tag != NS + "svg":
            errors.append("root element is %s" % root.tag)
        fr = frames(root)
        texts = set(t for _, t, _, _ in fr)
        header, rows = sh.parse_pprof_top(os.path.join(sh.DATA, "oracle", "go", "cpu_mixed", "top.default.txt.gz"))
        total = float(sh.split_value(header["showing"][1])[0]) * sh.UNIT_FACTORS[sh.split_value(header["showing"][1])[1]]
        hot = []
        for flat, cum, name in rows:
            v, u = sh.split_value(cum)
            if float(v) * sh.UNIT_FACTORS[u] >= 0.25 * total:
                hot.append(name)
        if len(hot) < 2:
            errors.append("oracle gives fewer than 2 hot functions: %r" % hot)
        # a label is the full name whenever the frame is wide enough for it
        # (12px Verdana, ~0.59 em per glyph, 3px padding each side), else a
        # prefix + ".." or nothing
        bad = 0
        for name, text, _, width in fr:
            fits = len(name) * 12 * 0.59 + 6 <= width
            if fits and text != name:
                bad += 1
                if bad <= 5:
                    errors.append("frame %r (%.1fpx) is labelled %r" % (name, width, text))
            if not fits and text and not (text.endswith("..") and name.startswith(text[:-2])):
                errors.append("frame %r (%.1fpx) has a label %r that is not a prefix" % (name, width, text))
        shown = [n for n in hot if n in texts]
        narrow = [n for n in hot if n not in texts]
        for n in narrow:
            widest = max((w for nm, _, _, w in fr if nm == n), default=0)
            if len(n) * 12 * 0.59 + 6 <= widest:
                errors.append("hot function %s has a %.1fpx frame but is not shown in full" % (n, widest))
        if len(shown) < 5:
            errors.append("only %d hot functions shown in full: %r" % (len(shown), shown))
        sh.log("hot functions (pprof cum >= 25%%) shown in full: %s" % ", ".join(shown))
        sh.log("hot functions split over frames too narrow for the full name: %s" % (", ".join(narrow) or "none"))
        png = os.path.join(work, "flame.png")
        screenshot(svg, png)
        errors += check_png("flame.svg", png)

        # 2. diff flame graph A -> B
        dsvg = os.path.join(work, "diff.svg")
        write_svg("stackhouse.flamegraph_svg(stackhouse.diff((SELECT t FROM trees WHERE name = 'A'), "
                  "(SELECT t FROM trees WHERE name = 'B'), 'cpu'), 'A/B')", dsvg)
        droot = ET.parse(dsvg).getroot()
        dfr = frames(droot)
        rgb = re.compile(r"rgb\((\d+),(\d+),(\d+)\)")
        reds = blues = 0
        ad_red = False
        for name, _, fill, _ in dfr:
            r, g, b = (int(x) for x in rgb.match(fill).groups())
            if r == 255 and g < 200 and b == g:
                reds += 1
                ad_red |= (name == "main.applyDiscounts")
            if b == 255 and r < 200 and r == g:
                blues += 1
        sh.log("diff.svg: %d frames, %d clearly red, %d clearly blue" % (len(dfr), reds, blues))
        if not reds or not blues:
            errors.append("diff.svg: expected red and blue frames (red %d, blue %d)" % (reds, blues))
        if not ad_red:
            errors.append("diff.svg: main.applyDiscounts is not red")
        dpng = os.path.join(work, "diff.png")
        screenshot(dsvg, dpng)
        errors += check_png("diff.svg", dpng)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sh.drop_db(DB)
    for e in errors:
        sh.fail(e)
    print("%d problems" % len(errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
