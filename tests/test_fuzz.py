"""Fuzzing ``forensics.analyze.analyze`` with hostile and broken input.

Property, for every case: ``analyze`` finishes and never raises; every problem is one line naming
its input; an input that is binary data is reported as such; and findings on an intact prefix are
unchanged by garbage appended after it (the reproduction's dockerd.log stays moby-49227 confirmed).

Two generators:

* hypothesis strategies (random bytes, text with NUL / CR / invalid UTF-8, garbage suffixes);
* a corpus-mutation fuzzer seeded from the real fixtures (``samples/49227-repro/*``,
  ``tests/fixtures/dumps/**``): bit flips, truncation, byte insertion (NUL, invalid UTF-8,
  CRLF), line splicing between formats (logs into dumps and back), line duplication/deletion,
  gzip wrapping and corruption of the compressed bytes.

Plus fixed cases: truncation at many positions of a dump and of the log, a 1 MiB line, 10^5 and
10^6 tiny lines, garbage after the full reproduction.

CI runs a short pass (well under 2 minutes). The long run is opt-in::

    FORENSICS_FUZZ_EXAMPLES=100000 python -m pytest -q tests/test_fuzz.py -p no:cacheprovider

``FORENSICS_FUZZ_EXAMPLES`` is the number of examples for each of the main hypothesis tests
(random bytes, text, corpus mutation); the slower ones (prefix property, whole-repro mutation) run a
tenth of it. With it set, the fixed cases also truncate at every 97th byte instead of ~25 positions.
See bench/README.md.
"""
import gzip
import os
import tempfile
from pathlib import Path

import pytest
from conftest import FIXTURES, REPRO
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from forensics import sources
from forensics.analyze import analyze
from forensics.report import to_dict, to_json, to_markdown
from forensics.ruleset import load_rules

LONG = int(os.environ.get("FORENSICS_FUZZ_EXAMPLES", "0"))
RULES = load_rules()
VERDICTS = {"found", "clean", "inconclusive"}
SEEDS = sorted(p for p in [*REPRO.iterdir(), *(FIXTURES / "dumps").rglob("*")]
               if p.is_file() and p.suffix in (".log", ".txt") and p.stat().st_size < 120_000)
