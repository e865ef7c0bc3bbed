"""forensics.goroutines.fingerprint: the engine release from the line numbers of a dump's daemon frames.

Every expectation below is what the table built from moby (see scripts/README.md) gives for a
real dump; the ranges are as wide as the evidence leaves them, e.g. Debian's 20.10.24 cannot be
told from 20.10.25-27 by its frames.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, HEALTHY, REPRO, SAMPLES

from forensics.goroutines import fingerprint as fp
from forensics.parse.fastdump import parse_text

DUMPS = FIXTURES / "dumps"
VERSIONS = FIXTURES / "versions"
PATCHED = (
    "github.com/docker/docker/daemon.(*Daemon).getInspectData",
    "/go/src/github.com/docker/docker/daemon/inspect.go",
    202,
)


def frames_of(path: Path) -> list[tuple[str, str, int]]:
    """(function, file, line) of every frame of every dump in a file, read by the repo's parser."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    dumps = parse_text(data.decode("utf-8", "replace"), str(path))
    return [
        (f.func, f.file, f.lineno)
        for d in dumps
        for g in d.goroutines
        for f in g.frames
        if f.file and f.lineno
    ]


def kinds_of(path: Path) -> list[str]:
    return [
        d.kind for d in parse_text(path.read_text(encoding="utf-8", errors="replace"), str(path))
    ]


# (file, dump kind, display, unfit frames): every real dump the repo holds, every shape
REAL = [
    # Debian's dockerd 20.10.24+dfsg1 (go1.19.8)
    (HEALTHY / "goroutine-stacks-sigusr1.log", "stacks", "20.10.24–20.10.27", ()),
    (HEALTHY / "goroutine-stacks-sigusr1-during-stop.log", "stacks", "20.10.24–20.10.27", ()),
    (HEALTHY / "pprof-goroutine-debug2.txt", "stacks", "20.10.24–20.10.27", ()),
    (HEALTHY / "pprof-goroutine-debug1.txt", "pprof-debug1", "20.10.24–20.10.27", ()),
    (
        HEALTHY / "sigquit-stderr.log",
        "stacks",
        "20.10.24–20.10.27",
        (),
    ),  # 20.10's own SIGQUIT handler
    (
        HEALTHY / "dockerd-20.10.24-managed-containerd-sigquit.log",
        "stacks",
        "20.10.24–20.10.27",
        (),
    ),
    # 27.4.1 with a delay loop inserted in daemon/inspect.go (moby#49227 reproduction)
    (REPRO / "goroutine-stacks-2026-11-29T122857Z.log", "stacks", "27.4.1", ()),
    (REPRO / "pprof-goroutine-debug2.txt", "stacks", "27.4.1", ()),
    (REPRO / "pprof-goroutine-debug1.txt", "pprof-debug1", "27.4.1", ()),
    (REPRO / "dockerd-stderr-after-sigquit.txt", "sigquit", "27.4.1", ()),
    (
        REPRO / "dockerd.log",
        "panic",
        "27.4.1",
        (PATCHED,),
    ),  # the panic trace runs through the patch
    # the unmodified 27.4.1
    (SAMPLES / "49227-control" / "pprof-goroutine-debug2.txt", "stacks", "27.4.1–27.5.1", ()),
    (
        SAMPLES / "49227-control" / "goroutine-stacks-2026-11-29T123223Z.log",
        "stacks",
        "25.0.7–25.0.15, 27.4.1–27.5.1",
        (),
    ),
    # 23.0.6 built from its tag here (tests/fixtures/versions/v23.0.6/README.md): no 23.0.x moved these lines
    (
        VERSIONS / "v23.0.6" / "goroutine-stacks-2026-12-06T071625Z.log",
        "stacks",
        "23.0.0–23.0.18",
        (),
    ),
    (VERSIONS / "v23.0.6" / "pprof-goroutine-debug2.txt", "stacks", "23.0.0–23.0.18", ()),
    (VERSIONS / "v23.0.6" / "pprof-goroutine-debug1.txt", "pprof-debug1", "23.0.0–23.0.18", ()),
    (VERSIONS / "v23.0.6" / "dockerd-stderr-sigquit.log", "sigquit", "23.0.0–23.0.18", ()),
    # 26.1.4 built from its tag (tests/fixtures/versions/v26.1.4/README.md)
    (
        VERSIONS / "v26.1.4" / "goroutine-stacks-2026-12-06T064151Z.log",
        "stacks",
        "26.1.4–26.1.5",
        (),
    ),
    (VERSIONS / "v26.1.4" / "pprof-goroutine-debug2.txt", "stacks", "26.1.4–26.1.5", ()),
    (VERSIONS / "v26.1.4" / "pprof-goroutine-debug1.txt", "pprof-debug1", "26.1.4–26.1.5", ()),
]


