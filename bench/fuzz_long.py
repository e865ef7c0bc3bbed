"""The long fuzz run: 10^5 mutated real fixtures through `analyze`, on every core.

    python bench/fuzz_long.py [--cases 100000] [--batch 8] [--jobs 2] [--first 0]

Case N is the corpus mutation of tests/fuzzing.py (`mutate`) drawn from `random.Random(N)`, so any
failure is reproduced by its number alone (`--first N --cases 1 --batch 1`). Cases are analysed
`--batch` at a time, as several inputs of one `analyze` call (the way a support bundle arrives),
and each case's input is checked for the property of tests/fuzzing.py (`check`): no exception, a
verdict, every problem one line naming its input, binary input reported as such; the JSON and
Markdown outputs render. Prints progress, then cases, analyze calls, failures and the time taken.
Failures are written to fuzz-failures.txt with their case numbers and tracebacks.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))


def run_batch(span: tuple[int, int]) -> list[tuple[int, str]]:
    """Analyse cases first..last-1 together; return (case, traceback) for each failure."""
    from fuzzing import Seeded, check, mutate

    first, last = span
    files = {}
    for case in range(first, last):
        name, data = mutate(Seeded(case))
        files[f"{case}-{name}"] = data
    try:
        check(files, render=True)
        return []
    except Exception:  # noqa: BLE001 - a failure is what the run is looking for
        if last - first == 1:
            return [(first, traceback.format_exc())]
        return [
            f for case in range(first, last) for f in run_batch((case, case + 1))
        ]  # which case?


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    ap.add_argument("--first", type=int, default=0)
    args = ap.parse_args()
    end = args.first + args.cases
    spans = [(a, min(a + args.batch, end)) for a in range(args.first, end, args.batch)]
    failures: list[tuple[int, str]] = []
    start, done = time.perf_counter(), 0
    with multiprocessing.Pool(args.jobs) as pool:
        for found in pool.imap_unordered(run_batch, spans, chunksize=4):
            done += 1
            failures += found
            for case, tb in found:
                print(f"case {case} FAILED: {tb.strip().splitlines()[-1][:300]}", flush=True)
            if done % 250 == 0 or done == len(spans):
                rate = done * args.batch / (time.perf_counter() - start)
                print(
                    f"{min(done * args.batch, args.cases)} cases, {len(failures)} failures, {rate:.0f} cases/s",
                    flush=True,
                )
    took = time.perf_counter() - start
    print(
        f"done: {args.cases} cases (case {args.first} to {end - 1}) in {len(spans)} analyze calls, "
        f"{len(failures)} failures, {took:.0f} s on {args.jobs} processes"
    )
    if failures:
        with open("fuzz-failures.txt", "w") as out:
            for case, tb in sorted(failures):
                out.write(f"--- case {case}\n{tb}\n")
        print("failures written to fuzz-failures.txt")
        sys.exit(1)


if __name__ == "__main__":
    main()
