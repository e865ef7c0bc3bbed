"""Speed and memory of ``forensics dump --json`` beside gostackparse and panicparse, in one run.

For each size in ``--sizes`` (MB, default 50 100 200) it builds two dumps from a real captured
dump with ``make_dump.py``: the replicated one (copies share their text) and the perturbed one
(``--perturb``: no two copies share argument text, lock addresses or creators, as the handler
goroutines of a real daemon), then runs on each, every run its own process:

- ``forensics dump --json -`` (stdout discarded), and on the perturbed dumps ``forensics analyze
  --json -`` too (the same dump end to end: evidence tables, rules, report);
- gostackparse, parse only: a ``main`` built here (Go >= 1.18: ``/usr/lib/go-1.19/bin/go`` from
  Debian's ``golang-1.19-go``) around ``gostackparse.go`` of a checkout given with
  ``--gostackparse DIR`` (e.g. ``git clone https://github.com/DataDog/gostackparse``); it reads
  the file, parses it and prints the goroutine count.  Nothing of it is kept in this repository;
- ``panicparse -parse=false -rebase=false`` (Debian: ``apt-get install panicparse``); on perturbed
  dumps above ``--panicparse-max-mb`` (20) it is skipped: panicparse 2.3.0 took 96 s CPU on 50 MB.

A tool that is missing is skipped with a note.  Every command runs ``--repeat`` times (2) and
the fastest run is kept (the machine is shared: the load is printed before and after).  Prints wall
and CPU seconds and peak RSS per tool and dump, then the replicated and perturbed dumps side by
side with each ``forensics dump`` time as a multiple of gostackparse's on the same file, the growth
from size to size, and checks the targets of issue 19 for both commands (perturbed
100 MB at most 3x gostackparse's wall time, CPU time beside it; 200 MB at most 2.3x the 100 MB time; peak RSS
under 300 MB at 200 MB).  ``--own-mutex 10000,30000,100000`` also times ``forensics dump`` and
``forensics analyze`` on dumps of that many goroutines each waiting on its own mutex.
Run by hand (never from the tests):

    python bench/bench.py --gostackparse ~/src/gostackparse [--sizes 50 100 200] [--own-mutex 10000,30000]
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
sys.path.insert(0, str(HERE))
from compiled import compile_package  # noqa: E402
from make_dump import build, own_mutex_text  # noqa: E402

SOURCE = (
    HERE.parent
    / "tests/fixtures/dumps/repro-49227/02-delay-build-panic-text-log/goroutine-stacks-2026-11-29T122857Z.log"
)
GO = ("/usr/lib/go-1.19/bin/go", "go")
KINDS = ("replicated", "perturbed")
MAIN_GO = """package main

