"""Turn what the user named (paths, directories, compressed files, ``-``) into inputs.

An input is a named stream of text lines. Nothing here interprets the lines. What
cannot be opened becomes a ``Problem`` instead of an exception, so that the rest of
the inputs are still analysed. Inputs are only ever opened for reading.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

MAX_LINE = 1 << 20  # a longer physical line is cut here (and reported)
SNIFF = 8192


@dataclass(slots=True)
class Problem:
    """Something that could not be read, said in one line with its place."""

    source: str
    line: int | None
    message: str
    fatal: bool = False  # the whole input was unreadable

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"


@dataclass(slots=True)
class Input:
    name: str  # display name used in file:line provenance
    path: Path | None  # None for stdin
    size: int = 0


_MAGIC = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


def collect(paths: list[str]) -> tuple[list[Input], list[Problem]]:
    """Expand directories (recursively, sorted) and check that every path is readable."""
    inputs: list[Input] = []
    problems: list[Problem] = []
    for raw in paths:
        if raw == "-":
            inputs.append(Input("<stdin>", None))
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            if not files:
                problems.append(Problem(raw, None, "directory holds no files", fatal=True))
            inputs.extend(Input(str(p), p, _size(p)) for p in files)
        elif path.is_file():
            inputs.append(Input(raw, path, _size(path)))
        elif path.exists():
            problems.append(Problem(raw, None, "not a regular file", fatal=True))
        else:
            problems.append(Problem(raw, None, "no such file or directory", fatal=True))
    return inputs, problems


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _open_binary(inp: Input) -> io.BufferedIOBase:
    if inp.path is None:
        return sys.stdin.buffer
    raw = open(inp.path, "rb")  # noqa: SIM115 - closed by the caller
    head = raw.peek(6)[:6] if hasattr(raw, "peek") else b""
    for magic, opener in _MAGIC.items():
        if head.startswith(magic):
            raw.close()
            return opener(inp.path, "rb")
    return raw


def looks_binary(chunk: bytes) -> bool:
    """True when a chunk is not text: many NULs or control bytes."""
    if not chunk:
        return False
    bad = sum(1 for b in chunk if b < 9 or 13 < b < 32 or b == 127)
    return bad / len(chunk) > 0.10


def read_lines(inp: Input, problems: list[Problem]) -> Iterator[str]:
    """Yield the decoded lines of one input (without line ends).

    Undecodable bytes become U+FFFD; a binary input or a read error stops this input
    with a Problem naming the line reached.
    """
    lineno = 0
    try:
        stream = _open_binary(inp)
    except OSError as exc:
        problems.append(Problem(inp.name, None, f"cannot open: {exc.strerror or exc}", fatal=True))
        return
    try:
        head = stream.peek(SNIFF)[:SNIFF] if hasattr(stream, "peek") else b""
        if looks_binary(head):
            problems.append(Problem(inp.name, 1, "binary data, not a log or a goroutine dump; skipped", fatal=True))
            return
        while True:
            raw = stream.readline(MAX_LINE + 1)
            if not raw:
                break
            lineno += 1
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                problems.append(Problem(inp.name, lineno, f"line longer than {MAX_LINE} bytes; cut"))
                while True:  # skip the rest of the over-long physical line
                    more = stream.readline(MAX_LINE)
                    if not more or more.endswith(b"\n"):
                        break
            if b"\x00" in raw:
                raw = raw.replace(b"\x00", b"")
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
    except (OSError, EOFError, lzma.LZMAError) as exc:
        problems.append(Problem(inp.name, lineno + 1, f"read error: {exc}", fatal=lineno == 0))
    finally:
        if inp.path is not None:
            stream.close()
