"""Build a large goroutine dump by replicating the goroutines of a real captured dump.

Each copy gets fresh goroutine ids; ``created by … in goroutine N`` keeps naming the original
parent, as in a daemon whose HTTP server spawned every handler.  With ``--perturb`` every heap
pointer ``0xc000xxxxxx`` of copy k becomes ``0xc<k>xxxxxx`` (k in hex, 3 digits) and the parent ids follow their copy, so that no two
copies share argument text, lock addresses or creators: the worst case for anything that
caches or groups identical stacks.  Usage: ``python bench/make_dump.py SOURCE OUT --mb 100 [--perturb]``.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

HEADER = re.compile(r"^goroutine (\d+)", re.M)
PARENT = re.compile(r" in goroutine (\d+)$", re.M)
POINTER = re.compile(r"0xc000([0-9a-f]{6})")


def goroutine_blocks(text: str) -> list[str]:
    """The ``goroutine N [...]:`` blocks of a plain dump, each ending with one blank line."""
    starts = [m.start() for m in HEADER.finditer(text)]
    blocks = [text[a:b].rstrip("\n") + "\n\n" for a, b in zip(starts, starts[1:] + [len(text)])]
    return blocks


def build(source: Path, out: Path, megabytes: float, perturb: bool) -> int:
    blocks = "".join(goroutine_blocks(source.read_text(encoding="utf-8")))
    stride = 1 + max(int(i) for i in HEADER.findall(blocks))
    target, written, copy = int(megabytes * 1_000_000), 0, 0
    with out.open("w", encoding="utf-8") as f:
        while written < target:
            shift = copy * stride
            text = HEADER.sub(lambda m: f"goroutine {int(m[1]) + shift}", blocks)
            if perturb:
                text = PARENT.sub(lambda m: f" in goroutine {int(m[1]) + shift}", text)
                text = POINTER.sub(lambda m: f"0xc{(copy + 1) % 4096:03x}{m[1]}", text)
            f.write(text)
            written += len(text.encode())
            copy += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=float, default=100)
    parser.add_argument("--perturb", action="store_true")
    args = parser.parse_args()
    size = build(args.source, args.out, args.mb, args.perturb)
    print(f"{args.out}: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