@pytest.mark.parametrize(
    "path,kind,display,unfit", REAL, ids=lambda v: v.name if isinstance(v, Path) else None
)
def test_real_dumps(path, kind, display, unfit):
    assert kind in kinds_of(path)
    m = fp.match(frames_of(path))
    assert m.display == display
    assert m.unfit == unfit
    assert m.frames >= 17 and m.fitting == m.frames - len(unfit)
    assert m.ratio == round(m.fitting / m.frames, 4)
    assert list(m.candidates) == sorted(m.candidates, key=lambda v: tuple(map(int, v.split("."))))
    assert not m.unknown
    assert m.ignored > 0  # runtime, stdlib and vendored frames are not evidence


def test_patched_file_is_named_and_the_release_still_found():
    m = fp.match(frames_of(REPRO / "dockerd.log"))
    assert m.candidates == ("27.4.1",) and m.tags == ("v27.4.1",)
    assert m.unfit == (PATCHED,)
    assert 0.9 < m.ratio < 1
    assert "1 of 39 daemon frames fit no candidate" in m.reason
    assert "weak" not in m.reason


def test_each_dump_of_one_daemon_agrees_with_its_docker_version():
    """The v26.1.4 daemon's own `docker version` says 26.1.4; every dump shape contains it."""
    server = (VERSIONS / "v26.1.4" / "docker-version.txt").read_text().split("Server:")[1]
    assert " Version:          26.1.4" in server
    for name in (
        "goroutine-stacks-2026-12-06T064151Z.log",
        "pprof-goroutine-debug1.txt",
        "pprof-goroutine-debug2.txt",
    ):
        assert "26.1.4" in fp.match(frames_of(VERSIONS / "v26.1.4" / name)).candidates


def test_built_release_is_among_the_candidates():
    for tag, version in (("v23.0.6", "23.0.6"), ("v26.1.4", "26.1.4")):
        server = (VERSIONS / tag / "docker-version.txt").read_text().split("Server:")[1]
        assert f" Version:          {version}" in server
        for path in sorted((VERSIONS / tag).iterdir()):
            if path.name.startswith(("goroutine-stacks", "pprof", "dockerd")):
                m = fp.match(frames_of(path))
                assert version in m.candidates and f"v{version}" in m.tags and m.ratio == 1.0


def test_containerd_dump_has_no_daemon_frames():
    m = fp.match(frames_of(DUMPS / "real-dockerd" / "containerd-stacks-sigusr1-file.log"))
    assert not m and m.display == "" and m.candidates == ()
    assert m.reason == "no daemon frames with a known moby file"
    assert m.ignored > 50  # distinct frames


# one frame: the RWLayer.Metadata() call in getInspectData moved between releases (issue 17)
META = "github.com/docker/docker/daemon.(*Daemon).getInspectData"


@pytest.mark.parametrize(
    "line,inside,outside",
    [
        # one frame only rules out the releases whose getInspectData does not span the line, or
        # has a blank / comment line there: what remains is wide, here from 17.x to 29.x
        (
            199,
            ["24.0.0", "27.0.1", "27.5.1"],
            ["26.0.0", "28.0.0"],
        ),  # 26.0.0: blank; 28: span ends at 195
        (227, ["25.0.0"], ["24.0.0", "26.1.4", "27.4.1", "28.0.0"]),  # spans end at 211 / 195
        (
            203,
            ["25.0.0", "26.0.0"],
            ["24.0.0", "26.1.4", "27.4.1", "28.0.0"],
        ),  # 203: blank or past the end
        (183, ["24.0.0", "28.0.0", "27.4.1"], ["24.0.8", "24.0.9"]),
    ],
)
def test_one_frame_is_a_wide_range(line, inside, outside):
    m = fp.match([(META, "/go/src/github.com/docker/docker/daemon/inspect.go", line)])
    assert set(inside) <= set(m.candidates)
    assert not set(outside) & set(m.candidates)
    assert m.frames == 1 and m.ratio == 1.0


