"""Drive a real JupyterLab (or Notebook 7) with headless Debian Chromium through Playwright.

What works on this stack (shared/reference/browser-and-kernel-probe.md):

* ``jupyter lab`` with no token, ``--allow-root``, ``--LabApp.expose_app_in_browser=True``
  (gives ``window.jupyterapp``), private config/runtime/settings/workspace dirs and a
  temp notebook root;
* Chromium from ``/usr/bin/chromium`` with a fresh profile, the fake microphone looping
  a WAV, and ``?reset`` on the notebook URL so no old workspace tab takes the commands;
* kernel-side state is read by running code in the notebook's own kernel from the page
  (``sessionContext.session.kernel.requestExecute``) and collecting its stdout.

Nothing here asserts on wall-clock speed; every wait polls for a condition.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Every Browser and NotebookPage alive, so a failing test can screenshot them.
LIVE_PAGES: list[NotebookPage] = []
LIVE_BROWSERS: list[Browser] = []

_MARK = "\x1e@@RTW@@"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def missing_prerequisites() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    for mod, pkg in (("playwright", "playwright"), ("jupyterlab", "jupyterlab")):
        if importlib.util.find_spec(mod) is None:
            return f"{pkg} is not installed (pip install -e '.[dev]')"
    return None


def end_process_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the group ``proc`` leads (started with ``start_new_session``), then
    SIGKILL what is left after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REALTIME_EXTENSION = "realtime_widget"
"""The package's Jupyter server extension (``jpserver_extensions`` key)."""


