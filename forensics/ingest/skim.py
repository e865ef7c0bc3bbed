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
searched; otherwise the lines that are not (_ODD) are told all at once from where their first two
quotes stand (_odd).
"""

from __future__ import annotations

import bisect
import os
import re
from collections import deque
from dataclasses import dataclass, field
from itertools import repeat

from forensics.ingest.needles import (
    DEBUG,
    ESCAPED,
    ESCAPED_LEVELS,
    INFO,
    LEVEL_TOKENS,
    MARK,
    newlines,
    scanner,
)

AFTER = 20_000  # lines of each input always parsed one by one
PARALLEL_FROM = 64 << 20  # bytes: a larger input's blocks are surveyed by other processes as well
JOBS = (
    "FORENSICS_JOBS"  # environment: processes in all for a large input (0: every core); default 1
)
BLOCK = 1 << 20
SAME = 200  # as many lines as the parser keeps of one repeated message (forensics.parse.KEEP_SAME)
FOLLOWS = SAME  # create requests followed per input (past them the parser counts such lines anyway)
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
VARIABLE = r"[0-9a-f]{8,}|\d+"  # what the parser blanks in a message to tell repeats (bytes: ASCII)
_BLANK = re.compile(VARIABLE.encode())
_MANY = 2000  # lines to look at in a block past which _repeats goes through every line
CONTEXT = 200  # lines given before a panic or a dump (the requests that led up to it)
_DUMP_STARTS = (
    (b"panic", b"panic"),
    (b"goroutine", b"goroutine "),
)  # (needle, token) of a panic or dump
# the newline before a line that is not a logrus text line at debug or info (after an envelope
# ending in ": "); the first line of a block is always given. The definition _odd computes (with
# numpy, all lines at once) and is tested against; not searched with
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
    context: int = CONTEXT  # lines given before a panic or a dump
    every: bool = False  # --every-line: give every line but repeats (see select)
    follow: tuple[
        tuple[str, int], ...
    ] = ()  # (needle, n): a line holding it and the n lines after it are
    # given, for the first FOLLOWS of an input
    parallel_from: int = PARALLEL_FROM  # an input this large is surveyed by other processes too

    def survey(self, chunk: bytes, ends=None) -> tuple[dict, dict, list[int] | None]:
        """The part of :meth:`select` that needs nothing but the chunk, so other processes can run
        it: the needles, levels and escaped levels ``chunk`` holds and where their lines start (see
        scanner), the lines at each level, and the newlines before the lines that are not logrus
        text lines at debug or info (None when there are none). ``ends``: newlines(chunk), when
        known."""
        ends = newlines(chunk) if ends is None else ends
        located, counts = scanner(self.needles, self.caseless, tuple(n for n, _ in self.follow))(
            chunk, ends
        )
        totals = {"debug": chunk.count(DEBUG), "info": chunk.count(INFO)}
        for name, token in LEVEL_TOKENS.items():
            if (token, False) in counts:
                totals[name] = counts[token, False]
        for name, token in ESCAPED_LEVELS.items():  # less the markers inside quoted values
            if (token, False) in counts:  # (its level's token is in it: counted above)
                totals[name] -= counts[token, False]
        odd = None
        if sum(totals.values()) != len(ends):  # some lines are not logrus text lines
            odd = _odd(chunk, ends)
        return located, totals, odd

    def select(
        self,
        chunk: bytes,
        tail: int = 0,
        follows: list[int] | None = None,
        same: dict | None = None,
        surveyed: tuple | None = None,
        ends=None,
    ) -> tuple[list[bytes | Skipped] | None, int]:
        """``chunk`` (whole lines, each ending with a newline) as the lines to give, in order, with
        Skipped counts between them (None when every line must be given: NULs, a tiny block), and
        how many lines of the block before it are wanted as context; ``tail``: give the last lines;
        ``follows``: ``[n]``, how many more ``follow`` needles of this input to follow (decremented);
        ``surveyed``: what :meth:`survey` found in ``chunk``, when another process already looked;
        ``ends``: :func:`newlines` of ``chunk``, when known.

        With ``every`` (``--every-line``) every line is given but a debug or info line whose message
        was given ``SAME`` times before in this input (``same``: message -> times, kept by the caller):
        what the parser would only count (forensics.parse.KEEP_SAME). The message compared here is
        the whole line from its time on with the parser's variable parts blanked (see _repeats);
        the parser's is its level and the first 160 characters of its message so blanked, so the
        parser sees every line it would keep (but where a run of digits or hex straddles that
        160th character) and counts the rest itself."""
        ends = newlines(chunk) if ends is None else ends
        if len(ends) < 3 or not chunk.endswith(b"\n") or b"\x00" in chunk:
            return None, 0
        located, totals, odd = self.survey(chunk, ends) if surveyed is None else surveyed
        hits = list(located)
        escaped = (ESCAPED, False) in hits
        follow = {needle.encode(): count for needle, count in self.follow}
        found: set[int] = set()
        for hit, starts in located.items():
            if hit[0] != ESCAPED and hit[0] not in follow:
                found.update(starts)
        keep = {0, chunk.rfind(b"\n", 0, len(chunk) - 1) + 1}
        for token, count in follow.items():
            if (token, False) in hits and (follows is None or follows[0] > 0):
                for at in _finds(chunk, token):
                    if follows is not None:
                        if follows[0] <= 0:
                            break
                        follows[0] -= 1
                    begin = chunk.rfind(b"\n", 0, at) + 1
                    keep.update(_starts(chunk, begin, _ahead(chunk, begin, count + 1)))
        if odd is not None:  # the lines that are not logrus text lines, and the lines before
            keep.update(at + 1 for at in odd)
            keep.update(chunk.rfind(b"\n", 0, at) + 1 for at in odd)
        wanted = 0
        kept = sorted(keep | found)
        triggers = sorted(
            {
                chunk.rfind(b"\n", 0, at) + 1
                for needle, token in _DUMP_STARTS
                if (needle, False) in hits
                for at in _finds(chunk, token)
            }
        )
        previous = None
        for start in triggers:  # what led up to a panic or a dump, once per stretch of given lines
            keep.add(start)
            if previous is not None and _line(ends, start) - _line(
                ends, previous
            ) == bisect.bisect_left(kept, start) - bisect.bisect_left(kept, previous):
                previous = start
                continue
            previous = start
            begin = _back(chunk, start, self.context)
            keep.update(_starts(chunk, begin, start))
            if begin == 0:
                wanted = max(wanted, self.context - _line(ends, start))
        if tail:
            keep.update(_starts(chunk, _back(chunk, len(chunk), tail), len(chunk)))
        same = {} if same is None else same
        if self.every:  # every line but repeats
            _repeats(chunk, ends, keep, same, None)
        else:  # the lines found but repeats
            _repeats(chunk, ends, keep, same, found - keep)
        starts = sorted(keep)
        numbers = ends.searchsorted(starts).tolist()  # of the given lines, from 0
        given = [chunk[a : b + 1] for a, b in zip(starts, ends[numbers].tolist(), strict=True)]
        for line in given:
            level = _level_of(line)
            if level is not None and (escaped and ESCAPED in line):
                for name in totals:
                    totals[name] -= line.count(f'" level={name} '.encode()) - line.count(
                        f'\\" level={name} '.encode()
                    )
            elif level in totals:
                totals[level] -= 1
        levels = {name: n for name, n in totals.items() if n}
        out: list[bytes | Skipped] = []
        after = 0  # the number of the line after the previous given line
        for number, line in zip(numbers, given, strict=True):
            if number > after:  # the lines between the previous given line and this one
                out.append(Skipped(number - after, levels))
                levels = {}
            out.append(line)
            after = number + 1
        return out, wanted


def _odd(chunk: bytes, ends) -> list[int]:
    """Where _ODD stands in ``chunk``: the newline before each line that is not a logrus text line at
    debug or info (``ends``: :func:`newlines` of ``chunk``), told for all the lines at once. The
    lookahead of _ODD has one way to match: an envelope has no quote, so the quote of ``time="`` is
    the first of the line, and the time's closing quote the second; a line is routine when the
    first quote closes ``time=`` standing first or after 1 to 300 characters and ``: ``, and the
    second comes 1 to 40 characters later, opening ``" level=debug msg=`` or ``" level=info msg=``."""
    import numpy

    text = numpy.frombuffer(chunk, numpy.uint8)
    size = len(chunk)
    before = ends[:-1] if chunk.endswith(b"\n") else ends  # the newlines with a line after
    starts = before + 1
    stops = numpy.append(ends, size)[1 : len(before) + 1]  # where each of those lines ends
    quotes = numpy.flatnonzero(text == 34)
    first = quotes.searchsorted(starts)
    q = numpy.append(quotes, [size, size])  # no quote: past the end
    opening, closing = q[first], q[first + 1]  # the first two quotes from the line's start

    def at(where, token: bytes):
        """Whether ``token`` stands at each of ``where``."""
        inside = (where >= 0) & (where + len(token) <= size)
        if size < len(token):
            return inside
        window = text[numpy.clip(where, 0, size - len(token))[:, None] + numpy.arange(len(token))]
        return inside & (window == numpy.frombuffer(token, numpy.uint8)).all(axis=1)

    envelope = opening - 5 - starts  # the characters before time="
    routine = (closing < stops) & at(opening - 5, b'time="')
    routine &= (envelope == 0) | ((envelope >= 3) & (envelope <= 302) & at(opening - 7, b": "))
    routine &= (closing - opening > 1) & (closing - opening - 1 <= 40)
    routine &= at(closing, b'" level=debug msg=') | at(closing, b'" level=info msg=')
    return before[~routine].tolist()


def _line(ends, at: int) -> int:
    """The number (from 0) of the line of the block holding offset ``at``: the newlines before it."""
    return int(ends.searchsorted(at))


def _finds(chunk: bytes, token: bytes) -> list[int]:
    """Where ``token`` stands in ``chunk``, once per line."""
    out = []
    at = chunk.find(token)
    while at >= 0:
        out.append(at)
        at = chunk.find(token, chunk.find(b"\n", at) + 1)
    return out


def _ahead(chunk: bytes, start: int, count: int) -> int:
    """Where the line ``count`` lines after the one starting at ``start`` starts (the end at most)."""
    for _ in range(count):
        if start >= len(chunk):
            break
        start = chunk.find(b"\n", start) + 1
    return start


def _back(chunk: bytes, start: int, count: int) -> int:
    """Where the line ``count`` lines before the one starting at ``start`` starts (0 at most)."""
    for _ in range(count):
        if start <= 0:
            return 0
        start = chunk.rfind(b"\n", 0, start - 1) + 1
    return start


def _starts(chunk: bytes, begin: int, end: int) -> list[int]:
    """The starts of the lines from the one starting at ``begin`` up to ``end``."""
    out = []
    while begin < end:
        out.append(begin)
        begin = chunk.find(b"\n", begin) + 1
        if begin == 0:
            break
    return out


def _repeats(chunk: bytes, ends, keep: set[int], same: dict, among: set[int] | None) -> None:
    """Add to ``keep`` the lines not kept (``among`` these, or all) whose message was not given SAME
    times yet (see select); ``ends``: :func:`newlines` of ``chunk``. A line that speaks of a panic
    or a goroutine is never a repeat, nor a line that is not a logrus text line.

    The message is the line from its ``time="`` on with the parser's variable parts blanked
    (:data:`VARIABLE`: runs of digits and of 8 or more hex digits, forensics.parse.KEEP_SAME), so a
    daemon naming a new container in each error repeats here as it does in the parser. Most lines
    are settled by a cheaper key first, hashed in C without looking into the line: the whole line
    with each digit blanked, nothing else. A line is given iff its message was given fewer than
    SAME times; the cheap key, finer, is counted with it, and set to SAME once its message is, so
    a line whose cheap key stands at SAME is settled (a repeat) whatever it holds: it was a
    logrus line, no panic nor goroutine (but with ``every``), when its key was counted."""
    pending: list[tuple[int, int, int, int]] = []  # (line start, logrus part start, end, cheap key)
    get = same.get
    if among is None or len(among) > _MANY:  # line by line, each distinct line looked at once
        import numpy

        lines = chunk.translate(_DIGITS).split(b"\n")[:-1]
        distinct = dict.fromkeys(lines)  # each distinct line -> its index in kinds
        kinds: list = []  # None: settled, -1: never a repeat, or (logrus part start, cheap key)
        for line in distinct:
            distinct[line] = len(kinds)
            logrus = line.find(b'time="')
            if logrus < 0 or (among is not None and (b"goroutine" in line or b"panic" in line)):
                kinds.append(-1)  # not a logrus text line, a panic, a dump: never a repeat
            else:
                cheap = hash(line)
                kinds.append((logrus, cheap) if get(cheap, 0) < SAME else None)
        open_ = numpy.array([kind is not None for kind in kinds])
        ids = numpy.fromiter(map(distinct.__getitem__, lines), numpy.int64, len(lines))
        for i in numpy.flatnonzero(open_[ids]).tolist():  # in order
            end = int(ends[i])
            start = int(ends[i - 1]) + 1 if i else 0
            if start in keep if among is None else start not in among:
                continue
            kind = kinds[distinct[lines[i]]]
            if kind == -1:
                keep.add(start)
            else:
                pending.append((start, start + kind[0], end, kind[1]))
    elif among:  # the lines wanted, their digits blanked all at once
        starts = sorted(among)
        stops = ends[ends.searchsorted(starts)].tolist()
        joined = b"\n".join([chunk[a:b] for a, b in zip(starts, stops, strict=True)])
        lines = joined.translate(_DIGITS).split(b"\n")
        seen = map(get, map(hash, lines), repeat(0))  # of each line's cheap key (hashed in C)
        for start, end, line, times in zip(starts, stops, lines, seen, strict=True):
            if times >= SAME:  # settled: a repeat
                continue
            logrus = line.find(b'time="')
            if logrus < 0 or b"goroutine" in line or b"panic" in line:
                keep.add(start)
                continue
            pending.append((start, start + logrus, end, hash(line)))
    if not pending:
        return
    messages = b"\n".join([chunk[begin:end] for _, begin, end, _ in pending])
    for (start, _, _, cheap), message in zip(pending, _blank(messages).split(b"\n"), strict=True):
        key = ("message", hash(message))
        seen = get(key, 0)
        if seen < SAME:
            same[key] = seen + 1
            same[cheap] = get(cheap, 0) + 1
            keep.add(start)
        else:  # its cheap key settles the next ones
            same[cheap] = SAME


def _blank(text: bytes) -> bytes:
    """``text`` with each :data:`VARIABLE` run made ``#``: with RE2 (pyarrow, already loaded by the
    evidence tables; twice as fast) for a large ASCII text, else with ``re``; the two read that
    ASCII pattern alike (leftmost-first, ``\\d`` is ``[0-9]``), as a test checks on every sample."""
    if len(text) > 1 << 16 and text.isascii():
        compute = _arrow()
        if compute is not None:
            scalar = compute.replace_substring_regex(
                _ARROW[0].scalar(text, _ARROW[0].large_binary()), pattern=VARIABLE, replacement="#"
            )
            return scalar.as_py()
    return _BLANK.sub(b"#", text)


_ARROW: list = []  # [pyarrow, pyarrow.compute], or [None, None] when not installed


def _arrow():
    if not _ARROW:
        try:
            import pyarrow
            import pyarrow.compute
        except ImportError:
            _ARROW[:] = [None, None]
        else:
            _ARROW[:] = [pyarrow, pyarrow.compute]
    return _ARROW[1]


def _level_of(line: bytes) -> str | None:
    """The level of a logrus text line: its first ``" level=`` not escaped."""
    at = line.find(MARK)
    if at < 0 or line[at - 1 : at] == b"\\":
        return None
    return line[at + 8 : line.find(b" ", at + 8)].decode(errors="replace")


