"""The compiled build (setup.py) reads every fixture and sample as the pure Python source does.

The tests themselves import the checkout (``python -m pytest`` puts it first on the path), so they
exercise the .py modules.  Here the installed package, when it is the compiled build, is run in a
subprocess started outside the checkout, and so is the checkout's source; both read the same real
dumps (tests/compiled_probe.py) and must give the same goroutines, stacks, blocks and
``dump --json`` data (buckets, locks).  Skipped, saying why, when the installed package is not
compiled (an editable install, ``FORENSICS_PURE_PYTHON=1``, no C compiler or Cython), unless
``FORENSICS_REQUIRE_COMPILED`` is set (CI: a module that stopped compiling fails there)."""

import json
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "compiled_probe.py"
INPUTS = sorted(
    str(p)
    for folder in (
        "tests/fixtures/dumps",
        "tests/fixtures/captured",
        "tests/fixtures/crashes",
        "tests/fixtures/ingest",
        "samples",
    )
    for p in (REPO / folder).rglob("*")
    if p.is_file() and p.name != "README.md"
)


def _env(source: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if source:
        env["PYTHONPATH"] = str(REPO)
    return env


def _probe(paths: list[str], source: bool, cwd: Path) -> dict:
    """The probe's JSON: the installed package (``source`` false) or the checkout's source."""
    done = subprocess.run(
        [sys.executable, str(PROBE), *paths],
        cwd=cwd,
        env=_env(source),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _installed_parser(cwd: Path) -> str | None:
    """The file of the installed package's bulk parser (None when forensics is not installed)."""
    done = subprocess.run(
        [sys.executable, "-c", "import forensics.parse.fastdump as f; print(f.__file__)"],
        cwd=cwd,
        env=_env(False),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _compiled(path: str) -> bool:
    return path.endswith(tuple(EXTENSION_SUFFIXES))


@pytest.fixture(scope="module")
def installed_build(tmp_path_factory) -> tuple[Path, str | None]:
    """A folder outside the checkout, and the installed package's parser file seen from there."""
    cwd = tmp_path_factory.mktemp("outside")
    return cwd, _installed_parser(cwd)


@pytest.fixture(scope="module")
def installed(installed_build) -> Path:
    """A folder outside the checkout to run the installed package from; skips unless compiled."""
    cwd, parser = installed_build
    if parser is None:
        pytest.skip("forensics is not installed in this interpreter: no compiled build to compare")
    if not _compiled(parser):
        why = (
            f"the installed forensics is pure Python ({parser}): an editable install, "
            "FORENSICS_PURE_PYTHON=1, or no C compiler or Cython at install time"
        )
        if os.environ.get("FORENSICS_REQUIRE_COMPILED"):  # CI: compiling must not silently fail
            pytest.fail(why + " (see pip install -v . for the compiler's message)")
        pytest.skip(why)
    if Path(parser).resolve().is_relative_to(REPO / "forensics"):  # (a venv may be in the checkout)
        pytest.skip(f"a compiled module is in the source tree ({parser}): nothing to compare")
    return cwd


def test_inputs_are_real_dumps():
    assert len(INPUTS) > 50 and any("49227" in p for p in INPUTS)


def test_compiled_build_reads_as_the_source(installed):
    compiled = _probe(INPUTS, source=False, cwd=installed)
    source = _probe(INPUTS, source=True, cwd=installed)
    assert _compiled(compiled["parser"]) and source["parser"] == str(
        REPO / "forensics/parse/fastdump.py"
    )
    read = [d for f in source["files"].values() for d in f["dumps"]]
    assert sum(len(d["goroutines"]) for d in read) > 1000  # the comparison covers real dumps
    assert any(
        lock for f in source["files"].values() for d in f["report"]["dumps"] for lock in d["locks"]
    )
    differ = [p for p in INPUTS if compiled["files"][p] != source["files"][p]]
    assert not differ, f"the compiled build reads {len(differ)} files differently: {differ[:5]}"


def test_version_says_which_build(installed_build):
    """``forensics version`` of the checkout (what the tests import) says pure Python; of an
    installed compiled build, compiled."""
    from typer.testing import CliRunner

    from forensics import __version__
    from forensics.cli import app

    shown = CliRunner().invoke(app, ["version"])
    assert shown.exit_code == 0 and shown.output == f"{__version__} (pure Python)\n"
    cwd, parser = installed_build
    if parser is None or not _compiled(parser):  # (a pure install may be another checkout's)
        return
    done = subprocess.run(
        [sys.executable, "-m", "forensics", "version"],
        cwd=cwd,
        env=_env(False),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout == f"{__version__} (compiled)\n", done.stderr[-2000:]
