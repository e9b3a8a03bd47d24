"""Notebook cells, kernel-side helpers and page-side probes shared by the browser tests
and ``bench/bench_browser.py``.

The notebook is what a user would write: a local server, a Session, the widget.
The helpers (``_rtw_*``) are defined in the kernel by :func:`install_helpers` through
``kernel_exec``; they read the local server's :class:`ConnectionRecord` and the
session's event log and write arrays to files for the test process to load.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .harness import NotebookPage, poll


def setup_cell(
    *,
    pace: str = "realtime",
    processing: bool = False,
    turn_detection: str | None = "server_vad",
    silence_ms: int = 500,
    display: str = "w",
    extra: str = "",
    server_url: str | None = None,
    engines: str | None = None,
) -> str:
    """The notebook's setup cell: local server, Session, RealtimeWidget (displayed).

    With ``server_url`` the kernel connects to a server running elsewhere (the
    benchmark's own process) and starts none.
    """
    td = (
        f"turn_detection={turn_detection!r}, silence_duration_ms={silence_ms}, "
        if turn_detection
        else "turn_detection=None, "
    )
    proc = (
        ""
        if processing
        else ("echo_cancellation=False, noise_suppression=False, auto_gain_control=False")
    )
    server = (
        f"srv = None\nurl = {server_url!r}\n"
        if server_url
        else (
            f"srv = LocalServer(pace={pace!r}"
            + (f", engines={engines!r}" if engines else "")
            + ")\nurl = srv.start_in_thread()\n"
        )
    )
    return (
        "from realtime_widget.server import LocalServer\n"
        "from realtime_widget import Session, RealtimeWidget\n"
        f"{server}"
        f"session = Session(url, {td}transcription='whisper-1')\n"
        f"w = RealtimeWidget(session, {proc})\n"
        f"{extra}\n"
        f"{display}\n"
    )


KERNEL_HELPERS = r'''
import base64 as _rtw_b64, json as _rtw_json
import numpy as _rtw_np

def _rtw_conn():
    return srv.last_connection()

def _rtw_item_audio(item_id):
    """PCM16 the server sent for one item (all its output_audio deltas, in order)."""
    parts = [_rtw_b64.b64decode(e["delta"]) for e in _rtw_conn().sent("response.output_audio.delta")
             if e.get("item_id") == item_id]
    return _rtw_np.frombuffer(b"".join(parts), "<i2").astype(_rtw_np.int16)

def _rtw_items():
    """Assistant audio items the server sent: {item_id: samples} in order."""
    out = {}
    for e in _rtw_conn().sent("response.output_audio.delta"):
        out[e["item_id"]] = out.get(e["item_id"], 0) + len(_rtw_b64.b64decode(e["delta"])) // 2
    return out

def _rtw_types(direction=None):
    return [e.type for e in session.log if direction is None or e.direction == direction]

def _rtw_count(t):
    return sum(1 for e in session.log if e.type == t)

def _rtw_appends():
    """(t_kernel_wall, t_browser, n_samples) of every append the session sent."""
    out = []
    for e in session.log.filter("input_audio_buffer.append"):
        out.append((e.t_wall, e.t_browser, (e.audio_ms or 0) * 24))
    return out

def _rtw_done(n=1):
    return _rtw_count("response.done") >= n
'''


def install_helpers(nb: NotebookPage) -> None:
    nb.kernel_exec(KERNEL_HELPERS)


# -- page side (the debug hook: js/engine.js DebugRecord) ------------------------------

DEBUG_STATE_JS = """() => {
    const recs = globalThis.__realtimeWidgets || [];
    const r = recs[recs.length - 1];
    if (!r) return null;
    const c = r.counters;
    return {
        engines: recs.length,
        chunksCaptured: c.chunksCaptured, chunksSent: c.chunksSent, samplesSent: c.samplesSent,
        audioReceived: c.audioReceived, samplesReceived: c.samplesReceived,
        underruns: c.underruns, dropped: c.dropped,
        played: Object.assign({}, c.played),
        stops: r.stops.map(s => Object.assign({}, s)),
        capture: r.capture,
        contexts: r.contexts.map(x => x.state),
        sampleRate: r.contexts.length ? r.contexts[r.contexts.length - 1].sampleRate : null,
        tapLength: r.tap.reduce((n, a) => n + a.length, 0),
        micOn: !!(r.engine && r.engine.micOn),
        now: performance.timeOrigin + performance.now(),
    };
}"""

TAP_JS = """() => {
    const recs = globalThis.__realtimeWidgets || [];
    const r = recs[recs.length - 1];
    const f = r.tapSamples();
    const i16 = new Int16Array(f.length);
    for (let i = 0; i < f.length; i++) {
        const v = Math.round(f[i] * 32768);
        i16[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    const u8 = new Uint8Array(i16.buffer);
    let s = '';
    for (let i = 0; i < u8.length; i += 0x8000)
        s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
    return btoa(s);
}"""


# Every AudioContext and getUserMedia stream the page makes (an init script), so a test
# can check that removing a view closes and stops all of them.
TRACK_AUDIO_JS = """
(() => {
    const all = [];
    const streams = [];
    globalThis.__allAudioContexts = all;
    globalThis.__allStreams = streams;
    const AC = globalThis.AudioContext;
    if (AC) {
        globalThis.AudioContext = class extends AC {
            constructor(...args) { super(...args); all.push(this); }
        };
    }
    const md = navigator.mediaDevices;
    if (md && md.getUserMedia) {
        const orig = md.getUserMedia.bind(md);
        md.getUserMedia = async (c) => { const s = await orig(c); streams.push(s); return s; };
    }
})();
"""


# What TRACK_AUDIO_JS saw, the widget's own contexts (debug hook), and the views left.
AUDIO_STATE_JS = """() => ({
    all: (globalThis.__allAudioContexts || []).map(c => c.state),
    dbg: (globalThis.__realtimeWidgets || []).flatMap(r => r.contexts.map(c => c.state)),
    tracks: (globalThis.__allStreams || []).flatMap(
        s => s.getTracks().map(t => t.readyState)),
    views: document.querySelectorAll('.rtw-root').length,
})"""


def audio_state(nb: NotebookPage) -> dict[str, Any]:
    """Every AudioContext's and microphone track's state, and how many views there are."""
    return dict(nb.evaluate(AUDIO_STATE_JS))


def audio_released(nb: NotebookPage) -> dict[str, Any] | None:
    """The state if no view is left, at least one AudioContext was made and all are
    closed (the widget's own too), and every track has ended; else None."""
    st = audio_state(nb)
    ok = (
        st["views"] == 0
        and bool(st["all"])
        and all(x == "closed" for x in st["all"] + st["dbg"])
        and all(x == "ended" for x in st["tracks"])
    )
    return st if ok else None


def wait_audio_released(nb: NotebookPage, when: str) -> dict[str, Any]:
    """Wait (20 s) until :func:`audio_released`; the state, or an AssertionError with it."""
    try:
        return dict(poll(lambda: audio_released(nb), timeout=20, what="audio released"))
    except TimeoutError:
        raise AssertionError(f"audio not released {when}: {audio_state(nb)}") from None


def assert_vad_turn(nb: NotebookPage) -> None:
    """The session's log has a complete server-VAD turn and a response, and no error."""
    counts = nb.kernel_json("dict(session.event_counts())")
    for t in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "response.done",
    ):
        assert counts.get(f"server:{t}", 0) >= 1, f"no {t} in the session log: {counts}"
    assert nb.kernel_json("len(session.log.errors())") == 0


def run_setup(nb: NotebookPage, *, timeout: float = 60.0) -> None:
    """Run every cell, fail with the tracebacks if any cell failed, install the helpers."""
    nb.run_all(timeout=timeout)
    errors = nb.cell_errors()
    assert not errors, "\n".join(errors)
    install_helpers(nb)


def wait_connected(nb: NotebookPage, *, timeout: float = 30.0) -> None:
    """After a click on Connect: the session is connected and the microphone is on."""
    nb.wait_kernel("session.status == 'connected'", timeout=timeout)
    nb.wait_kernel("w.mic_status == 'on'", timeout=30)


def typed_reply(nb: NotebookPage, text: str = "Are you still there?") -> None:
    """Have the kernel's session send a typed message and ask for a reply (no widget
    involved: used after the view is gone) and wait until that reply is done."""
    n_done = nb.kernel_json("_rtw_count('response.done')")
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    nb.kernel_exec(
        f"session.send({{'type': 'conversation.item.create', 'item': {item!r}}})\n"
        "session.send({'type': 'response.create'})"
    )
    nb.wait_kernel(f"_rtw_done({n_done + 1})", timeout=40)


def debug_state(nb: NotebookPage) -> dict[str, Any]:
    state = nb.evaluate(DEBUG_STATE_JS)
    if state is None:
        raise AssertionError(
            "no debug record in globalThis.__realtimeWidgets: is the widget's debug hook on?"
        )
    return dict(state)


def tap_samples(nb: NotebookPage) -> npt.NDArray[np.int16]:
    raw = base64.b64decode(nb.evaluate(TAP_JS))
    return np.frombuffer(raw, "<i2").astype(np.int16)


def kernel_array(nb: NotebookPage, expr: str, path: Path) -> npt.NDArray[Any]:
    """Evaluate an array expression in the kernel, save it to ``path``, load it here."""
    nb.kernel_exec(f"_rtw_np.save({str(path)!r}, _rtw_np.asarray({expr}))")
    return np.load(path)


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
