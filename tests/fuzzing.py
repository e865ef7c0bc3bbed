"""The corpus mutator and the property every fuzz case must hold, shared by tests/test_fuzz.py
(hypothesis draws the choices) and bench/fuzz_long.py (a seeded random.Random draws them)."""

from __future__ import annotations

import gzip
import random
import tempfile
from pathlib import Path

from conftest import FIXTURES, REPRO

from forensics.analyze import analyze
from forensics.engine.ruleset import load_rules
from forensics.ingest import sources
from forensics.report import to_dict, to_json, to_markdown

RULES = load_rules()
VERDICTS = {"found", "clean", "inconclusive"}
SEEDS = sorted(
    p
    for p in [*REPRO.iterdir(), *(FIXTURES / "dumps").rglob("*")]
    if p.is_file() and p.suffix in (".log", ".txt") and p.stat().st_size < 120_000
)
SEED_BYTES = {p.name + str(i): p.read_bytes() for i, p in enumerate(SEEDS)}
SEED_KEYS = sorted(SEED_BYTES)
NASTY = [
    b"\x00",
    b"\xff",
    b"\xc3(",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\x1b[31m",
    b"goroutine 1 [running]:\n",
    b'time="2025-01-07T15:25:42Z" level=error msg="',
    b"\t/x.go:1 +0x1\n",
    b"\xe2\x80\xae",
    b"<script>",
    b"}}{{",
    b"%s%n",
    b"\x7f" * 9,
    b"SIGQUIT: quit\n",
]


class Seeded(random.Random):
    """Choices for :func:`mutate` from a seed: case N of a long run is reproduced by its seed."""

    def integer(self, lo: int, hi: int) -> int:
        return self.randint(lo, hi)

    def blob(self, max_size: int) -> bytes:
        return self.randbytes(self.randint(0, max_size))


def mutate(pick) -> tuple[str, bytes]:
    """A real fixture damaged 1-6 times (bit flips, truncation, insertion of nasty bytes, lines
    spliced from another format, CRLF, duplication, deletion), maybe gzipped and the gzip damaged.
    ``pick`` has ``integer(lo, hi)``, ``choice(seq)`` and ``blob(max_size)``."""
    data = bytearray(SEED_BYTES[pick.choice(SEED_KEYS)])
    for _ in range(pick.integer(1, 6)):
        op = pick.choice(["flip", "truncate", "insert", "splice", "crlf", "dup", "delete"])
        pos = pick.integer(0, max(len(data), 1) - 1) if data else 0
        if op == "flip" and data:
            data[pos] ^= 1 << pick.integer(0, 7)
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = pick.choice(NASTY) if pick.integer(0, 1) else pick.blob(64)
        elif op == "splice":  # a run of lines from another fixture (another format) at a line start
            other = SEED_BYTES[pick.choice(SEED_KEYS)].split(b"\n")
            a = pick.integer(0, len(other) - 1)
            chunk = b"\n".join(other[a : a + pick.integer(1, 40)]) + b"\n"
            at = data.rfind(b"\n", 0, pos) + 1
            data[at:at] = chunk
        elif op == "crlf":
            data = bytearray(bytes(data).replace(b"\n", b"\r\n"))
        elif op == "dup" and data:
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end + 1
            data[end:end] = data[pos:end] * pick.integer(1, 50)
        elif op == "delete":
            del data[pos : pos + pick.integer(1, 2000)]
    data = bytes(data)
    wrap = pick.choice(["plain", "plain", "plain", "gzip", "gzip-damaged"])
    if wrap == "plain":
        return "input.log", data
    packed = bytearray(gzip.compress(data))
    if wrap == "gzip-damaged":
        packed = packed[: pick.integer(10, len(packed))]
        if packed and pick.integer(0, 1):
            packed[pick.integer(0, len(packed) - 1)] ^= 0xFF
    return "input.log.gz", bytes(packed)


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
            if not path.endswith(".gz") and sources.looks_binary(data[: sources.SNIFF]):
                assert any(p.source == path and p.fatal for p in result.problems), (
                    path,
                    result.problems,
                )
        if render:
            doc = to_dict(result)
            to_json(doc)
            to_markdown(doc)
        return result


def check_own_outputs(files: dict[str, bytes]) -> None:
    """Property: the reports forensics writes (JSON, Markdown, HTML, maybe gzipped) beside its inputs never
    change the diagnosis of those inputs: they are skipped, not read as evidence."""
    from forensics.report import to_html

    with tempfile.TemporaryDirectory() as d:
        for name, data in files.items():
            (Path(d) / name).write_bytes(data)
        first = analyze([d], rules=RULES)
        doc = to_dict(first)
        for name, text in (
            ("r.json", to_json(doc)),
            ("r.md", to_markdown(doc)),
            ("r.html", to_html(doc)),
        ):
            (Path(d) / name).write_text(text, encoding="utf-8")
            (Path(d) / (name + ".gz")).write_bytes(gzip.compress(text.encode()))
        again = analyze([d], rules=RULES)
        assert sorted((f.id, f.confidence) for f in again.found) == sorted(
            (f.id, f.confidence) for f in first.found
        )
        assert sum(1 for i in again.inputs if i.skipped) == 6


SECRET_LINES = [  # {v}: a secret the test draws; every form must be masked in every output
    'level=error msg="pull failed" url="https://robot:{v}@registry.example.net/v2/"',
    'level=debug msg="env" PASSWORD={v} other=1',
    'level=debug msg="env" api_token: {v}',
    'level=debug msg="config" "secret":"{v}"',
    'level=warning msg="auth" header="Authorization: Bearer {v}"',
]


def check_redaction(secret_line: str, value: str) -> None:
    """Property: a secret planted next to a cited line survives in no output of ``--redact``."""
    from rich.console import Console

    from forensics.report import print_text, to_html
    from forensics.report.redact import redact

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "dockerd.log"
        path.write_text(_planted(secret_line, value), encoding="utf-8")
        doc = to_dict(analyze([str(path)], rules=RULES))
        assert value in to_json(
            doc
        )  # the planted line is in the report: the property means something
        out = redact(doc)
        console = Console(record=True, width=200)
        print_text(out, console)
        for text in (to_json(out), to_markdown(out), to_html(out), console.export_text()):
            assert not _holds(text, value)


def _planted(secret_line: str, value: str) -> str:
    """The reproduction's log with the secret line planted next to the cited panic."""
    lines = LOG_LINES[:]
    at = next(i for i, line in enumerate(lines) if "http: panic serving" in line)
    lines.insert(at, 'time="2026-11-29T12:28:11.000000000Z" ' + secret_line.format(v=value))
    return "\n".join(lines) + "\n"


def check_scan_redaction(secret_line: str, value: str) -> None:
    """Property: a secret planted in two hosts' logs survives in no file of ``scan --redact``
    (tables, Parquet read as a table, pages) nor on its terminal."""
    import io

    import pandas as pd
    from rich.console import Console

    from forensics.fleet.run import run

    def scanned(root: Path, out: Path, redact) -> list[str]:
        terminal = io.StringIO()
        console = Console(file=terminal, width=200)
        code = run(
            [], [str(root)], out, 1, None, None, True, "high", None, False, console, None, redact
        )
        assert code == 1
        return [terminal.getvalue()] + [
            pd.read_parquet(f).to_csv() if f.suffix == ".parquet" else f.read_text(errors="replace")
            for f in out.rglob("*")
            if f.is_file()
        ]

    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "hosts"
        for host in ("node-a", "node-b"):
            (root / host).mkdir(parents=True)
            (root / host / "dockerd.log").write_text(_planted(secret_line, value), encoding="utf-8")
        plain = scanned(root, Path(d) / "plain", None)
        assert any(_holds(text, value) for text in plain)  # the property means something
        for text in scanned(root, Path(d) / "redacted", {}):
            assert not _holds(text, value)


def _holds(text: str, value: str) -> bool:
    """``value`` is in ``text`` as it is, or as an HTML page escapes it (``&`` -> ``&amp;``)."""
    import html

    return value in text or html.escape(value) in text


LOG_LINES = (REPRO / "dockerd.log").read_text(encoding="utf-8").splitlines()
