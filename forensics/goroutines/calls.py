"""Calls from one program into another, joined across their dumps.

dockerd calls containerd over gRPC (``google.golang.org/grpc.(*ClientConn).Invoke`` under a
generated client such as ``api/services/tasks/v1.(*tasksClient).Kill``, reached from
``github.com/containerd/containerd.(*task).Kill``); containerd calls its shims over ttrpc
(``github.com/containerd/ttrpc.(*Client).Call`` under ``runtime/v2/task.(*taskClient).Kill``).
The goroutine serving such a call runs a gRPC handler (``_Tasks_Kill_Handler``) or a ttrpc
server, in a service method (``services/tasks.(*local).Kill``, the shim's
``runtime/v2/runc/v2.(*service).Kill``).

The join is modest: the method name of the client stub must equal the served method, and the
server must be in a dump of the program called (dockerd -> containerd, containerd -> shim). A
call with several serving goroutines of that method is joined to all of them, "probably"; the
same goroutine seen in two copies of one dump (a stacks file and its log line) counts once.
Dumps taken more than :data:`APART` apart are not joined; without a dump of the program called,
a call is not listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from forensics.model import Dump, Frame, Goroutine

CALLEE = {"dockerd": "containerd", "containerd": "containerd-shim"}
APART = timedelta(minutes=10)
_TRANSPORT = re.compile(
    r"^(?:google\.golang\.org/grpc\.\(\*ClientConn\)\.Invoke|github\.com/containerd/ttrpc\.\(\*Client\)\.Call)$"
)
_STUB = re.compile(
    r"\.\(\*(?:ttrpc)?(\w+?)Client\)\.(\w+)$"
)  # (*tasksClient).Kill, (*ttrpctaskClient).Kill
_HANDLER = re.compile(r"\._(\w+)_(\w+)_Handler(?:\.func\d+)?$")  # grpc: _Tasks_Kill_Handler
_TTRPC_SERVER = re.compile(
    r"^github\.com/containerd/ttrpc\.\(\*serverConn\)|^github\.com/containerd/ttrpc\.\(\*Server\)"
)
_SERVICE_METHOD = re.compile(
    r"^github\.com/containerd/containerd(?:/v2)?/(?:services|plugins/services|runtime/v2/runc|pkg/shim|runtime/v2/shim|"
    r"cmd/containerd-shim[\w.-]*|pkg/process)/\S*\.\(\*?\w+\)\.(\w+)$"
)


@dataclass
class Side:
    dump: int
    program: str
    gid: int
    state: str
    wait_minutes: int | None
    func: str  # the frame shown: the caller of the client stub, or the service method
    file: str | None
    lineno: int | None
    source: str
    line: int

    def to_dict(self) -> dict:
        return {
            "dump": self.dump,
            "program": self.program,
            "gid": self.gid,
            "state": self.state,
            "wait_minutes": self.wait_minutes,
            "func": self.func,
            "file": self.file,
            "lineno": self.lineno,
            "source": self.source,
            "line": self.line,
        }

    @property
    def where(self) -> str:
        return f"{(self.file or '?').rsplit('/', 1)[-1]}:{self.lineno}"


@dataclass
class Call:
    method: str  # "Kill"
    service: str  # the client stub's service, "tasks" / "task"
    client: Side
    servers: list[Side] = field(default_factory=list)

    @property
    def probably(self) -> bool:
        return len({s.gid for s in self.servers}) > 1

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "service": self.service,
            "client": self.client.to_dict(),
            "servers": [s.to_dict() for s in self.servers],
            "probably": self.probably,
        }

    def describe(self) -> str:
        return describe(self.to_dict())


def describe(call: dict) -> str:
    """One line for a call (:meth:`Call.to_dict`, the report's ``calls``), with file:line of both sides."""

    def at(side: dict) -> str:
        return (
            f"{_short(side['func'])} ({(side['file'] or '?').rsplit('/', 1)[-1]}:{side['lineno']})"
        )

    c = call["client"]
    head = (
        f"{c['program']} goroutine {c['gid']} [{c['state']}] calls {CALLEE.get(c['program'], '?')} "
        f"{call['service']}.{call['method']} at {at(c)}"
    )
    if not call["servers"]:
        return head + ": no goroutine serving it in the dumps given"
    served = ", ".join(
        f"{s['program']} goroutine {s['gid']} [{s['state']}] in {at(s)}"
        for s in _distinct(call["servers"])
    )
    return head + (": probably served by one of " if call["probably"] else ": served by ") + served


def _short(func: str) -> str:
    return func.rsplit("/", 1)[-1]


def _distinct(servers: list[dict]) -> list[dict]:
    seen, out = set(), []
    for s in servers:
        if s["gid"] not in seen:
            seen.add(s["gid"])
            out.append(s)
    return out


def _side(index: int, d: Dump, g: Goroutine, f: Frame) -> Side:
    return Side(
        index,
        d.program,
        g.id,
        g.state,
        g.wait_minutes,
        f.func,
        f.file,
        f.lineno,
        g.source or d.source,
        f.line or g.line,
    )


def client_call(g: Goroutine) -> tuple[str, str, Frame] | None:
    """(service, method, calling frame) of an outgoing gRPC/ttrpc call in ``g``, or None."""
    frames = g.frames
    for i, f in enumerate(frames):
        if _TRANSPORT.match(f.func):
            for j in range(i + 1, min(i + 4, len(frames))):
                m = _STUB.search(frames[j].func)
                if m:
                    caller = frames[j + 1] if j + 1 < len(frames) else frames[j]
                    return m[1].lower(), m[2], caller
            return None
    return None


def served_method(g: Goroutine) -> tuple[str, Frame] | None:
    """(method, service frame) when ``g`` serves a gRPC or ttrpc call, or None."""
    frames = g.frames
    handler = next((_HANDLER.search(f.func) for f in frames if _HANDLER.search(f.func)), None)
    if handler is None and not any(_TTRPC_SERVER.match(f.func) for f in frames):
        return None
    for f in frames:  # the service method nearest the top: where the call is
        m = _SERVICE_METHOD.match(f.func)
        if m and (handler is None or m[1] == handler[2]):
            return m[1], f
    if handler is not None:
        f = next(f for f in frames if _HANDLER.search(f.func))
        return handler[2], f
    return None


def join(dumps: list[Dump]) -> list[Call]:
    """Every call from dockerd into containerd (and containerd into a shim) in ``dumps``, with
    the goroutines serving it in the dumps of the program called."""
    serving: dict[str, list[tuple[str, Side]]] = {}
    for index, d in enumerate(dumps):
        if d.kind == "panic" or d.program not in CALLEE.values():
            continue
        for g in d.goroutines:
            served = served_method(g)
            if served:
                serving.setdefault(d.program, []).append((served[0], _side(index, d, g, served[1])))
    calls, seen = [], set()
    for index, d in enumerate(dumps):
        callee = CALLEE.get(d.program)
        if (
            callee is None
            or d.kind == "panic"
            or not any(o.program == callee and o.kind != "panic" and _near(d, o) for o in dumps)
        ):
            continue  # no dump of the program called, taken then: nothing to say
        for g in d.goroutines:
            found = client_call(g)
            if not found:
                continue
            service, method, frame = found
            key = (
                d.program,
                g.id,
                method,
                frame.func,
                frame.lineno,
            )  # one goroutine in two copies of a dump
            if key in seen:
                continue
            seen.add(key)
            servers = [
                s for m, s in serving.get(callee, ()) if m == method and _near(d, dumps[s.dump])
            ]
            calls.append(Call(method, service, _side(index, d, g, frame), servers))
    return calls


def _near(a: Dump, b: Dump) -> bool:
    return a.time is None or b.time is None or abs(a.time - b.time) <= APART
