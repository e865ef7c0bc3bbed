"""Build a large journal from real captured lines and time `forensics analyze` beside `rg`.

    python bench/ingest.py [--size-mb 1100] [--dir /tmp] [--keep]

The journal is `journalctl -o short` output of the real moby#49227 reproduction
(samples/captured/repro-49227-journal-short.log): its logrus lines (everything before the
panic) repeated, with the day advanced one second per copy so the timeline grows, until the
file reaches --size-mb; then the whole reproduction (panic, SIGQUIT dump) once at the end.
Prints wall time, throughput and peak RSS of `forensics analyze FILE --json /dev/null -q`
and of `rg` counting the rule signatures in the same file, in one run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "samples" / "captured" / "repro-49227-journal-short.log"
SIGNATURES = r"http: panic serving|getInspectData|goroutine \d+ \[|sync\.Mutex\.Lock|Removal In Progress|Docker daemon"


def build(path: Path, size: int) -> int:
    lines = SOURCE.read_text().splitlines(keepends=True)
    panic = next(i for i, line in enumerate(lines) if "http: panic serving" in line)
    filler = "".join(lines[:panic])
    written = copies = 0
    with open(path, "w") as out:
        while written < size:
            out.write(filler)
            written += len(filler)
            copies += 1
        out.write("".join(lines))
    return copies


def run(argv: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KiB) of that process alone, and exit status of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    return wall, usage.ru_maxrss, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1100)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--keep", action="store_true", help="keep the generated journal")
    args = ap.parse_args()
    path = Path(args.dir) / f"bench-journal-{args.size_mb}mb.log"
    if not path.exists() or path.stat().st_size < args.size_mb << 20:
        copies = build(path, args.size_mb << 20)
        print(f"built {path}: {copies} copies of the reproduction's log lines + the reproduction")
    size_mb = path.stat().st_size / (1 << 20)
    lines = sum(1 for _ in open(path, "rb"))
    print(f"input: {size_mb:.0f} MiB, {lines} lines")
    rg = shutil.which("rg")
    tools = [("rg -c (rule signatures)", [rg, "-c", SIGNATURES, str(path)])] if rg else []
    forensics = [sys.executable, "-m", "forensics.cli", "analyze", str(path), "--json", os.devnull, "-q"]
    tools.append(("forensics analyze", forensics))
    results = {}
    for name, argv in tools:
        wall, peak, code = run(argv)
        results[name] = wall
        print(f"{name:26} wall {wall:7.1f} s  {size_mb / wall:7.1f} MiB/s  {lines / wall / 1000:8.0f} k lines/s  "
              f"peak RSS {peak / 1024:6.0f} MiB  exit {code}")
    if rg:
        print(f"forensics / rg wall time: {results['forensics analyze'] / results['rg -c (rule signatures)']:.1f} x")
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
