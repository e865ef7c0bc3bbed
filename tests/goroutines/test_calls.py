"""Calls from dockerd into containerd joined to the containerd goroutine serving them
(goroutines.calls), on the real pair of tests/fixtures/captured/containerd-join-20.10: docker
stop holds the container lock in killWithSignal and waits in the containerd Kill call, which
containerd's goroutine 147 serves while it waits on the frozen shim."""

import json
import re

from conftest import FIXTURES, forensics

from forensics.analyze import analyze
from forensics.goroutines.calls import join
from forensics.parse.fastdump import parse_text
from forensics.parse.programs import label

JOIN = FIXTURES / "captured" / "containerd-join-20.10"
DOCKERD = JOIN / "goroutine-stacks-2026-12-06T073507Z.log"
CONTAINERD = JOIN / "containerd.8988.stacks.log"


def dumps(*texts):
    return label([d for i, t in enumerate(texts) for d in parse_text(t, f"dump{i}")])


def test_dockerd_kill_joined_to_containerd_local_kill():
    calls = join(dumps(DOCKERD.read_text(), CONTAINERD.read_text()))
    assert len(calls) == 1
    call = calls[0].to_dict()
    assert (call["method"], call["service"], call["probably"]) == ("Kill", "tasks", False)
    (client,) = [call["client"]]
    assert (
        client["program"],
        client["gid"],
        client["func"],
        client["file"].rsplit("/", 1)[-1],
        client["lineno"],
    ) == ("dockerd", 124, "github.com/containerd/containerd.(*task).Kill", "task.go", 231)
    (server,) = call["servers"]
    assert (server["program"], server["gid"], server["func"], server["file"], server["lineno"]) == (
        "containerd",
        147,
        "github.com/containerd/containerd/services/tasks.(*local).Kill",
        "github.com/containerd/containerd/services/tasks/local.go",
        443,
    )


def test_no_containerd_dump_no_call_and_copies_count_once():
    assert join(dumps(DOCKERD.read_text())) == []  # nothing to say without containerd's side
    twice = join(dumps(DOCKERD.read_text(), CONTAINERD.read_text(), CONTAINERD.read_text()))
    assert len(twice) == 1 and not twice[0].probably and {s.gid for s in twice[0].servers} == {147}


def test_two_serving_goroutines_is_probably():
    """A second Kill in flight (goroutine 147's block again as goroutine 990): either may serve it."""
    text = CONTAINERD.read_text()
    block = next(b for b in text.split("\n\n") if b.startswith("goroutine 147 "))
    calls = join(
        dumps(
            DOCKERD.read_text(),
            text + "\n" + block.replace("goroutine 147 ", "goroutine 990 ", 1) + "\n",
        )
    )
    assert calls[0].probably and [s.gid for s in calls[0].servers] == [147, 990]
    assert "probably served by one of containerd goroutine 147" in calls[0].describe()


def test_dump_cli_text_and_json_show_both_sides():
    proc = forensics("dump", DOCKERD, CONTAINERD, "--top", "1")
    assert re.search(
        r"^== \S+goroutine-stacks-2026-12-06T073507Z\.log:1-637  dockerd stacks", proc.stdout, re.M
    )
    assert re.search(
        r"^== \S+containerd\.8988\.stacks\.log:1-475  containerd stacks", proc.stdout, re.M
    )
    line = (
        "dockerd goroutine 124 [select] calls containerd tasks.Kill at containerd.(*task).Kill (task.go:231): "
        "served by containerd goroutine 147 [select] in tasks.(*local).Kill (local.go:443)"
    )
    assert f"  CALL {line}" in proc.stdout
    assert f"      - holder in a call: {line}" in proc.stdout  # under the lock goroutine 124 holds
    data = json.loads(forensics("dump", DOCKERD, CONTAINERD, "--json", "-").stdout)
    assert [d["program"] for d in data["dumps"]] == ["dockerd", "containerd"]
    assert data["calls"][0]["servers"][0]["gid"] == 147


def test_report_carries_programs_and_calls():
    from forensics.report import to_markdown
    from forensics.report.data import to_dict

    report = to_dict(analyze([str(DOCKERD), str(CONTAINERD)]))
    assert report["revision"] == 3
    assert {d["program"] for d in report["dumps"]} == {"dockerd", "containerd"}
    assert [lock["program"] for lock in report["locks"]] == ["dockerd"]
    assert (
        report["calls"][0]["client"]["gid"] == 124
        and report["calls"][0]["servers"][0]["lineno"] == 443
    )
    md = to_markdown(report)
    assert (
        "dockerd goroutine 124 calls `tasks.Kill` at `task.go:231`: served by containerd goroutine 147 in "
        "`tasks.(*local).Kill` at `local.go:443`"
    ) in md
