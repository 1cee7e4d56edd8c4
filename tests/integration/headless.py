"""Headless Chromium driven over its DevTools protocol: open a page, wait for it to load, and
read what it recorded. Only what the cross-origin tests need: no driver, no browser download
(Debian's `chromium` package; tests skip without it)."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

STARTUP_SECONDS = 60
ANSWER_SECONDS = 60
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these Chromium calls home at start, and this machine's closed network refuses it
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",  # it writes the port it chose to DevToolsActivePort
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One browser's DevTools connection; each page in a tab of its own."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def _send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Call ``method`` and return its result; events that arrive meanwhile are dropped."""
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params}
        self._socket.send(json.dumps({**message, **({"sessionId": session} if session else {})}))
        while True:
            answer = json.loads(self._socket.recv(timeout=ANSWER_SECONDS))
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def _loaded(self, session: str) -> None:
        while True:
            event = json.loads(self._socket.recv(timeout=ANSWER_SECONDS))
            if event.get("method") == "Page.loadEventFired" and event.get("sessionId") == session:
                return

    def open(self, url: str) -> str:
        """A new tab showing ``url``, once loaded; its session id."""
        target = self._send("Target.createTarget", url="about:blank")["targetId"]
        session = self._send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self._send("Page.enable", session)
        self._send("Page.navigate", session, url=url)
        self._loaded(session)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of ``expression`` in the tab's page (a promise is awaited)."""
        result = self._send(
            "Runtime.evaluate", session, expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"the page threw: {result['exceptionDetails']}")
        return result["result"].get("value")


@contextmanager
def browser(binary: str, profile: Path) -> Iterator[Browser]:
    """Chromium with a fresh profile in ``profile``, stopped afterwards."""
    profile.mkdir(parents=True, exist_ok=True)
    log = profile / "chromium.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (port_file.exists() and len(port_file.read_text().splitlines()) == 2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as socket:
            yield Browser(socket)
    finally:
        process.kill()
        process.wait()
