#!/usr/bin/env python3
"""Fails if the modules under src/ import each other in a cycle.

A module is a file (`mod.rs` stands for its folder). An edge A -> B is any path `crate::...`,
`super::...` or `self::...` in A's code (outside `#[cfg(test)]` modules) that names B or an
item of B. Declaring a child (`mod b;`) is not an edge; re-exporting from it (`pub use b::X`)
is. Usage: scripts/module-cycles.py [src]  (prints each cycle, exits 1 if there is one).
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "src"
modules = {}  # module path (tuple) -> file
for dirpath, _, files in os.walk(root):
    for f in files:
        if not f.endswith(".rs"):
            continue
        rel = os.path.relpath(os.path.join(dirpath, f), root)
        parts = rel[:-3].split(os.sep)
        if parts[0] == "bin":
            continue
        if parts[-1] in ("mod", "lib"):
            parts = parts[:-1]
        modules[tuple(parts)] = os.path.join(dirpath, f)


def code_of(path):
    text = open(path).read()
    # Drop test modules: `#[cfg(test)]` followed by a braced block.
    out, i = [], 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        k = text.find("{", j)
        semi = text.find(";", j)
        if k < 0 or (0 <= semi < k):
            i = semi + 1
            continue
        depth, m = 0, k
        while m < len(text):
            if text[m] == "{":
                depth += 1
            elif text[m] == "}":
                depth -= 1
                if depth == 0:
                    break
            m += 1
        i = m + 1
    code = "".join(out)
    code = re.sub(r"//[^\n]*", "", code)
    return code


def resolve(module, path):
    """The module a path names (the longest known prefix)."""
    segs = path.split("::")
    if segs[0] == "crate":
        base, rest = [], segs[1:]
    elif segs[0] in ("super", "self"):
        base = list(module)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
        rest = segs
    else:
        return None
    best = None
    for n in range(len(rest) + 1):
        cand = tuple(base + rest[:n])
        if cand in modules:
            best = cand
    return best


edges = {m: set() for m in modules}
path_re = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
group_re = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*?)\}", re.S)
for m, f in modules.items():
    code = code_of(f)
    paths = set(path_re.findall(code))
    for prefix, inner in group_re.findall(code):
        for item in re.split(r"[,\s]+", re.sub(r"\{[^}]*\}", "", inner)):
            item = item.split(" as ")[0].strip()
            if item and item != "self":
                paths.add(prefix + "::" + item)
    # Paths that start at a child module (`walk::Step`, `use pool::{..}`).
    for child, rest in re.findall(r"(?<![:\w])([a-z_][a-z0-9_]*)::(\{[^;]*?\}|[A-Za-z_][A-Za-z0-9_]*)", code, re.S):
        if m + (child,) in modules:
            paths.add("self::" + child)
    for p in paths:
        target = resolve(m, p)
        if target is not None and target != m and target != m[: len(target)]:
            edges[m].add(target)
        elif target is not None and target != m and len(target) < len(m):
            # An item of an ancestor module (e.g. super::X in a child): an edge to it.
            edges[m].add(target)

# Tarjan's strongly connected components.
index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w)
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
            sccs.append(comp)


sys.setrecursionlimit(10000)
for v in modules:
    if v not in index:
        strong(v)
name = lambda m: "::".join(m) or "crate"
for comp in sccs:
    members = set(comp)
    print("cycle: " + ", ".join(sorted(name(m) for m in comp)))
    for m in sorted(comp):
        inside = sorted(name(t) for t in edges[m] if t in members)
        print(f"  {name(m)} -> {', '.join(inside)}")
print(f"{len(modules)} modules, {sum(len(e) for e in edges.values())} edges, {len(sccs)} cycle(s)")
sys.exit(1 if sccs else 0)
