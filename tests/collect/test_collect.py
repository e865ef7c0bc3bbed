"""forensics collect: API calls under a deadline, the bundle and its manifest, analyze reading it.

Two daemons: a scripted one on a unix socket (answers some paths, accepts and never answers
the others: the wedged daemon) and, in test_real_dockerd, a real dockerd started here.
"""

import json
import os
import re
import signal
import socket
import subprocess
import tarfile
import threading
import time

import pytest
import realdockerd
from conftest import REPRO, log_without_dump
from conftest import forensics as run
from typer.testing import CliRunner

from forensics.cli import app
from forensics.collect import hostlogs
from forensics.collect.bundle import Options, collect
from forensics.collect.dockerapi import endpoint, human_duration, render_ps
from forensics.parse import scope

STUCK = "d593da0690bf" + "0" * 52
WEB = "7c0ffee00000" + "1" * 52
VERSION = {
    "Platform": {"Name": "Docker Engine - Community"},
    "Version": "27.4.1",
    "ApiVersion": "1.47",
    "MinAPIVersion": "1.24",
    "GoVersion": "go1.22.10",
    "GitCommit": "c710b88",
    "Os": "linux",
    "Arch": "amd64",
}
CONTAINERS = [  # the shape of GET /containers/json?all=1 (constructed, not captured)
    {
        "Id": STUCK,
        "Names": ["/test"],
        "Image": "debian-minbase:bookworm",
        "Command": "sleep 5",
        "Created": time.time() - 60,
        "State": "removing",
        "Status": "Removal In Progress",
        "Ports": [],
    },
    {
        "Id": WEB,
        "Names": ["/web"],
        "Image": "nginx:1.27",
        "Command": "nginx -g 'daemon off;'",
        "Created": time.time() - 7200,
        "State": "running",
        "Status": "Up 2 hours",
        "Ports": [{"IP": "10.1.2.3", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
    },
]


def answer(body, kind="application/json") -> bytes:
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body


STATE = {"/version": answer(VERSION), r"/containers/json\?all=1": answer(CONTAINERS)}
INSPECT_WEB = answer({"Id": WEB, "Config": {"Env": ["DB_PASSWORD=hunter2", "TZ=UTC"]}})


def trickle(conn):
    """An answer that never ends: a header line every 0.3 s (each read gets data within any timeout)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for i in range(100):
        time.sleep(0.3)
        conn.sendall(b"X-Still-Here: %d\r\n" % i)


class ScriptedDaemon:
    """HTTP on a unix socket: a path matching a route gets its answer (bytes, or a function
    given the connection); any other path is accepted, read, and never answered (the connection
    is held open until close())."""

    def __init__(self, path, routes):
        self.routes, self.requests, self.held, self.stop = routes, [], [], threading.Event()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(65536)
            if not chunk:
                return
            request += chunk
        path = request.split(b" ", 2)[1].decode()
        self.requests.append(path)
        reply = next((r for pattern, r in self.routes.items() if re.fullmatch(pattern, path)), None)
        try:
            reply(conn) if callable(reply) else conn.sendall(reply) if reply else None
        except OSError:  # the client hung up
            return
        if reply is not None:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def scripted(tmp_path):
    daemons = []

    def start(routes):
        daemons.append(ScriptedDaemon(tmp_path / "docker.sock", routes))
        return f"unix://{tmp_path / 'docker.sock'}"

    yield start
    for d in daemons:
        d.close()


def collect_within(seconds, opts):
    """collect() in a thread: a collector still running after ``seconds`` fails the test (it does not hang it)."""
    done = []
    worker = threading.Thread(target=lambda: done.append(collect(opts)), daemon=True)
    t0 = time.monotonic()
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"collect still running after {seconds}s"
    assert done, "collect raised (see the thread's traceback above)"
    return done[0], time.monotonic() - t0


def bundle(path):
    """(member -> bytes under the bundle's one top folder, the manifest, that folder)"""
    with tarfile.open(path) as tar:
        names = [m for m in tar if m.isfile()]
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in names}
    return files, json.loads(files["manifest.json"]), names[0].name.split("/", 1)[0]


def item(manifest, how):
    return next(i for i in manifest["items"] if i["how"] == how)


def test_api_that_never_answers(scripted, tmp_path):
    """Every call stalls (one answers a header line every 0.3 s, forever): the calls run at
    once, so the collector ends after one timeout and the bundle says which call stalled
    where; the log named with --log is still collected."""
    log = tmp_path / "dockerd.log"
    log.write_text(
        'time="2026-11-29T12:00:00.000000000Z" level=info msg="API listen on /var/run/docker.sock"\n'
    )
    host = scripted({"/info": trickle})
    done, took = collect_within(
        2.5,
        Options(
            output=str(tmp_path / "b.tar.gz"), host=host, dump=True, logs=[str(log)], timeout=1
        ),
    )
    assert took > 0.9
    files, manifest, top = bundle(done.path)
    for how in (
        "GET /version",
        "GET /info",
        "GET /containers/json?all=1",
        "GET /debug/pprof/goroutine?debug=2",
    ):
        stalled = item(manifest, how)
        assert stalled["status"] == "timed out", stalled
        phase = "reading" if how == "GET /info" else "waiting for"
        assert stalled["error"] == f"timed out after 1s {phase} the answer"
        assert 0.9 < stalled["seconds"] < 2
    assert "GET /version: timed out after 1s waiting for the answer" in manifest["failed"]
    assert (
        "SIGUSR1 not sent: no dockerd process found holding"
        in item(manifest, "SIGUSR1 to dockerd")["error"]
    )
    assert files[f"logs{log}"] == log.read_bytes()
    assert (
        'level=warning msg="engine version: timed out: timed out after 1s'
        in files["collect.log"].decode()
    )


def test_wedged_daemon_bundle_diagnosed(scripted, tmp_path):
    """moby#49227 as a support engineer meets it: ps works, inspect of the stuck container
    hangs. The inspect is recorded as timed out, the rest collected, and analyze finds the bug
    in the bundle, citing its members."""
    log = tmp_path / "dockerd.log"
    log.write_text("\n".join(log_without_dump()) + "\n")
    pprof = answer((REPRO / "pprof-goroutine-debug2.txt").read_bytes(), "text/plain")
    host = scripted(
        {**STATE, f"/containers/{WEB}/json": INSPECT_WEB, r"/debug/pprof/goroutine\?debug=2": pprof}
    )
    out = tmp_path / "b.tar.gz"  # two waves of calls (state, then inspects): one timeout each
    done, _ = collect_within(
        3.5, Options(output=str(out), host=host, dump=True, logs=[str(log)], timeout=1)
    )
    files, manifest, top = bundle(done.path)
    assert item(manifest, f"GET /containers/{STUCK}/json")["status"] == "timed out"
    assert item(manifest, f"GET /containers/{STUCK}/json")["container"] == STUCK[:12]
    assert item(manifest, "GET /info")["status"] == "timed out"
    assert item(manifest, f"GET /containers/{WEB}/json")["status"] == "ok"
    assert "Removal In Progress" in files["docker-ps-a.txt"].decode()
    assert (
        files["dumps/pprof-goroutine-debug2.txt"]
        == (REPRO / "pprof-goroutine-debug2.txt").read_bytes()
    )

    proc = run("analyze", out, "--json", "-")
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert report["findings"][0]["id"] == "moby-49227"
    cited = {c["source"] for f in report["findings"] for c in f["evidence"]}
    assert f"{out}!{top}/docker-ps-a.txt" in cited
    assert f"{out}!{top}/dumps/pprof-goroutine-debug2.txt" in cited
    assert report["engine_version"] == "27.4.1"


def test_redact_at_collection(scripted, tmp_path):
    host = scripted({**STATE, r"/containers/\w+/json": INSPECT_WEB})
    done = collect(Options(output=str(tmp_path), host=host, timeout=1, redact=True))
    files, manifest, top = bundle(done.path)
    text = b"".join(files.values()).decode()
    for secret in ("hunter2", "nginx", "10.1.2.3", '"/web"', "TZ=UTC"):
        assert secret not in text
    assert done.path.name.startswith("forensics-host-") and manifest["host"].startswith("host-")
    assert {"token": "container-2", "kind": "container"} in manifest["redaction"]["tokens"]
    ps = (
        files["docker-ps-a.txt"].decode().splitlines()
    )  # laid out again: STATUS still under its header
    assert ps[1][ps[0].index("STATUS") :].startswith("Removal In Progress")
    assert "ip-1:8080->80/tcp" in ps[2]


def test_journal_when_systemd_runs(scripted, tmp_path, monkeypatch):
    """With systemd, the log is `journalctl -u docker.service` (and containerd's), from --since on."""
    fake = tmp_path / "bin" / "journalctl"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\ncase "$*" in *docker.service*) echo "2026-11-29T12:00:00+0000 h dockerd[42]: $*";;\n'
        '*) echo "-- No entries --";; esac\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(hostlogs, "SYSTEMD", str(tmp_path))
    done = collect(Options(output=str(tmp_path), host=scripted({}), since="2h", timeout=0.5))
    files, manifest, _ = bundle(done.path)
    args = files["logs/journal-docker.service.log"].decode()
    assert "-o short-iso -u docker.service --since 20" in args
    assert (
        item(manifest, "journalctl --no-pager -o short-iso -u containerd.service")["status"]
        == "empty"
    )
    assert "logs/journal-containerd.service.log" not in files


def cli(*args):
    """forensics in this process (fast): exit code and output; a traceback fails the test."""
    result = CliRunner().invoke(app, list(map(str, args)))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_nothing_collected_is_exit_2_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(hostlogs, "SYSTEMD", str(tmp_path / "no-systemd"))
    monkeypatch.setattr(hostlogs, "USUAL_LOGS", ())
    monkeypatch.setattr(hostlogs, "SYSLOGS", ())
    code, output = cli("collect", "-H", f"unix://{tmp_path}/docker.sock", "-o", tmp_path)
    assert code == 2
    assert output.count("\n") == 1 and output.startswith(
        "forensics: nothing collected: no socket at"
    )
    assert "name it with --log" in output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "yesterday"], "--since 'yesterday': give a duration"),
        (["-H", "ssh://me@host"], "cannot talk to 'ssh://me@host'"),
        (["--log", "/nonexistent.log"], "--log /nonexistent.log: no such file"),
        (["-o", "/nonexistent/b.tar.gz"], "--output /nonexistent/b.tar.gz: no such directory"),
        (["--dump-via", "carrier-pigeon"], "--dump-via must be one of"),
    ],
)
def test_bad_options_exit_2(args, message):
    code, output = cli("collect", *args)
    assert code == 2
    assert output.startswith(f"forensics: {message}") and output.count("\n") == 1


