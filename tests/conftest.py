from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
REPRO = SAMPLES / "49227-repro"
HEALTHY = SAMPLES / "healthy-20.10"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def rules():
    from forensics.engine.ruleset import load_rules

    return load_rules(ROOT / "rules")


def finding(result, rule_id):
    return next((f for f in result.findings if f.id == rule_id), None)


def write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def repro_log_lines() -> list[str]:
    return (REPRO / "dockerd.log").read_text(encoding="utf-8").splitlines()


def log_without_dump() -> list[str]:
    """dockerd.log of the reproduction up to the SIGQUIT dump: the log a customer has before
    anyone dumps stacks (a prefix of the real file)."""
    lines = repro_log_lines()
    return lines[: lines.index("SIGQUIT: quit")]


class Ran:
    """What a command left: its exit status and what it printed (the shape of subprocess.run's result)."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def forensics(*args, stdin: str | None = None, cwd: Path | None = None) -> Ran:
    """Run the command line in this process (typer's CliRunner): what a user types, without a new
    interpreter per call. A Python traceback, in the output or as an escaped exception, fails the test."""
    import os

    from typer.testing import CliRunner

    from forensics.cli import app

    before = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(
            app, [str(a) for a in args], input=stdin, env={"COLUMNS": "200"}
        )
    finally:
        os.chdir(before)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in ran.stdout + ran.stderr
    return ran


def smoke(*args, stdin: str | None = None, cwd: Path | None = None):
    """Run the command line as a user does, in a new interpreter (``python -m forensics``): for what
    only a real process shows (exit status, closed or full standard streams). No Python traceback."""
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "forensics", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc
