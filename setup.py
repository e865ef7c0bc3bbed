"""The optional compiled build: the bulk dump parser and lock analysis compiled with Cython.

Everything else is in pyproject.toml.  ``pip install .`` compiles the modules named in
``forensics.COMPILED`` from their own .py source (Cython's pure Python mode; the .pxd beside a
module gives C types to a few of its classes and functions) when Cython and a C compiler are at
hand, and installs the pure Python package, with a one-line notice (pip shows it with ``-v``),
when they are not or compiling fails.  The .py files are installed either way and are the one
definition.  Not compiled:

- with ``FORENSICS_PURE_PYTHON=1``;
- editable installs (``pip install -e``): a compiled module in the source tree would shadow its
  .py, and edits to the .py would silently stop taking effect.

``forensics version`` says which build is installed.
"""

import ast
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _compiled() -> list[str]:
    """forensics.COMPILED, read from the package's __init__.py without importing it."""
    with open(
        os.path.join(os.path.dirname(__file__), "forensics", "__init__.py"), encoding="utf-8"
    ) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["COMPILED"]:
            return list(ast.literal_eval(node.value))
    raise RuntimeError("forensics/__init__.py holds no COMPILED")


def _notice(why: str) -> None:
    print(f"forensics: installing the pure Python build ({why})", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext that compiles with Cython when asked to build, never fails the install (a module
    that does not compile stays pure Python) and compiles nothing into the source tree."""

    def run(self) -> None:
        if getattr(self, "editable_mode", False) or self.inplace:
            _notice("editable install: the .py files are used as they are")
            return
        try:
            from Cython.Build import cythonize
        except ImportError:
            _notice("Cython is not installed")
            return
        self.failed: list[str] = []
        if not self.parallel:  # the modules compiled side by side (compiling adds ~30 s here)
            self.parallel = os.cpu_count() or 1
        try:
            self.extensions = cythonize(
                self.extensions,
                build_dir="build/cython",  # the generated C stays out of the source tree
                compiler_directives={"language_level": 3, "annotation_typing": False},
                quiet=True,
            )
            super().run()
        except Exception as e:  # Cython failed: the .py files stay
            _notice(f"compiling failed: {_first_line(e)}")
            return
        if len(self.failed) == len(self.extensions):  # one line for all
            _notice(f"compiling failed: {self.why}")
        elif self.failed:
            print(
                f"forensics: {', '.join(self.failed)} left pure Python ({self.why})",
                file=sys.stderr,
            )

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as e:  # no C compiler, a compiler error
            self.failed.append(ext.name)
            self.why = _first_line(e)


def _first_line(e: Exception) -> str:
    line = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
    return line if len(line) <= 100 else line[:99] + "…"


def _extensions() -> list[Extension]:
    if os.environ.get("FORENSICS_PURE_PYTHON", "") not in ("", "0"):
        _notice("FORENSICS_PURE_PYTHON is set")
        return []
    return [Extension(name, [name.replace(".", "/") + ".py"]) for name in _compiled()]


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
