"""Which moby release a goroutine dump came from, from the line numbers of its daemon frames.

Every daemon frame of a Go traceback names a function and ``file.go:line``; the line must lie
inside that function's span (first to last line of its declaration) in the daemon's source.
``data/moby_fingerprints.bin`` (built by ``scripts/moby_fingerprints.py`` from a moby
clone, in the layout of :func:`pack`) holds those spans for every release tag from 17.03.0 on;
a run reads its index and only the files its frames name.  :func:`match` keeps the
releases consistent with the most frames: all of them for a stock build, all but the frames
of a locally patched file otherwise (those are named in :attr:`Match.unfit`).

Spans are coarse: a frame only rules out releases in which its function starts after, or ends
before, the observed line.  Consecutive patch releases often share every span a dump shows, so
the answer is a range of releases, and sometimes cannot be narrowed below a minor release or
even a major one; :attr:`Match.display` says the range as found, never more.

Only daemon frames count: functions under ``github.com/docker/docker/``,
``github.com/moby/moby/v2/`` (or ``github.com/moby/moby/``) whose file is not vendored, and
``main.*`` frames of files under ``cmd/dockerd/``.  Stdlib only; never raises on bad input.
"""

from __future__ import annotations

import json
import re
import struct
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

MODULES = ("github.com/moby/moby/v2/", "github.com/docker/docker/", "github.com/moby/moby/")
DATA = "data/moby_fingerprints.bin"
MAGIC = b"forensics moby fingerprints 2\n"
NEARLY_ALL = 0.9  # below this share of fitting frames the best candidates are called a weak match

_GENERIC = re.compile(r"\[[^\[\]]*\]")
_CLOSURE = re.compile(r"(?:\.(?:func|gowrap|deferwrap)?\d+|-range\d+|-fm)$")
_PC_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_FOREIGN = re.compile(r"(?:^|/)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|io|in|net|dev)/")
_WEAK = (
    "init",
    "glob.",
    "glob",
)  # package-level closures (init.func1, glob..func1): anywhere in the file

Frame = tuple[str, str, int]


@dataclass(frozen=True)
class Match:
    """The releases whose sources agree with a dump's daemon frames."""

    candidates: tuple[str, ...] = ()  # versions ("27.4.0", "17.06.2"), sorted by version
    tags: tuple[str, ...] = ()  # their git tags ("v27.4.0", "v17.06.2-ce", "docker-v29.0.0")
    display: str = ""  # "27.4.0–27.4.1", "27.4.1", "" when nothing matched
    frames: int = 0  # distinct daemon frames in known files: the evidence
    fitting: int = 0  # how many of them fit every candidate
    ratio: float = 0.0  # fitting / frames
    unfit: tuple[Frame, ...] = ()  # daemon frames that do not fit the candidates (patched files)
    unknown: tuple[Frame, ...] = ()  # daemon frames whose file no release has
    ignored: int = 0  # frames that are not daemon frames (runtime, stdlib, vendored)
    reason: str = ""  # why the match is empty or weak; "" for a clean match
    table: str = ""  # "moby <head> up to <newest tag>": what the answer was computed against

    def __bool__(self) -> bool:
        return bool(self.candidates)


def pack(raw: dict[str, Any]) -> bytes:
    """The table ``raw`` (the build script's dict: tags, paths, names, blobs, files) as stored:
    :data:`MAGIC`, the length of the index, the index (zlib JSON: tags, paths, where each path's
    chunk ends), then one zlib JSON chunk per path: its versions (blob, tag ranges) and those
    blobs (line count, spans with their names, idle runs), so that a run decompresses the index
    and the chunks of the files its frames name, not the whole table."""
    chunks: list[bytes] = []
    for pi in range(len(raw["paths"])):
        entries = raw["files"].get(str(pi), [])
        blobs = []
        for b, _ in entries:
            _, nlines, flat, idle = raw["blobs"][b]
            named = [raw["names"][v] if i % 3 == 0 else v for i, v in enumerate(flat)]
            blobs.append([b, nlines, named, idle])  # the git blob id is not needed
        chunks.append(
            zlib.compress(json.dumps([entries, blobs], separators=(",", ":")).encode(), 9)
        )
    ends, end = [], 0
    for c in chunks:
        end += len(c)
        ends.append(end)
    index = {k: raw[k] for k in ("moby_head", "newest_tag", "tags", "paths")}
    index.update(format=2, blobs=len(raw["blobs"]), chunk_ends=ends)
    head = zlib.compress(json.dumps(index, separators=(",", ":"), sort_keys=True).encode(), 9)
    return b"".join([MAGIC, struct.pack(">I", len(head)), head, *chunks])


