"""Report outputs: JSON against its schema, HTML self-contained and escaped, sections read off real data."""

import json
from datetime import datetime

import jsonschema
import pytest
from conftest import FIXTURES, HEALTHY, REPRO, SAMPLES, write_lines

from forensics.analyze import analyze
from forensics.report import SCHEMA_PATH, load, to_dict, to_html, to_json

SCHEMA = json.loads(SCHEMA_PATH.read_text())
# Every sample and captured fixture, as a whole folder and file by file.
INPUTS = sorted(
    [p for p in SAMPLES.iterdir() if p.is_dir()]
    + [p for p in SAMPLES.glob("*/*") if p.is_file()]
    + [
        p
        for p in (FIXTURES / "captured").rglob("*")
        if p.is_file() and p.suffix in (".log", ".txt", ".json")
    ]
    + [p for p in (FIXTURES / "dumps").rglob("*") if p.is_file() and p.suffix in (".log", ".txt")]
)


@pytest.fixture(scope="module")
def repro(rules):
    return analyze([str(REPRO)], rules=rules)


@pytest.fixture(scope="module")
def report(repro):
    return json.loads(to_json(repro))


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_json_validates_against_schema(path, rules):
    report = json.loads(to_json(analyze([str(path)], rules=rules)))
    jsonschema.validate(report, SCHEMA)
    assert report["schema"] == "forensics-report/1" and report["revision"] == 3


def test_schema_is_valid_and_versioned():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"] == "forensics-report/1" and "revision" in SCHEMA["properties"]
    assert set(SCHEMA["required"]) <= set(SCHEMA["properties"])


def test_confidence_vocabulary_is_fixed(report):
    allowed = set(SCHEMA["$defs"]["confidence"]["enum"])
    assert allowed == {"confirmed", "likely", "possible", "inconclusive", "not-affected"}
    assert {f["confidence"] for f in report["findings"]} <= allowed


def test_html_is_self_contained(repro):
    page = to_html(repro)
    assert "moby/moby#49227" in page and "Removal In Progress" in page
    for external in (
        "<script",
        'src="http',
        'href="//',
        "@import",
        "url(",
        '<link rel="stylesheet',
    ):
        assert external not in page
    assert 'http-equiv="Content-Security-Policy" content="default-src \'none\'' in page


def test_evidence_carries_its_surrounding_lines(report):
    panic = next(c for c in report["findings"][0]["evidence"] if c["signal"] == "panic")
    lines = {c["line"]: c["text"] for c in panic["context"]}
    assert panic["source"].endswith("dockerd.log") and panic["line"] == 171
    assert "Calling GET /v1.47/containers/test/json" in lines[170]  # the inspect that panicked
    assert lines[171].endswith(
        "http: panic serving @: runtime error: invalid memory address or nil pointer dereference"
    )
    assert lines[172] == "goroutine 128 [running]:"