def test_since_and_renderings():
    from datetime import datetime, timezone

    now = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    assert scope.parse_since("90m", now) == datetime(2026, 11, 29, 10, 30, tzinfo=timezone.utc)
    since = scope.parse_since("2026-11-29T11:00:00Z", now)
    log = b'cont\ntime="2026-11-29T10:59:59.9Z" level=info msg=a\n  x\ntime="2026-11-29T11:00:00.1Z" level=info msg=b\n'
    assert hostlogs.cut_before(log, since) == b'time="2026-11-29T11:00:00.1Z" level=info msg=b\n'
    assert hostlogs.cut_before(b"no times\n", since) == b"no times\n"
    assert endpoint("/run/docker.sock").socket_path == "/run/docker.sock"
    assert (endpoint("tcp://10.0.0.5:2376").host, endpoint("tcp://10.0.0.5:2376").port) == (
        "10.0.0.5",
        2376,
    )
    assert [human_duration(s) for s in (0.5, 59, 61, 3000, 3700, 7200 * 12, 86400 * 3)] == [
        "Less than a second",
        "59 seconds",
        "About a minute",
        "50 minutes",
        "About an hour",
        "24 hours",
        "3 days",
    ]
    table = render_ps(CONTAINERS, now=CONTAINERS[0]["Created"] + 60).splitlines()
    assert table[1].startswith('d593da0690bf   debian-minbase:bookworm   "sleep 5"')
    assert table[2][table[0].index("COMMAND") :].startswith('"nginx -g \'daemon of…"   2 hours ago')


