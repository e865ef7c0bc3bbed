"""Build a large goroutine dump by replicating the goroutines of a real captured dump.

Each copy gets fresh goroutine ids; ``created by … in goroutine N`` keeps naming the original
parent, as in a daemon whose HTTP server spawned every handler.  With ``--perturb`` every heap
word ``0xcXXXXxxxxx`` of copy k becomes ``0xc<k+1>xxxxx`` (k+1 in hex, 4 digits; the last 5 digits
kept, which tell the source's heap words apart: Go heap words of the usual width, unique across
up to 65,535 copies, about 2.4 GB) and the parent
ids follow their copy, so that no two copies share argument text, lock addresses or creators:
the worst case for anything that caches or groups identical stacks.
Usage: ``python bench/make_dump.py SOURCE OUT --mb 100 [--perturb]``.

``--own-mutex N`` writes instead N goroutines each waiting on its own mutex: the text of the
real waiter ``goroutine 127`` of the moby#49227 reproduction (``cleanupContainer`` blocked in
``lockSlow(0xc00026a180)``), copy i with goroutine id ``1000 + 2i`` and every heap pointer
``0xc000xxxxxx`` but the daemon's moved to ``0xc<i+1, 5 hex digits><last 4 digits>``, so that each waits on its own
lock address and passes its own container.  Every other copy (even i) also gets a holder,
goroutine ``1001 + 2i``: the same text without its three lock frames and in state
``[chan receive]`` (parked, so not "busy" for every container lock), i.e. a goroutine inside
``cleanupContainer`` passing that container (a
"medium" holder).  ``python bench/make_dump.py SOURCE OUT --own-mutex 10000`` (SOURCE ignored
beyond the default fixture's goroutine 127, which must be in it).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

HEADER = re.compile(r"^goroutine (\d+)", re.M)
PARENT = re.compile(r" in goroutine (\d+)$", re.M)
POINTER = re.compile(r"0xc000([0-9a-f]{6})")
HEAP = re.compile(r"0xc[0-9a-f]{4}([0-9a-f]{5})(?![0-9a-f])")


def goroutine_blocks(text: str) -> list[str]:
    """The ``goroutine N [...]:`` blocks of a plain dump, each ending with one blank line."""
    starts = [m.start() for m in HEADER.finditer(text)]
    blocks = [text[a:b].rstrip("\n") + "\n\n" for a, b in zip(starts, starts[1:] + [len(text)])]
    return blocks


def build(source: Path, out: Path, megabytes: float, perturb: bool) -> int:
    blocks = "".join(goroutine_blocks(source.read_text(encoding="utf-8")))
    stride = 1 + max(int(i) for i in HEADER.findall(blocks))
    words = {m[0] for m in HEAP.finditer(blocks)}
    if perturb and len(words) != len({w[-5:] for w in words}):
        raise SystemExit("two heap words of the source share their last 5 digits")
    target, written, copy = int(megabytes * 1_000_000), 0, 0
    with out.open("w", encoding="utf-8") as f:
        while written < target:
            shift = copy * stride
            text = HEADER.sub(lambda m: f"goroutine {int(m[1]) + shift}", blocks)
            if perturb:
                text = PARENT.sub(lambda m: f" in goroutine {int(m[1]) + shift}", text)
                text = HEAP.sub(lambda m: f"0xc{copy + 1:04x}{m[1]}", text)
            f.write(text)
            written += len(text.encode())
            copy += 1
    return written


WAITER_ID = (
    127  # in tests/fixtures/dumps/repro-49227/02-delay-build-panic-text-log/goroutine-stacks-*.log
)
DAEMON = "0xc000414508"  # the *Daemon every copy shares
LOCK_FRAMES = re.compile(r"\A(goroutine \d+ )\[[^\]]*\]:\n(?:[^\n]*\n\t[^\n]*\n){3}")


def own_mutex_text(source_text: str, count: int) -> str:
    """``count`` goroutines each waiting on its own mutex, every other one with its holder, beside the
    source dump's goroutines that wait on no mutex (goroutine 1, the signal handler, the accept loops:
    a whole daemon's dump, not an excerpt)."""
    blocks = goroutine_blocks(source_text)
    waiter = next(b for b in blocks if b.startswith(f"goroutine {WAITER_ID} ["))
    holder = LOCK_FRAMES.sub(r"\1[chan receive]:\n", waiter)
    assert holder != waiter, "goroutine 127 no longer starts with its three lock frames"
    out = [b for b in blocks if "sync.(*Mutex)" not in b and "sync.(*RWMutex)" not in b]

    def move(text: str, i: int, gid: int) -> str:
        text = POINTER.sub(lambda m: m[0] if m[0] == DAEMON else f"0xc{i + 1:05x}{m[1][2:]}", text)
        return f"goroutine {gid} " + text.split(" ", 2)[2]

    for i in range(count):
        out.append(move(waiter, i, 1000 + 2 * i))
        if i % 2 == 0:
            out.append(move(holder, i, 1001 + 2 * i))
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=float, default=100)
    parser.add_argument("--perturb", action="store_true")
    parser.add_argument(
        "--own-mutex", type=int, metavar="N", help="N goroutines each waiting on its own mutex"
    )
    args = parser.parse_args()
    if args.own_mutex:
        text = own_mutex_text(args.source.read_text(encoding="utf-8"), args.own_mutex)
        size = args.out.write_text(text, encoding="utf-8")
    else:
        size = build(args.source, args.out, args.mb, args.perturb)
    print(f"{args.out}: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
