"""On the affected host: which process is dockerd, where its log is, and its SIGUSR1 dump.

Everything here only reads, except :func:`sigusr1_dump`, which signals dockerd (the daemon
keeps running; it writes ``<exec-root>/goroutine-stacks-<time>.log`` and logs
``goroutine stacks written to <file>``), and :func:`containerd_dump` / :func:`signal_shims`,
which do the same to dockerd's containerd (``/tmp/containerd.<pid>.stacks.log``) and its
shims (their stacks go to containerd's log). A process is signalled only when it is dockerd,
the containerd it started or whose socket it names, or a shim of that containerd.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from forensics.collect.dockerapi import DEFAULT_HOST, Endpoint
from forensics.parse.scope import stamp_of

LOG_LIMIT = 256 << 20  # bytes kept from one log (its end)
SYSTEMD = "/run/systemd/system"  # present when systemd is the init
USUAL_LOGS = ("/var/log/docker.log", "/var/log/upstart/docker.log")
SYSLOGS = ("/var/log/messages", "/var/log/syslog", "/var/log/daemon.log")
SYSLOG_TAG = re.compile(rb" (?:dockerd|docker|containerd)(?:-current)?(?:\[\d+\])?: ")
WRITTEN = re.compile(r"goroutine stacks written to (\S+?\.log)")


def cut_before(data: bytes, since: datetime) -> bytes:
    """Drop the lines before the first one stamped at or after ``since`` (logrus time= or a
    leading ISO time); data with no time stamp in it is kept whole."""
    seen = False
    offset = 0
    for line in data.splitlines(keepends=True):
        stamp = stamp_of(line[:200].decode("utf-8", "replace"))
        if stamp is not None:
            if stamp >= since:
                return data[offset:]
            seen = True
        offset += len(line)
    return b"" if seen else data


# ---- the daemon process ----


@dataclass
class Daemon:
    pid: int | None = None
    found_by: str = ""
    cmdline: list[str] = field(default_factory=list)
    problem: str | None = None

    def option(self, name: str) -> str | None:
        for i, arg in enumerate(self.cmdline):
            if arg == name and i + 1 < len(self.cmdline):
                return self.cmdline[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
        return None

    def path(self, path: str) -> str:
        """A path as the daemon sees it (its mount namespace), read from here."""
        inside = f"/proc/{self.pid}/root{path}"
        return inside if self.pid and os.path.exists(inside) else path


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _socket_inodes(path: str) -> set[str]:
    target, inodes = os.path.realpath(path), set()
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as table:
            next(table, None)
            for row in table:
                cols = row.split()
                if (
                    len(cols) >= 8
                    and int(cols[3], 16) & 0x10000
                    and (cols[7] == path or os.path.realpath(cols[7]) == target)
                ):
                    inodes.add(f"socket:[{cols[6]}]")
    except OSError:
        pass
    return inodes


def _holders(links: set[str]) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd.path) in links for fd in os.scandir(f"/proc/{entry.name}/fd")):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def find_daemon(ep: Endpoint) -> Daemon:
    """The dockerd serving ``ep``: the dockerd process holding its listening socket; for the
    default socket also /var/run/docker.pid. Never a guess among several daemons."""
    if not ep.socket_path:
        return Daemon(
            problem=f"{ep.url} is not a local socket: dockerd's process is not looked for"
        )
    pids = [p for p in _holders(_socket_inodes(ep.socket_path)) if _comm(p).startswith("dockerd")]
    how = f"holds the API socket {ep.socket_path}"
    if not pids and ep.url == DEFAULT_HOST:
        for pidfile in ("/var/run/docker.pid", "/run/docker.pid"):
            try:
                pid = int(Path(pidfile).read_text().strip())
            except (OSError, ValueError):
                continue
            if _comm(pid).startswith("dockerd"):
                pids, how = [pid], f"named in {pidfile}"
                break
    if len(pids) != 1:
        return Daemon(
            problem=f"no dockerd process found holding {ep.socket_path}"
            if not pids
            else f"several dockerd processes hold {ep.socket_path}: {pids}"
        )
    return _process(pids[0], how)


# ---- the daemon's log ----


@dataclass
class LogSource:
    member: str  # where it goes in the bundle
    how: str  # for the manifest
    path: str | None = None  # a file, read as it is
    argv: list[str] | None = None  # or a command's output
    keep: re.Pattern | None = None  # only the lines matching (syslog files)

    def size(self) -> int:
        try:
            return os.stat(self.path).st_size if self.path else 0
        except OSError:
            return 0

    def mtime(self) -> float | None:
        try:
            return os.stat(self.path).st_mtime if self.path else None
        except OSError:
            return None

    def read(self, since: datetime | None = None, start: int = 0, timeout: float = 120.0) -> bytes:
        """The log (its last LOG_LIMIT bytes); raises OSError or subprocess errors."""
        if self.argv:
            argv = self.argv + (
                ["--since", since.astimezone().strftime("%Y-%m-%d %H:%M:%S")] if since else []
            )
            out = subprocess.run(argv, capture_output=True, timeout=timeout, check=True).stdout
            return b"" if out.strip() == b"-- No entries --" else out[-LOG_LIMIT:]
        with open(self.path, "rb") as f:
            f.seek(max(start, os.fstat(f.fileno()).st_size - LOG_LIMIT))
            data = f.read(LOG_LIMIT)
        if self.keep is not None:
            data = b"".join(
                line for line in data.splitlines(keepends=True) if self.keep.search(line)
            )
        return cut_before(data, since) if since and not start else data


def _journal(unit: str) -> LogSource:
    argv = ["journalctl", "--no-pager", "-o", "short-iso", "-u", unit]
    return LogSource(f"logs/journal-{unit}.log", " ".join(argv), argv=argv)


def _output_files(daemon: Daemon) -> list[LogSource]:
    """dockerd's stdout/stderr when they are files (a daemon started by hand or by an init script)."""
    seen, found = set(), []
    for fd in (2, 1):
        link = f"/proc/{daemon.pid}/fd/{fd}"
        try:
            st = os.stat(link)
            target = os.readlink(link)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            name = target.removesuffix(" (deleted)").lstrip("/")
            found.append(
                LogSource(
                    f"logs/{name}",
                    f"{'stderr' if fd == 2 else 'stdout'} of dockerd pid {daemon.pid} ({target})",
                    path=link,
                )
            )
    return found


