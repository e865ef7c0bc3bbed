"""Which program wrote a goroutine dump: dockerd, containerd, a containerd shim, or another.

Decided from the dump's own frames: ``main.main``'s file (``cmd/dockerd/``,
``cmd/containerd/``, ``cmd/containerd-shim-runc-v2/``), else the first frame of a package only
that program has; when no frame says, from the envelope's process name (journal, syslog).
dockerd vendors containerd's client packages, so those say nothing: only the commands, the
shim library and containerd's server side do.
"""

from __future__ import annotations

import re

from forensics.model import Dump, Goroutine

PROGRAMS = ("dockerd", "containerd", "containerd-shim", "other")
_MAIN_FILE = re.compile(r"/cmd/(?:(dockerd)|(containerd)|(containerd-shim)[\w.-]*)/[^/]+\.go$")
_DOCKER = r"^(?:github\.com/docker/docker|github\.com/moby/moby(?:/v2)?)/"
_CONTAINERD = r"^github\.com/containerd/containerd(?:/v2)?/"
# Packages only one program runs, most telling first (containerd itself may run shim-library code).
_PACKAGES = (
    ("dockerd", re.compile(_DOCKER + r"(?:cmd/dockerd|daemon|api/server|libcontainerd)\b")),
    (
        "containerd",
        re.compile(
            _CONTAINERD
            + r"(?:cmd/containerd/|services/server\.|plugins/services/|services/tasks\.)"
        ),
    ),
    (
        "containerd-shim",
        re.compile(
            _CONTAINERD
            + r"(?:cmd/containerd-shim|runtime/v2/shim\.|pkg/shim\.|runtime/v2/runc/v2\.|"
            r"cmd/containerd-shim-runc-v2/)"
        ),
    ),
)
_CHECKED = 2000  # goroutines looked at (the program shows in the first few)


def _from_frames(goroutines: list[Goroutine]) -> str | None:
    first = sorted(goroutines[:_CHECKED], key=lambda g: g.id != 1)  # main.main lives in goroutine 1
    for g in first[:3]:
        for f in g.frames:
            if f.func == "main.main" and f.file:
                m = _MAIN_FILE.search(f.file)
                if m:
                    return PROGRAMS[m.lastindex - 1]
    seen = set()
    for g in first:
        for func in g.functions:
            if func.startswith("github.com/"):
                seen.update(name for name, pattern in _PACKAGES if pattern.match(func))
        if "dockerd" in seen:
            break
    return next((name for name, _ in _PACKAGES if name in seen), None)


def _from_proc(proc: str | None) -> str:
    name = (proc or "").rsplit("/", 1)[-1]
    if name.startswith("containerd-shim"):
        return "containerd-shim"
    return name if name in ("dockerd", "containerd") else "other"


def program_of(dump: Dump) -> str:
    """One of :data:`PROGRAMS` for ``dump`` (its frames first, then its envelope)."""
    return _from_frames(dump.goroutines) or _from_proc(dump.proc)


def label(dumps: list[Dump]) -> list[Dump]:
    """Set ``program`` on every dump that has none yet; returns the dumps."""
    for d in dumps:
        if not d.program:
            d.program = program_of(d)
    return dumps