@pytest.mark.parametrize(
    "file",
    [
        "/go/src/github.com/docker/docker/daemon/inspect.go",
        "/root/build-deb/engine/daemon/inspect.go",  # docker-ce packaging tree: no module path
        "/build/docker.io-xyz/.gopath/src/github.com/docker/docker/daemon/inspect.go",
        "github.com/docker/docker/daemon/inspect.go",  # -trimpath
        "C:\\gopath\\src\\github.com\\docker\\docker\\daemon\\inspect.go",
        "daemon/inspect.go",
    ],
)
def test_file_prefixes(file):
    m = fp.match([(META, file, 199)])
    assert "27.4.1" in m.candidates and m.frames == 1


def test_debug1_offsets_generics_and_closures():
    frames = [
        (META + "+0xf5b", "/x/github.com/docker/docker/daemon/inspect.go", 199),
        (
            "github.com/docker/docker/daemon.(*Daemon).getInspectData.func1.2",
            "/x/daemon/inspect.go",
            199,
        ),
    ]
    m = fp.match(frames)
    assert m.frames == 2 and m.ratio == 1.0 and "27.4.1" in m.candidates


def test_moby_v2_module_paths():
    """docker-v29 builds: module github.com/moby/moby/v2, code under daemon/internal/..."""
    table = fp._load()
    internal = sorted(
        p for p in table.paths if p.startswith("daemon/internal/") and p.endswith(".go")
    )
    assert internal
    path = internal[0]
    blob, tags = table.versions(path)[-1]
    _, by_name, idle = table.spans(blob)
    name, ((start, end), *_) = next((n, s) for n, s in sorted(by_name.items()) if "." not in n)
    line = next(n for n in range(start, end + 1) if n not in idle)
    pkg = path.rsplit("/", 1)[0]
    m = fp.match(
        [
            (f"github.com/moby/moby/v2/{pkg}.{name}", f"/src/github.com/moby/moby/v2/{path}", line),
            (f"github.com/moby/moby/v2/{pkg}.{name}", f"/src/moby/{path}", line),
        ]
    )
    assert m.frames == 1 or m.frames == 2
    assert m.ratio == 1.0 and {table.tags[t][1] for t in tags} & set(m.candidates)


def test_vendored_and_foreign_frames_are_not_evidence():
    frames = [
        (
            "github.com/docker/docker/vendor/github.com/containerd/containerd.(*Client).Pull",
            "/go/src/github.com/docker/docker/vendor/github.com/containerd/containerd/client.go",
            100,
        ),
        (
            "github.com/containerd/containerd.(*Client).Pull",
            "/go/src/github.com/docker/docker/vendor/github.com/containerd/containerd/client.go",
            100,
        ),
        (
            "github.com/moby/moby/api/types.X",
            "/go/src/github.com/moby/moby/vendor/github.com/moby/moby/api/types/x.go",
            3,
        ),
        (
            "github.com/docker/docker/client.(*Client).Ping",
            "/go/src/github.com/docker/cli/vendor/github.com/docker/docker/client/ping.go",
            20,
        ),
        (
            "google.golang.org/grpc.(*Server).Serve",
            "/go/pkg/mod/google.golang.org/grpc/server.go",
            800,
        ),
        ("runtime.gopark", "/usr/local/go/src/runtime/proc.go", 398),
        ("main.main", "/go/src/github.com/docker/cli/cmd/docker/docker.go", 10),
        (
            "github.com/docker/docker/api/server/router/container.(*containerRouter).getContainersByName-fm",
            "<autogenerated>",
            1,
        ),
    ]
    m = fp.match(frames)
    assert not m and m.ignored == len(frames) and m.frames == 0
    assert m.reason == "no daemon frames with a known moby file"


