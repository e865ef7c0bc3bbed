"""Skimming routine stretches of large logs: same findings, same line numbers, honest counts."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics import analyze as analyze_module
from forensics import parse as parse_module
from forensics.analyze import analyze
from forensics.engine import literals, prefilter
from forensics.engine.ruleset import load_rules
from forensics.ingest import envelopes, needles, skim, sources
from forensics.parse import parse_records

CAPTURE = ROOT / "samples" / "captured" / "repro-49227-journal-short.log"


def small(rules):
    """The real Skim with blocks small enough for test-sized inputs."""
    return dataclasses.replace(prefilter.skim_for(rules), after=1000, block=64 << 10)


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(analyze_module, "skim_for", small)


def journal(
    tmp_path: Path, copies: int = 300, insert: dict[int, str] | None = None
) -> tuple[Path, list[str]]:
    """The real reproduction with its steady-state traffic repeated ``copies`` times before it;
    ``insert`` puts extra lines after the given steady-state copy."""
    lines = CAPTURE.read_text().splitlines(keepends=True)
    listen = next(i for i, line in enumerate(lines) if "API listen on" in line) + 1
    panic = next(i for i, line in enumerate(lines) if "http: panic serving" in line)
    out = lines[:listen]
    for k in range(copies):
        out += lines[listen:panic]
        if insert and k in insert:
            out.append(insert[k])
    out += lines[listen:]
    path = tmp_path / "journal.log"
    path.write_text("".join(out))
    return path, out


def summary(result):
    return [
        (f.id, f.confidence, f.summary, [(c.source, c.line) for c in f.evidence])
        for f in result.found
    ]


def test_skimmed_journal_gives_the_findings_of_a_full_parse(tmp_path, small_blocks):
    path, lines = journal(tmp_path)
    skimmed, full = analyze([str(path)]), analyze([str(path)], every_line=True)
    assert summary(skimmed) == summary(full)
    assert skimmed.found[0].id == "moby-49227" and skimmed.found[0].confidence == "confirmed"
    panic = next(i for i, line in enumerate(lines, 1) if "http: panic serving" in line)
    cited = {c.line for f in skimmed.found for c in f.evidence if c.source == str(path)}
    assert panic in cited  # the panic is cited at its true line number
    assert skimmed.inputs[0].lines == full.inputs[0].lines == len(lines)
    assert skimmed.inputs[0].events < full.inputs[0].events / 4
    assert "routine or repetitive log lines counted, not kept" in skimmed.inputs[0].kind
    assert skimmed.context[(str(path), panic)] == full.context[(str(path), panic)]


def read(path: Path, skimmer):
    problems = []
    for inp in sources.walk([str(path)], problems):  # the input stays open while it is read
        parsed = parse_records(envelopes.read(inp, problems, skim=skimmer))
    return parsed, problems


def test_skipped_lines_are_counted_with_their_levels(tmp_path):
    path, lines = journal(tmp_path, copies=200)
    skimmer = small(load_rules())
    skimmed, problems = read(path, skimmer)
    full, _ = read(path, None)
    assert not problems
    assert skimmed.records == full.records == len(lines)
    cov_s, cov_f = skimmed.coverage[str(path)], full.coverage[str(path)]
    assert cov_s.levels == cov_f.levels
    assert cov_s.envelopes == cov_f.envelopes
    assert cov_s.aggregated > len(lines) / 2


NOTABLE = [
    (
        'dockerhost1 dockerd[4242]: time="2026-11-29T12:28:05.000000000Z" level=warning msg="Health check for container'
        ' abc failed"\n',
        "warning",
        "Health check for container abc failed",
    ),
    (
        'dockerhost1 dockerd[4242]: time="2026-11-29T12:28:05.000000000Z" level=info msg="Processing signal \'terminated\'"\n',
        "info",
        "Processing signal 'terminated'",
    ),
    (
        'dockerhost1 dockerd[4242]: time="2026-11-29T12:28:05.000000000Z" level=debug msg="failed to exit within 10 seconds'
        ' of signal 15 - using the force" container=0123456789ab\n',
        "debug",
        "failed to exit within 10 seconds of signal 15 - using the force",
    ),
    (
        "dockerhost1 kernel: Out of memory: Killed process 4242 (dockerd) total-vm:2000kB\n",
        None,
        "Out of memory: Killed process 4242 (dockerd) total-vm:2000kB",
    ),
]


@pytest.mark.parametrize(
    "text,level,msg", NOTABLE, ids=["warning", "needle-info", "needle-debug", "kernel"]
)
def test_a_notable_line_inside_a_routine_stretch_is_kept_at_its_line(tmp_path, text, level, msg):
    path, lines = journal(tmp_path, copies=200, insert={120: "Nov 29 12:28:05 " + text})
    where = next(i for i, line in enumerate(lines, 1) if msg in line)
    parsed, _ = read(path, small(load_rules()))
    found = [e for e in parsed.events if e.msg == msg]
    assert [(e.line, e.level) for e in found] == [(where, level)]


def test_a_new_daemon_pid_inside_a_routine_stretch_starts_a_lifetime(tmp_path):
    restart = 'Nov 29 12:28:05 dockerhost1 dockerd[5151]: time="2026-11-29T12:28:05.000000000Z" level=info msg="Starting up"\n'
    path, lines = journal(tmp_path, copies=200, insert={150: restart})
    parsed, _ = read(path, small(load_rules()))
    starts = parsed.coverage[str(path)].starts
    assert (next(i for i, line in enumerate(lines, 1) if "dockerd[5151]" in line), 5151) in starts


def test_matching_without_hyperscan_finds_the_same_needles(monkeypatch):
    chunk = CAPTURE.read_bytes()
    chunk = chunk[: chunk.index(b"http: panic")].rsplit(b"\n", 2)[0] + b"\n"
    chunk += b'x dockerd[1]: time="t" level=debug msg="Device Or Resource BUSY"\n'
    skimmer = prefilter.skim_for(load_rules())
    with_hs = needles.matcher(skimmer.needles, skimmer.caseless)(chunk)
    needles.scanner.cache_clear()
    monkeypatch.setitem(sys.modules, "hyperscan", None)  # import hyperscan now fails
    try:
        without = needles.matcher(skimmer.needles, skimmer.caseless)(chunk)
    finally:
        needles.scanner.cache_clear()
    assert without == with_hs
    assert (b"device or resource busy", True) in without and (b"Starting up", False) in without
    warning = chunk + b'x dockerd[1]: time="t" level=warning msg="w"\n'
    assert (b'" level=warning ', False) in needles.matcher(skimmer.needles, skimmer.caseless)(
        warning
    )


_SHAPES = [  # what makes a line a logrus debug or info line for _ODD, or nearly one
    b'time="',
    b'"',
    b" level=debug msg=",
    b" level=info msg=",
    b" level=warning ",
    b": ",
    b"x",
    b"2026-11-29T12:28:11.5Z",
    b"\n",
    b"Nov 29 12:28:11 dockerhost1 dockerd[4243]",
    b'\\"',
    b"a" * 39,
    b"b" * 150,
    b"level=debug",
    b"\xc3\xa9",
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_SHAPES), max_size=30))
def test_the_odd_lines_are_told_all_at_once_as_the_regex_tells_them(parts):
    """skim._odd (every line of a block read at once, from its first two quotes) finds the newlines
    _ODD's lookahead finds: before each line that is not a logrus text line at debug or info."""
    chunk = b"".join(parts)
    assert skim._odd(chunk, needles.newlines(chunk)) == [
        m.start() for m in skim._ODD.finditer(chunk)
    ]


