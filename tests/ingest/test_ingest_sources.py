"""Containers of inputs: compression, tarballs, sosreports, directories, stdin; and what goes wrong
with them (truncation, hostile member names, symbolic-link loops), never with a traceback."""

import io
import os
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import FIXTURES, REPRO, finding

from forensics.analyze import analyze
from forensics.ingest import sources

ARCHIVES = FIXTURES / "ingest" / "archives"
SOS = "sosreport-dockerhost1-2026-11-29-abcdefg"


def names(paths):
    problems = []
    out = [inp.name for inp in sources.walk([str(p) for p in paths], problems)]
    return out, problems


@pytest.mark.parametrize(
    "name", ["dockerd.log.gz", "dockerd.log.bz2", "dockerd.log.xz", "dockerd.log.zst"]
)
def test_compressed_logs_are_diagnosed_alike(name, rules):
    result = analyze([str(ARCHIVES / name)], rules=rules)
    f = finding(result, "moby-49227")
    assert f.confidence == "confirmed" and not result.problems
    assert (str(ARCHIVES / name), 171) in {(c.source, c.line) for c in f.evidence}
    assert result.inputs[0].lines == 1186


def test_support_bundle_keeps_provenance_and_dates_the_dump(rules):
    bundle = str(ARCHIVES / "bundle.tgz")
    result = analyze([bundle], rules=rules)
    assert [i.name for i in result.inputs] == [
        f"{bundle}!{m}"
        for m in (
            "docker/docker-ps-a.txt",
            "var/log/docker.log",
            "var/log/syslog.1.gz",
            "var/run/docker/goroutine-stacks-2026-11-29T122857Z.log",
        )
    ]
    f = finding(result, "moby-49227")
    cited = {(c.source, c.line) for c in f.evidence}
    assert f.confidence == "confirmed" and (f"{bundle}!var/log/docker.log", 171) in cited
    assert (
        f"{bundle}!var/log/syslog.1.gz",
        171,
    ) in cited  # a .gz inside the .tgz, read through both
    dump = next(d for d in result.evidence.dumps if d.source.endswith("T122857Z.log"))
    assert (
        dump.time.isoformat() == "2026-11-29T12:28:57.625405+00:00"
    )  # its 'goroutine stacks written to' line
    assert not result.problems


def test_sosreport_reads_only_what_concerns_docker(rules):
    result = analyze([str(ARCHIVES / f"{SOS}.tar.xz")], rules=rules)
    read = [i.name.split("!", 1)[1] for i in result.inputs]
    assert read == [
        f"{SOS}/sos_commands/docker/docker_ps_-a",
        f"{SOS}/sos_commands/logs/journalctl_--no-pager",
        f"{SOS}/var/log/messages",
    ]  # not proc/meminfo, etc/os-release nor the symlink
    assert finding(result, "moby-49227").confidence == "confirmed" and not result.problems


