"""Every HTML output in real headless Chromium (Debian's package, installed by .ci/run): no console
error, no network request, nothing executed, hostile text inert, the verdict visible, a phone and a
printer served. Set FORENSICS_SCREENSHOTS=DIR to keep the screenshots."""

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from chromium import chromium_path, open_page
from conftest import REPRO

from forensics.analyze import analyze
from forensics.report import to_html

pytestmark = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="chromium is not installed (.ci/run installs Debian's package)",
)
NAME = '<script>alert(1)</script>"><img src=x onerror=alert(2)>javascript:alert(3)\u202egnp.exe'
MESSAGE = '<script>alert(4)</script> "><img src=x onerror=alert(5)> <a href="javascript:alert(6)">x</a> \u202etxt.exe'
# What may not exist in a report's DOM: anything that runs, loads or navigates off a click to a script.
ACTIVE = "script, img, iframe, frame, object, embed, link[rel=stylesheet], a[href^='javascript' i], base, form, meta[http-equiv=refresh]"
ATTRIBUTES = """[...document.querySelectorAll('body *')].flatMap(e => [...e.attributes])
  .filter(a => a.name.startsWith('on') || (/^(href|src|action|xlink:href)$/.test(a.name) && !/^(#|https?:|[^:]*$)/i.test(a.value)))
  .map(a => a.name + '=' + a.value)"""


def screenshot(page, name: str, tmp_path: Path, full_page: bool = False) -> Path:
    keep = os.environ.get("FORENSICS_SCREENSHOTS")
    path = page.screenshot((Path(keep) if keep else tmp_path) / name, full_page=full_page)
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a real picture, not a blank page
    return path


def png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def assert_inert(page) -> None:
    assert page.console_errors == []
    assert page.requests == []  # the report itself is the only thing loaded
    assert page.dialogs == []
    assert page.js(f"document.querySelectorAll({ACTIVE!r}).length") == 0
    assert page.js(ATTRIBUTES) == []


@pytest.fixture(scope="module")
def repro_html(tmp_path_factory, rules) -> Path:
    path = tmp_path_factory.mktemp("report") / "49227.html"
    path.write_text(to_html(analyze([str(REPRO)], rules=rules)), encoding="utf-8")
    return path


def test_49227_report_opens_clean_with_the_verdict_in_view(repro_html, tmp_path):
    with open_page(repro_html) as page:
        assert_inert(page)
        banner = page.js("""(() => { const b = document.getElementById('verdict'), r = b.getBoundingClientRect();
            return {text: b.innerText, top: r.top, bottom: r.bottom, width: r.width, shown: b.checkVisibility(),
                    screen: innerHeight}; })()""")
        assert (
            "Problem found: moby/moby#49227" in banner["text"]
            and "Container test (d593da0690bf)" in banner["text"]
        )
        assert "What to do:" in banner["text"] and "restart dockerd" in banner["text"]
        assert (
            banner["shown"]
            and 0 <= banner["top"] < banner["bottom"] <= banner["screen"]
            and banner["width"] > 600
        )
        drawn = page.js("""[...document.querySelectorAll('svg')].map(s => [s.getAttribute('class'),
            Math.round(s.getBoundingClientRect().width), s.querySelectorAll('rect, path').length])""")
        assert drawn[0][0] == "timeline" and drawn[0][1] > 600 and drawn[0][2] > 20
        assert [d[0] for d in drawn[1:]] == ["graph"] * 3 and all(d[1] > 600 for d in drawn[1:])
        shot = screenshot(page, "49227-report.png", tmp_path)
        assert png_size(shot) == (1280, 900)
        full = screenshot(page, "49227-report-full.png", tmp_path, full_page=True)
        assert png_size(full)[1] > 3000


def test_a_phone_gets_no_sideways_scrolling(repro_html, tmp_path):
    with open_page(repro_html, width=390, height=844) as page:
        page.viewport(390, 844, mobile=True)
        assert page.js("document.documentElement.scrollWidth") <= 390
        assert page.js("document.getElementById('verdict').getBoundingClientRect().right") <= 390
        screenshot(page, "49227-report-phone.png", tmp_path)


