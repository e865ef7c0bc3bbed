"""Run by tests/test_compiled.py in a subprocess: what the ``forensics`` this interpreter imports
(the installed package, or the checkout when it is first on the path) reads from each file given,
as one JSON document on stdout.  Its first field is the file of the bulk parser imported
(a ``.py`` or a compiled module).

Per file: the problems, and per dump every goroutine (its fields and frames), which goroutines
share a stack and a block (by order of first appearance), and ``forensics dump --json``'s data
with every bucket (the lock JSON among it)."""

import json
import sys

from forensics.cli.dump import load, report
from forensics.parse import fastdump
from forensics.parse.stacks import groups, stack_of


def _goroutine(g) -> list:
    frames = [[f.func, f.args, f.file, f.lineno, f.offset, f.inlined, f.line] for f in g.frames]
    return [
        g.id,
        g.line,
        g.state,
        g.wait_minutes,
        g.locked_to_thread,
        g.created_by,
        g.created_file,
        g.created_lineno,
        g.created_in,
        g.elided,
        g.truncated,
        g.weight,
        list(g.functions),
        frames,
    ]


def _dump(d) -> dict:
    stacks: dict[int, int] = {}  # id of a Stack -> its number, by first appearance
    shared = {}
    sharing = [stacks.setdefault(id(stack_of(g, shared)), len(stacks)) for g in d.goroutines]
    blocks = [[g.id for g in members] for members in groups(d.goroutines).values()]
    texts = [stack_of(g, shared).text for g in d.goroutines]
    return {
        "goroutines": [_goroutine(g) for g in d.goroutines],
        "stacks": sharing,
        "stack_texts": texts,
        "blocks": blocks,
    }


def main(paths: list[str]) -> None:
    out = {"parser": fastdump.__file__, "files": {}}
    for path in paths:
        problems: list = []
        dumps = load([path], problems)
        data = report(dumps, top=0)  # every bucket
        out["files"][path] = {
            "problems": [str(p) for p in problems],
            "dumps": [_dump(d) for d in dumps],
            "report": data,
        }
    json.dump(out, sys.stdout, default=str, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
