"""The local server's own logs never carry a client's key."""

from __future__ import annotations

import logging

import pytest
from websockets.asyncio.client import connect

from realtime_widget.server import LocalServer

KEY = "sk-client-key-never-logged-123456"


async def test_handshake_debug_log_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with LocalServer(pace="burst") as server:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with connect(server.url, additional_headers=headers) as ws:
            await ws.recv()  # session.created
    server_records = [r for r in caplog.records if r.name.startswith("realtime_widget.server")]
    assert any("Authorization" in r.getMessage() for r in server_records)  # headers were logged
    assert all(KEY not in r.getMessage() for r in server_records)
