"""Evidence tables (pandas) built from parsed events and dumps.

Rules only ever see these tables. Columns are documented in ``TABLES``; every row
keeps ``source`` and ``line`` so a finding can cite it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from operator import attrgetter

import numpy as np
import pandas as pd
import regex

from forensics import allocator
from forensics.evidence.dumprows import add_goroutines, column, facts, flat
from forensics.goroutines import snapshots
from forensics.goroutines.buckets import Bucket, buckets, first_own_frame, own_frames, top_function
from forensics.goroutines.calls import Call, join
from forensics.goroutines.completeness import judge
from forensics.goroutines.locks import Lock, analyze_locks
from forensics.model import Dump, Goroutine
from forensics.parse import Event, Parsed, dockerversion, versions
from forensics.parse.stacks import Block, frames_of, groups

allocator.arrow_system_pool()  # see forensics.allocator

TABLES = {
    "events": "time level msg fields container host pid proc source line",
    "daemons": "time host pid version commit storage_driver snapshotter source line",
    "dumps": "dump program kind time goroutines truncated panic_message source line end_line complete completeness "
    "snapshot",
    "goroutines": "dump program time gid state wait_minutes locked created_by created_in top stack lock_key "
    "lock_status weight source line complete snapshot fact views",
    "frames": "dump gid depth func args file lineno offset inlined source line",
    "panics": "dump program time message recovered fatal gid top site stack container host frame frame_at request "
    "source line",
    "locks": "dump program key kind status waiters longest_wait sites waiter_gids holders holder_gids time source line "
    "confidence evidence complete snapshot fact views said",
    "containers": "what container id name time text source line",
}
# Which kind of input a table's emptiness speaks for: no dump given means "unknown", not "no".
COVERAGE = {
    "events": "logs",
    "daemons": "logs",
    "panics": "logs",
    "containers": "logs",
    "dumps": "dumps",
    "goroutines": "dumps",
    "frames": "dumps",
    "locks": "dumps",
}

# Text of the debug and info lines the tables below are built from (a skimmed log keeps them).
# Not container creation: on a busy host it is everywhere, and the creates that name a container
# in a finding are the ones near its panic or dump, which are parsed in full anyway.
NEEDLES = ("Docker daemon", "Calling DELETE", "already in progress")
CONTAINER_PATH = regex.compile(r"/containers/(?P<ref>[A-Za-z0-9][A-Za-z0-9_.-]{0,127})(?=[/?\s]|$)")
_NOT_A_CONTAINER = {"json", "create", "prune"}
REQUEST = regex.compile(r"^Calling (?P<method>[A-Z]+) (?P<path>\S+)")
ALREADY = regex.compile(r"removal of container (?P<ref>\S+?) is already in progress")
HANDLER = regex.compile(r"^Handler for (?P<method>[A-Z]+) (?P<path>\S+) returned error")
CONTAINER_DIR = regex.compile(
    r"/containers/(?P<ref>[0-9a-f]{64})/"
)  # a file of the container's directory
CONTAINER_WORD = regex.compile(
    r"\b[Cc]ontainer[: ]+(?P<ref>[0-9a-f]{12,64})\b"
)  # "container <id>: driver ..."
_HEX64 = regex.compile(r"\b[0-9a-f]{64}\b")


class Tables(Mapping):
    """The evidence tables by name, in ``TABLES`` order. A table given as a builder is built on its
    first access and kept (``frames``, a row per frame of every goroutine: only a rule that reads it
    pays for it); ``in`` and iteration build nothing, reading the items builds them all."""

    def __init__(
        self,
        built: dict[str, pd.DataFrame],
        builders: dict[str, Callable[[], pd.DataFrame]] | None = None,
    ):
        self.built = built
        self.builders = dict(builders or {})

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.built and name in self.builders:
            self.built[name] = self.builders.pop(name)()
        return self.built[name]

    def __contains__(self, name) -> bool:
        return name in self.built or name in self.builders

    def __iter__(self) -> Iterator[str]:
        return (n for n in TABLES if n in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


BUCKETS = 60  # buckets kept per dump for the report, the goroutines waiting on a lock and the largest first


@dataclass
class Ranked:
    """A dump's goroutine buckets (:func:`.goroutines.buckets.buckets`: lock waiters first, then
    longest wait, then largest): the first :data:`BUCKETS` of them, how many there are and how
    many goroutines they hold. Ranked while the dump's goroutines are grouped for its locks, so
    that neither the groups nor a bucket per group outlive the evidence they are made for (a dump
    whose goroutines share no argument text has about one bucket per goroutine)."""

    head: list[Bucket]
    count: int  # buckets
    goroutines: int


def rank(
    d: Dump, waiting: Container[int], grouped: dict[Block, list[Goroutine]] | None = None
) -> Ranked:
    """The dump's :class:`Ranked` buckets (``waiting``: lock waiters' ids; ``grouped``: the dump's
    :func:`~forensics.parse.stacks.groups`, when already at hand)."""
    found = buckets(d, grouped=grouped, waiting=waiting)
    return Ranked(found[:BUCKETS], len(found), sum(map(_COUNT, found)))


_COUNT = attrgetter("count")


@dataclass
class Evidence:
    tables: Mapping[str, pd.DataFrame]  # a Tables
    coverage: dict[str, bool]
    locks: list[tuple[int, Lock]] = field(default_factory=list)  # (dump index, lock) for the report
    dumps: list[Dump] = field(default_factory=list)
    calls: list[Call] = field(
        default_factory=list
    )  # dockerd -> containerd -> shim calls joined across dumps
    # dump index -> its goroutine buckets as the report shows them (not for a panic trace)
    buckets: dict[int, Ranked] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def _frame(name: str, rows: list[dict] | dict[str, list | np.ndarray]) -> pd.DataFrame:
    """The table from its rows, or from its columns (lists, or arrays: :func:`.dumprows.column`),
    taken out of ``rows`` one at a time, so that each is freed once its column is made (10^5
    goroutines, 20 columns); arrays become columns as they are, not copied into one block."""
    columns = TABLES[name].split()
    if isinstance(rows, dict) and not len(rows[columns[0]]):
        rows = []  # no row: object columns, as from an empty list of rows
    if isinstance(rows, dict):
        df = pd.DataFrame(
            {c: pd.Series(v) if isinstance(v := rows.pop(c), list) else column(v) for c in columns},
            columns=columns,
            copy=False,
        )
    else:
        df = pd.DataFrame(rows, columns=columns)
    if "time" in columns:
        df["time"] = pd.to_datetime(df["time"], utc=True)
    return df


def _container_of(event: Event) -> str | None:
    ref = event.fields.get("container")
    if ref:
        return ref
    msg = event.msg
    in_path, in_words = _containers_in_once(msg) if len(msg) <= 1024 else _containers_in(msg)
    if in_path:
        return in_path
    if event.fields.get("namespace") == "moby" and _HEX64.fullmatch(event.fields.get("id", "")):
        return event.fields["id"]  # containerd's lines about a docker container
    return in_words


def _containers_in(msg: str) -> tuple[str | None, str | None]:
    """The container a message names in the API path it logs, and the one it names in words."""
    in_path = None
    m = REQUEST.match(msg) or HANDLER.match(msg)
    if m:
        c = CONTAINER_PATH.search(m["path"])
        if c and c["ref"] not in _NOT_A_CONTAINER:
            in_path = c["ref"]
    m = CONTAINER_WORD.search(msg) or CONTAINER_DIR.search(msg)
    return in_path, m["ref"] if m else None


# a log repeats its messages: a few hundred distinct in 10^5 (up to 1,024 characters: 4 MB at most)
_containers_in_once = functools.lru_cache(maxsize=4096)(_containers_in)


def _event_rows(events: list[Event]) -> dict[str, list]:
    """The events table by column (a list per column, not a dict per row: half the time)."""
    return {
        "time": [e.time for e in events],
        "level": [e.level for e in events],
        "msg": [e.msg for e in events],
        "fields": [json.dumps(e.fields, sort_keys=True) if e.fields else "" for e in events],
        "container": [_container_of(e) for e in events],
        "host": [e.host for e in events],
        "pid": [e.pid for e in events],
        "proc": [e.proc for e in events],
        "source": [e.source for e in events],
        "line": [e.line for e in events],
    }


def _daemon_rows(events: list[Event]) -> list[dict]:
    rows = []
    said = {}  # `docker version` output: the Engine's Version line under "Server:", by where it is
    for server in dockerversion.servers(e for e in events if e.level is None):
        version, e = server.get("Version")
        if version:
            said[(e.source, e.line)] = version.split()[0]
    for e in events:
        if e.level is None and (e.source, e.line) in said:
            rows.append(
                {
                    "time": e.time,
                    "host": e.host,
                    "pid": e.pid,
                    "version": said[(e.source, e.line)],
                    "commit": None,
                    "storage_driver": None,
                    "snapshotter": None,
                    "source": e.source,
                    "line": e.line,
                }
            )
        if e.msg == "Docker daemon" and "version" in e.fields:
            f = e.fields
            driver = f.get("storage-driver") or f.get("graphdriver") or f.get("graphdriver(s)")
            rows.append(
                {
                    "time": e.time,
                    "host": e.host,
                    "pid": e.pid,
                    "version": f["version"],
                    "commit": f.get("commit"),
                    "storage_driver": driver,
                    "snapshotter": f.get("containerd-snapshotter", "false" if driver else None),
                    "source": e.source,
                    "line": e.line,
                }
            )
    return rows


def _ps_rows(events: list[Event]) -> list[dict]:
    """`docker ps -a` tables pasted among the inputs (columns found from the header)."""
    rows, header = [], None
    for e in events:
        text = e.msg
        if (
            e.level is None
            and text.startswith("CONTAINER ID")
            and "STATUS" in text
            and "NAMES" in text
        ):
            header = (
                e.source,
                text.index("STATUS"),
                text.index("PORTS") if "PORTS" in text else None,
                text.index("NAMES"),
            )
            continue
        if header is None or e.source != header[0] or not regex.match(r"[0-9a-f]{12}\s", text):
            header = None if header and e.source != header[0] else header
            continue
        status_at, ports_at, names_at = header[1:]
        status = text[status_at : ports_at or names_at].strip()
        name = text[names_at:].strip()
        what = "ps-removal-in-progress" if "Removal In Progress" in status else "ps-row"
        rows.append(
            {
                "what": what,
                "container": name or text[:12],
                "id": text[:12],
                "name": name,
                "time": e.time,
                "text": text,
                "source": e.source,
                "line": e.line,
            }
        )
    return rows


def _container_rows(events: list[Event]) -> list[dict]:
    rows = _ps_rows(events)
    names: dict[str, str] = {}
    pending_name = None
    for e in events:
        m = REQUEST.match(e.msg)
        if m and "/containers/create" in m["path"] and "name=" in m["path"]:
            pending_name = m["path"].split("name=", 1)[1].split("&", 1)[0]
        elif pending_name and (e.fields.get("container") or _HEX64.search(e.msg)):
            cid = e.fields.get("container") or _HEX64.search(e.msg).group()
            names.setdefault(cid, pending_name)
            rows.append(
                {
                    "what": "created",
                    "container": pending_name,
                    "id": cid,
                    "name": pending_name,
                    "time": e.time,
                    "text": e.msg,
                    "source": e.source,
                    "line": e.line,
                }
            )
            pending_name = None
        if m and m["method"] == "DELETE":
            ref = _container_of(e)
            if ref:
                rows.append(
                    {
                        "what": "delete-called",
                        "container": ref,
                        "id": None,
                        "name": None,
                        "time": e.time,
                        "text": e.msg,
                        "source": e.source,
                        "line": e.line,
                    }
                )
        a = ALREADY.search(e.msg)
        if a:
            rows.append(
                {
                    "what": "removal-already-in-progress",
                    "container": a["ref"],
                    "id": None,
                    "name": None,
                    "time": e.time,
                    "text": e.msg,
                    "source": e.source,
                    "line": e.line,
                }
            )
    return rows


def _request_before(events: list[Event], when, host) -> str | None:
    """The container of the latest inspect request shortly before ``when`` on the same host."""
    if when is None:
        return None
    best = None
    for e in events:
        if (
            e.time is None
            or e.host != host
            or e.time > when
            or when - e.time > timedelta(minutes=2)
        ):
            continue
        m = REQUEST.match(e.msg)
        if m and m["method"] == "GET" and m["path"].split("?", 1)[0].endswith("/json"):
            ref = _container_of(e)
            if ref:
                best = ref
    return best


def _dump_rows(dumps: list[Dump], events: list[Event]):
    dump_rows, p_rows, l_rows, locks, shown = [], [], [], [], {}
    g_rows: dict[str, list] = {c: [] for c in TABLES["goroutines"].split()}
    snapshots.group(dumps)
    for index, d in enumerate(dumps):
        complete = judge(d)
        dump_rows.append(
            {
                "dump": index,
                "program": d.program,
                "kind": d.kind,
                "time": d.time,
                "goroutines": len(d.goroutines),
                "truncated": d.truncated,
                "panic_message": d.panic_message,
                "source": d.source,
                "line": d.line,
                "end_line": d.end_line,
                "complete": complete,
                "completeness": "; ".join(d.completeness),
                "snapshot": d.snapshot,
            }
        )
        found = []
        waiting: dict[int, Lock] = {}
        if d.kind != "panic":  # grouped once, as `forensics dump` does: locks and report buckets
            grouped = groups(d.goroutines)
            found = analyze_locks(d, grouped)
            waiting = {w.goroutine: lock for lock in found for w in lock.waiters}
            shown[index] = rank(d, waiting, grouped)
            del grouped  # the groups and the buckets past the first BUCKETS: freed before the table
        add_goroutines(g_rows, index, d, complete, waiting)
        if d.panic_message:
            g = next(
                (g for g in d.goroutines if g.state == "running"),
                d.goroutines[0] if d.goroutines else None,
            )
            host = next((e.host for e in events if e.source == d.source), None)
            own = first_own_frame(g.frames) if g else None
            p_rows.append(
                {
                    "dump": index,
                    "program": d.program,
                    "time": d.time,
                    "message": d.panic_message,
                    "recovered": "http: panic serving" in d.panic_message
                    or "[recovered" in d.panic_message,
                    "fatal": d.panic_message.startswith(("panic:", "fatal error:")),
                    "gid": g.id if g else None,
                    "top": top_function(g.functions) if g else "",
                    "site": _site(g) if g else "",
                    "stack": "\n".join(g.functions) if g else "",
                    "container": _request_before(events, d.time, host),
                    "host": host,
                    "frame": own.func if own else "",
                    "frame_at": f"{own.file or '?'}:{own.lineno}" if own else "",
                    "request": _request_served(events, d, host, g),
                    "source": d.source,
                    "line": d.line,
                }
            )
        for lock in found:  # the text columns rules match on (rules/README.md): derived here only
            locks.append((index, lock))
            l_rows.append(
                {
                    "dump": index,
                    "program": d.program,
                    "key": lock.key,
                    "kind": lock.kind,
                    "status": lock.status,
                    "waiters": lock.waiter_count,
                    "confidence": lock.confidence,
                    "evidence": "\n".join(lock.evidence),
                    "longest_wait": lock.longest_wait,
                    "sites": "\n".join(lock.functions),
                    "waiter_gids": " ".join(str(w.goroutine) for w in lock.waiters),
                    "holders": "; ".join(h.reason for h in lock.holders),
                    "holder_gids": " ".join(str(h.goroutine) for h in lock.holders),
                    "time": d.time,
                    "source": d.source,
                    "line": lock.line or d.line,
                    "complete": complete,
                    "snapshot": d.snapshot,
                    "said": lock.describe(),
                }
            )
    flat(g_rows)
    facts(g_rows, l_rows)
    return dump_rows, g_rows, p_rows, l_rows, locks, shown


def _frame_rows(dumps: list[Dump]) -> dict[str, list]:
    """The ``frames`` table's rows by column, a frame a row (the frames made for the row, not kept
    on a goroutine read in bulk)."""
    f_rows: dict[str, list] = {c: [] for c in TABLES["frames"].split()}
    *f_cols, f_source, f_line = f_rows.values()
    for index, d in enumerate(dumps):
        for g in d.goroutines:
            for depth, f in enumerate(frames_of(g)):
                for col, value in zip(
                    f_cols,
                    (index, g.id, depth, f.func, f.args, f.file, f.lineno, f.offset, f.inlined),
                    strict=True,
                ):
                    col.append(value)
                f_source.append(d.source)
                f_line.append(f.line)
    return f_rows


_HANDLER = regex.compile(r"/api/server/router/[\w/]+\.\(\*\w+\)\.(\w+)$")


def _request_served(events: list[Event], d: Dump, host, g) -> str:
    """The API request a recovered panic was serving: the handler in its stack, and the last
    request logged (`Calling METHOD PATH`, debug) at most 10 seconds before it (the std-log stamp
    of "http: panic serving" has whole seconds: a request later in the same second counts)."""
    handler = next((m[1] for f in (g.functions if g else []) if (m := _HANDLER.search(f))), None)
    logged = None
    if d.time is not None and "panic serving" in (d.panic_message or ""):
        for e in events:
            if (
                e.time is not None
                and e.host == host
                and e.source == d.source
                and -timedelta(seconds=1) < d.time - e.time <= timedelta(seconds=10)
                and (m := REQUEST.match(e.msg))
            ):
                logged = f"{m['method']} {m['path']}"
    return "; ".join(p for p in (logged, handler and f"handler {handler}") if p)


def _site(g) -> str:
    """Where a panic happened, for the reader: its first two own frames (:func:`own_frames`)."""
    return " <- ".join(
        f"{f.func.rsplit('/', 1)[-1]} ({(f.file or '?').rsplit('/', 1)[-1]}:{f.lineno})"
        for f in own_frames(g.frames)[:2]
    )


def daemon_starts(events: pd.DataFrame, hosts=(), sources=()) -> pd.DataFrame:
    """Daemon starts (a timed "Starting up" line), oldest first: the one definition of a daemon
    lifetime's beginning. With ``hosts``, the starts of those hosts (and of lines without a host);
    without, only starts in ``sources`` count (no host tells the daemons apart)."""
    starts = events[(events["msg"] == "Starting up") & events["time"].notna()]
    if hosts:
        starts = starts[starts["host"].isin(set(hosts)) | starts["host"].isna()]
    else:
        starts = starts[starts["source"].isin(set(sources))]
    return starts.sort_values("time", kind="stable")


def daemons_by_time(daemons: pd.DataFrame) -> pd.DataFrame:
    """The daemons table oldest first: the one order "the latest daemon" is read from (the run's
    engine version, each finding's fallback, the fleet table). Rows without a time (``docker
    version`` output) come first; ties go by version, so the order of the inputs never decides."""

    def key(i: int):
        t, v = daemons["time"].iloc[i], daemons["version"].iloc[i]
        return (not pd.isna(t), t if not pd.isna(t) else 0, versions.parse(v) or (), str(v))

    return daemons.iloc[sorted(range(len(daemons)), key=key)]


def engine_versions(daemons: pd.DataFrame) -> list[str]:
    """Every daemon version the inputs show, each once, oldest daemon first (the last is the latest)."""
    return list(dict.fromkeys(str(v) for v in daemons_by_time(daemons)["version"]))


def engine_version(daemons: pd.DataFrame) -> str | None:
    """The latest daemon's version (see :func:`daemons_by_time`), None when no daemon says."""
    return None if daemons.empty else str(daemons_by_time(daemons)["version"].iloc[-1])


def build(parsed: Parsed) -> Evidence:
    events = parsed.events
    dump_rows, g_rows, p_rows, l_rows, locks, shown = _dump_rows(parsed.dumps, events)
    dumps = parsed.dumps
    built = {
        "events": _frame("events", _event_rows(events)),
        "daemons": _frame("daemons", _daemon_rows(events)),
        "dumps": _frame("dumps", dump_rows),
        "goroutines": _frame("goroutines", g_rows),
        "panics": _frame("panics", p_rows),
        "locks": _frame("locks", l_rows),
        "containers": _frame("containers", _container_rows(events)),
    }
    stack_dumps = [d for d in parsed.dumps if d.kind != "panic"]
    coverage = {
        "logs": bool(events) or len(stack_dumps) < len(parsed.dumps),  # a panic trace is log output
        "debug_logs": any(e.level == "debug" for e in events),
        "dumps": bool(stack_dumps),
        # a partial dump (a pasted excerpt) shows what is in it, never that something is not there
        "complete_dumps": any(d.complete for d in stack_dumps),
    }
    tables = Tables(built, {"frames": lambda: _frame("frames", _frame_rows(dumps))})
    return Evidence(tables, coverage, locks, parsed.dumps, join(parsed.dumps), shown)
