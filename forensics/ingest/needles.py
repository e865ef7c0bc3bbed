"""Find the rule needles and the level tokens in a block of a log: one Hyperscan pass (a stdlib
search where Hyperscan is not installed), for :class:`forensics.ingest.skim.Skim`.

Each needle (the literal text the rules and evidence tables look for) is found where it stands;
a needle whose end stands on many lines of the input is looked for by a rarer piece of it and
confirmed around each match (:func:`_factors`, :func:`_compile`), so a rule a user adds costs
little whatever its words.  The level tokens (``" level=warning ``, ...), which may stand on every
line, are found once and then all at once by one split in C (:func:`token_ends`). The escaped
level markers (``\\" level=info msg=``, ...) are all looked for by their first 8 bytes, which
Hyperscan checks whole: their ends stand on every line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

MARK, ESCAPED = b'" level=', b'\\" level='
DEBUG, INFO = b'" level=debug msg=', b'" level=info msg='
# a line at any level but debug and info is always given
LEVEL_TOKENS = {
    name: f'" level={name} '.encode() for name in ("trace", "warning", "error", "fatal", "panic")
}
OTHER_LEVELS = tuple(LEVEL_TOKENS.values())
# the level markers inside a quoted value (one logrus line logging another), counted to be taken
# off the levels' counts
ESCAPED_LEVELS = {
    name: b"\\" + (DEBUG if name == "debug" else INFO if name == "info" else token)
    for name, token in {"debug": None, "info": None, **LEVEL_TOKENS}.items()
}


def newlines(chunk: bytes):
    """Where the newlines of ``chunk`` stand, ascending (a numpy array): a block's line index,
    made once (numpy, a pandas dependency, counts a megabyte five times as fast as bytes.count);
    its length is the block's number of lines (whole lines: each ends with a newline)."""
    import numpy

    return numpy.flatnonzero(numpy.frombuffer(chunk, numpy.uint8) == 10)


def token_ends(chunk: bytes, token: bytes):
    """Where each ``token`` in ``chunk`` ends (a numpy array), found by one split in C, not one
    find or match callback each."""
    import numpy

    parts = chunk.split(token)
    before = numpy.cumsum(numpy.fromiter(map(len, parts), numpy.int64, len(parts))[:-1])
    return before + numpy.arange(1, len(parts)) * len(token)


def matcher(needles: tuple[str, ...], caseless: tuple[str, ...]) -> Callable[[bytes], list]:
    """The needles, level tokens and escaped level tokens a chunk holds, as (bytes, ignore case)."""
    scan = scanner(needles, caseless)
    return lambda chunk: list(scan(chunk)[1])


