"""Line shapes and the places dumps hide in: logrus JSON, json-file, Docker Desktop, dumps escaped
in one logrus message, re-indented or double-spaced pastes, several dumps in one file, New Year,
and memory that stays bounded on a long log."""

import json
from datetime import datetime, timezone

import pytest
from conftest import FIXTURES, REPRO, finding, write_lines

from forensics.analyze import analyze
from forensics.ingest import envelopes
from forensics.parse import CONTEXT, KEEP_ALL, KEEP_SAME

REAL = FIXTURES / "ingest" / "real-dockerd"
DUMP = REPRO / "goroutine-stacks-2026-11-29T122857Z.log"
UTC = timezone.utc


def dumps_of(result):
    return [(d.kind, d.line, len(d.goroutines)) for d in result.evidence.dumps]


def test_containerd_dumps_escaped_in_one_logrus_message():
    result = analyze([str(REAL / "containerd.log")])
    assert dumps_of(result) == [("stacks", 247, 37), ("stacks", 249, 19)]
    first = result.evidence.dumps[0]
    assert (
        first.time == datetime(2026, 11, 29, 12, 11, 54, 388160, tzinfo=UTC) and not first.warnings
    )
    assert (
        first.goroutines[0].functions[0]
        == "github.com/containerd/containerd/cmd/containerd/command.dumpStacks"
    )


def test_logrus_json_with_a_json_dump_and_text_shim_lines():
    result = analyze([str(REAL / "containerd-json.log")])
    assert dumps_of(result) == [
        ("stacks", 83, 37),
        ("stacks", 103, 19),
    ]  # JSON msg dump, then the shim's text one
    events = result.evidence["events"]
    first = events.iloc[0]
    fields = first.fields if isinstance(first.fields, dict) else json.loads(first.fields)
    assert (first.level, first.msg, fields["revision"]) == (
        "info",
        "starting containerd",
        "1.6.20~ds1-1+deb12u3",
    )
    assert first.time == datetime(2026, 11, 29, 12, 13, 43, 116536, tzinfo=UTC)
    assert set(events.level) <= {"debug", "info", "warning", "error"} and events.level.notna().all()
    assert result.inputs[0].format == "plain, logrus JSON"


def test_dump_escaped_twice_is_still_read(tmp_path):
    inner = (REAL / "containerd.log").read_text().splitlines()[246]
    outer = 'time="2026-11-29T12:11:55.000000000Z" level=info msg=' + json.dumps(
        inner
    )  # logged again by a wrapper
    result = analyze([write_lines(tmp_path / "wrapped.log", [outer])])
    assert dumps_of(result) == [("stacks", 1, 37)]


@pytest.mark.parametrize("indent", ["  ", "    ", "        ", ""])
@pytest.mark.parametrize("double_spaced", [False, True])
def test_pasted_dump_reindented_or_double_spaced(tmp_path, indent, double_spaced):
    lines = [line.replace("\t", indent, 1) for line in DUMP.read_text().splitlines()]
    if double_spaced:  # a blank line after every line, as some pastes and mail clients do
        lines = [x for line in lines for x in (line, "")]
    result = analyze([write_lines(tmp_path / "paste.txt", lines)])
    [dump] = result.evidence.dumps
    assert len(dump.goroutines) == 42 and not dump.warnings and not result.problems
    lock = result.evidence["locks"]
    assert lock[lock.key == "0xc00026a180"].status.tolist() == ["orphaned"]


def test_several_dumps_in_one_file(tmp_path):
    parts = [DUMP, REPRO / "pprof-goroutine-debug1.txt", REPRO / "pprof-goroutine-debug2.txt"]
    lines = [line for p in parts for line in p.read_text().splitlines() + [""]]
    result = analyze([write_lines(tmp_path / "all.txt", lines)])
    assert [(k, n) for k, _, n in dumps_of(result)] == [
        ("stacks", 42),
        ("pprof-debug1", 31),
        ("stacks", 44),
    ]


def test_docker_desktop_macos_supervisor_lines(tmp_path):
    """docker/for-mac#5058 (domain.md 3.5): the panic nested in a supervisor prefix."""
    prefix = "localhost com.docker.supervisor[36227]: com.docker.driver.amd64-linux -addr fd:3 -debug (pid: 36237): stderr: "
    lines = [
        f"2020-11-10 10:53:38.892799-0500  {prefix}2020/11/10 10:53:38 http: panic serving : runtime error: "
        "invalid memory address or nil pointer dereference",
        f"2020-11-10 10:53:38.892893-0500  {prefix}goroutine 413 [running]:",
        f"2020-11-10 10:53:38.892955-0500  {prefix}net/http.(*conn).serve.func1(0xc000326000)",
        f"2020-11-10 10:53:38.893005-0500  {prefix}\t/Users/administrator/.pinata/downloads/go/1.15.2/go/src/"
        "net/http/server.go:1801 +0x147",
    ]
    recs = list(envelopes.records("d.log", lines))
    assert {(r.host, r.proc, r.pid) for r in recs} == {
        ("localhost", "com.docker.supervisor", 36237)
    }
    assert recs[0].time == datetime(2020, 11, 10, 15, 53, 38, 892799, tzinfo=UTC)
    assert recs[1].text == "goroutine 413 [running]:"
    result = analyze([write_lines(tmp_path / "desktop.log", lines)])
    assert (
        dumps_of(result) == [("panic", 1, 1)] and result.evidence.dumps[0].goroutines[0].id == 413
    )


