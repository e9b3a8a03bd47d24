"""Import optional heavy modules in a background thread, so that code on the session's
I/O loop can ask whether one is ready without ever importing it there.

Why: the widget's turn summary needs pandas, and a first ``import pandas`` takes
~0.5 s of CPU. Done on the I/O thread at the first ``response.done``, it stalled the
microphone relay and the model's audio for that long (seen as a 400-570 ms p99 of
"comm handler → append sent" in bench/bench_browser.py).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable

__all__ = ["preload", "ready"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_done: dict[str, threading.Event] = {}
_ok: dict[str, bool] = {}
_then: dict[str, list[Callable[[], None]]] = {}


def preload(name: str, then: Callable[[], None] | None = None) -> None:
    """Start importing ``name`` in a daemon thread (once per process); call ``then``
    (from that thread, or at once if the import already ended) when it has ended,
    whether it worked or not."""
    with _lock:
        done = _done.get(name)
        if done is None:
            done = _done[name] = threading.Event()
            _then[name] = []
            threading.Thread(
                target=_import, args=(name,), name=f"realtime_widget preload {name}", daemon=True
            ).start()
        call_now = done.is_set()
        if then is not None and not call_now:
            _then[name].append(then)
    if then is not None and call_now:
        then()


def ready(name: str) -> bool | None:
    """True once ``name`` is imported, False if it cannot be, None while it is importing
    or was never asked for (never blocks, never imports)."""
    done = _done.get(name)
    if done is None or not done.is_set():
        return None
    return _ok[name]


def _import(name: str) -> None:
    try:
        importlib.import_module(name)
        ok = True
    except ImportError:
        ok = False
    except Exception:  # a broken install: say so once, and work without it
        _log.warning("importing %s failed", name, exc_info=True)
        ok = False
    with _lock:
        _ok[name] = ok
        _done[name].set()
        callbacks, _then[name] = _then[name], []
    for callback in callbacks:
        try:
            callback()
        except Exception:
            _log.exception("callback after importing %s failed", name)
