#!/usr/bin/python3
"""No function is called across a circle of files: calls go down the files.

Reads the objects of a front end (static archives, whose members are one
object per source file, and plain objects) with nm, draws the file-level
call graph (file A calls file B when A uses a function that B defines) and
fails naming each circle with the functions that close it. Static functions
never leave their file, so only calls between files are seen.

Usage: check_calls.py [--nm NM] [--data] FILE.a|FILE.o...
  --data  count uses of global data as calls too (default: functions only)
Exits 0 with the files in call order (lowest first), 1 naming each circle.
"""
import os
import subprocess
import sys


def symbols(nm, path):
    """(file, symbol, type) for every symbol nm lists in path."""
    out = subprocess.run([nm, "-A", "-P", path], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        # "lib.a[member.c.o]: name T 0 10", "obj.c.o: name U", "lib.a:member.c.o: name T ..."
        where, _, rest = line.rpartition(": ")
        fields = rest.split()
        if len(fields) < 2:
            continue
        if where.endswith("]") and "[" in where:
            member = where[where.rindex("[") + 1:-1]
        else:
            member = os.path.basename(where.split(":")[-1])
        if member.endswith(".o"):
            member = member[:-2]
        yield member, fields[0], fields[1]


def graph(nm, paths, data):
    kinds = "TW" + ("DBRV" if data else "")
    defined, used = {}, {}
    for path in paths:
        for member, name, kind in symbols(nm, path):
            used.setdefault(member, set())
            if kind == "U":
                used[member].add(name)
            elif kind in kinds:
                defined.setdefault(name, member)
    edges = {f: {} for f in used}
    for f, names in used.items():
        for name in names:
            g = defined.get(name)
            if g and g != f:
                edges[f].setdefault(g, []).append(name)
    return edges


def circles(edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
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


def one_circle(edges, comp):
    """A path through comp from its first file back to it."""
    start, inside = comp[0], set(comp)
    path, seen = [start], {start}

    def walk(v):
        for w in sorted(edges[v]):
            if w not in inside:
                continue
            if w == start:
                return True
            if w not in seen:
                seen.add(w)
                path.append(w)
                if walk(w):
                    return True
                path.pop()
        return False

    walk(start)
    return path + [start]


def order(edges):
    """Files lowest first: each after every file it calls."""
    done, out = set(), []

    def visit(v):
        if v in done:
            return
        done.add(v)
        for w in sorted(edges[v]):
            visit(w)
        out.append(v)

    for v in sorted(edges):
        visit(v)
    return out


def main(argv):
    nm, data, paths = "nm", False, []
    args = iter(argv)
    for a in args:
        if a == "--nm":
            nm = next(args)
        elif a == "--data":
            data = True
        else:
            paths.append(a)
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    edges = graph(nm, paths, data)
    found = circles(edges)
    for comp in found:
        path = one_circle(edges, comp)
        steps = []
        for a, b in zip(path, path[1:]):
            steps.append(f"{a} -> {b} ({', '.join(sorted(edges[a][b])[:3])})")
        print(f"call circle among {', '.join(comp)}: " + "; ".join(steps))
    if found:
        return 1
    n = sum(len(e) for e in edges.values())
    print(f"{len(edges)} files, {n} file-to-file calls, no circle; lowest first: {' '.join(order(edges))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
