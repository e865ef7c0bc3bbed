"""moby#49227 end to end on the real reproduction (dockerd 27.4.1) and its partial views."""

import pytest
from conftest import FIXTURES, REPRO, SAMPLES, finding, log_without_dump, write_lines

from forensics.analyze import analyze

DUMP = str(REPRO / "goroutine-stacks-2026-11-29T122857Z.log")
PS = str(REPRO / "docker-ps-a.txt")


def test_full_reproduction_is_confirmed(rules):
    result = analyze([str(REPRO)], rules=rules)
    f = finding(result, "moby-49227")
    assert f.confidence == "confirmed" and f.severity == "critical"
    assert result.verdict == "found" and result.found[0].id == "moby-49227"
    assert f.engine_version == "27.4.1"
    assert "test (d593da0690bf)" in [c.label for c in f.containers]
    cited = {(c.source.rsplit("/", 1)[-1], c.line) for c in f.evidence}
    assert ("dockerd.log", 171) in cited  # the http: panic serving line
    # five views of one moment (SIGQUIT output, the same dump in dockerd.log, SIGUSR1, pprof debug=2 and
    # debug=1): one line per fact (the panic, the leaked lock, the blocked remover, the ps row), naming every view
    assert sorted(c.signal for c in f.evidence) == ["orphaned", "panic", "stuck", "stuck"]
    lock = next(c for c in f.evidence if c.signal == "orphaned")
    assert "seen in 5 dumps of one moment" in lock.excerpt
    assert (
        "goroutine-stacks-2026-11-29T122857Z.log:479" in lock.excerpt
        and "pprof-goroutine-debug1.txt:45,191" in lock.excerpt
    )
    assert "goroutine -" not in lock.excerpt and "goroutines -" not in lock.excerpt
    for gid in ("127", "152", "164"):
        assert gid in lock.excerpt
    assert "0xc00026a180" in lock.excerpt and "holder gone" in lock.excerpt
    assert "27.5.0" in f.remedy and "28.0.0" in f.remedy and "restart dockerd" in f.remedy
    urls = " ".join(r["url"] for r in f.references)
    assert all(n in urls for n in ("49227", "49228", "49239"))
    assert not result.problems


def test_pileup_names_lock_waiters_and_missing_holder(rules):
    result = analyze([DUMP], rules=rules)
    f = finding(result, "container-mutex-pileup")
    assert f.confidence == "confirmed"
    locks = result.evidence["locks"]
    leaked = locks[locks.key == "0xc00026a180"].iloc[0]
    assert leaked.status == "orphaned" and leaked.waiters == 3
    assert sorted(int(g) for g in leaked.waiter_gids.split()) == [127, 152, 164]
    assert "cleanupContainer" in leaked.sites and "ContainerInspectCurrent" in leaked.sites


def test_log_alone_is_likely_and_says_what_is_missing(tmp_path, rules):
    result = analyze([write_lines(tmp_path / "dockerd.log", log_without_dump())], rules=rules)
    f = finding(result, "moby-49227")
    assert f.confidence == "likely"
    assert [c.label for c in f.containers] in (["test (d593da0690bf)"], ["test"])
    assert any("goroutine dump" in m for m in f.missing)


def test_dump_alone_is_likely(rules):
    f = finding(analyze([DUMP], rules=rules), "moby-49227")
    assert f.confidence == "likely"  # leaked lock, panic not seen, version unknown
    assert any("panic" in m for m in f.missing)


def test_docker_ps_alone_is_possible(rules):
    result = analyze([PS], rules=rules)
    assert finding(result, "moby-49227").confidence == "possible"
    assert finding(result, "removal-in-progress").confidence == "confirmed"


def test_log_and_ps_confirm_without_a_dump(tmp_path, rules):
    log = write_lines(tmp_path / "dockerd.log", log_without_dump())
    assert finding(analyze([log, PS], rules=rules), "moby-49227").confidence == "confirmed"


