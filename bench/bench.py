"""Speed of ``forensics dump --json`` (parse + buckets + lock graph) beside panicparse, in one run.

Builds a dump of at least ``--mb`` megabytes from a real captured dump (``make_dump.py``: fresh
goroutine ids; ``--perturb`` also makes every heap pointer unique), then runs, each as its own
process, ``forensics dump --json -`` (also as ``python -m forensics.cli.dump``, without the
CLI's other imports) and ``panicparse -parse=false -rebase=false`` (Debian:
``apt-get install panicparse``), and also times the bulk parser alone in this process.  Prints
wall and CPU seconds, MB/s and the peak RSS of each.  Run by hand (never from the tests):

    python bench/bench.py [--mb 100] [--perturb] [--source DUMP] [--keep]
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from make_dump import build  # noqa: E402

SOURCE = HERE.parent / "tests/fixtures/dumps/repro-49227/02-delay-build-panic-text-log/goroutine-stacks-2026-11-29T122857Z.log"


def measure(argv: list[str]) -> tuple[float, float, int, int]:
    """(wall s, user+sys s, peak RSS KiB, exit status) of one child process, stdout discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace").strip()
    if err:
        print(f"  ({argv[0]} said: {err.splitlines()[-1][:160]})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode


def parse_only(path: Path) -> tuple[float, float, int]:
    """The bulk parser alone, in this process: (wall s, CPU s, goroutines)."""
    from forensics.parse.fastdump import parse_text

    text = path.read_text(encoding="utf-8", errors="replace")
    wall, cpu = time.perf_counter(), time.process_time()
    dumps = parse_text(text, path.name)
    return time.perf_counter() - wall, time.process_time() - cpu, sum(len(d.goroutines) for d in dumps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--perturb", action="store_true")
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--keep", action="store_true", help="keep the generated dump")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="forensics-bench-"))
    path = work / "big-dump.log"
    size = build(args.source, path, args.mb, args.perturb)
    mb = size / 1e6
    print(f"dump: {path} {mb:.1f} MB from {args.source.name}{' (perturbed)' if args.perturb else ''}")
    rows = []
    forensics = [sys.executable, "-m", "forensics", "dump", "--json", "-", str(path)]
    rows.append(("forensics dump --json", *measure(forensics)))
    # the same command without the rest of the CLI, whose rule engine imports pandas (~1.3 s CPU)
    rows.append(("python -m forensics.cli.dump --json", *measure(forensics[:2] + ["forensics.cli.dump"] + forensics[4:])))
    panicparse = shutil.which("panicparse")
    if panicparse:
        rows.append(("panicparse -parse=false -rebase=false", *measure(
            [panicparse, "-parse=false", "-rebase=false", "-no-color", str(path)])))
    else:
        print("  panicparse not installed (Debian: apt-get install panicparse); no comparison")
    # last: a child forked after this process read the dump would count its pages in its peak RSS
    wall, cpu, goroutines = parse_only(path)
    rows.insert(0, ("bulk parse only (in-process)", wall, cpu, None, 0))
    print(f"  {goroutines} goroutines")
    print(f"{'tool':40} {'wall s':>8} {'cpu s':>8} {'MB/s':>8} {'peak RSS MB':>12}  exit")
    for name, wall, cpu, rss, code in rows:
        rss_text = f"{rss / 1024:12.0f}" if rss else f"{'-':>12}"
        print(f"{name:40} {wall:8.2f} {cpu:8.2f} {mb / wall:8.1f} {rss_text}  {code}")
    if panicparse:
        for row in rows[1:3]:
            print(f"{row[0]}: {rows[3][1] / row[1]:.1f}x panicparse's speed (wall), {rows[3][2] / row[2]:.1f}x (cpu)")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
