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

import pytest
from conftest import REPRO
from fuzzing import (
    NASTY,
    RULES,
    SECRET_LINES,
    check,
    check_own_outputs,
    check_redaction,
    check_scan_redaction,
    mutate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensics.analyze import analyze
from forensics.ingest import sources

LONG = int(os.environ.get("FORENSICS_FUZZ_EXAMPLES", "0"))


def fuzz_settings(examples: int, slow: bool = False):
    n = (max(LONG // 10, examples) if slow else max(LONG, examples)) if LONG else examples
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# ---------------------------------------------------------------- hypothesis: shapeless input


@fuzz_settings(60)
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    check({"input.log": data})


@fuzz_settings(60)
@given(
    st.lists(
        st.one_of(st.text(max_size=80), st.sampled_from([n.decode("latin-1") for n in NASTY])),
        max_size=60,
    ),
    st.sampled_from(["\n", "\r\n", "\r", "\x00"]),
)
def test_text_with_nul_cr_and_control_chars(parts, sep):
    check({"input.log": sep.join(parts).encode("utf-8", "surrogatepass")})


# ---------------------------------------------------------------- corpus mutation


class Drawn:
    """mutate()'s choices drawn by hypothesis (so failures shrink)."""

    def __init__(self, draw):
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, seq):
        return self.draw(st.sampled_from(seq))

    def blob(self, max_size: int) -> bytes:
        return self.draw(st.binary(max_size=max_size))


@st.composite
def mutated(draw):
    return mutate(Drawn(draw))


@fuzz_settings(150)
@given(mutated())
def test_corpus_mutation(case):
    name, data = case
    check({name: data})


@fuzz_settings(8, slow=True)
@given(st.lists(mutated(), min_size=2, max_size=4))
def test_several_mutated_inputs_on_one_timeline_and_rendered(cases):
    check({f"{i}-{name}": data for i, (name, data) in enumerate(cases)}, render=True)


@fuzz_settings(6, slow=True)
@given(st.lists(mutated(), min_size=1, max_size=3))
def test_own_outputs_beside_the_inputs_never_change_the_diagnosis(cases):
    check_own_outputs({f"{i}-{name}": data for i, (name, data) in enumerate(cases)})


def test_own_outputs_beside_the_reproduction_are_skipped():
    check_own_outputs({p.name: p.read_bytes() for p in REPRO.iterdir()})


SECRETS = st.text(  # the value of a planted secret (between letters no report holds)
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&*+,-.;=^_|~",
    min_size=4,
    max_size=24,
)


@fuzz_settings(10, slow=True)
@given(st.sampled_from(SECRET_LINES), SECRETS)
def test_no_planted_secret_survives_redaction(line, secret):
    check_redaction(
        line, f"Zq{secret}Qx"
    )  # bounded by letters no report holds: a found copy is the secret


@fuzz_settings(3, slow=True)
@given(st.sampled_from(SECRET_LINES), SECRETS)
def test_no_planted_secret_survives_a_redacted_scan(line, secret):
    check_scan_redaction(line, f"Zq{secret}Qx")


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
            assert (
                next(s.lines for s in result.inputs if s.name.endswith("dockerd.log.gz")) > 100
            ), cut
        assert any(s.goroutines for s in result.inputs if s.name.endswith("dump.log"))


def test_one_mebibyte_line_between_valid_lines():
    line = b'time="2025-01-07T15:25:42.000000000Z" level=info msg="x"\n'
    for size in (
        sources.MAX_LINE - 1,
        sources.MAX_LINE,
        sources.MAX_LINE + 1,
        3 * sources.MAX_LINE,
    ):
        result = check({"input.log": line + b"y" * size + b"\n" + line})
        assert result.inputs[0].lines == 3
        cut = [p for p in result.problems if "longer than" in p.message]
        assert (len(cut) == 1 and cut[0].line == 2) if size > sources.MAX_LINE else not cut, (
            size,
            cut,
        )


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
