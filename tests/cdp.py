"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol with ``websockets``.

``Browser(tmp)`` starts Chromium with a fresh profile and ``--remote-debugging-port=0``, reads the
port from the profile's DevToolsActivePort file and talks to the browser target; ``new_page(url)``
opens a tab and attaches to it (flattened sessions), ``Page.eval`` runs JavaScript and returns its
value, ``Page.wait`` polls an expression until it is truthy, ``Page.screenshot`` writes a PNG.
``Browser.context()`` is a browser of its own inside it (an incognito-like context: its own
cookies, storage and cache), with ``new_page`` and ``close`` as a browser has: one Chromium serves
many tests, each in a context of its own.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path

from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required")


class Browser:
    def __init__(self, tmp: Path, timeout: float = 30.0) -> None:
        profile = Path(tmp) / "chromium-profile"
        profile.mkdir(parents=True)
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        self.ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=timeout).__enter__()
        self._ids = itertools.count(1)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30.0) -> dict:
        msg_id = next(self._ids)
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if reply.get("id") == msg_id:  # events and other replies are not needed here
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def context(self) -> "Context":
        """A new browser context: pages that share nothing with the others' (cookies, storage, cache)."""
        return Context(self, self.send("Target.createBrowserContext", {"disposeOnDetach": False})["browserContextId"])

    def new_page(self, url: str, width: int = 1280, height: int = 900, mobile: bool = False,
                 context: str | None = None) -> "Page":
        """A tab showing ``url`` (in the browser context ``context``, else the default one)."""
        where = {"browserContextId": context} if context else {}
        target = self.send("Target.createTarget", {"url": "about:blank", **where})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.send("Page.enable")
        page.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "mobile": mobile,
                                                         "deviceScaleFactor": 1})
        page.send("Page.navigate", {"url": url})
        return page

    def close(self) -> None:
        """Chromium asked over DevTools to close, as its window's close would (its exit then removes
        the folder of its singleton socket from the temporary folder, which SIGTERM leaves behind,
        one per run); terminated if it is still there after 10 s."""
        if hasattr(self, "ws"):  # connected
            try:
                self.send("Browser.close", timeout=10)
            except Exception:  # noqa: BLE001 - gone before its answer
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - closed by Chromium already
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Context:
    """A browser context of a :class:`Browser`: its tabs share their cookies and storage with one
    another only; ``close`` closes them all and forgets what they kept."""

    def __init__(self, browser: Browser, context_id: str) -> None:
        self.browser, self.id = browser, context_id

    def new_page(self, url: str, width: int = 1280, height: int = 900, mobile: bool = False) -> "Page":
        return self.browser.new_page(url, width=width, height=height, mobile=mobile, context=self.id)

    def close(self) -> None:
        self.browser.send("Target.disposeBrowserContext", {"browserContextId": self.id})


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser, self.session = browser, session

    def send(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, self.session)

    def eval(self, expression: str):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def wait(self, expression: str, timeout: float = 30.0, poll: float = 0.02):
        """Poll ``expression`` until truthy (as a JSON value: compare DOM nodes with null); returns
        (value, seconds waited) or raises TimeoutError."""
        t0 = time.monotonic()
        while True:
            try:
                value = self.eval(expression)
            except RuntimeError:
                value = None  # the page is still loading
            if value:
                return value, time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"not true within {timeout} s: {expression}")
            time.sleep(poll)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)
