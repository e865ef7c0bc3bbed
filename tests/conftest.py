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