def test_the_odd_lines_of_real_blocks_are_told_as_the_regex_tells_them():
    """The same on every captured sample (dumps among them): whole, its first half, its last two
    thirds."""
    chunks = []
    for path in sorted((ROOT / "samples").rglob("*.log")):
        data = path.read_bytes()
        chunks += [data, data[: len(data) // 2], data[len(data) // 3 :]]
    assert any(b"goroutine " in chunk for chunk in chunks)
    for chunk in chunks:
        odd = skim._odd(chunk, needles.newlines(chunk))
        assert odd == [m.start() for m in skim._ODD.finditer(chunk)]


def test_escaped_level_markers_are_counted_as_without_hyperscan(monkeypatch):
    """The escaped level markers, all looked for by one piece (their first 8 bytes) and told apart
    around each match, are counted as a search for each finds them: every level quoted, a marker
    of no level, one cut by the end of the chunk, a quoted line quoting another."""
    chunk = CAPTURE.read_bytes()[:50_000]
    chunk = chunk[: chunk.rindex(b"\n") + 1]
    envelope = b'Nov 29 12:28:11 dockerhost1 dockerd[4243]: time="2026-11-29T12:28:11Z" level=info '
    for name in ("trace", "debug", "info", "warning", "error", "fatal", "panic", "odd", "Info"):
        chunk += (
            envelope
            + b'msg="quoting" line="time=\\"x\\" level='
            + name.encode()
            + b' msg=\\"m\\""\n'
        )
    chunk += (
        envelope + b'msg="x" a="b=\\"time=\\\\\\"y\\\\\\" level=error msg=\\\\\\"z\\\\\\"\\""\n'
    )
    chunk += envelope + b'msg="cut" a="\\" level=\n'
    skimmer = prefilter.skim_for(load_rules())
    follow = tuple(n for n, _ in skimmer.follow)
    needles.scanner.cache_clear()
    try:
        with_hs = needles.scanner(skimmer.needles, skimmer.caseless, follow)(chunk)
        needles.scanner.cache_clear()
        monkeypatch.setitem(sys.modules, "hyperscan", None)  # import hyperscan now fails
        without = needles.scanner(skimmer.needles, skimmer.caseless, follow)(chunk)
    finally:
        needles.scanner.cache_clear()
    assert with_hs == without
    counts = with_hs[1]
    for name, token in needles.ESCAPED_LEVELS.items():
        assert counts[token, False] == (2 if name == "error" else 1), name
    assert counts[needles.ESCAPED, False] == 1


def test_a_needle_ending_in_common_words_is_found_by_a_rare_piece_as_scanned_whole(monkeypatch):
    """A rule's needle whose end stands on every line (here ``for container``) is looked for by a
    rarer piece of it and confirmed around each: what is found is what the plain search finds
    (at the chunk's start, twice on a line, in another case, ignoring case, a piece without it).
    """
    needle, loud = "Health Check Timed Out for container", "starting health check for container"
    routine = CAPTURE.read_bytes().splitlines(keepends=True)[:400]
    lines = [line.replace(b'msg="', b'msg="for container ', 1) for line in routine]
    lines[0] = needle.encode() + b"\n"
    lines[50] = lines[50].replace(b"msg=", b"msg=" + 2 * needle.encode() + b" ")
    lines[90] = lines[90].replace(b"msg=", b"msg=" + needle.upper().encode() + b" ")
    lines[91] = lines[91].replace(b"msg=", b"msg=Health Check Timed In for container ")
    lines[150] = lines[150].replace(b"msg=", b"msg=" + loud.upper().encode() + b" ")
    while len(b"".join(lines)) < needles._SAMPLE:  # past the sample: a piece standing without it
        lines += lines[200:400]
    lines.append(b'x dockerd[1]: time="t" level=debug msg="%sR"\n' % needle[:-1].encode())
    chunk = b"".join(lines)
    piece = needles._factors([(needle.encode(), False)], set(), chunk[: needles._SAMPLE])[0]
    assert piece != needle.encode() and not needle.endswith(piece.decode())
    found = {}
    warned = chunk.replace(b"level=debug", b"level=warning")  # a level token on most lines
    needles.scanner.cache_clear()
    try:
        for hyperscan in (True, False):
            if not hyperscan:
                monkeypatch.setitem(sys.modules, "hyperscan", None)  # import hyperscan now fails
            scan = needles.scanner((needle,), (loud,), ("/containers/create?",))
            # each level token's first match, then all (Hyperscan: after a chunk with few, many)
            found[hyperscan] = [scan(chunk), scan(warned), scan(warned), scan(chunk), scan(chunk)]
            needles.scanner.cache_clear()
    finally:
        needles.scanner.cache_clear()
    assert found[True] == found[False]
    assert found[True][1][1][b'" level=warning ', False] > len(warned) >> 10
    located, counts = found[True][0]
    starts = [0, len(b"".join(lines[:50])), len(b"".join(lines[:150]))]
    assert (
        located[needle.encode(), False] == set(starts[:2]) and counts[needle.encode(), False] == 3
    )
    assert located[loud.encode(), True] == {starts[2]}


def test_needles_sharing_a_piece_are_confirmed_as_scanned_whole_up_to_the_chunks_end(monkeypatch):
    """The escaped level markers share one piece (``\\" level``) and are confirmed from one read of
    the bytes around it: each is found as the plain search finds it, and one cut by the chunk's
    end (``\\" level=info ms``) is not."""
    routine = CAPTURE.read_bytes().splitlines(keepends=True)[:300]
    nested = b'time="t" level=warning msg="cleanup warnings time=\\"t\\" level=info msg=\\"x\\" \\" level=warning \\" level=debug msg=\\"y\\""\n'
    lines = [nested if i % 7 == 0 else line for i, line in enumerate(routine)]
    chunk = b"".join(lines) + b'time="t" level=error msg="a \\" level=info ms'
    found = {}
    needles.scanner.cache_clear()
    try:
        for hyperscan in (True, False):
            if not hyperscan:
                monkeypatch.setitem(sys.modules, "hyperscan", None)  # import hyperscan now fails
            scan = needles.scanner(("cleanup warnings",), ())
            found[hyperscan] = [scan(chunk), scan(chunk[:-3])]
            needles.scanner.cache_clear()
    finally:
        needles.scanner.cache_clear()
    assert found[True] == found[False]
    counts = found[True][0][1]
    escaped = len(lines[::7])
    assert counts[needles.ESCAPED_LEVELS["info"], False] == escaped  # not the cut one at the end
    assert counts[needles.ESCAPED_LEVELS["warning"], False] == escaped
    assert counts[needles.ESCAPED_LEVELS["debug"], False] == escaped


@pytest.mark.parametrize(
    "pattern,expected",
    [
        (
            r"(?:failed to dial|Failed to connect to containerd)[^\n]*containerd",
            ({"failed to dial", "Failed to connect to containerd"}, False),
        ),
        (r"(?i)^(?=.*[0-9a-f]{12}).*device or resource busy", ({"device or resource busy"}, True)),
        (r'"topic": "/tasks/exit"', ({"/tasks/exit"}, False)),
        (r"^Starting up$", ({"Starting up"}, False)),
        (r"OCI runtime \w+ failed: ", ({"OCI runtime "}, False)),
        (r"\d+ seconds", ({" seconds"}, False)),
        (r"\d+", None),
        (r"a|bcd", None),  # one alternative too short to look for
        (r"\p{Lu}rror", None),  # syntax of the regex module only
    ],
)
def test_required_literals(pattern, expected):
    assert literals.required(pattern) == expected


def test_a_rule_without_literal_text_turns_skimming_off(tmp_path):
    rules = load_rules()
    assert prefilter.skim_for(rules) is not None
    rule_dir = tmp_path / "rules"
    rule_dir.mkdir()
    (rule_dir / "any-number.yaml").write_text(
        "id: any-number\ntitle: t\nseverity: low\ndescription: d\n"
        "signals:\n  n:\n    table: events\n    where: {msg: '^\\d+$'}\n"
        "verdicts:\n  - confidence: likely\n    all: [n]\n    summary: s\n"
    )
    assert prefilter.skim_for(load_rules(rule_dir)) is None
    (rule_dir / "any-number.yaml").write_text(
        "id: any-number\ntitle: t\nseverity: low\ndescription: d\n"
        "signals:\n  n:\n    table: events\n    where: {level: {in: [error, fatal]}}\n"
        "verdicts:\n  - confidence: likely\n    all: [n]\n    summary: s\n"
    )
    assert prefilter.skim_for(load_rules(rule_dir)) is not None  # errors are never skimmed


def test_lines_at_reads_only_the_wanted_lines_across_blocks(tmp_path):
    path = tmp_path / "x.log"
    text = (
        "".join(f"line {n}\r\n" if n % 7 == 0 else f"line {n}\n" for n in range(1, 500))
        + "last without newline"
    )
    path.write_text(text)
    for inp in sources.walk([str(path)], []):
        got = sources.lines_at(inp, {1, 7, 64, 499, 500, 501}, block=16)
    assert got == {
        1: "line 1",
        7: "line 7",
        64: "line 64",
        499: "line 499",
        500: "last without newline",
    }
    assert re.fullmatch(r"line \d+", got[64])


class _Counting:
    """A file that counts the bytes read from it."""

    def __init__(self, raw):
        self.raw, self.read_bytes = raw, 0

    def read(self, size=-1):
        data = self.raw.read(size)
        self.read_bytes += len(data)
        return data

    def readline(self, size=-1):
        data = self.raw.readline(size)
        self.read_bytes += len(data)
        return data

    def seek(self, offset):
        return self.raw.seek(offset)


def test_lines_at_seeks_to_the_blocks_read_lines_read(tmp_path, monkeypatch):
    """After read_lines read a plain file in blocks, lines_at reads only the blocks that hold the
    wanted lines (a line over MAX_LINE cut, CRLF lines, a last line without newline), and gives
    what a read from the start gives."""
    monkeypatch.setattr(sources, "MAX_LINE", 300)
    path = tmp_path / "x.log"
    lines = [f"line {n}" + ("\r" if n % 7 == 0 else "") for n in range(1, 3000)]
    lines[1500] = "x" * 1000  # cut by read_lines, one line all the same
    path.write_text("\n".join(lines) + "\nlast without newline")
    skimmer = dataclasses.replace(prefilter.skim_for(load_rules()), after=50, block=256)
    for inp in sources.walk([str(path)], []):
        given = list(sources.read_lines(inp, [], skimmer))
    assert sum(piece.count if type(piece) is skim.Skipped else 1 for piece in given) == 3000
    marks = sources._MARKS[sources._marked(inp)]
    assert len(marks) > 100 and marks[0][0] == 50
    wanted = {1, 7, 1400, 1501, 1502, 2998, 2999, 3000, 3001}
    got = {}
    for skip in (True, False):
        if not skip:
            sources._MARKS.clear()
        for inp in sources.walk([str(path)], []):
            inp.stream = _Counting(inp.stream)
            got[skip] = sources.lines_at(inp, wanted, block=256)
            read = inp.stream.read_bytes
        if skip:
            assert read < path.stat().st_size / 3  # the blocks between skipped
    assert got[True] == got[False]
    assert got[True][1400] == "line 1400" and got[True][1501].startswith("xxx")
    assert got[True][2999] == "line 2999" and got[True][3000] == "last without newline"


FIXTURES = ROOT / "tests" / "fixtures"
SHAPES = sorted(
    [
        *(ROOT / "samples").glob("*/"),
        *(FIXTURES / "captured").glob("*-20.10/"),
        *(FIXTURES / "captured").glob("repro-49227-journal-*"),
    ]
)


def tiny(rules):
    """Selection from the 20th line on, in blocks of a few lines: every line of a sample goes through it."""
    return dataclasses.replace(prefilter.skim_for(rules), after=20, block=2 << 10)


def tiny_every():
    return dataclasses.replace(prefilter.every_line_skim(), after=20, block=2 << 10)


def coverage(result):
    """Each input's coverage, less the note that says how many lines were counted, not kept."""
    return [
        (
            i.name,
            i.lines,
            re.sub(r"; \d+ routine or repetitive log lines counted, not kept", "", i.kind),
            i.readable,
        )
        for i in result.inputs
    ]


def levels(path, skimmers):
    out = []
    for skimmer in skimmers:
        parsed, problems = read(path, skimmer)
        out.append(
            (
                {k: dict(v.levels) for k, v in parsed.coverage.items()},
                {k: (v.plain, v.starts, dict(v.envelopes)) for k, v in parsed.coverage.items()},
                parsed.records,
            )
        )
    return out


def three_ways(monkeypatch, paths):
    """analyze: lines selected, --every-line (repeats counted in bulk), and every line parsed one by one."""
    monkeypatch.setattr(analyze_module, "skim_for", tiny)
    monkeypatch.setattr(analyze_module, "every_line_skim", tiny_every)
    skimmed, every = analyze(paths), analyze(paths, every_line=True)
    monkeypatch.setattr(analyze_module, "every_line_skim", lambda: None)
    return skimmed, every, analyze(paths, every_line=True)


@pytest.mark.parametrize("path", SHAPES, ids=lambda p: p.name)
def test_every_sample_and_log_shape_gives_the_same_findings_skimmed(monkeypatch, path):
    results = three_ways(monkeypatch, [str(path)])
    for result in results[:2]:
        full = results[2]
        assert summary(result) == summary(full)
        assert [(o.rule, o.status) for o in result.outcomes] == [
            (o.rule, o.status) for o in full.outcomes
        ]
        assert [str(p) for p in result.problems] == [str(p) for p in full.problems]
        assert [i.lines for i in result.inputs] == [i.lines for i in full.inputs]
    if path.is_file():
        (lv_s, rest_s, n_s), (lv_e, rest_e, n_e), (lv_f, rest_f, n_f) = levels(
            path, [tiny(load_rules()), tiny_every(), None]
        )
        assert n_s == n_e == n_f and lv_s == lv_e == lv_f and rest_s == rest_e == rest_f


def dense(tmp_path: Path) -> tuple[Path, list[str]]:
    """The warning-dense shape of bench/ingest.py at test size: containerd's real shim-exit lines
    (two warnings) after every container exit, a SIGQUIT dump and a restart under a new pid."""
    lines = CAPTURE.read_text().splitlines(keepends=True)
    listen = next(i for i, line in enumerate(lines) if "API listen on" in line) + 1
    panic = next(i for i, line in enumerate(lines) if "http: panic serving" in line)
    sigquit = next(i for i, line in enumerate(lines) if line.rstrip().endswith("SIGQUIT: quit"))
    shim = [
        f"Nov 29 12:28:10 dockerhost1 containerd[4100]: {text}"
        for text in (ROOT / "bench" / "containerd-shim-exit-27.4.1.log")
        .read_text()
        .splitlines(True)
    ]
    steady = []
    for line in lines[listen:panic]:
        steady.append(line)
        if "topic=/tasks/exit" in line:
            steady += shim
    out = lines[:listen] + steady * 100 + lines[sigquit:]
    out += [
        line.replace("dockerd[4242]", "dockerd[4243]") for line in lines[:listen] + steady * 100
    ]
    out += [line.replace("dockerd[4242]", "dockerd[4243]") for line in lines[listen:]]
    path = tmp_path / "dense.log"
    path.write_text("".join(out))
    return path, out


def test_a_warning_dense_journal_gives_the_findings_and_counts_of_a_full_parse(
    tmp_path, monkeypatch
):
    path, lines = dense(tmp_path)
    skimmed, every, full = three_ways(monkeypatch, [str(path)])
    assert summary(skimmed) == summary(every) == summary(full)
    assert skimmed.found[0].id == "moby-49227"
    assert coverage(skimmed) == coverage(every) == coverage(full)
    (lv_s, rest_s, n_s), (lv_e, rest_e, n_e), (lv_f, rest_f, n_f) = levels(
        path, [small(load_rules()), tiny_every(), None]
    )
    assert n_s == n_e == n_f == len(lines) and lv_s == lv_e == lv_f and rest_s == rest_e == rest_f
    assert lv_s[str(path)]["warning"] == sum("level=warning" in line for line in lines) == 400
    assert len(rest_s[str(path)][1]) == 2  # two lifetimes
    assert skimmed.inputs[0].events < full.inputs[0].events / 2


def test_selection_is_the_same_without_hyperscan(tmp_path, monkeypatch):
    path, _ = dense(tmp_path)
    chunk = path.read_bytes()
    chunk = chunk[: chunk.rindex(b"\n", 0, 600_000) + 1]
    skimmer = prefilter.skim_for(load_rules())
    with_hs = skimmer.select(chunk, same={})
    needles.scanner.cache_clear()
    monkeypatch.setitem(sys.modules, "hyperscan", None)  # import hyperscan now fails
    try:
        without = skimmer.select(chunk, same={})
    finally:
        needles.scanner.cache_clear()
    assert without == with_hs
    warnings = sum(b'" level=warning ' in line for line in chunk.splitlines())
    assert (
        sum(b'" level=warning ' in line for line in with_hs[0] if type(line) is bytes) == warnings
    )
    seen = {}
    while not seen or min(seen.values()) < skim.SAME:
        skimmer.select(chunk, same=seen)
    again, _ = skimmer.select(chunk, same=seen)  # each warning was given 200 times: now counted
    assert sum(b'" level=warning ' in line for line in again if type(line) is bytes) == 0
    assert (
        sum(piece.levels.get("warning", 0) for piece in again if type(piece) is skim.Skipped)
        == warnings
    )


@pytest.mark.parametrize("hyperscan", [True, False])
def test_levels_are_counted_in_bulk_as_line_by_line(tmp_path, monkeypatch, hyperscan):
    """A block's lines per level (Skim.survey: the level tokens' matches less the escaped level
    markers inside quoted values) are those a line-by-line reading finds, with the real escaped
    warning of containerd (a logrus line logging two) first and last in the block and an error
    quoting two error lines, with and without Hyperscan."""
    path, _ = dense(tmp_path)
    chunk = path.read_bytes()
    chunk = chunk[chunk.index(b"\n", 200_000) + 1 : chunk.rindex(b"\n", 0, 500_000) + 1]
    cleanup = next(line for line in chunk.splitlines(True) if b"cleanup warnings" in line)
    quoting = (
        b'Nov 29 12:28:11 dockerhost1 dockerd[4243]: time="2026-11-29T12:28:11.1Z" level=error '
        b'msg="two errors" a="time=\\"x\\" level=error msg=\\"one\\"" '
        b'b="time=\\"y\\" level=error msg=\\"two\\""\n'
    )
    chunk = cleanup + chunk + quoting + cleanup
    lines = chunk.splitlines(True)
    expected = {}
    for line in lines:
        level = skim._level_of(line)
        expected[level] = expected.get(level, 0) + 1
    assert expected.keys() == {"debug", "info", "warning", "error"}
    skimmer = prefilter.skim_for(load_rules())
    needles.scanner.cache_clear()
    if not hyperscan:
        monkeypatch.setitem(sys.modules, "hyperscan", None)  # import hyperscan now fails
    try:
        located, totals, odd = skimmer.survey(chunk)
    finally:
        needles.scanner.cache_clear()
    assert odd is None and totals == expected
    warnings = {i for i, line in enumerate(lines) if b'" level=warning ' in line}
    starts = located[b'" level=warning ', False]
    assert {skim._line(needles.newlines(chunk), at) for at in starts} == warnings
    assert 0 in starts
    for token in (b'" level=warning ', b"\n", cleanup):  # found all at once where they end
        ends = [m.end() for m in re.finditer(re.escape(token), chunk)]
        assert needles.token_ends(chunk, token).tolist() == ends


def errors_log(tmp_path: Path, copies: int = 400) -> Path:
    """The all-errors shape of bench/ingest.py (issue 21) at test size: the real ``level=error``
    lines of a 20.10.24 daemon repeated, one second apart, each container or exec id new per copy."""
    lines = [
        line
        for line in (ROOT / "samples" / "healthy-20.10" / "dockerd-20.10.24-text-debug.log")
        .read_text()
        .splitlines(True)
        if " level=error " in line
    ]
    ids = sorted({m for line in lines for m in re.findall(r"\b[0-9a-f]{64}\b", line)})
    assert ids and len(lines) > 5
    out = []
    for k in range(copies):
        text = "".join(
            f'time="2026-11-01T{k // 3600:02d}:{k // 60 % 60:02d}:{k % 60:02d}{line[25:]}'
            for line in lines
        )
        for n, old in enumerate(ids):
            text = text.replace(old, f"{k:032x}{n:032x}")
        out.append(text)
    path = tmp_path / "errors.log"
    path.write_text("".join(out))
    return path


def as_json(result) -> dict:
    from forensics.report.data import to_dict

    out = to_dict(result)
    out.pop("generated")
    return out


def test_an_all_errors_log_reads_as_a_full_parse_does(tmp_path, monkeypatch):
    """Every line an error, no two alike: the lines the parser only counts are counted by the
    selection too, so the report (events kept, timeline, templates, counts) is the full parse's."""
    path = errors_log(tmp_path)
    monkeypatch.setattr(parse_module, "KEEP_ALL", 500)  # the parser aggregates from line 500 on
    monkeypatch.setattr(
        analyze_module,
        "skim_for",
        lambda rules: dataclasses.replace(prefilter.skim_for(rules), after=500, block=16 << 10),
    )
    monkeypatch.setattr(
        analyze_module,
        "every_line_skim",
        lambda: dataclasses.replace(prefilter.every_line_skim(), after=500, block=16 << 10),
    )
    skimmed, every = analyze([str(path)]), analyze([str(path)], every_line=True)
    monkeypatch.setattr(analyze_module, "every_line_skim", lambda: None)
    full = analyze([str(path)], every_line=True)
    assert full.inputs[0].events < full.inputs[0].lines / 2  # the parser did aggregate
    assert as_json(skimmed) == as_json(full)
    assert as_json(every) == as_json(full)


def test_both_engines_blank_the_variable_parts_alike():
    """The repeat key's blanking (skim.VARIABLE) reads the same with RE2 (pyarrow) and with re, on
    the ASCII lines of every sample, one block of them at a time as the selection gives them."""
    pytest.importorskip("pyarrow")
    lines = [
        line
        for path in sorted((ROOT / "samples").rglob("*"))
        if path.is_file() and path.suffix != ".gz"
        for line in path.read_bytes().splitlines()
        if line.isascii()
    ]
    text = b"\n".join(lines)
    assert len(text) > 1 << 19 and skim._BLANK.search(text)
    for at in range(0, len(text), 1 << 18):
        block = text[at : at + (1 << 18)]
        assert skim._blank(block) == skim._BLANK.sub(b"#", block)
    assert skim._arrow() is not None


@pytest.mark.parametrize("shape", ["dense", "errors"])
def test_blocks_surveyed_by_other_processes_read_as_in_one(tmp_path, monkeypatch, shape):
    """A large input's blocks surveyed by a pool of processes (skim.Surveys) give the report of one
    process, byte for byte, skimmed and with --every-line (the size threshold lowered to 0)."""
    path = dense(tmp_path)[0] if shape == "dense" else errors_log(tmp_path)
    calls = []
    monkeypatch.setattr(
        skim.Surveys, "get", lambda self, get=skim.Surveys.get: calls.append(1) or get(self)
    )
    monkeypatch.setattr(
        analyze_module,
        "skim_for",
        lambda rules: dataclasses.replace(small(rules), parallel_from=0),
    )
    monkeypatch.setattr(
        analyze_module,
        "every_line_skim",
        lambda: dataclasses.replace(tiny_every(), block=64 << 10, parallel_from=0),
    )
    reports = {}
    for jobs in ("1", "3"):
        monkeypatch.setenv(skim.JOBS, jobs)
        reports[jobs] = [
            as_json(analyze([str(path)])),
            as_json(analyze([str(path)], every_line=True)),
        ]
        assert bool(calls) == (jobs == "3")  # the pool was used, and only when asked for
    assert reports["1"] == reports["3"]
    assert reports["1"][0]["findings"] or shape == "errors"


def repeats_one_by_one(chunk: bytes, keep: set[int], same: dict, among: set[int] | None) -> None:
    """skim._repeats as it was written first: each line of the block looked at in turn."""
    pending = []
    at = 0
    for line in chunk.translate(skim._DIGITS).split(b"\n")[:-1]:
        start, at = at, at + len(line) + 1
        if start in keep if among is None else start not in among:
            continue
        logrus = line.find(b'time="')
        if logrus < 0 or (among is not None and (b"goroutine" in line or b"panic" in line)):
            keep.add(start)
            continue
        cheap = hash(line)
        if same.get(cheap, 0) < skim.SAME:
            pending.append((start, start + logrus, at - 1, cheap))
    for start, begin, end, cheap in pending:
        key = ("message", hash(skim._BLANK.sub(b"#", chunk[begin:end])))
        if same.get(key, 0) < skim.SAME:
            same[key] = same.get(key, 0) + 1
            same[cheap] = same.get(cheap, 0) + 1
            keep.add(start)
        else:
            same[cheap] = skim.SAME


@pytest.mark.parametrize("among", ["every line", "the warnings", "all but the first and last"])
def test_repeats_are_told_as_one_line_at_a_time_does(tmp_path, among):
    """skim._repeats (each distinct line looked at once, the wanted lines' digits blanked all at
    once) keeps the lines a line-at-a-time reading keeps, block after block until the repeated
    messages are only counted: on the warning-dense journal with a dump line first in the block,
    a panic last, and a logrus line speaking of a goroutine."""
    path, _ = dense(tmp_path)
    chunk = path.read_bytes()
    chunk = chunk[chunk.index(b"\n", 100_000) + 1 : chunk.rindex(b"\n", 0, 700_000) + 1]
    chunk = (
        b"Nov 29 12:28:10 dockerhost1 dockerd[4243]: goroutine 1 [running]:\n"
        + chunk
        + b'Nov 29 12:28:11 dockerhost1 dockerd[4243]: time="2026-11-29T12:28:11Z" level=debug '
        b'msg="goroutine 7 left"\n'
        + b"Nov 29 12:28:11 dockerhost1 dockerd[4243]: 2026/11/29 12:28:11 http: panic serving\n"
    )
    ends = needles.newlines(chunk)
    starts = [0, *(ends[:-1] + 1).tolist()]
    if among == "every line":
        wanted = None
    elif among == "the warnings":
        wanted = {s for s, e in zip(starts, ends) if b"level=warning" in chunk[s:e]}
        assert 0 < len(wanted) <= skim._MANY
    else:
        wanted = set(starts[1:-1])
        assert len(wanted) > skim._MANY
    same, same_before = {}, {}
    for _ in range(4):  # until the repeated messages are only counted
        keep, kept_before = {starts[-1]}, {starts[-1]}
        skim._repeats(chunk, ends, keep, same, None if wanted is None else set(wanted))
        repeats_one_by_one(chunk, kept_before, same_before, None if wanted is None else set(wanted))
        assert keep == kept_before and same == same_before
    assert 0 in keep or wanted is not None
    assert len(keep) < len(starts) / 4  # most lines were repeats by then
