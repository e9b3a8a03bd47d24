"""Helpers for the local-server tests: a raw WebSocket client that validates
every server event against the openai SDK's GA union, and synthetic audio."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from websockets.asyncio.client import ClientConnection, connect

from realtime_widget.server import LocalServer

SR = 24000
Event = dict[str, Any]

try:  # the openai SDK is a dev dependency; without it events are checked by hand only
    import pydantic
    from openai.types.realtime import RealtimeServerEvent

    _ADAPTER: Any = pydantic.TypeAdapter(RealtimeServerEvent)
except ImportError:  # pragma: no cover
    _ADAPTER = None


def validate(event: Event) -> None:
    """Every server event: a GA union member (strict pydantic validation) with an id."""
    assert isinstance(event.get("type"), str), event
    assert str(event.get("event_id", "")).startswith("event_"), event
    if _ADAPTER is not None:
        _ADAPTER.validate_python(event)


class Client:
    """A thin raw client: ``send`` dicts, ``next``/``until`` validated server events."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[Event] = []
        self._ids: set[str] = set()

    async def send(self, event: Event | str) -> None:
        await self.ws.send(event if isinstance(event, str) else json.dumps(event))

    async def next(self, timeout: float = 10) -> Event:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        event: Event = json.loads(raw)
        validate(event)
        assert event["event_id"] not in self._ids, "event ids must be unique"
        self._ids.add(event["event_id"])
        self.events.append(event)
        return event

    async def until(
        self, type_: str, pred: Callable[[Event], bool] | None = None, timeout: float = 10
    ) -> list[Event]:
        """Events up to and including the first ``type_`` (matching ``pred``)."""
        out: list[Event] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.next(max(0.01, deadline - loop.time()))
            out.append(event)
            if event["type"] == type_ and (pred is None or pred(event)):
                return out

    async def quiet(self, seconds: float) -> list[Event]:
        """Events that arrive within ``seconds`` (expecting few or none)."""
        out: list[Event] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                out.append(await self.next(left))
            except asyncio.TimeoutError:  # not the builtin before Python 3.11
                break
        return out

    async def update(self, session: Event) -> Event:
        await self.send({"type": "session.update", "session": {"type": "realtime", **session}})
        return (await self.until("session.updated"))[-1]

    async def append(self, samples: npt.NDArray[np.int16], chunk_ms: int = 20) -> None:
        step = chunk_ms * SR // 1000
        for i in range(0, len(samples), step):
            await self.send(
                {"type": "input_audio_buffer.append", "audio": b64(samples[i : i + step])}
            )


@asynccontextmanager
async def client(url: str, **kwargs: Any) -> AsyncIterator[Client]:
    async with connect(url, max_size=None, compression=None, **kwargs) as ws:
        c = Client(ws)
        first = await c.next()
        assert first["type"] == "session.created"
        yield c


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    async with LocalServer(pace="burst", transcription_delay_s=0.02) as srv:
        yield srv


@pytest.fixture
async def rt_server() -> AsyncIterator[LocalServer]:
    async with LocalServer(pace="realtime") as srv:
        yield srv


# -- audio -------------------------------------------------------------------------


def b64(samples: npt.NDArray[np.int16] | bytes) -> str:
    data = samples if isinstance(samples, bytes) else samples.astype("<i2").tobytes()
    return base64.b64encode(data).decode("ascii")


def pcm(b64text: str) -> npt.NDArray[np.int16]:
    return np.frombuffer(base64.b64decode(b64text), dtype="<i2").astype(np.int16)


def tone_burst(seconds: float, freq: float = 300.0, level: float = 0.3) -> npt.NDArray[np.int16]:
    """Speech-like enough for an energy VAD: a 300 Hz tone + harmonic, 4 Hz syllable AM."""
    t = np.arange(int(seconds * SR)) / SR
    sig = np.sin(2 * np.pi * freq * t) + 0.4 * np.sin(2 * np.pi * 2 * freq * t)
    sig *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    out: npt.NDArray[np.int16] = (sig / np.max(np.abs(sig)) * level * 32767).astype(np.int16)
    return out


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(int(seconds * SR), dtype=np.int16)


def corr(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    n = min(len(a), len(b))
    x, y = a[:n].astype(float), b[:n].astype(float)
    return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))


def types(events: list[Event]) -> list[str]:
    return [e["type"] for e in events]


def squash(names: list[str]) -> list[str]:
    """Collapse runs of the same delta type into one entry (``x.delta*``)."""
    out: list[str] = []
    for n in names:
        label = n + "*" if n.endswith(".delta") else n
        if not (out and out[-1] == label and label.endswith("*")):
            out.append(label)
    return out


def text_item(text: str, role: str = "user") -> Event:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}