class JupyterServer:
    """One ``jupyter lab`` (``app="lab"``) or ``jupyter notebook`` (``app="notebook"``).

    ``server_extension``: None leaves the realtime_widget server extension as installed
    (``etc/jupyter/jupyter_server_config.d/realtime_widget.json`` enables it);
    True/False force it on/off through a ``jupyter_server_config.json`` in the private
    config dir (jupyter_server lets that win over the ``.d`` files).
    ``lab_settings``: JupyterLab user settings, ``{"plugin:id": {key: value}}`` (e.g.
    ``{"@jupyterlab/apputils-extension:kernels-settings": {"commsOverSubshells":
    "disabled"}}``).
    ``config_py``: the text of a ``jupyter_server_config.py`` for the private config
    dir (benchmarks use it to timestamp jupyter_server's kernel websocket hops).
    ``via_cli``: start it with the README's main command, ``python -m realtime_widget lab
    --no-browser --port P --dir ROOT`` (ROOT must hold ``quickstart.ipynb``); what only
    the tests need (no token, ``window.jupyterapp``) then comes from the private config
    files, which that command leaves alone.
    """

    def __init__(
        self,
        *,
        app: str = "lab",
        server_extension: bool | None = None,
        workdir: Path | None = None,
        lab_settings: dict[str, dict[str, Any]] | None = None,
        config_py: str | None = None,
        via_cli: bool = False,
    ) -> None:
        if app not in ("lab", "notebook"):
            raise ValueError(app)
        if via_cli and app != "lab":
            raise ValueError("the README's command (python -m realtime_widget lab) starts Lab")
        self.via_cli = via_cli
        self.app = app
        self.server_extension = server_extension
        self.lab_settings = dict(lab_settings or {})
        self.config_py = config_py
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"rtw-{app}-"))
        self.root = self.workdir / "nb"
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.command: list[str] = []
        self.log_path = self.workdir / "server.log"
        self._log_file: Any = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> JupyterServer:
        for sub in ("config", "runtime", "settings", "workspaces", "data", "nb"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"ServerApp": {}}
        if self.server_extension is not None:
            config["ServerApp"]["jpserver_extensions"] = {
                REALTIME_EXTENSION: bool(self.server_extension)
            }
        if self.via_cli:
            config["ServerApp"].update(disable_check_xsrf=True, port_retries=0)
            config["IdentityProvider"] = {"token": ""}
            lab_config = {"LabApp": {"expose_app_in_browser": True}}
            (self.workdir / "config" / "jupyter_lab_config.json").write_text(json.dumps(lab_config))
        (self.workdir / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        if self.config_py is not None:
            (self.workdir / "config" / "jupyter_server_config.py").write_text(self.config_py)
        # no "get notified about Jupyter news?" toast, no news/update fetches
        settings = {
            "@jupyterlab/apputils-extension:notification": {
                "fetchNews": "false",
                "checkForUpdates": False,
            },
            **self.lab_settings,
        }
        for plugin, values in settings.items():
            package, _, name = plugin.partition(":")
            folder = self.workdir / "settings" / package
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.workdir / "config"),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(self.workdir / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.workdir / "workspaces"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        env.pop("JUPYTER_TOKEN", None)
        self.port = free_port()
        expose = (
            "--LabApp.expose_app_in_browser=True"
            if self.app == "lab"
            else "--JupyterNotebookApp.expose_app_in_browser=True"
        )
        if self.via_cli:
            cmd = [sys.executable, "-m", "realtime_widget", "lab", "--no-browser"]
            cmd += ["--port", str(self.port), "--dir", str(self.root)]
        else:
            cmd = [
                sys.executable,
                "-m",
                "jupyterlab" if self.app == "lab" else "notebook",
                "--no-browser",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--port-retries=0",
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                "--ServerApp.disable_check_xsrf=True",
                "--allow-root",
                expose,
                f"--ServerApp.root_dir={self.root}",
            ]
        self.command = cmd
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}/"
        atexit.register(self.stop)  # no orphaned server if the caller dies mid-way
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter {self.app} exited with {self.proc.returncode}:\n{self.log()[-3000:]}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + "api/status", timeout=2) as r,
            ):
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"jupyter {self.app} not ready:\n{self.log()[-3000:]}")
            time.sleep(0.25)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(Exception):
                self.delete_sessions()
            # The server is its own process group (start_new_session): end it and its kernels.
            end_process_group(proc, 15)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- REST and logs -----------------------------------------------------------------

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(self.url + "api/" + path, method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def delete_sessions(self) -> None:
        """Shut down every kernel session (frees the 2 cores between scenarios)."""
        for s in self.api("sessions") or []:
            with contextlib.suppress(Exception):
                self.api(f"sessions/{s['id']}", method="DELETE")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def loaded_extensions(self) -> list[str]:
        """Extensions the server log says were loaded."""
        return re.findall(r"(\S+) \| extension was successfully loaded", self.log())

    def realtime_extension_loaded(self) -> bool:
        return "TCP_NODELAY enabled on kernel websockets" in self.log() or any(
            n.startswith(REALTIME_EXTENSION) for n in self.loaded_extensions()
        )

    def notebook_url(self, name: str) -> str:
        if self.app == "lab":
            return f"{self.url}lab/tree/{name}?reset"
        return f"{self.url}notebooks/{name}"

    def write_notebook(self, name: str, cells: Sequence[str]) -> Path:
        nb = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"cell{i}",
                    "metadata": {},
                    "outputs": [],
                    "source": src,
                }
                for i, src in enumerate(cells)
            ],
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        path = self.root / name
        path.write_text(json.dumps(nb, indent=1))
        return path


def chromium_args(
    *, wav: Path | None = None, fake_ui: bool = True, autoplay: bool = False
) -> list[str]:
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-device-for-media-stream",
    ]
    if fake_ui:
        args.append("--use-fake-ui-for-media-stream")
    else:
        args.append("--deny-permission-prompts")
    if wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={wav}")
    if autoplay:
        args.append("--autoplay-policy=no-user-gesture-required")
    return args