def test_print_shows_the_collapsed_sections(repro_html):
    rules_table = "document.querySelector('#rules + details table')"
    with open_page(repro_html) as page:
        assert page.js(f"{rules_table}.checkVisibility()") is False  # collapsed on screen
        page.media("print")
        assert page.js(f"{rules_table}.checkVisibility()") is True
        assert page.js("getComputedStyle(document.querySelector('nav')).display") == "none"


def hostile_inputs(folder: Path) -> Path:
    """The reproduction with a container name, log messages, a panic, a goroutine state and file
    names carrying markup, javascript: URLs and a bidi override."""
    folder.mkdir()
    ps = (
        (REPRO / "docker-ps-a.txt").read_text().replace("             test", "             " + NAME)
    )
    (folder / "docker-ps-a.txt").write_text(ps)
    log = (REPRO / "dockerd.log").read_text().splitlines()
    at = log.index(
        "2026/11/29 12:28:12 http: panic serving @: runtime error: invalid memory address or nil pointer dereference"
    )
    log[at] = log[at].replace("@", "<img src=x onerror=alert(7)>")
    log.insert(
        at,
        'time="2026-11-29T12:28:11.000000000Z" level=error msg="'
        + MESSAGE.replace('"', '\\"')
        + '"',
    )
    (folder / '"><img src=x onerror=alert(8)>dockerd\u202e.log').write_text("\n".join(log) + "\n")
    stacks = (REPRO / "goroutine-stacks-2026-11-29T122857Z.log").read_text()
    (folder / "javascript:alert(9).log").write_text(
        stacks.replace("goroutine 58 [running]:", "goroutine 58 [<b>running</b>]:")
    )
    return folder


def test_hostile_input_renders_as_inert_text(tmp_path, rules):
    html = tmp_path / "hostile.html"
    html.write_text(
        to_html(analyze([str(hostile_inputs(tmp_path / "in"))], rules=rules)), encoding="utf-8"
    )
    with open_page(html) as page:
        assert_inert(page)
        text = page.js("document.body.textContent")
        message = MESSAGE.replace('"', '\\"').split("\u202e")[
            0
        ]  # as the log line quotes it, around the panic
        for payload in (
            NAME.split("\u202e")[0],
            message,
            "http: panic serving <img src=x onerror=alert(7)>",
            '"><img src=x onerror=alert(8)>dockerd⟨U+202E⟩.log',
            "javascript:alert(9).log",
            "<b>running</b>",
        ):
            assert payload in text, payload
        assert "\u202e" not in text and "gnp.exe" in text and "⟨U+202E⟩gnp.exe" in text
        assert (
            page.js("document.querySelector('#verdict').innerText").count(
                "<script>alert(1)</script>"
            )
            == 1
        )
        screenshot(page, "hostile-report.png", tmp_path)


def test_fleet_page_and_host_pages_are_inert(tmp_path):
    hosts = tmp_path / "hosts"
    shutil.copytree(REPRO, hosts / '"><img src=x onerror=alert(1)>\u202e')
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "forensics",
            "scan",
            "--hosts-in",
            str(hosts),
            "--out",
            str(out),
            "--per-host-reports",
            "-q",
            "-j",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr  # the host has the critical 49227 finding
    pages = [out / "fleet.html", *sorted((out / "hosts").glob("*.html"))]
    assert len(pages) == 2
    for html in pages:
        with open_page(html) as page:
            assert_inert(page)
            assert '"><img src=x onerror=alert(1)>' in page.js("document.body.textContent")


def test_dump_page_is_inert(tmp_path):
    folder = hostile_inputs(tmp_path / "in")
    page = tmp_path / "dump.html"
    dumps = [str(p) for p in sorted(folder.iterdir()) if p.name.startswith("javascript:")]
    proc = subprocess.run(
        [sys.executable, "-m", "forensics", "dump", *dumps, "--html", str(page)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr
    with open_page(page) as opened:
        assert_inert(opened)
        text = opened.js("document.body.textContent")
        assert "javascript:alert(9).log" in text and "<b>running</b>" in text