SEED_BYTES = {p.name + str(i): p.read_bytes() for i, p in enumerate(SEEDS)}
SEED_KEYS = sorted(SEED_BYTES)
NASTY = [b"\x00", b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\r", b"\r\n", b"\n\n", b"\x1b[31m",
         b"goroutine 1 [running]:\n", b'time="2025-01-07T15:25:42Z" level=error msg="', b"\t/x.go:1 +0x1\n",
         b"\xe2\x80\xae", b"<script>", b"}}{{", b"%s%n", b"\x7f" * 9, b"SIGQUIT: quit\n"]


def fuzz_settings(examples: int, slow: bool = False):
    n = (max(LONG // 10, examples) if slow else max(LONG, examples)) if LONG else examples
    return settings(max_examples=n, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def check(files: dict[str, bytes], render: bool = False):
    """Write the files, analyse them, assert the property; return the result."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for name, data in files.items():
            (Path(d) / name).write_bytes(data)
            paths.append(str(Path(d) / name))
        result = analyze(paths, rules=RULES)  # must not raise
        assert result.verdict in VERDICTS
        for p in result.problems:
            text = str(p)
            assert "\n" not in text and "Traceback" not in text, text
            assert p.source.startswith(d) or p.source == d, text  # names the input
        for path, data in zip(paths, files.values()):
            if not path.endswith(".gz") and sources.looks_binary(data[:sources.SNIFF]):
                assert any(p.source == path and p.fatal for p in result.problems), (path, result.problems)
        if render:
            doc = to_dict(result)
            to_json(doc)
            to_markdown(doc)
        return result


# ---------------------------------------------------------------- hypothesis: shapeless input

@fuzz_settings(60)
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    check({"input.log": data})


@fuzz_settings(60)
@given(st.lists(st.one_of(st.text(max_size=80), st.sampled_from([n.decode("latin-1") for n in NASTY])), max_size=60),
       st.sampled_from(["\n", "\r\n", "\r", "\x00"]))
def test_text_with_nul_cr_and_control_chars(parts, sep):
    check({"input.log": sep.join(parts).encode("utf-8", "surrogatepass")})


# ---------------------------------------------------------------- corpus mutation

@st.composite
def mutated(draw):
    data = bytearray(SEED_BYTES[draw(st.sampled_from(SEED_KEYS))])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "crlf", "dup", "delete"]))
        pos = draw(st.integers(0, max(len(data), 1) - 1)) if data else 0
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.one_of(st.sampled_from(NASTY), st.binary(max_size=64)))
        elif op == "splice":  # a run of lines from another fixture (another format) at a line start
            other = SEED_BYTES[draw(st.sampled_from(SEED_KEYS))].split(b"\n")
            a = draw(st.integers(0, len(other) - 1))
            chunk = b"\n".join(other[a:a + draw(st.integers(1, 40))]) + b"\n"
            at = data.rfind(b"\n", 0, pos) + 1
            data[at:at] = chunk
        elif op == "crlf":
            data = bytearray(bytes(data).replace(b"\n", b"\r\n"))
        elif op == "dup" and data:
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end + 1
            data[end:end] = data[pos:end] * draw(st.integers(1, 50))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 2000))]
    data = bytes(data)
    wrap = draw(st.sampled_from(["plain", "plain", "plain", "gzip", "gzip-damaged"]))
    if wrap == "plain":
        return "input.log", data
    packed = bytearray(gzip.compress(data))
    if wrap == "gzip-damaged":
        cut = draw(st.integers(10, len(packed)))
        packed = packed[:cut]
        if packed and draw(st.booleans()):
            packed[draw(st.integers(0, len(packed) - 1))] ^= 0xFF
    return "input.log.gz", bytes(packed)


@fuzz_settings(150)
@given(mutated())
def test_corpus_mutation(case):
    name, data = case
    check({name: data})


@fuzz_settings(8, slow=True)
@given(st.lists(mutated(), min_size=2, max_size=4))
def test_several_mutated_inputs_on_one_timeline_and_rendered(cases):
    check({f"{i}-{name}": data for i, (name, data) in enumerate(cases)}, render=True)


# ---------------------------------------------------------------- intact prefix

def found(result):
    return sorted((f.id, f.confidence) for f in result.found)


LOG = (REPRO / "dockerd.log").read_bytes()
BASELINE = found(analyze([str(REPRO / "dockerd.log")], rules=RULES))


def test_baseline_is_the_49227_diagnosis():
    assert ("moby-49227", "confirmed") in BASELINE


@fuzz_settings(6, slow=True)
@given(st.binary(min_size=1, max_size=3000), st.sampled_from([b"\n", b"", b"\r\n", b"\x00"]))
def test_garbage_after_the_log_keeps_its_findings(garbage, sep):
    result = check({"dockerd.log": LOG + sep + garbage})
    assert found(result) == BASELINE


@fuzz_settings(4, slow=True)
@given(mutated())
def test_a_broken_extra_file_does_not_change_the_findings_on_the_intact_log(case):
    name, data = case
    result = check({"dockerd.log": LOG, "zz-" + name: data})
    assert ("moby-49227", "confirmed") in found(result)


def test_garbage_after_every_file_of_the_full_reproduction():
    files = {p.name: p.read_bytes() for p in REPRO.iterdir()}
    before = found(check(files))
    assert ("moby-49227", "confirmed") in before
    garbage = bytes(range(256)) * 4 + b"\n\xff\xfe\x00 goroutine 99 [\n"
    after = check({name: data + b"\n" + garbage for name, data in files.items()})
    assert found(after) == before


# ---------------------------------------------------------------- fixed hostile shapes

DUMP = (REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_bytes()


def positions(data: bytes, n: int = 25):
    step = 97 if LONG else max(1, len(data) // n)
    return range(0, len(data) + 1, step)


@pytest.mark.parametrize("data", [DUMP, LOG], ids=["dump", "log"])
def test_truncation_at_many_positions(data):
    for cut in positions(data):
        check({"input.log": data[:cut]})


def test_truncated_gzip_is_reported_and_the_rest_read():
    packed = gzip.compress(LOG)
    for cut in positions(packed, 8):
        result = check({"dockerd.log.gz": packed[:cut], "dump.log": DUMP})
        if cut < len(packed):
            assert any(p.source.endswith("dockerd.log.gz") for p in result.problems), cut
        if cut > len(packed) // 2:  # what was decompressed before the cut is still read
            assert next(s.lines for s in result.inputs if s.name.endswith("dockerd.log.gz")) > 100, cut
        assert any(s.goroutines for s in result.inputs if s.name.endswith("dump.log"))


def test_one_mebibyte_line_between_valid_lines():
    line = b'time="2025-01-07T15:25:42.000000000Z" level=info msg="x"\n'
    for size in (sources.MAX_LINE - 1, sources.MAX_LINE, sources.MAX_LINE + 1, 3 * sources.MAX_LINE):
        result = check({"input.log": line + b"y" * size + b"\n" + line})
        assert result.inputs[0].lines == 3
        cut = [p for p in result.problems if "longer than" in p.message]
        assert (len(cut) == 1 and cut[0].line == 2) if size > sources.MAX_LINE else not cut, (size, cut)


def test_one_mebibyte_line_inside_a_goroutine_dump():
    lines = DUMP.split(b"\n")
    data = b"\n".join(lines[:5] + [b"\t" + b"z" * (sources.MAX_LINE + 5)] + lines[5:])
    result = check({"dump.log": data})
    assert any(s.goroutines for s in result.inputs)


@pytest.mark.parametrize("n", [10**5, 10**6])
def test_many_tiny_lines(n):
    result = check({"tiny.log": b"a\n" * n})
    assert result.inputs[0].lines == n


def test_many_empty_crlf_lines_then_the_log():
    result = check({"dockerd.log": b"\r\n" * 10**5 + LOG})
    assert ("moby-49227", "confirmed") in found(result)
