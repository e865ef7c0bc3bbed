"""Docker Engine versions as users and packages write them, and ranges over them.

``27.4.1``, ``20.10.24+dfsg1``, ``1.13.1-rhel``, ``24.0.7-ce``, ``18.03.1-ce``,
``v28.0.0-rc.1``: the numeric release is what counts; suffixes name packaging.
A range is a comma-separated list of ``<``, ``<=``, ``>``, ``>=``, ``==`` bounds
(all must hold); a list of ranges matches when any does.
"""

from __future__ import annotations

import re

_NUM = re.compile(r"v?(\d+(?:\.\d+){0,3})")
_BOUND = re.compile(r"\s*(<=|>=|==|<|>)\s*(\S+)\s*")


def parse(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    m = _NUM.match(str(text).strip())
    if not m:
        return None
    parts = [int(p) for p in m.group(1).split(".")]
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def check_range(spec: str) -> str | None:
    """None when ``spec`` is a valid range, else what is wrong with it."""
    for bound in spec.split(","):
        m = _BOUND.fullmatch(bound)
        if not m or parse(m.group(2)) is None:
            return f"bad version bound {bound.strip()!r} (want e.g. '>=18.03, <27.5.0')"
    return None


def in_range(version: str | None, spec: str) -> bool | None:
    """True/False, or None when the version is unknown."""
    have = parse(version)
    if have is None:
        return None
    for bound in spec.split(","):
        op, want = _BOUND.fullmatch(bound).groups()
        want_v = parse(want)
        ok = {
            "<": have < want_v,
            "<=": have <= want_v,
            ">": have > want_v,
            ">=": have >= want_v,
            "==": have == want_v,
        }[op]
        if not ok:
            return False
    return True


def in_any(version: str | None, specs: list[str]) -> bool | None:
    results = [in_range(version, s) for s in specs]
    if any(r is None for r in results):
        return None
    return any(results)


def range_in_any(candidates, specs: list[str]) -> bool | None:
    """A range of releases (a dump's candidates) against affected ranges: True when every
    candidate is affected, False when none is, None when they straddle a bound (or are unknown)."""
    results = [in_any(v, specs) for v in candidates]
    if not results or any(r is None for r in results):
        return None
    if all(results):
        return True
    return False if not any(results) else None
