"""envelopes.records reads a line's host, process and pid once per run of lines whose envelope
text from the host on is the same, its time once per run with the same text before the host (in
the same shape, the same year), and takes a line starting with the whole short envelope of the
line before (ending ": ") to have it: each line still reads as it does alone."""

from pathlib import Path

import pytest
from conftest import FIXTURES

from forensics.ingest import envelopes

ROOT = Path(__file__).resolve().parents[2]
LINE_SHAPED = [
    ROOT / "samples" / "captured" / "repro-49227-journal-short.log",
    FIXTURES / "ingest" / "repro-49227-rsyslog-traditional.log",
    FIXTURES / "ingest" / "repro-49227-rsyslog-rfc3339.log",
    FIXTURES / "ingest" / "repro-49227-rsyslog-rfc5424.log",
    FIXTURES / "ingest" / "repro-49227-busybox-syslogd.log",
    FIXTURES / "ingest" / "special-journal-short-iso.log",
]
# the same text after the time in two shapes that split it differently (a Docker Desktop for
# Windows line, then an RFC 5424 one); a pid that changes, a host that changes; the macOS supervisor
ODD = [
    "[15:25:42.123][a b 1 m [x][Info ] hello",
    "<30>1 2025-01-07T15:25:42Z [15:25:42.123][a b 1 m [x][Info ] hello",
    "<30>1 2025-01-07T15:25:43Z [15:25:42.123][a b 1 m [x][Info ] again",
    "Jan 07 15:25:42 host dockerd[1042]: one",
    "Jan 07 15:25:42 host dockerd[1043]: two",
    "Jan 07 15:25:42 other dockerd[1043]: three",
    "Jan 07 15:25:42 other dockerd: no pid",
    "Jan 07 15:25:42 other dockerd:no space",
    "2025-01-07T15:25:42.000300+00:00 mac com.docker.backend[77]: x (pid: 1234): stderr: msg",
    "2025-01-07T15:25:42.000300+00:00 mac com.docker.backend[77]: plain",
    "Jan 07 15:25:42 host user.notice dockerd[9]: busybox",
    "Jan 07 15:25:42 host user.notice dockerd[9]: busybox again",
    "Jan 07 15:25:42 host dockerd:x",  # an envelope without the space: another line may add it
    "Jan 07 15:25:42 host dockerd: y",
    "Jan 07 15:25:42 host dockerd[1]: a",
    "Jan 07 15:25:42 host dockerd[1]: : b",
    "Jan 07 15:25:42 host dockerd[1]: dockerd[2]: c",
    "Jan 07 15:25:42 host dockerd[1]: #011tabbed",
    "Jan 07 15:25:42 host dockerd[1]: ^Ialso tabbed",
    "[  183.417265] host dockerd[9]: monotonic",
    "[  183.417265] host dockerd[9]: monotonic again",
    "[15:25:43.123][ApiProxy][Info   ] windows",
    # the same second in another year (the logrus stamp tells it), last: the year carries over
    'Jan 07 15:25:42 host dockerd[1042]: time="2025-01-07T15:25:42Z" level=info msg=a',
    'Jan 07 15:25:42 host dockerd[1042]: time="2024-01-07T15:25:42Z" level=info msg=b',
]


def _fields(rec):
    return (rec.text, rec.time, rec.host, rec.proc, rec.pid, rec.envelope)


@pytest.mark.parametrize("lines", [*LINE_SHAPED, ODD], ids=lambda p: getattr(p, "name", "odd"))
def test_each_line_reads_as_it_does_alone(lines):
    if isinstance(lines, Path):
        lines = lines.read_text(errors="replace").splitlines()
    together = list(envelopes.records("x", lines, 2026))
    assert len(together) == len(lines)
    alone = [next(iter(envelopes.records("x", [line], 2026))) for line in lines]
    enveloped = [(a, b) for a, b in zip(alone, together) if a.envelope != "plain"]
    assert len(enveloped) >= 8
    for one, run in enveloped:
        assert _fields(run) == _fields(one)
