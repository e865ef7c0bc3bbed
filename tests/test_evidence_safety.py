"""Issue 21: evidence is sacred. The tool never reads its own outputs as evidence, never writes
over an input, and --redact holds for every class it promises. Real samples throughout."""
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import HEALTHY, REPRO


def run(*args, stdin=None, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "forensics", *map(str, args)], input=stdin,
                          capture_output=True, text=True, cwd=cwd, env={**os.environ, "COLUMNS": "200"})
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


@pytest.fixture
def case(tmp_path):
    folder = tmp_path / "case"
    shutil.copytree(HEALTHY, folder)
    return folder


@pytest.mark.parametrize("option,name", [("--html", "report.html"), ("--json", "report.json"),
                                         ("--markdown", "report.md")])
def test_own_report_in_the_folder_is_not_evidence(case, option, name):
    assert run("analyze", case, "-q", option, case / name).returncode == 0
    proc = run("analyze", case, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "clean" and report["findings"] == []
    skipped = [i for i in report["inputs"] if i["name"].endswith(name)]
    assert skipped and skipped[0]["kind"].startswith("skipped: written by forensics")


def test_scan_out_inside_a_host_folder_is_not_evidence(case):
    out = case / "scan-out"
    assert run("scan", case, "--out", out, "-j", "1", "-q", "--per-host-reports").returncode == 0
    assert (out / "fleet.html").exists()
    # a second scan (cache fingerprint) and an analyze of the folder see only the host's own files
    proc = run("analyze", case, "--json", "-")
    assert proc.returncode == 0 and json.loads(proc.stdout)["findings"] == []
    assert run("scan", case, "--out", out, "-j", "1", "-q").returncode == 0


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(REPRO / "dockerd.log", folder / "dockerd.log")
    shutil.copy(REPRO.parent / "49227-control" / "dockerd.log.gz", folder / "control.log.gz")
    (tmp_path / "link.log").symlink_to(folder / "dockerd.log")
    return folder


@pytest.mark.parametrize("given,output", [
    ("in/dockerd.log", "in/dockerd.log"),
    ("in/dockerd.log", "../{tmp}/in/./dockerd.log"),
    ("in/dockerd.log", "link.log"),
    ("link.log", "in/dockerd.log"),
    ("in/control.log.gz", "in/control.log.gz"),
    ("in", "in/dockerd.log"),  # an input inside a directory given as input
])
@pytest.mark.parametrize("option", ["--html", "--json", "--markdown"])
def test_an_output_never_overwrites_an_input(inbox, given, output, option):
    tmp = inbox.parent
    before = {p.name: p.read_bytes() for p in inbox.iterdir()}
    proc = run("analyze", given, option, output.format(tmp=tmp.name), cwd=tmp)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "input" in proc.stderr
    assert {p.name: p.read_bytes() for p in inbox.iterdir()} == before
    assert (tmp / "link.log").is_symlink()


def test_report_and_dump_never_overwrite_their_input(inbox, tmp_path):
    saved = tmp_path / "saved.json"
    run("analyze", inbox / "dockerd.log", "-q", "--json", saved)
    text = saved.read_text()
    assert run("report", saved, "--redact", "--json", saved).returncode == 2
    assert saved.read_text() == text
    dump = tmp_path / "stacks.log"
    shutil.copy(REPRO / "goroutine-stacks-2026-11-29T122857Z.log", dump)
    assert run("dump", dump, "--html", dump).returncode == 2
    assert dump.read_bytes() == (REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_bytes()


def test_outputs_are_renamed_into_place_never_written_through_a_symlink(tmp_path):
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("keep me")
    (tmp_path / "out.html").symlink_to(victim)
    assert run("analyze", REPRO / "dockerd.log", "-q", "--html", tmp_path / "out.html").returncode == 1
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "out.html").is_symlink() and "<html" in (tmp_path / "out.html").read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_one_file_or_stdout_for_two_outputs_is_refused(tmp_path):
    both = run("analyze", REPRO / "dockerd.log", "--json", "-", "--markdown", "-")
    assert both.returncode == 2 and both.stdout == ""
    same = run("analyze", REPRO / "dockerd.log", "--json", tmp_path / "x", "--markdown", tmp_path / "./x")
    assert same.returncode == 2 and not (tmp_path / "x").exists()
