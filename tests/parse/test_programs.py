"""Which program wrote each dump (parse.programs), on real captures of dockerd 20.10.24,
containerd 1.6.20 and its runc shim, and Go programs of our own."""

import json

import pytest
from conftest import FIXTURES

from forensics.analyze import analyze
from forensics.ingest import envelopes, sources
from forensics.parse import parse_records

DUMPS = FIXTURES / "dumps" / "real-dockerd"
INGEST = FIXTURES / "ingest" / "real-dockerd"
JOIN = FIXTURES / "captured" / "containerd-join-20.10"


def programs(path):
    problems = []
    found = []
    for inp in sources.walk([str(path)], problems):
        found += [(d.line, d.program) for d in parse_records(envelopes.read(inp, problems)).dumps]
    return found


@pytest.mark.parametrize(
    "path, expected",
    [
        (DUMPS / "goroutine-stacks-sigusr1.log", [(1, "dockerd")]),
        (DUMPS / "pprof-goroutine-debug1.txt", [(1, "dockerd")]),
        (DUMPS / "sigquit-stderr.log", [(198, "dockerd")]),
        (DUMPS / "containerd-stacks-sigusr1-file.log", [(1, "containerd")]),
        (DUMPS / "containerd-pprof-goroutine-debug2.txt", [(1, "containerd")]),
        (DUMPS / "containerd-pprof-goroutine-debug1.txt", [(1, "containerd")]),
        # containerd's log: its own dump (line 247) and the shim's, relayed by containerd (line 249)
        (INGEST / "containerd.log", [(247, "containerd"), (249, "containerd-shim")]),
        (INGEST / "containerd-json.log", [(83, "containerd"), (103, "containerd-shim")]),
        # dockerd's output with its managed containerd's: the containerd dump logged as one line
        (JOIN / "dockerd-and-containerd.log", [(299, "containerd")]),
        (
            FIXTURES / "captured" / "failures-20.10" / "lockdemo-deadlock-sigquit.txt",
            [(2, "other")],
        ),
    ],
)
def test_program_of_real_dumps(path, expected):
    assert programs(path) == expected


def test_envelope_decides_when_frames_do_not(tmp_path):
    """A short excerpt with no telling frame: the journal's process name decides."""
    text = (
        (JOIN / "containerd.8988.stacks.log").read_text().split("\n\n")[3]
    )  # one select goroutine of grpc
    assert "containerd/containerd/cmd" not in text and "services/" not in text
    lines = [
        {
            "MESSAGE": line,
            "SYSLOG_IDENTIFIER": "containerd",
            "_PID": "8988",
            "__REALTIME_TIMESTAMP": str(1795955292000000 + i),
        }
        for i, line in enumerate(text.splitlines())
    ]
    path = tmp_path / "journal.json"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert [p for _, p in programs(path)] == ["containerd"]
    plain = tmp_path / "plain.log"
    plain.write_text(text + "\n")
    assert [p for _, p in programs(plain)] == ["other"]


def test_program_in_evidence_json_and_dump_cli():
    result = analyze(
        [
            str(JOIN / "goroutine-stacks-2026-12-06T073507Z.log"),
            str(JOIN / "containerd.8988.stacks.log"),
        ]
    )
    assert dict(
        zip(
            result.evidence["dumps"]["source"].str.rsplit("/", n=1).str[-1],
            result.evidence["dumps"]["program"],
        )
    ) == {
        "goroutine-stacks-2026-12-06T073507Z.log": "dockerd",
        "containerd.8988.stacks.log": "containerd",
    }
    locks = result.evidence["locks"]
    assert locks["program"].tolist() == ["dockerd"]
    assert set(result.evidence["goroutines"]["program"]) == {"dockerd", "containerd"}
