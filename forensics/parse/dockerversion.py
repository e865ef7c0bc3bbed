"""``docker version`` output among the inputs: the Engine fields of its ``Server:`` part.

As the CLI prints it (and as ``forensics collect`` renders it, see
:func:`forensics.collect.dockerapi.render_version`)::

    Server: Docker Engine - Community        Server:              (before 17.06)
     Engine:                                  Version:      1.13.1
      Version:          27.4.1                Go version:   go1.7.5
      Go version:       go1.22.12
     containerd:
      Version:          1.6.20

The one reader of that text: the daemons table takes ``Version``, the report's environment
``Go version``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

_FIELD = regex.compile(r"^(?P<indent>\s+)(?P<key>[A-Za-z][\w /-]*?):(?:\s+(?P<value>\S.*?))?\s*$")


@dataclass
class Server:
    """One ``Server:`` block: its Engine's fields, each with the input row it was read from."""

    source: str
    line: int
    fields: dict[str, tuple[str, object]] = field(default_factory=dict)

    def get(self, key: str) -> tuple[str, object] | tuple[None, None]:
        return self.fields.get(key, (None, None))


def servers(rows) -> list[Server]:
    """Every ``Server:`` block among ``rows`` (input lines in order: objects with ``msg``, ``source``,
    ``line``, e.g. parse Events or evidence table rows). A block ends at the first line that is not
    indented or not right below the previous one."""
    out: list[Server] = []
    block, component, last = None, None, None
    for row in rows:
        text = row.msg
        if block is not None and row.source == block.source and 0 < row.line - last <= 2:
            m = _FIELD.match(text)
            if m:
                last = row.line
                if not m["value"] and len(m["indent"]) == 1:
                    component = m["key"]  # " Engine:", " containerd:", " runc:"
                elif m["value"] and component in (None, "Engine"):
                    block.fields.setdefault(m["key"], (m["value"], row))
                continue
        block = None
        if text.startswith("Server:"):
            block, component, last = Server(row.source, row.line), None, row.line
            out.append(block)
    return out