def test_sosreport_directory_tree(tmp_path):
    root = tmp_path / "report"
    for rel, src in (
        ("sos_commands/docker/docker_ps_-a", REPRO / "docker-ps-a.txt"),
        ("var/log/messages", REPRO / "dockerd.log"),
        ("proc/meminfo", REPRO / "docker-version.txt"),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(src.read_bytes())
    read, problems = names([root])
    assert [Path(n).relative_to(root).as_posix() for n in read] == [
        "sos_commands/docker/docker_ps_-a",
        "var/log/messages",
    ]


def test_truncated_gzip_is_a_partial_read_naming_the_line(rules):
    path = str(ARCHIVES / "dockerd-truncated.log.gz")
    result = analyze([path], rules=rules)
    [problem] = result.problems
    assert (problem.source, problem.line, problem.fatal) == (path, 585, False)
    assert "ended before the end-of-stream marker" in problem.message
    assert (
        finding(result, "inspect-nil-panic").confidence == "confirmed"
    )  # what was read is analysed
    assert result.inputs[0].lines == 584


def test_hostile_member_names_are_reported_and_nothing_is_written(tmp_path, monkeypatch, rules):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    tar = str(ARCHIVES / "evil.tar")
    result = analyze([tar], rules=rules)
    unsafe = [p.source for p in result.problems if "absolute or climbs out" in p.message]
    assert unsafe == [
        f"{tar}!../in/ps.txt",
        f"{tar}!/work/main/samples/49227-repro/docker-version.txt",
    ]
    assert [i.lines for i in result.inputs] == [
        2,
        27,
    ]  # read in memory all the same; the symlink member skipped
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert finding(result, "removal-in-progress").confidence == "confirmed"


def test_links_devices_and_duplicate_members_are_reported_never_created(
    tmp_path, monkeypatch, rules
):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    log = (REPRO / "dockerd.log").read_bytes()
    later = b'time="2026-11-29T13:00:00.000000000Z" level=error msg="appended copy"\n'
    tar_path = tmp_path / "bundle.tar"
    with tarfile.open(tar_path, "w") as tar:

        def add(name, kind=tarfile.REGTYPE, body=b"", link=""):
            info = tarfile.TarInfo(name)
            info.type, info.size, info.linkname = kind, len(body), link
            info.devmajor, info.devminor = 1, 3
            tar.addfile(info, io.BytesIO(body) if body else None)

        add("var/log", tarfile.DIRTYPE)
        add("var/log/docker.log", body=log)
        add("var/log/link.log", tarfile.SYMTYPE, link="/etc/shadow")
        add("var/log/hard.log", tarfile.LNKTYPE, link="var/log/docker.log")
        add("dev/null", tarfile.CHRTYPE)
        add("dev/sda", tarfile.BLKTYPE)
        add("run/pipe", tarfile.FIFOTYPE)
        add("var/log/docker.log", body=later)  # tar -r appended a newer copy
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = analyze([str(tar_path)], rules=rules)
    said = {p.source.split("!", 1)[1]: p.message for p in result.problems}
    assert said["var/log/link.log"].startswith("symbolic link to '/etc/shadow'; not followed")
    assert said["var/log/hard.log"].startswith("hard link to 'var/log/docker.log'; not followed")
    assert (
        said["dev/null"] == "character device; skipped"
        and said["dev/sda"] == "block device; skipped"
    )
    assert said["run/pipe"] == "FIFO; skipped"
    assert "read as 'var/log/docker.log (2)'" in said["var/log/docker.log"]
    assert "var/log" not in said  # a directory is nothing to report
    assert [i.name.split("!", 1)[1] for i in result.inputs] == [
        "var/log/docker.log",
        "var/log/docker.log (2)",
    ]
    assert [i.lines for i in result.inputs] == [log.count(b"\n"), 1]
    assert any(e == "appended copy" for e in result.evidence["events"]["msg"])
    assert finding(result, "inspect-nil-panic").confidence == "confirmed"  # the first copy analysed
    assert (
        sorted(p.name for p in tmp_path.rglob("*")) == before
    )  # nothing created, linked or extracted


def test_symlink_loop_and_broken_link_in_a_directory(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "dockerd.log").write_bytes((REPRO / "dockerd.log").read_bytes())
    os.symlink("..", tmp_path / "logs" / "up")  # a loop back to the top
    os.symlink("nowhere", tmp_path / "logs" / "dangling.log")
    os.symlink("dockerd.log", tmp_path / "logs" / "same.log")  # the same file twice: read once
    read, problems = names([tmp_path])
    assert read == [str(tmp_path / "logs" / "dockerd.log")]
    messages = {(Path(p.source).name, p.message) for p in problems}
    assert ("dangling.log", "broken symbolic link") in messages
    assert any(name == "up" and "already read" in m for name, m in messages)


def test_stdin_may_be_a_compressed_tarball(monkeypatch, rules):
    data = (ARCHIVES / "bundle.tgz").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    result = analyze(["-"], rules=rules)
    assert result.inputs[1].name == "<stdin>!var/log/docker.log"
    assert finding(result, "moby-49227").confidence == "confirmed"


def test_binary_journal_file_and_garbage_are_named_not_tracebacks(tmp_path, rules):
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 8)
    journal = str(ARCHIVES / "system-journal-head.journal")
    result = analyze([journal, str(garbage), str(REPRO / "docker-ps-a.txt")], rules=rules)
    by_source = {p.source: p for p in result.problems}
    assert "journalctl --file" in by_source[journal].message and by_source[journal].fatal
    assert by_source[str(garbage)].fatal and "read error" in by_source[str(garbage)].message
    assert finding(result, "removal-in-progress").confidence == "confirmed"
