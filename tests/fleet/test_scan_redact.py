"""Issue 21: `scan --redact` holds in every scan output and on the terminal, with one pseudonym per
name across the whole fleet (one process, several, a kept map); scan's own files go through the
one output writer. Real captures: the journal of the 49227 reproduction and the healthy 20.10 dump."""

import json
import re
import shutil

import pytest
from conftest import HEALTHY, REPRO, SAMPLES, smoke

# planted in both hosts' logs (each host also names the other one: a peer)
PLANTED = (
    'level=error msg="Handler for POST /v1.47/containers/x returned error: Cannot kill container: '
    'ledger-db-acme: not running" peer={peer} addr=2001:db8::77 env="PASSWORD=hunter2 '
    'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE" url="https://robot:S3cr3tPassw0rd@registry.acme.example/v2/"'
)
HOSTS = ["acme-prod-db07", "acme-prod-db08"]
NEVER = ["acme", "hunter2", "AKIAIOSFODNN7EXAMPLE", "S3cr3tPassw0rd", "robot", "2001:db8::77"]


def journal(host: str, peer: str) -> str:
    lines = (
        (SAMPLES / "captured" / "repro-49227-journal-short.log")
        .read_text()
        .replace("dockerhost1", host)
        .splitlines()
    )
    stamp = lines[170].split(" dockerd[")[0]
    lines.insert(
        170,
        f'{stamp} dockerd[4242]: time="2026-11-29T12:28:10.000000000Z" {PLANTED.format(peer=peer)}',
    )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet21") / "hosts"
    root.mkdir()
    for host, peer in zip(HOSTS, reversed(HOSTS)):
        (root / host).mkdir()
        (root / host / f"{host}_dockerd.log").write_text(journal(host, peer))
        shutil.copy(REPRO / "docker-ps-a.txt", root / host / "docker-ps-a.txt")
    healthy = root / "quiet-node"
    healthy.mkdir()
    shutil.copy(HEALTHY / "goroutine-stacks-sigusr1.log", healthy / "stacks.log")
    broken = root / "acme-prod-db09"  # nothing readable: its error line names its path
    broken.mkdir()
    (broken / "dockerd.log.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip" * 3)
    return root


def scan(fleet, out, *more):
    return smoke("scan", "--hosts-in", fleet, "--out", out, "--per-host-reports", *more)


