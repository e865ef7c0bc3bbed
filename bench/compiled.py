"""Byte-compile the forensics package the benchmarks run, as ``pip install`` does.

A checkout run under ``PYTHONDONTWRITEBYTECODE`` (set on some machines, this one included) would
otherwise compile every module from source on each run: about 0.1-0.2 s of CPU per command
that no installed copy pays, counted against forensics in every ratio.
"""

from __future__ import annotations

import compileall
import subprocess
import sys
from pathlib import Path


def compile_package(python: str = sys.executable) -> None:
    """Write the .pyc files of the forensics package that ``python -m forensics`` imports."""
    where = subprocess.run(
        [python, "-c", "import forensics, os; print(os.path.dirname(forensics.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    compileall.compile_dir(Path(where), quiet=1)
