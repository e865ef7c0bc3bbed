"""Build a large journal from real captured lines and time `forensics analyze` beside `rg`.

    python bench/ingest.py [--size-mb 1100] [--dir /tmp] [--keep] [--case routine|dense|errors|both|all]

The journal is `journalctl -o short` output of the real moby#49227 reproduction
(samples/captured/repro-49227-journal-short.log) stretched into a daemon that ran for weeks:
its start-up lines once, then its steady-state API traffic (the debug and info lines between
`API listen` and the panic: pings, create, start, inspect, task events) repeated with both
the journal and the logrus timestamps moved back one copy's duration per copy, until the file
reaches --size-mb; then the whole reproduction from `API listen` on (its traffic, the panic,
the SIGQUIT dump) as captured.

The warning-dense case (``--case dense``) is the same capture as a daemon that warns and restarts:
after every container exit of the steady-state traffic (its ``/tasks/exit`` event) containerd's
real lines for that exit (``cleaning up after shim disconnected``, ``cleanup warnings``, two of
them warnings; bench/containerd-shim-exit-27.4.1.log, from the same 27.4.1 reproduction) as
``containerd[4100]`` lines of the journal, and every 50 MiB the captured SIGQUIT dump followed by
the daemon's start-up lines under a new pid (a restart). The all-errors case (``--case errors``,
issue 21) is a gzip of a 20.10.24 daemon's real ``level=error`` lines, a new container id per copy
(see build_errors). Prints wall time, throughput and peak RSS of
`forensics analyze FILE --json /dev/null -q` (one process, and FORENSICS_JOBS=0: all cores), of
the same with `--every-line`, and of `rg`
counting the lines that hold any rule signature (the literal text the rules and evidence
tables need, see forensics.prefilter) in the same file, in one run.
"""

from __future__ import annotations

import argparse
import gzip
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
sys.path.insert(0, str(ROOT / "bench"))
from compiled import compile_package  # noqa: E402

SOURCE = ROOT / "samples" / "captured" / "repro-49227-journal-short.log"
SHIM_EXIT = ROOT / "bench" / "containerd-shim-exit-27.4.1.log"
ERRORS = ROOT / "samples" / "healthy-20.10" / "dockerd-20.10.24-text-debug.log"
DUMP_EVERY = 50 << 20
STAMPS = re.compile(
    r'(\w{3} \d\d \d\d:\d\d:\d\d)( \S+ \S+: time=")(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+Z".*\n)'
)


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


def _restamp(line: str, when: datetime, pid: int | None) -> str:
    """A journal line moved to ``when`` (journal and logrus stamps), under daemon pid ``pid``."""
    rest = line[15:]
    if pid is not None:
        rest = rest.replace("dockerd[4242]", f"dockerd[{pid}]", 1)
    head, sep, tail = rest.partition(' time="')
    if sep and tail[:2] == "20":
        rest = f"{head}{sep}{when.strftime('%Y-%m-%dT%H:%M:%S')}{tail[19:]}"
    return when.strftime("%b %d %H:%M:%S") + rest


