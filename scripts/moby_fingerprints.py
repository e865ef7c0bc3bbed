#!/usr/bin/env python3
"""Build forensics/data/moby_fingerprints.bin: where every moby function starts and ends, per release.

    python scripts/moby_fingerprints.py /path/to/moby.git [-o forensics/data/moby_fingerprints.bin]

Input: a moby/moby clone (bare or not; only ``git ls-tree`` and ``git cat-file`` are used).
For each release tag from v17.03.0-ce to the newest (``v17.03.0-ce`` .. ``v18.06.3-ce``,
``v18.09.0`` .. ``v28.x``, ``docker-v29.x``; rc / beta / tp tags skipped), every Go file a
daemon's goroutine dump can name (non-vendored, not ``_test.go``, not under the test-only
trees in ``EXCLUDED_DIRS``) is listed as (path -> blob); each distinct blob is read once and
its top-level ``func`` declarations are located by a small Go scanner (brace matching that
skips comments, strings, raw strings and runes).  Closures (``F.func1``) are not listed:
their lines lie inside their parent's span.

The output is deterministic: same clone -> byte-identical file (sorted keys, fixed zlib level).

Built as this dict, then stored by ``forensics.goroutines.fingerprint.pack`` (an index of tags
and paths, one zlib JSON chunk per path with its versions and blobs, names inlined, blob ids
dropped: a run reads only the paths its frames name):
  format        1
  moby_head     the clone's HEAD commit; newest_tag: the newest release tag used
  tags          [[tag, version, commit], ...] sorted by version
  paths         repository-relative file paths, sorted
  names         package-relative function names, sorted: "F", "T.M", "(*T).M"
  blobs         [[blob id, line count, flat spans, idle lines], ...] sorted by blob id; flat spans
                are (name index, start line - previous start line, end line - start line) triples;
                idle lines (blank, comment-only, brackets-only: no PC maps there) are (gap from
                the previous run's last line, run length) pairs
  files         {path index: [[blob index, "tag index ranges" e.g. "0-12,15"], ...]}: which blob
                the path has at which tags (a path absent at a tag is not in that tag's tree)
"""

from __future__ import annotations

import argparse
import bisect
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from forensics.goroutines import fingerprint  # noqa: E402 -- the storage layout is the reader's

EXCLUDED_DIRS = (
    "integration/",
    "integration-cli/",
    "testutil/",
    "internal/test/",
    "internal/testutil/",
    "hack/",
    "contrib/",
    "docs/",
    "man/",
    "e2e/",
)
RELEASE = re.compile(r"^(?:docker-)?v(\d+)\.(\d+)\.(\d+)(?:-ce)?$")
FIRST = (17, 3, 0)

# Tokens that matter to brace matching; everything else is skipped by finditer.
TOKEN = re.compile(
    r"""
    //[^\n]*
  | /\*.*?\*/
  | `[^`]*`
  | "(?:[^"\\\n]|\\.)*"
  | '(?:[^'\\\n]|\\.)*'
  | ^func\b
  | [{}()\[\]]
""",
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)
STRINGS_OR_COMMENTS = re.compile(
    r"""`[^`]*`|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|(//[^\n]*|/\*.*?\*/)""", re.DOTALL
)
BRACKETS_ONLY = re.compile(r"[\s{}()\[\],;]*")
RECEIVER = re.compile(r"(\*?)\s*([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*$")
NAME = re.compile(r"\s*([A-Za-z_]\w*)")


