"""logrus quoting, envelopes and versions, on real lines from the captures."""

from datetime import datetime, timezone

import pytest

from forensics.ingest import envelopes
from forensics.parse import logrus, versions


def test_logrus_daemon_line_27():
    line = (
        'time="2026-11-29T12:27:58.219248575Z" level=info msg="Docker daemon" commit=c710b88-unsupported '
        "containerd-snapshotter=false storage-driver=vfs version=27.4.1"
    )
    parsed = logrus.parse(line)
    assert parsed.level == "info" and parsed.msg == "Docker daemon"
    assert parsed.fields == {
        "commit": "c710b88-unsupported",
        "containerd-snapshotter": "false",
        "storage-driver": "vfs",
        "version": "27.4.1",
    }
    assert parsed.time == datetime(2026, 11, 29, 12, 27, 58, 219248, tzinfo=timezone.utc)


def test_logrus_quoting_rules():
    line = r'time="2026-11-29T12:28:03.127661028Z" level=debug msg="form data: {\"Cmd\":[\"sleep\"]}" x="a\nb\tc\u00e9" graphdriver(s)=vfs e='
    parsed = logrus.parse(line)
    assert parsed.msg == 'form data: {"Cmd":["sleep"]}'
    assert parsed.fields == {"x": "a\nb\tcé", "graphdriver(s)": "vfs", "e": ""}


@pytest.mark.parametrize(
    "quoted,text",
    [
        (
            r'"cut \u"',
            "cut u",
        ),  # an escape whose digits a damaged line lost (found by bench/fuzz_long.py, case 4003)
        (r'"\u00e9t\u00e9 \U0001F600"', "\u00e9t\u00e9 \U0001f600"),
        (r'"\UFFFFFFFF"', r"\UFFFFFFFF"),  # beyond Unicode: left as written
        (r'"\x41\x"', "Ax"),
    ],
)
def test_logrus_damaged_escapes_do_not_raise(quoted, text):
    assert logrus.unquote(quoted) == text
    line = logrus.parse(f'time="2025-01-07T15:25:42Z" level=info msg={quoted}')
    assert line is not None and line.msg == text


def test_logrus_tty_and_bare_msg():
    tty = logrus.parse(
        "INFO[2018-07-24T08:11:07.397856489Z] starting containerd                           revision=abc version=v1.1"
    )
    assert (tty.level, tty.msg, tty.fields["version"]) == ("info", "starting containerd", "v1.1")
    assert logrus.parse("\x1b[31mERRO\x1b[0m[2809574] Handler for GET failed").level == "error"
    assert logrus.parse("level=info msg=Hello").msg == "Hello"
    assert logrus.parse("goroutine 1 [running]:") is None


def test_logrus_cut_line_keeps_what_it_has():
    parsed = logrus.parse('time="2026-11-29T12:28:03Z" level=error msg="cut in the mid')
    assert parsed.msg == "cut in the mid" and parsed.level == "error"


def test_journal_short_envelope():
    lines = [
        "Jan 07 15:25:42 host1 dockerd[1042]: 2025/01/07 15:25:42 http: panic serving @: runtime error: x",
        "Jan 07 15:25:42 host1 dockerd[1042]:         /usr/local/go/src/net/http/server.go:1947 +0xbe",
        "Mar  8 17:02:52 vm06 dockerd[12954]: #011/usr/local/go/src/runtime/sema.go:298 +0x10b",
        "4月 01 11:13:08 tapsupertest7 dockerd[171183]: goroutine 4693 [running]:",
        "Oct  1 10:19:30 localhost dockerd: created by github.com/docker/docker/daemon.(*Daemon).listenMetricsSock",
        "2025-01-07T15:25:42+0000 host1 dockerd[1042]: goroutine 1234 [running]:",
    ]
    recs = list(envelopes.records("j.log", lines, year=2025))
    assert [r.host for r in recs] == [
        "host1",
        "host1",
        "vm06",
        "tapsupertest7",
        "localhost",
        "host1",
    ]
    assert recs[0].text.startswith("2025/01/07 15:25:42 http: panic") and recs[0].pid == 1042
    assert recs[1].text == "        /usr/local/go/src/net/http/server.go:1947 +0xbe"
    assert recs[3].time == datetime(2025, 4, 1, 11, 13, 8) and recs[4].pid is None
    assert recs[5].time == datetime(2025, 1, 7, 15, 25, 42, tzinfo=timezone.utc)


def test_journal_multiline_entry_continuation():
    lines = [
        "Jan 07 15:25:42 host1 dockerd[1042]: http: panic serving @: runtime error: x",
        "                                     goroutine 3836 [running]:",
        "                                             /usr/local/go/src/net/http/server.go:1491 +0x12a",
    ]
    recs = list(envelopes.records("j.log", lines))
    assert recs[1].text == "goroutine 3836 [running]:" and recs[1].pid == 1042
    assert recs[2].text.strip().startswith("/usr/local/go")


def test_plain_lines_pass_through():
    recs = list(
        envelopes.records(
            "d.log", ['time="2026-11-29T12:27:58Z" level=info msg=x', "\tfoo.go:1 +0x1"]
        )
    )
    assert [r.envelope for r in recs] == ["plain", "plain"] and recs[1].text == "\tfoo.go:1 +0x1"


@pytest.mark.parametrize(
    "version,expected",
    [
        ("27.4.1", True),
        ("27.5.0", False),
        ("28.0.0", False),
        ("18.03.0-ce", True),
        ("17.12.1-ce", False),
        ("20.10.24+dfsg1", True),
        ("1.13.1-rhel", False),
        ("24.0.7-ce", True),
        ("v27.4.0", True),
        (None, None),
    ],
)
def test_version_ranges(version, expected):
    assert versions.in_any(version, [">=18.03, <27.5.0"]) is expected
