#!/usr/bin/python3
"""Calls go down the files, never in circles: reads `nm` of the object files
given (a static library's members, .o files, or every .o below a folder),
draws an edge from file A to file B where A uses a symbol B defines, and
fails naming every circle of files with the symbols that close it.

Usage: check_call_graph.py [--nm NM] [--ignore SYMBOL ...] PATH [PATH ...]
  PATH: a static library (libkyborg_dp.a), an object file, or a folder
  searched for *.o (a CMake target's CMakeFiles/<target>.dir).
Exit status: 0 without circles, 1 with, 2 when nothing could be read."""
import argparse
import os
import subprocess
import sys


def objects(paths):
    """The inputs to nm: archives and objects as given, folders expanded."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                out += sorted(os.path.join(root, f) for f in files if f.endswith(".o"))
        else:
            out.append(p)
    return out


def member_name(label):
    """'lib.a[dp_server.c.o]' or 'dir/dp_server.c.o' -> 'dp_server.c'."""
    if label.endswith("]") and "[" in label:
        label = label[label.rindex("[") + 1:-1]
    name = os.path.basename(label)
    return name[:-2] if name.endswith(".o") else name


def read_symbols(nm, files):
    """{file: (defined set, undefined set)} from `nm -A -g -P`."""
    r = subprocess.run([nm, "-A", "-g", "-P"] + files, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("check_call_graph: %s failed: %s" % (nm, r.stderr.strip()))
    syms = {}
    for line in r.stdout.splitlines():
        # "<archive>[<member>]: <name> <type> [<value> <size>]" or "<object>: <name> <type> ..."
        head, sep, rest = line.partition(": ")
        fields = rest.split()
        if not sep or len(fields) < 2:
            continue
        name, kind = fields[0], fields[1]
        defined, undefined = syms.setdefault(member_name(head), (set(), set()))
        if kind in ("U", "w", "v"):
            undefined.add(name)
        else:
            defined.add(name)
    return syms


def edges_of(syms, ignore):
    owner = {}
    for f, (defined, _) in syms.items():
        for s in defined:
            owner[s] = f
    edges = {f: {} for f in syms}
    for f, (_, undefined) in syms.items():
        for s in undefined - ignore:
            g = owner.get(s)
            if g and g != f:
                edges[f].setdefault(g, []).append(s)
    return edges


def circles(edges):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--ignore", action="append", default=[], help="a symbol that draws no edge")
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    files = objects(a.paths)
    if not files:
        print("check_call_graph: no object files in %s" % " ".join(a.paths))
        return 2
    syms = read_symbols(a.nm, files)
    if not syms:
        print("check_call_graph: no symbols read from %s" % " ".join(a.paths))
        return 2
    edges = edges_of(syms, set(a.ignore))
    bad = circles(edges)
    for comp in bad:
        print("check_call_graph: these files call each other in a circle: %s" % ", ".join(comp))
        for f in comp:
            for g in sorted(edges[f]):
                if g in comp:
                    print("  %s -> %s: %s" % (f, g, ", ".join(sorted(set(edges[f][g])))))
    n_edges = sum(len(e) for e in edges.values())
    if bad:
        return 1
    print("check_call_graph: %d files, %d edges between them, no circle" % (len(edges), n_edges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
