"""Build a large journal from real captured lines and time `forensics analyze` beside `rg`.

    python bench/ingest.py [--size-mb 1100] [--dir /tmp] [--keep]

The journal is `journalctl -o short` output of the real moby#49227 reproduction
(samples/captured/repro-49227-journal-short.log) stretched into a daemon that ran for weeks:
its start-up lines once, then its steady-state API traffic (the debug and info lines between
`API listen` and the panic: pings, create, start, inspect, task events) repeated with both
the journal and the logrus timestamps moved back one copy's duration per copy, until the file
reaches --size-mb; then the whole reproduction from `API listen` on (its traffic, the panic,
the SIGQUIT dump) as captured. Prints wall time, throughput and peak RSS of
`forensics analyze FILE --json /dev/null -q`, of the same with `--every-line`, and of `rg`
counting the lines that hold any rule signature (the literal text the rules and evidence
tables need, see forensics.prefilter) in the same file, in one run.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SOURCE = ROOT / "samples" / "captured" / "repro-49227-journal-short.log"
STAMPS = re.compile(r'(\w{3} \d\d \d\d:\d\d:\d\d)( \S+ \S+: time=")(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+Z".*\n)')


def _split(line: str) -> tuple[datetime, str, str]:
    """A line as (logrus UTC time to the second, text between the stamps, text after)."""
    m = STAMPS.fullmatch(line)
    return datetime.fromisoformat(m[3]).replace(tzinfo=timezone.utc), m[2], m[4]


def _shifted(parts: list[tuple[datetime, str, str]], back: timedelta, cache: dict) -> str:
    out = []
    for when, middle, rest in parts:
        t = when - back
        stamps = cache.get(t)
        if stamps is None:
            stamps = cache[t] = (t.strftime("%b %d %H:%M:%S"), t.strftime("%Y-%m-%dT%H:%M:%S"))
        out.append(f"{stamps[0]}{middle}{stamps[1]}{rest}")
    return "".join(out)


def build(path: Path, size: int) -> int:
    lines = SOURCE.read_text().splitlines(keepends=True)
    listen = next(i for i, line in enumerate(lines) if "API listen on" in line) + 1
    panic = next(i for i, line in enumerate(lines) if "http: panic serving" in line)
    startup = [_split(line) for line in lines[:listen]]
    steady = [_split(line) for line in lines[listen:panic]]
    period = steady[-1][0] - steady[0][0] + timedelta(seconds=1)
    tail = "".join(lines[listen:])
    copies = max(1, (size - len(tail)) // sum(len(m) + len(r) + 35 for _, m, r in steady))
    cache: dict = {}
    with open(path, "w") as out:
        out.write(_shifted(startup, period * (copies + 1), cache))
        for k in range(copies, 0, -1):
            out.write(_shifted(steady, period * k, cache))
            if len(cache) > 100_000:
                cache.clear()
        out.write(tail)
    return copies


def signatures() -> list[str]:
    """The rule signatures as rg patterns: every needle the analysis keeps lines for."""
    from forensics.engine.prefilter import skim_for
    from forensics.engine.ruleset import load_rules

    skim = skim_for(load_rules())
    def escape(text: str) -> str:
        return re.sub(r"([\\.^$*+?()\[\]{}|])", r"\\\1", text)
    return [escape(n) for n in skim.needles] + [f"(?i){escape(n)}" for n in skim.caseless]


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
        print(f"built {path}: start-up, {copies} copies of the steady-state traffic, the reproduction")
    size_mb = path.stat().st_size / (1 << 20)
    lines = sum(1 for _ in open(path, "rb"))
    print(f"input: {size_mb:.0f} MiB, {lines} lines")
    rg = shutil.which("rg")
    tools = []
    if rg:
        tools.append(("rg -c (rule signatures)", [rg, "-c", *[a for p in signatures() for a in ("-e", p)], str(path)]))
    forensics = [sys.executable, "-m", "forensics", "analyze", str(path), "--json", os.devnull, "-q"]
    tools += [("forensics analyze", forensics), ("forensics --every-line", forensics + ["--every-line"])]
    results = {}
    for name, argv in tools:
        wall, peak, code = run(argv)
        results[name] = wall
        print(f"{name:26} wall {wall:7.1f} s  {size_mb / wall:7.1f} MiB/s  {lines / wall / 1000:8.0f} k lines/s  "
              f"peak RSS {peak / 1024:6.0f} MiB  exit {code}")
    if rg:
        base = results["rg -c (rule signatures)"]
        for name in ("forensics analyze", "forensics --every-line"):
            print(f"{name} / rg wall time: {results[name] / base:.1f} x")
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
