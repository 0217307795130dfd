"""A headless Chromium driven over the Chrome DevTools Protocol, for testing the HTML
report as a reader sees it: console errors, what is visible, screenshots.

Debian's `chromium` (installed by `make browser`, which `make test` runs) plus the
websocket-client package; no browser download, no Selenium.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    "--hide-scrollbars",
]
NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium():
    return next((p for p in (shutil.which(n) for n in NAMES) if p), None)


class Browser:
    def __init__(self, width=1280, height=1000, timeout=60):
        exe = find_chromium()
        if exe is None:
            raise RuntimeError("no chromium on PATH")
        self.profile = tempfile.mkdtemp(prefix="dlbench-chromium-")
        self.log = open(os.path.join(self.profile, "stderr.log"), "wb")
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
        )
        self.timeout = timeout
        self.events = []
        self._id = 0
        try:
            self.ws = websocket.create_connection(self._page_socket(), timeout=timeout, suppress_origin=True)
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _page_socket(self):
        """Chromium writes the port it picked to DevToolsActivePort; the page's socket is on /json."""
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.proc.returncode}")
            if os.path.exists(port_file):
                lines = open(port_file).read().split()
                if lines:
                    with urllib.request.urlopen(f"http://127.0.0.1:{lines[0]}/json/list", timeout=10) as r:
                        pages = [t for t in json.load(r) if t.get("type") == "page"]
                    if pages:
                        return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port in time")

    def call(self, method, **params):
        self._id += 1
        mine = self._id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method):
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def open(self, path):
        self.events.clear()
        self.call("Page.navigate", url="file://" + os.path.abspath(path))
        self.wait_for("Page.loadEventFired")
        self.evaluate("1")  # drain what the page logged while loading

    def evaluate(self, expression):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def console_errors(self):
        """Errors and warnings the page produced: console calls, uncaught exceptions,
        and browser log entries (a blocked or failed load, a CSP violation)."""
        out = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                out.append(p.get("exceptionDetails", {}).get("text", "exception"))
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(p["entry"].get("text", ""))
        return out

    def viewport(self, width=None, height=None):
        """Show the page as a window of width x height CSS pixels would (a laptop's 1366x768);
        no arguments: back to the window's own size."""
        if width is None:
            self.call("Emulation.clearDeviceMetricsOverride")
        else:
            self.call(
                "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
            )

    def screenshot(self, x, y, width, height):
        """PNG bytes of a region of the page (page coordinates, beyond the viewport too)."""
        res = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": x, "y": y, "width": width, "height": height, "scale": 1},
        )
        return base64.b64decode(res["data"])

    def close(self):
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)