@pytest.fixture(scope="module")
def real_dockerd():
    def cannot(why):
        if (
            os.environ.get("FORENSICS_REQUIRE_DOCKERD") == "1"
        ):  # set by .ci/run: there, a skip is a failure
            pytest.fail(f"FORENSICS_REQUIRE_DOCKERD=1, but {why}")
        pytest.skip(why)

    why = realdockerd.unavailable()
    if why:
        cannot(why)
    try:
        daemon = realdockerd.start()
    except RuntimeError as exc:
        cannot(str(exc))
    try:
        realdockerd.populate(daemon)
        yield daemon
    except subprocess.CalledProcessError as exc:
        cannot(
            f"containers do not run here: {exc.cmd[3:]}: {exc.stderr.decode(errors='replace').strip()}"
        )
    finally:
        realdockerd.stop(daemon)


def test_real_dockerd(real_dockerd, tmp_path):
    """A real dockerd (started by the fixture) with a running and a stopped container:
    collect with both dumps, then analyze the bundle."""
    out = tmp_path / "bundle.tar.gz"
    t0 = time.monotonic()
    proc = run(
        "collect",
        "-H",
        real_dockerd.host,
        "--dump",
        "--dump-via",
        "both",
        "--timeout",
        "20",
        "-o",
        out,
    )
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    files, manifest, top = bundle(out)
    print(f"collect took {took:.1f}s; {len(files)} members; {proc.stdout.strip()}")
    assert not manifest["failed"], manifest["failed"]
    assert manifest["daemon"]["pid"] == real_dockerd.pid
    ps = files["docker-ps-a.txt"].decode()
    assert re.search(r"Up .*fx-running", ps) and re.search(r"Exited \(3\) .*fx-stopped", ps)
    assert "Version:          20.10" in files["docker-version.txt"].decode()
    stacks = [n for n in files if re.fullmatch(r"dumps/goroutine-stacks-.*\.log", n)]
    assert len(stacks) == 1 and b"goroutine " in files[stacks[0]]
    signal_item = next(i for i in manifest["items"] if i["what"] == "goroutine dump (SIGUSR1)")
    assert "file named in logs/" in signal_item["how"]  # found through the daemon's own log line
    log = files[f"logs{real_dockerd.log}"].decode()
    assert f"goroutine stacks written to {real_dockerd.exec_root}/{stacks[0][6:]}" in log
    assert len([n for n in files if n.startswith("api/inspect/")]) == 2
    ctrd = next(i for i in manifest["items"] if i["what"] == "containerd goroutine dump (SIGUSR1)")
    assert ctrd["status"] == "ok" and f"child of dockerd pid {real_dockerd.pid}" in ctrd["how"], (
        ctrd
    )
    ctrd_file = ctrd["member"]
    assert (
        re.fullmatch(r"dumps/containerd\.\d+\.stacks\.log", ctrd_file)
        and b"goroutine " in files[ctrd_file]
    )
    shims = next(i for i in manifest["items"] if i["what"] == "shim goroutine dumps (SIGUSR1)")
    assert shims["status"] == "ok" and "SIGUSR1 to containerd-shim pids " in shims["how"], (
        shims
    )  # fx-running's shim

    proc = run("analyze", out, "--json", "-")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, [
        (f["id"], f["confidence"], f["summary"]) for f in report["findings"]
    ]
    assert report["engine_version"].startswith("20.10")
    dumps = {d["source"].rsplit("/", 1)[-1]: d for d in report["dumps"]}
    assert (
        dumps[stacks[0][6:]]["time"] is not None
    )  # dated by the daemon's log line, read in the bundle
    assert dumps["pprof-goroutine-debug2.txt"]["goroutines"] > 10
    assert (
        dumps[stacks[0][6:]]["program"]
        == dumps["pprof-goroutine-debug2.txt"]["program"]
        == "dockerd"
    )
    assert dumps[ctrd_file[6:]]["program"] == "containerd"
    in_log = {d["program"] for d in report["dumps"] if d["source"].endswith(real_dockerd.log)}
    print(f"dumps in dockerd's output (with its containerd's): {sorted(in_log)}")
    assert "containerd" in in_log  # the managed containerd logs its dump to dockerd's output too
    assert {c["name"] for c in report["environment"]["containers"]} >= {"fx-running", "fx-stopped"}


def test_real_dockerd_frozen(real_dockerd, tmp_path):
    """The same daemon stopped with SIGSTOP: its socket still accepts, nothing answers. Every
    call times out, the SIGUSR1 dump never comes, the log is still collected, all bounded."""
    os.kill(real_dockerd.pid, signal.SIGSTOP)
    try:
        done, took = collect_within(
            8, Options(output=str(tmp_path), host=real_dockerd.host, dump=True, timeout=2)
        )
    finally:
        os.kill(real_dockerd.pid, signal.SIGCONT)
    files, manifest, _ = bundle(done.path)
    print(f"frozen daemon: collect took {took:.1f}s; failed: {manifest['failed']}")
    assert {i["how"] for i in manifest["items"] if i["status"] == "timed out"} == {
        "GET /version",
        "GET /info",
        "GET /containers/json?all=1",
        "GET /debug/pprof/goroutine?debug=2",
    }
    assert (
        "no goroutine-stacks file appeared"
        in item(manifest, f"SIGUSR1 to dockerd pid {real_dockerd.pid}")["error"]
    )
    assert f"logs{real_dockerd.log}" in files
