"""Drive Debian's ``firefox-esr`` over WebDriver BiDi: a small client on ``websockets``.

Why not Playwright: Playwright's Firefox is a patched build it downloads
(``playwright install firefox``), it cannot drive a stock Firefox, and nothing may be
downloaded at test time. Stock Firefox (since 129 without CDP) speaks W3C WebDriver
BiDi itself: started with ``--remote-debugging-port=PORT`` it listens on
``ws://127.0.0.1:PORT/session``, with no geckodriver in between. The Python packages
that speak BiDi either need geckodriver (Selenium; its selenium-manager downloads it)
or are new and unproven, so this module is the few commands the tests use:
``session.new``, ``browsingContext.*``, ``script.callFunction`` (awaitPromise),
``script.addPreloadScript``, ``input.performActions`` (real clicks and key presses:
user gestures, so the page may start audio) and ``log.entryAdded`` for the console.

:class:`Tab` has the part of Playwright's ``Page`` that ``harness.NotebookPage`` uses
(``evaluate(js, arg)``, ``goto``, ``close``), so the notebook helpers (running cells,
kernel queries) are shared with the Chromium tests instead of copied.

Every Firefox gets a fresh profile whose ``user.js`` turns on the fake microphone
(``media.navigator.streams.fake``: a sine tone, no permission prompt) and is killed
with its process group on :meth:`Firefox.close` (or at exit).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from .harness import (
    KERNEL_READY_JS,
    JupyterServer,
    NotebookPage,
    end_process_group,
    free_port,
)

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox") or "/usr/bin/firefox-esr"

FAKE_TONE_HZ = 1000
"""The fake microphone's sine frequency (``media.navigator.audio.fake_frequency``)."""

BASE_PREFS: dict[str, Any] = {
    # fake microphone, no permission prompt
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.navigator.audio.fake_frequency": FAKE_TONE_HZ,
    # cubeb (the audio backend) in the tab's own process, not behind AudioIPC in another:
    # with AudioIPC, Firefox ESR 153 here hung the tab's main thread on Connect in 5 of
    # ~30 runs (gdb: the main thread in a synchronous AudioIPC call, a graph thread and
    # the AudioIPC callback thread waiting on each other; the widget's last Web Audio
    # call had returned), at a 24 kHz and at the default rate alike. In-process it hung
    # less often (0 of 20 at first, then 2 in the next ~25 runs), so the Firefox test's
    # fixture also starts Firefox once more after such a hang (test_firefox_browser.py)
    "media.cubeb.sandbox": False,
    # no first-run pages, no background traffic beyond the remote agent's own defaults
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "extensions.update.enabled": False,
    # focus events without an OS window focus (headless), as Marionette sets it
    "focusmanager.testmode": True,
    # the tests click for real, but a background tab must not be throttled
    "dom.min_background_timeout_value": 0,
}

ENTER = "\ue007"
"""WebDriver's key value for Enter."""


PULSEAUDIO = shutil.which("pulseaudio") or "/usr/bin/pulseaudio"


def missing_firefox() -> str | None:
    """Why Firefox cannot be driven here, or None."""
    if not Path(FIREFOX).exists():
        return f"firefox-esr not found at {FIREFOX} (apt-get install firefox-esr)"
    if not Path(PULSEAUDIO).exists():
        return f"pulseaudio not found at {PULSEAUDIO} (apt-get install pulseaudio)"
    return None


