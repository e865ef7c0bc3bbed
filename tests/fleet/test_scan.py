"""forensics scan over a fleet of 200+ hosts built from the real captures."""

import gzip
import json
import logging
import subprocess
import sys

import pandas as pd
import pytest
from conftest import HEALTHY, REPRO, SAMPLES, forensics, log_without_dump

from forensics.engine.ruleset import load_rules
from forensics.fleet.scan import hosts_from, scan

HOSTS = 200
LOG_49227 = "\n".join(log_without_dump()) + "\n"
PS = (REPRO / "docker-ps-a.txt").read_text()
HEALTHY_DUMP = (HEALTHY / "goroutine-stacks-sigusr1.log").read_text()
CONTROL_PS = (SAMPLES / "49227-control" / "docker-ps-a.txt").read_text()


def make_host(folder, i):
    """Every 10th host has the 49227 panic and a stuck container (every 20th on the fixed
    27.5.1), every 25th is corrupt, the rest are healthy dumps with docker ps."""
    folder.mkdir()
    if i % 25 == 7:
        (folder / "dockerd.log.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip" * 3)
        return "corrupt"
    if i % 10 == 0:
        version = "27.5.1" if i % 20 == 0 else "27.4.1"
        (folder / "dockerd.log").write_text(
            LOG_49227.replace("version=27.4.1", f"version={version}")
        )
        (folder / "docker-ps-a.txt").write_text(PS)
        return "fixed" if version == "27.5.1" else "49227"
    with gzip.open(folder / "goroutine-stacks.log.gz", "wt") as out:
        out.write(HEALTHY_DUMP)
    (folder / "docker-ps-a.txt").write_text(CONTROL_PS)
    return "healthy"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    kinds = {f"node-{i:03d}": make_host(root / f"node-{i:03d}", i) for i in range(HOSTS)}
    return root, kinds


def check_table(table: pd.DataFrame, kinds: dict):
    assert len(table) == HOSTS and sorted(table.host) == sorted(kinds)
    by = table.set_index("host")
    for host, kind in kinds.items():
        row = by.loc[host]
        if kind == "49227":
            assert row["rule:moby-49227"] == "confirmed" and row.worst_severity == "critical", host
            assert row.engine_version == "27.4.1"
        elif kind == "fixed":
            assert row["rule:moby-49227"] == "not-affected" and row.engine_version == "27.5.1", host
        elif kind == "corrupt":
            assert row.verdict == "unreadable" and "dockerd.log.gz" in row.error, host
        else:
            assert row["rule:moby-49227"] == "not-matched" and pd.isna(row.worst_severity), host
            assert row.go_version == "go1.19"


def test_fleet_with_local_processes(fleet, tmp_path):
    root, kinds = fleet
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "forensics",
            "scan",
            "--hosts-in",
            str(root),
            "--out",
            str(tmp_path),
            "-j",
            "2",
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    check_table(pd.read_csv(tmp_path / "fleet.csv"), kinds)
    assert len(pd.read_parquet(tmp_path / "fleet.parquet")) == HOSTS
    summary = json.loads((tmp_path / "fleet.json").read_text())["summary"]
    plan = next(p for p in summary["upgrade_plan"] if p["rule"] == "moby-49227")
    assert plan["with_evidence"] == sum(k == "49227" for k in kinds.values())
    page = (tmp_path / "fleet.html").read_text()
    assert f"{plan['with_evidence']} hosts</strong> on an affected engine" in page


def test_fleet_on_a_dask_local_cluster(fleet, tmp_path):
    pytest.importorskip("dask.distributed")
    root, kinds = fleet
    table = scan(hosts_from([], [str(root)]), tmp_path, jobs=2, scheduler="local")
    check_table(table, kinds)


def _worker_settings():
    import logging
    import os

    import dask

    return (
        dask.config.get("distributed.worker.profile.enabled"),
        dask.config.get("distributed.admin.tick.interval"),
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        logging.getLogger("distributed.worker").getEffectiveLevel(),
    )


