# ruff: noqa: E501  (JavaScript inside strings)
"""Smoke test of the built bundle in headless Debian Chromium, without Jupyter.

    python js/tests/smoke_chromium.py [--rate native] [--shots DIR]

Serves a page on 127.0.0.1 that loads realtime_widget/static/widget.js with a
tiny fake anywidget model, clicks Connect (a real click: the user gesture),
then checks: the worklets load, the mic produces 24 kHz chunks (fake device
playing a 440 Hz WAV), model audio plays and the played counters advance, a
`stop` is answered with the exact count, and removing the view closes the
AudioContext and stops the tracks. `--rate native` forces the default-rate
context (worklet resampling both ways). Not part of pytest or node --test: the
JupyterLab browser tests live in tests/browser/.
"""

from __future__ import annotations

import argparse
import http.server
import json
import sys
import tempfile
import threading
import wave
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.browser.harness import chromium_args  # noqa: E402  (the suite's launch flags)

BUNDLE = ROOT / "realtime_widget" / "static" / "widget.js"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>rtw smoke</title>
<style>
  body { margin: 16px; font-family: sans-serif; }
  .dark { --jp-layout-color1: #111; --jp-layout-color2: #2a2a2a; --jp-ui-font-color1: #eee;
          --jp-ui-font-color2: #aaa; --jp-border-color1: #555; --jp-brand-color1: #42a5f5;
          background: #111; padding: 8px; }
</style></head>
<body><div id="host"></div><div id="host2" class="dark"></div>
<script type="module">
  globalThis.__REALTIME_WIDGET_DEBUG__ = true;
  if (FORCE_NATIVE) {
    const AC = globalThis.AudioContext;
    globalThis.AudioContext = class extends AC {
      constructor(opts = {}) {
        if (opts.sampleRate) throw new DOMException("no 24k here", "NotSupportedError");
        super(opts);
      }
    };
  }
  class FakeModel {
    constructor(state) { this.state = state; this.handlers = new Map(); this.sent = []; }
    get(k) { return this.state[k]; }
    set(k, v) { this.state[k] = v; this.emit("change:" + k); }
    save_changes() {}
    send(content, _cb, buffers) {
      this.sent.push({ content, nbytes: (buffers || []).reduce((n, b) => n + b.byteLength, 0) });
    }
    on(name, fn) { if (!this.handlers.has(name)) this.handlers.set(name, new Set()); this.handlers.get(name).add(fn); }
    off(name, fn) { this.handlers.get(name)?.delete(fn); }
    emit(name, ...args) { for (const fn of [...(this.handlers.get(name) || [])]) fn(...args); }
  }
  const model = new FakeModel({
    status: "disconnected", target: "smoke test", mode: "vad", muted: false, volume: 0.8,
    echo_cancellation: false, noise_suppression: false, auto_gain_control: false,
    chunk_ms: 20, jitter_ms: 100, last_error: "", mic_status: "off", mic_message: "",
    transcript: [
      { item_id: "u1", role: "user", text: "Hello there, how are you?", unheard: "", status: "completed" },
      { item_id: "a1", role: "assistant", text: "I am fine, thanks for asking, ", unheard: "and you?",
        status: "interrupted" },
    ],
    conversation_html: "",
  });
  const mod = await import("/widget.js");
  const w = mod.default;
  const initCleanup = w.initialize({ model });
  const cleanups = [w.render({ model, el: document.getElementById("host") }),
                    w.render({ model, el: document.getElementById("host2") })];
  globalThis.smoke = { model, initCleanup, cleanups };
  globalThis.smokeReady = true;
</script></body></html>
"""


def write_wav(path: Path, rate: int = 48000, seconds: float = 3.0, f: float = 440.0) -> None:
    t = np.arange(int(rate * seconds)) / rate
    x = (0.5 * np.sin(2 * np.pi * f * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.tobytes())


def serve(page: str) -> tuple[http.server.ThreadingHTTPServer, int]:
    class H(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/":
                body, ctype = page.encode(), "text/html"
            elif self.path == "/favicon.ico":
                self.send_response(204)
                self.end_headers()
                return
            elif self.path == "/widget.js":
                body, ctype = BUNDLE.read_bytes(), "text/javascript"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", choices=["24k", "native"], default="24k")
    ap.add_argument("--shots", type=Path, default=None)
    args = ap.parse_args()
    native = args.rate == "native"
    tmp = Path(tempfile.mkdtemp(prefix="rtw-smoke-"))
    wav = tmp / "tone.wav"
    write_wav(wav)
    page = PAGE.replace("FORCE_NATIVE", "true" if native else "false")
    srv, port = serve(page)
    failures: list[str] = []

    def check(cond: bool, what: str) -> None:
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=chromium_args(wav=wav),
        )
        pg = browser.new_page(viewport={"width": 1000, "height": 900})
        logs: list[str] = []
        pg.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
        pg.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
        pg.goto(f"http://127.0.0.1:{port}/")
        pg.wait_for_function("globalThis.smokeReady === true", timeout=10000)
        hello = pg.evaluate("smoke.model.sent.map(s => s.content).find(c => c.type === 'hello')")
        check(hello is not None and hello["secure"] is True, f"hello sent: {hello}")
        if args.shots:
            args.shots.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(args.shots / f"before-{args.rate}.png"), full_page=True)

        # model audio before any Connect (kernel connected from Python): the page has
        # had a gesture (Playwright's calls count as one), so a playback-only engine starts
        pg.evaluate(
            """() => { const a = new Int16Array(4800).fill(1000);
              smoke.model.emit('msg:custom', { type: 'audio', item_id: 'P0', response_id: 'r0', offset: 0 }, [new DataView(a.buffer)]); }"""
        )
        pg.wait_for_function(
            "smoke.model.sent.some(s => s.content.type === 'playback' && s.content.event === 'drained')",
            timeout=10000,
        )
        pre = pg.evaluate("__realtimeWidgets.at(-1).counters.played.P0")
        check(pre == 4800, f"playback-only engine played {pre} of 4800 (no Connect click)")
        pg.evaluate("smoke.model.sent.length = 0")
        tap0 = pg.evaluate("__realtimeWidgets.at(-1).tapSamples().length")

        pg.click("#host .rtw-connect")
        pg.wait_for_function(
            "smoke.model.sent.some(s => s.content.type === 'connect')", timeout=10000
        )
        connect = pg.evaluate(
            "smoke.model.sent.map(s => s.content).find(c => c.type === 'connect')"
        )
        check(True, f"connect sent: {connect}")
        pg.wait_for_function(
            "smoke.model.sent.filter(s => s.content.type === 'mic').length >= 50", timeout=10000
        )
        state = pg.evaluate(
            """() => { const r = __realtimeWidgets.at(-1); return {
                rate: r.contexts.at(-1).sampleRate, states: r.contexts.map(c => c.state),
                capture: r.capture, counters: r.counters,
                mic: smoke.model.get('mic_status') }; }"""
        )
        check(
            state["rate"] == (24000 if not native else state["rate"]) and state["rate"] > 0,
            f"context rate {state['rate']}",
        )
        check(state["capture"]["resampling"] is native, f"capture {state['capture']}")
        check(state["mic"] == "on", f"mic_status {state['mic']}")
        mics = pg.evaluate(
            "smoke.model.sent.filter(s => s.content.type === 'mic').map(s => [s.content.seq, s.content.t, s.content.n, s.nbytes])"
        )
        seqs = [m[0] for m in mics]
        check(seqs == list(range(len(seqs))), "mic seq 0, 1, 2, ...")
        check(
            all(m[2] == 480 and m[3] == 960 for m in mics), "20 ms chunks: 480 samples, 960 bytes"
        )
        ts = np.diff([m[1] for m in mics])
        check(
            abs(float(np.median(ts)) - 20.0) < 0.5, f"chunk t steps, median {np.median(ts):.3f} ms"
        )
        check(bool(np.all(ts > 0)), f"chunk t strictly increasing (min step {ts.min():.3f} ms)")
        # the audio: grab chunks through a tap on send and look for 440 Hz at 24 kHz
        pcm = pg.evaluate(
            """async () => {
              const got = [];
              const orig = smoke.model.send.bind(smoke.model);
              smoke.model.send = (c, cb, b) => { if (c.type === 'mic') got.push(Array.from(new Int16Array(b[0]))); orig(c, cb, b); };
              while (got.length < 50) await new Promise(r => setTimeout(r, 50));
              smoke.model.send = orig;
              return got.flat();
            }"""
        )
        x = np.asarray(pcm, dtype=np.float64) / 32768
        spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        peak_hz = np.argmax(spec) * 24000 / len(x)
        check(abs(peak_hz - 440) < 5, f"captured tone at {peak_hz:.1f} Hz (24 kHz stream)")
        check(0.3 < np.max(np.abs(x)) < 0.7, f"captured amplitude {np.max(np.abs(x)):.3f}")

        # playback: 1 s of a 300 Hz tone as 20 x 50 ms messages, then more for a stop test
        pg.evaluate(
            """() => {
              const sine = (n, f, off) => { const a = new Int16Array(n);
                for (let i = 0; i < n; i++) a[i] = Math.round(12000 * Math.sin(2 * Math.PI * f * (i + off) / 24000)); return a; };
              for (let k = 0; k < 20; k++) {
                const a = sine(1200, 300, k * 1200);
                smoke.model.emit('msg:custom', { type: 'audio', item_id: 'A', response_id: 'r1', offset: k * 1200 }, [new DataView(a.buffer)]);
              }
            }"""
        )
        pg.wait_for_function(
            "smoke.model.sent.some(s => s.content.type === 'playback' && s.content.event === 'drained')",
            timeout=10000,
        )
        pb = pg.evaluate(
            "smoke.model.sent.map(s => s.content).filter(c => c.type === 'playback' || c.type === 'progress')"
        )
        events = [(c["event"], c["item_id"], c["played"]) for c in pb if c["type"] == "playback"]
        check(
            events == [("started", "A", 0), ("stopped", "A", 24000), ("drained", "A", 24000)],
            f"playback events {events}",
        )
        prog = [c for c in pb if c["type"] == "progress"]
        check(len(prog) >= 5 and prog[-1]["played"] == 24000, f"{len(prog)} progress reports")
        started = next(c for c in pb if c["type"] == "playback" and c["event"] == "started")
        first_send = pg.evaluate("performance.timeOrigin")  # sanity: epoch ms
        check(started["t"] > first_send, "started t is epoch ms")
        tap = np.asarray(pg.evaluate("Array.from(__realtimeWidgets.at(-1).tapSamples())"))[tap0:]
        ref = np.round(12000 * np.sin(2 * np.pi * 300 * np.arange(24000) / 24000)) / 32768
        check(
            len(tap) == 24000 and float(np.max(np.abs(tap - ref))) < 1e-6,
            f"tap = source ({len(tap)})",
        )
        # stop mid-item: 3 s queued, stop after ~0.5 s of playback
        pg.evaluate(
            """() => { const a = new Int16Array(72000).fill(3000);
              smoke.model.emit('msg:custom', { type: 'audio', item_id: 'B', response_id: 'r2', offset: 0 }, [new DataView(a.buffer)]); }"""
        )
        pg.wait_for_function(
            "(__realtimeWidgets.at(-1).counters.played.B || 0) > 6000", timeout=10000
        )
        pg.evaluate(
            "smoke.model.emit('msg:custom', { type: 'stop', stop_id: 's1', reason: 'speech_started', item_id: 'B' }, [])"
        )
        pg.wait_for_function(
            "smoke.model.sent.some(s => s.content.type === 'interrupted')", timeout=5000
        )
        pg.wait_for_timeout(300)
        intr = pg.evaluate(
            "smoke.model.sent.map(s => s.content).find(c => c.type === 'interrupted')"
        )
        rec = pg.evaluate("__realtimeWidgets.at(-1).stops[0]")
        tapn = pg.evaluate("__realtimeWidgets.at(-1).tapSamples().length")
        check(
            intr["item_id"] == "B" and intr["stop_id"] == "s1" and 0 < intr["played"] < 72000,
            f"interrupted {intr}",
        )
        check(tapn == tap0 + 24000 + intr["played"], f"tap length {tapn} = {tap0} + 24000 + played")
        check(
            rec["silence"] - rec["received"] < 100,
            f"silence {rec['silence'] - rec['received']:.1f} ms after stop",
        )
        late = pg.evaluate(
            """() => { const a = new Int16Array(2400);
              smoke.model.emit('msg:custom', { type: 'audio', item_id: 'B', response_id: 'r2', offset: 72000 }, [new DataView(a.buffer)]);
              return new Promise(r => setTimeout(() => r(__realtimeWidgets.at(-1).counters.dropped), 200)); }"""
        )
        check(late == 2400, f"late audio of the stopped item dropped ({late})")
        # idle stop: answered with item_id null
        pg.evaluate(
            "smoke.model.emit('msg:custom', { type: 'stop', stop_id: 's2', reason: 'cancel', item_id: null }, [])"
        )
        pg.wait_for_function(
            "smoke.model.sent.filter(s => s.content.type === 'interrupted').length >= 2",
            timeout=5000,
        )
        intr2 = pg.evaluate(
            "smoke.model.sent.map(s => s.content).filter(c => c.type === 'interrupted')[1]"
        )
        check(intr2["item_id"] is None and intr2["stop_id"] == "s2", f"idle stop {intr2}")

        # push-to-talk with the space bar (focus inside the widget), muted, text input
        pg.click("#host .rtw-seg:nth-child(2)")
        n0 = pg.evaluate("smoke.model.sent.filter(s => s.content.type === 'mic').length")
        pg.wait_for_timeout(300)
        n1 = pg.evaluate("smoke.model.sent.filter(s => s.content.type === 'mic').length")
        check(n1 == n0, "ptt mode: nothing sent while not held")
        pg.focus("#host .rtw-root")
        pg.keyboard.down(" ")
        pg.wait_for_timeout(300)
        pg.keyboard.up(" ")
        pg.wait_for_timeout(100)
        seq_msgs = pg.evaluate(
            "smoke.model.sent.map(s => s.content).filter(c => c.type === 'mic' || c.type === 'ptt').map(c => [c.type, c.action || null, c.seq])"
        )
        tail = seq_msgs[n0:]
        check(
            tail[0][:2] == ["ptt", "down"] and tail[-1][:2] == ["ptt", "up"] and len(tail) > 5,
            f"ptt: {len(tail)} msgs",
        )
        check(
            [m[2] for m in seq_msgs] == list(range(len(seq_msgs))), "ptt shares the mic seq counter"
        )
        pg.fill("#host .rtw-text", "hello from the smoke test")
        pg.press("#host .rtw-text", "Enter")
        txt = pg.evaluate("smoke.model.sent.map(s => s.content).filter(c => c.type === 'text')")
        check(len(txt) == 1 and txt[0]["text"] == "hello from the smoke test", "text message")
        # live transcript + events + status
        pg.evaluate(
            """() => { const m = smoke.model;
              m.emit('msg:custom', {type: 'transcript', item_id: 'u2', role: 'user', delta: 'What is the ', final: false}, []);
              m.emit('msg:custom', {type: 'transcript', item_id: 'u2', role: 'user', delta: 'weather?', final: true}, []);
              m.emit('msg:custom', {type: 'transcript', item_id: 'a2', role: 'assistant', delta: 'It is sunny and warm today.', final: false}, []);
              m.emit('msg:custom', {type: 'transcript', item_id: 'a2', role: 'assistant', text: 'It is sunny and ', unheard: 'warm today.', final: true}, []);
              m.emit('msg:custom', {type: 'events', events: [
                {t: Date.now(), dir: 'in', type: 'session.created', summary: 'gpt-realtime'},
                {t: Date.now(), dir: 'out', type: 'input_audio_buffer.append', summary: '20 ms'}]}, []);
              m.set('status', 'model_speaking'); m.set('last_error', 'example error: rate limited');
            }"""
        )
        rows = pg.evaluate(
            "Array.from(document.querySelectorAll('#host .rtw-row')).map(r => r.textContent)"
        )
        check(len(rows) == 4 and "weather?" in rows[2], f"transcript rows {rows}")
        unheard = pg.evaluate(
            "Array.from(document.querySelectorAll('#host .rtw-unheard')).map(s => s.textContent)"
        )
        check(unheard == ["and you?", "warm today."], f"unheard struck out {unheard}")
        pill = pg.text_content("#host .rtw-pill")
        check(pill == "model speaking", f"pill {pill}")
        pg.click("#host .rtw-events-box summary")
        if args.shots:
            pg.screenshot(path=str(args.shots / f"connected-{args.rate}.png"), full_page=True)

        # remove one view: audio stays; remove the last: context closed, tracks stopped
        pg.evaluate("smoke.cleanups[1]()")
        st = pg.evaluate("__realtimeWidgets.at(-1).contexts.map(c => c.state)")
        check(st[-1] == "running", f"one view left: context {st}")
        pg.evaluate("smoke.cleanups[0]()")
        pg.wait_for_timeout(200)
        st = pg.evaluate(
            """() => { const r = __realtimeWidgets.at(-1); return {
                ctx: r.contexts.map(c => c.state), stream: r.engine.stream, mic: smoke.model.get('mic_status') }; }"""
        )
        check(
            all(s == "closed" for s in st["ctx"]) and st["stream"] is None, f"last view gone: {st}"
        )
        pg.evaluate("smoke.initCleanup()")
        errors = [line for line in logs if line.startswith(("error", "pageerror"))]
        check(not errors, f"console errors: {errors}")
        browser.close()
    srv.shutdown()
    print(json.dumps({"rate": args.rate, "failures": len(failures)}))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
