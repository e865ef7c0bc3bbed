"""The lines around each cited line, read again from the inputs after the analysis.

The parse does not keep its input (logs can be large); the few lines a report shows around its
evidence are picked up in a second pass over the inputs that are cited, and only up to the last
cited line. Standard input cannot be read twice: its citations have no surrounding lines.
"""

from __future__ import annotations

from collections.abc import Iterable

from forensics.ingest import sources

BEFORE, AFTER = 2, 4  # lines shown above and below a cited line (a dump's header: its first frames)
WIDTH = 400  # characters kept of each surrounding line


def around(
    paths: list[str],
    cited: Iterable[tuple[str, int]],
    before: int = BEFORE,
    after: int = AFTER,
) -> dict[tuple[str, int], list[tuple[int, str]]]:
    """``{(source, line): [(lineno, text), ...]}`` for each cited line of a re-readable input."""
    wanted: dict[str, set[int]] = {}
    for source, line in cited:
        if line and line > 0:
            wanted.setdefault(source, set()).add(line)
    out: dict[tuple[str, int], list[tuple[int, str]]] = {}
    if not wanted:
        return out
    for inp in sources.walk([p for p in paths if p != "-"], []):
        lines = wanted.get(inp.name)
        if not lines:
            continue
        keep = {n for line in lines for n in range(max(1, line - before), line + after + 1)}
        text = {
            n: raw[:WIDTH] + ("…" if len(raw) > WIDTH else "")
            for n, raw in sources.lines_at(inp, keep).items()
        }
        for line in lines:
            out[(inp.name, line)] = [
                (n, text[n]) for n in range(line - before, line + after + 1) if n in text
            ]
    return out
