#!/usr/bin/env python3
"""Copies each example region into README.md: the block under `<!-- code: FILE NAME -->`
becomes the lines between `// README: begin NAME` and `// README: end NAME` in FILE, less
their common indentation. tests/readme.rs fails when they differ; run this after editing an
example (and after `cargo fmt`)."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent


def region(file, name):
    lines = (root / file).read_text().splitlines()
    begin = [i for i, l in enumerate(lines) if l.strip() == f"// README: begin {name}"]
    end = [i for i, l in enumerate(lines) if l.strip() == f"// README: end {name}"]
    if len(begin) != 1 or len(end) != 1:
        sys.exit(f"{file}: region {name} needs one begin and one end line")
    body = lines[begin[0] + 1 : end[0]]
    indent = min((len(l) - len(l.lstrip()) for l in body if l.strip()), default=0)
    return "".join(l[indent:] + "\n" for l in body)


readme = (root / "README.md").read_text()
pattern = re.compile(r"(<!-- code: (\S+) (\S+) -->\n```rust\n)(.*?)(```\n)", re.S)
readme = pattern.sub(lambda m: m[1] + region(m[2], m[3]) + m[5], readme)
(root / "README.md").write_text(readme)
