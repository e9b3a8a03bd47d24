"""A Jupyter server extension: TCP_NODELAY on kernel websockets, and no kernel
``busy`` status for the widget's streaming messages.

Why: tornado leaves Nagle's algorithm on unless a handler calls
``set_nodelay(True)``, and jupyter_server never does for the kernel
websocket. Every kernel → browser write then waits for the browser's delayed
ACK: the comm round trip is ~45 ms instead of ~5 ms and kernel → browser p95
is ~24 ms instead of ~2 ms (reference/browser-and-kernel-probe.md §1). For a
voice widget that is audible (barge-in stops, playback jitter).

Enabled automatically when the package is installed:
``etc/jupyter/jupyter_server_config.d/realtime_widget.json`` turns on
``jpserver_extensions.realtime_widget``, and ``realtime_widget``'s
``_jupyter_server_extension_points`` names this module. It wraps
``KernelWebsocketHandler.open`` (jupyter_server 2.x) to call
``self.set_nodelay(True)`` first. If jupyter_server's internals differ, it
logs one warning and changes nothing. Disable with
``jupyter server extension disable realtime_widget``.

Second, quiet messages. ipykernel publishes ``status: busy`` and ``status: idle`` on
iopub around every comm message it handles, and JupyterLab turns each into two
kernel-status changes that re-render the status bar, the execution indicator and the
favicon. At the widget's 50 microphone messages a second that kept the page's main
thread busy ~45% of the time and delayed every widget message in both directions
by tens of milliseconds (bench/README.md, "Browser figures"). The widget marks its
own messages ``"quiet": true`` (docs/comm-protocol.md); for those, this extension
does not forward the kernel's ``busy`` status to that websocket. The ``idle`` still
goes through, so JupyterLab's per-message futures complete as before and its kernel
status simply stays where it was. Every other message (cells, other widgets, trait
syncs) is untouched. It wraps ``ZMQChannelsWebsocketConnection.handle_incoming_message``
and ``handle_outgoing_message`` (jupyter_server 2.x, v1 websocket protocol).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = [
    "PATCHED_FLAG",
    "QUIET_FLAG",
    "QUIET_MARK",
    "patch_kernel_websocket",
    "patch_quiet_status",
]

PATCHED_FLAG = "_realtime_widget_nodelay"
QUIET_FLAG = "_realtime_widget_quiet"
_HANDLER_MODULE = "jupyter_server.services.kernels.websocket"
_HANDLER_CLASS = "KernelWebsocketHandler"
_CONNECTION_MODULE = "jupyter_server.services.kernels.connection.channels"
_CONNECTION_CLASS = "ZMQChannelsWebsocketConnection"

QUIET_MARK = b'"quiet":true'
"""How a quiet custom message looks inside the browser's JSON (``JSON.stringify``)."""
_QUIET_IDS = "_realtime_widget_quiet_ids"  # per connection: msg_ids waiting for their idle
_MAX_QUIET = 4096  # a handler that never reports idle must not grow the set forever


