"""Bounded resources: decompressed bytes per run (--max-input-bytes), line length (MAX_LINE),
wall-clock per rule pattern (PATTERN_TIMEOUT). Each bad input is refused with one line naming
it, and the rest of the input is still analysed."""

import gzip
import io
import sys
import tarfile
import time

from conftest import REPRO, finding
from conftest import forensics as run

from forensics.analyze import analyze
from forensics.engine.ruleset import PATTERN_TIMEOUT, load_rules
from forensics.ingest import archives, sources

LINE = (
    b'time="2025-01-07T15:25:42.000000000Z" level=info msg="API listen on /var/run/docker.sock"\n'
)
CAP = 1 << 20  # 1 MiB


def bomb(path, size=32 << 20):
    """A real gzip bomb: a few tens of KB expanding to ``size`` bytes of valid log lines."""
    path.write_bytes(gzip.compress(LINE * (size // len(LINE)), 9))
    assert path.stat().st_size < size // 200
    return path


def test_default_cap_is_4_gib():
    assert archives.DEFAULT_MAX_INPUT_BYTES == 4 << 30


def test_gzip_bomb_is_refused_naming_the_file_and_the_rest_is_analysed(tmp_path):
    b = bomb(tmp_path / "dockerd.log.gz")
    result = analyze([str(REPRO / "dockerd.log"), str(b)], max_input_bytes=CAP)
    msgs = [str(p) for p in result.problems if p.source == str(b)]
    assert len(msgs) == 1 and "more than --max-input-bytes (1048576 bytes)" in msgs[0], msgs
    assert "\n" not in msgs[0]
    # what came before the cap was read (about 1 MiB of lines), not the 32 MiB
    summary = next(s for s in result.inputs if s.name == str(b))
    assert 0 < summary.lines <= CAP // len(LINE) + 1
    assert (
        finding(result, "moby-49227").confidence == "confirmed"
    )  # the uncompressed log still analysed


def test_without_the_cap_the_same_file_is_read_whole(tmp_path):
    b = bomb(tmp_path / "dockerd.log.gz", 4 << 20)
    result = analyze([str(b)])
    assert not any("max-input-bytes" in str(p) for p in result.problems)
    assert result.inputs[0].lines == (4 << 20) // len(LINE)


def test_the_cap_is_per_run_not_per_file(tmp_path):
    a = bomb(tmp_path / "a.log.gz", 700 << 10)
    b = bomb(tmp_path / "b.log.gz", 700 << 10)
    result = analyze([str(a), str(b)], max_input_bytes=CAP)
    assert [p.source for p in result.problems if "max-input-bytes" in p.message] == [str(b)]


def test_bomb_inside_a_tarball(tmp_path):
    data = gzip.compress(LINE * ((8 << 20) // len(LINE)), 9)
    tgz = tmp_path / "bundle.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, body in (
            ("var/log/first.log", (REPRO / "dockerd.log").read_bytes()),
            ("var/log/bomb.log.gz", data),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    result = analyze([str(tgz)], max_input_bytes=CAP)
    assert any(
        p.source == f"{tgz}!var/log/bomb.log.gz" and "max-input-bytes" in p.message
        for p in result.problems
    ), result.problems
    assert finding(result, "moby-49227").confidence == "confirmed"


def test_cli_option_refuses_the_bomb_in_one_line(tmp_path):
    b = bomb(tmp_path / "bomb.log.gz")
    proc = run("analyze", b, "-q", "--max-input-bytes", str(CAP))
    lines = [ln for ln in proc.stderr.splitlines() if "max-input-bytes" in ln]
    assert len(lines) == 1 and str(b) in lines[0] and lines[0].startswith("forensics: "), (
        proc.stderr
    )
    assert proc.returncode in (0, 1)
    assert "--max-input-bytes" in run("analyze", "--help").stdout
    assert (
        run("analyze", b, "--max-input-bytes", "0").returncode == 2
    )  # refused by the option's bound


def test_standard_input_counts_against_the_cap(monkeypatch):
    line = b'time="2025-01-07T15:25:41.000000000Z" level=info msg="API listen on /var/run/docker.sock"\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(line * 1000)))
    result = analyze(["-"], max_input_bytes=len(line) * 10)
    cut = [p for p in result.problems if p.source == "<stdin>" and "max-input-bytes" in p.message]
    assert len(cut) == 1 and cut[0].line == 11 and "standard input" in cut[0].message, (
        result.problems
    )
    assert result.inputs[0].lines == 10 and result.verdict == "inconclusive"


def test_over_long_line_is_cut_and_reported_and_the_next_lines_read(tmp_path):
    p = tmp_path / "long.log"
    p.write_bytes(LINE + b"x" * (sources.MAX_LINE * 2 + 17) + b"\n" + LINE)
    result = analyze([str(p)])
    msgs = [str(p) for p in result.problems]
    assert f"{p}:2: line longer than {sources.MAX_LINE} bytes; cut" in msgs, msgs
    assert result.inputs[0].lines == 3  # the line after the cut one is read


def test_a_catastrophic_user_regex_times_out_and_is_reported(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "slow.yaml").write_text("""id: slow
title: A user rule whose pattern backtracks forever
severity: low
description: catastrophic backtracking on a long run of a's
signals:
  slow:
    table: events
    where: {msg: '(a|aa)+$'}
    describe: a pathological pattern
verdicts:
  - confidence: confirmed
    all: [slow]
    summary: "never"
remedy: none
""")
    log = tmp_path / "d.log"
    log.write_text(
        "".join(
            f'time="2025-01-07T15:25:4{i}.000000000Z" level=info msg="{"a" * (60 + i)}b"\n'
            for i in range(6)
        )
    )
    start = time.monotonic()
    result = analyze([str(log)], rules=load_rules(rules))
    took = time.monotonic() - start
    assert took < 10 * PATTERN_TIMEOUT + 10, took
    warn = [w for w in result.warnings if "rule slow" in w]
    assert warn and "timed out on 3 value(s)" in warn[0] and "not run on the rest" in warn[0], (
        result.warnings
    )
    assert finding(result, "slow") is None or not finding(result, "slow").found


def test_cited_lines_of_a_compressed_log_get_their_context_within_the_cap(tmp_path):
    gz = tmp_path / "dockerd.log.gz"
    log = (REPRO / "dockerd.log").read_bytes()
    gz.write_bytes(gzip.compress(log))
    result = analyze([str(gz)], max_input_bytes=len(log) + 1000)  # enough for one pass, not two
    assert not result.problems, result.problems
    assert finding(result, "moby-49227").confidence == "confirmed"
    assert any(source == str(gz) and lines for (source, _), lines in result.context.items())
