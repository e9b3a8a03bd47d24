"""The Jupyter server extension: TCP_NODELAY on kernel websockets."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import realtime_widget
from realtime_widget import jupyter_ext

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "jupyter_server_config.d/realtime_widget.json"


class FakeHandler:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def open(self, kernel_id: str) -> None:
        self.calls.append(f"open {kernel_id}")

    def set_nodelay(self, value: bool) -> None:
        self.calls.append(f"nodelay {value}")


class FakeLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def warning(self, msg: str, *args: Any) -> None:
        self.lines.append(("warning", msg % args))

    def info(self, msg: str, *args: Any) -> None:
        self.lines.append(("info", msg % args))


class FakeApp:
    def __init__(self) -> None:
        self.log = FakeLog()


def test_extension_points_import_nothing_heavy() -> None:
    assert realtime_widget._jupyter_server_extension_points() == [
        {"module": "realtime_widget.jupyter_ext"}
    ]
    code = (
        "import sys, realtime_widget, realtime_widget.jupyter_ext;"
        "heavy = ('numpy', 'websockets', 'anywidget', 'ipywidgets');"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_patch_sets_nodelay_before_open_and_is_idempotent() -> None:
    class Handler(FakeHandler):
        pass

    assert jupyter_ext.patch_kernel_websocket(Handler) is None
    assert jupyter_ext.patch_kernel_websocket(Handler) is None  # twice: wrapped once
    h = Handler()
    await h.open("k1")
    assert h.calls == ["nodelay True", "open k1"]


async def test_a_failing_set_nodelay_never_blocks_the_open() -> None:
    class Handler(FakeHandler):
        def set_nodelay(self, value: bool) -> None:
            raise AssertionError("stream closed")

    jupyter_ext.patch_kernel_websocket(Handler)
    h = Handler()
    await h.open("k2")
    assert h.calls == ["open k2"]


def test_changed_internals_log_one_warning_and_change_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class NoOpen:
        def set_nodelay(self, value: bool) -> None: ...

    assert jupyter_ext.patch_kernel_websocket(NoOpen) is not None
    monkeypatch.setattr(jupyter_ext, "_HANDLER_CLASS", "NoSuchHandler")
    monkeypatch.setattr(jupyter_ext, "_CONNECTION_CLASS", "NoSuchConnection")
    app = FakeApp()
    jupyter_ext._load_jupyter_server_extension(app)
    assert [level for level, _ in app.log.lines] == ["warning", "warning"]
    assert "NoSuchHandler" in app.log.lines[0][1]
    assert "NoSuchConnection" in app.log.lines[1][1]


def test_the_real_handler_is_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_server.services.kernels.connection.channels import (
        ZMQChannelsWebsocketConnection as Conn,
    )
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

    monkeypatch.setattr(KernelWebsocketHandler, "open", KernelWebsocketHandler.open)
    monkeypatch.setattr(Conn, "handle_incoming_message", Conn.handle_incoming_message)
    monkeypatch.setattr(Conn, "handle_outgoing_message", Conn.handle_outgoing_message)
    app = FakeApp()
    jupyter_ext._load_jupyter_server_extension(app)
    assert getattr(KernelWebsocketHandler.open, jupyter_ext.PATCHED_FLAG, False)
    assert getattr(Conn.handle_incoming_message, jupyter_ext.QUIET_FLAG, False)
    assert getattr(Conn.handle_outgoing_message, jupyter_ext.QUIET_FLAG, False)
    assert app.log.lines == [
        ("info", "realtime_widget: TCP_NODELAY enabled on kernel websockets"),
        ("info", "realtime_widget: no kernel busy status for quiet widget messages"),
    ]


# -- quiet messages: no kernel busy status forwarded for them -------------------------------


def _browser_comm_msg(session: Any, content: dict[str, Any], buffers: list[bytes]) -> Any:
    """A comm_msg as JupyterLab sends it (v1 websocket protocol, JSON.stringify spacing)."""
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    msg = session.msg(
        "comm_msg", {"comm_id": "c1", "data": {"method": "custom", "content": content}}
    )
    parts = [
        json.dumps(msg[k], separators=(",", ":"), default=str).encode()
        for k in ("header", "parent_header", "metadata", "content")
    ]
    return msg, serialize_msg_to_ws_v1([*parts, *buffers], "shell")  # type: ignore[no-untyped-call]


def _kernel_status(session: Any, state: str, parent: dict[str, Any]) -> list[bytes]:
    """An iopub status message as the kernel sends it (ZMQ frames)."""
    msg = session.msg("status", {"execution_state": state}, parent=parent)
    return [b"kernel.k1.status", *session.serialize(msg)]


class FakeConnection:
    def __init__(self, session: Any) -> None:
        self.session = session
        self.incoming: list[Any] = []
        self.outgoing: list[Any] = []

    def handle_incoming_message(self, msg: Any) -> None:
        self.incoming.append(msg)

    def handle_outgoing_message(self, stream: str, msg_list: list[Any]) -> None:
        self.outgoing.append(msg_list)


def test_quiet_messages_lose_their_busy_status_only() -> None:
    from jupyter_client.session import Session

    class Conn(FakeConnection):
        pass

    assert jupyter_ext.patch_quiet_status(Conn) is None
    assert jupyter_ext.patch_quiet_status(Conn) is None  # idempotent
    session = Session(key=b"secret")
    conn = Conn(session)
    pcm = bytes(range(256)) * 4
    quiet, ws_quiet = _browser_comm_msg(session, {"type": "mic", "seq": 0, "quiet": True}, [pcm])
    loud, ws_loud = _browser_comm_msg(session, {"type": "mic", "seq": 1}, [pcm])
    assert jupyter_ext.quiet_msg_id(ws_quiet) == quiet["header"]["msg_id"]
    assert jupyter_ext.quiet_msg_id(ws_loud) is None
    conn.handle_incoming_message(ws_quiet)
    conn.handle_incoming_message(ws_loud)
    assert conn.incoming == [ws_quiet, ws_loud]  # both reach the kernel unchanged
    for m in (quiet, loud):
        for state in ("busy", "idle"):
            conn.handle_outgoing_message("iopub", _kernel_status(session, state, m))
    msgs = [session.deserialize(session.feed_identities(f)[1]) for f in conn.outgoing]
    states = [(m["parent_header"]["msg_id"], m["content"]["execution_state"]) for m in msgs]
    assert states == [
        (quiet["header"]["msg_id"], "idle"),
        (loud["header"]["msg_id"], "busy"),
        (loud["header"]["msg_id"], "idle"),
    ]
    # the idle forgot the quiet message: nothing is kept per message
    assert not conn.__dict__[jupyter_ext._QUIET_IDS]


def test_quiet_marker_outside_a_custom_comm_msg_changes_nothing() -> None:
    from jupyter_client.session import Session

    session = Session(key=b"")
    # the marker in a buffer (PCM bytes), not in the content
    _m, ws = _browser_comm_msg(session, {"type": "mic"}, [b'xx"quiet":true'])
    assert jupyter_ext.quiet_msg_id(ws) is None
    # quiet must be exactly true
    _m, ws = _browser_comm_msg(session, {"type": "mic", "quiet": 1}, [])
    assert jupyter_ext.quiet_msg_id(ws) is None
    assert jupyter_ext.quiet_msg_id("text frame") is None
    assert jupyter_ext.quiet_msg_id(b"garbage") is None


def test_config_file_is_shipped_and_installed() -> None:
    shipped = ROOT / "jupyter-config" / CONFIG
    assert json.loads(shipped.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"realtime_widget": True}}
    }
    from jupyter_core.paths import jupyter_config_path

    installed = [Path(d) / CONFIG for d in jupyter_config_path() if (Path(d) / CONFIG).is_file()]
    if not installed:
        pytest.fail(f"{CONFIG} is not in any Jupyter config dir: reinstall with `pip install -e .`")
    assert json.loads(installed[0].read_text()) == json.loads(shipped.read_text())


# -- a real jupyter server ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def jupyter_server(tmp_path: Path, *, enable: bool | None) -> Iterator[str]:
    """A `jupyter server` on loopback with the probe extension. Ours: as installed
    (``enable=None``: the shipped config file turns it on) or forced on/off."""
    port = _free_port()
    config_dir = tmp_path / f"config-{enable}"
    config_dir.mkdir()
    # The user config dir wins over the installed (sys.prefix) one: it can switch ours off.
    extensions: dict[str, bool] = {"tests.widget.nodelay_probe": True}
    if enable is not None:
        extensions["realtime_widget"] = enable
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": extensions}})
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / f"runtime-{enable}"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log = (tmp_path / f"server-{enable}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
         "--ip=127.0.0.1", f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={tmp_path}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / f"server-{enable}.log").read_text()[-3000:])
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(base + "/api/status", timeout=2) as r,
            ):
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("jupyter server did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _nodelay_of_a_kernel_websocket(base: str) -> list[int]:
    from websockets.sync.client import connect

    req = urllib.request.Request(base + "/api/kernels", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=60) as r:
        kernel_id = json.load(r)["id"]
    try:
        url = base.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels?session_id=t1"
        with connect(url, open_timeout=60):
            deadline = time.monotonic() + 30
            while True:
                with urllib.request.urlopen(base + "/rtw-probe/nodelay", timeout=10) as r:
                    values: list[int] = json.load(r)["sockets"]
                if values or time.monotonic() > deadline:
                    return values
                time.sleep(0.1)
    finally:
        req = urllib.request.Request(base + f"/api/kernels/{kernel_id}", method="DELETE")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(req, timeout=30).close()


@pytest.mark.timeout(240)
def test_real_server_sets_nodelay_on_kernel_websockets(tmp_path: Path) -> None:
    # Enabled by the installed config file alone (as after `pip install`).
    with jupyter_server(tmp_path, enable=None) as base:
        values = _nodelay_of_a_kernel_websocket(base)
    assert values and all(v != 0 for v in values), values
    # Control: the same server without the extension leaves Nagle on (what we fix).
    with jupyter_server(tmp_path, enable=False) as base:
        values = _nodelay_of_a_kernel_websocket(base)
    assert values and all(v == 0 for v in values), values


@pytest.mark.timeout(240)
def test_real_server_forwards_no_busy_status_for_quiet_messages(tmp_path: Path) -> None:
    """A real kernel behind a real jupyter_server: the kernel publishes busy and idle
    around both comm messages; the browser side sees no busy for the quiet one."""
    from jupyter_client.session import Session
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1
    from websockets.sync.client import connect

    with jupyter_server(tmp_path, enable=None) as base:
        req = urllib.request.Request(base + "/api/kernels", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as r:
            kernel_id = json.load(r)["id"]
        url = base.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels?session_id=t2"
        session = Session(key=b"", session="t2")
        seen: dict[str, list[str]] = {}
        with connect(url, open_timeout=60, subprotocols=["v1.kernel.websocket.jupyter.org"]) as ws:  # type: ignore[list-item]
            quiet, ws_quiet = _browser_comm_msg(session, {"type": "ping", "quiet": True}, [])
            loud, ws_loud = _browser_comm_msg(session, {"type": "ping"}, [])
            ids = {quiet["header"]["msg_id"]: "quiet", loud["header"]["msg_id"]: "loud"}
            ws.send(ws_quiet)
            ws.send(ws_loud)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and sum("idle" in v for v in seen.values()) < 2:
                frame = ws.recv(timeout=60)
                assert isinstance(frame, bytes)
                channel, parts = deserialize_msg_from_ws_v1(frame)  # type: ignore[no-untyped-call]
                header, parent = json.loads(parts[0]), json.loads(parts[1])
                if channel == "iopub" and header["msg_type"] == "status":
                    who = ids.get(parent.get("msg_id"))
                    if who:
                        seen.setdefault(who, []).append(json.loads(parts[3])["execution_state"])
        req = urllib.request.Request(base + f"/api/kernels/{kernel_id}", method="DELETE")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(req, timeout=30).close()
    assert seen == {"quiet": ["idle"], "loud": ["busy", "idle"]}, seen