@lru_cache(maxsize=8)
def scanner(
    needles: tuple[str, ...], caseless: tuple[str, ...], follow: tuple[str, ...] = ()
) -> Callable[..., tuple]:
    """A function of a chunk (and its :func:`newlines`, when known) giving, for the needles, level
    tokens and escaped level tokens the chunk holds, as ``(bytes, ignore case)``: where the lines
    holding each start (a set; not for the escaped level tokens), and how many times each stands
    in it (the generic escaped marker ``ESCAPED``: once). One Hyperscan pass, every match
    reported (but the level tokens', which may stand on every line: found once, then all at once
    by token_ends; and the ``follow`` needles', whose lines select finds again: once), when
    installed (each needle found by a rare piece of it, see _compile), else a search for each."""
    every = [(n.encode(), False) for n in needles + follow]
    every += [(n.encode().lower(), True) for n in caseless]
    every += [(token, False) for token in (*OTHER_LEVELS, ESCAPED, *ESCAPED_LEVELS.values())]
    once = every.index((ESCAPED, False))  # wanted only to tell there is one
    counted = set(range(once + 1, len(every)))  # their lines are not wanted
    levels = [every.index((token, False)) for token in OTHER_LEVELS]
    single = {once, *levels}  # matched once
    # a follow needle's lines are found again by select: whether the chunk holds one is enough
    followed = {n.encode() for n in follow} - {n.encode() for n in needles}
    single.update(i for i, (n, folded) in enumerate(every) if n in followed and not folded)

    def _located(ids, at, chunk: bytes, ends, first: bool = True) -> tuple[dict, dict]:
        """``ids``, ``at`` (numpy arrays): the index in every of each match and where it ends, of
        each level token the first only (``first``) or every one."""
        located: dict = {}
        counts: dict = {}
        if not len(ids):
            return located, counts
        import numpy

        ends = newlines(chunk) if ends is None else ends
        present = [i for i in levels if i in ids] if first else []
        if present:  # each level token's matches, not its first only
            others = ~numpy.isin(ids, present)
            ids, at = ids[others], at[others]
            more = [token_ends(chunk, every[i][0]) for i in present]
            ids = numpy.concatenate([ids, *(numpy.full(len(m), i) for i, m in zip(present, more))])
            at = numpy.concatenate([at, *more])
        lines = ends.searchsorted(at)  # the newlines before each match: the line's number
        starts = numpy.where(lines > 0, ends[lines - 1] + 1, 0)  # where that line starts
        order = numpy.argsort(ids, kind="stable")  # the matches token by token
        tokens, firsts, many = numpy.unique(ids[order], return_index=True, return_counts=True)
        starts = starts[order].tolist()
        for i, begin, n in zip(tokens.tolist(), firsts.tolist(), many.tolist(), strict=True):
            counts[every[i]] = n
            if i not in counted:
                located[every[i]] = set(starts[begin : begin + n])
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
            import numpy

            ids, at = numpy.array(found, numpy.int64).reshape(-1, 2).T
            return _located(ids, at, chunk, ends)

        return search
    # the Hyperscan pass reporting each level token's every match, and the one reporting its
    # first (the others found by token_ends, one split in C each: cheaper past one a kilobyte),
    # made at the first chunk (a sample of the input); which one the last chunk asked for
    compiled: dict = {}
    first = [False]
    # the escaped level markers: each found by its first 8 bytes (its last 8, '" level=', stand on
    # every line; Hyperscan's literal matcher keys on them), confirmed around each match
    escapes = [i for i, (token, folded) in enumerate(every) if token.startswith(ESCAPED)]

    def scan(chunk: bytes, ends=None) -> tuple[dict, dict]:
        if not compiled:  # both at once (one C call): the scanner may be shared by threads
            pieces = _factors(every, single | counted, chunk[:_SAMPLE])  # not the own tokens
            for i in escapes:  # one piece for all, the 8 bytes Hyperscan keys on whole
                pieces[i] = ESCAPED[:_FACTOR]
            compiled.update(
                {
                    True: _compile(hyperscan, every, single, pieces),
                    False: _compile(hyperscan, every, single - set(levels), pieces),
                }
            )
        firsts = first[0]  # read once: another thread may flip it
        located, counts = _located(*compiled[firsts](chunk), chunk, ends, firsts)
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
) -> Callable[[bytes], tuple]:
    """A function giving the matches of the needles of ``every`` in a chunk, the index in every of
    each and where it ends (two numpy arrays), for the needle's first only for a ``single`` one:
    one Hyperscan pass looking for ``pieces``, one piece of each needle (the needle itself, or a
    rarer part of it: see _factors); where a needle's piece stands, whether the needle stands
    around it is confirmed, for all the places a piece stands at once. These are the matches the
    needles scanned whole give, but for their order."""
    import numpy

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
    wanted = [numpy.frombuffer(needle, numpy.uint8) for needle, _ in every]

    def matches(chunk: bytes) -> tuple:
        flat: list[int] = []  # each match's id and end, one after the other
        add = flat.extend
        db.scan(chunk, match_event_handler=lambda i, start, end, flags, context: add((i, end)))
        ids, at = numpy.array(flat, numpy.int64).reshape(-1, 2).T
        piece = ids >= whole
        if not piece.any():
            return ids, at
        text = numpy.frombuffer(chunk, numpy.uint8)
        out_ids, out_at = [ids[~piece]], [at[~piece]]
        for j in numpy.unique(ids[piece]).tolist():
            ends = at[ids == j]  # where the piece ends, ascending
            windows: dict = {}  # (before, folded) -> the bytes around each end, read once
            for i, before, after in groups[j]:
                folded = every[i][1]
                if (before, folded) not in windows:  # as wide as the widest needle of the group
                    width = max(b + a for _, b, a in groups[j] if b == before)
                    starts = ends - before
                    starts = starts[starts >= 0]
                    room = len(chunk) - starts  # bytes from each start to the chunk's end
                    window = text[
                        numpy.minimum(starts[:, None] + numpy.arange(width), len(text) - 1)
                    ]
                    if folded:  # ASCII letters made small, as bytes.lower does
                        window = window | ((window >= 65) & (window <= 90)).astype(numpy.uint8) << 5
                    windows[before, folded] = starts, room, window
                starts, room, window = windows[before, folded]
                size = before + after
                hit = (room >= size) & (window[:, :size] == wanted[i]).all(axis=1)
                found = starts[hit]
                if i in single:
                    found = found[:1]
                out_ids.append(numpy.full(len(found), i, numpy.int64))
                out_at.append(found + before + after)
        return numpy.concatenate(out_ids), numpy.concatenate(out_at)

    return matches
