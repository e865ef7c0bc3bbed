"""The command line keeps glibc's freed heap for reuse: a large log read block by block does not
fault its pages in afresh for every block (forensics.allocator)."""

from __future__ import annotations

import gzip
import os
import platform
import subprocess
import sys

import pytest
from conftest import ROOT

# what reading a log does to the heap: a megabyte block and a megabyte copy of it (skim blanks its
# digits), both freed before the next block; prints the minor page faults of the reading
READ = """
import resource, sys
from forensics import allocator
print(allocator.glibc_heap())
table = bytes.maketrans(b"123456789", b"000000000")
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
with open(sys.argv[1], "rb") as f:
    while block := f.read(1 << 20):
        copy = block.translate(table)
        del block, copy
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
SIZE_MB = 32


def _read(log, **chosen) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    proc = subprocess.run(
        [sys.executable, "-c", READ, str(log)],
        env={**env, **chosen},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    tuned, faults = proc.stdout.split()
    return tuned, int(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_reading_a_large_log_reuses_the_heap_unless_the_user_chose(tmp_path):
    # the unmodified 27.4.1 daemon's real log, repeated to SIZE_MB
    text = gzip.decompress((ROOT / "samples/49227-control/dockerd.log.gz").read_bytes())
    log = tmp_path / "dockerd.log"
    log.write_bytes(text * ((SIZE_MB << 20) // len(text) + 1))
    tuned, kept = _read(log)
    # glibc's defaults chosen by the user: kept, so the heap is trimmed block after block
    not_tuned, trimmed = _read(log, MALLOC_TRIM_THRESHOLD_="131072")
    assert (tuned, not_tuned) == ("True", "False")
    # measured: 100 MB of a journal, 45,816 faults with glibc's defaults, 500 kept
    assert kept * 10 < trimmed, (kept, trimmed)
    assert trimmed > SIZE_MB * 200  # a MiB block and its copy: 512 pages faulted in afresh
