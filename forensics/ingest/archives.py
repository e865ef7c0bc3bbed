"""Open what is inside a stream: compression (gzip, bzip2, xz, zstd) and tar archives.

Everything is read as a stream, in memory: nothing is ever extracted or written. A tar
member becomes an input named ``bundle.tgz!var/log/docker.log`` (nested archives add
more ``!``). Archive members are never written anywhere, so ``../`` or absolute member
names are harmless; they are still reported, naming the member.

sosreport trees and tarballs hold thousands of files unrelated to Docker; inside them only
the files a dockerd diagnosis can use are read (see :func:`wanted`).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import PurePosixPath

import zstandard

BUFFER = 1 << 16
ZSTD = b"\x28\xb5\x2f\xfd"
JOURNAL_FILE = b"LPKSHHRH"  # a binary systemd journal file (*.journal)


def _zstd(raw: io.BufferedIOBase) -> io.BufferedIOBase:
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
    return io.BufferedReader(reader, BUFFER)


OPENERS: list[tuple[bytes, str, Callable]] = [
    (b"\x1f\x8b", "gzip", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),
    (b"BZh", "bzip2", lambda raw: bz2.BZ2File(raw, "rb")),
    (b"\xfd7zXZ\x00", "xz", lambda raw: lzma.LZMAFile(raw, "rb")),
    (ZSTD, "zstd", _zstd),
]
# Errors a damaged compressed stream or archive raises while it is read.
READ_ERRORS = (
    OSError,
    EOFError,
    lzma.LZMAError,
    zlib.error,
    zstandard.ZstdError,
    tarfile.TarError,
    ValueError,
)


def peek(stream, size: int = 512) -> bytes:
    try:
        return stream.peek(size)[:size] if hasattr(stream, "peek") else b""
    except READ_ERRORS:
        return b""


DEFAULT_MAX_INPUT_BYTES = 4 << 30  # decompressed bytes one run may read (--max-input-bytes)


class InputTooLarge(OSError):
    """Decompressed output (or standard input) went past the run's --max-input-bytes."""


class Budget:
    """Decompressed bytes left for this run, shared by every compressed input and archive member."""

    def __init__(self, limit: int = DEFAULT_MAX_INPUT_BYTES) -> None:
        self.limit, self.used = limit, 0


budget: ContextVar[Budget | None] = ContextVar("forensics_decompression_budget", default=None)


class _Capped(io.RawIOBase):
    """A decompressed stream that stops with InputTooLarge once the run's budget is spent."""

    def __init__(self, inner, budget: Budget) -> None:
        self.inner, self.budget = inner, budget

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        if self.budget.used >= self.budget.limit:
            raise InputTooLarge(
                f"more than --max-input-bytes ({self.budget.limit} bytes) decompressed or read "
                f"from standard input in this run (a decompression bomb? an endless stream?); "
                f"the rest is not read"
            )
        want = min(len(buf), self.budget.limit - self.budget.used)
        data = (
            self.inner.read1(want) if hasattr(self.inner, "read1") else self.inner.read(want)
        )  # read1: what
        # was decompressed before a damaged or cut-short stream fails is still returned
        buf[: len(data)] = data
        self.budget.used += len(data)
        return len(data)

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            super().close()


def decompress(stream, capped: bool = False) -> tuple[io.BufferedIOBase, list[str]]:
    """Unwrap every layer of compression; returns the stream and the layers' names.

    The decompressed stream (any stream with ``capped``: standard input, which may never end)
    counts against the run's :data:`budget` (when one is set)."""
    layers: list[str] = []
    while len(layers) < 4:  # a .gz.gz is fine; an endless nest is not
        head = peek(stream, 8)
        for magic, name, opener in OPENERS:
            if head.startswith(magic):
                stream = opener(stream)
                layers.append(name)
                break
        else:
            break
    cap = budget.get()
    if (layers or capped) and cap is not None:
        stream = io.BufferedReader(_Capped(stream, cap), BUFFER)
    return stream, layers


