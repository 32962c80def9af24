#!/usr/bin/env python3
"""No module under src/ reaches back into a module that uses it.

For every directory level, the sibling modules there (a file, or a directory with its whole
subtree) form a graph: A -> B when code in A names B through `crate::` or `super::`. The graph
must have no cycle. A child naming its own parent's items (`super::Item` from `x/child.rs`) is
part of its parent, not a sibling, and is not an edge. Comments and doc links do not count;
a name re-exported at the crate root (`crate::Sampler`) counts as the module it comes from.

Inside the crate, a name is taken from the module that defines it, never through the crate
root's re-exports (`crate::Error` is `crate::error::Error` inside the crate): a reader, and
any structure tool, then sees where each name lives, not an arrow into `lib.rs`.

Prints each level's edges with `-v`; exits 1 naming every cycle and every root name.
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"


def module_of(path):
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


def code(text):
    # Line comments (doc comments and doc links included); string literals rarely hold paths.
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def expand(prefix, body):
    """`a::{b, c::{d, e}}` -> a::b, a::c::d, a::c::e (prefix given as a list)."""
    out, depth, start = [], 0, 0
    items = []
    for i, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    for item in items:
        item = item.strip()
        if not item:
            continue
        item = re.sub(r"\s+as\s+\w+$", "", item)
        if "{" in item:
            head, rest = item.split("{", 1)
            head = [p for p in head.split("::") if p]
            out.extend(expand(prefix + head, rest.rsplit("}", 1)[0]))
        else:
            out.append(prefix + [p for p in item.split("::") if p])
    return out


def references(text):
    """Every path starting with `crate` or `super`, as lists of segments."""
    text = code(text)
    paths = []
    for m in re.finditer(r"\b((?:crate|super)(?:::(?:super|\w+))*)::\{", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        paths.extend(expand(m.group(1).split("::"), text[m.end() : i - 1]))
    for m in re.finditer(r"\b((?:crate|super)(?:::(?:super|\w+))+)", text):
        paths.append(m.group(1).split("::"))
    return paths


def resolve(module, is_dir_module, path):
    """An absolute module path (tuple of segments) for a `crate::`/`super::` path."""
    if path[0] == "crate":
        return tuple(path[1:])
    base = list(module)
    while path and path[0] == "super":
        base.pop()
        path = path[1:]
    return tuple(base + path)


def main():
    verbose = "-v" in sys.argv
    files = sorted(SRC.rglob("*.rs"))
    modules = {module_of(f) for f in files}
    root_reexports = {}
    for m in re.finditer(r"pub use (\w+)::\{([^}]*)\}", code((SRC / "lib.rs").read_text())):
        for name in m.group(2).split(","):
            if name.strip():
                root_reexports[name.strip()] = m.group(1)
    for m in re.finditer(r"pub use (\w+)::(\w+);", code((SRC / "lib.rs").read_text())):
        root_reexports[m.group(2)] = m.group(1)

    root_names = []
    for f in files:
        if f == SRC / "lib.rs":
            continue
        text = code(f.read_text())
        for path in references(text):
            if len(path) >= 2 and path[0] == "crate" and path[1] in root_reexports:
                name = path[1]
                line = next(
                    (n for n, l in enumerate(text.splitlines(), 1)
                     if re.search(rf"\bcrate::(\{{[^}}]*)?\b{name}\b", l)
                     or re.search(rf"\b{name}\b", l) and "crate::{" in l),
                    0,
                )
                root_names.append(
                    f"{f.relative_to(SRC.parent)}:{line}: crate::{name} is the root's re-export: "
                    f"name crate::{root_reexports[name]}::...::{name}, where it is defined"
                )

    edges = set()
    for f in files:
        src = module_of(f)
        for path in references(f.read_text()):
            target = resolve(src, f.name == "mod.rs", path)
            if len(target) == 1 and target[0] in root_reexports:
                target = (root_reexports[target[0]],)
            # The longest module the path names.
            while target and target not in modules:
                target = target[:-1]
            if not target:
                continue
            # The level where the two first differ: siblings there.
            n = 0
            while n < min(len(src), len(target)) and src[n] == target[n]:
                n += 1
            if n == len(src) or n == len(target):
                continue  # the same module, a child, or the module's own ancestor
            edges.add((src[:n], src[n], target[n]))

    failed = False
    levels = sorted({e[0] for e in edges})
    for level in levels:
        graph = {}
        for lv, a, b in edges:
            if lv == level:
                graph.setdefault(a, set()).add(b)
        name = "::".join(level) or "crate"
        if verbose:
            for a in sorted(graph):
                print(f"{name}: {a} -> {', '.join(sorted(graph[a]))}")
        # Cycles: depth-first search with colours.
        colour, stack = {}, []

        def visit(node):
            nonlocal failed
            colour[node] = 1
            stack.append(node)
            for nxt in sorted(graph.get(node, ())):
                if colour.get(nxt) == 1:
                    cycle = stack[stack.index(nxt) :] + [nxt]
                    print(f"cycle in {name}: {' -> '.join(cycle)}")
                    failed = True
                elif not colour.get(nxt):
                    visit(nxt)
            stack.pop()
            colour[node] = 2

        for node in sorted(graph):
            if not colour.get(node):
                visit(node)
    for line in sorted(set(root_names)):
        print(line)
        failed = True
    if failed:
        sys.exit(1)
    print(
        f"check-layering: {len(modules)} modules, {len(edges)} edges, no module reaches back, "
        "no name taken through the crate root"
    )


if __name__ == "__main__":
    main()