def test_context_is_absent_for_stdin_not_invented(monkeypatch, rules):
    import io
    import sys

    text = (REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    report = to_dict(analyze(["-"], rules=rules))
    assert report["findings"] and all(
        c["context"] is None for f in report["findings"] for c in f["evidence"]
    )


def test_environment_facts(report):
    env = report["environment"]
    assert env["go_versions"][0]["version"] == "go1.22.12" and env["go_versions"][0]["line"] == 14
    assert {"name": "test", "id": "d593da0690bf"} in env["containers"]
    assert env["images"] == ["debian-minbase:bookworm"]
    assert report["coverage"] == {
        "logs": True,
        "debug_logs": True,
        "dumps": True,
        "complete_dumps": True,
    }


def test_journal_input_gives_hosts_and_pids(rules):
    env = to_dict(analyze([str(SAMPLES / "captured")], rules=rules))["environment"]
    assert env["hosts"] == ["dockerhost1"] and env["pids"] == [4242]


def test_timeline_counts_every_timed_event(repro, report):
    events = repro.evidence["events"]
    t = report["timeline"]
    assert sum(sum(b["counts"].values()) for b in t["bins"]) == events["time"].notna().sum()
    assert (
        t["untimed_events"] == events["time"].isna().sum() and t["bin_seconds"] == 2
    )  # a one-minute reproduction
    assert t["containers"] == ["test"]
    kinds = {}
    for m in t["markers"]:
        kinds.setdefault(m["kind"], []).append(m)
    assert [m["time"][:19] for m in kinds["daemon-start"] if m["time"]] == ["2026-11-29T12:27:58"]
    assert [(m["time"][:19], m["line"]) for m in kinds["panic"]] == [("2026-11-29T12:28:12", 171)]
    assert (
        len(kinds["dump"]) == 5 and len(kinds["inspect"]) == 7
    )  # docker inspect polled the container
    # the remover waits in every dump; two of the dumps carry a time and are drawn
    assert (
        all("cleanupContainer" in m["label"] for m in kinds["removal"])
        and len(kinds["removal"]) == 5
    )
    assert sum(1 for m in kinds["removal"] if m["time"]) == 2


def test_timeline_keeps_the_first_markers_of_each_kind_and_counts_the_rest(repro, monkeypatch):
    """Past MAX_MARKERS of a kind, the first are drawn in order, as they are uncapped, and the rest
    counted (the container markers are made into dicts only when kept)."""
    from forensics.report import timeline

    full = to_dict(repro)["timeline"]
    monkeypatch.setattr(timeline, "MAX_MARKERS", 2)
    capped = to_dict(repro)["timeline"]
    kinds: dict[str, list] = {}
    for m in full["markers"]:
        kinds.setdefault(m["kind"], []).append(m)
    assert len(kinds["inspect"]) == 7  # docker inspect polled the container
    assert capped["markers"] == [m for m in full["markers"] if kinds[m["kind"]].index(m) < 2]
    assert capped["omitted_markers"] == {k: len(v) - 2 for k, v in kinds.items() if len(v) > 2}


def test_timeline_bins_widen_with_the_span(rules):
    report = to_dict(analyze([str(HEALTHY / "dockerd-20.10.24-text-debug.log")], rules=rules))
    t = report["timeline"]
    span = datetime.fromisoformat(t["end"]) - datetime.fromisoformat(t["start"])
    assert len(t["bins"]) <= 60 and span.total_seconds() / t["bin_seconds"] <= 61


def test_lock_graph_shows_waiters_and_the_missing_holder(repro):
    page = to_html(repro)
    graph = page[page.index('id="locks"') : page.index('id="goroutines"')]
    assert (
        graph.count('<svg class="graph"') == 3
    )  # 0xc00026a180 (in 4 dumps) and the two pprof debug=1 sites
    for text in (
        "goroutine 127",
        "daemon.(*Daemon).cleanupContainer",
        "goroutine 164",
        "mutex 0xc00026a180",
        "no goroutine holds it",
        "2 goroutines (pprof group)",
    ):
        assert text in graph, text
    assert "Seen in 4 dumps" in graph


def test_goroutine_buckets_account_for_every_goroutine(repro, report):
    g = repro.evidence["goroutines"]
    for dump in report["goroutines"]:
        rows = g[g["dump"] == dump["dump"]]
        assert sum(b["count"] for b in dump["buckets"]) == rows["weight"].sum()
        assert dump["buckets"][0]["lock"] is not None  # the goroutines stuck on a lock come first
    locked = [b["lock"] is not None for b in report["goroutines"][0]["buckets"]]
    first = report["goroutines"][0]["buckets"][: locked.count(True)]
    assert not any(locked[len(first) :])  # lock waiters first, then the rest
    assert {b["lock"] for b in first} == {"0xc00026a180"} and sum(b["count"] for b in first) == 3


def test_saved_json_rerenders_to_the_same_html(repro, tmp_path):
    saved = tmp_path / "r.json"
    saved.write_text(to_json(repro))
    assert to_html(load(str(saved))) == to_html(repro)


def test_revision_1_report_still_renders(report):
    old = {
        k: v
        for k, v in report.items()
        if k not in ("revision", "coverage", "goroutines", "timeline", "redaction")
    }
    old["environment"] = {"daemons": report["environment"]["daemons"]}
    old["locks"] = [
        {k: v for k, v in lock.items() if k not in ("waiting", "holding", "holder_gids")}
        for lock in report["locks"]
    ]
    page = to_html(load_text(json.dumps(old)))
    assert "moby/moby#49227" in page and "No timed log line" in page and "goroutine 127" in page


def load_text(text):
    from forensics.report import normalize

    return normalize(json.loads(text))


def stuck_container_named(folder, name: str) -> str:
    """A `docker ps -a` listing whose container stuck in removal carries ``name`` (and a bidi override)."""
    return write_lines(
        folder / "ps.txt",
        [
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS                PORTS     NAMES",
            f'd593da0690bf   img       "x"       1 s       Removal In Progress             {name}\u202e',
        ],
    )


def test_hostile_strings_are_escaped(tmp_path, rules):
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    page = to_html(analyze([stuck_container_named(tmp_path, hostile)], rules=rules))
    assert (
        hostile not in page
        and "<img" not in page
        and "<script>" not in page
        and "\u202e" not in page
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "⟨U+202E⟩" in page


def test_terminal_lists_a_few_dumps_and_counts_the_rest():
    """Seven real dumps: the terminal names five, one line counts the other two (kinds and
    goroutines); the HTML and JSON keep all of them."""
    from conftest import forensics

    runtime = FIXTURES / "dumps" / "go-runtime" / "go1.22"
    dumps = [str(runtime / f"goroutine-stacks-{i}.log") for i in range(3)] + [
        str(runtime / n)
        for n in (
            "sigquit-stderr.txt",
            "asleep-stderr.txt",
            "repanic-stderr.txt",
            "pprof-debug1-2.txt",
        )
    ]
    ran = forensics("analyze", *dumps)
    listed = [line for line in ran.stdout.splitlines() if line.startswith("dump #")]
    assert len(listed) == 5
    more = [line for line in ran.stdout.splitlines() if line.startswith("… 2 more dumps (")]
    assert len(more) == 1 and "goroutines) in the --html / --json report" in more[0]


def test_the_json_is_what_json_dumps_writes_indented(repro):
    # to_json joins json's pieces a batch at a time: the same text
    report = to_dict(repro)
    report["warnings"] = report["warnings"] + ['é \u2028 \x00 " \\ \n tab\t']
    report["extra"] = {
        1: [1.5, -0.0, 1e16, float("nan"), float("inf"), -float("inf")],
        2.5: (True, False, None, (), [], {}),
        None: {"nested": [{"a": []}, [[]]]},
        False: 0,
    }
    assert to_json(report) == json.dumps(report, indent=2, ensure_ascii=False)
    assert len(report["findings"]) > 2 and report["locks"]  # a real report's shapes
    with pytest.raises(TypeError):
        to_json({"x": object()})
