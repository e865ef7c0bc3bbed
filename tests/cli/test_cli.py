"""The command line: exit codes, one-line errors, outputs; never a Python traceback."""

import json

import pytest
from conftest import HEALTHY, REPRO, ROOT, forensics, smoke

DUMP = REPRO / "goroutine-stacks-2026-11-29T122857Z.log"


run = forensics  # in-process; the smoke tests below start a real interpreter


def test_repro_exit_1_and_verdict(tmp_path):
    html, out = tmp_path / "r.html", tmp_path / "r.json"
    proc = smoke("analyze", REPRO, "--html", html, "--json", out)
    assert proc.returncode == 1
    assert "PROBLEMS FOUND" in proc.stdout and "moby-49227 (confirmed)" in proc.stdout
    assert "dockerd.log:171" in proc.stdout
    assert "seen: 2026-11-29 12:28:12 UTC" in proc.stdout  # when the evidence was seen, in UTC
    assert json.loads(out.read_text())["findings"][0]["id"] == "moby-49227"
    assert "moby/moby#49227" in html.read_text()


def test_fail_on_threshold():
    # on a fixed engine 49227 is not-affected; the leaked-lock pile-up (high) remains
    assert run("analyze", DUMP, "-q", "--engine-version", "27.5.0").returncode == 1
    assert (
        run("analyze", DUMP, "-q", "--engine-version", "27.5.0", "--fail-on", "critical").returncode
        == 0
    )
    assert (
        run("analyze", DUMP, "-q", "--fail-on", "critical").returncode == 1
    )  # 49227 likely, critical
    assert (
        run(
            "analyze", HEALTHY / "goroutine-stacks-sigusr1.log", "-q", "--fail-on", "info"
        ).returncode
        == 0
    )


def test_json_to_stdout_is_pure_json():
    proc = run("analyze", DUMP, "--json", "-")
    assert json.loads(proc.stdout)["schema"] == "forensics-report/1"


def test_stdin():
    proc = smoke("analyze", "-", "-q", "--json", "-", stdin=DUMP.read_text())
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["inputs"][0]["name"] == "<stdin>"


def test_missing_path_is_exit_2_with_one_line():
    proc = smoke("analyze", "nope.log")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "forensics: nope.log: no such file or directory"


def test_usage_errors_exit_2():
    assert run("analyze").returncode == 2
    assert run("analyze", DUMP, "--fail-on", "bogus").returncode == 2
    assert run("analyze", DUMP, "--no-such-option").returncode == 2


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty.log: empty input"),
        (bytes(range(256)) * 40, "empty.log:1: binary data"),
    ],
)
def test_unreadable_alone_exit_2(tmp_path, content, message):
    bad = tmp_path / "empty.log"
    bad.write_bytes(content)
    proc = run("analyze", bad.name, "-q", cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_bad_input_beside_good_is_reported_and_the_rest_analysed(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 40)
    proc = run("analyze", garbage, "missing.log", DUMP, "--json", "-")
    result = json.loads(proc.stdout)
    assert proc.returncode == 1  # the dump still shows the leaked lock
    assert {p["message"].split(";")[0] for p in result["problems"]} >= {
        "binary data, not a log or a goroutine dump",
        "no such file or directory",
    }
    assert result["verdict"] == "found"


def test_dump_cut_mid_frame_is_partial_with_its_line(tmp_path):
    text = DUMP.read_text().splitlines()
    cut = tmp_path / "cut.log"
    cut.write_text("\n".join(text[:490]) + "\n")  # ends inside goroutine 127's frames
    proc = run("analyze", cut, "--json", "-")
    result = json.loads(proc.stdout)
    assert any(
        p["source"].endswith("cut.log") and p["line"] and "mid-frame" in p["message"]
        for p in result["problems"]
    )
    assert "cut.log:" in proc.stderr


def test_thousand_character_line_is_read(tmp_path):
    log = tmp_path / "long.log"
    long_msg = "x" * 1000
    log.write_text(
        f'time="2026-11-29T12:00:00.000000000Z" level=error msg="{long_msg}"\n'
        'time="2026-11-29T12:00:01.000000000Z" level=info msg="Docker daemon" version=27.4.1\n'
    )
    proc = run("analyze", log, "--json", "-")
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result["engine_version"] == "27.4.1" and not result["problems"]


def test_rules_list_and_show():
    listing = run("rules", "list").stdout
    for rule in (
        "moby-49227",
        "inspect-nil-panic",
        "container-mutex-pileup",
        "removal-in-progress",
    ):
        assert rule in listing
    assert "fixed_in" in run("rules", "show", "moby-49227").stdout
    assert run("rules", "show", "nope").returncode == 2


def test_schema_command_prints_the_schema():
    schema = json.loads(run("schema").stdout)
    assert schema["$id"] == "forensics-report/1"


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- ci:begin -->", 1)[1].split("<!-- ci:end -->", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("```")]
    assert (
        len(commands) == 2
        and "forensics analyze samples/" in commands[0]
        and "pytest" in commands[1]
    )
    assert "ci:begin" in (ROOT / ".ci" / "run").read_text()


def test_analyze_reads_and_reports_without_cyclic_collection(monkeypatch):
    import gc

    import forensics.analyze

    seen = []
    analyze = forensics.analyze.analyze

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return analyze(*args, **kwargs)

    monkeypatch.setattr(forensics.analyze, "analyze", watched)
    assert gc.isenabled()
    assert run("analyze", REPRO, "-q").returncode == 1
    assert seen == [False] and gc.isenabled()  # paused while reading, as it was after


def test_analyze_renders_its_outputs_with_the_evidence_freed(monkeypatch, tmp_path):
    # issue 19: the parsed goroutines and the tables were held while the JSON text was made and
    # written (a 200 MB dump: its peak RSS there); the outputs need only the report
    import weakref

    import forensics.analyze
    import forensics.cli

    made, alive = [], []
    analyze, outputs = forensics.analyze.analyze, forensics.cli._outputs

    def keep_a_weakref(*args, **kwargs):
        result = analyze(*args, **kwargs)
        made.append(weakref.ref(result.evidence))
        return result

    def check(*args, **kwargs):
        alive.append(made[0]() is not None)
        return outputs(*args, **kwargs)

    monkeypatch.setattr(forensics.analyze, "analyze", keep_a_weakref)
    monkeypatch.setattr(forensics.cli, "_outputs", check)
    out = tmp_path / "r.json"
    assert run("analyze", DUMP, "-q", "--json", out).returncode == 1  # exit code kept
    assert alive == [False]
    assert json.loads(out.read_text())["findings"][0]["id"] == "moby-49227"


def test_analyze_loads_the_renderers_only_once_the_analysis_is_done(tmp_path):
    # the peak of a large dump's analysis is while its locks are found: the renderers (jinja2,
    # rich: ~5 MB) were loaded before it (issue 19, p200 peak RSS)
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import forensics.analyze as A\n"
        "run = A.analyze\n"
        "def spy(*a, **k):\n"
        "    print('renderers loaded:', 'jinja2' in sys.modules, file=sys.stderr)\n"
        "    return run(*a, **k)\n"
        "A.analyze = spy\n"
        "from forensics.cli import main\n"
        "sys.argv = ['forensics', 'analyze', '--quiet', '--json', sys.argv[1], sys.argv[2]]\n"
        "main()\n"
    )
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out), str(DUMP)], capture_output=True, text=True
    )
    assert "renderers loaded: False" in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1) and json.loads(out.read_text())["dumps"]
