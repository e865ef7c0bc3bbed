"""Select the lines of a large log an analysis needs; count the rest without decoding them.

A 1 GB journal is mostly the same few debug and info lines (API calls, health checks, events).
Past the first ``after`` lines of an input, :func:`forensics.ingest.sources.read_lines` reads it in
blocks of about a megabyte and asks :meth:`Skim.select` which lines of each block to give. A line
is given (parsed one by one later) when it

* holds one of the ``needles`` (the literal text the rules and the evidence tables look for, see
  :mod:`forensics.engine.literals`), or a level token other than debug and info (``" level=warning``,
  ...): one Hyperscan pass over the block finds all of them (a stdlib search where Hyperscan is
  not installed);
* is not a logrus text line at level debug or info (``[envelope: ]time="…" level=debug msg=…``):
  a dump line, a plain line, a line journald cut, a continuation; and the line before each such
  line (what a cut line continues, what a dump follows);
* is the first or the last line of the block (the timeline stays continuous).

The lines between are given as :class:`Skipped` counts, their levels counted in bulk. Each
logrus text line carries exactly one unescaped ``" level=<level> `` (a quote inside a value is
escaped): when the block holds as many of them as lines, every line is one and nothing more is
searched; otherwise one regular expression over the block finds the lines that are not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

AFTER = 20_000  # lines of each input always parsed one by one
BLOCK = 1 << 20
_MARK, _ESCAPED = b'" level=', b'\\" level='
_DEBUG, _INFO = b'" level=debug msg=', b'" level=info msg='
# a line at any level but debug and info is always given
_OTHER_LEVELS = tuple(f'" level={name} '.encode() for name in ("trace", "warning", "error", "fatal", "panic"))
# the newline before a line that is not a logrus text line at debug or info (after an envelope
# ending in ": "); the first line of a block is always given
_ODD = re.compile(rb'\n(?!(?:[^"\n]{1,300}?: )?time="[^"\n]{1,40}" level=(?:debug|info) msg=|\Z)')


@dataclass(slots=True)
class Skipped:
    """Lines counted, not parsed: ``count`` lines starting at ``line``."""

    count: int
    levels: dict[str, int] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class Skim:
    needles: tuple[str, ...]  # a line holding one of these is always given
    caseless: tuple[str, ...] = ()  # the same, matched ignoring case
    after: int = AFTER
    block: int = BLOCK

    def select(self, chunk: bytes) -> list[bytes | Skipped] | None:
        """``chunk`` (whole lines, each ending with a newline) as the lines to give, in order, with
        Skipped counts between them; None when every line must be given (NULs, a tiny block)."""
        lines = chunk.count(b"\n")
        if lines < 3 or not chunk.endswith(b"\n") or b"\x00" in chunk:
            return None
        hits = _matcher(self.needles, self.caseless)(chunk)
        escaped = (_ESCAPED, False) in hits
        others = sum(_count(chunk, token, escaped) for token, _ in hits if token in _OTHER_LEVELS)
        debug, info = _count(chunk, _DEBUG, escaped), _count(chunk, _INFO, escaped)
        keep = set(_line_starts(chunk, [hit for hit in hits if hit[0] != _ESCAPED]))
        keep.add(0)
        keep.add(chunk.rfind(b"\n", 0, len(chunk) - 1) + 1)
        if debug + info + others != lines:  # some lines are not logrus text lines
            odd = [m.start() for m in _ODD.finditer(chunk)]  # the newline ending the line before
            keep.update(at + 1 for at in odd)
            keep.update(chunk.rfind(b"\n", 0, at) + 1 for at in odd)
        starts = sorted(keep)
        given = [chunk[a:chunk.find(b"\n", a) + 1] for a in starts]
        for line in given:
            if _MARK in line:
                debug -= _count(line, _DEBUG, escaped)
                info -= _count(line, _INFO, escaped)
        out: list[bytes | Skipped] = []
        end = 0
        for start, line in zip(starts, given):
            if start > end:  # the lines between the previous given line and this one
                out.append(Skipped(chunk.count(b"\n", end, start), {} if debug is None else {"debug": debug, "info": info}))
                debug = None
            out.append(line)
            end = start + len(line)
        return out


def _count(chunk: bytes, token: bytes, escaped: bool) -> int:
    """How many times ``token`` stands unescaped (not inside a quoted value) in ``chunk``."""
    return chunk.count(token) - (chunk.count(b"\\" + token) if escaped else 0)


def _line_starts(chunk: bytes, hits: list[tuple[bytes, bool]]) -> list[int]:
    """Where the lines holding these needles start."""
    starts = []
    lower = None
    for needle, folded in hits:
        if folded and lower is None:
            lower = chunk.lower()
        hay = lower if folded else chunk
        at = hay.find(needle)
        while at >= 0:
            starts.append(hay.rfind(b"\n", 0, at) + 1)
            at = hay.find(needle, hay.find(b"\n", at) + 1)  # the chunk ends with a newline
    return starts


@lru_cache(maxsize=8)
def _matcher(needles: tuple[str, ...], caseless: tuple[str, ...]) -> Callable[[bytes], list]:
    """The needles, level tokens and escaped level tokens a chunk holds, as (bytes, ignore case):
    Hyperscan (one pass for all of them) when installed."""
    every = [(n.encode(), False) for n in needles] + [(n.encode().lower(), True) for n in caseless]
    every += [(token, False) for token in (*_OTHER_LEVELS, _ESCAPED)]
    try:
        import hyperscan
    except ImportError:
        hyperscan = None
    if hyperscan is None:
        def search(chunk: bytes) -> list:
            lower = chunk.lower() if caseless else b""
            return [(n, f) for n, f in every if n in (lower if f else chunk)]
        return search
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    single, nocase = hyperscan.HS_FLAG_SINGLEMATCH, hyperscan.HS_FLAG_CASELESS
    db.compile(expressions=[re.escape(n) for n, _ in every], ids=list(range(len(every))),
               flags=[single | nocase if f else single for _, f in every])

    def scan(chunk: bytes) -> list:
        found: list[int] = []
        db.scan(chunk, match_event_handler=lambda i, *_: found.append(i))
        return [every[i] for i in sorted(found)]
    return scan