def written(out) -> dict[str, str]:
    """Every file the scan wrote, as text (Parquet's table as CSV: its strings may be compressed)."""
    import pandas as pd

    return {
        str(p.relative_to(out)): pd.read_parquet(p).to_csv(index=False)
        if p.suffix == ".parquet"
        else p.read_bytes().decode("utf-8", "replace")
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def redacted(fleet, tmp_path_factory):
    """The same fleet scanned redacted in one process, in two, and on a Dask LocalCluster."""
    runs = {}
    for how, args in {
        "1": ["-j", "1"],
        "2": ["-j", "2"],
        "dask": ["-j", "2", "--scheduler", "local"],
    }.items():
        out = tmp_path_factory.mktemp(f"out{how}")
        proc = scan(fleet, out, "--redact", *args)
        assert proc.returncode == 1, proc.stderr
        runs[how] = (proc, out)
    return runs


def test_the_plain_scan_holds_every_planted_name(fleet, tmp_path):
    proc = scan(fleet, tmp_path, "-j", "1")
    assert proc.returncode == 1, proc.stderr
    text = "".join(written(tmp_path).values()) + proc.stderr
    for planted in NEVER + HOSTS + ["ledger-db-acme"]:
        assert planted in text, planted  # else the test below proves nothing


def test_no_planted_name_or_secret_in_any_scan_output(redacted):
    for jobs, (proc, out) in redacted.items():
        files = written(out)
        assert {"fleet.csv", "fleet.json", "fleet.html", "fleet.parquet"} <= set(files)
        assert [f for f in files if f.startswith("hosts/")], files  # the per-host pages
        assert not (out / "cache").exists()  # a cache would hold the names
        for where, text in [("terminal", proc.stdout + proc.stderr)] + list(files.items()):
            for planted in NEVER:
                assert planted.lower() not in text.lower(), (jobs, where, planted)
        assert "unreadable" in proc.stderr  # the broken host is still told, redacted


def test_one_pseudonym_per_name_across_hosts_and_outputs(redacted):
    proc, out = redacted["1"]
    fleet = json.loads((out / "fleet.json").read_text())
    rows = {r["host"]: r for r in fleet["hosts"]}
    assert sorted(rows) == [
        "host-1",
        "host-2",
        "host-3",
        "host-4",
    ]  # acme-prod-db07..09, quiet-node
    assert (
        rows["host-3"]["verdict"] == "unreadable"
        and "host-3/dockerd.log.gz" in rows["host-3"]["error"]
    )
    assert rows["host-1"]["reported_host"] == "host-1"  # folder and journal name: one token
    assert rows["host-2"]["reported_host"] == "host-2"
    pages = {h: (out / r["report"]).read_text() for h, r in rows.items() if r.get("report")}
    # host-1's log names its peer host-2 and the shared container: the same token on both pages
    container = set(re.findall(r"Cannot kill container: (container-\d+)", pages["host-1"]))
    assert container and container == set(
        re.findall(r"Cannot kill container: (container-\d+)", pages["host-2"])
    )
    assert "peer=host-2" in pages["host-1"] and "peer=host-1" in pages["host-2"]
    assert "PASSWORD=[secret]" in pages["host-1"]
    assert fleet["redaction"]["applied"] is True


def test_one_process_or_two_give_the_same_redacted_outputs(redacted):
    import io

    import pandas as pd

    one, *others = (written(out) for _, out in redacted.values())
    for two in others:
        assert set(one) == set(two)
        assert one["fleet.html"] == two["fleet.html"]
        for name in set(one) - {"fleet.csv", "fleet.json", "fleet.parquet"}:
            assert generated(one[name]) == generated(two[name]), name  # per-host pages, the mark
        for name in ("fleet.csv", "fleet.parquet"):
            tables = [pd.read_csv(io.StringIO(t[name])).drop(columns="seconds") for t in (one, two)]
            pd.testing.assert_frame_equal(*tables)
        docs = [json.loads(t["fleet.json"]) for t in (one, two)]
        for doc in docs:
            for row in doc["hosts"]:
                row.pop("seconds")
        assert docs[0] == docs[1]


def generated(page: str) -> str:
    """A page without the time it was generated at."""
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", "<generated>", page)


def test_a_kept_map_holds_pseudonyms_across_scans(fleet, tmp_path):
    mapping = tmp_path / "map.json"
    first = scan(fleet, tmp_path / "a", "--redact", "--redact-map", mapping, "-j", "1")
    assert first.returncode == 1 and oct(mapping.stat().st_mode & 0o777) == "0o600"
    names = json.loads(mapping.read_text())["names"]
    assert names["acme-prod-db08"] == "host-2" and names["ledger-db-acme"].startswith("container-")
    # a fleet with a new host that sorts first: the kept names keep their tokens
    only = tmp_path / "more"
    shutil.copytree(fleet / "acme-prod-db08", only / "acme-prod-db08")
    (only / "aaa-new").mkdir()
    (only / "aaa-new" / "aaa-new.log").write_text(journal("aaa-new", "acme-prod-db08"))
    again = smoke("scan", "--hosts-in", only, "--out", tmp_path / "b", "-j", "1", "-q")
    assert again.returncode == 1
    again = smoke(
        "scan", "--hosts-in", only, "--out", tmp_path / "c", "-q", "-j", "1", "--redact",
        "--redact-map", mapping,
    )  # fmt: skip
    assert again.returncode == 1, again.stderr
    rows = json.loads((tmp_path / "c" / "fleet.json").read_text())["hosts"]
    kept = json.loads(mapping.read_text())["names"]
    assert kept["acme-prod-db08"] == "host-2" and kept["aaa-new"] not in names.values()
    assert sorted(r["host"] for r in rows) == sorted(["host-2", kept["aaa-new"]])


def test_redact_map_needs_redact_and_a_file(fleet, tmp_path):
    for args in (["--redact-map", tmp_path / "m.json"], ["--redact", "--redact-map", "-"]):
        proc = scan(fleet, tmp_path / "o", *args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_redact_refuses_an_out_holding_an_unredacted_scan(fleet, tmp_path):
    assert scan(fleet, tmp_path, "-j", "1", "-q").returncode == 1
    before = written(tmp_path)
    proc = scan(fleet, tmp_path, "-j", "1", "-q", "--redact")
    assert proc.returncode == 2 and "unredacted" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and written(tmp_path) == before
    again = tmp_path / "redacted"  # a redacted scan can be run again into its own directory
    for _ in "12":
        assert scan(fleet, again, "-j", "1", "-q", "--redact").returncode == 1


# --- scan's own files go through the one output writer, checked like analyze's outputs
def test_a_scan_output_linked_to_an_input_is_refused_and_the_input_kept(fleet, tmp_path):
    log = fleet / HOSTS[0] / f"{HOSTS[0]}_dockerd.log"
    before = log.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    (out / "fleet.json").symlink_to(log)
    proc = scan(fleet, out, "-j", "1")
    assert proc.returncode == 2 and "input" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert log.read_bytes() == before


def test_scan_files_are_renamed_into_place_never_written_through_a_link(tmp_path):
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "fleet.csv").symlink_to(victim)
    (
        out / "hosts"
    ).mkdir()  # a per-host page is not checked beforehand: still never written through
    (out / "hosts" / "49227-repro.html").symlink_to(victim)
    proc = smoke("scan", REPRO, "--out", out, "-j", "1", "-q", "--per-host-reports")
    assert proc.returncode == 1, proc.stderr
    assert victim.read_text() == "keep me"
    assert not (out / "fleet.csv").is_symlink() and "host" in (out / "fleet.csv").read_text()
    assert "<html" in (out / "hosts" / "49227-repro.html").read_text()
    assert [p.name for p in out.rglob("*.tmp")] == []


def test_a_scan_out_inside_a_host_folder_is_not_read_back(fleet, tmp_path):
    host = tmp_path / "node"
    shutil.copytree(fleet / HOSTS[0], host)
    out = host / "scan"
    first = smoke("scan", host, "--out", out, "-j", "1", "-q", "--redact")
    second = smoke("scan", host, "--out", out, "-j", "1", "-q", "--redact")
    assert first.returncode == second.returncode == 1, second.stderr
    a, b = (json.loads((out / "fleet.json").read_text())["hosts"][0] for _ in "ab")
    rows = [json.loads(t) for t in [(out / "fleet.json").read_text()]]
    assert rows[0]["hosts"][0]["findings"] == a["findings"] == b["findings"]
    assert "moby-49227:confirmed" in a["findings"]


def test_a_redacted_scan_keeps_the_reports_on_disk_until_every_host_is_back(
    fleet, tmp_path, monkeypatch
):
    """A redacted scan can number the names only once every host is back; meanwhile each host's
    report waits in a private temporary file, not in memory, and the files are gone after."""
    from forensics.fleet import scan as fleet_scan

    given = {}
    real = fleet_scan.redacted

    def spy(rows, reports, known, pages):
        given.update(reports)
        assert all(path is None or path.is_file() for _, path in reports.values())
        return real(rows, reports, known, pages)

    monkeypatch.setattr(fleet_scan, "redacted", spy)
    hosts = fleet_scan.hosts_from([], [str(fleet)])
    out = tmp_path / "out"
    fleet_scan.scan(hosts, out, per_host_reports=True, redact={})
    spilled = [path for _, path in given.values() if path is not None]
    assert len(spilled) == len(HOSTS) + 2 and not any(p.exists() for p in spilled)
    assert not spilled[0].parent.exists()
    pages = sorted(p.name for p in (out / "hosts").iterdir())
    assert len(pages) == len(spilled) and not any("acme" in p for p in pages), pages


def test_an_unreadable_hosts_in_directory_is_one_line_and_redacted_keeps_its_path_off(tmp_path):
    missing = tmp_path / "acme-prod-hosts"  # a --hosts-in directory that is not there
    plain = smoke("scan", "--hosts-in", missing, "--out", tmp_path / "o", "-q")
    assert plain.returncode == 2 and plain.stderr.strip().splitlines() == [
        f"forensics: --hosts-in {missing}: cannot read directory: No such file or directory"
    ]
    redacted = smoke("scan", "--hosts-in", missing, "--out", tmp_path / "o", "-q", "--redact")
    assert redacted.returncode == 2 and redacted.stderr.strip().splitlines() == [
        "forensics: --hosts-in: cannot read directory: No such file or directory"
    ]
    assert not (tmp_path / "o").exists()
