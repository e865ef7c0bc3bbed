"""Finding dockerd's containerd among its children, on this machine's real /proc."""

import os
import subprocess
import sys
import threading

import pytest

from forensics.collect.hostlogs import child_processes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_a_child_started_from_another_live_thread_is_a_child():
    """dockerd (Go) forks containerd from whichever OS thread runs the call, and that thread lives
    on; /proc lists the child under that thread only (test_real_dockerd failed on it when the fork
    left the main thread: "no containerd process found for dockerd")."""
    started, done = [], threading.Event()

    def fork():
        started.append(subprocess.Popen(["sleep", "30"]))
        done.wait(30)

    thread = threading.Thread(target=fork)
    thread.start()
    try:
        while not started:
            thread.join(0.01)
        assert started[0].pid in child_processes(os.getpid())
    finally:
        done.set()
        thread.join()
        started[0].kill()
        started[0].wait()
