"""The one writer of every output file (analyze, report, dump, scan): a temporary file beside the
target renamed over it, so a symbolic link there is replaced, never followed, and a failed write
leaves the old file whole. (Which outputs are allowed at all: :mod:`forensics.cli.outputs`.)"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write(path, data: str | bytes, mode: int | None = None) -> None:
    """``data`` into ``path`` (a new file renamed over it). ``mode``: its permissions (0o600 for
    a redaction map: never readable by others, not even for a moment), else those of the file
    replaced, or the umask's.
    Raises OSError."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent if str(target.parent) else "."
    )
    try:
        with os.fdopen(fd, "wb") as f:  # mkstemp's file is 0600 while it is written
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        if mode is None and target.exists() and not target.is_symlink():
            mode = target.stat().st_mode & 0o7777
        os.chmod(tmp, 0o666 & ~_umask() if mode is None else mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