def test_local_cluster_workers_are_lean():
    """A host costs ~20% more in a default Dask worker (profiler, 20 ms tick, malloc trimming).
    Its logs are silenced below CRITICAL: a heartbeat racing the scheduler's close at shutdown
    logged a traceback on the scan's stderr (CI, Python 3.10)."""
    pytest.importorskip("dask.distributed")
    from forensics.fleet.scan import _submitter

    submit, _, close = _submitter(1, "local")
    try:
        assert submit(_worker_settings).result() == (False, "1s", None, logging.CRITICAL)
    finally:
        close()


def test_rerun_after_a_kill_redoes_only_unfinished_hosts(fleet, tmp_path):
    root, kinds = fleet
    hosts = hosts_from([], [str(root)])[:30]
    done = []

    def stop_after_ten(row, cached):
        done.append(row["host"])
        if len(done) == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan(hosts, tmp_path, jobs=1, on_host=stop_after_ten)
    seen = []
    table = scan(hosts, tmp_path, jobs=1, on_host=lambda row, cached: seen.append(cached))
    assert len(table) == 30 and seen.count(True) == 10 and seen.count(False) == 20
    again = []
    scan(hosts, tmp_path, jobs=1, on_host=lambda row, cached: again.append(cached))
    assert again == [True] * 30


def test_changed_input_is_rescanned(tmp_path):
    host = tmp_path / "h1"
    host.mkdir()
    (host / "docker-ps-a.txt").write_text(CONTROL_PS)
    out, flags = tmp_path / "out", []
    scan(hosts_from([str(host)]), out, on_host=lambda r, c: flags.append(c))
    (host / "docker-ps-a.txt").write_text(PS)
    table = scan(hosts_from([str(host)]), out, on_host=lambda r, c: flags.append(c))
    assert flags == [False, False] and table.loc[0, "rule:removal-in-progress"] == "confirmed"


def test_host_names_and_unsafe_names(tmp_path):
    assert [h.name for h in hosts_from(["a/node-1.tar.gz", "b/db-1.prod.log", "c/db-1.prod"])] == [
        "node-1",
        "db-1.prod",
        "db-1.prod-2",
    ]
    assert hosts_from(["/x/dc1/rack2/host7/logs"], host_from=r"/(host\d+)/")[0].name == "host7"


def test_missing_dask_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("forensics.fleet.scan.CONNECT_TIMEOUT", "1s")
    proc = forensics("scan", REPRO, "--out", tmp_path, "--scheduler", "tcp://127.0.0.1:9", "-q")
    assert proc.returncode == 2
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in proc.stderr


def test_rules_are_the_analyze_rules():
    ids = {r.id for r in load_rules()}
    assert {"moby-49227", "container-mutex-pileup"} <= ids


def test_out_inside_the_hosts_folder_is_not_a_host(tmp_path):
    """`scan --hosts-in fleet/ --out fleet/scan-out` twice: the second scan does not take its
    own earlier output folder for an unreadable host."""
    for i in (1, 2):
        make_host(tmp_path / f"node-{i:03d}", i)
    out = tmp_path / "scan-out"
    for _ in range(2):
        ran = forensics("scan", "--hosts-in", str(tmp_path), "--out", str(out), "--quiet")
        assert ran.returncode == 0, ran.stderr
    table = pd.read_csv(out / "fleet.csv")
    assert sorted(table.host) == ["node-001", "node-002"]


def test_out_that_is_a_host_folder_is_refused(tmp_path):
    host = tmp_path / "node-001"
    make_host(host, 1)
    ran = forensics("scan", str(host), "--out", str(host))
    assert ran.returncode == 2 and "is the input folder" in ran.stderr
    assert not (host / ".forensics-scan").exists() and not (host / "fleet.csv").exists()
