#!/usr/bin/python3
"""Checks the README and the reference under docs/ against the repository.

- Every ```json block in README.md and docs/*.md parses as JSON. A block that
  is deliberately partial or annotated is fenced with another info string
  (```jsonc, ```text, ...) and is not checked; whole configs are checked
  against the binaries themselves by check_manifests.py (manifests/, examples/).
- Every relative link there ([text](path), [text](path#heading), [text](#heading),
  [label]: path) points to a file or folder of the repository, and an anchor
  to a heading of the page it names (GitHub's heading ids).
- README.md stays a front page: under 160 lines, with a quick start whose
  commands run scripts that exist.

Before it checks the real pages it runs the same checks on small broken pages
of its own and fails unless each fault is found, so a check that can no
longer fail does not pass in silence.

Usage: check_docs.py --source DIR
Runs with /usr/bin/python3 (standard library only)."""
import argparse
import glob
import json
import os
import re
import sys
import tempfile

README_MAX_LINES = 160

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def split_blocks(text):
    """(prose lines with their numbers, code blocks as (line, info, body))."""
    prose, blocks = [], []
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence = (m.group(2)[0], len(m.group(2)), n, m.group(3).lower(), [])
            else:
                prose.append((n, line))
        elif m and m.group(2)[0] == fence[0] and len(m.group(2)) >= fence[1] and not m.group(3):
            blocks.append((fence[2], fence[3], "\n".join(fence[4])))
            fence = None
        else:
            fence[4].append(line)
    if fence is not None:
        blocks.append((fence[2], fence[3], None))
    return prose, blocks


def slug(heading):
    """GitHub's id for a heading: link text kept, markup and punctuation gone."""
    text = INLINE_LINK.sub(lambda m: m.group(1), heading)
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    with open(path, encoding="utf-8") as f:
        prose, _ = split_blocks(f.read())
    seen, out = {}, set()
    for _, line in prose:
        m = HEADING.match(line)
        if not m:
            continue
        s = slug(m.group(2))
        k = seen.get(s, 0)
        seen[s] = k + 1
        out.add(s if k == 0 else "%s-%d" % (s, k))
    return out


def links(prose):
    for n, line in prose:
        m = REF_LINK.match(line)
        if m:
            yield n, m.group(1)
            continue
        bare = CODE_SPAN.sub("", line)
        for m in INLINE_LINK.finditer(bare):
            yield n, m.group(2)


def check_page(root, path, problems):
    rel = os.path.relpath(path, root)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    prose, blocks = split_blocks(text)
    for n, info, body in blocks:
        if body is None:
            problems.append("%s:%d: a code block that never ends" % (rel, n))
        elif info == "json":
            try:
                json.loads(body)
            except ValueError as e:
                problems.append("%s:%d: a ```json block that is not JSON (%s); fence a partial "
                                "example as ```jsonc" % (rel, n, e))
    for n, target in links(prose):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        file_part, _, frag = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not (dest + os.sep).startswith(os.path.normpath(root) + os.sep) and dest != os.path.normpath(root):
            problems.append("%s:%d: link %s leaves the repository" % (rel, n, target))
            continue
        if not os.path.exists(dest):
            problems.append("%s:%d: link %s: no such file %s" % (rel, n, target, os.path.relpath(dest, root)))
            continue
        if frag and dest.endswith(".md") and frag not in anchors(dest):
            problems.append("%s:%d: link %s: %s has no heading #%s" % (
                rel, n, target, os.path.relpath(dest, root), frag))
    return prose, blocks


def check_front_page(root, path, prose, blocks, problems):
    rel = os.path.relpath(path, root)
    lines = len(open(path, encoding="utf-8").read().rstrip("\n").split("\n"))
    if lines >= README_MAX_LINES:
        problems.append("%s: %d lines; the front page stays under %d, the reference goes to docs/" % (
            rel, lines, README_MAX_LINES))
    start = None
    for n, line in prose:
        m = HEADING.match(line)
        if m and re.search(r"quick ?start", m.group(2), re.I):
            start = n
        elif m and start is not None:
            break
    if start is None:
        problems.append("%s: no \"Quick start\" heading" % rel)
        return
    scripts = []
    for n, info, body in blocks:
        if n > start and info in ("sh", "bash", "console", "shell") and body:
            for line in body.split("\n"):
                cmd = line.split("#", 1)[0].split()
                if cmd:
                    scripts.append((n, cmd[1] if cmd[0] in ("bash", "sh") and len(cmd) > 1 else cmd[0]))
            break
    if not scripts:
        problems.append("%s: the quick start has no commands" % rel)
    for n, script in scripts:
        p = os.path.join(root, script)
        if not os.path.isfile(p):
            problems.append("%s:%d: the quick start runs %s, which does not exist" % (rel, n, script))


def check_tree(root):
    problems = []
    pages = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    checked = {"json": 0, "links": 0}
    for path in pages:
        if not os.path.exists(path):
            problems.append("%s: missing" % os.path.relpath(path, root))
            continue
        prose, blocks = check_page(root, path, problems)
        checked["json"] += sum(1 for _, info, _ in blocks if info == "json")
        checked["links"] += sum(1 for _ in links(prose))
        if os.path.basename(path) == "README.md" and os.path.dirname(path) == root:
            check_front_page(root, path, prose, blocks, problems)
    return problems, len(pages), checked


def self_test():
    """The checks must find each fault planted in a small broken tree."""
    faults = {
        "bad json": "a ```json block that is not JSON",
        "dead link": "no such file docs/nowhere.md",
        "dead anchor": "has no heading #no-such-heading",
        "dead own anchor": "README.md has no heading #nothing",
        "escape": "leaves the repository",
        "long": "the front page stays under",
        "quick start": "the quick start runs ./scripts/gone.sh",
    }
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "docs"))
        os.makedirs(os.path.join(d, "scripts"))
        open(os.path.join(d, "scripts", "demo.sh"), "w").close()
        with open(os.path.join(d, "docs", "a.md"), "w") as f:
            f.write("# A page\n\n## The `config`, here\n\n```json\n{ \"a\": 1, }\n```\n\n"
                    "```jsonc\n{ \"partial\": ... }\n```\n\n"
                    "[ok](#the-config-here) [ok](../README.md#kyborg) [gone](nowhere.md) "
                    "`[not a link](nowhere.md)` [x](../README.md#no-such-heading) [out](../../etc)\n")
        with open(os.path.join(d, "README.md"), "w") as f:
            f.write("# Kyborg\n\n## Quick start\n\n```sh\n./scripts/demo.sh\n./scripts/gone.sh   # no\n```\n\n"
                    "[a](docs/a.md#a-page) [self](#nothing)\n" + "line\n" * README_MAX_LINES)
        problems, _, _ = check_tree(d)
    ok = True
    for name, text in faults.items():
        if not any(text in p for p in problems):
            print("SELF-TEST FAILED: the checker missed %s (%s)" % (name, text), file=sys.stderr)
            ok = False
    wrong = [p for p in problems if not any(t in p for t in faults.values())]
    for p in wrong:
        print("SELF-TEST FAILED: a fault that is none: %s" % p, file=sys.stderr)
        ok = False
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    if not self_test():
        return 1
    root = os.path.realpath(a.source)
    problems, pages, checked = check_tree(root)
    for p in problems:
        print("FAIL %s" % p, file=sys.stderr)
    if problems:
        return 1
    print("check_docs: %d pages, %d ```json blocks parse, %d links resolve, README under %d lines" % (
        pages, checked["json"], checked["links"], README_MAX_LINES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