class Browser:
    """Headless Chromium (fresh profile) with the fake microphone playing ``wav``.

    ``fake_ui=False`` leaves the permission prompt in place and denies it
    (``--deny-permission-prompts``; no microphone permission granted): getUserMedia
    fails with NotAllowedError. ``debug_hook`` sets ``__REALTIME_WIDGET_DEBUG__`` before
    any page script runs; ``init_scripts`` are added too (e.g. AudioContext tracking).
    """

    def __init__(
        self,
        playwright: Any,
        server: JupyterServer | None,
        *,
        wav: Path | None = None,
        fake_ui: bool = True,
        autoplay: bool = False,
        debug_hook: bool = True,
        init_scripts: Sequence[str] = (),
        artifacts: Path | None = None,
    ) -> None:
        self.server = server
        self.artifacts = Path(artifacts or tempfile.mkdtemp(prefix="rtw-browser-artifacts-"))
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.profile = Path(tempfile.mkdtemp(prefix="rtw-chromium-profile-"))
        self.console: list[str] = []
        self.context = playwright.chromium.launch_persistent_context(
            str(self.profile),
            executable_path=CHROMIUM,
            headless=True,
            args=chromium_args(wav=wav, fake_ui=fake_ui, autoplay=autoplay),
            viewport={"width": 1280, "height": 900},
            permissions=[],
        )
        self.context.set_default_timeout(60_000)
        if debug_hook:
            self.context.add_init_script("globalThis.__REALTIME_WIDGET_DEBUG__ = true;")
        for script in init_scripts:
            self.context.add_init_script(script)
        self.context.on("page", self._watch)
        for page in self.context.pages:
            self._watch(page)
        self.pages: list[NotebookPage] = []
        LIVE_BROWSERS.append(self)

    def _watch(self, page: Any) -> None:
        def on_console(msg: Any) -> None:
            self.console.append(f"{time.time():.3f} [{msg.type}] {msg.text}")

        def on_error(err: Any) -> None:
            self.console.append(f"{time.time():.3f} [pageerror] {err}")

        page.on("console", on_console)
        page.on("pageerror", on_error)

    def open_notebook(
        self, cells: Sequence[str], name: str | None = None, *, timeout: float = 90.0
    ) -> NotebookPage:
        """Write the notebook, open it (``?reset`` in Lab) and wait for its kernel to be idle."""
        if self.server is None:
            raise RuntimeError("this browser has no Jupyter server")
        name = name or f"nb_{int(time.time() * 1000) % 10**9}.ipynb"
        self.server.write_notebook(name, cells)
        page = self.context.new_page()
        page.goto(self.server.notebook_url(name))
        nb = NotebookPage(self, page, name)
        self.pages.append(nb)
        LIVE_PAGES.append(nb)
        page.wait_for_function(
            KERNEL_READY_JS,
            arg=name,
            timeout=timeout * 1000,
            polling=250,
        )
        nb.install_stack_dumps()
        return nb

    def save_artifacts(self, label: str) -> Path:
        names = "+".join(nb.name.removesuffix(".ipynb") for nb in self.pages) or "no-page"
        out = self.artifacts / re.sub(r"[^\w.+-]+", "_", f"{label}-{names}")
        out.mkdir(parents=True, exist_ok=True)
        for i, nb in enumerate(self.pages):
            with contextlib.suppress(Exception):
                nb.page.screenshot(path=str(out / f"page{i}.png"), full_page=True)
        (out / "console.log").write_text("\n".join(self.console))
        for nb in self.pages:
            if nb.stack_file is not None and nb.stack_file.exists():
                with contextlib.suppress(Exception):
                    shutil.copy(nb.stack_file, out / nb.stack_file.name)
        if self.server is not None:
            with contextlib.suppress(Exception):
                shutil.copy(self.server.log_path, out / "jupyter-server.log")
        return out

    def close(self) -> None:
        for nb in list(self.pages):
            nb.close()
        with contextlib.suppress(Exception):
            self.context.close()
        shutil.rmtree(self.profile, ignore_errors=True)
        with contextlib.suppress(ValueError):
            LIVE_BROWSERS.remove(self)


class KernelError(RuntimeError):
    pass


KERNEL_READY_JS = """(name) => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session
              && w.sessionContext.session.kernel;
    return !!(w && w.context && w.context.path === name && k
              && k.status === 'idle' && k.connectionStatus === 'connected');
}"""
"""True once notebook ``name`` is the current widget and its kernel is connected and idle."""


class PageHost(Protocol):
    """What a :class:`NotebookPage` needs of its browser (:class:`Browser`, or the
    Firefox driver in bidi.py)."""

    server: JupyterServer | None
    pages: list[NotebookPage]