def build_dense(path: Path, size: int) -> tuple[int, int]:
    """The warning-dense journal: (copies of the steady-state traffic, dumps written)."""
    lines = SOURCE.read_text().splitlines(keepends=True)
    listen = next(i for i, line in enumerate(lines) if "API listen on" in line) + 1
    panic = next(i for i, line in enumerate(lines) if "http: panic serving" in line)
    quit_at = next(i for i, line in enumerate(lines) if line.rstrip().endswith("SIGQUIT: quit"))
    exit_at = next(i for i in range(listen, panic) if "topic=/tasks/exit" in lines[i])
    shim = [
        f"Nov 29 12:28:10 dockerhost1 containerd[4100]: {text}"
        for text in SHIM_EXIT.read_text().splitlines(True)
    ]
    steady = [_split(line) for line in lines[listen : exit_at + 1]]
    steady += [_split(line) for line in shim]
    steady += [_split(line) for line in lines[exit_at + 1 : panic]]
    startup, dump = lines[:listen], lines[quit_at:]
    period = steady[-1][0] - steady[0][0] + timedelta(seconds=1)
    tail = "".join(lines[listen:])
    copy_size = sum(len(m) + len(r) + 35 for _, m, r in steady)
    copies = max(1, (size - len(tail)) // copy_size)
    end = steady[0][0]
    cache: dict = {}
    pid, dumps, written, next_dump = 4242, 0, 0, DUMP_EVERY
    with open(path, "w") as out:

        def put(text: str) -> None:
            nonlocal written
            out.write(text)
            written += len(text)

        def restart(when: datetime) -> None:
            nonlocal pid
            pid += 1
            put("".join(_restamp(line, when, pid) for line in startup))

        restart(end - period * (copies + 1))
        for k in range(copies, 0, -1):
            text = _shifted(steady, period * k, cache)
            put(text.replace("dockerd[4242]", f"dockerd[{pid}]") if pid != 4242 else text)
            if len(cache) > 100_000:
                cache.clear()
            if written >= next_dump:
                when = end - period * (k - 1)
                put("".join(_restamp(line, when, pid) for line in dump))
                restart(when + timedelta(seconds=1))
                dumps += 1
                next_dump += DUMP_EVERY
        put(tail.replace("dockerd[4242]", f"dockerd[{pid}]"))
    return copies, dumps


def build_errors(path: Path, size: int) -> int:
    """The all-errors log (issue 21), gzipped: the real ``level=error`` lines of a 20.10.24 daemon
    (``cleanup: failed to delete container``, ``stream copy error``, ``Handler for POST ... returned
    error``, ``Error running exec``) repeated until ``size`` bytes of text, the logrus time moved one
    second per copy and each container or exec id made new per copy (as on a host that removes
    thousands of containers): every line is an error and no two lines are the same. Copies made."""
    import gzip
    import hashlib

    lines = [line for line in ERRORS.read_text().splitlines(True) if " level=error " in line]
    ids = sorted({m for line in lines for m in re.findall(r"\b[0-9a-f]{64}\b", line)})
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    copy_size = sum(len(line) for line in lines)
    copies = max(1, size // copy_size)
    with gzip.open(path, "wt", compresslevel=1) as out:
        for k in range(copies):
            stamp = (start + timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%S")
            text = "".join(f'time="{stamp}{line[25:]}' for line in lines)
            for n, old in enumerate(ids):
                text = text.replace(old, hashlib.sha256(b"%d %d" % (k, n)).hexdigest())
            out.write(text)
    return copies


def signatures() -> list[str]:
    """The rule signatures as rg patterns: every needle the analysis keeps lines for."""
    from forensics.engine.prefilter import skim_for
    from forensics.engine.ruleset import load_rules

    skim = skim_for(load_rules())

    def escape(text: str) -> str:
        return re.sub(r"([\\.^$*+?()\[\]{}|])", r"\\\1", text)

    return [escape(n) for n in skim.needles] + [f"(?i){escape(n)}" for n in skim.caseless]


def run(argv: list[str]) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of that process and the processes it waited
    for (a survey pool), and its exit status. ``argv`` may start with ``NAME=value`` settings."""
    env = dict(os.environ)
    while argv and "=" in argv[0]:
        name, _, value = argv[0].partition("=")
        env[name], argv = value, argv[1:]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1100)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--keep", action="store_true", help="keep the generated journal")
    ap.add_argument("--case", choices=["routine", "dense", "errors", "both", "all"], default="both")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each command (default 2)")
    ap.add_argument("--skip-every-line", action="store_true", help="time the default analysis only")
    args = ap.parse_args()
    compile_package()
    cases = {"both": ("routine", "dense"), "all": ("routine", "dense", "errors")}
    for case in cases.get(args.case, (args.case,)):
        print(f"== {case} journal")
        bench(case, args)


def bench(case: str, args) -> None:
    suffix = ".log.gz" if case == "errors" else ".log"
    path = Path(args.dir) / f"bench-journal-{case}-{args.size_mb}mb{suffix}"
    if not path.exists() or (case != "errors" and path.stat().st_size < (args.size_mb << 20) * 0.9):
        if case == "errors":
            copies = build_errors(path, args.size_mb << 20)
            print(f"built {path}: {copies} copies of the real level=error lines, new ids per copy")
        elif case == "routine":
            copies = build(path, args.size_mb << 20)
            print(
                f"built {path}: start-up, {copies} copies of the steady-state traffic, the reproduction"
            )
        else:
            copies, dumps = build_dense(path, args.size_mb << 20)
            print(
                f"built {path}: {copies} copies of the traffic with containerd's shim-exit warnings, "
                f"{dumps} SIGQUIT dumps each followed by a restart, the reproduction"
            )
    print(f"load average: {os.getloadavg()[0]:.2f}")
    opener = gzip.open if case == "errors" else open
    with opener(path, "rb") as f:
        lines = size = 0
        for block in iter(lambda: f.read(1 << 20), b""):
            lines += block.count(b"\n")
            size += len(block)
    size_mb = size / (1 << 20)
    print(f"input: {size_mb:.0f} MiB, {lines} lines")
    rg = shutil.which("rg")
    tools = []
    if rg:
        tools.append(
            (
                "rg -c (rule signatures)",
                [rg, "-c", "-z", *[a for p in signatures() for a in ("-e", p)], str(path)],
            )
        )
    forensics = [
        sys.executable,
        "-m",
        "forensics",
        "analyze",
        str(path),
        "--json",
        os.devnull,
        "-q",
    ]
    tools += [
        ("forensics analyze", forensics),
        ("forensics, all cores", ["FORENSICS_JOBS=0", *forensics]),
        ("forensics --every-line", forensics + ["--every-line"]),
    ]
    if args.skip_every_line:
        tools.pop()
    results: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for _ in range(args.repeat):  # the machine is shared: each command more than once
        for name, argv in tools:
            wall, cpu, peak, code = run(argv)
            results.setdefault(name, []).append(wall)
            cpus.setdefault(name, []).append(cpu)
            print(
                f"{name:26} wall {wall:7.1f} s  cpu {cpu:6.1f} s  {size_mb / wall:7.1f} MiB/s  "
                f"{lines / wall / 1000:8.0f} k lines/s  "
                f"peak RSS {peak / 1024:6.0f} MiB  exit {code}  (load {os.getloadavg()[0]:.1f})"
            )
    if rg:
        base = results["rg -c (rule signatures)"]
        for name in [n for n in results if n.startswith("forensics")]:
            print(
                f"{name} / rg wall time, run by run: "
                + ", ".join(
                    f"{mine / theirs:.1f} x"
                    for mine, theirs in zip(results[name], base, strict=True)
                )
                + "; cpu time: "
                + ", ".join(
                    f"{mine / theirs:.1f} x"
                    for mine, theirs in zip(
                        cpus[name], cpus["rg -c (rule signatures)"], strict=True
                    )
                )
            )
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
