"""Where the command line writes: never over an input, never through a symbolic link.

:func:`check` is called before anything is read: an output that is an input (after symbolic
links, ``..``, ``./``), or an existing file inside an input directory that is not a report of
ours, is refused; so are two outputs to one file and two outputs to stdout. :func:`emit`
writes through :func:`forensics.outputs.write` (the one writer, also ``scan``'s).
"""

from __future__ import annotations

import os
from pathlib import Path

from forensics.outputs import write


class OutputError(Exception):
    """An output that would destroy evidence or another output; said in one line."""


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _ours(path: Path) -> bool:
    from forensics.ingest import archives, sources

    if not path.is_symlink() and (path.parent / sources.SCAN_MARK).is_file():
        return True  # a file of a `scan --out` directory (fleet.csv, fleet.parquet, the mark)
    try:
        with open(path, "rb") as raw:
            stream, _ = archives.decompress(raw)
            return sources.own_output(archives.peek(stream, sources.SNIFF))
    except OSError:
        return False


def check(inputs: list[str], outputs: dict[str, str | None]) -> None:
    """``outputs``: option name -> path (None: not asked for). Raises OutputError."""
    given = {option: path for option, path in outputs.items() if path}
    if [p for p in given.values() if p == "-"][1:]:
        raise OutputError(
            f"only one output can go to stdout (-): {', '.join(o for o, p in given.items() if p == '-')}"
        )
    files = [(option, Path(path)) for option, path in given.items() if path != "-"]
    for i, (option, path) in enumerate(files):
        for other, earlier in files[:i]:
            if path.resolve() == earlier.resolve() or (path.exists() and _same(path, earlier)):
                raise OutputError(
                    f"{other} and {option} name the same file ({path}); give each its own"
                )
        if path.is_dir():
            raise OutputError(f"{option} {path}: is a directory")
        for raw in inputs:
            if raw == "-":
                continue
            source = Path(raw)
            if not source.exists():
                continue
            if source.is_dir():
                if (
                    (path.exists() or path.is_symlink())
                    and _inside(path, source)
                    and not _ours(path)
                ):
                    raise OutputError(
                        f"{option} {path} would overwrite an input file inside {raw}; "
                        "write the output elsewhere"
                    )
            elif _same(path, source) or path.resolve() == source.resolve():
                raise OutputError(f"{option} {path} is the input {raw}; write the output elsewhere")


def emit(path: str, text: str, mode: int | None = None) -> None:
    """``text`` to ``path`` (see :func:`write`), or to standard output for ``-``; a failure is one
    line and exit 2."""
    import sys

    import typer

    try:
        if path == "-":
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        else:
            write(path, text, mode)
    except OSError as exc:
        where = "standard output" if path == "-" else path
        typer.echo(f"forensics: cannot write {where}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