class NotebookPage:
    """One open notebook in one browser tab.

    ``page`` is a Playwright page, or anything with the same ``evaluate(js, arg)``,
    ``close()`` and ``screenshot(path=...)`` (bidi.Tab); the click helpers need
    Playwright.
    """

    def __init__(self, browser: PageHost, page: Any, name: str) -> None:
        self.browser = browser
        self.page = page
        self.name = name
        self.closed = False
        self.kernel_pid: int | None = None
        self.stack_file: Path | None = None

    def install_stack_dumps(self) -> None:
        """Let a stuck kernel be diagnosed: SIGUSR1 dumps every thread's stack to a file
        (faulthandler); :meth:`kernel_exec` does it when a request times out."""
        server = self.browser.server
        if server is None:
            return
        path = server.workdir / f"kernel-stacks-{self.name}.txt"
        out = self.kernel_exec(
            "import faulthandler as _rtw_fh, os as _rtw_os, signal as _rtw_sig\n"
            f"_rtw_fh.register(_rtw_sig.SIGUSR1, file=open({str(path)!r}, 'w'), "
            "all_threads=True)\n"
            "print(_rtw_os.getpid())"
        )
        with contextlib.suppress(ValueError):
            self.kernel_pid = int(out.strip().splitlines()[-1])
            self.stack_file = path

    def dump_kernel_stacks(self) -> str:
        """Every kernel thread's Python stack, now (empty if unavailable)."""
        if self.kernel_pid is None or self.stack_file is None:
            return ""
        try:
            os.kill(self.kernel_pid, signal.SIGUSR1)
        except OSError:
            return ""
        time.sleep(1.0)
        try:
            return self.stack_file.read_text(errors="replace")
        except OSError:
            return ""

    # -- running cells -----------------------------------------------------------------

    def run_all(self, *, wait: bool = True, timeout: float = 60.0) -> None:
        """``notebook:run-all-cells``; with ``wait`` until the kernel went back to idle."""
        self._run_command("notebook:run-all-cells", wait=wait, timeout=timeout)

    def run_cell(self, index: int, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Select cell ``index`` and run it (``notebook:run-cell``)."""
        self.page.evaluate(
            """(i) => { const nb = window.jupyterapp.shell.currentWidget.content;
                        nb.activeCellIndex = i; }""",
            index,
        )
        self._run_command("notebook:run-cell", wait=wait, timeout=timeout)

    def _run_command(self, command: str, *, wait: bool, timeout: float) -> None:
        if not wait:
            # Fire and forget: the cell may block the kernel (e.g. time.sleep).
            self.page.evaluate("(c) => { void window.jupyterapp.commands.execute(c); }", command)
            return
        self.page.evaluate(
            """async ([c, ms]) => {
                const w = window.jupyterapp.shell.currentWidget;
                const run = window.jupyterapp.commands.execute(c);
                const t = new Promise(
                    (_, rej) => setTimeout(() => rej(new Error('timeout ' + c)), ms));
                await Promise.race([run, t]);
                const k = w.sessionContext.session.kernel;
                const t0 = Date.now();
                while (k.status !== 'idle' && Date.now() - t0 < ms) {
                    await new Promise(r => setTimeout(r, 50));
                }
            }""",
            [command, int(timeout * 1000)],
        )

    def cell_outputs(self) -> list[list[dict[str, Any]]]:
        """Outputs of each cell, as the notebook model holds them."""
        return self.page.evaluate(
            """() => {
                const nb = window.jupyterapp.shell.currentWidget.content;
                const out = [];
                for (const cell of nb.widgets) {
                    const o = cell.model.outputs;
                    const rows = [];
                    if (o) for (let i = 0; i < o.length; i++) rows.push(o.get(i).toJSON());
                    out.push(rows);
                }
                return out;
            }"""
        )

    def cell_errors(self) -> list[str]:
        errs = []
        for i, outs in enumerate(self.cell_outputs()):
            for o in outs:
                if o.get("output_type") == "error":
                    tb = _ANSI.sub("", "\n".join(o.get("traceback") or []))
                    errs.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}\n{tb}")
        return errs

    # -- kernel-side queries -----------------------------------------------------------

    def kernel_exec(self, code: str, *, timeout: float = 60.0) -> str:
        """Run ``code`` in this notebook's kernel (from the page) and return its stdout.

        Raises :class:`KernelError` with the traceback if the code raised.
        """
        result = self.page.evaluate(
            """async ([code, ms]) => {
                const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                const t0 = Date.now();
                const future = k.requestExecute(
                    {code, silent: false, store_history: false, stop_on_error: false});
                let out = '', err = null, busy = null, reply = null;
                future.onReply = () => { reply = Date.now() - t0; };
                future.onIOPub = (msg) => {
                    const t = msg.header.msg_type, c = msg.content;
                    if (t === 'status' && busy === null) busy = Date.now() - t0;
                    if (t === 'stream') out += c.text;
                    else if (t === 'error') err = c.ename + ': ' + c.evalue + '\\n'
                                                 + (c.traceback || []).join('\\n');
                    else if (t === 'execute_result' && c.data && c.data['text/plain'])
                        out += c.data['text/plain'] + '\\n';
                };
                const timer = new Promise((res) => setTimeout(() => res('timeout'), ms));
                const r = await Promise.race([future.done.then(() => 'done'), timer]);
                if (r !== 'timeout') return {out, err, timeout: false};
                // diagnose: does the kernel answer a kernel_info_request now?
                const t1 = Date.now();
                const info = await Promise.race([
                    k.requestKernelInfo().then(() => 'answered'),
                    new Promise((res) => setTimeout(() => res('no answer in 5 s'), 5000))]);
                return {out, err, timeout: true, diag: {
                    busy_ms: busy, reply_ms: reply, kernel_status: k.status,
                    connection: k.connectionStatus, kernel_info: info,
                    kernel_info_ms: Date.now() - t1}};
            }""",
            [code, int(timeout * 1000)],
        )
        if result["timeout"]:
            stacks = self.dump_kernel_stacks()
            raise TimeoutError(
                f"kernel_exec timed out after {timeout}s:\n{code}\n"
                f"--- page-side state: {result.get('diag')}\n"
                f"--- kernel thread stacks at the timeout:\n{stacks or '(unavailable)'}"
            )
        if result["err"] is not None:
            raise KernelError(_ANSI.sub("", result["err"]) + f"\n--- code:\n{code}")
        return str(result["out"])

    def kernel_json(self, expr: str, *, setup: str = "", timeout: float = 60.0) -> Any:
        """Evaluate ``expr`` in the kernel (after ``setup``) and return it via JSON."""
        code = (
            f"{setup}\nimport json as _rtw_json\n"
            f"print({_MARK!r} + _rtw_json.dumps({expr}, default=str))"
        )
        out = self.kernel_exec(code, timeout=timeout)
        _, _, payload = out.rpartition(_MARK)
        return json.loads(payload.strip().splitlines()[0] if payload.strip() else "null")

    # -- page helpers ------------------------------------------------------------------

    def evaluate(self, js: str, arg: Any = None) -> Any:
        return self.page.evaluate(js, arg)

    def wait_js(self, predicate: str, arg: Any = None, *, timeout: float = 30.0) -> Any:
        """Poll a JS predicate (a function expression) until truthy; returns its value."""
        handle = self.page.wait_for_function(
            predicate, arg=arg, timeout=timeout * 1000, polling=100
        )
        return handle.json_value()

    def wait_kernel(
        self, expr: str, *, timeout: float = 30.0, setup: str = "", interval: float = 0.3
    ) -> Any:
        """Poll a kernel expression until truthy; returns its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.kernel_json(expr, setup=setup)
            if last:
                return last
            time.sleep(interval)
        raise TimeoutError(f"kernel condition not met in {timeout}s: {expr} (last: {last!r})")

    def click_connect(self, timeout: float = 30.0) -> None:
        """A real click (a user gesture) on the widget's Connect button."""
        button = self.page.get_by_role("button", name=re.compile(r"^\s*connect\s*$", re.I))
        button.first.wait_for(state="visible", timeout=timeout * 1000)
        button.first.click()

    def click_button(self, name: str | re.Pattern[str], timeout: float = 30.0) -> None:
        button = self.page.get_by_role("button", name=name)
        button.first.wait_for(state="visible", timeout=timeout * 1000)
        button.first.click()

    def screenshot(self, path: Path) -> Path:
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        """Shut the notebook's kernel down and close the tab."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self.page.evaluate(
                """async () => {
                    const w = window.jupyterapp.shell.currentWidget;
                    if (w && w.sessionContext) await w.sessionContext.shutdown();
                }"""
            )
        with contextlib.suppress(Exception):
            self.page.close()
        with contextlib.suppress(ValueError):
            LIVE_PAGES.remove(self)
        with contextlib.suppress(ValueError):
            self.browser.pages.remove(self)


def poll(
    fn: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.2, what: str = ""
) -> Any:
    """Call ``fn`` until it returns something truthy; return it (TimeoutError otherwise)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"condition not met in {timeout}s: {what} (last: {last!r})")


@contextlib.contextmanager
def playwright_sync() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()