def _wrap_open(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def open(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Before the original: it awaits the kernel's first reply and starts writing.
        # A closed stream or an unexpected handler must never block the open.
        with contextlib.suppress(Exception):
            self.set_nodelay(True)
        return original(self, *args, **kwargs)

    setattr(open, PATCHED_FLAG, True)
    return open


def _find(module_name: str, class_name: str) -> Any:
    """jupyter_server's class ``module_name.class_name``, or why it is not there (a str)."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return f"{module_name} not importable ({exc})"
    cls = getattr(module, class_name, None)
    return f"{module_name}.{class_name} not found" if cls is None else cls


def patch_kernel_websocket(handler_class: Any = None) -> str | None:
    """Make ``handler_class.open`` (default: jupyter_server's kernel websocket handler)
    set TCP_NODELAY. Idempotent. Returns None on success, else why nothing changed."""
    cls = handler_class if handler_class is not None else _find(_HANDLER_MODULE, _HANDLER_CLASS)
    if isinstance(cls, str):
        return cls
    original = getattr(cls, "open", None)
    if not callable(original) or not callable(getattr(cls, "set_nodelay", None)):
        return f"{cls.__name__} has no open/set_nodelay"
    if getattr(original, PATCHED_FLAG, False):
        return None
    cls.open = _wrap_open(original)
    return None


def _v1_parts(ws_msg: bytes) -> list[bytes]:
    """The parts of a v1 kernel websocket message: channel, header, parent, metadata,
    content, buffers... (jupyter_server's ``deserialize_msg_from_ws_v1`` layout)."""
    count = int.from_bytes(ws_msg[:8], "little")
    offsets = [int.from_bytes(ws_msg[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    return [ws_msg[offsets[i] : offsets[i + 1]] for i in range(count - 1)]


def quiet_msg_id(ws_msg: Any) -> str | None:
    """The msg_id of a browser → kernel ``comm_msg`` whose custom content says
    ``"quiet": true``, else None. Cheap for every other message (one byte search)."""
    if not isinstance(ws_msg, bytes | bytearray) or QUIET_MARK not in ws_msg:
        return None
    parts = _v1_parts(bytes(ws_msg))
    if len(parts) < 5:
        return None
    header = json.loads(parts[1])
    if header.get("msg_type") != "comm_msg":
        return None
    data = json.loads(parts[4]).get("data") or {}
    content = data.get("content") if data.get("method") == "custom" else None
    if not isinstance(content, dict) or content.get("quiet") is not True:
        return None
    msg_id = header.get("msg_id")
    return msg_id if isinstance(msg_id, str) else None


def is_quiet_busy(session: Any, quiet: OrderedDict[str, None], msg_list: list[Any]) -> bool:
    """True for the kernel's ``status: busy`` about a quiet message (not forwarded).
    Its ``status: idle`` is forwarded and forgets the message."""
    _idents, parts = session.feed_identities(msg_list)
    if len(parts) < 5:
        return False
    header = bytes(parts[1])
    if b"status" not in header or json.loads(header).get("msg_type") != "status":
        return False
    parent_id = json.loads(bytes(parts[2])).get("msg_id")
    if parent_id not in quiet:
        return False
    state = json.loads(bytes(parts[4])).get("execution_state")
    if state == "busy":
        return True
    if state == "idle":
        quiet.pop(parent_id, None)
    return False


def _wrap_incoming(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def handle_incoming_message(self: Any, incoming_msg: Any) -> Any:
        msg_id = None
        with contextlib.suppress(Exception):
            msg_id = quiet_msg_id(incoming_msg)
        if msg_id is not None:
            quiet = self.__dict__.get(_QUIET_IDS)
            if quiet is None:
                quiet = self.__dict__[_QUIET_IDS] = OrderedDict()
            quiet[msg_id] = None
            while len(quiet) > _MAX_QUIET:
                quiet.popitem(last=False)
        return original(self, incoming_msg)

    setattr(handle_incoming_message, QUIET_FLAG, True)
    return handle_incoming_message


def _wrap_outgoing(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def handle_outgoing_message(self: Any, stream: Any, outgoing_msg: Any) -> Any:
        quiet = self.__dict__.get(_QUIET_IDS)
        if quiet:
            drop = False
            with contextlib.suppress(Exception):
                drop = is_quiet_busy(self.session, quiet, outgoing_msg)
            if drop:
                return None
        return original(self, stream, outgoing_msg)

    setattr(handle_outgoing_message, QUIET_FLAG, True)
    return handle_outgoing_message


def patch_quiet_status(connection_class: Any = None) -> str | None:
    """Make ``connection_class`` (default: jupyter_server's kernel websocket
    connection) drop the kernel's ``busy`` status about quiet widget messages.
    Idempotent. Returns None on success, else why nothing changed."""
    cls = (
        connection_class
        if connection_class is not None
        else _find(_CONNECTION_MODULE, _CONNECTION_CLASS)
    )
    if isinstance(cls, str):
        return cls
    incoming = getattr(cls, "handle_incoming_message", None)
    outgoing = getattr(cls, "handle_outgoing_message", None)
    if not callable(incoming) or not callable(outgoing):
        return f"{cls.__name__} has no handle_incoming_message/handle_outgoing_message"
    if not getattr(incoming, QUIET_FLAG, False):
        cls.handle_incoming_message = _wrap_incoming(incoming)
    if not getattr(outgoing, QUIET_FLAG, False):
        cls.handle_outgoing_message = _wrap_outgoing(outgoing)
    return None


def _load_jupyter_server_extension(serverapp: Any) -> None:
    log = getattr(serverapp, "log", None)
    problem = patch_kernel_websocket()
    if problem is not None:
        if log is not None:
            log.warning(
                "realtime_widget: kernel websockets keep Nagle's algorithm on "
                "(jupyter_server internals differ: %s); comm latency stays ~45 ms",
                problem,
            )
    elif log is not None:
        log.info("realtime_widget: TCP_NODELAY enabled on kernel websockets")
    problem = patch_quiet_status()
    if problem is not None:
        if log is not None:
            log.warning(
                "realtime_widget: the kernel's busy/idle status is forwarded for every "
                "widget message (jupyter_server internals differ: %s)",
                problem,
            )
    elif log is not None:
        log.info("realtime_widget: no kernel busy status for quiet widget messages")
