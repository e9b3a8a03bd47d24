"""Layer 4: endpoints, the key's secrecy, close codes, and real loopback sockets."""

from __future__ import annotations

import asyncio
import io
import logging
import pickle
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from realtime_widget.connection import Connection, Endpoint, Secret, describe_close
from realtime_widget.errors import ConnectionClosedError, RealtimeError

KEY = "sk-test-SECRET-0123456789abcdef"


def test_secret_never_shows() -> None:
    s = Secret(KEY)
    assert KEY not in repr(s)
    assert KEY not in str(s)
    assert KEY not in f"{s}"
    assert s.reveal() == KEY
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_openai_endpoint_url_and_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(RealtimeError, match="OPENAI_API_KEY"):
        Endpoint.openai("gpt-realtime")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    e = Endpoint.openai("gpt-realtime-2.1")
    assert e.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime-2.1"
    assert e.secret_headers["Authorization"].reveal() == f"Bearer {KEY}"
    assert "OpenAI-Beta" not in e.headers
    assert KEY not in repr(e)
    assert KEY in e.secrets()


def test_azure_endpoint_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    e = Endpoint.azure("https://myres.openai.azure.com/", "my-deploy")
    assert e.url == "wss://myres.openai.azure.com/openai/v1/realtime?model=my-deploy"
    assert e.secret_headers["api-key"].reveal() == KEY
    assert Endpoint.azure("myres", "d").url.startswith("wss://myres.openai.azure.com/openai/v1/")
    tok = Endpoint.azure("myres", "d", token="entra-token")
    assert tok.secret_headers["Authorization"].reveal() == "Bearer entra-token"
    assert "api-key" not in tok.secret_headers
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    with pytest.raises(RealtimeError, match="AZURE_OPENAI_API_KEY"):
        Endpoint.azure("myres", "d")


def test_custom_endpoint() -> None:
    e = Endpoint.custom("http://127.0.0.1:9/v1/realtime", model="m")
    assert e.url == "ws://127.0.0.1:9/v1/realtime?model=m"
    assert e.secret_headers == {}
    k = Endpoint.custom("wss://x/v1/realtime?a=1", KEY, auth_header="X-API-Key", model="m")
    assert k.url == "wss://x/v1/realtime?a=1&model=m"
    assert k.secret_headers["X-API-Key"].reveal() == KEY
    with pytest.raises(RealtimeError, match="scheme"):
        Endpoint.custom("ftp://x")


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        (1001, "60 minutes"),
        (4000, "beta"),
        (1006, "dropped"),
        (1011, "internal"),
        (4999, "unrecog"),
    ],
)
def test_close_code_messages(code: int, needle: str) -> None:
    assert needle in describe_close(code, "")
    assert "server said: why" in describe_close(code, "why")


# -- real sockets on loopback -------------------------------------------------------------


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[str, list[Headers]]]:
    """A tiny server: 401 without the right key, else echoes; 'close:<code>' closes."""
    seen: list[Headers] = []

    def check(conn: ServerConnection, request: Request) -> Response | None:
        seen.append(request.headers)
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return conn.respond(401, f"Incorrect API key provided: {KEY[:8]}...")
        return None

    async def handler(conn: ServerConnection) -> None:
        async for msg in conn:
            if isinstance(msg, str) and msg.startswith("close:"):
                await conn.close(int(msg.split(":")[1]), "bye")
                return
            if msg == "big":
                await conn.send("x" * (3 * 1024 * 1024))
                continue
            await conn.send(msg)

    async with serve(handler, "127.0.0.1", 0, process_request=check) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime", seen


async def test_connect_send_recv_and_large_frame(
    echo_server: tuple[str, list[Headers]],
) -> None:
    url, seen = echo_server
    conn = Connection(Endpoint.custom(url, KEY))
    await conn.open()
    assert seen[-1]["Authorization"] == f"Bearer {KEY}"
    await conn.send_text('{"type":"x"}')
    assert await conn.recv() == '{"type":"x"}'
    await conn.send_text("big")  # larger than websockets' default 1 MiB max_size
    assert len(await conn.recv()) == 3 * 1024 * 1024
    await conn.close()
    assert not conn.is_open


async def test_auth_failure_is_clear_and_redacted(
    echo_server: tuple[str, list[Headers]], caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = echo_server
    wrong = "sk-wrong-key-ABCDEFGHIJKLMNOP"
    conn = Connection(Endpoint.custom(url, wrong))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RealtimeError) as info:
        await conn.open()
    text = str(info.value)
    assert "HTTP 401" in text
    assert "authentication failed" in text
    assert wrong not in text
    assert wrong not in repr(conn)
    ours = [r for r in caplog.records if r.name.startswith("realtime_widget")]
    assert ours  # websockets logged our handshake at DEBUG...
    assert all(wrong not in r.getMessage() for r in ours)  # ...without the key


async def test_debug_logging_redacts_key(
    echo_server: tuple[str, list[Headers]],
) -> None:
    url, _ = echo_server
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    # Only our client's records: the test server above logs what it receives.
    handler.addFilter(logging.Filter("realtime_widget"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        conn = Connection(Endpoint.custom(url, KEY))
        await conn.open()
        await conn.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    logged = stream.getvalue()
    assert "Authorization" in logged or "GET" in logged  # the handshake was logged...
    assert KEY not in logged  # ...without the key


async def test_close_code_becomes_error(echo_server: tuple[str, list[Headers]]) -> None:
    url, _ = echo_server
    conn = Connection(Endpoint.custom(url, KEY))
    await conn.open()
    await conn.send_text("close:1001")
    with pytest.raises(ConnectionClosedError) as info:
        await conn.recv()
    assert info.value.code == 1001
    assert "60 minutes" in str(info.value)
    assert conn.close_code == 1001


async def test_refused_port_is_clear() -> None:
    # Bind then close to find a port nothing listens on.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    conn = Connection(Endpoint.custom(f"ws://127.0.0.1:{port}/v1/realtime", KEY), open_timeout=3)
    with pytest.raises(RealtimeError, match="could not connect"):
        await conn.open()
