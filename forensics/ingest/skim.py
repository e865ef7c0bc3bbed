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

import bisect
import os
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

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
_MARK, _ESCAPED = b'" level=', b'\\" level='
_DEBUG, _INFO = b'" level=debug msg=', b'" level=info msg='
# a line at any level but debug and info is always given
_LEVEL_TOKENS = {
    name: f'" level={name} '.encode() for name in ("trace", "warning", "error", "fatal", "panic")
}
_OTHER_LEVELS = tuple(_LEVEL_TOKENS.values())
# the level markers inside a quoted value (one logrus line logging another), counted to be taken
# off the levels' counts
_ESCAPED_LEVELS = {
    name: b"\\" + (_DEBUG if name == "debug" else _INFO if name == "info" else token)
    for name, token in {"debug": None, "info": None, **_LEVEL_TOKENS}.items()
}
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
        _scanner), the lines at each level, and the newlines before the lines that are not logrus
        text lines at debug or info (None when there are none). ``ends``: newlines(chunk), when
        known."""
        ends = newlines(chunk) if ends is None else ends
        located, counts = _scanner(self.needles, self.caseless, tuple(n for n, _ in self.follow))(
            chunk, ends
        )
        totals = {"debug": chunk.count(_DEBUG), "info": chunk.count(_INFO)}
        for name, token in _LEVEL_TOKENS.items():
            if (token, False) in counts:
                totals[name] = counts[token, False]
        for name, token in _ESCAPED_LEVELS.items():  # less the markers inside quoted values
            if (token, False) in counts:  # (its level's token is in it: counted above)
                totals[name] -= counts[token, False]
        odd = None
        if sum(totals.values()) != len(ends):  # some lines are not logrus text lines
            odd = [m.start() for m in _ODD.finditer(chunk)]  # the newline ending the line before
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
        escaped = (_ESCAPED, False) in hits
        follow = {needle.encode(): count for needle, count in self.follow}
        found: set[int] = set()
        for hit, starts in located.items():
            if hit[0] != _ESCAPED and hit[0] not in follow:
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
            if level is not None and (escaped and _ESCAPED in line):
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


def newlines(chunk: bytes):
    """Where the newlines of ``chunk`` stand, ascending (a numpy array): a block's line index,
    made once (numpy, a pandas dependency, counts a megabyte five times as fast as bytes.count);
    its length is the block's number of lines (whole lines: each ends with a newline)."""
    import numpy

    return numpy.flatnonzero(numpy.frombuffer(chunk, numpy.uint8) == 10)


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
    are settled by a cheaper key first (each digit blanked, nothing else): a line is given iff its
    message was given fewer than SAME times, and the cheap key, finer, is counted with it."""
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
                cheap = hash(line[logrus:])
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
        lines = b"\n".join([chunk[a:b] for a, b in zip(starts, stops, strict=True)])
        for start, end, line in zip(
            starts, stops, lines.translate(_DIGITS).split(b"\n"), strict=True
        ):
            logrus = line.find(b'time="')
            if logrus < 0 or b"goroutine" in line or b"panic" in line:
                keep.add(start)
                continue
            cheap = hash(line[logrus:])
            if get(cheap, 0) < SAME:
                pending.append((start, start + logrus, end, cheap))
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
    at = line.find(_MARK)
    if at < 0 or line[at - 1 : at] == b"\\":
        return None
    return line[at + 8 : line.find(b" ", at + 8)].decode(errors="replace")


def _token_ends(chunk: bytes, token: bytes):
    """Where each ``token`` in ``chunk`` ends (a numpy array), found by one split in C, not one
    find or match callback each."""
    import numpy

    parts = chunk.split(token)
    before = numpy.cumsum(numpy.fromiter(map(len, parts), numpy.int64, len(parts))[:-1])
    return before + numpy.arange(1, len(parts)) * len(token)


def _matcher(needles: tuple[str, ...], caseless: tuple[str, ...]) -> Callable[[bytes], list]:
    """The needles, level tokens and escaped level tokens a chunk holds, as (bytes, ignore case)."""
    scan = _scanner(needles, caseless)
    return lambda chunk: list(scan(chunk)[1])


@lru_cache(maxsize=8)
def _scanner(
    needles: tuple[str, ...], caseless: tuple[str, ...], follow: tuple[str, ...] = ()
) -> Callable[..., tuple]:
    """A function of a chunk (and its :func:`newlines`, when known) giving, for the needles, level
    tokens and escaped level tokens the chunk holds, as ``(bytes, ignore case)``: where the lines
    holding each start (a set; not for the escaped level tokens), and how many times each stands
    in it (the generic escaped marker ``_ESCAPED``: once). One Hyperscan pass, every match
    reported (but the level tokens', which may stand on every line: found once, then all at once
    by _token_ends; and the ``follow`` needles', whose lines select finds again: once), when
    installed (each needle found by a rare piece of it, see _compile), else a search for each."""
    every = [(n.encode(), False) for n in needles + follow]
    every += [(n.encode().lower(), True) for n in caseless]
    every += [(token, False) for token in (*_OTHER_LEVELS, _ESCAPED, *_ESCAPED_LEVELS.values())]
    once = every.index((_ESCAPED, False))  # wanted only to tell there is one
    counted = set(range(once + 1, len(every)))  # their lines are not wanted
    levels = [every.index((token, False)) for token in _OTHER_LEVELS]
    single = {once, *levels}  # matched once
    # a follow needle's lines are found again by select: whether the chunk holds one is enough
    followed = {n.encode() for n in follow} - {n.encode() for n in needles}
    single.update(i for i, (n, folded) in enumerate(every) if n in followed and not folded)

    def _located(
        found: list[tuple[int, int]], chunk: bytes, ends, first: bool = True
    ) -> tuple[dict, dict]:
        """``found``: (index in every, where the match ends) of each match, of each level token
        the first only (``first``) or every one."""
        located: dict = {}
        counts: dict = {}
        if not found:
            return located, counts
        import numpy

        ends = newlines(chunk) if ends is None else ends
        ids, at = numpy.array(found).T  # each match: the token's index, where the match ends
        present = [i for i in levels if i in ids] if first else []
        if present:  # each level token's matches, not its first only
            others = ~numpy.isin(ids, present)
            ids, at = ids[others], at[others]
            more = [_token_ends(chunk, every[i][0]) for i in present]
            ids = numpy.concatenate([ids, *(numpy.full(len(m), i) for i, m in zip(present, more))])
            at = numpy.concatenate([at, *more])
        lines = ends.searchsorted(at)  # the newlines before each match: the line's number
        starts = numpy.where(lines > 0, ends[lines - 1] + 1, 0)  # where that line starts
        for i in numpy.unique(ids).tolist():
            mine = ids == i
            counts[every[i]] = int(numpy.count_nonzero(mine))
            if i not in counted:
                located[every[i]] = set(starts[mine].tolist())
        return located, counts

    try:
        import hyperscan
    except ImportError:
        hyperscan = None
    if hyperscan is None:

        def search(chunk: bytes, ends=None) -> tuple[dict, dict]:
            lower = chunk.lower() if caseless else b""
            found = []
            for i, (needle, folded) in enumerate(every):
                hay = lower if folded else chunk
                at = hay.find(needle)
                while at >= 0:
                    found.append((i, at + len(needle)))
                    at = -1 if i in single else hay.find(needle, at + 1)
            return _located(found, chunk, ends)

        return search
    # the Hyperscan pass reporting each level token's every match, and the one reporting its
    # first (the others found by _token_ends, one split in C each: cheaper past one a kilobyte),
    # made at the first chunk (a sample of the input); which one the last chunk asked for
    compiled: dict = {}
    first = [False]

    def scan(chunk: bytes, ends=None) -> tuple[dict, dict]:
        if not compiled:
            pieces = _factors(every, single | counted, chunk[:_SAMPLE])  # not the own tokens
            compiled[True] = _compile(hyperscan, every, single, pieces)
            compiled[False] = _compile(hyperscan, every, single - set(levels), pieces)
        located, counts = _located(compiled[first[0]](chunk), chunk, ends, first[0])
        many = sum(counts.get(every[i], 0) for i in levels)
        first[0] = many > len(chunk) >> 10
        return located, counts

    return scan


_FACTOR = 8  # bytes of a needle Hyperscan looks for: its literal matcher keys on about as many
_SAMPLE = 1 << 17  # bytes of the first chunk telling which piece of each needle is rare


def _factors(every: list[tuple[bytes, bool]], whole: set[int], sample: bytes) -> list[bytes]:
    """The piece of each needle of ``every`` Hyperscan looks for. Its literal matcher checks every
    place where the last few bytes of a needle stand, so a needle ending in words a log holds on
    every line (``... health check for container``) costs there; the rarest ``_FACTOR`` bytes of
    it in ``sample`` cost only where they stand, and the needle is confirmed there in Python
    (_compile). A piece is taken only where ``sample`` holds it no more often than the needle
    itself (no more matches to confirm than the needle gives) and it is not the needle's end; the
    whole needle otherwise, and for the ``whole`` ones."""
    lower = sample.lower()
    out = []
    for i, (needle, folded) in enumerate(every):
        hay = lower if folded else sample
        if i in whole or len(needle) <= _FACTOR or hay.count(needle[-_FACTOR:]) == 0:
            out.append(needle)
            continue
        pieces = [needle[k : k + _FACTOR] for k in range(len(needle) - _FACTOR)]  # not the end
        piece = min(reversed(pieces), key=hay.count)  # the last of the rarest
        rare = hay.count(piece) == hay.count(needle) < hay.count(needle[-_FACTOR:])
        out.append(piece if rare else needle)
    return out


def _compile(
    hyperscan, every: list[tuple[bytes, bool]], single: set[int], pieces: list[bytes]
) -> Callable[[bytes], list[tuple[int, int]]]:
    """A function giving the matches of the needles of ``every`` in a chunk, ``(index in every,
    where the match ends)``, for the needle's first only for a ``single`` one: one Hyperscan pass
    looking for ``pieces``, one piece of each needle (the needle itself, or a rarer part of it:
    see _factors); where a needle's piece stands, whether the needle stands around it is
    confirmed. These are the matches the needles scanned whole give, but for their order."""
    shared: dict[tuple[bytes, bool], list[tuple[int, int, int]]] = {}
    for i, ((needle, folded), piece) in enumerate(zip(every, pieces, strict=True)):
        k = needle.index(piece)  # (needle, where it starts before the piece's end, ends after it)
        shared.setdefault((piece, folded), []).append(
            (i, k + len(piece), len(needle) - k - len(piece))
        )
    # a needle scanned whole reports its own index; a piece reports len(every) + its index
    ids = [
        group[0][0] if len(group) == 1 and every[group[0][0]][0] == piece else len(every) + j
        for j, ((piece, _), group) in enumerate(shared.items())
    ]
    groups = dict(zip(ids, shared.values(), strict=True))
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(
        expressions=[re.escape(piece) for piece, _ in shared],
        ids=ids,
        flags=[
            (hyperscan.HS_FLAG_CASELESS if folded else 0)
            | (hyperscan.HS_FLAG_SINGLEMATCH if all(i in single for i, _, _ in group) else 0)
            for (_, folded), group in shared.items()
        ],
    )
    whole = len(every)

    def matches(chunk: bytes) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        pieces: list[tuple[int, int]] = []
        db.scan(
            chunk,
            match_event_handler=lambda i, start, end, *_: (found if i < whole else pieces).append(
                (i, end)
            ),
        )
        done = set()  # the single needles found
        for j, end in pieces:
            for i, before, after in groups[j]:
                needle, folded = every[i]
                if i in done or end < before:
                    continue
                if folded:
                    if chunk[end - before : end + after].lower() != needle:
                        continue
                elif not chunk.startswith(needle, end - before):
                    continue
                found.append((i, end + after))
                if i in single:
                    done.add(i)
        return found

    return matches


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
