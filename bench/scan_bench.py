"""Fleet-scan speed: one fleet, scanned with --jobs 1, with all cores, and on a 2-worker Dask
LocalCluster. Run by hand (it takes minutes), never in tests:

    python bench/scan_bench.py --hosts 1000 --mb-per-host 2.1 --workdir /tmp/forensics-bench

Every host is built from real captures in samples/ (a healthy dockerd 20.10 debug log repeated
to the size asked, its SIGUSR1 dump; every 10th host carries the 49227 reproduction instead),
so the work per byte is the real work. Prints wall time, MB/s and the speed-up of each mode.

Measured here (2 cores, 1000 hosts, 2.05 GB, quiet machine): --jobs 1 1137.6 s, --jobs 2
579.0 s (1.96x), Dask LocalCluster with 2 workers 618.2 s (1.84x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEALTHY_LOG = ROOT / "samples" / "healthy-20.10" / "dockerd-20.10.24-text-debug.log"
HEALTHY_DUMP = ROOT / "samples" / "healthy-20.10" / "goroutine-stacks-sigusr1.log"
REPRO = ROOT / "samples" / "49227-repro"


def build(fleet: Path, hosts: int, mb_per_host: float) -> int:
    fleet.mkdir(parents=True, exist_ok=True)
    log = HEALTHY_LOG.read_bytes()
    body = log * max(1, int(mb_per_host * 1e6 / len(log)))
    total = 0
    for i in range(hosts):
        host = fleet / f"node-{i:04d}"
        if host.exists():
            total += sum(f.stat().st_size for f in host.iterdir())
            continue
        host.mkdir()
        if i % 10 == 0:
            for name in (
                "dockerd.log",
                "goroutine-stacks-2026-11-29T122857Z.log",
                "docker-ps-a.txt",
            ):
                shutil.copy(REPRO / name, host / name)
            (host / "more.log").write_bytes(body)
        else:
            (host / "dockerd.log").write_bytes(body)
            shutil.copy(HEALTHY_DUMP, host / "goroutine-stacks.log")
        total += sum(f.stat().st_size for f in host.iterdir())
    return total


def timed(fleet: Path, out: Path, *extra: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "forensics",
            "scan",
            "--hosts-in",
            str(fleet),
            "--out",
            str(out),
            "-q",
            *extra,
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"scan {' '.join(extra)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--mb-per-host", type=float, default=2.1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/forensics-bench"))
    args = parser.parse_args()
    fleet = args.workdir / "fleet"
    size = build(fleet, args.hosts, args.mb_per_host)
    cores = os.cpu_count() or 1
    print(f"fleet: {args.hosts} hosts, {size / 1e9:.2f} GB, {cores} cores")
    runs = [
        ("--jobs 1", ["--jobs", "1"]),
        (f"--jobs {cores}", ["--jobs", str(cores)]),
        ("Dask LocalCluster, 2 workers", ["--scheduler", "local", "--jobs", "2"]),
    ]
    base = None
    print(f"{'mode':32} {'wall s':>8} {'MB/s':>7} {'hosts/s':>8} {'speed-up':>9}")
    for label, extra in runs:
        wall = timed(fleet, args.workdir / "out", *extra)
        base = base or wall
        print(
            f"{label:32} {wall:8.1f} {size / 1e6 / wall:7.1f} {args.hosts / wall:8.1f} {base / wall:8.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
