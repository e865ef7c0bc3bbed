"""``forensics collect``: gather the evidence on the affected host into one tarball.

The tarball holds one folder, ``forensics-<host>-<time>/``:

* ``manifest.json``: what was collected, how, when, and what failed (a call that timed out
  is recorded with where it stalled: that is evidence of a wedged daemon);
* ``collect.log``: the same as logrus lines, so ``forensics analyze`` puts it on its timeline;
* ``docker-version.txt``, ``docker-ps-a.txt``: rendered from the API as the CLI prints them,
  the shapes ``analyze`` reads; ``api/*.json``: the raw answers, ``api/inspect/<id>.json`` each;
* ``dumps/``: ``pprof-goroutine-debug2.txt`` and the SIGUSR1 ``goroutine-stacks-*.log``; containerd's
  SIGUSR1 file ``containerd.<pid>.stacks.log`` (its shims, also signalled, write theirs to containerd's log);
* ``logs/``: the daemon's log (journal, its output file, /var/log/..., every ``--log``);
* ``config/daemon.json``.

Order: the state (version, info, containers, the goroutine dump, at once), then an inspect of
every container (a hanging inspect is the symptom; the dump is taken before this tool's own
inspects can queue on a lock), then the logs (which then hold the dump's log line).
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from forensics import __version__
from forensics.collect import dockerapi, hostlogs
from forensics.parse import scope

DUMP_VIA = ("auto", "pprof", "sigusr1", "both")
WORKERS = 8
INSPECT_MAX = 500


class CollectError(Exception):
    """Bad options, or nothing could be collected: said in one line (exit status 2)."""


@dataclass
class Options:
    output: str | None = None
    since: str | None = None
    host: str | None = None
    dump: bool = False
    dump_via: str = "auto"
    logs: list[str] = field(default_factory=list)
    timeout: float = 10.0
    redact: bool = False


@dataclass
class Item:
    what: str
    how: str
    started: str
    seconds: float
    status: str = "ok"  # ok | empty | absent | failed | timed out
    member: str | None = None
    bytes: int = 0
    error: str | None = None
    container: str | None = None


@dataclass
class Collected:
    path: Path
    items: list[Item]
    seconds: float

    @property
    def failed(self) -> list[Item]:
        return [i for i in self.items if i.status in ("failed", "timed out")]


def _stamp(when: datetime | None = None) -> str:
    return (when or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


SECRETS = re.compile(
    r"(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"  # user:password@ in a URL
    r"|(?i:\b(\w*(?:passw(?:or)?d|secret|token|api_?key|access_?key|private_?key)=))[^\s\",&]+"
)
SECRETS_MASKED = (
    "user:password@ in URLs, values of secret-looking KEY=value pairs (password, secret, token, "
    "api key, access key, private key), every container environment value"
)


def _mask(text: str) -> str:
    return SECRETS.sub(lambda m: f"{m[1]}***" if m[1] else "***:***", text)


def _pseudonymise(hostname: str, members: list, state: dict) -> tuple[str, list]:
    """--redact: forensics.redact's pseudonyms (host, ip, user, container, image names), the same
    token for the same name in every member and member name; secrets masked first. Returns the
    host's token and the members, the manifest's ``redaction`` filled, `docker ps -a` re-aligned."""
    from forensics.report.redact import redact

    containers = state.get("containers (all states)") or []
    environment = {
        "hosts": [hostname, socket.getfqdn(), (state.get("engine info") or {}).get("Name")],
        "images": [c.get("Image", "") for c in containers],
        "containers": [{"name": ",".join(c.get("Names") or [])} for c in containers],
    }
    texts = [[name, _mask(data.decode("utf-8", "surrogateescape"))] for name, data, _ in members]
    out = redact({"environment": environment, "host": hostname, "members": texts})
    done = {name: text.encode("utf-8", "surrogateescape") for name, text in out["members"]}
    manifest = json.loads(done["manifest.json"])
    manifest["redaction"] = {**out["redaction"], "masked": SECRETS_MASKED}
    done["manifest.json"] = json.dumps(manifest, indent=1).encode()
    if "docker-ps-a.txt" in done:  # names changed length: the columns are laid out again
        done["docker-ps-a.txt"] = dockerapi.render_ps(
            json.loads(done["api/containers.json"])
        ).encode()
    return out["host"], [
        (name, done[name], mtime) for (name, _), (_, _, mtime) in zip(out["members"], members)
    ]


class _Bundle:
    def __init__(self):
        self.items: list[Item] = []
        self.members: list[tuple[str, bytes, float]] = []

    def add(self, item: Item, data: bytes | None = None, mtime: float | None = None) -> Item:
        if data and item.member:
            item.bytes = len(data)
            self.members.append((item.member, data, mtime or time.time()))
        elif (
            item.status == "ok"
        ):  # nothing to put in the bundle (an empty member would be an unreadable input)
            item.status, item.member = "empty", None
        self.items.append(item)
        return item

    def reply(self, what: str, reply: dockerapi.Reply, member: str, container: str | None = None):
        """Record an API answer; returns its JSON (or text) when it came whole."""
        status = "ok" if reply.ok else "timed out" if reply.timed_out else "failed"
        self.add(
            Item(
                what,
                f"{reply.method} {reply.path}",
                _stamp(reply.started),
                reply.seconds,
                status,
                member if reply.body else None,
                error=reply.error,
                container=container,
            ),
            reply.body or None,
        )
        if not reply.ok:
            return None
        try:
            return reply.json() if member.endswith(".json") else reply.body
        except ValueError:
            return None


def _timed(bundle: _Bundle, what: str, how: str, member: str, read, mtime=None) -> None:
    """Run ``read()`` for bytes and record it, or record why it failed."""
    started, t0 = _stamp(), time.monotonic()
    try:
        data, status, error = read(), "ok", None
    except FileNotFoundError:
        data, status, error = None, "absent", None
    except subprocess.CalledProcessError as exc:
        data, status, error = (
            None,
            "failed",
            (exc.stderr or b"").decode("utf-8", "replace").strip()[:300] or str(exc),
        )
    except subprocess.TimeoutExpired as exc:
        data, status, error = None, "timed out", f"timed out after {exc.timeout:g}s"
    except OSError as exc:
        data, status, error = None, "failed", exc.strerror or str(exc)
    bundle.add(
        Item(
            what,
            how,
            started,
            round(time.monotonic() - t0, 3),
            status,
            member if data is not None else None,
            error=error,
        ),
        data,
        mtime,
    )


def _mask_env(doc: dict) -> dict:
    config = doc.get("Config") or {}
    if config.get("Env"):
        config["Env"] = [e.split("=", 1)[0] + "=***" for e in config["Env"]]
    return doc


def _state(bundle: _Bundle, ep: dockerapi.Endpoint, opts: Options) -> dict:
    """Version, info, containers and the pprof dump, at once; returns the parsed answers that came whole."""
    calls = {
        "engine version": ("/version", "api/version.json"),
        "engine info": ("/info", "api/info.json"),
        "containers (all states)": ("/containers/json?all=1", "api/containers.json"),
    }
    if opts.dump and opts.dump_via != "sigusr1":
        calls["goroutine dump (pprof)"] = (
            "/debug/pprof/goroutine?debug=2",
            "dumps/pprof-goroutine-debug2.txt",
        )
    with ThreadPoolExecutor(WORKERS) as pool:
        replies = list(pool.map(lambda c: dockerapi.call(ep, c[0], opts.timeout), calls.values()))
    got = {
        what: bundle.reply(what, r, member)
        for (what, (_, member)), r in zip(calls.items(), replies)
    }
    for what, kind, member, render in (
        ("engine version", dict, "docker-version.txt", dockerapi.render_version),
        ("containers (all states)", list, "docker-ps-a.txt", dockerapi.render_ps),
    ):
        if isinstance(got[what], kind):
            how = f"rendered from GET {calls[what][0]}"
            bundle.add(
                Item(f"{what}, as the docker CLI prints it", how, _stamp(), 0, member=member),
                render(got[what]).encode(),
            )
    return got


def _inspect(bundle: _Bundle, ep: dockerapi.Endpoint, containers: list, opts: Options) -> None:
    ids = [c["Id"] for c in containers if c.get("Id")][:INSPECT_MAX]
    with ThreadPoolExecutor(WORKERS) as pool:
        replies = list(
            pool.map(lambda cid: dockerapi.call(ep, f"/containers/{cid}/json", opts.timeout), ids)
        )
    for cid, reply in zip(ids, replies):
        if reply.ok and opts.redact:
            reply.body = json.dumps(_mask_env(reply.json())).encode()
        bundle.reply(
            f"inspect {cid[:12]}", reply, f"api/inspect/{cid[:12]}.json", container=cid[:12]
        )


def _dump_by_signal(bundle: _Bundle, daemon: hostlogs.Daemon, sources: list, opts: Options) -> None:
    started, t0 = _stamp(), time.monotonic()
    _add_stack(
        bundle,
        "goroutine dump (SIGUSR1)",
        hostlogs.sigusr1_dump(daemon, sources, opts.timeout),
        started,
        t0,
    )


def _add_stack(bundle: _Bundle, what: str, stack, started: str, t0: float) -> None:
    """A goroutine dump taken by signal, as a bundle member and a manifest item."""
    bundle.add(
        Item(
            what,
            stack.how,
            started,
            round(time.monotonic() - t0, 3),
            "failed" if stack.error else "ok",
            f"dumps/{stack.name}" if stack.name else None,
            error=stack.error,
        ),
        stack.data or None,
    )


def _containerd_dumps(
    bundle: _Bundle, daemon: hostlogs.Daemon, sources: list, opts: Options
) -> None:
    """containerd's SIGUSR1 file, and SIGUSR1 to its shims (their stacks land in containerd's log)."""
    started, t0 = _stamp(), time.monotonic()
    ctrd = hostlogs.find_containerd(daemon)
    stack = hostlogs.containerd_dump(ctrd, sources, opts.timeout)
    _add_stack(bundle, "containerd goroutine dump (SIGUSR1)", stack, started, t0)
    if ctrd.pid is None:
        return
    started = _stamp()
    shims, why = hostlogs.signal_shims(ctrd)
    how = (
        (
            f"SIGUSR1 to containerd-shim pids {' '.join(map(str, shims))}: each logs its stacks to its stderr, "
            "which containerd copies into its log (under logs/)"
        )
        if shims
        else "SIGUSR1 to containerd's shims"
    )
    bundle.items.append(
        Item(
            "shim goroutine dumps (SIGUSR1)",
            how,
            started,
            0,
            "ok" if shims else "absent",
            error=why,
        )
    )


def _log_line(item: Item) -> str:
    def q(v) -> str:
        v = str(v)
        return v if re.fullmatch(r"[\w\-./@^+]+", v, re.ASCII) else json.dumps(v)

    level = "warning" if item.status in ("failed", "timed out") else "info"
    msg = f"{item.what}: {item.status}" + (f": {item.error}" if item.error else "")
    fields = {
        "container": item.container,
        "how": item.how,
        "member": item.member,
        "seconds": item.seconds,
    }
    return f'time="{item.started}" level={level} msg={q(msg)} ' + " ".join(
        f"{k}={q(v)}" for k, v in sorted(fields.items()) if v is not None
    )


def _output(opts: Options, top: str) -> Path:
    path = Path(opts.output or f"{top}.tar.gz")
    path = path / f"{top}.tar.gz" if path.is_dir() else path
    if not path.parent.is_dir():
        raise CollectError(f"--output {opts.output}: no such directory {path.parent}")
    return path


def _write(path: Path, top: str, members: list[tuple[str, bytes, float]]) -> None:
    part = path.with_name(path.name + ".part")
    try:
        fd = os.open(
            part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600
        )  # the bundle holds logs: owner only
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name, data, mtime in members:
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size, info.mtime, info.mode = len(data), int(mtime), 0o600
                tar.addfile(info, io.BytesIO(data))
        os.replace(part, path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise CollectError(f"cannot write {path}: {exc.strerror or exc}") from None


def _check(opts: Options, now: datetime) -> tuple[dockerapi.Endpoint, datetime | None]:
    """The endpoint and the --since time, or CollectError for a bad option."""
    try:
        ep = dockerapi.endpoint(opts.host)
        since = scope.parse_since(opts.since, now) if opts.since else None
    except ValueError as exc:
        raise CollectError(str(exc)) from None
    if opts.dump_via not in DUMP_VIA:
        raise CollectError(f"--dump-via must be one of {', '.join(DUMP_VIA)}")
    if not opts.timeout > 0:
        raise CollectError("--timeout must be a positive number of seconds")
    for log in opts.logs:
        if not os.path.isfile(log):
            raise CollectError(f"--log {log}: no such file")
    return ep, since


def collect(opts: Options) -> Collected:
    """Collect, write the tarball, return what was done. Raises CollectError (one line)."""
    began, t0 = datetime.now(timezone.utc), time.monotonic()
    ep, since = _check(opts, began)
    hostname = socket.gethostname()
    top = f"forensics-{hostname}-{began:%Y%m%dT%H%M%SZ}"
    _output(opts, top)

    bundle = _Bundle()
    daemon = hostlogs.find_daemon(ep)
    sources, no_log = hostlogs.log_sources(daemon, opts.logs)
    state = _state(bundle, ep, opts)
    containers = state.get("containers (all states)") or []
    pprof_failed = state.get("goroutine dump (pprof)") is None
    if opts.dump and (
        opts.dump_via in ("sigusr1", "both") or opts.dump_via == "auto" and pprof_failed
    ):
        _dump_by_signal(bundle, daemon, sources, opts)
    if opts.dump:
        _containerd_dumps(bundle, daemon, sources, opts)
    _inspect(bundle, ep, containers, opts)
    for s in sources:
        _timed(bundle, "daemon log", s.how, s.member, lambda s=s: s.read(since), s.mtime())
    if no_log:
        bundle.add(
            Item(
                "daemon log",
                "journal, dockerd's output, /var/log",
                _stamp(),
                0,
                "failed",
                error=no_log,
            )
        )
    config = daemon.option("--config-file") or "/etc/docker/daemon.json"
    _timed(
        bundle,
        "daemon configuration",
        f"file {config}",
        "config/daemon.json",
        lambda: Path(daemon.path(config)).read_bytes(),
    )

    if not any(i.status in ("ok", "timed out") for i in bundle.items):
        reasons = dict.fromkeys(i.error for i in bundle.items if i.error)
        raise CollectError("nothing collected: " + "; ".join(reasons))
    log = "\n".join(_log_line(i) for i in bundle.items) + "\n"
    bundle.add(
        Item("collection log", "this collector", _stamp(), 0, member="collect.log"), log.encode()
    )
    finished = time.monotonic() - t0
    manifest = {
        "format": "forensics-collect/1",
        "tool": f"forensics {__version__}",
        "host": hostname,
        "started": _stamp(began),
        "finished": _stamp(),
        "seconds": round(finished, 3),
        "options": {
            "host": ep.url,
            "since": _stamp(since) if since else None,
            "dump": opts.dump,
            "dump_via": opts.dump_via,
            "timeout": opts.timeout,
            "logs": opts.logs,
            "redact": opts.redact,
        },
        "daemon": {
            "pid": daemon.pid,
            "found_by": daemon.found_by or None,
            "cmdline": daemon.cmdline,
            "problem": daemon.problem,
        },
        "redaction": None,
        "items": [asdict(i) for i in bundle.items],
        "failed": [
            f"{i.how}: {i.error}" for i in bundle.items if i.status in ("failed", "timed out")
        ],
    }
    members = [
        ("manifest.json", json.dumps(manifest, indent=1).encode(), time.time())
    ] + bundle.members
    if opts.redact:
        token, members = _pseudonymise(hostname, members, state)
        top = top.replace(f"-{hostname}-", f"-{token}-", 1)
    path = _output(opts, top)
    _write(path, top, members)
    return Collected(path, bundle.items, round(finished, 3))
