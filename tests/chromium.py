"""Drive Debian's headless Chromium over the DevTools protocol, through a pipe (no port, no library).

``open_page(path)`` loads a local HTML file the way a customer opens an attachment (file://) and
returns what happened: console messages, exceptions, network requests, dialogs, plus the live
session to evaluate JavaScript in the page and take screenshots.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-pipe",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One Chromium process; commands go to its fd 3, answers come back on its fd 4."""

    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="forensics-chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()

        def fds():  # the child reads commands on fd 3 and writes answers on fd 4
            commands, answers = (
                fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child, from_child)
            )
            for fd, target in ((commands, 3), (answers, 4)):
                os.dup2(fd, target)
                os.set_inheritable(target, True)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=fds,
            close_fds=False,  # os.pipe() ends are not inherited
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium exited")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._receive(max(0.1, deadline - time.monotonic())))

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._read, self._write):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


@dataclass
class Page:
    browser: Browser
    session: str
    url: str
    events: list[dict] = field(default_factory=list)

    def js(self, expression: str):
        """The value of a JavaScript expression in the page (run by the test, not by the report)."""
        out = self.browser.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session
        )
        return out["result"].get("value")

    def _of(self, method: str) -> list[dict]:
        return [
            e["params"]
            for e in self.browser.events
            if e.get("method") == method and e.get("sessionId") == self.session
        ]

    @property
    def console_errors(self) -> list[str]:
        logs = [
            e["entry"]["text"] for e in self._of("Log.entryAdded") if e["entry"]["level"] == "error"
        ]
        calls = [
            json.dumps(e["args"])
            for e in self._of("Runtime.consoleAPICalled")
            if e["type"] == "error"
        ]
        thrown = [e["exceptionDetails"]["text"] for e in self._of("Runtime.exceptionThrown")]
        return logs + calls + thrown

    @property
    def requests(self) -> list[str]:
        """Every URL the page tried to fetch, besides the report itself."""
        return [
            e["request"]["url"]
            for e in self._of("Network.requestWillBeSent")
            if e["request"]["url"] != self.url
        ]

    @property
    def dialogs(self) -> list[str]:
        return [e["message"] for e in self._of("Page.javascriptDialogOpening")]

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
            self.session,
        )

    def media(self, media: str) -> None:
        self.browser.send("Emulation.setEmulatedMedia", {"media": media}, self.session)

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params = {"format": "png", "captureBeyondViewport": full_page}
        data = self.browser.send("Page.captureScreenshot", params, self.session)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def open_page(html: Path, binary: str | None = None, width: int = 1280, height: int = 900):
    """Open ``html`` (a file) in a fresh headless Chromium and yield the loaded Page."""
    browser = Browser(binary or chromium_path())
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(browser, session, Path(html).resolve().as_uri())
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        page.viewport(width, height)
        browser.send("Page.navigate", {"url": page.url}, session)
        browser.wait_for("Page.loadEventFired")
        yield page
    finally:
        browser.close()