def log_sources(daemon: Daemon, named: list[str]) -> tuple[list[LogSource], str | None]:
    """The journal when systemd runs, else dockerd's output files, else the usual files; plus
    every --log. Returns the sources and, when none was found, why."""
    found = [
        LogSource(f"logs/{Path(p).resolve().as_posix().lstrip('/')}", f"--log {p}", path=p)
        for p in named
    ]
    if os.path.isdir(SYSTEMD) and shutil.which("journalctl"):
        return found + [_journal("docker.service"), _journal("containerd.service")], None
    auto = _output_files(daemon) if daemon.pid else []
    if not auto:
        auto = [LogSource(f"logs{p}", f"file {p}", path=p) for p in USUAL_LOGS if os.path.isfile(p)]
        auto += [
            LogSource(f"logs{p}", f"lines of dockerd/containerd in {p}", path=p, keep=SYSLOG_TAG)
            for p in SYSLOGS
            if os.path.isfile(p)
        ]
    known = {os.path.realpath(s.path) for s in found}
    found += [s for s in auto if os.path.realpath(s.path) not in known]
    why = (
        None
        if found
        else (
            "no daemon log found (no systemd journal, dockerd's output is not a file, none of "
            f"{', '.join(USUAL_LOGS + SYSLOGS)}); name it with --log"
        )
    )
    return found, why


# ---- SIGUSR1 ----