import (
	"fmt"
	"os"

	"bench/gostackparse"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	goroutines, errs := gostackparse.Parse(f)
	fmt.Println(len(goroutines), "goroutines", len(errs), "errors")
}
"""


REPEAT = 2


def measure(argv: list[str]) -> tuple[float, float, int, int]:
    """(wall s, user+sys s, peak RSS KiB, exit status) of the fastest of :data:`REPEAT` runs."""
    return min((_once(argv) for _ in range(REPEAT)), key=lambda r: r[0])


def _once(argv: list[str]) -> tuple[float, float, int, int]:
    """(wall s, user+sys s, peak RSS KiB, exit status) of one child process, stdout discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace").strip()
    if err and proc.returncode not in (0, 1):
        print(f"  ({Path(argv[0]).name} said: {err.splitlines()[-1][:160]})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode


def build_gostackparse(checkout: Path | None, work: Path) -> str | None:
    """Path of a parse-only gostackparse binary built in ``work``, or None (with a note)."""
    go = next((g for g in GO if shutil.which(g)), None)
    if checkout is None or go is None or not (checkout / "gostackparse.go").is_file():
        print(
            "  gostackparse skipped: give --gostackparse DIR (a checkout of github.com/DataDog/gostackparse)"
            " and install Go >= 1.18 (Debian: apt-get install golang-1.19-go)"
        )
        return None
    src = work / "gsp"
    (src / "gostackparse").mkdir(parents=True)
    shutil.copy(checkout / "gostackparse.go", src / "gostackparse")
    (src / "go.mod").write_text("module bench\n\ngo 1.18\n")
    (src / "main.go").write_text(MAIN_GO)
    env = {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOCACHE": str(work / "gocache"),
        "GOPATH": str(work / "gopath"),
    }
    done = subprocess.run(
        [go, "build", "-o", str(work / "gostackparse-parse"), "."],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        print(f"  gostackparse skipped: go build failed: {done.stderr.strip()[:300]}")
        return None
    return str(work / "gostackparse-parse")


def row(name: str, figures: tuple[float, float, int, int]) -> tuple[str, float, float, int, int]:
    wall, cpu, rss, code = figures
    print(f"  {name:44} {wall:8.2f} {cpu:8.2f} {rss / 1024:10.0f}  {code}", flush=True)
    return name, wall, cpu, rss, code


def main() -> None:
    global REPEAT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--sizes", type=float, nargs="+", default=[50, 100, 200], help="dump sizes in MB"
    )
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument(
        "--gostackparse", type=Path, help="a checkout of github.com/DataDog/gostackparse"
    )
    ap.add_argument(
        "--own-mutex", default="", help="comma-separated goroutine counts, e.g. 10000,30000,100000"
    )
    ap.add_argument(
        "--panicparse-max-mb",
        type=float,
        default=20,
        help="skip panicparse on perturbed dumps above this size (it took 96 s CPU on 50 MB)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the generated dumps")
    ap.add_argument("--repeat", type=int, default=REPEAT, help="runs per command, fastest kept")
    ap.add_argument(
        "--work", type=Path, help="directory for the dumps (default: a new temporary one)"
    )
    args = ap.parse_args()
    compile_package()
    REPEAT = max(1, args.repeat)
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    build_of = [sys.executable, "-c", "import forensics; print(forensics.build())"]
    print(
        f"forensics build: {subprocess.run(build_of, capture_output=True, text=True).stdout.strip()}"
    )
    work = Path(tempfile.mkdtemp(prefix="forensics-bench-", dir=args.work))
    gsp = build_gostackparse(args.gostackparse, work)
    panicparse = shutil.which("panicparse")
    if not panicparse:
        print("  panicparse skipped: not installed (Debian: apt-get install panicparse)")
    forensics = [sys.executable, "-m", "forensics"]
    results: dict[tuple[str, float, str], tuple] = {}
    print(f"{'  tool':46} {'wall s':>8} {'cpu s':>8} {'peak MB':>10}  exit")
    for mb in args.sizes:
        for kind in KINDS:
            path = work / f"dump-{kind}-{mb:g}.log"
            size = build(args.source, path, mb, kind == "perturbed")
            print(f"{kind} {size / 1e6:.1f} MB ({path.name})", flush=True)
            results[kind, mb, "forensics"] = row(
                "forensics dump --json -", measure(forensics + ["dump", "--json", "-", str(path)])
            )
            if kind == "perturbed":  # end to end: the rules, evidence tables and report too
                results[kind, mb, "analyze"] = row(
                    "forensics analyze --json -",
                    measure(forensics + ["analyze", "-q", "--json", "-", str(path)]),
                )
            if gsp:
                results[kind, mb, "gostackparse"] = row(
                    "gostackparse (parse only)", measure([gsp, str(path)])
                )
            if panicparse and kind == "perturbed" and mb > args.panicparse_max_mb:
                print(
                    f"  panicparse skipped above {args.panicparse_max_mb:g} MB perturbed (--panicparse-max-mb)"
                )
            elif panicparse:
                results[kind, mb, "panicparse"] = row(
                    "panicparse -parse=false -rebase=false",
                    measure([panicparse, "-parse=false", "-rebase=false", "-no-color", str(path)]),
                )
            if not args.keep:
                path.unlink()
    print(
        "\nside by side: wall s / cpu s (peak MB), forensics as a multiple of gostackparse's wall:"
    )
    tools = [
        t
        for t in ("forensics", "analyze", "gostackparse", "panicparse")
        if any(k[2] == t for k in results)
    ]
    print(f"  {'dump':16}" + "".join(f"{t:>28}" for t in tools) + f"{'forensics/gsp':>15}")
    for kind in KINDS:
        for mb in args.sizes:
            cells = [results.get((kind, mb, t)) for t in tools]
            fx, gsp = results.get((kind, mb, "forensics")), results.get((kind, mb, "gostackparse"))
            print(
                f"  {kind + f' {mb:g}':16}"
                + "".join(
                    f"{c[1]:8.2f} /{c[2]:6.2f} ({c[3] / 1024:4.0f} MB)" if c else f"{'-':>28}"
                    for c in cells
                )
                + (f"{fx[1] / gsp[1]:14.1f}x" if fx and gsp else "")
            )
    print("\ntargets (issue 19), wall and CPU:")
    for tool, command in (("forensics", "dump"), ("analyze", "analyze")):
        fx = {(k, mb): v for (k, mb, t), v in results.items() if t == tool}
        gsp = results.get(("perturbed", 100, "gostackparse"))
        if ("perturbed", 100) in fx and gsp:
            wall, cpu = (fx["perturbed", 100][i] / gsp[i] for i in (1, 2))
            print(
                f"  {command} perturbed 100 MB: {wall:.2f}x gostackparse's wall time, {cpu:.2f}x its CPU"
                " (target <= 3x, aim 1x)"
            )
        for kind in KINDS:
            if (kind, 100) in fx and (kind, 200) in fx:
                print(
                    f"  {command} {kind} 200 MB / 100 MB: {fx[kind, 200][1] / fx[kind, 100][1]:.2f}x wall"
                    " (target <= 2.3x)"
                )
            if (kind, 200) in fx:
                print(
                    f"  {command} {kind} 200 MB peak RSS: {fx[kind, 200][3] / 1024:.0f} MB (target < 300 MB)"
                )
    for count in filter(None, args.own_mutex.split(",")):
        path = work / f"own-mutex-{count}.log"
        path.write_text(
            own_mutex_text(args.source.read_text(encoding="utf-8"), int(count)), encoding="utf-8"
        )
        print(
            f"\n{count} goroutines each waiting on its own mutex ({path.stat().st_size / 1e6:.1f} MB)"
        )
        row("forensics dump --json -", measure(forensics + ["dump", "--json", "-", str(path)]))
        row(
            "forensics analyze --json -",
            measure(forensics + ["analyze", "-q", "--json", "-", str(path)]),
        )
        if not args.keep:
            path.unlink()
    if not args.keep:
        shutil.rmtree(work)
    print(f"\nload after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
