"""Layer 5: Session ↔ the bundled local server over real loopback WebSockets."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from typing import Any

import numpy as np
import pytest

from realtime_widget import ConfigError, ConnectionClosedError, ServerError, Session
from realtime_widget.server import LocalServer
from tests.signals import SR, silence, speech_like


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    if n == 0:
        return 0.0
    x, y = a[:n].astype(float), b[:n].astype(float)
    return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))


async def test_text_turn(burst_server: str) -> None:
    async with Session(burst_server, instructions="Be brief.") as s:
        assert s.config["instructions"] == "Be brief."
        await s.send_text("Hello there")
        done = await s.wait_for("response.done", timeout=10)
        assert done["response"]["status"] == "completed"
        items = s.conversation.items
        assert [i.role for i in items] == ["user", "assistant"]
        assert items[0].text == "Hello there"
        assert "Hello there" in items[1].text
        assert len(s.assistant_audio()) > 0  # audio modality: the reply is spoken
        types = [r.type for r in s.log if r.direction == "server"]
        assert types[0] == "session.created"
        assert types[-1] == "response.done"
        assert all(r.t_kernel > 0 for r in s.log)
    assert s.status == "closed"


async def test_text_only_modality(burst_server: str) -> None:
    async with Session(burst_server, output_modalities=["text"]) as s:
        await s.send_text("Just text please")
        await s.wait_for("response.done", timeout=10)
        assert len(s.assistant_audio()) == 0
        assert "Just text please" in s.conversation.items[-1].text
        assert any(r.type == "response.output_text.delta" for r in s.log)


async def test_audio_turn_with_server_vad(burst_server: str) -> None:
    speech = speech_like(1.2, seed=3)
    audio = np.concatenate([silence(0.4), speech])
    async with Session(burst_server, turn_detection="server_vad", silence_duration_ms=400) as s:
        await s.send_audio(audio, realtime=False, trailing_silence_ms=800)
        started = await s.wait_for("input_audio_buffer.speech_started", timeout=10, since=0)
        stopped = await s.wait_for("input_audio_buffer.speech_stopped", timeout=10, since=0)
        done = await s.wait_for("response.done", timeout=15, since=0)
        assert done["response"]["status"] == "completed"
        # The server saw speech where we put it (400 ms in, minus prefix padding).
        assert 0 <= started["audio_start_ms"] <= 400
        assert 1400 <= stopped["audio_end_ms"] <= 2400
        user = s.conversation.items[0]
        assert user.role == "user"
        heard = s.conversation.item_audio(user.id)
        # The user's item holds the spoken audio...
        assert _corr(heard[int(0.4 * SR) - started["audio_start_ms"] * 24 :], speech) > 0.9
        # ...and the default engines answer with the user's own audio (echo).
        reply = s.assistant_audio()
        assert len(reply) > 0
        assert _corr(reply, heard) > 0.95
        turn = s.conversation.turns[0]
        assert turn.t_speech_started is not None and turn.t_response_done is not None


async def test_manual_commit_turn(burst_server: str) -> None:
    async with Session(burst_server, turn_detection=None) as s:
        assert s.config["audio"]["input"]["turn_detection"] is None
        # Too short a commit is refused by the server with a clear code.
        await s.send_audio(speech_like(0.05), realtime=False, commit=True, respond=False)
        err = await s.wait_for("error", timeout=10)
        assert err["error"]["code"] == "input_audio_buffer_commit_empty"
        await s.clear_input()
        await s.wait_for("input_audio_buffer.cleared", timeout=10)
        sent = await s.send_audio(speech_like(0.8, seed=5), realtime=False)
        assert sent == pytest.approx(800, abs=1)
        done = await s.wait_for("response.done", timeout=10)
        assert done["response"]["status"] == "completed"
        assert any(r.type == "input_audio_buffer.committed" for r in s.log)


async def test_barge_in_truncates_at_played_position() -> None:
    # Real-time pacing, as a person would hear it.
    server = LocalServer(pace="realtime")
    url = await server.start()
    try:
        async with Session(url, turn_detection=None) as s:
            await s.send_audio(speech_like(3.0, seed=7), realtime=False)
            await s.wait_for("response.output_audio.delta", timeout=10)
            await asyncio.sleep(0.8)
            # Now the user talks over the reply: a VAD turn.
            await s.update(turn_detection="server_vad", silence_duration_ms=300)
            mark = s.mark()
            await s.send_audio(speech_like(0.8, seed=8), realtime=False, trailing_silence_ms=500)
            await s.wait_for("input_audio_buffer.speech_started", timeout=10, since=mark)
            cancelled = await s.wait_for(
                "response.done",
                lambda e: e["response"]["status"] == "cancelled",
                timeout=10,
                since=0,
            )
            assert cancelled["response"]["status_details"]["reason"] == "turn_detected"
            truncated = await s.wait_for("conversation.item.truncated", timeout=10, since=mark)
            sent = [r for r in s.log if r.type == "conversation.item.truncate"]
            assert len(sent) == 1
            ms = sent[0].payload["audio_end_ms"]
            assert truncated["audio_end_ms"] == ms
            item = s.conversation.item(truncated["item_id"])
            # Played ≈ time since the first delta: between 0.8 s and what was received.
            assert 700 <= ms <= item.audio_ms
            assert item.truncated_ms == ms
    finally:
        await server.stop()


async def test_function_call_round_trip(burst_server: str) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
    async with Session(burst_server, tools=[tool], tool_choice="auto") as s:
        calls: list[dict[str, Any]] = []

        @s.on("response.function_call_arguments.done")
        async def run_tool(event: dict[str, Any]) -> None:
            calls.append(event)
            await s.send_function_output(event["call_id"], {"city": "Paris", "temp_c": 21})

        await s.send_text('call get_weather {"city": "Paris"}')
        first = await s.wait_for("response.done", timeout=10)
        assert first["response"]["output"][0]["type"] == "function_call"
        second = await s.wait_for(
            "response.done", lambda e: e["response"]["id"] != first["response"]["id"], timeout=10
        )
        assert second["response"]["status"] == "completed"
        assert calls and calls[0]["name"] == "get_weather"
        kinds = [i.type for i in s.conversation.items]
        assert kinds == ["message", "function_call", "function_call_output", "message"]
        assert "21" in s.conversation.items[-1].text


async def test_invalid_update_client_side_sends_nothing(burst_server: str) -> None:
    async with Session(burst_server) as s:
        before = len(s.log)
        with pytest.raises(ConfigError) as info:
            await s.update(threshold=1.5)
        assert info.value.param == "audio.input.turn_detection.threshold"
        assert len(s.log) == before


async def test_invalid_update_server_side_is_surfaced(burst_server: str) -> None:
    async with Session(burst_server) as s:
        # Bypass client-side validation: the server must answer with an error event.
        bad = {"type": "realtime", "audio": {"output": {"speed": 9}}}
        s.send({"type": "session.update", "event_id": "evt_bad", "session": bad})
        err = await s.wait_for("error", timeout=10)
        assert err["error"]["event_id"] == "evt_bad"
        assert err["error"]["param"].endswith("speed")
        # The socket stays open and the session usable.
        await s.send_text("still there?")
        assert (await s.wait_for("response.done", timeout=10))["response"]["status"] == "completed"
        assert [r.type for r in s.log.errors()] == ["error"]


async def test_update_refused_by_server_raises(burst_server: str) -> None:
    async with Session(burst_server) as s:
        await s.send_text("make some audio")
        await s.wait_for("response.done", timeout=10)
        with pytest.raises(ServerError) as info:
            await s.update(voice="marin")  # voice is fixed once audio was produced
        assert info.value.code == "cannot_update_voice"


async def test_server_drops_mid_response_nothing_lost() -> None:
    server = LocalServer(pace="realtime")
    url = await server.start()
    try:
        s = Session(url, turn_detection=None)
        closed: list[dict[str, Any]] = []
        s.on("connection.closed", closed.append)
        await s.connect()
        await s.send_audio(speech_like(3.0, seed=11), realtime=False)
        await s.wait_for("response.output_audio.delta", timeout=10)
        await asyncio.sleep(0.3)
        n_before = len(s.log)
        audio_before = len(s.assistant_audio())
        server.drop_connections()
        with pytest.raises(ConnectionClosedError):
            await s.wait_for("response.done", timeout=10, since="now")
        assert s.status == "failed"
        assert s.close_error is not None
        assert closed and closed[0]["expected"] is False
        assert len(s.log) >= n_before + 1  # nothing removed; the close itself is logged
        assert s.log[len(s.log) - 1].type == "connection.closed"
        assert len(s.assistant_audio()) >= audio_before > 0
        with pytest.raises(ConnectionClosedError):
            await s.send_text("anyone?")
        await s.close()
    finally:
        await server.stop()


async def test_local_target_starts_its_own_server() -> None:
    async with Session("local", server_options={"pace": "burst"}) as s:
        assert s.server is not None and s.url is not None and s.url.startswith("ws://127.0.0.1:")
        await s.send_text("hi")
        await s.wait_for("response.done", timeout=10)
    assert s.server is None


async def test_wait_for_cannot_miss_a_fast_reply(burst_server: str) -> None:
    async with Session(burst_server, output_modalities=["text"]) as s:
        await s.send_text("one")
        await asyncio.sleep(0.5)  # the reply has certainly arrived by now
        done = await s.wait_for("response.done", timeout=5)
        assert done["response"]["status"] == "completed"
        with pytest.raises(TimeoutError):
            await s.wait_for("response.done", timeout=0.3, since="now")


async def test_hook_errors_are_kept_not_fatal(burst_server: str) -> None:
    async with Session(burst_server, output_modalities=["text"]) as s:

        @s.on("response.created")
        def broken(event: dict[str, Any]) -> None:
            raise RuntimeError("boom")

        seen: list[str] = []
        s.on("*", lambda e: seen.append(e["type"]))
        await s.send_text("x")
        await s.wait_for("response.done", timeout=10)
        assert len(s.hook_errors) == 1
        assert "response.done" in seen
        assert any(r.type == "hook.error" for r in s.log)


def test_api_from_another_thread_and_blocked_main_thread() -> None:
    """The session's I/O runs on its own thread: a worker thread can drive it with
    asyncio.run, and events keep being recorded while the caller's thread blocks."""
    result: dict[str, Any] = {}
    server = LocalServer(pace="burst")
    url = server.start_in_thread()

    async def drive() -> None:
        s = Session(url, output_modalities=["text"])
        await s.connect()
        await s.send_text("from a thread")
        time.sleep(1.0)  # noqa: ASYNC251 -- block this thread's loop on purpose
        n_done = sum(1 for r in s.log if r.type == "response.done")
        result["done_while_blocked"] = n_done
        await s.close()

    worker = threading.Thread(target=lambda: asyncio.run(drive()))
    worker.start()
    worker.join(30)
    server.stop_thread()
    assert result["done_while_blocked"] == 1


