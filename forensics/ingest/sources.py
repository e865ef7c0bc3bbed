"""Turn what the user named (paths, directories, compressed files, archives, ``-``) into inputs.

An input is a named binary stream; :func:`read_lines` turns it into text lines. Nothing
here interprets the lines. Directories are walked recursively (sorted, symbolic-link loops
cut), compression (gzip, bzip2, xz, zstd) and tar archives are opened as streams, in memory,
wherever they appear (``bundle.tgz!var/log/docker.log.gz`` is read through both). What
cannot be opened becomes a ``Problem`` instead of an exception, so that the rest of the
inputs are still analysed. Inputs are only ever opened for reading; nothing is extracted.
"""

from __future__ import annotations

import bisect
import io
import os
import re
import stat
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from forensics.ingest import archives
from forensics.ingest.archives import READ_ERRORS
from forensics.ingest.needles import newlines
from forensics.ingest.skim import FOLLOWS, Skim, Skipped, Surveys, workers
from forensics.model import (
    Problem,  # sources.Problem: what could not be read (defined with the data types)
)

MAX_LINE = 1 << 20  # a longer physical line is cut here (and reported)
# (lines before it, byte offset) of each block read_lines read of a plain file, by (path, size,
# mtime): lines_at seeks to the cited lines instead of counting its way there; the last few inputs
_MARKS: dict[tuple, list[tuple[int, int]]] = {}
_MARKED = 16
SNIFF = 8192
# What forensics itself writes (reports, dumps' pages, fleet tables), recognised by content: read as
# evidence, a report would cite its own rules table and examples as if the daemon had logged them.
_OWN_OUTPUT = re.compile(
    rb'\A\s*\{\s*"(?:schema"\s*:\s*"forensics-|fingerprint"\s*:)'  # JSON reports, scan cache
    rb'|<meta name="generator" content="forensics'  # HTML pages
    rb"|<title>forensics (?:report|fleet scan):"  # pages written before the generator mark
    rb"|\A\s*## forensics: ",
    re.DOTALL | re.IGNORECASE,
)  # Markdown for a ticket
SCAN_MARK = (
    ".forensics-scan"  # written in every `scan --out` directory: never read as a host's evidence
)


def own_output(head: bytes) -> bool:
    """True when these first bytes are a report, page or table that forensics wrote."""
    return _OWN_OUTPUT.search(head[:SNIFF]) is not None


@dataclass(slots=True)
class Input:
    name: str  # display name used in file:line provenance ("bundle.tgz!var/log/docker.log")
    path: Path | None  # the file on disk; None for stdin and archive members
    size: int = 0
    stream: io.BufferedIOBase | None = field(
        default=None, repr=False
    )  # open, decompressed, while it is read
    mtime: float | None = (
        None  # modification time (file or archive member), for a year an envelope omits
    )
    layers: tuple[str, ...] = ()  # compression layers undone, outermost first


OWN = "written by forensics (a report, page or table), not evidence"
AGAIN = "the same file as an input read before (given twice, or through another link); read once"


def walk(
    paths: list[str], problems: list[Problem], skipped: list[tuple[str, str]] | None = None
) -> Iterator[Input]:
    """Every input named by ``paths``, opened one at a time: read each one before asking for the next.

    What forensics wrote itself (see :func:`own_output`) is not an input, and a file is read once however
    often it is named: these go to ``skipped`` as (name, why)."""
    skipped = [] if skipped is None else skipped
    seen: set[tuple[int, int]] = set()  # (device, inode) of every file read
    for raw in paths:
        if raw == "-" and sys.stdin is None:  # started with standard input closed
            problems.append(Problem("<stdin>", None, "standard input is closed", fatal=True))
            continue
        if raw == "-":
            yield from _open("<stdin>", None, sys.stdin.buffer, problems, None, skipped=skipped)
            continue
        path = Path(raw)
        if path.is_dir():
            yield from _walk_dir(raw, path, problems, skipped, seen)
        elif path.is_file():
            try:
                st = path.stat()
            except OSError:
                st = os.stat_result((0,) * 10)
            if st.st_ino and (st.st_dev, st.st_ino) in seen:
                skipped.append((raw, AGAIN))
                continue
            seen.add((st.st_dev, st.st_ino))
            yield from _open_file(raw, path, problems, skipped)
        elif path.exists():
            problems.append(Problem(raw, None, "not a regular file", fatal=True))
        elif path.is_symlink():
            problems.append(Problem(raw, None, "broken symbolic link", fatal=True))
        else:
            problems.append(Problem(raw, None, "no such file or directory", fatal=True))


