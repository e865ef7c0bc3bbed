"""--redact: no host name, IP address, user name, container or image name of the inputs survives in
any output, and the same name gets the same pseudonym everywhere."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import REPRO, SAMPLES

from forensics.analyze import analyze
from forensics.report import print_text, to_dict, to_html, to_json, to_markdown
from forensics.report.redact import collect, redact

# What the inputs below hold: the container, its image, the journal's host, the user in the
# path the logs sit in, the client of the panicking request and a daemon address.
ORIGINALS = {
    "container": "test",
    "image": "debian-minbase",
    "host": "dockerhost1",
    "user": "alice",
    "ip": "203.0.113.7",
    "ipv6": "2001:db8::42",
}


def mentions(text: str, name: str) -> int:
    return len(re.findall(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The 49227 reproduction in /home/alice/…, its panic served over TCP, plus the journal capture."""
    home = tmp_path_factory.mktemp("redact") / "home" / "alice" / "ticket-123"
    shutil.copytree(REPRO, home)
    log = (home / "dockerd.log").read_text().splitlines()
    at = next(i for i, line in enumerate(log) if "http: panic serving @:" in line)
    log[at] = log[at].replace("serving @:", "serving 203.0.113.7:51234:")
    log.insert(
        at,
        'time="2026-11-29T12:28:11.500000000Z" level=info msg="API listen on [2001:db8::42]:2376"',
    )
    (home / "dockerd.log").write_text("\n".join(log) + "\n")
    return [str(home), str(SAMPLES / "captured")]


@pytest.fixture(scope="module")
def plain(inputs, rules):
    return to_dict(analyze(inputs, rules=rules))


@pytest.fixture(scope="module")
def redacted(plain):
    return redact(plain)


def outputs(report) -> dict[str, str]:
    from rich.console import Console

    console = Console(record=True, width=200)
    print_text(report, console)
    return {
        "json": to_json(report),
        "html": to_html(report),
        "markdown": to_markdown(report),
        "text": console.export_text(),
    }


def test_the_originals_are_in_the_plain_report(plain):
    text = to_json(plain)
    for name in ORIGINALS.values():
        assert mentions(text, name), name  # else the test below would prove nothing


def test_no_original_name_survives_in_any_output(redacted):
    for kind, text in outputs(redacted).items():
        for name in ORIGINALS.values():
            assert not mentions(text, name), (kind, name)
            assert name not in text.replace("pytest", ""), (kind, name)


def test_same_name_same_pseudonym_everywhere(plain, redacted):
    tokens = {t["token"]: t["kind"] for t in redacted["redaction"]["tokens"]}
    assert set(tokens.values()) == {"host", "ip", "user", "container", "image", "tag"}
    container = next(t for t in tokens if redacted["timeline"]["containers"] == [t])
    assert redacted["findings"][0]["containers"] == [f"{container} (d593da0690bf)"]
    assert container in redacted["findings"][0]["summary"]
    assert {"name": container, "id": "d593da0690bf"} in redacted["environment"]["containers"]
    # the panic cited in the edited dockerd.log (the journal capture's copy may sort first)
    panic = next(
        c
        for c in redacted["findings"][0]["evidence"]
        if c["signal"] == "panic" and c["source"].endswith("/dockerd.log")
    )
    assert f"/containers/{container}/json" in json.dumps(panic["context"])
    assert (
        redacted["environment"]["hosts"] == ["host-1"] and "user-1" in redacted["inputs"][0]["name"]
    )
    assert (
        "serving ip-2:51234:" in panic["excerpt"]
    )  # tokens are numbered in the names' sorted order
    assert len(collect(plain)) == len(tokens)  # one token per distinct name


def test_redaction_is_stable_and_lists_tokens_not_names(plain, redacted):
    again = redact(plain)
    assert to_json(again) == to_json(redacted)
    listed = json.dumps(redacted["redaction"])
    assert all(not mentions(listed, name) for name in ORIGINALS.values())
    page = to_html(redacted)
    assert 'id="redaction"' in page and "container-1</code> (container)" in page


