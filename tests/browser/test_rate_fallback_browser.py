"""The microphone's sample-rate fallback in a real browser: Chromium made to refuse, as
older Firefox did, a MediaStream source on an AudioContext at another rate than the
microphone's.

js/engine.js ``startMic`` builds the capture on a 24 kHz AudioContext. When
``createMediaStreamSource`` throws NotSupportedError it logs "24 kHz AudioContext
refused the microphone; ...", rebuilds at the default rate (``_rebuildAtDefaultRate``:
closes the 24 kHz context, makes a default-rate one and a new player) and builds the
capture again; the capture worklet then resamples native -> 24 kHz and the player
24 kHz -> native. No browser on this machine takes that path by itself (Chromium and
Firefox 153 both accept the 24 kHz context), so an init script (``REFUSE_CROSS_RATE_JS``)
emulates such a browser: ``createMediaStreamSource`` throws Firefox's NotSupportedError
when the context's rate differs from the microphone track's
(``track.getSettings().sampleRate``: Chromium 156 reports it, 44100 for its fake device,
also its default context rate here; if absent, a default context's rate is used).
Everything else is real: Chromium, JupyterLab, the kernel, the bundled local server.

The fake microphone plays a pure 1 kHz tone (a 48 kHz WAV, which Chromium's fake
device resamples to 44.1 kHz), so pitch is checked end to end: the server must receive
1 kHz at 24 kHz, and the echo must come out of the default-rate context at 1 kHz. A
wrong ratio anywhere shifts the pitch (capture 48k->24k on 44.1k input: +8.8 %; no
resampling: -46 %). What the context really outputs is recorded by a second init
script (``RECORD_OUTPUT_JS``): every node connected to an AudioContext's destination is
also connected to a recorder worklet, which keeps the non-silent render quanta (the
player's tap is the 24 kHz stream before the player's resampler, so it cannot see the
output rate).

The notebook has turn detection off (push-to-talk): the tone never stops, so server VAD
would hear one endless utterance. The tests share one connected widget and run in order.
"""

from __future__ import annotations

