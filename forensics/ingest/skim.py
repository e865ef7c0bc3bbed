"""Skim the routine stretches of a large log instead of parsing them line by line.

A 1 GB journal is mostly the same few debug and info lines (API calls, health checks, events).
Past the first ``after`` lines of an input, :func:`forensics.ingest.sources.read_lines` reads it in
blocks of about a megabyte and asks :meth:`Skim.routine` whether a block can be skimmed. A
block is routine when every line in it is a logrus text line (`time="…" level=…`) of the same
host and process at level debug or info. Anything else (a warning, an error, a dump, a plain
line, another process) sends the block through the normal per-line path, together with the
last ``CONTEXT`` lines of the block before it. A routine block gives its first and last lines
(so the timeline stays continuous), every line holding one of the ``needles`` (the literal text
the rules and the evidence tables look for, see :mod:`forensics.literals`; found with
Hyperscan where it is installed), and :class:`Skipped` counts of the lines between them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterator

AFTER = 20_000  # lines of each input always parsed one by one
BLOCK = 1 << 20
CONTEXT = 200  # lines before a notable block parsed with it (what led up to a panic)
_TAG = re.compile(rb'(\S{1,255} [^\s\[\]:]{1,64}(?:\[\d{1,10}\])?: )time="')  # " host dockerd[4242]: "
_DEBUG = b'" level=debug '
# a line at any level but debug and info makes its block not routine
_OTHER_LEVELS = tuple(f'" level={name} '.encode() for name in ("trace", "warning", "error", "fatal", "panic"))


@dataclass(slots=True)
class Skipped:
    """Routine lines counted, not parsed: ``count`` lines starting at ``line``."""

    count: int
    levels: dict[str, int] = field(default_factory=dict)
    line: int = 0


@dataclass(slots=True)
class Routine:
    """A block every line of which is a debug or info logrus line of one process."""

    chunk: bytes
    lines: int
    debug: int
    hits: list[tuple[bytes, bool]]  # the needles it holds, as (bytes, ignore case)


@dataclass(frozen=True)
class Skim:
    needles: tuple[str, ...]  # a line holding one of these is always parsed
    caseless: tuple[str, ...] = ()  # the same, matched ignoring case
    after: int = AFTER
    block: int = BLOCK

    def routine(self, chunk: bytes) -> Routine | None:
        """``chunk`` (whole lines) as a Routine block, or None when some line is anything else."""
        lines = chunk.count(b"\n")
        if lines < CONTEXT + 2 or not chunk.endswith(b"\n") or b"\x00" in chunk:
            return None
        m = _TAG.search(chunk, 0, chunk.find(b"\n"))
        if m is not None:
            if chunk.count(m.group()) != lines:  # another host or process, or a line of another shape
                return None
        elif not chunk.startswith(b'time="') or chunk.count(b'\ntime="') != lines - 1:
            return None
        found = _matcher(self.needles, self.caseless)(chunk)
        if found is None:  # a warning, an error, ...
            return None
        return Routine(chunk, lines, chunk.count(_DEBUG), found)

    def pieces(self, block: Routine, context: bool) -> Iterator[bytes | Skipped]:
        """A routine block in order: the lines to parse (the first, those holding a needle, the last
        or the last CONTEXT lines) and Skipped counts of the lines between them."""
        chunk = block.chunk
        keep = {0, *_line_starts(chunk, block.hits)}
        cut = len(chunk) - 1
        for _ in range(CONTEXT if context else 1):
            cut = chunk.rfind(b"\n", 0, cut)
            keep.add(cut + 1)
        starts = sorted(keep)
        given = [chunk[a:chunk.find(b"\n", a) + 1] for a in starts]
        debug = block.debug - sum(_DEBUG in line for line in given)
        levels = {"debug": debug, "info": block.lines - len(given) - debug}
        ends = [a + len(line) for a, line in zip(starts, given)]
        first = True
        for start, end, line in zip(starts, [0] + ends, given):
            if start > end:  # the lines between the previous given line and this one
                count = block.lines - len(given) if len(starts) == 2 else chunk.count(b"\n", end, start)
                yield Skipped(count, levels if first else {})
                first = False
            yield line


def _line_starts(chunk: bytes, hits: list[tuple[bytes, bool]]) -> list[int]:
    """Where the lines holding these needles start."""
    starts = []
    for needle, folded in hits:
        hay = chunk.lower() if folded else chunk
        at = hay.find(needle)
        while at >= 0:
            starts.append(hay.rfind(b"\n", 0, at) + 1)
            at = hay.find(needle, hay.find(b"\n", at) + 1)  # a routine chunk ends with a newline
    return starts


@lru_cache(maxsize=8)
def _matcher(needles: tuple[str, ...], caseless: tuple[str, ...]) -> Callable[[bytes], list | None]:
    """The needles a chunk holds, as (bytes, ignore case), or None when it holds a line at another
    level than debug and info: Hyperscan (one pass for all of them) when installed."""
    every = [(n.encode(), False) for n in needles] + [(n.encode().lower(), True) for n in caseless]
    levels = [(token, False) for token in _OTHER_LEVELS]
    try:
        import hyperscan
    except ImportError:
        hyperscan = None
    if hyperscan is None:
        def search(chunk: bytes) -> list | None:
            if any(token in chunk for token, _ in levels):
                return None
            lower = chunk.lower() if caseless else b""
            return [(n, f) for n, f in every if n in (lower if f else chunk)]
        return search
    patterns = every + levels
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    single, nocase = hyperscan.HS_FLAG_SINGLEMATCH, hyperscan.HS_FLAG_CASELESS
    db.compile(expressions=[re.escape(n) for n, _ in patterns], ids=list(range(len(patterns))),
               flags=[single | nocase if f else single for _, f in patterns])

    def scan(chunk: bytes) -> list | None:
        found: list[int] = []
        db.scan(chunk, match_event_handler=lambda i, *_: found.append(i))
        if any(i >= len(every) for i in found):
            return None
        return [every[i] for i in sorted(found)]
    return scan
