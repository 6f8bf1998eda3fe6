"""Headless Chromium for previews and tests: screenshots and layout checks of an email.

An adapter, not part of the pure core. It drives the ``chromium`` binary (Debian package
``chromium``) over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so it needs no Python
package, no port and no network. The page gets the exact viewport asked for (device
metrics emulation; a plain ``--window-size`` is clamped to 500 px by headless Chromium),
optionally with ``prefers-color-scheme: dark``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest.errors import ConfigError

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # an email must not load anything remote
    "--remote-debugging-pipe",
)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

MEASURE = """(() => {
  const doc = document.documentElement, width = window.innerWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 0.5)
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
  const channel = v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = c => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(channel);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const opaque = c => c && !/^rgba\\(.*, 0\\)$/.test(c) && c !== 'transparent';
  const backdrop = el => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (opaque(c)) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  let worst = {ratio: 99, text: ''};
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    const el = node.parentElement, text = node.textContent.trim();
    if (!text || !el) continue;
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    const hidden = style.visibility === 'hidden' || style.opacity === '0';
    if (!box.width || !box.height || hidden) continue;
    const a = luminance(style.color), b = luminance(backdrop(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst.ratio) worst = {ratio, text: text.slice(0, 60)};
  }
  return {scrollWidth: doc.scrollWidth, innerWidth: width,
          height: Math.max(doc.scrollHeight, document.body.scrollHeight), overflowing: wide,
          background: getComputedStyle(document.body).backgroundColor,
          contrast: worst.ratio, lowContrastText: worst.text};
})()"""


def find_chromium() -> str | None:
    """The Chromium binary: ``DIGEST_CHROMIUM`` if set, else the first one on PATH."""
    configured = os.environ.get("DIGEST_CHROMIUM")
    if configured:
        return configured if shutil.which(configured) else None
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


@dataclass
class PageShot:
    """How a page laid out at one viewport width, and its full-page screenshot."""

    width: int
    inner_width: int
    scroll_width: int
    height: int
    overflowing: list[str] = field(default_factory=list)
    background: str = ""  # the computed background colour of <body>
    contrast: float = 0.0  # the lowest text/background contrast ratio (WCAG) on the page
    low_contrast_text: str = ""  # the text with that lowest ratio
    png: bytes = b""
    measured: Any = None  # what the caller's ``script`` returned, if any

    @property
    def overflows(self) -> bool:
        return self.scroll_width > self.inner_width


class Chromium:
    """One headless Chromium process; use as a context manager."""

    def __init__(self, binary: str | None = None, *, timeout: float = 30.0):
        found = binary or find_chromium()
        if not found:
            raise ConfigError(
                "headless Chromium not found: install the Debian package 'chromium' "
                "(scripts/install-system-deps) or set DIGEST_CHROMIUM"
            )
        self.binary = found
        self.timeout = timeout
        self._ids = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._pid: int | None = None
        self._profile: str | None = None

    # -- process and protocol -----------------------------------------------------------
    def __enter__(self) -> Chromium:
        self._profile = tempfile.mkdtemp(prefix="digest-chromium-")
        pipes = [*os.pipe(), *os.pipe()]  # (child reads, we write), (we read, child writes)
        # Move every end to 10+ so that placing two of them on 3 and 4 cannot clash.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in pipes]
        for fd in pipes:
            os.close(fd)
        child_in, self._write_fd, self._read_fd, child_out = high
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        actions = [
            (os.POSIX_SPAWN_DUP2, devnull, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, devnull, 2),
            (os.POSIX_SPAWN_DUP2, child_in, 3),
            (os.POSIX_SPAWN_DUP2, child_out, 4),
        ]
        argv = [self.binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"]
        try:
            self._pid = os.posix_spawn(self.binary, argv, dict(os.environ), file_actions=actions)
        except OSError as exc:
            self._pid = None
            self._cleanup()
            raise ConfigError(f"cannot start {self.binary}: {exc.strerror}") from None
        finally:
            for fd in (child_in, child_out, devnull):
                os.close(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _running(self) -> bool:
        if self._pid is None:
            return False
        if os.waitpid(self._pid, os.WNOHANG) == (0, 0):
            return True
        self._pid = None
        return False

    def close(self) -> None:
        if self._running():
            with contextlib.suppress(Exception):  # it is going away either way
                self.send("Browser.close", timeout=5)
            deadline = time.monotonic() + 5
            while self._running() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._pid is not None:
                os.kill(self._pid, signal.SIGKILL)
                os.waitpid(self._pid, 0)
                self._pid = None
        self._cleanup()

    def _cleanup(self) -> None:
        for fd in ("_write_fd", "_read_fd"):
            if hasattr(self, fd):
                with contextlib.suppress(OSError):
                    os.close(getattr(self, fd))
                delattr(self, fd)
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._read_fd], [], [], remaining)[0]:
                raise TimeoutError("headless Chromium did not answer in time")
            chunk = os.read(self._read_fd, 1 << 16)
            if not chunk:
                raise ConfigError("headless Chromium exited unexpectedly")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        self._ids += 1
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._write_fd, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise ConfigError("headless Chromium exited unexpectedly") from None
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._ids:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self._events.append(reply)

    def _wait_event(self, name: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == name and event.get("sessionId") == session:
                    del self._events[i]
                    return
            self._events.append(self._read_message(deadline))

    # -- pages --------------------------------------------------------------------------
    def shoot(
        self,
        html_file: Path,
        width: int,
        *,
        dark: bool = False,
        screenshot: bool = True,
        script: str | None = None,
    ) -> PageShot:
        """Lay ``html_file`` out ``width`` CSS pixels wide; measure it; screenshot it whole.

        ``script``: a JavaScript expression evaluated on the page; its JSON value is kept
        in ``PageShot.measured``."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        try:
            metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500}
            self.send("Emulation.setDeviceMetricsOverride", metrics, session=session)
            scheme = "dark" if dark else "light"
            self.send(
                "Emulation.setEmulatedMedia",
                {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
                session=session,
            )
            self.send("Page.enable", session=session)
            self.send("Page.navigate", {"url": Path(html_file).resolve().as_uri()}, session=session)
            self._wait_event("Page.loadEventFired", session)
            value = self.send(
                "Runtime.evaluate", {"expression": MEASURE, "returnByValue": True}, session=session
            )["result"]["value"]
            shot = PageShot(
                width=width,
                inner_width=value["innerWidth"],
                scroll_width=value["scrollWidth"],
                height=value["height"],
                overflowing=value["overflowing"],
                background=value["background"],
                contrast=round(value["contrast"], 2),
                low_contrast_text=value["lowContrastText"],
            )
            if script is not None:
                shot.measured = self.send(
                    "Runtime.evaluate",
                    {"expression": script, "returnByValue": True},
                    session=session,
                )["result"].get("value")
            if screenshot:
                clip = {"x": 0, "y": 0, "width": width, "height": shot.height, "scale": 1}
                data = self.send(
                    "Page.captureScreenshot",
                    {"format": "png", "captureBeyondViewport": True, "clip": clip},
                    session=session,
                )["data"]
                shot.png = base64.b64decode(data)
            return shot
        finally:
            self.send("Target.closeTarget", {"targetId": target})


def screenshots(
    html_file: Path, out_stem: Path, widths: tuple[int, ...] = (375, 600), *, dark: bool = False
) -> list[tuple[Path, PageShot]]:
    """Write ``<stem>-<width>px.png`` for each width; return the files and measurements."""
    written = []
    with Chromium() as browser:
        for width in widths:
            shot = browser.shoot(html_file, width, dark=dark)
            suffix = f"-{width}px{'-dark' if dark else ''}.png"
            path = out_stem.with_name(out_stem.name + suffix)
            path.write_bytes(shot.png)
            written.append((path, shot))
    return written