import base64
import json
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from . import harness
from .audio import dominant_hz
from .scenario import (
    TRACK_AUDIO_JS,
    audio_released,
    audio_state,
    debug_state,
    kernel_array,
    run_setup,
    setup_cell,
    tap_samples,
    typed_reply,
    wait_audio_released,
    wait_connected,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SR = 24000
TONE_HZ = 1000
REFUSED = "24 kHz AudioContext refused the microphone; using the default rate and resampling"
FIREFOX_MESSAGE = (
    "Connecting AudioNodes from AudioContexts with different sample-rate is currently not "
    "supported."
)

# An older Firefox: a MediaStream source only on a context at the microphone's rate.
REFUSE_CROSS_RATE_JS = """
(() => {
    const refused = [];
    globalThis.__refusedSources = refused;
    // the prototype that owns the method (AudioContext's in Chromium), whatever
    // subclass another init script puts in globalThis.AudioContext
    let proto = globalThis.AudioContext && globalThis.AudioContext.prototype;
    while (proto && !Object.prototype.hasOwnProperty.call(proto, "createMediaStreamSource"))
        proto = Object.getPrototypeOf(proto);
    if (!proto) return;
    const NativeAC = globalThis.AudioContext;
    const orig = proto.createMediaStreamSource;
    let defaultRate = null;
    const trackRate = (stream) => {
        const track = stream.getAudioTracks()[0];
        const rate = track && track.getSettings ? track.getSettings().sampleRate : undefined;
        if (rate) return rate;
        if (defaultRate === null) {
            const c = new NativeAC();
            defaultRate = c.sampleRate;
            c.close();
        }
        return defaultRate;
    };
    proto.createMediaStreamSource = function (stream) {
        const rate = trackRate(stream);
        if (this.sampleRate !== rate) {
            refused.push({contextRate: this.sampleRate, trackRate: rate});
            throw new DOMException(MESSAGE, "NotSupportedError");
        }
        return orig.call(this, stream);
    };
})();
""".replace("MESSAGE", json.dumps(FIREFOX_MESSAGE))

# What each AudioContext really renders: a recorder worklet on every node connected to
# a destination keeps the non-silent render quanta ({frame, data}) in __outputs.
RECORD_OUTPUT_JS = """
(() => {
    const outputs = [];
    globalThis.__outputs = outputs;
    const code = `registerProcessor(
        "rtw-test-output-recorder", class extends AudioWorkletProcessor {
        process(inputs) {
            const x = inputs[0] && inputs[0][0];
            if (x) {
                for (let i = 0; i < x.length; i++) {
                    if (x[i] !== 0) {
                        this.port.postMessage({frame: currentFrame, data: x.slice()});
                        break;
                    }
                }
            }
            return true;
        }
    });`;
    const recorders = new Map();
    const recorderFor = (ctx) => {
        if (!recorders.has(ctx)) {
            const rec = {rate: ctx.sampleRate, ctx, blocks: []};
            outputs.push(rec);
            const url = URL.createObjectURL(new Blob([code], {type: "application/javascript"}));
            recorders.set(ctx, ctx.audioWorklet.addModule(url).then(() => {
                const node = new AudioWorkletNode(ctx, "rtw-test-output-recorder", {
                    numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1,
                    channelCountMode: "explicit",
                });
                node.port.onmessage = (e) => rec.blocks.push(e.data);
                return node;
            }));
        }
        return recorders.get(ctx);
    };
    const connect = AudioNode.prototype.connect;
    AudioNode.prototype.connect = function (dest, ...rest) {
        const r = connect.call(this, dest, ...rest);
        if (dest instanceof AudioDestinationNode) {
            recorderFor(this.context).then((node) => connect.call(this, node)).catch(() => {});
        }
        return r;
    };
})();
"""

# The recording of the running context at the default rate: its rate and the non-silent
# quanta concatenated, as PCM16 base64.
OUTPUT_JS = """() => {
    const rec = globalThis.__outputs.filter(r => r.ctx.state === "running").pop();
    if (!rec) return null;
    const n = rec.blocks.reduce((k, b) => k + b.data.length, 0);
    const i16 = new Int16Array(n);
    let at = 0;
    for (const b of rec.blocks) {
        for (let i = 0; i < b.data.length; i++) {
            const v = Math.round(b.data[i] * 32768);
            i16[at++] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
        }
    }
    const u8 = new Uint8Array(i16.buffer);
    let s = "";
    for (let i = 0; i < u8.length; i += 0x8000)
        s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
    return {rate: rec.rate, pcm: btoa(s), blocks: rec.blocks.length};
}"""

CONTEXTS_JS = "() => globalThis.__allAudioContexts.map(c => ({rate: c.sampleRate, state: c.state}))"


def write_tone(path: Path, *, hz: int = TONE_HZ, rate: int = 48000, seconds: int = 3) -> Path:
    """A pure tone at -6 dBFS; a whole number of cycles, so the fake device's loop is seamless."""
    t = np.arange(rate * seconds) / rate
    pcm = np.round(0.5 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def tone_share(x: npt.NDArray[Any], hz: float, rate: int) -> float:
    """Share of the energy within ±10 Hz of ``hz`` (Hann window)."""
    spec = np.abs(np.fft.rfft(x.astype(float) * np.hanning(len(x)))) ** 2
    k = round(hz * len(x) / rate)
    half = max(1, round(10 * len(x) / rate))
    return float(spec[k - half : k + half + 1].sum() / spec.sum())


def assert_tone(x: npt.NDArray[Any], rate: int, what: str) -> float:
    """Two seconds from the middle of ``x`` are the tone: its pitch within 3 %, nearly
    all the energy at that peak. Returns the pitch."""
    assert len(x) >= 2 * rate, f"{what}: only {len(x) / rate:.2f} s of audio"
    mid = len(x) // 2
    part = x[mid - rate : mid + rate]
    rms = float(np.sqrt(np.mean(part.astype(float) ** 2)))
    assert rms > 300, f"{what} is (nearly) silent: rms {rms:.0f}"
    hz = dominant_hz(part, rate)
    assert abs(hz - TONE_HZ) <= 0.03 * TONE_HZ, (
        f"{what} peaks at {hz:.1f} Hz, the microphone plays {TONE_HZ} Hz "
        f"(ratio {hz / TONE_HZ:.3f}: a resampling error?)"
    )
    share = tone_share(part, hz, rate)
    assert share > 0.9, f"{what}: only {share:.2f} of the energy is at {hz:.0f} Hz"
    return hz


def default_rate(nb: harness.NotebookPage) -> int:
    """The rate a context gets when none is asked for (the native class: TRACK_AUDIO_JS
    does not count this context)."""
    return int(
        nb.evaluate(
            "async () => { const C = Object.getPrototypeOf(globalThis.AudioContext); "
            "const c = new C(); const r = c.sampleRate; await c.close(); return r; }"
        )
    )


def recorded_output(nb: harness.NotebookPage) -> tuple[int, npt.NDArray[np.int16]]:
    out = nb.evaluate(OUTPUT_JS)
    assert out is not None, "no running AudioContext has an output recorder"
    pcm = np.frombuffer(base64.b64decode(out["pcm"]), "<i2").astype(np.int16)
    return int(out["rate"]), pcm


@pytest.fixture(scope="module")
def fallback(
    pw: Any, lab: harness.JupyterServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A connected widget (push-to-talk) in a Chromium that refuses cross-rate sources."""
    wav = write_tone(tmp_path_factory.mktemp("tone") / "tone_1k_48k.wav")
    browser = harness.Browser(
        pw, lab, wav=wav, init_scripts=[REFUSE_CROSS_RATE_JS, TRACK_AUDIO_JS, RECORD_OUTPUT_JS]
    )
    try:
        cell = setup_cell(
            turn_detection=None,
            display="out",
            extra="import ipywidgets\nout = ipywidgets.Output()\nwith out:\n    display(w)",
        )
        nb = browser.open_notebook([cell], "rate_fallback.ipynb")
        run_setup(nb)
        assert nb.evaluate("() => globalThis.__allAudioContexts.length") == 0
        nb.click_connect()
        wait_connected(nb)
        yield {"nb": nb, "dir": lab.root}
    finally:
        browser.close()


def test_1_the_24k_context_is_refused_and_the_engine_falls_back(
    fallback: dict[str, Any],
) -> None:
    nb = fallback["nb"]
    rate = default_rate(nb)
    assert rate != SR, f"the default AudioContext rate is {SR}: nothing to fall back to"
    # the emulation refused exactly one source: the one on the 24 kHz context
    refused = nb.evaluate("() => globalThis.__refusedSources")
    assert len(refused) == 1 and refused[0]["contextRate"] == SR, refused
    # the engine said so, and the message reached the kernel's event log
    logs = nb.wait_kernel(
        "[e.payload.get('message') for e in session.log if e.type == 'widget.browser_log']",
        timeout=20,
    )
    assert REFUSED in logs, logs
    state = debug_state(nb)
    capture = state["capture"]
    detail = f"capture={capture} default rate={rate} refused={refused}"
    assert capture["sampleRate"] == rate, detail
    assert capture["resampling"] is True, detail
    # the rate the emulation compared with is the one the track reports
    assert capture["settings"].get("sampleRate") == refused[0]["trackRate"], detail
    # the 24 kHz context is closed; exactly one context runs, at the default rate
    assert state["contexts"] == ["closed", "running"], state["contexts"]
    assert state["sampleRate"] == rate, state
    contexts = harness.poll(
        lambda: (c := nb.evaluate(CONTEXTS_JS)) and c[0]["state"] == "closed" and c,
        timeout=10,
        what="the 24 kHz context closed",
    )
    assert contexts == [{"rate": SR, "state": "closed"}, {"rate": rate, "state": "running"}], (
        contexts
    )
    # the microphone the capture reads is live (the rebuild must not stop it)
    tracks = nb.evaluate(
        "() => globalThis.__allStreams.flatMap(s => s.getTracks().map(t => t.readyState))"
    )
    assert tracks == ["live"], tracks
    assert state["micOn"]
    assert nb.kernel_json("len(session.log.errors())") == 0


def test_2_server_receives_the_tone_at_the_right_pitch(fallback: dict[str, Any]) -> None:
    """Push-to-talk held for 4 s (a real mouse press): the server's input is the tone."""
    nb = fallback["nb"]
    assert nb.kernel_json("w.mode") == "ptt"
    # (a chunk or two captured before the browser knew the mode may already be there)
    before = nb.kernel_json("_rtw_conn().input_samples().size")
    hold = nb.page.locator(".rtw-hold").first
    hold.wait_for(state="visible", timeout=15_000)
    box = hold.bounding_box()
    assert box is not None
    nb.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    nb.page.mouse.down()
    try:
        nb.wait_js(
            "() => document.querySelector('.rtw-hold').getAttribute('aria-pressed') === 'true'",
            timeout=10,
        )
        time.sleep(4.0)  # how long the user talks, not a speed assertion
    finally:
        nb.page.mouse.up()
    nb.wait_kernel("_rtw_done(1)", timeout=40)
    x = kernel_array(nb, "_rtw_conn().input_samples()", fallback["dir"] / "fb_input.npy")
    x = x[before:]
    assert len(x) >= 3 * SR, f"only {len(x) / SR:.2f} s of microphone audio reached the server"
    assert_tone(x, SR, "the server's input audio")


def test_3_the_echo_is_played_exactly_and_at_the_right_pitch(fallback: dict[str, Any]) -> None:
    """The echo of the held tone: every sample sent is played, the tap is the item, and
    what the default-rate context renders is the tone at 1 kHz."""
    nb = fallback["nb"]
    items = nb.wait_kernel("_rtw_items()", timeout=10)
    assert len(items) == 1, items
    (item_id, sent), *_ = items.items()
    assert sent >= 3 * SR, items
    harness.poll(
        lambda: debug_state(nb)["played"].get(item_id, 0) >= sent,
        timeout=30,
        what=f"the browser played every sample sent: {items}",
    )
    played = debug_state(nb)["played"]
    assert played == items, f"played {played}, sent {items}"
    echo = kernel_array(nb, f"_rtw_item_audio({item_id!r})", fallback["dir"] / "fb_echo.npy")
    assert len(echo) == sent
    tap = tap_samples(nb)
    assert len(tap) == sent
    corr = float(np.corrcoef(tap.astype(float), echo.astype(float))[0, 1])
    assert corr > 0.99, f"played audio vs item {item_id}: correlation {corr:.4f}"
    assert_tone(tap, SR, "the echo as the player took it (24 kHz)")
    # what the context rendered: the tone resampled to its rate, as long as the item
    rate = debug_state(nb)["sampleRate"]
    want = sent * rate / SR
    out_rate, out = harness.poll(
        lambda: (r := recorded_output(nb)) and len(r[1]) >= 0.98 * want and r,
        timeout=15,
        what=f"the recorder got the echo ({want:.0f} frames at {rate} Hz)",
    )
    assert out_rate == rate
    nz = np.flatnonzero(out)
    out = out[nz[0] : nz[-1] + 1]
    assert abs(len(out) - want) <= 0.02 * want, (
        f"the context rendered {len(out)} frames for {sent} samples at 24 kHz "
        f"(expected {want:.0f} at {rate} Hz)"
    )
    assert_tone(out, rate, f"the echo as the context rendered it ({rate} Hz)")


def test_4_typed_text_gets_a_reply_that_is_played_exactly(fallback: dict[str, Any]) -> None:
    nb = fallback["nb"]
    done = nb.kernel_json("_rtw_count('response.done')")
    box = nb.page.locator(".rtw-text").first
    box.click()
    box.fill("Hi")
    box.press("Enter")
    nb.wait_kernel(f"_rtw_done({done + 1})", timeout=40)
    user_texts = nb.kernel_json(
        "[c.get('text') for e in _rtw_conn().received('conversation.item.create') "
        "for c in e.get('item', {}).get('content', [])]"
    )
    assert "Hi" in user_texts, user_texts
    items = nb.wait_kernel("len(_rtw_items()) == 2 and _rtw_items()", timeout=10)
    assert list(items.values())[-1] > SR // 10, items
    harness.poll(
        lambda: all(debug_state(nb)["played"].get(i, 0) >= n for i, n in items.items()),
        timeout=30,
        what=f"the browser played every sample sent: {items}",
    )
    played = debug_state(nb)["played"]
    assert played == items, f"played {played}, sent {items}"
    # the tap holds every played sample in order: the echo, then this reply
    tap = tap_samples(nb)
    assert len(tap) == sum(items.values())
    start = 0
    for n, (iid, count) in enumerate(items.items()):
        audio = kernel_array(nb, f"_rtw_item_audio({iid!r})", fallback["dir"] / f"fb_{n}.npy")
        assert len(audio) == count
        got = tap[start : start + count].astype(float)
        corr = float(np.corrcoef(got, audio.astype(float))[0, 1])
        assert corr > 0.99, f"played audio vs item {iid}: correlation {corr:.4f}"
        start += count


def test_5_removing_the_view_closes_every_audio_context(fallback: dict[str, Any]) -> None:
    nb = fallback["nb"]
    before = audio_state(nb)
    assert before["all"] == ["closed", "running"] and before["tracks"] == ["live"], before
    nb.kernel_exec("out.clear_output()")
    nb.page.locator(".rtw-root").first.wait_for(state="detached", timeout=30_000)
    wait_audio_released(nb, "after the view was removed")
    # the session is still connected: a reply now must not bring audio back
    typed_reply(nb, "Still there?")
    assert audio_released(nb), audio_state(nb)