def test_fixed_versions_are_not_affected(tmp_path, rules):
    for fixed in ("27.5.0", "27.5.1", "28.0.0", "29.1.3"):
        lines = [line.replace("version=27.4.1", f"version={fixed}") for line in log_without_dump()]
        result = analyze([write_lines(tmp_path / "dockerd.log", lines), DUMP, PS], rules=rules)
        f = finding(result, "moby-49227")
        assert f.confidence == "not-affected", fixed
        assert fixed in f.summary
        outcome = next(o for o in result.outcomes if o.rule == "moby-49227")
        assert outcome.status == "not-applicable"


def test_engine_version_option_overrides(rules):
    assert (
        finding(analyze([DUMP, PS], engine_version="27.5.0", rules=rules), "moby-49227").confidence
        == "not-affected"
    )
    assert (
        finding(analyze([DUMP, PS], engine_version="27.4.1", rules=rules), "moby-49227").confidence
        == "likely"
    )
    assert (
        finding(
            analyze([DUMP, PS], engine_version="18.03.1-ce", rules=rules), "moby-49227"
        ).confidence
        == "likely"
    )
    assert (
        finding(
            analyze([DUMP, PS], engine_version="17.12.1-ce", rules=rules), "moby-49227"
        ).confidence
        == "not-affected"
    )


def test_containerd_image_store_is_not_affected(tmp_path, rules):
    lines = [
        line.replace("containerd-snapshotter=false", "containerd-snapshotter=true")
        for line in log_without_dump()
    ]
    f = finding(
        analyze([write_lines(tmp_path / "dockerd.log", lines), DUMP], rules=rules), "moby-49227"
    )
    assert f.confidence == "not-affected" and "containerd image store" in f.summary


def test_dump_taken_before_the_panic_does_not_confirm(tmp_path, rules):
    """The leaked lock must follow the panic: a dump dated earlier is not its consequence."""
    early = tmp_path / "goroutine-stacks-2026-11-29T120000Z.log"
    early.write_text((REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_text())
    log = write_lines(tmp_path / "dockerd.log", log_without_dump())
    f = finding(analyze([log, str(early)], rules=rules), "moby-49227")
    assert f.confidence == "likely"


JOURNAL = sorted((FIXTURES / "captured").glob("repro-49227-journal-*.log")) + [
    SAMPLES / "captured" / "repro-49227-journal-short.log"
]
SUPPORTED = JOURNAL


@pytest.mark.parametrize("path", SUPPORTED, ids=lambda p: p.name)
def test_journalctl_renderings_of_the_reproduction(path, rules):
    """The real reproduction log as real journalctl prints it (short*, with-unit, cat; UTC,
    Europe/Berlin, fr_FR and zh_CN month names): the same diagnosis, cited at its lines."""
    result = analyze([str(path)], rules=rules)
    f = finding(result, "moby-49227")
    assert f.confidence == "confirmed" and f.engine_version == "27.4.1"
    assert "test" in " ".join(c.label for c in f.containers)
    panic = result.evidence["panics"].iloc[0]
    assert panic.time.isoformat() == "2026-11-29T12:28:12+00:00"  # local times brought back to UTC
    assert (path.read_text().splitlines()[panic.line - 1]).endswith(
        "http: panic serving @: runtime error: invalid memory address or nil pointer dereference"
    )
    assert not result.problems


def test_live_holder_is_a_pileup_but_not_holder_gone(rules):
    live = FIXTURES / "captured" / "live-holder-20.10"
    result = analyze([str(live / "goroutine-stacks-2026-11-29T125823Z.log")], rules=rules)
    f = finding(result, "container-mutex-pileup")
    assert f.confidence == "confirmed" and f.severity == "medium" and "live holder" in f.summary
    lock = result.evidence["locks"].iloc[0]
    assert lock.key == "0xc00013c600" and lock.status == "held" and lock.waiters == 5
    assert "goroutine 245" in lock.holders and "ContainerChanges" in lock.holders
    assert "holder gone" not in " ".join(c.excerpt for c in f.evidence)
    assert finding(result, "moby-49227") is None
