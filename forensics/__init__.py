"""forensics: what went wrong inside a Docker daemon, from its logs and goroutine dumps."""

__version__ = "0.1.0"
# the modules `pip install .` compiles with Cython when it can (setup.py reads this list)
COMPILED = (
    "forensics.parse.fastdump",
    "forensics.parse.stacks",
    "forensics.goroutines.locks",
    "forensics.goroutines.buckets",
    "forensics.goroutines.lockwaits",
)


def data_dir(name: str):
    """The package's own ``rules`` or ``templates`` folder: inside the installed package, or at the
    top of a checkout."""
    from importlib import resources
    from pathlib import Path

    installed = resources.files(__name__) / name
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parent.parent / name


def compiled(path: str) -> bool:
    """Whether the module whose ``__file__`` is ``path`` is its compiled build (an extension module
    built by setup.py), not its .py source: the one test, for :func:`build` and for the modules
    that take another way to the same result when compiled."""
    from importlib.machinery import EXTENSION_SUFFIXES

    return path.endswith(tuple(EXTENSION_SUFFIXES))


def build() -> str:
    """``"compiled"`` when the modules of :data:`COMPILED` are the compiled ones, ``"pure Python"``
    when none is (an editable install, ``FORENSICS_PURE_PYTHON=1``, no C compiler), else
    ``"partly compiled"``."""
    from importlib import import_module

    found = [compiled(import_module(m).__file__) for m in COMPILED]
    return "compiled" if all(found) else "partly compiled" if any(found) else "pure Python"
