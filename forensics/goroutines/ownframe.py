"""Where a panic started in the program's own code."""
from __future__ import annotations

from forensics.model import Frame

# The Go runtime, the standard library's panic machinery and locks: never the code that panicked.
MACHINERY = ("runtime.", "net/http.", "sync.", "panic", "testing.", "reflect.")


def first_own_frame(frames: list[Frame]) -> Frame | None:
    """The first frame of the program's own code below the last ``panic(...)`` call.

    A deferred function that runs while the goroutine panics (a tracing span's End, a recover
    that re-panics) sits above a second ``panic`` frame; the frames below the last one are where
    the panic was raised. Past the runtime, net/http and sync frames, the first one is the
    program's (its vendored libraries included)."""
    start = 0
    for i, f in enumerate(frames):
        if f.func in ("panic", "runtime.gopanic"):
            start = i + 1
    return next((f for f in frames[start:] if not f.func.startswith(MACHINERY)), None) or \
        next((f for f in frames if not f.func.startswith(MACHINERY)), None)