def test_docker_desktop_windows_lines():
    recs = list(
        envelopes.records(
            "w.log",
            [
                '[15:25:42.123][ApiProxy       ][Info   ] time="2025-01-07T15:25:42.123456789Z" level=info msg="proxy >> GET /_ping"',
                "[15:25:42.200][GoBackendProcess][Error  ] goroutine 1234 [running]:",
            ],
        )
    )
    assert [(r.envelope, r.proc) for r in recs] == [
        ("desktop-windows", "ApiProxy"),
        ("desktop-windows", "GoBackendProcess"),
    ]
    assert (
        recs[0].text.startswith('time="2025-01-07T15:25:42.123456789Z"')
        and recs[1].text == "goroutine 1234 [running]:"
    )


def test_json_file_driver_lines_and_partials():
    recs = list(
        envelopes.records(
            "c.log", (REAL / "container-json-file-driver.log").read_text().splitlines()
        )
    )
    assert [(r.line, r.proc, r.text) for r in recs] == [
        (1, "stderr", "line two to stderr"),
        (2, "stdout", "line one to stdout"),
        (3, "stdout", "no newline at end"),
        (4, "stdout", 'tab\tand "quotes" and unicode ✓'),
    ]
    assert recs[0].time == datetime(2026, 11, 29, 12, 14, 19, 525576, tzinfo=UTC)
    long = 'time="2026-11-29T12:28:12.000000000Z" level=info msg="' + "x" * 20000 + '"'
    parts = [long[:16384], long[16384:] + "\n"]  # the driver cuts lines at 16 KiB
    lines = [
        json.dumps({"log": p, "stream": "stderr", "time": "2026-11-29T12:28:12.1Z"}) for p in parts
    ]
    [rec] = envelopes.records("c.log", lines)
    assert rec.text == long and rec.line == 1


def test_year_rolls_over_at_new_year():
    recs = list(
        envelopes.records(
            "s.log", ["Dec 31 23:59:59 h dockerd[1]: a", "Jan  1 00:00:01 h dockerd[1]: b"], 2025
        )
    )
    assert [r.time.year for r in recs] == [2025, 2026]


def test_memory_stays_bounded_on_a_long_log(tmp_path, rules):
    """A long log of repetitive debug lines: kept events stop growing, the panic's context stays."""
    lines = REPRO.joinpath("dockerd.log").read_text().splitlines()
    panic = lines.index(next(x for x in lines if "http: panic serving" in x))
    noise = [x for x in lines[:panic] if 'level=debug msg="Calling HEAD /_ping"' in x] * (
        (KEEP_ALL + 5 * KEEP_SAME) // 2
    )
    big = lines[: panic - 1] + noise + lines[panic - 1 :]
    result = analyze([write_lines(tmp_path / "big.log", big)], rules=rules)
    events = result.evidence["events"]
    assert (
        len(events) < KEEP_ALL + KEEP_SAME + CONTEXT + 100 < len(big) - 1000
    )  # 100: the lines after the panic
    assert "repetitive log lines counted, not kept" in result.inputs[0].kind
    f = finding(result, "moby-49227")
    assert f.confidence == "confirmed" and "test" in " ".join(c.label for c in f.containers)


def test_gaps_in_time_are_listed_with_their_line(tmp_path):
    """A log whose lines stop for hours: the gap is named with the line after it, in UTC, for logrus
    times and for zone-less journal times brought back to UTC alike."""
    lines = REPRO.joinpath("dockerd.log").read_text().splitlines()[:60]
    late = [x.replace("2026-11-29T12:", "2026-11-29T16:") for x in lines[30:]]
    result = analyze([write_lines(tmp_path / "gap.log", lines[:30] + late)])
    kind = result.inputs[0].kind
    assert (
        "1 gap of an hour or more with no line: 4 h 00 min before line 31 (2026-11-29 12:27 → 2026-11-29 16:27 UTC)"
        in kind
    ), kind
    journal = [
        f"Nov 29 {'14' if i < 30 else '18'}:27:58 host dockerd[42]: {x}"
        for i, x in enumerate(lines[:30] + late)
    ]
    kind = analyze([write_lines(tmp_path / "journal.log", journal)]).inputs[0].kind
    assert (
        "local times read as UTC+02:00" in kind
        and "before line 31 (2026-11-29 12:27 → 2026-11-29 16:27 UTC)" in kind
    ), kind
    assert "gap" not in analyze([str(REPRO)]).inputs[0].kind  # the real log has none