class NullSinkPulse:
    """A private PulseAudio with one null sink, for Firefox's audio output.

    Headless Firefox plays Web Audio through cubeb; with no sound server its
    AudioContexts stay ``suspended`` forever (``resume()`` never settles). This daemon
    lives in its own temp dir (socket, runtime, state, config, home) and only the
    Firefox we start is pointed at it (``env``), so nothing global is touched.
    """

    def __init__(self, *, timeout: float = 20.0) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="rtw-pulse-"))
        self.socket = self.dir / "native"
        self.log_path = self.dir / "pulse.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.dir),
            "XDG_RUNTIME_DIR": str(self.dir),
            "XDG_CONFIG_HOME": str(self.dir / "config"),
            "PULSE_RUNTIME_PATH": str(self.dir / "runtime"),
            "PULSE_STATE_PATH": str(self.dir / "state"),
        }
        self._log_file: BinaryIO | None = open(self.log_path, "wb")  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [
                PULSEAUDIO,
                "-n",  # no default.pa: only the modules below
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--disable-shm=yes",
                "--log-target=stderr",
                "-L",
                f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
                "-L",
                "module-null-sink sink_name=rtw_null",
            ],
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        atexit.register(self.close)
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log_path.read_text(errors="replace")
                self.close()
                raise RuntimeError(f"pulseaudio did not start:\n{log[-3000:]}")
            time.sleep(0.1)

    @property
    def env(self) -> dict[str, str]:
        """What a client needs to use this daemon (and no other)."""
        return {"PULSE_SERVER": f"unix:{self.socket}"}

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            end_process_group(proc, 10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        shutil.rmtree(self.dir, ignore_errors=True)


class BidiError(RuntimeError):
    """A BiDi command answered with an error."""


class Bidi:
    """One BiDi WebSocket: commands wait for their answer; events go to handlers."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.ws: ClientConnection = connect(url, max_size=None, open_timeout=timeout)
        self._next = 0
        self._lock = threading.Lock()
        self._waiting: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.handlers: list[Callable[[str, dict[str, Any]], None]] = []
        self._reader = threading.Thread(target=self._read, name="bidi-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                msg = json.loads(raw)
                ident = msg.get("id")
                if ident is not None:
                    with self._lock:
                        q = self._waiting.get(ident)
                    if q is not None:
                        q.put(msg)
                elif msg.get("type") == "event":
                    for handler in list(self.handlers):
                        with contextlib.suppress(Exception):
                            handler(msg["method"], msg.get("params") or {})
        except (ConnectionClosed, OSError):
            pass
        finally:
            with self._lock:
                waiting = list(self._waiting.values())
            for q in waiting:
                q.put({"type": "error", "error": "closed", "message": "BiDi connection closed"})

    def command(
        self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float = 60.0
    ) -> dict[str, Any]:
        q: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            self._next += 1
            ident = self._next
            self._waiting[ident] = q
        try:
            self.ws.send(json.dumps({"id": ident, "method": method, "params": dict(params or {})}))
            try:
                msg = q.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"BiDi {method}: no answer in {timeout}s") from None
        finally:
            with self._lock:
                self._waiting.pop(ident, None)
        if msg.get("type") == "error":
            raise BidiError(f"{method}: {msg.get('error')}: {msg.get('message')}")
        result: dict[str, Any] = msg.get("result") or {}
        return result

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


class Firefox:
    """Headless Firefox ESR with a fresh profile, driven over BiDi.

    ``prefs`` are added to :data:`BASE_PREFS`; ``env`` to the process environment
    (e.g. ``PULSE_SERVER`` for a private PulseAudio). ``init_scripts`` run in every
    page before its own scripts (``script.addPreloadScript``).
    """

    def __init__(
        self,
        *,
        prefs: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        init_scripts: Sequence[str] = (),
        timeout: float = 60.0,
    ) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="rtw-firefox-profile-"))
        self.log_path = self.profile.parent / (self.profile.name + ".log")
        self.console: list[str] = []
        self.server: JupyterServer | None = None  # harness.PageHost
        self.pages: list[NotebookPage] = []
        all_prefs = {**BASE_PREFS, **(prefs or {})}
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in all_prefs.items())
        )
        self.port = free_port()
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env["MOZ_HEADLESS"] = "1"
        full_env["MOZ_CRASHREPORTER_DISABLE"] = "1"  # no crashhelper outside the group
        self._log_file: BinaryIO | None = open(self.log_path, "wb")  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [
                FIREFOX,
                "--headless",
                "--no-remote",
                "--new-instance",
                f"--remote-debugging-port={self.port}",
                "--remote-allow-hosts=127.0.0.1",
                "--profile",
                str(self.profile),
                "about:blank",
            ],
            env=full_env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        atexit.register(self.close)
        self.bidi: Bidi | None = None
        try:
            self._connect(timeout)
            self.bidi_command("session.new", {"capabilities": {"alwaysMatch": {}}})
            self.bidi_command("session.subscribe", {"events": ["log.entryAdded"]})
            for script in init_scripts:
                self.bidi_command(
                    "script.addPreloadScript", {"functionDeclaration": f"() => {{ {script}\n}}"}
                )
        except BaseException:
            self.close()
            raise

    def _connect(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"ws://127.0.0.1:{self.port}/session"
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"firefox exited:\n{self.log()[-3000:]}")
            if "WebDriver BiDi listening on" in self.log():
                try:
                    self.bidi = Bidi(url)
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"firefox BiDi not listening on {url}:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        self.bidi.handlers.append(self._on_event)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "log.entryAdded":
            text = params.get("text") or " ".join(
                str(a.get("value", a.get("type"))) for a in params.get("args") or []
            )
            kind = params.get("level", "?")
            if params.get("type") == "javascript":
                kind = "pageerror"
            self.console.append(f"{time.time():.3f} [{kind}] {text}")

    def bidi_command(
        self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float = 60.0
    ) -> dict[str, Any]:
        if self.bidi is None:
            raise RuntimeError("firefox is not connected")
        return self.bidi.command(method, params, timeout=timeout)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def first_tab(self) -> Tab:
        tree = self.bidi_command("browsingContext.getTree", {"maxDepth": 0})
        return Tab(self, tree["contexts"][0]["context"])

    def open_notebook(
        self, server: JupyterServer, cells: Sequence[str], name: str, *, timeout: float = 90.0
    ) -> NotebookPage:
        """Write the notebook, open it in a new tab (``?reset`` in Lab) and wait for
        its kernel to be idle; the harness's NotebookPage runs cells and kernel code.

        A new tab, not the start-up one: that one never gets the focus in headless
        mode, and JupyterLab's ``shell.currentWidget`` follows the focus."""
        self.server = server
        server.write_notebook(name, cells)
        tab = self.new_tab()
        tab.goto(server.notebook_url(name))
        tab.wait_for(KERNEL_READY_JS, name, timeout=timeout, what=f"{name}'s kernel idle")
        nb = NotebookPage(self, tab, name)
        self.pages.append(nb)
        nb.install_stack_dumps()
        return nb

    def new_tab(self) -> Tab:
        made = self.bidi_command("browsingContext.create", {"type": "tab"})
        return Tab(self, made["context"])

    def close(self) -> None:
        bidi, self.bidi = self.bidi, None
        if bidi is not None:
            with contextlib.suppress(Exception):
                bidi.command("browser.close", timeout=10)
            bidi.close()
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            # Firefox is its own process group (start_new_session): end its children too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        shutil.rmtree(self.profile, ignore_errors=True)


_CALL = """async function (fnSource, argJson) {
    const fn = (0, eval)('(' + fnSource + ')');
    const value = typeof fn === 'function' ? await fn(JSON.parse(argJson)) : await fn;
    return value === undefined ? 'null' : JSON.stringify(value);
}"""


class Tab:
    """One top-level browsing context; ``evaluate`` works like Playwright's."""

    def __init__(self, browser: Firefox, context: str) -> None:
        self.browser = browser
        self.context = context

    def goto(self, url: str, *, timeout: float = 60.0) -> None:
        self.browser.bidi_command(
            "browsingContext.navigate",
            {"context": self.context, "url": url, "wait": "complete"},
            timeout=timeout,
        )

    def evaluate(self, js: str, arg: Any = None, *, timeout: float = 90.0) -> Any:
        """Call the function expression ``js`` with ``arg`` (JSON in, JSON out) in the
        page, awaiting a returned promise (an expression that is no function is
        evaluated). A thrown exception raises :class:`BidiError`."""
        result = self.browser.bidi_command(
            "script.callFunction",
            {
                "functionDeclaration": _CALL,
                "target": {"context": self.context},
                "arguments": [
                    {"type": "string", "value": js},
                    {"type": "string", "value": json.dumps(arg)},
                ],
                "awaitPromise": True,
                "userActivation": False,
            },
            timeout=timeout,
        )
        if result.get("type") == "exception":
            details = result.get("exceptionDetails") or {}
            raise BidiError(f"page script threw: {details.get('text')}\n--- script:\n{js}")
        return json.loads(result["result"]["value"])

    def wait_for(self, js: str, arg: Any = None, *, timeout: float = 30.0, what: str = "") -> Any:
        """Poll the function expression ``js`` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.evaluate(js, arg)
            if last:
                return last
            time.sleep(0.1)
        raise TimeoutError(f"page condition not met in {timeout}s: {what or js} (last: {last!r})")

    def _center(self, selector: str, timeout: float) -> tuple[int, int]:
        box = self.wait_for(
            """(sel) => {
                const el = document.querySelector(sel);
                if (!el) return null;
                el.scrollIntoView({block: 'center', inline: 'center'});
                const r = el.getBoundingClientRect();
                if (r.width <= 0 || r.height <= 0) return null;
                return [r.x + r.width / 2, r.y + r.height / 2];
            }""",
            selector,
            timeout=timeout,
            what=f"{selector} visible",
        )
        return round(box[0]), round(box[1])

    def click(self, selector: str, *, timeout: float = 30.0) -> None:
        """A real mouse click (a user gesture) in the middle of the first match."""
        self.hold(selector, 0.0, timeout=timeout)

    def hold(self, selector: str, seconds: float, *, timeout: float = 30.0) -> None:
        """Press the mouse button in the middle of the first match, keep it down for
        ``seconds`` (Firefox times the pause), release it."""
        x, y = self._center(selector, timeout)
        pause = [{"type": "pause", "duration": round(seconds * 1000)}] if seconds > 0 else []
        self.browser.bidi_command(
            "input.performActions",
            {
                "context": self.context,
                "actions": [
                    {
                        "type": "pointer",
                        "id": "mouse",
                        "parameters": {"pointerType": "mouse"},
                        "actions": [
                            {"type": "pointerMove", "x": x, "y": y, "origin": "viewport"},
                            {"type": "pointerDown", "button": 0},
                            *pause,
                            {"type": "pointerUp", "button": 0},
                        ],
                    }
                ],
            },
            timeout=timeout + seconds,
        )
        self.browser.bidi_command("input.releaseActions", {"context": self.context})

    def type(self, text: str) -> None:
        """Key presses into whatever has the focus (``ENTER`` for Enter)."""
        actions: list[dict[str, str]] = []
        for ch in text:
            actions += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        self.browser.bidi_command(
            "input.performActions",
            {
                "context": self.context,
                "actions": [{"type": "key", "id": "keyboard", "actions": actions}],
            },
        )
        self.browser.bidi_command("input.releaseActions", {"context": self.context})

    def screenshot(self, path: str, full_page: bool = True) -> None:
        shot = self.browser.bidi_command(
            "browsingContext.captureScreenshot", {"context": self.context, "origin": "document"}
        )
        Path(path).write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.browser.bidi_command("browsingContext.close", {"context": self.context})