@pytest.mark.parametrize(
    "bad",
    [
        [],
        None,
        5,
        "not frames",
        [None, 3, ("a",), ("f", "g", "x"), ("f", None, 1), (1, 2, 3)],
        [
            (
                "github.com/docker/docker/daemon.nope",
                "/go/src/github.com/docker/docker/daemon/nope.go",
                3,
            )
        ],
        [(META, "/go/src/github.com/docker/docker/daemon/inspect.go", 0)],
        [(META, "/go/src/github.com/docker/docker/daemon/inspect.go", 10**9)],
    ],
)
def test_bad_input_never_raises(bad):
    m = fp.match(bad)
    assert not m and m.display == "" and m.reason


def test_unknown_file_is_reported():
    frame = (
        "github.com/docker/docker/daemon.(*Daemon).nope",
        "/go/src/github.com/docker/docker/daemon/nope.go",
        3,
    )
    m = fp.match([frame])
    assert m.unknown == (frame,) and "files no release has" in m.reason


def test_frame_on_a_line_with_no_code_rules_the_release_out():
    # v27.4.1 daemon/inspect.go:202 is a comment inside getInspectData (the span is 115-211)
    assert "27.4.1" not in fp.match([PATCHED]).candidates


def test_table_records_what_it_was_built_from():
    info = fp.table_info()
    assert len(info["moby_head"]) == 40 and info["newest_tag"].startswith("docker-v29.")
    assert info["first"] == "v17.03.0-ce" and info["releases"] > 190
    table = fp._load()
    versions = [tuple(map(int, v.split("."))) for _, v, _ in table.tags]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert all(len(c) == 40 for _, _, c in table.tags)
    assert not any("rc" in t or "beta" in t for t, _, _ in table.tags)


def test_match_is_fast():
    frames = frames_of(REPRO / "dockerd.log")
    fp._load()
    t0 = time.perf_counter()
    for _ in range(10):
        fp.match(frames)
    assert (time.perf_counter() - t0) / 10 < 0.5


def test_a_dump_reads_only_the_files_its_frames_name():
    # the table is an index and a chunk per path: a run decompresses the chunks of the paths its
    # daemon frames name, not the 14,000 file versions (5.7 MB of JSON) of every release
    table = fp._Table(fp.resources.files("forensics").joinpath(fp.DATA).read_bytes())
    assert not table._blobs and not table._expanded
    frames = frames_of(REPRO / "dockerd.log")
    named = {fp.source_path(func, file) for func, file, _ in frames} - {None}
    for path in named:
        for blob, _ in table.versions(path):
            table.spans(blob)
    assert set(table._expanded) == named and 10 <= len(named) < len(table.paths) / 20
    assert len(table._blobs) < table.blob_count / 10


def test_pack_keeps_every_span():
    raw = {
        "format": 1,
        "moby_head": "0" * 40,
        "newest_tag": "v2.0.0",
        "tags": [["v1.0.0", "1.0.0", "a" * 40], ["v2.0.0", "2.0.0", "b" * 40]],
        "paths": ["daemon/a.go", "daemon/b.go"],
        "names": ["(*Daemon).A", "B", "C"],
        # blob id, line count, (name, start - previous start, end - start) triples, idle runs
        "blobs": [["x", 40, [0, 3, 10, 2, 20, 5], [1, 2]], ["y", 50, [1, 7, 30], []]],
        "files": {"0": [[0, "0-1"]], "1": [[0, "0"], [1, "1"]]},
    }
    table = fp._Table(fp.pack(raw))
    assert "daemon/a.go" in table and "daemon/c.go" not in table
    assert table.versions("daemon/b.go") == [(0, frozenset({0})), (1, frozenset({1}))]
    assert table.spans(0) == (40, {"(*Daemon).A": [(3, 13)], "C": [(23, 28)]}, frozenset({1, 2}))
    assert table.spans(1) == (50, {"B": [(7, 37)]}, frozenset())
    assert table.blob_count == 2 and table.tags[1] == ("v2.0.0", "2.0.0", "b" * 40)