async def test_key_never_in_repr_or_log(burst_server: str) -> None:
    key = "sk-never-shown-XYZ0123456789"
    async with Session(burst_server, api_key=key, output_modalities=["text"]) as s:
        await s.send_text("hello")
        await s.wait_for("response.done", timeout=10)
        assert key not in repr(s)
        assert key not in repr(s.log)
        for r in s.log:
            assert key not in repr(r.payload)


async def test_g711_both_ways() -> None:
    server = LocalServer(pace="burst")
    url = await server.start()
    try:
        async with Session(
            url, turn_detection=None, input_format="audio/pcmu", output_format="audio/pcmu"
        ) as s:
            speech = speech_like(1.0, seed=13)
            await s.send_audio(speech, realtime=False)
            done = await s.wait_for("response.done", timeout=10)
            assert done["response"]["status"] == "completed"
            # On the wire: µ-law at 8 kHz, 8 bytes per ms.
            raw = server.last_connection().raw_input_audio
            assert len(raw) == pytest.approx(8 * 1000, abs=16)
            # The state keeps PCM16 at 24 kHz, equal to what we sent.
            user = s.conversation.items[0]
            assert _corr(s.conversation.item_audio(user.id), speech) > 0.99
            # The reply (µ-law on the wire) is decoded back to 24 kHz PCM16: the echo
            # engine returns our audio after two G.711 trips, so it still correlates.
            reply = s.assistant_audio()
            assert abs(len(reply) - len(speech)) < 0.02 * SR
            assert _corr(reply, speech) > 0.95
    finally:
        await server.stop()


