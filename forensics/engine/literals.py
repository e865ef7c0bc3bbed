"""The literal text a regular expression cannot match without: what a fast pre-filter looks for.

``required(pattern)`` returns a set of strings such that every match of the pattern contains
at least one of them (``{"failed to dial", "Failed to connect to containerd"}`` for
``(?:failed to dial|Failed to connect to containerd).*containerd``), and whether case must be
ignored; ``None`` when no such set could be found (``\\d+``, a construct not understood).
The strings are cut at characters a log line may carry escaped (quotes, backslashes, control
characters), so they appear verbatim in the raw line as well as in the parsed message.
"""

from __future__ import annotations

import re
from functools import lru_cache

try:  # the parse tree's node kinds (Python's own sre parser): re._parser from 3.11, sre_parse before
    from re import _constants as C
    from re import _parser
except ImportError:  # Python 3.10
    import sre_constants as C
    import sre_parse as _parser

_NONE = object()  # node kinds 3.10 lacks (possessive repeats, atomic groups) match nothing
POSSESSIVE_REPEAT = getattr(C, "POSSESSIVE_REPEAT", _NONE)
ATOMIC_GROUP = getattr(C, "ATOMIC_GROUP", _NONE)

UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]+')


def _best(candidates: list[set[str]]) -> set[str] | None:
    """The alternative set whose shortest member is longest (fewest members breaks ties)."""
    usable = [c for c in candidates if c and all(c)]
    return max(usable, key=lambda c: (min(map(len, c)), -len(c)), default=None)


def _sequence(items) -> set[str] | None:
    candidates: list[set[str]] = []
    run: list[str] = []
    for op, arg in items:
        if op is C.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            candidates.append({"".join(run)})
            run = []
        if op is C.SUBPATTERN:
            candidates.append(_sequence(arg[-1]))
        elif op is C.BRANCH:
            branches = [_sequence(b) for b in arg[1]]
            if all(branches):
                candidates.append(set().union(*branches))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, POSSESSIVE_REPEAT) and arg[0] >= 1:
            candidates.append(_sequence(arg[2]))
        elif op is ATOMIC_GROUP:
            candidates.append(_sequence(arg))
    if run:
        candidates.append({"".join(run)})
    return _best([c for c in candidates if c])


def safe(text: str) -> str:
    """The longest piece of ``text`` that escaping in a log line leaves as it is."""
    return max(UNSAFE.split(text), key=len)


def _ignores_case(tree) -> bool:
    if tree.state.flags & re.IGNORECASE:
        return True
    stack = list(tree)
    while stack:
        op, arg = stack.pop()
        if op is C.SUBPATTERN:
            if arg[1] & re.IGNORECASE:
                return True
            stack.extend(arg[-1])
        elif op is C.BRANCH:
            for b in arg[1]:
                stack.extend(b)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, POSSESSIVE_REPEAT):
            stack.extend(arg[2])
        elif op in (C.ASSERT, C.ASSERT_NOT):
            stack.extend(arg[1])
        elif op is ATOMIC_GROUP:
            stack.extend(arg)
    return False


@lru_cache(maxsize=1024)
def required(pattern: str, min_length: int = 3) -> tuple[frozenset[str], bool] | None:
    """(strings one of which every match contains, ignore case) or None when unknown."""
    try:
        tree = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None  # syntax only the `regex` module knows: no pre-filter for it
    found = _sequence(list(tree))
    if not found:
        return None
    pieces = frozenset(safe(text) for text in found)
    if min(map(len, pieces)) < min_length:
        return None
    return pieces, _ignores_case(tree)
