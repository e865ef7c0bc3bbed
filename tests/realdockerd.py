"""A real, private dockerd for the integration test: its own socket, data-root and exec-root
(under a short /tmp folder: unix socket paths are limited to 108 bytes), its own managed
containerd, flags that work in a sandbox (../shared/corpus/real-dockerd/README.md). Stopped
by its pid; whatever it leaves behind (containerd, mounts) is cleaned up by pid and path.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from forensics.collect import dockerapi
from forensics.collect.hostlogs import child_processes

BINARIES = ("dockerd", "containerd", "runc", "busybox")


@dataclass
class Daemon:
    base: str
    proc: subprocess.Popen
    cli: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def host(self) -> str:
        return f"unix://{self.base}/docker.sock"

    @property
    def log(self) -> str:
        return f"{self.base}/dockerd.log"

    @property
    def exec_root(self) -> str:
        return f"{self.base}/exec"

    def docker(
        self, *args: str, data: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.cli, "-H", self.host, *args],
            input=data,
            capture_output=True,
            timeout=120,
            check=check,
        )


def unavailable() -> str | None:
    """Why no dockerd can run here, or None."""
    if os.geteuid() != 0:
        return "not root: dockerd needs root"
    missing = [b for b in BINARIES if not shutil.which(b)]
    if missing:
        return f"not installed: {', '.join(missing)} (Debian: docker.io containerd runc busybox-static)"
    if not (shutil.which("docker") or os.path.exists("/usr/bin/docker")):
        return "no docker CLI"
    return None


def _busybox_image() -> bytes:
    """A tar holding only a static busybox and the applet links the test uses."""
    tmp = tempfile.mkdtemp(prefix="fx-img-")
    try:
        os.mkdir(f"{tmp}/bin")
        shutil.copy(shutil.which("busybox"), f"{tmp}/bin/busybox")
        for applet in ("sh", "sleep", "echo"):
            os.symlink("busybox", f"{tmp}/bin/{applet}")
        with tarfile.open(f"{tmp}/img.tar", "w") as tar:
            tar.add(f"{tmp}/bin", "bin")
        return Path(f"{tmp}/img.tar").read_bytes()
    finally:
        shutil.rmtree(tmp)


def start(timeout: float = 60) -> Daemon:
    """Start dockerd and wait for its API; raises RuntimeError with the log's end if it does not come up."""
    base = tempfile.mkdtemp(prefix="fxd-", dir="/tmp")
    log = open(f"{base}/dockerd.log", "wb")  # noqa: SIM115 - the daemon's stdout and stderr
    argv = [
        "dockerd",
        "--debug",
        "--storage-driver=vfs",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        "--data-root",
        f"{base}/data",
        "--exec-root",
        f"{base}/exec",
        "--pidfile",
        f"{base}/docker.pid",
        "-H",
        f"unix://{base}/docker.sock",
    ]
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.close()
    cli = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker")
    daemon = Daemon(base, proc, cli)
    deadline = time.monotonic() + timeout
    while not dockerapi.call(dockerapi.endpoint(daemon.host), "/_ping", 2).ok:
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = Path(daemon.log).read_text(errors="replace")[-800:]
            stop(daemon)
            raise RuntimeError(f"dockerd did not come up (exit status {proc.poll()}): …{tail}")
        time.sleep(0.3)
    return daemon


def populate(daemon: Daemon) -> None:
    """An image, a running container (fx-running) and a stopped one (fx-stopped, exit status 3)."""
    daemon.docker("import", "-", "fx-bb", data=_busybox_image())
    daemon.docker("run", "-d", "--name", "fx-running", "fx-bb", "/bin/sleep", "600")
    daemon.docker(
        "run", "--name", "fx-stopped", "fx-bb", "/bin/sh", "-c", "echo bye; exit 3", check=False
    )


def stop(daemon: Daemon) -> None:
    """Remove the running container, SIGTERM dockerd by pid (SIGKILL after 60 s), then stop its
    containerd if it outlived it, unmount what is left under the folder and delete it."""
    if daemon.proc.poll() is None:
        try:
            daemon.docker("rm", "-f", "fx-running", check=False)
        except subprocess.TimeoutExpired:
            pass
    children = child_processes(daemon.pid)
    if daemon.proc.poll() is None:
        os.kill(daemon.pid, signal.SIGTERM)
        try:
            daemon.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.proc.wait(10)
    for child in children:  # the managed containerd, by pid, if it is still ours and alive
        try:
            if daemon.base in Path(f"/proc/{child}/cmdline").read_text(errors="replace"):
                os.kill(child, signal.SIGTERM)
        except OSError:
            pass
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(daemon.base)), reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)
    shutil.rmtree(daemon.base, ignore_errors=True)