class _Table:
    def __init__(self, data: bytes):
        if not data.startswith(MAGIC):
            raise ValueError("not a fingerprint table")
        at = len(MAGIC) + 4
        (size,) = struct.unpack(">I", data[len(MAGIC) : at])
        raw = json.loads(zlib.decompress(data[at : at + size]))
        self._data, self._base = data, at + size
        self.head = raw["moby_head"]
        self.newest = raw["newest_tag"]
        self.tags = [tuple(t) for t in raw["tags"]]
        self.blob_count = raw["blobs"]
        self.paths = raw["paths"]
        self._ends = raw["chunk_ends"]
        self._index = {p: i for i, p in enumerate(self.paths)}
        self._blobs: dict[int, list] = {}  # blob -> [line count, spans with names, idle runs]
        self._expanded: dict[str, list[tuple[int, frozenset[int]]]] = {}
        self.by_base: dict[str, list[str]] = {}
        for p in self.paths:
            self.by_base.setdefault(p.rsplit("/", 1)[-1], []).append(p)
        self._spans: dict[int, tuple[int, dict[str, list[tuple[int, int]]], frozenset[int]]] = {}

    def __contains__(self, path: str) -> bool:
        return path in self._index

    def versions(self, path: str) -> list[tuple[int, frozenset[int]]]:
        """[(blob, tag indices)] of one path: which version of the file each release has."""
        got = self._expanded.get(path)
        if got is None:
            i = self._index[path]
            start = self._base + (self._ends[i - 1] if i else 0)
            entries, blobs = json.loads(
                zlib.decompress(self._data[start : self._base + self._ends[i]])
            )
            for b, *rest in blobs:
                self._blobs[b] = rest
            got = self._expanded[path] = [(b, frozenset(_expand(r))) for b, r in entries]
        return got

    def spans(self, blob: int) -> tuple[int, dict[str, list[tuple[int, int]]], frozenset[int]]:
        """(line count, name -> [(first, last line)], idle lines) of one file version."""
        got = self._spans.get(blob)
        if got is None:
            nlines, flat, idle_runs = self._blobs[blob]  # read with a path's versions
            by_name: dict[str, list[tuple[int, int]]] = {}
            start = 0
            for i in range(0, len(flat), 3):
                start += flat[i + 1]
                by_name.setdefault(flat[i], []).append((start, start + flat[i + 2]))
            idle: set[int] = set()
            last = 0
            for i in range(0, len(idle_runs), 2):
                first = last + idle_runs[i]
                last = first + idle_runs[i + 1] - 1
                idle.update(range(first, last + 1))
            got = self._spans[blob] = (nlines, by_name, frozenset(idle))
        return got


def _expand(ranges: str) -> list[int]:
    out = []
    for part in ranges.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


_table: _Table | None = None
_table_error: str | None = None
_lock = threading.Lock()


def _load() -> _Table | None:
    global _table, _table_error
    if _table is None and _table_error is None:
        with _lock:
            if _table is None and _table_error is None:
                try:
                    _table = _Table(resources.files("forensics").joinpath(DATA).read_bytes())
                except Exception as e:  # noqa: BLE001 -- a missing or damaged table: every match says so
                    _table_error = f"fingerprint table unavailable ({type(e).__name__}: {e})"
    return _table


def _split_function(func: str) -> tuple[str, str, bool] | None:
    """``github.com/docker/docker/daemon.(*Daemon).foo.func1`` -> (``daemon``, ``(*Daemon).foo``, True).

    The package directory inside the module ("" for ``main``), the declared function (closure,
    wrapper and generic suffixes removed) and whether a closure suffix was removed; None for a
    function outside the moby module (stdlib, runtime, dependencies, the module's vendor tree).
    """
    func = _PC_OFFSET.sub("", func.strip())
    while True:
        shorter = _GENERIC.sub("", func)
        if shorter == func:
            break
        func = shorter
    if func.startswith("main."):
        pkg, local = "", func[5:]
    else:
        for mod in MODULES:
            if func.startswith(mod):
                rest = func[len(mod) :]
                break
        else:
            return None
        if rest.startswith("vendor/"):
            return None
        slash = rest.rfind("/")
        dot = rest.find(".", slash + 1)
        if dot < 0:
            return None
        pkg, local = rest[:dot], rest[dot + 1 :]
    closure = False
    while True:
        shorter = _CLOSURE.sub("", local)
        if shorter == local or not shorter:
            break
        local, closure = shorter, True
    return (pkg, local, closure) if local else None


