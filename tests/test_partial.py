"""Issue 15: verdicts that claim no more than the evidence shows.

Partial dumps are real dumps cut the way tickets hold them (a few goroutines, lost indentation, cut
mid-line, a journal prefix on each line), never hand-written stacks; views of one moment are one
snapshot; a readable log without a dump is NO KNOWN PROBLEM FOUND with what was not checked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, HEALTHY, REPRO, ROOT, finding

from forensics.analyze import analyze

SIGUSR1_49227 = REPRO / "goroutine-stacks-2026-11-29T122857Z.log"
LIVE = FIXTURES / "captured" / "live-holder-20.10"
LIVE_LATE = (
    LIVE / "goroutine-stacks-2026-11-29T125915Z.log"
)  # holder 245 alive (docker diff), waiters 1 minute
JOURNAL_PREFIX = (
    "2026-11-29T12:59:15+0000 dockerhost1 dockerd[4242]: "  # the journal-short-iso capture's prefix
)
HOWS = ["plain", "dedent", "cut", "journal"]
EXCERPTS = {  # (dump, goroutines) as people paste them
    "49227 remover (ContainerRm/cleanupContainer)": (SIGUSR1_49227, [127]),
    "49227 remover and inspects": (SIGUSR1_49227, [164, 127, 152]),
    "live holder: an inspect waiter (ContainerInspect)": (LIVE_LATE, [240]),
    "live holder: ContainerStop/IsRunning waiter": (LIVE_LATE, [249]),
    "live holder: ContainerRm/SetRemovalInProgress waiter": (LIVE_LATE, [252]),
    "live holder: three waiters": (LIVE_LATE, [240, 249, 252]),
}


def cut(dump: Path, gids: list[int], how: str) -> str:
    """The goroutines ``gids`` of a real dump, pasted: as they are, without indentation, cut in the
    middle of the last line, or with a journal prefix on each line."""
    blocks = {
        int(m[1]): b.rstrip("\n")
        for b in re.split(r"\n\n+", dump.read_text(encoding="utf-8"))
        if (m := re.match(r"goroutine (\d+) \[", b))
    }
    lines = "\n\n".join(blocks[g] for g in gids).split("\n")
    if how == "dedent":
        lines = [line.strip() for line in lines]
    elif how == "cut":
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    elif how == "journal":
        lines = [JOURNAL_PREFIX + line for line in lines]
    return "\n".join(lines) + "\n"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


@pytest.fixture(
    scope="module",
    params=[(name, how) for name in EXCERPTS for how in HOWS],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def excerpt(request, tmp_path_factory) -> Path:
    name, how = request.param
    dump, gids = EXCERPTS[name]
    path = tmp_path_factory.mktemp("excerpt") / "pasted.txt"
    path.write_text(cut(dump, gids, how), encoding="utf-8")
    return path


def test_excerpt_is_a_partial_dump_whose_holder_is_not_gone(excerpt, rules):
    result = analyze([str(excerpt)], rules=rules)
    [dump] = [d for d in result.evidence.dumps if d.kind != "panic"]
    assert dump.complete is False and "no goroutine 1" in "; ".join(dump.completeness)
    locks = result.evidence["locks"]
    assert (
        len(locks) >= 1
        and set(locks["status"]) == {"holder-unseen"}
        and set(locks["confidence"]) == {"low"}
    )
    for evidence in locks["evidence"]:
        assert (
            "gone" not in evidence
            and "not among the given goroutines" in evidence
            and "kill -USR1" in evidence
        )
    for f in result.found:  # whatever the rules conclude from it: at most possible, never "gone"
        assert f.confidence == "possible", (f.id, f.confidence)
        assert "is gone" not in f.summary and "holder gone" not in " ".join(
            c.excerpt for c in f.evidence
        )
    moby = finding(result, "moby-49227")
    assert moby is not None and moby.confidence == "possible"
    assert any(
        "kill -USR1 $(pidof dockerd)" in m and "debug/pprof/goroutine?debug=2" in m
        for m in moby.missing
    )
    report = json.loads(run("analyze", str(excerpt), "--json", "-").stdout)
    [shown] = [d for d in report["dumps"] if d["kind"] != "panic"]
    assert shown["complete"] is False and "no goroutine 1" in shown["completeness"]


def test_forensics_dump_says_partial_and_holder_not_among_the_given_goroutines(excerpt):
    proc = run("dump", str(excerpt))
    assert proc.returncode == 0, proc.stderr  # exit 1 is for an orphaned lock or a deadlock
    [partial] = [line for line in proc.stdout.splitlines() if "PARTIAL dump: " in line]
    assert "no goroutine 1, which every Go program has" in partial
    assert re.search(r"[13] goroutines? where a running daemon has 20 or more", partial)
    assert "HOLDER NOT AMONG THE GIVEN GOROUTINES (low confidence)" in proc.stdout
    assert "ORPHANED" not in proc.stdout and "whoever locked it is gone" not in proc.stdout


@pytest.mark.parametrize(
    "path",
    [
        SIGUSR1_49227,
        REPRO / "dockerd-stderr-after-sigquit.txt",
        REPRO / "pprof-goroutine-debug1.txt",
        REPRO / "pprof-goroutine-debug2.txt",
        HEALTHY / "goroutine-stacks-sigusr1.log",
        HEALTHY / "sigquit-stderr.log",
        LIVE_LATE,
        FIXTURES / "dumps" / "real-dockerd" / "containerd-stacks-sigusr1-file.log",
        FIXTURES / "dumps" / "go-runtime" / "go1.22" / "goroutine-stacks-2.log",
        FIXTURES / "dumps" / "go-runtime" / "go1.22" / "asleep-stderr.txt",
    ],
    ids=lambda p: p.name,
)
def test_whole_real_dumps_are_complete(path):
    from forensics.goroutines.completeness import judge
    from forensics.parse.goroutines import parse_dumps

    dumps = [
        d for d in parse_dumps(path.read_text(encoding="utf-8"), path.name) if len(d.goroutines) > 1
    ]
    assert dumps and all(judge(d) for d in dumps), [d.completeness for d in dumps]
    assert "goroutine 1" in dumps[0].completeness


def test_whole_49227_dump_is_still_orphaned_and_the_reproduction_confirmed(rules):
    result = analyze([str(REPRO)], rules=rules)
    moby = finding(result, "moby-49227")
    assert moby.confidence == "confirmed" and not any("kill -USR1" in m for m in moby.missing)
    assert set(result.evidence["locks"]["status"]) == {"orphaned"}


# --- views of one moment ------------------------------------------------------------------------------


def test_five_views_of_one_moment_are_one_snapshot_and_each_fact_is_cited_once(rules):
    result = analyze([str(REPRO)], rules=rules)
    dumps = result.evidence["dumps"]
    views = dumps[dumps["kind"] != "panic"]
    assert len(views) == 5 and set(views["snapshot"]) == {0}
    for f in result.found:
        cited = [(c.signal, c.excerpt.split(";")[0]) for c in f.evidence]
        assert len(cited) == len(set(cited)), f.id  # one line per distinct fact
        for c in f.evidence:
            assert not re.search(r"goroutines? -\d", c.excerpt), (
                c.excerpt
            )  # pprof debug=1: counts, no made-up ids
    lock = next(c for c in finding(result, "container-mutex-pileup").evidence)
    assert lock.excerpt.count("seen in 5 dumps of one moment") == 1


def test_pprof_debug1_alone_is_cited_by_its_counts(rules):
    result = analyze([str(REPRO / "pprof-goroutine-debug1.txt")], rules=rules)
    excerpts = [c.excerpt for f in result.found for c in f.evidence]
    assert excerpts and not any(re.search(r"goroutines? -\d", e) for e in excerpts)
    assert any("2 goroutines waiting (a pprof debug=1 profile: no ids)" in e for e in excerpts)


def test_snapshots_seconds_apart_join_and_a_minute_apart_stay_separate(rules):
    """live-holder: SIGUSR1 at 12:58:23 with pprof debug=2/debug=1 at 12:58:25, SIGUSR1 at 12:59:15 with
    pprof debug=2 at 12:59:17 (README of the capture): two snapshots; the second proves the wait persists."""
    result = analyze([str(LIVE)], rules=rules)
    dumps = result.evidence["dumps"]
    snap = {Path(r.source).name: r.snapshot for r in dumps.itertuples()}
    assert (
        snap["goroutine-stacks-2026-11-29T125823Z.log"]
        == snap["pprof-goroutine-debug2.txt"]
        == snap["pprof-goroutine-debug1.txt"]
    )
    assert (
        snap["goroutine-stacks-2026-11-29T125915Z.log"] == snap["pprof-goroutine-debug2-late.txt"]
    )
    assert (
        snap["goroutine-stacks-2026-11-29T125823Z.log"]
        != snap["goroutine-stacks-2026-11-29T125915Z.log"]
    )
    locks = result.evidence["locks"]
    assert locks["fact"].nunique() == 2  # one live-holder lock per snapshot


# --- verdicts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in HEALTHY.glob("dockerd-*.log")))
def test_healthy_log_without_dump_is_no_known_problem_found(name, rules):
    result = analyze([str(HEALTHY / name)], rules=rules)
    if not result.evidence.coverage["dumps"]:
        assert result.verdict == "clean" and set(result.not_checked) == {"dumps"}
    proc = run("analyze", str(HEALTHY / name))
    assert (
        proc.returncode == 0
        and "NO KNOWN PROBLEM FOUND" in proc.stdout
        and "INCONCLUSIVE" not in proc.stdout
    )
    if not result.evidence.coverage["dumps"]:
        [line] = [x for x in proc.stdout.splitlines() if x.startswith("not checked:")]
        assert "without a goroutine dump" in line and "kill -USR1 $(pidof dockerd)" in line


def test_a_panic_without_the_dump_that_would_decide_is_inconclusive(tmp_path, rules):
    """The leak demo's recovered panic, before anyone dumped stacks (a prefix of the real capture):
    the panic itself is a finding (issue 16: no panic goes unreported), whether it leaked a lock is
    inconclusive, and the finding says a goroutine dump would tell."""
    text = (FIXTURES / "captured" / "failures-20.10" / "lockdemo-leak-sigquit.txt").read_text(
        encoding="utf-8"
    )
    log = tmp_path / "stderr.txt"
    log.write_text(text[: text.index("SIGQUIT: quit")], encoding="utf-8")
    result = analyze([str(log)], rules=rules)
    [panic] = result.found
    assert (
        panic.id == "unexplained-panic"
        and panic.severity == "medium"
        and "goroutine dump" in panic.explanation
    )
    assert next(o for o in result.outcomes if o.rule == "orphaned-lock").status == "inconclusive"