async def test_send_order_survives_a_busy_socket() -> None:
    """Small frames go straight to an idle socket, large ones fill its buffer and
    make later frames queue; the server still receives every event in order."""
    server = LocalServer(pace="burst")
    url = await server.start()
    try:
        async with Session(url, turn_detection=None) as s:
            big = base64.b64encode(speech_like(20.0, seed=2).astype("<i2").tobytes()).decode()
            # Loopback takes megabytes at once, so play the busy socket: big frames are
            # refused by the synchronous path and must go through the writer queue...
            conn = s._conn
            assert conn is not None
            direct = conn.send_text_now
            went_direct: list[bool] = []

            def busy_for_big(text: str) -> bool:
                ok = len(text) < 100_000 and direct(text)
                went_direct.append(ok)
                return ok

            conn.send_text_now = busy_for_big  # type: ignore[method-assign]
            sent_ids = []
            for i in range(60):
                eid = f"evt_order_{i}"
                sent_ids.append(eid)
                if i % 20 == 5:
                    item = {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_audio", "audio": big}],
                    }
                    s.send({"type": "conversation.item.create", "event_id": eid, "item": item})
                else:
                    s.send({"type": "input_audio_buffer.clear", "event_id": eid})
            for _ in range(100):
                got = [
                    e.get("event_id")
                    for e in server.last_connection().client_events
                    if str(e.get("event_id", "")).startswith("evt_order_")
                ]
                if len(got) == len(sent_ids):
                    break
                await asyncio.sleep(0.05)
            assert got == sent_ids
            # ...and the frames right behind a queued one queue too (order over speed):
            # the first five went straight out, the sixth (big) was refused, and later
            # frames were not even offered to the direct path while it was in flight.
            assert went_direct[:6] == [True] * 5 + [False]
            assert len(went_direct) < len(sent_ids)
    finally:
        await server.stop()


async def test_audio_sink_gets_decoded_pcm(burst_server: str) -> None:
    async with Session(burst_server, turn_detection=None) as s:
        got: list[tuple[str, bytes]] = []
        s.add_audio_sink(lambda event, pcm: got.append((event["item_id"], pcm)))
        speech = speech_like(0.6, seed=17)
        await s.send_audio(speech, realtime=False)
        await s.wait_for("response.done", timeout=10)
        pcm = b"".join(p for _, p in got)
        assert np.array_equal(np.frombuffer(pcm, "<i2"), s.assistant_audio())
        assert {i for i, _ in got} == {s.conversation.items[-1].id}


async def test_reconnect_starts_a_fresh_recorder(burst_server: str) -> None:
    s = Session(burst_server, output_modalities=["text"])
    await s.connect()
    await s.send_text("first")
    await s.wait_for("response.done", timeout=10)
    first_log = s.log
    await s.close()
    await s.connect()
    assert s.log is not first_log
    assert s.history == [s.history[0]]
    assert s.history[0].log is first_log
    assert len(s.conversation.items) == 0
    await s.send_text("second")
    await s.wait_for("response.done", timeout=10)
    assert s.conversation.items[0].text == "second"
    await s.close()