def _parents(local: str) -> list[str]:
    """Declared names a (closure-stripped) frame name may stand for, most specific first.

    Go (1.21 on) names a closure of ``Inner`` inlined into ``Outer`` ``Outer.Inner.func1``, and
    the frame's file and line are the closure's: ``(*Server).handlerWithGlobalMiddlewares.
    DebugRequestMiddleware`` stands for ``DebugRequestMiddleware``, ``(*E).WrapHandler.
    E.WrapHandler`` for ``E.WrapHandler`` (or ``(*E).WrapHandler``).
    """
    parts = local.split(".")
    out = [local]
    for i in range(1, len(parts)):
        tail = ".".join(parts[i:])
        out.append(tail)
        if len(parts) - i == 2 and not tail.startswith("("):
            out.append(f"(*{parts[i]}).{parts[i + 1]}")
    return out


def _repo_path(table: _Table, file: str, pkg: str) -> tuple[str | None, str]:
    """Repository-relative path of a frame's file, or (None, why not)."""
    file = file.strip().replace("\\", "/")
    if not file.endswith(".go"):
        return None, "not a Go source file"  # <autogenerated>, ?, assembly
    best = None
    for mod in MODULES:
        i = file.find(mod)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, mod)
    if best is not None:
        i, mod = best
        if "/vendor/" in file[:i]:
            return None, "vendored copy"
        rest = file[i + len(mod) :]
        if rest.startswith("vendor/"):
            return None, "vendored"
        return (rest, "") if rest in table else (None, "unknown file")
    if "/vendor/" in file:
        return None, "vendored"
    if _FOREIGN.search(file):
        return None, "another module"  # github.com/docker/cli/..., /go/pkg/mod/...
    base = file.rsplit("/", 1)[-1]
    if pkg:  # the function's package says the directory: github.com/docker/docker/daemon -> daemon/<base>
        path = f"{pkg}/{base}"
        if (file == path or file.endswith("/" + path)) and path in table:
            return path, ""
    fits = [p for p in table.by_base.get(base, ()) if file == p or file.endswith("/" + p)]
    if not fits:
        return None, "unknown file"
    longest = max(len(p) for p in fits)
    fits = [p for p in fits if len(p) == longest]
    return (fits[0], "") if len(fits) == 1 else (None, "ambiguous file")


def _coerce(frame: Any) -> Frame | None:
    """(function, file, line) from a tuple or from an object with func/file/lineno."""
    try:
        if isinstance(frame, (tuple, list)):
            func, file, line = frame[0], frame[1], frame[2]
        else:
            func, file, line = frame.func, frame.file, frame.lineno
        if not isinstance(func, str) or not isinstance(file, str):
            return None
        line = int(line)
        return (func, file, line) if line > 0 else None
    except Exception:  # noqa: BLE001 -- any malformed frame is skipped, never raised
        return None


def _versions_display(versions: list[str]) -> str:
    if not versions:
        return ""
    return versions[0] if len(versions) == 1 else f"{versions[0]}–{versions[-1]}"


def _display(table: _Table, tag_ix: list[int]) -> str:
    """Runs of consecutive releases (in version order), joined by commas."""
    runs: list[list[int]] = []
    for t in tag_ix:
        if runs and runs[-1][-1] == t - 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    return ", ".join(_versions_display([table.tags[t][1] for t in run]) for run in runs)