def workers() -> int:
    """Processes to survey blocks besides this one: FORENSICS_JOBS less one (``0``: every core);
    none when it is unset. Not on by default: on the shared two-core machine of bench/README.md the
    pool bought no wall time (the other core was busy) and cost a second of CPU."""
    try:
        jobs = int(os.environ.get(JOBS) or 1)
    except ValueError:
        jobs = 1
    return max(0, (jobs or os.cpu_count() or 1) - 1)


class Surveys:
    """The blocks of one large input surveyed ahead by a pool of processes, given back in order:
    ``put`` each block as it is read, ``get`` the survey of the oldest one. The survey of a block
    is a pure function of its bytes, so what the input gives is the same as in one process."""

    def __init__(self, skim: Skim, processes: int):
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        self.skim = skim
        self.ahead = 2 * processes  # blocks in flight
        self.pool = ProcessPoolExecutor(processes, mp_context=get_context("spawn"))
        self.queue: deque = deque()

    def put(self, chunk: bytes) -> None:
        self.queue.append(self.pool.submit(_survey, self.skim, chunk) if chunk else None)

    def get(self) -> tuple | None:
        future = self.queue.popleft()
        return None if future is None else future.result()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _survey(skim: Skim, chunk: bytes) -> tuple:
    return skim.survey(chunk)