def _walk_dir(
    raw: str,
    root: Path,
    problems: list[Problem],
    skipped: list[tuple[str, str]],
    seen_files: set[tuple[int, int]],
) -> Iterator[Input]:
    sos_roots: list[
        str
    ] = []  # directories laid out as a sosreport (sos_commands/, sos_logs/...): never by name
    seen_dirs: set[tuple[int, int]] = set()
    found = False

    def unreadable(exc: OSError) -> None:
        problems.append(
            Problem(str(exc.filename or raw), None, f"cannot read directory: {exc.strerror or exc}")
        )

    for dirpath, dirnames, filenames in _tree(str(root), unreadable):
        try:
            st = os.stat(dirpath)
        except OSError as exc:
            unreadable(exc)
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            problems.append(
                Problem(
                    dirpath, None, "symbolic link to a directory already read (a loop?); skipped"
                )
            )
            dirnames[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        if SCAN_MARK in filenames:  # a `forensics scan --out` directory
            skipped.append((dirpath, OWN))
            dirnames[:] = []
            found = True
            continue
        dirnames.sort()
        if archives.SOS_LAYOUT.intersection(dirnames):
            sos_roots.append(dirpath)
        sos = next(
            (
                r
                for r in reversed(sos_roots)
                if dirpath == r or dirpath.startswith(r.rstrip(os.sep) + os.sep)
            ),
            None,
        )
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if sos is not None and not archives.wanted(path.relative_to(sos).as_posix(), True):
                continue
            try:
                st = path.stat()
            except OSError as exc:
                broken = path.is_symlink() and not path.exists()
                problems.append(
                    Problem(
                        str(path),
                        None,
                        "broken symbolic link" if broken else f"cannot open: {exc.strerror or exc}",
                        fatal=True,
                    )
                )
                continue
            if not stat.S_ISREG(st.st_mode):
                problems.append(Problem(str(path), None, "not a regular file; skipped"))
                continue
            if (
                st.st_dev,
                st.st_ino,
            ) in seen_files:  # the same file through another link, or given twice
                found = True
                skipped.append((str(path), AGAIN))
                continue
            seen_files.add((st.st_dev, st.st_ino))
            found = True
            yield from _open_file(str(path), path, problems, skipped)
    if not found:
        problems.append(Problem(raw, None, "directory holds no files", fatal=True))


def _tree(top: str, onerror) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top, followlinks=True)`` without recursion (os.walk recurses before Python 3.12, and a
    tree nested a thousand deep would end in RecursionError): top-down, the caller may prune ``dirnames``."""
    stack = [top]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as it:
                entries = list(it)
        except OSError as exc:
            onerror(exc)
            continue
        dirnames, filenames = [], []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            (dirnames if is_dir else filenames).append(entry.name)
        yield here, dirnames, filenames
        stack.extend(os.path.join(here, d) for d in reversed(dirnames))


def _open_file(
    name: str, path: Path, problems: list[Problem], skipped: list[tuple[str, str]]
) -> Iterator[Input]:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below, after the input is read
        st = os.fstat(raw.fileno())
    except OSError as exc:
        problems.append(Problem(name, None, f"cannot open: {exc.strerror or exc}", fatal=True))
        return
    with raw:
        yield from _open(name, path, raw, problems, st.st_mtime, st.st_size, skipped=skipped)


def _open(
    name: str,
    path: Path | None,
    raw,
    problems: list[Problem],
    mtime: float | None,
    size: int = 0,
    depth: int = 0,
    skipped: list[tuple[str, str]] | None = None,
) -> Iterator[Input]:
    """Undo compression, descend into tar archives, refuse binary journal files."""
    stream, layers = archives.decompress(
        raw, capped=path is None and depth == 0
    )  # stdin may never end
    head = archives.peek(stream, 512)
    if archives.is_tar(head) and depth < 8:

        def problem(source: str, line: int | None, message: str, fatal: bool) -> None:
            problems.append(Problem(source, line, message, fatal))

        for member, data, when in archives.members(name, stream, problem):
            yield from _open(member, None, data, problems, when, depth=depth + 1, skipped=skipped)
        return
    if head.startswith(archives.JOURNAL_FILE):
        problems.append(
            Problem(
                name,
                None,
                "binary systemd journal file: give `journalctl --file "
                "<file> -o export` (or -o json) output instead",
                fatal=True,
            )
        )
        return
    if own_output(archives.peek(stream, SNIFF)):
        if skipped is not None:
            skipped.append((name, OWN))
        return
    yield Input(name, path, size, stream, mtime, tuple(layers))


def looks_binary(chunk: bytes) -> bool:
    """True when a chunk is not text: many NULs or control bytes."""
    if not chunk:
        return False
    bad = sum(1 for b in chunk if b < 9 or 13 < b < 32 or b == 127)
    return bad / len(chunk) > 0.10


def head(inp: Input, size: int = SNIFF) -> bytes:
    """The first bytes of an open input, without consuming them."""
    return archives.peek(inp.stream, size) if inp.stream is not None else b""


def read_lines(
    inp: Input, problems: list[Problem], skim: Skim | None = None
) -> Iterator[str | Skipped]:
    """Yield the decoded lines of one open input (without line ends).

    Undecodable bytes become U+FFFD; a binary input or a read error stops this input
    with a Problem naming the line reached. With ``skim``, past its first lines, routine
    blocks are given as their first and last lines and a :class:`Skipped` count between.
    """
    at = [0]  # the line reached
    stream = inp.stream
    try:
        if looks_binary(head(inp)):
            problems.append(
                Problem(
                    inp.name, 1, "binary data, not a log or a goroutine dump; skipped", fatal=True
                )
            )
            return
        readline = stream.readline
        while skim is None or at[0] < skim.after:
            raw = readline(MAX_LINE + 1)
            if not raw:
                return
            at[0] += 1
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                _skip_long(inp.name, at[0], readline, problems)
            yield _text(raw)
        marks = None
        if inp.path is not None and not inp.layers:
            while len(_MARKS) >= _MARKED:
                del _MARKS[next(iter(_MARKS))]
            marks = _MARKS[_marked(inp)] = []
        yield from _blocks(inp.name, stream, skim, at, problems, inp.size, marks)
    except archives.InputTooLarge as exc:
        problems.append(Problem(inp.name, at[0] + 1, str(exc), fatal=at[0] == 0))
    except READ_ERRORS as exc:
        problems.append(Problem(inp.name, at[0] + 1, f"read error: {exc}", fatal=at[0] == 0))


def _text(raw: bytes) -> str:
    if b"\x00" in raw:
        raw = raw.replace(b"\x00", b"")
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _skip_long(name: str, line: int, readline, problems: list[Problem]) -> None:
    problems.append(Problem(name, line, f"line longer than {MAX_LINE} bytes; cut"))
    while True:  # skip the rest of the over-long physical line
        more = readline(MAX_LINE)
        if not more or more.endswith(b"\n"):
            break


def _blocks(
    name: str,
    stream,
    skim: Skim,
    at: list[int],
    problems: list[Problem],
    size: int = 0,
    marks: list | None = None,
) -> Iterator[str | Skipped]:
    """Read in blocks; give the lines the analysis needs and Skipped counts of the others. The last
    blocks are held until the next one shows whether their last lines lead up to a panic or a dump.
    With FORENSICS_JOBS set (skim.workers), an input of ``skim.parallel_from`` bytes or more is read
    ahead and its blocks surveyed by other processes (skim.Surveys), what it gives unchanged.
    ``marks``: where each block starts is added to it (see _MARKS)."""
    held: list[list] = []  # [chunk, pieces, lines] of the blocks not given yet, oldest first
    follows, same = [FOLLOWS], {}
    processes = workers() if size >= skim.parallel_from else 0
    surveys = Surveys(skim, processes) if processes else None
    chunks = _chunks(name, stream, skim, at[0], problems, marks)
    ahead: deque = deque()  # blocks read, surveys asked for
    try:
        while True:
            surveyed = None
            if surveys is None:
                chunk, ends = next(chunks)
            else:
                while len(ahead) <= surveys.ahead and (not ahead or ahead[-1][0]):
                    ahead.append(next(chunks))
                    surveys.put(ahead[-1][0])
                (chunk, ends), surveyed = ahead.popleft(), surveys.get()
            lines = len(ends)
            pieces, wanted = (
                skim.select(chunk, follows=follows, same=same, surveyed=surveyed, ends=ends)
                if chunk
                else (None, 0)
            )
            for block in reversed(held):  # the context the new block wants, from the blocks before
                if wanted <= 0:
                    break
                if block[1] is not None:
                    block[1] = skim.select(block[0], tail=wanted, same={})[0]
                wanted -= block[2]
            if chunk:
                held.append([chunk, pieces, lines])
            while held and (not chunk or sum(block[2] for block in held[1:]) >= skim.context):
                before, given, _ = held.pop(0)
                yield from _pieces(before, given, at)
            if not chunk:
                return
    finally:
        if surveys is not None:
            surveys.close()


def _chunks(
    name: str, stream, skim: Skim, read: int, problems: list[Problem], marks: list | None = None
) -> Iterator[tuple[bytes, object]]:
    """The blocks of whole lines of ``stream`` (``read`` lines read before it) and where their
    newlines stand (needles.newlines), then an empty block; ``marks``: (lines before, offset) of each
    block appended."""
    while True:
        if marks is not None:
            marks.append((read, stream.tell()))
        chunk = stream.read(skim.block)
        if chunk and not chunk.endswith(b"\n"):
            rest = stream.readline(MAX_LINE + 1)
            chunk += rest
            if len(rest) > MAX_LINE and not rest.endswith(b"\n"):
                _skip_long(name, read + chunk.count(b"\n") + 1, stream.readline, problems)
                chunk += b"\n"
        ends = newlines(chunk)
        read += len(ends)
        yield chunk, ends
        if not chunk:
            return


def _pieces(chunk: bytes, pieces: list | None, at: list[int]) -> Iterator[str | Skipped]:
    if pieces is None:  # every line
        for raw in chunk.split(b"\n")[:-1] if chunk.endswith(b"\n") else chunk.split(b"\n"):
            at[0] += 1
            yield _text(raw)
        return
    for piece in pieces:
        if type(piece) is Skipped:
            piece.line = at[0] + 1
            at[0] += piece.count
            yield piece
        else:
            at[0] += 1
            yield _text(piece)


def _marked(inp: Input) -> tuple:
    return (str(inp.path), inp.size, inp.mtime)


def lines_at(inp: Input, numbers: set[int], block: int = 1 << 20) -> dict[int, str]:
    """The text of the given line numbers of an open input (numbered as :func:`read_lines` does),
    decoding only the blocks that hold them; reading stops after the last one. Where read_lines
    read this plain file in blocks (_MARKS), the blocks before a wanted line are skipped, not read."""
    out: dict[int, str] = {}
    last, done = max(numbers, default=0), 0
    marks = _MARKS.get(_marked(inp), []) if inp.path is not None and not inp.layers else []
    wanted = sorted(numbers)
    try:
        while done < last:
            below = bisect.bisect_left(wanted, done + 1)  # the next wanted line
            mark = bisect.bisect_left(marks, (wanted[below], 0)) - 1  # the block holding it
            if mark >= 0 and marks[mark][0] > done:  # blocks before it skipped
                done, offset = marks[mark]
                inp.stream.seek(offset)
            chunk = inp.stream.read(block)
            if not chunk:
                break
            if not chunk.endswith(b"\n"):
                chunk += inp.stream.readline()
            count = chunk.count(b"\n") + (not chunk.endswith(b"\n"))
            if any(done < n <= done + count for n in numbers):
                pieces = chunk.split(b"\n")
                for n, raw in enumerate(pieces[:count], done + 1):
                    if n in numbers:
                        out[n] = _text(raw)
            done += count
    except READ_ERRORS:
        pass
    return out