@dataclass
class StackFile:
    name: str = ""  # the file's own name (goroutine-stacks-<time>.log)
    data: bytes = b""
    how: str = ""
    error: str | None = None


def sigusr1_dump(daemon: Daemon, sources: list[LogSource], timeout: float) -> StackFile:
    """Signal dockerd, then pick up the file its log names (else the newest one in its exec-root)."""
    if daemon.pid is None:
        return StackFile(how="SIGUSR1 to dockerd", error=f"SIGUSR1 not sent: {daemon.problem}")
    how = f"SIGUSR1 to dockerd pid {daemon.pid}"
    marks = {id(s): s.size() for s in sources}
    sent = datetime.now(timezone.utc)
    try:
        os.kill(daemon.pid, signal.SIGUSR1)
    except OSError as exc:
        return StackFile(how=how, error=f"cannot signal dockerd pid {daemon.pid}: {exc.strerror}")
    deadline = time.monotonic() + timeout
    exec_root = daemon.option("--exec-root") or "/var/run/docker"
    while True:
        for s in sources:
            try:
                text = s.read(
                    sent - timedelta(seconds=2), marks[id(s)], max(deadline - time.monotonic(), 1)
                )
            except (OSError, subprocess.SubprocessError):
                continue
            m = WRITTEN.search(text.decode("utf-8", "replace"))
            if m:
                return _read_stack(daemon, m[1], f"{how}; file named in {s.member}")
        newest = _newest_stack_file(daemon.path(exec_root), sent.timestamp() - 1)
        if newest and (not sources or time.monotonic() >= deadline):
            return _read_stack(
                daemon, os.path.join(exec_root, newest), f"{how}; newest file in {exec_root}"
            )
        if time.monotonic() >= deadline:
            return StackFile(
                how=how,
                error="SIGUSR1 sent, but no goroutine-stacks file "
                f"appeared in dockerd's log or in {exec_root} within {timeout:g}s",
            )
        time.sleep(0.2)


def _newest_stack_file(folder: str, after: float) -> str | None:
    try:
        files = [
            (e.stat().st_mtime, e.name)
            for e in os.scandir(folder)
            if e.name.startswith("goroutine-stacks-") and e.name.endswith(".log")
        ]
    except OSError:
        return None
    files = [f for f in files if f[0] >= after]
    return max(files)[1] if files else None


def _read_stack(daemon: Daemon, path: str, how: str) -> StackFile:
    try:
        data = Path(daemon.path(path)).read_bytes()
    except OSError as exc:
        return StackFile(how=how, error=f"cannot read {path}: {exc.strerror}")
    return StackFile(os.path.basename(path), data, f"{how}: {path}")


# ---- containerd and its shims ----

CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
CONTAINERD_WRITTEN = re.compile(r"goroutine stack dump written to (\S+?\.log)")
SHIMS_SIGNALLED = 64  # at most this many shims are asked for their stacks


def child_processes(pid: int) -> list[int]:
    """The child processes of ``pid``, whichever of its threads started them (a Go program such as
    dockerd forks from any OS thread, and /proc/PID/task/TID/children lists a thread's own only)."""
    children = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tasks:
        try:
            children += [
                int(p) for p in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            ]
        except OSError:
            continue
    return sorted(set(children))


def _process(pid: int, how: str) -> Daemon:
    """The process ``pid`` as a Daemon, with its command line when /proc still has it."""
    try:
        cmdline = (
            Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")[:-1]
        )
    except OSError:
        cmdline = []
    return Daemon(pid, how, cmdline)


def find_containerd(daemon: Daemon) -> Daemon:
    """The containerd of ``daemon``: its child (a containerd dockerd started itself), else the
    containerd holding the socket named by ``--containerd`` (default /run/containerd/containerd.sock).
    Only looked for when dockerd was found; never a guess among several."""
    if daemon.pid is None:
        return Daemon(problem=f"dockerd not found ({daemon.problem}), so neither is its containerd")
    pids = [p for p in child_processes(daemon.pid) if _comm(p) == "containerd"]
    how = f"child of dockerd pid {daemon.pid}"
    if not pids:
        sock = daemon.option("--containerd") or CONTAINERD_SOCKET
        pids = [p for p in _holders(_socket_inodes(daemon.path(sock))) if _comm(p) == "containerd"]
        how = f"holds {sock}"
    if len(pids) != 1:
        return Daemon(
            problem="no containerd process found for dockerd"
            if not pids
            else f"several containerd processes: {pids}"
        )
    return _process(pids[0], how)


