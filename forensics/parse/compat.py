"""Python 3.10 support for the stdlib patterns of the dump grammar.

Possessive quantifiers (``*+``, ``++``, ``?+``, ``{m,n}+``) came to :mod:`re` in Python 3.11. The
dump grammar uses them only to spare backtracking (what they match is the same either way), so
on 3.10 they are compiled as plain greedy quantifiers. ``from forensics.parse.compat import re``
is the :mod:`re` module with that ``compile``."""

from __future__ import annotations

import re as _re
import sys

_POSSESSIVE = _re.compile(r"(?<!\\)([*+?}])\+")


def _compile(pattern, flags: int = 0):
    if sys.version_info < (3, 11) and isinstance(pattern, str):
        pattern = _POSSESSIVE.sub(r"\1", pattern)
    return _re.compile(pattern, flags)


class _Re:
    """The re module, but for compile (see above)."""

    compile = staticmethod(_compile)

    def __getattr__(self, name: str):
        return getattr(_re, name)


re = _Re() if sys.version_info < (3, 11) else _re
