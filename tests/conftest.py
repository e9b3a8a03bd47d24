"""Suite-wide test settings.

The local server picks the offline speech engines (the ``local`` extra) when
they are installed. Tests written against the deterministic echo engines
(echoed audio, ``[1.4 s of audio]`` transcripts) would then see real speech
models, so the suite pins the echo engines by default; the offline engine
tests (tests/server/test_offline_*.py) ask for ``engines="offline"``
explicitly, and the default selection is tested in a subprocess.
Run with ``REALTIME_WIDGET_ENGINES=auto`` to try the suite on real engines.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import pytest

os.environ.setdefault("REALTIME_WIDGET_ENGINES", "echo")


@contextlib.asynccontextmanager
async def _local_server(pace: str) -> AsyncIterator[str]:
    from realtime_widget.server import LocalServer

    server = LocalServer(pace=pace)
    url = await server.start()
    try:
        yield url
    finally:
        await server.stop()


@pytest.fixture
async def burst_server() -> AsyncIterator[str]:
    """URL of a local server that sends replies as fast as it can (echo engines)."""
    async with _local_server("burst") as url:
        yield url


@pytest.fixture
async def rt_server() -> AsyncIterator[str]:
    """URL of a local server that paces replies in real time (echo engines)."""
    async with _local_server("realtime") as url:
        yield url