def containerd_dump(ctrd: Daemon, sources: list[LogSource], timeout: float) -> StackFile:
    """Signal containerd (SIGUSR1): it logs its stacks and (1.6 and later) writes them to
    ``<its temp dir>/containerd.<pid>.stacks.log``, naming the file in its log. Picks up that file."""
    if ctrd.pid is None:
        return StackFile(how="SIGUSR1 to containerd", error=f"SIGUSR1 not sent: {ctrd.problem}")
    how = f"SIGUSR1 to containerd pid {ctrd.pid} ({ctrd.found_by})"
    marks = {id(s): s.size() for s in sources}
    sent = time.time()
    try:
        os.kill(ctrd.pid, signal.SIGUSR1)
    except OSError as exc:
        return StackFile(how=how, error=f"cannot signal containerd pid {ctrd.pid}: {exc.strerror}")
    expected = f"/tmp/containerd.{ctrd.pid}.stacks.log"
    deadline = time.monotonic() + timeout
    while True:
        for s in sources:
            try:
                text = (
                    s.read(None, marks[id(s)], max(deadline - time.monotonic(), 1))
                    if s.path
                    else b""
                )
            except (OSError, subprocess.SubprocessError):
                continue
            m = CONTAINERD_WRITTEN.search(text.decode("utf-8", "replace"))
            if m:
                return _read_stack(ctrd, m[1], f"{how}; file named in {s.member}")
        try:
            fresh = os.stat(ctrd.path(expected)).st_mtime >= sent - 1
        except OSError:
            fresh = False
        if fresh:
            time.sleep(0.3)  # written in one go right after the log line; let it finish
            return _read_stack(ctrd, expected, f"{how}; its file")
        if time.monotonic() >= deadline:
            return StackFile(
                how=how,
                error=f"SIGUSR1 sent, but no {expected} appeared within {timeout:g}s "
                "(containerd before 1.6 only logs its stacks: see its log)",
            )
        time.sleep(0.2)


def signal_shims(ctrd: Daemon) -> tuple[list[int], str | None]:
    """SIGUSR1 to the shims of ``ctrd`` (containerd-shim* processes whose -address is its socket):
    each logs its stacks to its stderr, which containerd copies into its own log. Returns the pids."""
    if ctrd.pid is None:
        return [], f"not sent: {ctrd.problem}"
    sock = ctrd.option("--address") or ctrd.option("-a") or CONTAINERD_SOCKET
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or not _comm(int(entry.name)).startswith("containerd-shim"):
            continue
        try:
            argv = (
                Path(f"/proc/{entry.name}/cmdline")
                .read_bytes()
                .decode("utf-8", "replace")
                .split("\0")
            )
        except OSError:
            continue
        address = argv[argv.index("-address") + 1] if "-address" in argv[:-1] else None
        if address and (address == sock or address.startswith(_exec_dir(ctrd))):
            pids.append(int(entry.name))
    sent = []
    for pid in sorted(pids)[:SHIMS_SIGNALLED]:
        try:
            os.kill(pid, signal.SIGUSR1)
            sent.append(pid)
        except OSError:
            continue
    return sent, None if sent else "no shim of this containerd runs"


def _exec_dir(ctrd: Daemon) -> str:
    """The folder of a dockerd-managed containerd's files (its --config sits there), or a path no socket has."""
    config = ctrd.option("--config") or ctrd.option("-c") or ""
    return os.path.dirname(config) + "/" if config else "\0"
