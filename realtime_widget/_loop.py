"""The process-wide I/O thread that runs every session's sockets.

Why a thread of its own (DESIGN.md): comm messages from the browser may be
handled on the kernel's main thread or on a subshell thread, a cell may block
the main thread for seconds, and ``nest_asyncio`` loses messages. An event
loop on a dedicated daemon thread keeps the WebSocket, model audio and the
recording going whatever the kernel's main thread does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["call_in_io_loop", "in_io_thread", "io_loop"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def io_loop() -> asyncio.AbstractEventLoop:
    """The I/O loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed() or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=run, name="realtime-widget-io", daemon=True)
            thread.start()
            ready.wait()
            _loop, _thread = loop, thread
        return _loop


def in_io_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


async def call_in_io_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the I/O loop from any loop (the kernel's, or another thread's).

    Cancelling the caller cancels the work on the I/O loop too.
    """
    loop = io_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