def match(frames: Iterable[Any]) -> Match:
    """The releases consistent with (nearly) all daemon frames of a dump.

    ``frames``: (function, file, line) as a Go traceback prints them (pprof debug=1
    ``+0x84`` offsets are allowed), or objects with ``func``/``file``/``lineno``.
    """
    table = _load()
    if table is None:
        return Match(reason=_table_error or "fingerprint table unavailable")
    where = f"moby {table.head[:12]} up to {table.newest}"
    ntags = len(table.tags)
    seen: set[tuple[str, str, int]] = set()
    used: list[tuple[Frame, frozenset[int]]] = []
    unknown: list[Frame] = []
    ignored = 0
    try:
        items = iter(frames)
    except TypeError:
        return Match(reason="no frames given", table=where)
    for raw in items:
        frame = _coerce(raw)
        if frame is None:
            ignored += 1
            continue
        if frame in seen:
            continue
        seen.add(frame)
        func, file, line = frame
        split = _split_function(func)
        if split is None:
            ignored += 1
            continue
        pkg, local, closure = split
        path, why = _repo_path(table, file, pkg)
        if path is None:
            if why == "unknown file" and (pkg or "/cmd/dockerd/" in file):
                unknown.append(frame)
            else:
                ignored += 1
            continue
        if not pkg and not path.startswith("cmd/dockerd/"):
            ignored += 1  # a main package that is not the daemon's
            continue
        weak = local.split(".")[0] in _WEAK
        names = _parents(local)
        fit: set[int] = set()
        for blob, tags in table.versions(path):
            nlines, by_name, idle = table.spans(blob)
            if weak:
                ok = line <= nlines
            else:
                spans = next((by_name[n] for n in names if n in by_name), ())
                # a blank, comment or bracket line holds no code, except a function's closing
                # brace (deferred calls) and, for closures, their own closing brackets
                ok = any(s <= line <= e for s, e in spans) and (
                    line not in idle or closure or any(line == e for _, e in spans)
                )
            if ok:
                fit |= tags
        used.append((frame, frozenset(fit)))
    if not used:
        reason = "no daemon frames with a known moby file"
        if unknown:
            reason += f" ({len(unknown)} daemon frames in files no release has)"
        return Match(unknown=tuple(unknown), ignored=ignored, reason=reason, table=where)
    score = [0] * ntags
    for _, fit in used:
        for t in fit:
            score[t] += 1
    best = max(score)
    if best == 0:
        return Match(
            frames=len(used),
            unfit=tuple(f for f, _ in used),
            unknown=tuple(unknown),
            ignored=ignored,
            reason="no release fits any daemon frame",
            table=where,
        )
    chosen = [t for t in range(ntags) if score[t] == best]
    unfit = tuple(f for f, fit in used if not all(t in fit for t in chosen))
    fitting = len(used) - len(unfit)
    ratio = fitting / len(used)
    reasons = []
    if unfit:
        reasons.append(
            f"{len(unfit)} of {len(used)} daemon frames fit no candidate (locally patched "
            f"or unreleased sources?)"
        )
    if ratio < NEARLY_ALL:
        reasons.append("weak match: too many frames disagree for the candidates to be trusted")
    if chosen[-1] == ntags - 1:
        reasons.append(
            f"the newest release in the table ({table.newest}) is a candidate: "
            f"later releases are not known to it"
        )
    return Match(
        candidates=tuple(table.tags[t][1] for t in chosen),
        tags=tuple(table.tags[t][0] for t in chosen),
        display=_display(table, chosen),
        frames=len(used),
        fitting=fitting,
        ratio=round(ratio, 4),
        unfit=unfit,
        unknown=tuple(unknown),
        ignored=ignored,
        reason="; ".join(reasons),
        table=where,
    )


def source_path(func: str, file: str) -> str | None:
    """The repository path of a daemon frame's file (``daemon/inspect.go``), as :func:`match`
    finds it; None for any other frame (runtime, stdlib, vendored, unknown files)."""
    table = _load()
    frame = _coerce((func, file, 1))
    split = _split_function(frame[0]) if table is not None and frame else None
    if split is None:
        return None
    path, _ = _repo_path(table, frame[1], split[0])
    if path is None or (not split[0] and not path.startswith("cmd/dockerd/")):
        return None
    return path


def table_info() -> dict[str, Any]:
    """What the table was built from: moby HEAD, newest tag, number of releases ({} if missing)."""
    table = _load()
    if table is None:
        return {}
    return {
        "moby_head": table.head,
        "newest_tag": table.newest,
        "releases": len(table.tags),
        "first": table.tags[0][0],
        "files": len(table.paths),
        "blobs": table.blob_count,
    }