def release_tags(git: list[str]) -> list[tuple[str, str, str]]:
    """[(tag, version, commit)] of every release from 17.03.0 on, sorted by version."""
    out = subprocess.run(
        git
        + ["for-each-ref", "--format=%(refname:short) %(objectname) %(*objectname)", "refs/tags"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tags = []
    for line in out.splitlines():
        tag, obj, peeled = (line.split() + [""])[:3]
        m = RELEASE.match(tag)
        if m and tuple(map(int, m.groups())) >= FIRST:
            tags.append((tuple(map(int, m.groups())), tag, peeled or obj))
    tags.sort()
    return [
        (tag, f"{v[0]}.{v[1]:02d}.{v[2]}" if v[0] < 20 else f"{v[0]}.{v[1]}.{v[2]}", commit)
        for v, tag, commit in tags
    ]


def wanted(path: str) -> bool:
    if not path.endswith(".go") or path.endswith("_test.go"):
        return False
    if path.startswith("vendor/") or "/vendor/" in path or "/testdata/" in path:
        return False
    return not path.startswith(EXCLUDED_DIRS)


def tree(git: list[str], commit: str) -> dict[str, str]:
    out = subprocess.run(
        git + ["ls-tree", "-r", "-z", commit], check=True, capture_output=True
    ).stdout
    files = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        mode, kind, blob = meta.split()
        path = path.decode("utf-8", "surrogateescape")
        if kind == b"blob" and mode != b"120000" and wanted(path):
            files[path] = blob.decode()
    return files


def read_blobs(git: list[str], blobs: list[str]):
    """Yield (blob, text) for each blob, through one ``git cat-file --batch``."""
    proc = subprocess.Popen(
        git + ["cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    import threading

    def feed():
        for b in blobs:
            proc.stdin.write(b.encode() + b"\n")
        proc.stdin.close()

    threading.Thread(target=feed, daemon=True).start()
    for b in blobs:
        header = proc.stdout.readline().split()
        size = int(header[2])
        data = proc.stdout.read(size)
        proc.stdout.read(1)
        yield b, data.decode("utf-8", "replace")
    proc.wait()


def spans(src: str) -> tuple[int, list[tuple[str, int, int]]]:
    """(line count, [(name, start line, end line)]) of the top-level funcs of one Go file.

    ``name`` is what a Go traceback prints after the package path: ``F``, ``T.M`` or ``(*T).M``
    (type parameters dropped).  A func without a body (assembly stub) is skipped.
    """
    newlines = [m.start() for m in re.finditer("\n", src)]

    def lineno(pos: int) -> int:
        return bisect.bisect_left(newlines, pos) + 1

    out = []
    depth = 0  # {} depth outside any func header
    header = None  # [func position, paren/bracket depth, type-literal brace depth]
    body = None  # [name, start line, brace depth] while inside a body
    for m in TOKEN.finditer(src):
        tok = m.group()
        c = tok[0]
        if c in "/`\"'":
            continue
        if tok == "func":
            if depth == 0 and header is None and body is None:
                header = [m.start(), 0, 0]
            continue
        if header is not None:
            if c in "([":
                header[1] += 1
            elif c in ")]":
                header[1] -= 1
            elif c == "{":
                if (
                    header[1] == 0
                    and header[2] == 0
                    and not re.search(r"\b(?:struct|interface)\s*$", src[header[0] : m.start()])
                ):
                    name = func_name(src[header[0] + 4 : m.start()])
                    if name is None:  # not a declaration after all
                        header = None
                        depth += 1
                        continue
                    if "\n" in _flat(
                        src[header[0] : m.start()]
                    ):  # bodiless declaration followed by code
                        header = None
                        depth += 1
                        continue
                    body = [name, lineno(header[0]), 1]
                    header = None
                else:
                    header[2] += 1
            elif c == "}":
                header[2] -= 1
            continue
        if body is not None:
            if c == "{":
                body[2] += 1
            elif c == "}":
                body[2] -= 1
                if body[2] == 0:
                    out.append((body[0], body[1], lineno(m.start())))
                    body = None
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
    return len(newlines) + (0 if src.endswith("\n") or not src else 1), out


def _flat(header: str) -> str:
    """The header with parenthesised / bracketed / braced parts and comments removed."""
    header = re.sub(r"//[^\n]*|/\*.*?\*/", "", header, flags=re.DOTALL)
    out, depth = [], 0
    for ch in header:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out).rstrip()


def idle_lines(src: str) -> list[int]:
    """Lines no goroutine can stand on: blank, comment-only, or only closing/opening brackets.

    (A function's last line, its closing brace, is where deferred calls run: matching allows it.)
    """

    def blank(m: re.Match) -> str:
        return "\n" * m.group().count("\n") if m.group(1) else m.group()

    code = STRINGS_OR_COMMENTS.sub(blank, src)
    return [i for i, line in enumerate(code.split("\n"), 1) if BRACKETS_ONLY.fullmatch(line)]


def runs(lines: list[int]) -> list[int]:
    """[3, 4, 5, 9] -> [3, 3, 1, 1]: (gap from the previous run's end, run length) pairs."""
    out, prev, i = [], 0, 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and lines[j + 1] == lines[j] + 1:
            j += 1
        out += [lines[i] - prev, j - i + 1]
        prev = lines[j]
        i = j + 1
    return out


def func_name(header: str) -> str | None:
    """``(s *T[K]) Name[P any](...) ...`` -> ``(*T).Name``; ``Name(...)`` -> ``Name``."""
    header = header.lstrip()
    recv = None
    if header.startswith("("):
        depth = 0
        for i, ch in enumerate(header):  # noqa: B007 (i is where the receiver ends, read after the loop)
            depth += ch in "(["
            depth -= ch in ")]"
            if depth == 0:
                break
        m = RECEIVER.search(header[1:i])
        if not m:
            return None
        recv = f"(*{m.group(2)})" if m.group(1) else m.group(2)
        header = header[i + 1 :]
    m = NAME.match(header)
    if not m:
        return None
    return f"{recv}.{m.group(1)}" if recv else m.group(1)


def ranges(indices: list[int]) -> str:
    out, start = [], None
    for i, v in enumerate(indices):
        if start is None:
            start = v
        if i + 1 == len(indices) or indices[i + 1] != v + 1:
            out.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ",".join(out)


def build(clone: str) -> bytes:
    git = ["git", "--git-dir", clone] if Path(clone, "objects").is_dir() else ["git", "-C", clone]
    head = subprocess.run(
        git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    tags = release_tags(git)
    trees = [tree(git, commit) for _, _, commit in tags]
    all_blobs = sorted({b for t in trees for b in t.values()})
    paths = sorted({p for t in trees for p in t})
    parsed = {}
    for blob, text in read_blobs(git, all_blobs):
        parsed[blob] = spans(text) + (runs(idle_lines(text)),)
    names = sorted({n for _, fs, _ in parsed.values() for n, _, _ in fs})
    name_ix = {n: i for i, n in enumerate(names)}
    blob_ix = {b: i for i, b in enumerate(all_blobs)}
    path_ix = {p: i for i, p in enumerate(paths)}
    blobs = []
    for b in all_blobs:
        nlines, fs, idle = parsed[b]
        flat, prev = [], 0
        for n, s, e in sorted(fs, key=lambda f: (f[1], f[2], f[0])):
            flat += [name_ix[n], s - prev, e - s]
            prev = s
        blobs.append([b, nlines, flat, idle])
    files: dict[int, dict[int, list[int]]] = {}
    for ti, t in enumerate(trees):
        for p, b in t.items():
            files.setdefault(path_ix[p], {}).setdefault(blob_ix[b], []).append(ti)
    data = {
        "format": 1,
        "moby_head": head,
        "newest_tag": tags[-1][0],
        "tags": [list(t) for t in tags],
        "paths": paths,
        "names": names,
        "blobs": blobs,
        "files": {
            str(p): [[b, ranges(ts)] for b, ts in sorted(v.items(), key=lambda kv: kv[1][0])]
            for p, v in sorted(files.items())
        },
    }
    return fingerprint.pack(data)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clone", help="moby/moby git clone (bare git dir or work tree)")
    ap.add_argument(
        "-o",
        "--output",
        default=str(
            Path(__file__).resolve().parent.parent / "forensics" / "data" / "moby_fingerprints.bin"
        ),
    )
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    out = build(args.clone)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_bytes(out)
    print(f"{args.output}: {len(out)} bytes in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
