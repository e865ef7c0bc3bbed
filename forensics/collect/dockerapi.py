"""The Docker Engine API over its socket, each call under a hard deadline.

Plain ``http.client`` over a unix socket (or plain TCP). :func:`call` never raises and never
outlives its timeout: the socket has the timeout for connecting, and a timer shuts the socket
down when the deadline passes, so a daemon that accepts and then says nothing (the wedged
daemon this tool diagnoses) costs one timeout and leaves a :class:`Reply` saying where it stalled.

Also here: the two renderings of API answers that ``forensics analyze`` reads, in the shape the
``docker`` CLI prints them (``docker version``'s Server part and the ``docker ps -a`` table).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

DEFAULT_HOST = "unix:///var/run/docker.sock"
LIMIT = 512 << 20  # bytes kept from one answer


class EndpointError(ValueError):
    """A --host / DOCKER_HOST this client cannot talk to."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    socket_path: str | None = None  # unix
    host: str | None = None  # tcp
    port: int = 2375


def endpoint(url: str | None) -> Endpoint:
    url = url or DEFAULT_HOST
    if url.startswith("/"):
        url = "unix://" + url
    parts = urlsplit(url)
    if parts.scheme == "unix" and parts.path:
        return Endpoint(url, socket_path=parts.path)
    if parts.scheme in ("tcp", "http") and parts.hostname:
        try:
            return Endpoint(url, host=parts.hostname, port=parts.port or 2375)
        except ValueError:
            raise EndpointError(f"bad port in {url!r}") from None
    raise EndpointError(
        f"cannot talk to {url!r}: use unix:///path/to/docker.sock or tcp://host:port "
        "(TLS and ssh:// are not supported)"
    )


@dataclass
class Reply:
    method: str
    path: str
    started: datetime
    seconds: float = 0.0
    status: int | None = None
    body: bytes = b""
    error: str | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def json(self):
        return json.loads(self.body)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _expire(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    expired.set()
    if conn.sock is not None:
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _error(exc: BaseException, ep: Endpoint, phase: str) -> str:
    where = ep.socket_path or f"{ep.host}:{ep.port}"
    if isinstance(exc, FileNotFoundError):
        return f"no socket at {where} (is dockerd running?)"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where} (is dockerd running?)"
    if isinstance(exc, PermissionError):
        return f"permission denied on {where} (run as root or as a member of the docker group)"
    return f"{phase}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"


def call(ep: Endpoint, path: str, timeout: float, method: str = "GET") -> Reply:
    """One request; the reply holds the body (possibly cut short) or what went wrong."""
    reply = Reply(method, path, datetime.now(timezone.utc))
    t0 = time.monotonic()
    conn = (
        _UnixConnection(ep.socket_path, timeout)
        if ep.socket_path
        else http.client.HTTPConnection(ep.host, ep.port, timeout=timeout)
    )
    expired = threading.Event()
    timer = threading.Timer(timeout, _expire, (conn, expired))
    timer.daemon = True
    timer.start()
    phase, chunks, size = "connecting", [], 0
    try:
        conn.connect()
        if expired.is_set():
            raise TimeoutError
        phase = "waiting for the answer"
        conn.request(method, path)
        response = conn.getresponse()
        reply.status, phase = response.status, "reading the answer"
        while chunk := response.read1(1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            if size > LIMIT:
                reply.error = f"answer cut at {LIMIT >> 20} MiB"
                break
    except (OSError, http.client.HTTPException) as exc:
        if not (expired.is_set() or isinstance(exc, TimeoutError)):
            reply.error = _error(exc, ep, phase)
    finally:
        timer.cancel()
        conn.close()
        reply.seconds = round(time.monotonic() - t0, 3)
        reply.body = b"".join(chunks)
    if expired.is_set() or (reply.error is None and reply.status is None):
        reply.timed_out = True
        reply.error = f"timed out after {timeout:g}s {phase}" + (
            f" ({size} bytes received)" if size else ""
        )
    elif reply.error is None and not reply.ok:
        reply.error = f"HTTP {reply.status}: {_message(reply.body)}"
    return reply


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", "")) or body[:200].decode("utf-8", "replace")
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace").strip()


# ---- renderings `forensics analyze` reads (the docker CLI's own layout) ----


def render_version(v: dict) -> str:
    """`docker version`'s Server part, from GET /version."""
    name = (v.get("Platform") or {}).get("Name", "")
    lines = [f"Server:{' ' + name if name else ''}", " Engine:"]
    engine = [
        ("Version", v.get("Version")),
        ("API version", f"{v.get('ApiVersion')} (minimum version {v.get('MinAPIVersion')})"),
        ("Go version", v.get("GoVersion")),
        ("Git commit", v.get("GitCommit")),
        ("Built", v.get("BuildTime")),
        ("OS/Arch", f"{v.get('Os')}/{v.get('Arch')}"),
        ("Experimental", str(bool(v.get("Experimental"))).lower()),
    ]
    lines += [f"  {k + ':':<18}{val}" for k, val in engine if val is not None]
    for comp in v.get("Components") or []:
        if comp.get("Name") == "Engine":
            continue
        lines.append(f" {comp.get('Name')}:")
        lines.append(f"  {'Version:':<18}{comp.get('Version')}")
        lines += [
            f"  {k + ':':<18}{val}"
            for k, val in (comp.get("Details") or {}).items()
            if k == "GitCommit"
        ]
    return "\n".join(lines) + "\n"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration, as `docker ps` prints CREATED."""
    s, hours = int(seconds), int(seconds / 3600 + 0.5)
    if s < 60:
        return "Less than a second" if s < 1 else "1 second" if s == 1 else f"{s} seconds"
    if s < 3600:
        return "About a minute" if s // 60 == 1 else f"{s // 60} minutes"
    if hours == 1:
        return "About an hour"
    for limit, unit, size in (
        (48, "hours", 1),
        (24 * 14, "days", 24),
        (24 * 60, "weeks", 24 * 7),
        (24 * 365 * 2, "months", 24 * 30),
    ):
        if hours < limit:
            return f"{hours // size} {unit}"
    return f"{s // 3600 // (24 * 365)} years"


def _ports(ports: list[dict]) -> str:
    out = []
    for p in ports or []:
        private = f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
        out.append(f"{p['IP']}:{p['PublicPort']}->{private}" if p.get("PublicPort") else private)
    return ", ".join(out)


def render_ps(containers: list[dict], now: float | None = None) -> str:
    """`docker ps -a`, from GET /containers/json?all=1 (column layout as the CLI's tabwriter)."""
    now = now or time.time()
    rows = [("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")]
    for c in containers:
        image = c.get("Image", "")
        image = image[7:19] if image.startswith("sha256:") else image
        command = c.get("Command", "")
        command = command if len(command) <= 20 else command[:19] + "…"
        names = [n[1:] for n in c.get("Names") or [] if n.count("/") == 1]
        rows.append(
            (
                c.get("Id", "")[:12],
                image,
                json.dumps(command, ensure_ascii=False),
                human_duration(now - c.get("Created", now)) + " ago",
                c.get("Status", ""),
                _ports(c.get("Ports")),
                ",".join(names),
            )
        )
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(6)]
    return "".join("".join(v.ljust(w) for v, w in zip(r, widths)) + r[6] + "\n" for r in rows)