def test_what_is_kept(redacted):
    text = to_json(redacted)
    assert "d593da0690bf" in text and "0xc00026a180" in text and "goroutine 127" in text
    assert redacted["findings"][0]["explanation"].startswith(
        "cleanupContainer clears container.RWLayer"
    )
    assert redacted["engine_version"] == "27.4.1" and "12:28:12" in text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("client 10.1.2.3:4567 and 127.0.0.1 and 0.0.0.0:2375", {"10.1.2.3"}),
        (
            "listen on [fe80::1ff:fe23:4567:890a]:2376, [::1]:2375, [::]:80",
            {"fe80::1ff:fe23:4567:890a"},
        ),
        ("at 12:28:58 go1.22.12 containerd 1.6.20 lock 0xc00026a180 mac 02:42:ac:11:00:02", set()),
        ("open /home/bob/x and C:\\Users\\carol\\y and /root/z", {"bob", "carol"}),
    ],
)
def test_patterns_in_free_text(text, expected):
    report = {"warnings": [text], "environment": {}}
    assert set(collect(report)) == expected


def test_image_registry_is_a_host_and_tags_are_pseudonymised():
    report = {
        "environment": {"images": ["registry.corp.example:5000/team/app:1.2"], "containers": []},
        "warnings": [
            "pulled registry.corp.example:5000/team/app:1.2 and registry.corp.example:5000/team/app%3A1.2"
        ],
    }
    out = redact(report)
    assert out["warnings"] == ["pulled image-1:tag-1 and image-1%3Atag-1"]
    assert {t["kind"] for t in out["redaction"]["tokens"]} == {"host", "image", "tag"}


def test_cli_redacts_terminal_json_and_saved_report(inputs, tmp_path):
    env = {**os.environ, "COLUMNS": "200"}
    saved = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "forensics",
            "analyze",
            *inputs,
            "--redact",
            "--json",
            str(saved),
            "--markdown",
            str(tmp_path / "r.md"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1 and "redacted:" in proc.stdout
    for text in (proc.stdout, proc.stderr, saved.read_text(), (tmp_path / "r.md").read_text()):
        assert not any(mentions(text, name) for name in ORIGINALS.values())
    plain = tmp_path / "plain.json"
    subprocess.run(
        [sys.executable, "-m", "forensics", "analyze", *inputs, "-q", "--json", str(plain)], env=env
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "forensics",
            "report",
            str(plain),
            "--redact",
            "-q",
            "--html",
            str(tmp_path / "r.html"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert not any(mentions((tmp_path / "r.html").read_text(), name) for name in ORIGINALS.values())


def test_a_one_label_host_is_replaced_only_as_a_whole_label():
    report = {
        "environment": {"hosts": ["db"]},
        "warnings": ["db, db-backup, mydb, backup.db, db.example.com, DB and db_dockerd.log"],
    }
    assert redact(report)["warnings"] == [
        "host-1, db-backup, mydb, backup.db, host-1, host-1 and host-1_dockerd.log"
    ]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("password=abc,def end", "password=[secret] end"),
        ("password=abc, next=1", "password=[secret], next=1"),
        ("password=abc;next=1", "password=[secret];next=1"),
        ("password=abc&def end", "password=[secret] end"),
        ("GET /v2/x?token=abc&x=1 HTTP/1.1", "GET /v2/x?token=[secret]&x=1 HTTP/1.1"),
        ("monkey=foo turkey: bar hockey=1", "monkey=foo turkey: bar hockey=1"),
        (
            "api_key=a access_key=b secret_key=c apiKey=d PGPASSWORD=e x-api-key: f",
            "api_key=[secret] access_key=[secret] secret_key=[secret] apiKey=[secret] "
            "PGPASSWORD=[secret] x-api-key: [secret]",
        ),
    ],
)
def test_key_value_secrets_end_where_the_value_ends(text, expected):
    from forensics.report.redact import mask_secrets

    assert mask_secrets(text) == expected
