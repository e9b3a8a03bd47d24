"""RealtimeWidget against the REAL local server (loopback WebSocket), the browser
simulated by posting contract messages to the widget's custom-message handler."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from realtime_widget import Session
from realtime_widget.server import LocalServer
from realtime_widget.widget import RealtimeWidget
from tests.signals import silence, speech_like

from .browser_sim import SimBrowser, epoch_ms


@pytest.fixture
def make() -> Iterator[Any]:
    widgets: list[RealtimeWidget] = []

    def factory(
        *args: Any, answer_stops: bool = True, **kwargs: Any
    ) -> tuple[RealtimeWidget, SimBrowser]:
        w = RealtimeWidget(*args, **kwargs)
        widgets.append(w)
        return w, SimBrowser(w, answer_stops=answer_stops)

    yield factory
    for w in widgets:
        session = w.session
        w.close()
        deadline = time.monotonic() + 5
        while session.status not in ("closed", "new", "failed") and time.monotonic() < deadline:
            time.sleep(0.01)


def connect(w: RealtimeWidget, b: SimBrowser) -> None:
    b.post({"type": "hello", "t": epoch_ms(), "view": "v1", "secure": True, "sample_rate": 24000,
            "user_agent": "sim", "audio_worklet": True})  # fmt: skip
    b.post({"type": "connect", "t": epoch_ms()})
    b.wait_for(lambda: w.session.status == "connected", 15, "connection")
    b.wait_for(lambda: w.status == "listening", 5, "listening status")


def logged(w: RealtimeWidget, type_: str) -> list[Any]:
    return [r for r in w.session.log if r.type == type_]


def check_audio_stream(b: SimBrowser, item_id: str) -> tuple[int, list[float]]:
    """Offsets contiguous from 0; returns (samples, send times)."""
    msgs = b.audio(item_id)
    assert msgs, f"no audio for {item_id}"
    offset = 0
    for _, content, pcm in msgs:
        assert content["offset"] == offset
        assert isinstance(content["response_id"], str)
        offset += len(pcm) // 2
    return offset, [t for t, _, _ in msgs]


def test_vad_turn_reaches_the_browser_coalesced(make: Any) -> None:
    w, b = make(server_options={"pace": "burst"}, silence_duration_ms=400)
    connect(w, b)
    assert w.target.startswith("local server ws://127.0.0.1:")
    speech = speech_like(1.2, seed=3)
    b.speak(np.concatenate([silence(0.3), speech, silence(1.0)]))
    b.wait_for(lambda: logged(w, "response.done"), 15, "response.done")
    conv = w.session.conversation
    reply = next(i for i in conv.items if i.role == "assistant")
    b.wait_for(lambda: sum(len(p) // 2 for _, _, p in b.audio(reply.id)) >= reply.audio_samples,
               5, "all audio")  # fmt: skip
    samples, times = check_audio_stream(b, reply.id)
    assert samples == reply.audio_samples
    # The bursting server sent tens of deltas; the browser got few, ≥ 10 ms apart.
    deltas = len(logged(w, "response.output_audio.delta"))
    assert len(times) < deltas
    # (Spacing is exact on the relay's clock, see test_coalesce; here send times carry
    # thread-scheduling jitter, so count per second instead.)
    assert all(sum(1 for u in times if t <= u < t + 1.0) <= 100 for t in times)
    joined = b"".join(p for _, _, p in b.audio(reply.id))
    assert joined == conv.item_audio(reply.id).astype("<i2").tobytes()
    # Every mic chunk was appended, in order, with the browser's clock.
    appends = logged(w, "input_audio_buffer.append")
    assert len(appends) == b.seq
    assert all(r.t_browser is not None for r in appends)
    # Transcript: streamed, then final rows and the static HTML.
    b.wait_for(lambda: any(r["role"] == "assistant" and r["status"] == "completed"
                           for r in w.transcript), 5, "final transcript row")  # fmt: skip
    finals = [m for m in b.messages("transcript") if m.get("final")]
    assert any(m["item_id"] == reply.id and m["text"] == reply.text for m in finals)
    # The page got the rows as diffs (durable.py): each position once it changed.
    patched: list[Any] = []
    for m in b.messages("rows"):
        patched[m["start"] : m["start"] + m["delete"]] = m["rows"]
    assert patched == w.transcript
    # The whole list and its HTML follow at the pause after the turn.
    b.wait_for(lambda: reply.text in w.conversation_html, 5, "conversation_html")
    assert reply.text
    # Events: batched, well under 100 messages/s overall.
    assert b.messages("events")
    span = b.received[-1][0] - b.received[0][0]
    assert len(b.received) / max(span, 1.0) < 100
    assert w.stats["mic_gaps"] == 0


def test_barge_in_truncates_at_the_browsers_count(make: Any) -> None:
    w, b = make(server_options={"pace": "realtime"}, silence_duration_ms=300)
    connect(w, b)
    b.speak(np.concatenate([speech_like(3.0, seed=7), silence(0.6)]))
    first = b.wait_message("audio", timeout=15)
    item_id = first["item_id"]
    time.sleep(0.8)  # the reply plays for a while...
    b.played_override = 12345  # ...and the browser says exactly how much it played
    b.speak(np.concatenate([speech_like(0.8, seed=8), silence(0.5)]))
    stop = b.wait_message("stop", lambda m: m["item_id"] is not None)
    assert stop["item_id"] == item_id and stop["reason"] == "speech_started"
    truncated = b.wait_for(lambda: logged(w, "conversation.item.truncated"), 10, "truncated")
    [sent] = logged(w, "conversation.item.truncate")
    assert sent.payload["item_id"] == item_id
    assert sent.payload["audio_end_ms"] == 12345 // 24
    assert truncated[0].payload["audio_end_ms"] == 12345 // 24
    item = w.session.conversation.item(item_id)
    assert item.truncated_ms == 12345 // 24
    # Nothing of the stopped item after the stop.
    stop_at = next(t for t, c, _ in b.received if c is stop)
    assert all(t < stop_at for t, _, _ in b.audio(item_id))
    # The browser learns what was not heard.
    msg = b.wait_message("transcript", lambda m: m["item_id"] == item_id and "unheard" in m)
    assert msg["text"] + msg["unheard"] == item.text
    assert msg["unheard"] == item.unheard_text
    # Widget notes in the log.
    for note in ("widget.stop_sent", "widget.interrupted", "widget.truncate_computed",
                 "widget.playback_started"):  # fmt: skip
        assert logged(w, note), note
    assert logged(w, "widget.playback_started")[0].t_browser is not None
    b.wait_for(lambda: any(r["status"] == "interrupted" for r in w.transcript), 5, "row")
    b.wait_for(lambda: "<s" in w.conversation_html, 5, "struck-out text in the HTML")


def test_barge_in_without_an_answer_uses_the_estimate(make: Any) -> None:
    w, b = make(server_options={"pace": "realtime"}, silence_duration_ms=300, answer_stops=False)
    connect(w, b)
    b.speak(np.concatenate([speech_like(3.0, seed=7), silence(0.6)]))
    b.wait_message("audio", timeout=15)
    time.sleep(0.8)
    b.speak(np.concatenate([speech_like(0.8, seed=8), silence(0.5)]))
    b.wait_message("stop", lambda m: m["item_id"] is not None)
    b.wait_for(lambda: logged(w, "conversation.item.truncated"), 10, "truncated")
    [note] = [r.payload for r in logged(w, "widget.truncate_computed") if r.payload["sent"]]
    assert note["source"] == "estimate"
    assert 500 <= note["audio_end_ms"] <= note["received_ms"]


def test_push_to_talk_commits_and_answers(make: Any) -> None:
    w, b = make(server_options={"pace": "burst"}, mode="ptt")
    connect(w, b)
    b.wait_for(lambda: w.session.config["audio"]["input"]["turn_detection"] is None, 5, "ptt")
    b.ptt("down")
    b.speak(speech_like(0.6, seed=4))
    b.ptt("up")
    b.wait_for(lambda: logged(w, "response.done"), 10, "response")
    types = [r.type for r in w.session.log if r.direction == "client"]
    assert "input_audio_buffer.clear" in types
    assert types.index("input_audio_buffer.commit") < types.index("response.create")
    assert b.wait_message("audio")
    # A tap is too short: cleared and reported.
    b.ptt("down")
    b.speak(speech_like(0.04, seed=5))
    b.ptt("up")
    b.wait_for(lambda: w.last_error.startswith("too short"), 5, "too short error")
    # Back to VAD: the server's turn detection is restored.
    w.mode = "vad"
    b.wait_for(lambda: w.session.config["audio"]["input"]["turn_detection"] is not None, 5, "vad")
    td = w.session.config["audio"]["input"]["turn_detection"]
    assert td["type"] == "server_vad" and td["silence_duration_ms"] > 0


def test_out_of_order_mic_is_reordered_none_lost(make: Any) -> None:
    w, b = make(server_options={"pace": "burst"})
    connect(w, b)
    audio = speech_like(1.0, seed=9)
    chunks = b.mic_chunks(audio)
    rng = random.Random(1)
    shuffled = []
    for i in range(0, len(chunks), 4):  # arrival order scrambled within small windows
        window = chunks[i : i + 4]
        rng.shuffle(window)
        shuffled += window
    assert shuffled != chunks
    for content, pcm in shuffled:
        b.post(content, [pcm])
    b.wait_for(lambda: w.session.conversation.input_samples >= len(chunks) * 480, 5, "appends")
    got = w.session.conversation.input_audio()
    assert np.array_equal(got, audio[: len(chunks) * 480])
    assert w.stats["mic_gaps"] == 0


def test_messages_handled_on_other_threads(make: Any) -> None:
    w, b = make(server_options={"pace": "burst"})
    connect(w, b)
    chunks = b.mic_chunks(speech_like(0.4, seed=2))

    def subshell() -> None:
        for content, pcm in chunks[::2]:
            b.post(content, [pcm])
        b.post({"type": "ping", "id": "from-subshell", "t": epoch_ms()})

    t = threading.Thread(target=subshell, name="subshell-0000")
    t.start()
    for content, pcm in chunks[1::2]:  # the main thread delivers the others meanwhile
        b.post(content, [pcm])
    t.join()
    pong = b.wait_message("pong", lambda m: m["id"] == "from-subshell")
    assert pong["t_kernel"] > 0
    b.wait_for(lambda: w.session.conversation.input_samples == len(chunks) * 480, 5, "appends")


def test_audio_keeps_flowing_while_the_main_thread_blocks(make: Any) -> None:
    w, b = make(server_options={"pace": "realtime"}, output_modalities=["audio"])
    connect(w, b)
    b.post({"type": "text", "text": "Please say something rather long, thank you very much.",
            "t": epoch_ms()})  # fmt: skip
    b.wait_message("audio")
    t0 = time.monotonic()
    time.sleep(1.0)  # a blocking cell
    t1 = time.monotonic()
    during = [t for t, _, _ in b.audio() if t0 <= t <= t1]
    assert len(during) >= 10  # ~25 paced deltas per second kept going out


def test_reconnect_keeps_the_transcript(make: Any) -> None:
    w, b = make(server_options={"pace": "burst"}, output_modalities=["text"])
    connect(w, b)
    b.post({"type": "text", "text": "first <turn>", "t": epoch_ms()})
    b.wait_for(lambda: logged(w, "response.done"), 10, "first response")
    b.post({"type": "disconnect", "t": epoch_ms()})
    b.wait_for(lambda: w.status == "disconnected" and w.session.status == "closed", 5, "closed")
    connect(w, b)
    assert len(w.session.history) == 1
    b.post({"type": "text", "text": "second", "t": epoch_ms()})
    b.wait_for(lambda: logged(w, "response.done"), 10, "second response")
    b.wait_for(lambda: sum(r["role"] == "user" for r in w.transcript) == 2, 5, "rows")
    assert [r["text"] for r in w.transcript if r["role"] == "user"] == ["first <turn>", "second"]
    b.wait_for(lambda: "first &lt;turn&gt;" in w.conversation_html, 5, "escaped HTML")


def test_the_api_key_never_reaches_the_browser(make: Any) -> None:
    key = "sk-test-NEVER-SHOWN-0123456789abcdef"
    server = LocalServer(pace="burst")
    url = server.start_in_thread()
    try:
        w, b = make(Session(url, api_key=key, output_modalities=["audio"]))
        connect(w, b)
        b.post({"type": "text", "text": "hello", "t": epoch_ms()})
        b.wait_for(lambda: logged(w, "response.done"), 10, "response")
        time.sleep(0.4)  # the last trait and event batches
        everything = json.dumps([c for _, c, _ in b.received], default=str)
        assert key not in everything
        assert all(key.encode() not in p for _, _, p in b.audio())
        assert key not in json.dumps(w.get_state(), default=str)
        assert key not in repr(w)
        assert key not in json.dumps(w._repr_mimebundle_(), default=str)
        assert key not in w.target
    finally:
        server.stop_thread()


def test_a_replys_first_audio_goes_before_its_display_updates(make: Any) -> None:
    """Audio first (widget/priority.py): the page gets the reply's audio before the
    transcript rows, event list and trait updates of that turn, and none is lost."""
    w, b = make(server_options={"pace": "realtime"})
    connect(w, b)
    assert w._relay is not None
    w._relay.priority.max_hold = 10.0  # the order must not depend on this machine's speed
    start = len(b.received)
    b.post({"type": "text", "text": "Hi there", "t": epoch_ms()})
    b.wait_for(lambda: logged(w, "response.done"), 15, "response.done")
    reply = next(i for i in w.session.conversation.items if i.role == "assistant")
    b.wait_message("transcript", lambda m: m["item_id"] == reply.id and m.get("final"))
    turn = b.received[start:]
    first_audio = next(k for k, (_, c, _) in enumerate(turn) if c["type"] == "audio")
    before = [c["type"] for _, c, _ in turn[:first_audio]]
    assert not {"transcript", "events", "rows"} & set(before), before
    # Nothing held back is lost: both rows, with their final text.
    user = next(i for i in w.session.conversation.items if i.role == "user")
    finals = {m["item_id"]: m["text"] for m in b.messages("transcript") if m.get("final")}
    assert finals[user.id] == "Hi there" and finals[reply.id] == reply.text
    b.wait_for(lambda: len(w.transcript) == 2, 5, "transcript trait")
    assert w._relay.stats["audio_first_holds"] >= 1


def test_a_text_only_reply_is_not_held(make: Any) -> None:
    w, b = make(server_options={"pace": "realtime"}, output_modalities=["text"])
    connect(w, b)
    assert w._relay is not None
    w._relay.priority.max_hold = 10.0
    b.post({"type": "text", "text": "Hi there", "t": epoch_ms()})
    [done] = b.wait_for(lambda: logged(w, "response.done"), 15, "response.done")
    reply = next(i for i in w.session.conversation.items if i.role == "assistant")
    deltas = [
        t
        for t, c, _ in b.received
        if c["type"] == "transcript" and c["item_id"] == reply.id and not c.get("final")
    ]
    assert deltas, "no streamed text"
    # Streamed as it came: the first delta left before the kernel saw response.done
    # (a hold would have kept it until then).
    assert deltas[0] < done.t_kernel