def is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def unsafe(name: str) -> bool:
    return name.startswith("/") or ".." in PurePosixPath(name).parts


# sosreport: the files a dockerd diagnosis can use, by path inside the report
_SOS_DIRS = (
    "sos_commands/docker",
    "sos_commands/containerd",
    "sos_commands/docker_distribution",
    "sos_commands/logs",
    "sos_commands/podman",
)
_SOS_LOGS = (
    "var/log/messages",
    "var/log/syslog",
    "var/log/docker",
    "var/log/daemon.log",
    "var/log/upstart/docker",
    "var/log/containerd",
)


SOS_LAYOUT = {
    "sos_commands",
    "sos_reports",
    "sos_logs",
}  # what sos writes at the top of every report


def is_sos(parts: tuple[str, ...]) -> bool:
    """Inside an archive: a member path of a sosreport (its own top folder is named sosreport-*)."""
    return any(p in SOS_LAYOUT or p.startswith("sosreport-") for p in parts[:-1])


def wanted(path: str, sos: bool = False) -> bool:
    """Inside a sosreport: docker/containerd command output, journal dumps, system logs, stack dumps."""
    parts = PurePosixPath(path).parts
    if not (sos or is_sos(parts)):
        return True
    name = parts[-1]
    if name.startswith("goroutine-stacks-") or name.endswith(".stacks.log"):
        return True
    rel = "/".join(parts)
    return any(f"{d}/" in f"/{rel}" or rel.startswith(f"{d}/") for d in _SOS_DIRS) or any(
        f"/{d}" in f"/{rel}" for d in _SOS_LOGS
    )


def _member_name(name: str) -> str:
    name = name.lstrip("/")
    while name.startswith("./"):
        name = name[2:].lstrip("/")
    return name


def _kind(info: tarfile.TarInfo) -> str | None:
    """What a member that is not a regular file is, or None for a directory (nothing to say)."""
    if info.isdir():
        return None
    if info.issym() or info.islnk():
        link = "symbolic link" if info.issym() else "hard link"
        return f"{link} to {info.linkname!r}; not followed (a target inside the archive is read as its own member)"
    kind = (
        "character device"
        if info.ischr()
        else "block device"
        if info.isblk()
        else "FIFO"
        if info.isfifo()
        else "special member"
    )
    return f"{kind}; skipped"


def members(
    name: str, stream, problem: Callable[[str, int | None, str, bool], None]
) -> Iterator[tuple[str, io.BufferedIOBase, float]]:
    """Stream the regular files of a tar archive: (display name, stream, mtime).

    Links, devices and FIFOs are reported, never followed or created; a name met again (``tar -r``
    appends a newer copy) is read as ``name (2)``. Each stream is valid only until the next member
    is asked for."""
    seen: dict[str, int] = {}
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for info in tar:
                tar.members.clear()  # a stream is read once: 10^5 members' headers need not stay
                if not wanted(info.name):
                    continue
                if not info.isfile():
                    kind = _kind(info)
                    if kind:
                        problem(f"{name}!{info.name}", None, kind, False)
                    continue
                if unsafe(info.name):
                    problem(
                        f"{name}!{info.name}",
                        None,
                        "member path is absolute or climbs out with '..'; "
                        "read in memory only, nothing is extracted",
                        False,
                    )
                shown = _member_name(info.name)
                seen[shown] = seen.get(shown, 0) + 1
                if seen[shown] > 1:
                    problem(
                        f"{name}!{shown}",
                        None,
                        f"the archive holds this name again; that copy is read as "
                        f"'{shown} ({seen[shown]})'",
                        False,
                    )
                    shown = f"{shown} ({seen[shown]})"
                member = tar.extractfile(info)
                if member is not None:
                    yield f"{name}!{shown}", member, float(info.mtime)
    except InputTooLarge as exc:
        problem(name, None, f"stopped reading the archive: {exc}", False)
    except READ_ERRORS as exc:
        problem(
            name,
            None,
            f"archive damaged or cut short: {exc}; members after this point not read",
            False,
        )
