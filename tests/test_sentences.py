"""Every sentence a user reads (terminal, Markdown, HTML, forensics dump), on real inputs and on
excerpts cut from real dumps: no repeated lead words ("Now: Now:"), numbers agree with their nouns
("1 goroutines"), no empty parentheses or brackets, no dangling separators ("a, ", "(; ", ", )")."""

from __future__ import annotations

import html as htmllib
import io
import re
from pathlib import Path

import pytest
from conftest import FIXTURES, HEALTHY, REPRO
from rich.console import Console
from test_partial import LIVE, LIVE_LATE, SIGUSR1_49227, cut

from forensics.analyze import analyze
from forensics.cli import dump as dumpcli
from forensics.report import print_text, to_dict, to_html, to_markdown

REPEATED = re.compile(r"\b([A-Za-z]{2,})\b[:,]?\s+\1\b", re.IGNORECASE)
NOUNS = "goroutine|minute|rule|bucket|dump|line|input|waiter|finding|name|group|frame|host"
PLURAL = re.compile(
    rf"(?<![\d.,x:#=-])\b1 (?:{NOUNS})s\b|(?<![\d.,x:#=-])\b(?:0|[2-9]|\d{{2,}}) (?:{NOUNS})\b(?!s)"
)
EMPTY = re.compile(r"(?<![\w)\]])\(\s*\)|(?<!\w)\[\s*\]")
DANGLING = re.compile(r"[,;]\s*$|[,;]\s*\)|\(\s*[,;:]|[,;:]\s*[,;]|\s[,;]\s|:\s*\)")
GO_HEADER = re.compile(r"\[[^\]\n]*\]")  # Go's own "[semacquire, 1 minutes]" is quoted, not ours


def faults(text: str) -> list[tuple[str, str]]:
    found = []
    for line in text.splitlines():
        ours = GO_HEADER.sub("[Go]", line)
        for name, pattern, where in (
            ("repeated lead word", REPEATED, line),
            ("plural", PLURAL, ours),
            ("empty parentheses", EMPTY, ours),
            ("dangling separator", DANGLING, ours),
        ):
            if m := pattern.search(where):
                found.append((name, f"{m.group(0)!r} in {line[:160]!r}"))
    return found


def html_text(page: str) -> str:
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", "", page)
    page = re.sub(
        r"<(?:br|p|li|tr|h\d|div|section|article|details|summary|figcaption)\b[^>]*>", "\n", page
    )
    return htmllib.unescape(re.sub(r"<[^>]+>", "", page))


def _excerpt(tmp: Path, dump: Path, gids: list[int], how: str) -> str:
    path = tmp / f"excerpt-{dump.stem}-{'-'.join(map(str, gids))}-{how}.txt"
    path.write_text(cut(dump, gids, how), encoding="utf-8")
    return str(path)


INPUTS = {
    "49227 reproduction": lambda tmp: [str(REPRO)],
    "healthy log": lambda tmp: [str(HEALTHY / "dockerd-20.10.24-text-debug.log")],
    "healthy daemon, every capture": lambda tmp: [str(HEALTHY)],
    "live holder": lambda tmp: [str(LIVE)],
    "one-goroutine excerpt cut mid-line": lambda tmp: [_excerpt(tmp, SIGUSR1_49227, [127], "cut")],
    "three-goroutine excerpt, journal prefix": lambda tmp: [
        _excerpt(tmp, SIGUSR1_49227, [164, 127, 152], "journal")
    ],
    "live-holder waiter, no indentation": lambda tmp: [_excerpt(tmp, LIVE_LATE, [249], "dedent")],
    "pprof debug=1 alone": lambda tmp: [str(REPRO / "pprof-goroutine-debug1.txt")],
    "real Go deadlock report": lambda tmp: [
        str(FIXTURES / "dumps" / "go-runtime" / "go1.22" / "asleep-stderr.txt")
    ],
}


@pytest.mark.parametrize("name", list(INPUTS))
def test_every_sentence_reads_right(name, tmp_path, rules):
    paths = INPUTS[name](tmp_path)
    report = to_dict(analyze(paths, rules=rules))
    terminal = io.StringIO()
    print_text(
        report,
        Console(file=terminal, width=100_000, highlight=False, soft_wrap=True, color_system=None),
    )
    texts = {
        "terminal": terminal.getvalue(),
        "markdown": to_markdown(report),
        "html": html_text(to_html(report)),
    }
    dumps = dumpcli.load(paths, [])
    if dumps:
        data = dumpcli.report(dumps)
        texts["forensics dump"] = dumpcli.text(data)
        texts["forensics dump --html"] = html_text(dumpcli.html(data))
    bad = {kind: faults(text) for kind, text in texts.items()}
    assert not any(bad.values()), {k: v[:5] for k, v in bad.items() if v}


@pytest.mark.parametrize(
    "text,fault",
    [
        ("What to do now: Now: restart dockerd", "repeated lead word"),
        ("mutex 0xc0: 1 goroutines waiting", "plural"),
        ("longest wait 3 minute", "plural"),
        ("in daemon.(*Daemon).cleanupContainer ()", "empty parentheses"),
        ("give the dump (, kill -USR1)", "dangling separator"),
        ("waiting on a, ", "dangling separator"),
    ],
)
def test_the_checks_catch_what_they_are_for(text, fault):
    assert fault in [name for name, _ in faults(text)]


def test_the_checks_leave_right_sentences_alone():
    assert (
        faults(
            "1 goroutine waits on mutex 0xc00026a180 in daemon.(*Daemon).cleanupContainer (longest wait 1 minute)"
        )
        == []
    )
    assert faults("goroutine 127 [sync.Mutex.Lock, 1 minutes]: main.main()") == []
