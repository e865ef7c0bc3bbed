"""Plain data passed between the stages of the pipeline.

sources -> envelopes -> parsers -> evidence -> rules -> findings -> report.
Every object keeps where it came from (``source`` and 1-based ``line``) so that
each conclusion can point at file:line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Record:
    """One logical line of input with its envelope (journal, syslog...) removed."""

    source: str  # display name of the input, e.g. "dockerd.log" or "bundle.tgz!var/log/docker.log"
    line: int  # 1-based physical line number of the record's first line in ``source``
    text: str  # the message, envelope stripped, tabs restored where the envelope lost them
    time: datetime | None = None  # envelope time (timezone-aware when known)
    host: str | None = None
    proc: str | None = None  # syslog identifier, e.g. "dockerd"
    pid: int | None = None
    envelope: str = "plain"  # which envelope the line arrived in


@dataclass(slots=True)
class Problem:
    """Something that could not be read, said in one line with its place
    (an unreadable input, a damaged goroutine dump: :attr:`Dump.warnings`)."""

    source: str
    line: int | None
    message: str
    fatal: bool = False  # the whole input was unreadable

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"


@dataclass(slots=True)
class Frame:
    """One call in a goroutine traceback."""

    func: str  # e.g. "github.com/docker/docker/daemon.(*Daemon).getInspectData"
    args: str | None = None  # raw text between the parentheses; None when absent
    file: str | None = None  # e.g. "/go/src/github.com/docker/docker/daemon/inspect.go"
    lineno: int | None = None  # source line in ``file``
    offset: str | None = None  # "+0x1e5" without the plus, or None
    inlined: bool = False  # printed as "(...)": an inlined call
    line: int = 0  # line number of the function line in the input

    @property
    def first_arg(self) -> str | None:
        """The first argument word ("0xc00026a180"), without a trailing '?'."""
        if not self.args or self.args == "...":
            return None
        first = self.args.split(",", 1)[0].strip().lstrip("{").rstrip("?")
        return first or None


@dataclass(slots=True)
class Goroutine:
    """One goroutine of a dump (or the single goroutine of a panic trace)."""

    id: int
    state: str  # "running", "semacquire", "sync.Mutex.Lock", "chan receive", ...
    wait_minutes: int | None = None
    locked_to_thread: bool = False
    frames: list[Frame] = field(default_factory=list)
    created_by: str | None = None
    created_in: int | None = None  # "created by X in goroutine N" (Go >= 1.21)
    elided: bool = False  # "...additional frames elided..." or "...N frames elided..."
    source: str = ""
    line: int = 0  # line of the header in ``source``
    weight: int = 1  # pprof debug=1 groups stand for ``weight`` goroutines
    created_file: str | None = None  # file of the "created by" call site
    created_lineno: int | None = None
    labels: str | None = None  # pprof debug=1 "# labels: {...}" text
    truncated: bool = (
        False  # the input ended inside this goroutine (header or frame without file line)
    )

    @property
    def functions(self) -> list[str]:
        return [f.func for f in self.frames]

    @property
    def head(self) -> tuple[str, int | None, bool]:
        """What its header says: (state, wait_minutes, locked_to_thread)."""
        return self.state, self.wait_minutes, self.locked_to_thread


@dataclass(slots=True)
class Dump:
    """A set of goroutines printed together: SIGUSR1 file, SIGQUIT, pprof, panic trace."""

    kind: str  # "stacks" (SIGUSR1 / pprof debug=2), "sigquit", "pprof-debug1", "panic"
    source: str
    line: int  # first line of the dump in ``source``
    goroutines: list[Goroutine] = field(default_factory=list)
    end_line: int = 0
    time: datetime | None = None
    truncated: bool = False  # ended mid-goroutine or mid-frame
    panic_message: str | None = (
        None  # "panic: ..." / "fatal error: ..." / "http: panic serving ..."
    )
    warnings: list[Problem] = field(default_factory=list)  # damage found while parsing (not fatal)
    preamble: list[str] = field(
        default_factory=list
    )  # "SIGQUIT: quit", "PC=...", "[signal ...]", re-panic lines
    proc: str | None = (
        None  # the envelope's process name of the lines it came in ("containerd"), if any
    )
    pid: int | None = None
    program: str = (
        ""  # which program wrote it: parse.programs.PROGRAMS, set by parse.programs.label
    )
    complete: bool | None = (
        None  # the whole process, or a few goroutines cut out of it (goroutines.completeness)
    )
    completeness: list[str] = field(default_factory=list)  # why, one phrase each
    snapshot: int | None = (
        None  # dumps of one moment (one daemon, seconds apart) share it (goroutines.snapshots)
    )
