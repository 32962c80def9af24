#!/usr/bin/env python3
"""The crate's `rust-version` against the `rust_version` every dependency it builds declares.

Reads `cargo metadata` (all features, every platform) and walks the resolved graph from this
crate along normal and build edges (the crate's own dev-dependencies are left out: users never
build them). Fails, naming the crates, when `rust-version` in Cargo.toml is lower than what one
of them declares: a user on an older toolchain would otherwise get compile errors instead of
cargo's "requires rustc X" message.
"""
import json
import subprocess
import sys


def version(v):
    return tuple(int(p) for p in v.split("."))


def main():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--all-features"],
        check=True, capture_output=True, text=True).stdout)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    declared = packages[root].get("rust_version")
    if not declared:
        sys.exit("check-msrv: Cargo.toml declares no rust-version")

    seen, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds & {None, "build"}:
                stack.append(dep["pkg"])
    seen.discard(root)

    needs = sorted(
        ((version(packages[p]["rust_version"]), packages[p]["name"], packages[p]["version"])
         for p in seen if packages[p].get("rust_version")),
        reverse=True)
    undeclared = sum(1 for p in seen if not packages[p].get("rust_version"))
    if not needs:
        sys.exit("check-msrv: no dependency declares a rust-version")
    top = needs[0][0]
    above = [f"{n} {v} (rust-version {'.'.join(map(str, r))})"
             for r, n, v in needs if r > version(declared)]
    if above:
        sys.exit(f"check-msrv: rust-version = \"{declared}\" in Cargo.toml is lower than what "
                 f"the dependency tree needs ({'.'.join(map(str, top))}):\n  "
                 + "\n  ".join(above)
                 + "\nraise rust-version, or choose versions of these crates that build on it")
    highest = [f"{n} {v}" for r, n, v in needs if r == top]
    print(f"check-msrv: rust-version {declared}; the {len(seen)} crates built for it need at "
          f"most {'.'.join(map(str, top))} ({', '.join(highest)}); {undeclared} declare none")


if __name__ == "__main__":
    main()
