"""A Jupyter server extension: TCP_NODELAY on kernel websockets.

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
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["PATCHED_FLAG", "patch_kernel_websocket"]

PATCHED_FLAG = "_realtime_widget_nodelay"
_HANDLER_MODULE = "jupyter_server.services.kernels.websocket"
_HANDLER_CLASS = "KernelWebsocketHandler"


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


def patch_kernel_websocket(handler_class: Any = None) -> str | None:
    """Make ``handler_class.open`` (default: jupyter_server's kernel websocket handler)
    set TCP_NODELAY. Idempotent. Returns None on success, else why nothing changed."""
    cls = handler_class
    if cls is None:
        try:
            module = importlib.import_module(_HANDLER_MODULE)
        except ImportError as exc:
            return f"{_HANDLER_MODULE} not importable ({exc})"
        cls = getattr(module, _HANDLER_CLASS, None)
        if cls is None:
            return f"{_HANDLER_MODULE}.{_HANDLER_CLASS} not found"
    original = getattr(cls, "open", None)
    if not callable(original) or not callable(getattr(cls, "set_nodelay", None)):
        return f"{cls.__name__} has no open/set_nodelay"
    if getattr(original, PATCHED_FLAG, False):
        return None
    cls.open = _wrap_open(original)
    return None


def _load_jupyter_server_extension(serverapp: Any) -> None:
    problem = patch_kernel_websocket()
    log = getattr(serverapp, "log", None)
    if problem is not None:
        if log is not None:
            log.warning(
                "realtime_widget: kernel websockets keep Nagle's algorithm on "
                "(jupyter_server internals differ: %s); comm latency stays ~45 ms",
                problem,
            )
        return
    if log is not None:
        log.info("realtime_widget: TCP_NODELAY enabled on kernel websockets")
