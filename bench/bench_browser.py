"""Real-browser latency figures for the widget, in one run (a script that prints; not a test).

Headless Debian Chromium (Playwright) with the fake microphone looping a spoken WAV,
a real JupyterLab, the kernel relaying to the bundled local server (pace "realtime").

1. microphone chunk capture (the browser's chunk ``t``: AudioContext clock → epoch, end
   of the chunk's last sample) → arrival at the local server, and at the kernel;
2. server audio-delta send → first sample played in the browser (per response; the
   player's 100 ms start threshold included), and delta send → browser receipt;
3. comm round trip (``ping``/``pong``) with and without the realtime_widget server
   extension (TCP_NODELAY on the kernel websocket): two Lab servers;
4. the same paths over a DIRECT browser ↔ local-server WebSocket (no Jupyter): a
   static page on 127.0.0.1 with a minimal inline capture worklet (24 kHz context,
   480-sample chunks, same ``t`` mapping as js/engine.js) sending base64 JSON appends,
   and a minimal player worklet with the same 100 ms start rule;
5. barge-in: ``speech_started`` at the kernel (session log, kernel clock → wall) → the
   browser's first silent frame (the widget's debug hook).

The local server's record has no timestamps, so this script wraps two of its classes
*in the benchmark's processes only* (``ConnectionHandler.handle_frame``: receive time of
each client frame; ``_Outbox``: send time of each audio delta). All clocks are one
host's wall clock. Run: ``python bench/bench_browser.py`` (~12 min on 2 cores: per path
at least 40 s and 100 replies, so a p99 of the first-played figure rests on 100 values).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import audio, harness  # noqa: E402
from tests.browser.scenario import install_helpers, setup_cell  # noqa: E402

# -- server instrumentation (exec'd in the kernel, and in this process for the baseline) --

INSTRUMENT = r"""
import time as _bt, collections as _bc
from realtime_widget.server import app as _bapp, handler as _bh
BENCH_RECV = []   # (wall s, type) of every client frame, when the server read it
BENCH_SENT = []   # (wall s, item_id, samples) of every audio delta, when ws.send returned
if not getattr(_bh.ConnectionHandler.handle_frame, "_bench", False):
    _orig_hf = _bh.ConnectionHandler.handle_frame
    def _hf(self, message, _orig=_orig_hf):
        t = _bt.time()
        ev = _orig(self, message)
        if ev is not None:
            BENCH_RECV.append((t, ev.get("type")))
        return ev
    _hf._bench = True
    _bh.ConnectionHandler.handle_frame = _hf

    class _TimedOutbox(_bapp._Outbox):
        def __init__(self, ws, on_sent):
            meta = _bc.deque()
            self._bench_meta = meta
            def sent(type_):
                m = meta.popleft() if meta else None
                if type_ == "response.output_audio.delta" and m is not None:
                    BENCH_SENT.append((_bt.time(), m[0], m[1]))
                on_sent(type_)
            super().__init__(ws, sent)
        def put(self, event):
            if self.closed:
                return
            d = event.get("delta") if event.get("type") == "response.output_audio.delta" else None
            n = 0
            if d:
                pad = 2 if d.endswith("==") else 1 if d.endswith("=") else 0
                n = (len(d) * 3 // 4 - pad) // 2
            self._bench_meta.append((event.get("item_id"), n))
            super().put(event)
        def halt(self):
            self._bench_meta.clear()
            super().halt()
    _bapp._Outbox = _TimedOutbox
"""

# The local server in its own process (like a remote server: it shares no GIL or core
# budget with the kernel beyond the machine's 2 cores), instrumented; prints its URL,
# serves until stdin closes, then prints the timestamps as JSON.
SERVER_SCRIPT = (
    INSTRUMENT
    + r"""
import json, sys
from realtime_widget.server import LocalServer
# the echo engines: the offline speech models (Whisper, Piper) would add their CPU to
# the 2 cores these latency figures share; the figures are about the relay
srv = LocalServer(pace="realtime", record=False, engines="echo")
print(srv.start_in_thread(), flush=True)
sys.stdin.read()
srv.stop_thread()
print(json.dumps({"recv": BENCH_RECV, "sent": BENCH_SENT}), flush=True)
"""
)


class ServerProcess:
    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("ws://"):
            raise RuntimeError(f"local server did not start: {self.url!r}")
        return self

    def finish(self) -> dict[str, Any]:
        """Stop the server; its receive/send timestamps."""
        out, _ = self.proc.communicate(timeout=60)
        return dict(json.loads(out.strip().splitlines()[-1]))

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


# Kernel-side taps (bench only): when each mic message reached the widget's comm handler
# (and on which thread), and when each audio message was handed to widget.send.
KERNEL_TAPS = r"""
import threading as _bth, time as _btm
BENCH_MIC_ARRIVAL = []   # (wall s, browser t ms, thread name)
BENCH_AUDIO_SEND = []    # (wall s, item_id, offset)
_b_submit = w._relay.submit
def _b_sub(content, buffers, _o=_b_submit):
    if isinstance(content, dict) and content.get("type") == "mic":
        BENCH_MIC_ARRIVAL.append((_btm.time(), content.get("t"), _bth.current_thread().name))
    _o(content, buffers)
w._relay.submit = _b_sub
_b_send = w._relay._send
def _b_snd(content, buffers, _o=_b_send):
    if content.get("type") == "audio":
        BENCH_AUDIO_SEND.append((_btm.time(), content.get("item_id"), content.get("offset")))
    _o(content, buffers)
w._relay._send = _b_snd
"""

# Page side of the Jupyter path: audio arrival times (wraps the hub's message handler).
PATCH_ARRIVALS_JS = """() => {
    const r = (globalThis.__realtimeWidgets || []).at(-1);
    const h = r.hub;
    if (h.__bench) return;
    h.__bench = true;
    r.bench = {arrivals: [], done: 0};
    const orig = h.onCustom.bind(h);
    h.onCustom = (m, b) => {
        if (m && m.type === 'audio' && b && b[0])
            r.bench.arrivals.push([performance.timeOrigin + performance.now(), m.item_id,
                                   m.offset || 0, b[0].byteLength >> 1]);
        // responses done, from the kernel's event list (rows collapse runs of one type)
        if (m && m.type === 'events' && Array.isArray(m.events))
            for (const e of m.events) if (e.type === 'response.done') r.bench.done += 1;
        return orig(m, b);
    };
}"""

PINGS_JS = """async (n) => {
    const r = (globalThis.__realtimeWidgets || []).at(-1);
    const out = [];
    for (let i = 0; i < n; i++) {
        const p = await r.ping(5000);
        out.push(p.rtt);
        await new Promise(res => setTimeout(res, 20));
    }
    return out;
}"""

# -- per-hop timestamps (--hops): jupyter_server, kernel shell channel, page websocket --

# A jupyter_server_config.py for the benchmark's own Lab server: wraps the kernel
# websocket connection's two message paths and stamps every widget `custom` message
# (and counts iopub `status` messages). Written to $RTW_HOPS_OUT every 0.5 s.
SERVER_HOPS_PY = r"""
import json as _j, os as _o, threading as _th, time as _t
from jupyter_server.services.kernels.connection import channels as _ch
from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1 as _de
_REC = []
_OUT = _o.environ.get("RTW_HOPS_OUT")

def _custom(header, content):
    if b'"comm_msg"' not in header:
        return None
    d = _j.loads(content).get("data") or {}
    return d.get("content") if d.get("method") == "custom" else None

def _key(x):
    ty = x.get("type")
    if ty == "mic":
        return ty, x.get("t")
    if ty == "audio":
        return ty, [x.get("item_id"), x.get("offset")]
    if ty in ("ping", "pong"):
        return ty, x.get("id")
    if ty == "stop":
        return ty, x.get("stop_id")
    return ty, None

_in = _ch.ZMQChannelsWebsocketConnection.handle_incoming_message
def _hin(self, m):
    t0 = _t.time()
    x = None
    try:
        _c, ml = _de(m)
        x = _custom(bytes(ml[0]), bytes(ml[3]))
    except Exception:
        pass
    r = _in(self, m)
    if x is not None:
        _REC.append(("in", t0, _t.time()) + _key(x))
    return r
_ch.ZMQChannelsWebsocketConnection.handle_incoming_message = _hin

_out = _ch.ZMQChannelsWebsocketConnection.handle_outgoing_message
def _hout(self, stream, msg_list):
    t0 = _t.time()
    x = None
    status = False
    try:
        _i, fed = self.session.feed_identities(msg_list)
        h = bytes(fed[1])
        status = b'"status"' in h and b'"msg_type": "status"' in h.replace(b'":"', b'": "')
        x = _custom(h, bytes(fed[4]))
    except Exception:
        pass
    r = _out(self, stream, msg_list)
    if x is not None:
        _REC.append(("out", t0, _t.time()) + _key(x))
    elif status:
        _REC.append(("status", t0, _t.time(), None, None))
    else:
        try:
            mt = _j.loads(bytes(fed[1])).get("msg_type")
            if mt == "comm_msg":
                mt = "comm " + str((_j.loads(bytes(fed[4])).get("data") or {}).get("method"))
            _REC.append(("other", t0, _t.time(), mt, len(b"".join(bytes(f) for f in fed))))
        except Exception:
            pass
    return r
_ch.ZMQChannelsWebsocketConnection.handle_outgoing_message = _hout

def _dump():
    while _OUT:
        _t.sleep(0.5)
        tmp = _OUT + ".tmp"
        with open(tmp, "w") as f:
            _j.dump(_REC, f)
        _o.replace(tmp, _OUT)
_th.Thread(target=_dump, daemon=True).start()
"""

# Kernel side: when the shell channel thread routed each comm message (ipykernel 7
# asks the comm which subshell gets it: `Comm._reply_subshell_for`), and when
# ipykernel's comm_msg handler started on its (sub)shell thread.
KERNEL_HOPS = r"""
import time as _hkt
BENCH_HOPS = []   # (stage, wall s, type, key)
def _h_key(d):
    c = (d or {}).get("content") or {}
    ty = c.get("type")
    return ty, (c.get("t") if ty == "mic" else c.get("id") if ty == "ping" else None)
_h_route = w.comm._reply_subshell_for
def _h_r(data, default, _o=_h_route):
    BENCH_HOPS.append(("route", _hkt.time()) + _h_key(data))
    return _o(data, default)
w.comm._reply_subshell_for = _h_r
_h_k = w.comm.kernel
_h_orig = _h_k.shell_handlers["comm_msg"]
def _h_cm(stream, ident, msg, _o=_h_orig):
    BENCH_HOPS.append(("dispatch", _hkt.time()) + _h_key(msg["content"].get("data")))
    return _o(stream, ident, msg)
_h_k.shell_handlers["comm_msg"] = _h_cm
import json as _hkj
_h_io = _h_k.iopub_thread
_h_rs = _h_io._really_send
def _h_really_send(msg, *a, _o=_h_rs, **k):
    # on the IOPub thread: when an `audio` message really leaves the kernel
    try:
        i = msg.index(b"<IDS|MSG>")
        if b'"comm_msg"' in msg[i + 2]:
            c = (_hkj.loads(msg[i + 5]).get("data") or {}).get("content") or {}
            if c.get("type") == "audio":
                key = [c.get("item_id"), c.get("offset")]
                BENCH_HOPS.append(("iopub", _hkt.time(), "audio", key))
    except Exception:
        pass
    return _o(msg, *a, **k)
_h_io._really_send = _h_really_send
"""

# Page side: stamps on the kernel websocket itself (send returns; onmessage starts),
# the hub's mic chunk hand-off, and main-thread stalls (a 4 ms interval timer's lateness).
PAGE_HOPS_JS = """() => {
    const r = (globalThis.__realtimeWidgets || []).at(-1);
    const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const ws = k._ws;
    const H = r.hops = {chunk: [], wsin: [], status: 0, stalls: [], longtasks: []};
    const now = () => performance.timeOrigin + performance.now();
    const dec = new TextDecoder();
    const origOnMsg = ws.onmessage;
    ws.onmessage = function (ev) {
        const t = now();
        try {
            if (ev.data instanceof ArrayBuffer) {
                const dv = new DataView(ev.data);
                const n = Number(dv.getBigUint64(0, true));
                const off = [];
                for (let i = 0; i < n; i++) off.push(Number(dv.getBigUint64(8 * (i + 1), true)));
                const part = (i) =>
                    dec.decode(new Uint8Array(ev.data, off[i], off[i + 1] - off[i]));
                const header = part(1);
                if (header.includes('"comm_msg"')) {
                    const c = JSON.parse(part(4)).data;
                    const x = c && c.method === 'custom' ? c.content : null;
                    if (x) H.wsin.push([t, x.type, x.type === 'audio' ? [x.item_id, x.offset] :
                                        x.type === 'pong' ? x.id : x.stop_id ?? null]);
                } else if (header.includes('"status"')) H.status += 1;
            }
        } catch (e) { H.err = String(e); }
        return origOnMsg.call(this, ev);
    };
    const hub = r.hub;
    const origChunk = hub._chunk.bind(hub);
    hub._chunk = (c) => {
        const t0 = now();
        origChunk(c);
        H.chunk.push([c.t, t0, now()]);
    };
    let last = performance.now();
    setInterval(() => {
        const p = performance.now();
        if (p - last > 12) H.stalls.push([performance.timeOrigin + last, p - last]);
        last = p;
    }, 4);
    try {
        new PerformanceObserver((l) => { for (const e of l.getEntries())
            H.longtasks.push([performance.timeOrigin + e.startTime, e.duration]); })
            .observe({entryTypes: ['longtask']});
    } catch (e) {}
}"""


def _proc_table() -> dict[int, tuple[int, str, float, float]]:
    """pid -> (ppid, cmdline, cpu seconds used so far, seconds its threads spent
    runnable but waiting for a CPU: /proc/PID/task/*/schedstat) for every process."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[int, str, float, float]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            wait = 0.0
            for task in (d / "task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    wait += int((task / "schedstat").read_text().split()[1]) / 1e9
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick
        out[int(d.name)] = (int(fields[1]), cmd, cpu, wait)
    return out


def _cpu_groups(roots: dict[str, int]) -> dict[str, tuple[float, float]]:
    """(CPU s used, s waiting for a CPU) so far by each named process tree; Chromium
    split by --type."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _c, _t, _w) in table.items():
        children.setdefault(ppid, []).append(pid)
    groups: dict[str, tuple[float, float]] = {}
    seen: set[int] = set()  # a process counts once: for the first root that holds it
    for name, root in roots.items():
        stack = [root]
        while stack:
            pid = stack.pop()
            if pid not in table or pid in seen:
                continue
            seen.add(pid)
            _pp, cmd, t, w = table[pid]
            key = name
            if name == "chromium":
                kind = next((a[7:] for a in cmd.split() if a.startswith("--type=")), "browser")
                util = next((a for a in cmd.split() if a.startswith("--utility-sub-type=")), "")
                key = f"chromium {kind}" + (" (audio)" if "audio" in util else "")
            t0, w0 = groups.get(key, (0.0, 0.0))
            groups[key] = (t0 + t, w0 + w)
            stack.extend(children.get(pid, []))
    return groups


def _chromium_root(profile: Path) -> int:
    for pid, (_pp, cmd, _t, _w) in _proc_table().items():
        if str(profile) in cmd and "--type=" not in cmd:
            return pid
    return -1


def hops_report(
    server: list[Any], kernel: list[Any], page: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    """Per-hop latency (ms) of the mic and the audio path from the four sets of stamps."""
    srv_in = {x[4]: x for x in server if x[0] == "in" and x[3] == "mic"}
    route = {x[3]: x[1] * 1000 for x in kernel if x[0] == "route" and x[2] == "mic"}
    disp = {x[3]: x[1] * 1000 for x in kernel if x[0] == "dispatch" and x[2] == "mic"}
    handler = {tb: t * 1000 for t, tb, _th in data["mic_arrival"] if tb}
    append = {tb: t * 1000 for t, tb in data["appends"] if tb}
    recv = data["recv"]
    appends = data["appends"]
    at_server = {appends[i][1]: recv[i] * 1000 for i in range(min(len(recv), len(appends)))}
    hops: dict[str, list[float]] = {
        k: []
        for k in (
            "mic: capture t -> hub receives chunk (worklet -> main thread)",
            "mic: hub -> ws.send returned (model.send)",
            "mic: ws.send -> jupyter_server handler",
            "mic: jupyter_server -> kernel shell channel thread",
            "mic: shell channel thread -> comm_msg handler",
            "mic: comm_msg handler -> relay (submit)",
            "mic: relay -> append sent (session loop)",
            "mic: append sent -> local server",
        )
    }
    names = list(hops)
    for tb, t_hub, t_sent in page["chunk"]:
        chain = [
            tb,
            t_hub,
            t_sent,
            srv_in[tb][1] * 1000 if tb in srv_in else None,
            route.get(tb),
            disp.get(tb),
            handler.get(tb),
            append.get(tb),
            at_server.get(tb),
        ]
        for i, name in enumerate(names):
            a, b = chain[i], chain[i + 1]
            if a is not None and b is not None:
                hops[name].append(b - a)
    send = {(item, int(off)): t * 1000 for t, item, off in data["audio_send"]}
    srv_out = {
        (x[4][0], int(x[4][1] or 0)): (x[1] * 1000, x[2] * 1000)
        for x in server
        if x[0] == "out" and x[3] == "audio"
    }
    wsin = {(x[2][0], int(x[2][1] or 0)): x[0] for x in page["wsin"] if x[1] == "audio"}
    hub = {(item, int(off)): t for t, item, off, _n in page["arrivals"]}
    iopub = {
        (x[3][0], int(x[3][1] or 0)): x[1] * 1000
        for x in kernel
        if x[0] == "iopub" and x[2] == "audio"
    }
    a_names = (
        "audio: widget.send -> kernel IOPub thread sends",
        "audio: kernel IOPub thread -> jupyter_server iopub handler",
        "audio: jupyter_server handler -> write_message returned",
        "audio: write_message -> page ws.onmessage",
        "audio: ws.onmessage -> hub.onCustom (JupyterLab + widget manager)",
    )
    for n in a_names:
        hops[n] = []
        hops[n.replace("audio:", "audio, an item's first buffer:")] = []
    for key, t_send in send.items():
        if key not in srv_out:
            continue
        chain = [
            t_send,
            iopub.get(key),
            srv_out[key][0],
            srv_out[key][1],
            wsin.get(key),
            hub.get(key),
        ]
        for i, name in enumerate(a_names):
            a, b = chain[i], chain[i + 1]
            if a is not None and b is not None:
                hops[name].append(b - a)
                if key[1] == 0:
                    hops[name.replace("audio:", "audio, an item's first buffer:")].append(b - a)
    # a response's start: its first audio at the hub -> its first sample played
    first_at_hub: dict[str, float] = {}
    for t, item, _off, _n in sorted(page["arrivals"]):
        first_at_hub.setdefault(item, t)
    hops["audio: item's first buffer at hub -> its first sample played"] = [
        tb - first_at_hub[item] for item, tb in data["started"] if item in first_at_hub and tb
    ]
    first_send: dict[str, float] = {}
    for t, item, _off in sorted(data["audio_send"]):
        first_send.setdefault(item, t * 1000)
    hops["audio: item's first widget.send -> its first buffer at hub"] = [
        first_at_hub[i] - t for i, t in first_send.items() if i in first_at_hub
    ]
    n_status = sum(1 for x in server if x[0] == "status")
    n_custom = sum(1 for x in server if x[0] in ("in", "out"))
    stalls = page.get("stalls", [])
    out: dict[str, Any] = {k: summary(v) for k, v in hops.items()}
    out["iopub status msgs (server) / custom msgs"] = [n_status, n_custom]
    out["page: status msgs received"] = page.get("status")
    out["page: main-thread stalls > 12 ms (count, total ms, max)"] = [
        len(stalls),
        round(sum(s[1] for s in stalls), 1),
        round(max((s[1] for s in stalls), default=0.0), 1),
    ]
    out["page: long tasks (count, total ms)"] = [
        len(page.get("longtasks", [])),
        round(sum(x[1] for x in page.get("longtasks", [])), 1),
    ]
    return out


# -- the direct baseline page ---------------------------------------------------------

BASELINE_HTML = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>direct baseline</title></head>
<body><button id="go">Start</button>
<script>
const CAPTURE = `
class Cap extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Int16Array(480); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    const len = ch ? ch.length : 128;
    for (let i = 0; i < len; i++) {
      const v = ch ? Math.max(-1, Math.min(1, ch[i])) : 0;
      this.buf[this.n++] = Math.round(v * 32767);
      if (this.n === 480) {
        const end = (currentFrame + i + 1) / sampleRate;
        this.port.postMessage({pcm: this.buf, end}, [this.buf.buffer]);
        this.buf = new Int16Array(480); this.n = 0;
      }
    }
    return true;
  }
}
registerProcessor('cap', Cap);`;
const PLAYER = `
class Play extends AudioWorkletProcessor {
  constructor() {
    super(); this.q = []; this.queued = 0; this.playing = false; this.lastEnq = 0;
    this.started = new Set(); this.frames = 0;
    this.port.onmessage = (e) => { this.q.push(e.data); this.queued += e.data.s.length;
                                   this.lastEnq = this.frames; };
  }
  process(_i, outputs) {
    const out = outputs[0][0]; let at = 0;
    if (!this.playing && this.queued > 0 &&
        (this.queued >= 2400 || this.frames - this.lastEnq >= 2400)) this.playing = true;
    while (this.playing && at < out.length && this.q.length) {
      const h = this.q[0];
      if (h.pos === undefined) h.pos = 0;
      if (h.pos === 0 && h.offset === 0 && !this.started.has(h.item)) {
        this.started.add(h.item);
        const time = (currentFrame + at) / sampleRate;
        this.port.postMessage({type: 'started', item: h.item, time});
      }
      const m = Math.min(out.length - at, h.s.length - h.pos);
      out.set(h.s.subarray(h.pos, h.pos + m), at);
      at += m; h.pos += m; this.queued -= m;
      if (h.pos === h.s.length) this.q.shift();
    }
    if (at < out.length) { out.fill(0, at); if (!this.q.length) this.playing = false; }
    this.frames += out.length;
    return true;
  }
}
registerProcessor('play', Play);`;
window.bench = {chunks: [], arrivals: [], started: [], errors: [], done: 0, rtts: []};
const B = window.bench;
const now = () => performance.timeOrigin + performance.now();
let ctx, ws;
function ctxTimeToEpoch(t) {  // as js/engine.js
  const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
  if (ts && ts.performanceTime && ts.contextTime)
    return performance.timeOrigin + ts.performanceTime + (t - ts.contextTime) * 1000;
  const lat = (ctx.baseLatency || 0) + (ctx.outputLatency || 0);
  return now() + (t - ctx.currentTime + lat) * 1000;
}
function captureTimeToEpoch(t) {
  const lat = (ctx.baseLatency || 0) + (ctx.outputLatency || 0);
  return Math.min(now(), ctxTimeToEpoch(t) - lat * 1000);
}
function b64(u8) { let s = ''; for (let i = 0; i < u8.length; i += 0x8000)
  s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000)); return btoa(s); }
const blob = (c) => URL.createObjectURL(new Blob([c], {type: 'application/javascript'}));
document.getElementById('go').onclick = async () => {
  ctx = new AudioContext({sampleRate: 24000, latencyHint: 'interactive'});
  ctx.resume();
  await ctx.audioWorklet.addModule(blob(CAPTURE));
  await ctx.audioWorklet.addModule(blob(PLAYER));
  const player = new AudioWorkletNode(ctx, 'play', {numberOfInputs: 0, outputChannelCount: [1]});
  player.connect(ctx.destination);
  player.port.onmessage = (e) => B.started.push([e.data.item, ctxTimeToEpoch(e.data.time)]);
  const stream = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false,
      noiseSuppression: false, autoGainControl: false, channelCount: 1}});
  const src = ctx.createMediaStreamSource(stream);
  const cap = new AudioWorkletNode(ctx, 'cap', {numberOfInputs: 1, numberOfOutputs: 0,
      channelCount: 1, channelCountMode: 'explicit'});
  src.connect(cap);
  ws = new WebSocket(window.SERVER_URL, ['realtime']);
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });
  ws.send(JSON.stringify({type: 'session.update', session: {type: 'realtime',
      audio: {input: {turn_detection: null}}}}));
  const offsets = {};
  ws.onmessage = (e) => {
    const t = now();
    const ev = JSON.parse(e.data);
    if (ev.type === 'response.output_audio.delta') {
      const bin = atob(ev.delta);
      const u8 = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
      const i16 = new Int16Array(u8.buffer);
      const f = new Float32Array(i16.length);
      for (let i = 0; i < i16.length; i++) f[i] = i16[i] / 32768;
      const off = offsets[ev.item_id] || 0;
      offsets[ev.item_id] = off + f.length;
      B.arrivals.push([t, ev.item_id, off, f.length]);
      player.port.postMessage({item: ev.item_id, offset: off, s: f}, [f.buffer]);
    } else if (ev.type === 'response.done') B.done += 1;
    else if (ev.type === 'error') B.errors.push(ev.error && ev.error.message);
  };
  cap.port.onmessage = (e) => {
    const t = captureTimeToEpoch(e.data.end);
    B.chunks.push(t);
    ws.send(JSON.stringify({type: 'input_audio_buffer.append',
                            audio: b64(new Uint8Array(e.data.pcm.buffer))}));
  };
  B.ready = true;
};
window.turn = (text) => {
  ws.send(JSON.stringify({type: 'conversation.item.create', item: {type: 'message',
      role: 'user', content: [{type: 'input_text', text}]}}));
  ws.send(JSON.stringify({type: 'response.create'}));
};
window.echoRtts = async (url, n) => {
  const e = new WebSocket(url);
  await new Promise((res) => { e.onopen = res; });
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise((res) => { e.onmessage = res; e.send(JSON.stringify({id: i})); });
    out.push(performance.now() - t0);
    await new Promise(res => setTimeout(res, 20));
  }
  e.close();
  return out;
};
</script></body></html>
"""


# -- statistics ------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": max(values) if values else float("nan"),
    }


def thirds_p99(values: Sequence[float]) -> list[float]:
    """p99 of each third of a run, in time order: does the tail grow with the session?"""
    k = len(values) // 3
    return [round(pct(values[i * k : (i + 1) * k], 99), 1) for i in range(3)] if k else []


def fmt(s: dict[str, float]) -> str:
    return (
        f"n={s['n']:<4d} p50 {s['p50']:7.1f}  p95 {s['p95']:7.1f}  p99 {s['p99']:7.1f}"
        f"  max {s['max']:7.1f} ms"
    )


def _match_sent(sent: Sequence[Sequence[Any]], arrivals: Sequence[Sequence[Any]]) -> list[float]:
    """Delta send (server) → arrival (browser) for every arrival starting on a delta."""
    at: dict[tuple[str, int], float] = {}
    offsets: dict[str, int] = {}
    for t, item, n in sent:
        off = offsets.get(item, 0)
        at[(item, off)] = t * 1000.0
        offsets[item] = off + n
    out = []
    for t, item, off, _n in arrivals:
        t_sent = at.get((item, int(off)))
        if t_sent is not None:
            out.append(t - t_sent)
    return out


def _first_sent(sent: Sequence[Sequence[Any]]) -> dict[str, float]:
    first: dict[str, float] = {}
    for t, item, _n in sent:
        first.setdefault(item, t * 1000.0)
    return first


# -- the Jupyter path ------------------------------------------------------------------


def run_jupyter(
    pw: Any,
    mic: Path,
    *,
    extension: bool,
    seconds: float,
    pings: int,
    turns: int = 0,
    chunk_ms: int = 20,
    subshells: str | None = None,
    hops: bool = False,
) -> dict[str, Any]:
    server = ServerProcess().__enter__()
    hops_file = Path(tempfile.mkdtemp(prefix="rtw-hops-")) / "server.json"
    if hops:
        os.environ["RTW_HOPS_OUT"] = str(hops_file)
    settings = (
        {"@jupyterlab/apputils-extension:kernels-settings": {"commsOverSubshells": subshells}}
        if subshells
        else None
    )
    lab = harness.JupyterServer(
        server_extension=extension,
        lab_settings=settings,
        config_py=SERVER_HOPS_PY if hops else None,
    ).start()
    os.environ.pop("RTW_HOPS_OUT", None)
    try:
        browser = harness.Browser(pw, lab, wav=mic)
        try:
            cell = setup_cell(
                server_url=server.url,
                extra=KERNEL_TAPS + (KERNEL_HOPS if hops else "") + f"\nw.chunk_ms = {chunk_ms}\n",
            )
            nb = browser.open_notebook([cell], "bench.ipynb")
            nb.run_all()
            errs = nb.cell_errors()
            if errs:
                raise RuntimeError("\n".join(errs))
            install_helpers(nb)
            nb.click_connect()
            nb.wait_kernel("session.status == 'connected' and w.mic_status == 'on'", timeout=60)
            nb.wait_js("() => (globalThis.__realtimeWidgets || []).length > 0")
            nb.evaluate(PATCH_ARRIVALS_JS)
            if hops:
                nb.evaluate(PAGE_HOPS_JS)
            roots = {
                "kernel": nb.kernel_pid or -1,
                "jupyter server": lab.proc.pid if lab.proc else -1,
                "local server": server.proc.pid,
                "chromium": _chromium_root(browser.profile),
                "bench (playwright)": os.getpid(),
            }
            cpu0, t_cpu0 = _cpu_groups(roots), time.monotonic()
            t_end = time.time() + seconds
            n_turns = 0
            # at least `turns` replies: one first-played figure per reply
            while time.time() < t_end or n_turns < turns:
                # typed into the widget (its text input's path), as the direct page does:
                # running a cell for it would make JupyterLab handle an execute request
                # (kernel busy/idle, the cell's output) just as the reply starts
                nb.evaluate("() => globalThis.__realtimeWidgets.at(-1).hub.sendText('Hi')")
                n_turns += 1
                # wait in the page: polling the kernel (an execute_request every 100 ms)
                # would load the kernel, the server and JupyterLab while we measure
                nb.wait_js(
                    "(n) => globalThis.__realtimeWidgets.at(-1).bench.done >= n",
                    n_turns,
                    timeout=30,
                )
                time.sleep(0.3)
            cpu1, t_cpu1 = _cpu_groups(roots), time.monotonic()
            # per process tree: % of one CPU used, and % of wall time its threads
            # spent runnable but waiting for a CPU (summed over threads)
            cpu_share = {
                k: [
                    round(100 * (v[i] - cpu0.get(k, (0.0, 0.0))[i]) / (t_cpu1 - t_cpu0), 1)
                    for i in (0, 1)
                ]
                for k, v in sorted(cpu1.items())
            }
            time.sleep(1.5)
            rtt_streaming = nb.evaluate(PINGS_JS, pings)
            nb.kernel_exec("w.muted = True")
            time.sleep(1.0)
            rtt_idle = nb.evaluate(PINGS_JS, pings)
            data = nb.kernel_json(
                "{'appends': [(e.t_wall, e.t_browser) for e in "
                "session.log.filter('input_audio_buffer.append')],"
                " 'started': [(e.payload.get('item_id'), e.t_browser) for e in session.log "
                "if e.type == 'widget.playback_started'],"
                " 'stats': dict(w.stats),"
                " 'mic_arrival': BENCH_MIC_ARRIVAL, 'audio_send': BENCH_AUDIO_SEND,"
                " 'deltas': [(e.t_wall, e.item_id, e.audio_ms) for e in "
                "session.log.filter('response.output_audio.delta')],"
                " 'replies': [(e.t_wall, e.type) for e in session.log if e.type in "
                "('response.create', 'response.created', 'response.done')]}",
                timeout=120,
            )
            arrivals = nb.evaluate("() => globalThis.__realtimeWidgets.at(-1).bench.arrivals")
            under = nb.evaluate("() => globalThis.__realtimeWidgets.at(-1).counters.underruns")
            if hops:
                page_hops = nb.evaluate("() => globalThis.__realtimeWidgets.at(-1).hops")
                page_hops["arrivals"] = arrivals
                kernel_hops = nb.kernel_json("BENCH_HOPS", timeout=120)
                time.sleep(1.0)
                server_hops = json.loads(hops_file.read_text())
        finally:
            browser.close()
        loaded = lab.realtime_extension_loaded()
    finally:
        lab.cleanup()
        times = server.finish()
        server.__exit__()
    data["recv"] = [t for t, ty in times["recv"] if ty == "input_audio_buffer.append"]
    data["sent"] = times["sent"]
    appends = data["appends"]
    n = min(len(appends), len(data["recv"]))
    mic_server = [data["recv"][i] * 1000 - appends[i][1] for i in range(n) if appends[i][1]]
    mic_kernel = [t * 1000 - tb for t, tb in appends if tb]
    first = _first_sent(data["sent"])
    play = [tb - first[item] for item, tb in data["started"] if item in first and tb]
    # decomposition of the two paths inside the kernel
    mic_onmsg = [t * 1000 - tb for t, tb, _th in data["mic_arrival"] if tb]
    threads: dict[str, int] = {}
    for _t, _tb, th in data["mic_arrival"]:
        key = "main" if th == "MainThread" else th.split("-")[0]
        threads[key] = threads.get(key, 0) + 1
    onmsg_by_t = {tb: t * 1000 for t, tb, _th in data["mic_arrival"] if tb}
    mic_hop = [t * 1000 - onmsg_by_t[tb] for t, tb in appends if tb in onmsg_by_t]
    kernel_recv: dict[tuple[str, int], float] = {}
    offs: dict[str, int] = {}
    for t, item, ms in data["deltas"]:
        off = offs.get(item, 0)
        kernel_recv[(item, off)] = t * 1000
        offs[item] = off + round((ms or 0) * 24)
    srv_to_kernel = _match_sent(data["sent"], [(t, i, o, 0) for (i, o), t in kernel_recv.items()])
    kernel_to_send = [
        t * 1000 - kernel_recv[(item, int(off))]
        for t, item, off in data["audio_send"]
        if (item, int(off)) in kernel_recv
    ]
    send_t = {(item, int(off)): t * 1000 for t, item, off in data["audio_send"]}
    send_to_browser = [
        t - send_t[(item, int(off))] for t, item, off, _n in arrivals if (item, int(off)) in send_t
    ]
    hop_figures = hops_report(server_hops, kernel_hops, page_hops, data) if hops else None
    return {
        "hops": hop_figures,
        "cpu_percent_while_streaming": cpu_share,
        "extension_requested": extension,
        "extension_loaded": loaded,
        "turns": n_turns,
        "mic_to_server": summary(mic_server),
        "mic_to_server_p99_by_third": thirds_p99(mic_server),
        "mic_to_kernel": summary(mic_kernel),
        "appends_server_vs_kernel": [len(data["recv"]), len(appends)],
        "delta_to_first_played": summary(play),
        "delta_to_browser": summary(_match_sent(data["sent"], arrivals)),
        "mic_browser_to_comm_handler": summary(mic_onmsg),
        "mic_comm_handler_to_append": summary(mic_hop),
        "mic_handler_threads": threads,
        "delta_server_to_kernel": summary(srv_to_kernel),
        "delta_kernel_to_widget_send": summary(kernel_to_send),
        "delta_widget_send_to_browser": summary(send_to_browser),
        "rtt_streaming": summary(rtt_streaming),
        "rtt_idle": summary(rtt_idle),
        "underruns": under,
        "relay_stats": data["stats"],
        "raw": {
            "mic": [
                (appends[i][1], data["recv"][i] * 1000 - appends[i][1])
                for i in range(n)
                if appends[i][1]
            ],
            "replies": [(t * 1000, ty) for t, ty in data["replies"]],
        },
    }


# -- the direct baseline ---------------------------------------------------------------


@contextlib.contextmanager
def _serve_page(server_url: str) -> Iterator[str]:
    html = BASELINE_HTML.replace(
        "<script>", f"<script>window.SERVER_URL = {json.dumps(server_url)};</script><script>", 1
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def _echo_server() -> Iterator[str]:
    from websockets.asyncio.server import serve

    loop = asyncio.new_event_loop()
    ready: list[str] = []
    stop = asyncio.Event()

    async def main() -> None:
        async def echo(ws: Any) -> None:
            async for m in ws:
                await ws.send(m)

        async with serve(echo, "127.0.0.1", 0, compression=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            ready.append(f"ws://127.0.0.1:{port}/")
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    harness.poll(lambda: ready, timeout=10, what="echo server")
    try:
        yield ready[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)


def run_direct(pw: Any, mic: Path, *, seconds: float, pings: int, turns: int = 0) -> dict[str, Any]:
    browser = harness.Browser(pw, None, wav=mic, debug_hook=False)
    try:
        with ServerProcess() as server, _serve_page(server.url) as page_url, _echo_server() as echo:
            page = browser.context.new_page()
            page.goto(page_url)
            page.click("#go")
            page.wait_for_function("() => window.bench.ready === true", timeout=30_000)
            t_end = time.time() + seconds
            n_turns = 0
            # at least `turns` replies: one first-played figure per reply
            while time.time() < t_end or n_turns < turns:
                page.evaluate("() => window.turn('Hi')")
                n_turns += 1
                page.wait_for_function(f"() => window.bench.done >= {n_turns}", timeout=30_000)
                time.sleep(0.3)
            time.sleep(1.5)
            rtts = page.evaluate("([u, n]) => window.echoRtts(u, n)", [echo, pings])
            b = page.evaluate(
                "() => ({chunks: window.bench.chunks, arrivals: window.bench.arrivals,"
                " started: window.bench.started, errors: window.bench.errors})"
            )
            page.close()
            times = server.finish()
    finally:
        browser.close()
    recv = [t for t, ty in times["recv"] if ty == "input_audio_buffer.append"]
    n = min(len(recv), len(b["chunks"]))
    mic_server = [recv[i] * 1000 - b["chunks"][i] for i in range(n)]
    first = _first_sent(times["sent"])
    play = [t - first[item] for item, t in b["started"] if item in first]
    return {
        "turns": n_turns,
        "mic_to_server": summary(mic_server),
        "mic_to_server_p99_by_third": thirds_p99(mic_server),
        "appends_server_vs_browser": [len(recv), len(b["chunks"])],
        "delta_to_first_played": summary(play),
        "delta_to_browser": summary(_match_sent(times["sent"], b["arrivals"])),
        "rtt_echo": summary(rtts),
        "errors": b["errors"][:5],
    }


# -- barge-in ----------------------------------------------------------------------------


def run_barge(pw: Any, mic: Path, *, seconds: float) -> dict[str, Any]:
    server = ServerProcess().__enter__()
    lab = harness.JupyterServer(server_extension=True).start()
    try:
        browser = harness.Browser(pw, lab, wav=mic)
        try:
            nb = browser.open_notebook([setup_cell(server_url=server.url)], "bench_barge.ipynb")
            nb.run_all()
            install_helpers(nb)
            nb.click_connect()
            nb.wait_kernel("session.status == 'connected' and w.mic_status == 'on'", timeout=60)
            time.sleep(seconds)
            stops = nb.evaluate("() => (globalThis.__realtimeWidgets || []).flatMap(r => r.stops)")
            latency = nb.evaluate(
                "() => { const c = globalThis.__realtimeWidgets.at(-1).contexts.at(-1);"
                " return [c.baseLatency || 0, c.outputLatency || 0]; }"
            )
            data = nb.kernel_json(
                "{'started': [e.t_wall for e in session.log.filter("
                "'input_audio_buffer.speech_started')],"
                " 'stops': [(e.payload.get('stop_id'), e.payload.get('reason'), e.t_wall) "
                "for e in session.log if e.type == 'widget.stop_sent'],"
                " 'truncates': _rtw_count('conversation.item.truncate'),"
                " 'stats': dict(w.stats)}",
                timeout=120,
            )
        finally:
            browser.close()
    finally:
        lab.cleanup()
        server.__exit__()
    reasons = {str(sid): (reason, t) for sid, reason, t in data["stops"]}
    total, to_browser, in_browser, kernel_side = [], [], [], []
    interrupted = 0
    for s in stops:
        meta = reasons.get(str(s["stopId"]))
        if meta is None or meta[0] != "speech_started" or s["silence"] is None:
            continue
        before = [t for t in data["started"] if t <= meta[1] + 1e-6]
        if not before:
            continue
        t_started = before[-1] * 1000
        total.append(s["silence"] - t_started)
        kernel_side.append(meta[1] * 1000 - t_started)
        to_browser.append(s["received"] - meta[1] * 1000)
        in_browser.append(s["silence"] - s["received"])
        if s["itemId"] and (s["played"] or 0) > 0:
            interrupted += 1
    return {
        "speech_started": len(data["started"]),
        "stops_measured": len(total),
        "stops_that_cut_playback": interrupted,
        "truncates": data["truncates"],
        "speech_started_to_silence": summary(total),
        "kernel_speech_started_to_stop_sent": summary(kernel_side),
        "stop_sent_to_browser": summary(to_browser),
        "browser_stop_to_silence": summary(in_browser),
        "stop_timeouts": data["stats"].get("stop_timeouts"),
        "output_latency_ms": [round(x * 1000, 1) for x in latency],
        "speech_started_to_silence_rendered": summary([x - sum(latency) * 1000 for x in total]),
    }


# -- main ------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=40.0, help="streaming time per path")
    ap.add_argument("--barge-seconds", type=float, default=60.0)
    ap.add_argument(
        "--turns",
        type=int,
        default=100,
        help="at least this many replies per path (one first-played figure each)",
    )
    ap.add_argument("--pings", type=int, default=200)
    ap.add_argument("--chunk-ms", type=int, default=20, help="widget mic chunk (20..40)")
    ap.add_argument(
        "--only-lab",
        action="store_true",
        help="only the Lab+extension path (with --chunk-ms / --comms-over-subshells)",
    )
    ap.add_argument(
        "--comms-over-subshells",
        choices=("disabled", "perComm", "perCommTarget"),
        help="JupyterLab setting (default: JupyterLab's, perCommTarget)",
    )
    ap.add_argument(
        "--hops",
        action="store_true",
        help="timestamp every hop (page websocket, jupyter_server, kernel shell channel)",
    )
    ap.add_argument("--only-barge", action="store_true", help="only the barge-in run")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument(
        "--raw",
        type=Path,
        help="with --only-lab: write every mic chunk's latency and the reply events here",
    )
    args = ap.parse_args()
    reason = harness.missing_prerequisites() or audio.tools_missing()
    if reason:
        sys.exit(f"cannot run: {reason}")
    work = Path(tempfile.mkdtemp(prefix="rtw-bench-"))
    # the latency runs stream a quiet take (-45 dB: audio, but no VAD turn), so every
    # response is a typed one and the mic streams all the time, in both paths
    mic, _ = audio.make_speech(
        work, "quiet", audio.SHORT_TEXT, lead_s=0.5, tail_s=6.0, gain_db=-45.0
    )
    barge, _ = audio.make_speech(work, "barge", audio.SHORT_TEXT, lead_s=0.5, tail_s=1.0)
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    if args.only_barge:
        with harness.playwright_sync() as pw:
            r = run_barge(pw, barge, seconds=args.barge_seconds)
        print(f"barge-in (Lab+ext), load {os.getloadavg()}")
        for k, v in r.items():
            print(f"  {k:36s} {fmt(v) if isinstance(v, dict) and 'p50' in v else v}")
        return
    if args.only_lab:
        with harness.playwright_sync() as pw:
            r = run_jupyter(
                pw,
                mic,
                extension=True,
                seconds=args.seconds,
                pings=args.pings,
                turns=args.turns,
                chunk_ms=args.chunk_ms,
                subshells=args.comms_over_subshells,
                hops=args.hops,
            )
        print(
            f"Lab+ext, chunk_ms={args.chunk_ms}, commsOverSubshells="
            f"{args.comms_over_subshells or 'default'}, load {os.getloadavg()}"
        )
        for k, v in r.items():
            if k not in ("hops", "raw"):
                print(f"  {k:32s} {fmt(v) if isinstance(v, dict) and 'p50' in v else v}")
        print_hops(r["hops"])
        print_around_replies(r["raw"])
        if args.raw:
            args.raw.write_text(json.dumps(r["raw"]))
        return
    with harness.playwright_sync() as pw:
        print("== direct baseline (browser <-> local server WebSocket)", flush=True)
        out["direct"] = run_direct(
            pw, mic, seconds=args.seconds, pings=args.pings, turns=args.turns
        )
        print("== JupyterLab with the server extension (TCP_NODELAY)", flush=True)
        out["lab_ext"] = run_jupyter(
            pw,
            mic,
            extension=True,
            seconds=args.seconds,
            pings=args.pings,
            turns=args.turns,
            chunk_ms=args.chunk_ms,
            hops=args.hops,
        )
        print("== JupyterLab without the server extension (stock)", flush=True)
        out["lab_stock"] = run_jupyter(
            pw,
            mic,
            extension=False,
            seconds=args.seconds,
            pings=args.pings,
            turns=args.turns,
            chunk_ms=args.chunk_ms,
        )
        print("== barge-in (JupyterLab with the extension)", flush=True)
        out["barge"] = run_barge(pw, barge, seconds=args.barge_seconds)
    out["loadavg_end"] = os.getloadavg()
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


def around_replies(raw: dict[str, Any], window_ms: float = 150.0) -> dict[str, Any]:
    """Mic latency of chunks captured within `window_ms` after each kind of reply event,
    against the rest: which moment of a turn do the slow chunks come from?"""
    marks: dict[str, list[float]] = {}
    for t, ty in raw["replies"]:
        marks.setdefault(ty, []).append(t)
    for v in marks.values():
        v.sort()
    groups: dict[str, list[float]] = {k: [] for k in marks}
    groups["other"] = []
    for t, lat in raw["mic"]:
        for ty, ts in marks.items():
            i = bisect.bisect_right(ts, t) - 1
            if i >= 0 and t - ts[i] <= window_ms:
                groups[ty].append(lat)
                break
        else:
            groups["other"].append(lat)
    every = sorted(lat for _t, lat in raw["mic"])
    cut = pct(every, 99)
    return {
        "p99_cut": round(cut, 1),
        **{
            k: {**summary(v), "share_of_slowest_1pct": sum(x >= cut for x in v)}
            for k, v in groups.items()
            if v
        },
    }


def print_around_replies(raw: dict[str, Any]) -> None:
    a = around_replies(raw)
    print(f"  mic chunks captured within 150 ms after ... (slowest 1 %: >= {a.pop('p99_cut')} ms)")
    for k, v in a.items():
        print(f"    {k:28s} {fmt(v)}  in slowest 1 %: {v['share_of_slowest_1pct']}")


def print_hops(h: dict[str, Any] | None) -> None:
    if not h:
        return
    print("  per hop:")
    for k, v in h.items():
        print(f"    {k:66s} {fmt(v) if isinstance(v, dict) and 'p50' in v else v}")


def report(o: dict[str, Any]) -> None:
    d, e, s, b = o["direct"], o["lab_ext"], o["lab_stock"], o["barge"]
    print()
    print(
        f"date {o['date']}  cpus {o['cpus']}  load avg start {o['loadavg_start']}"
        f"  end {o['loadavg_end']}"
    )
    print(f"extension loaded: with={e['extension_loaded']} without={s['extension_loaded']}")
    rows = [
        ("(1) mic chunk t -> local server", "mic_to_server"),
        ("(2) delta sent -> first sample played", "delta_to_first_played"),
        ("    delta sent -> browser receipt", "delta_to_browser"),
    ]
    for label, key in rows:
        print(label)
        print(f"    direct    {fmt(d[key])}")
        print(f"    Lab+ext   {fmt(e[key])}")
        print(f"    Lab stock {fmt(s[key])}")
    print(
        "    mic p99 by third of the run: direct "
        f"{d['mic_to_server_p99_by_third']}  Lab+ext {e['mic_to_server_p99_by_third']}"
        f"  Lab stock {s['mic_to_server_p99_by_third']}"
    )
    print("    Lab+ext:", end="")
    print_around_replies(e["raw"])
    print("    mic chunk t -> kernel (session log)")
    print(f"    Lab+ext   {fmt(e['mic_to_kernel'])}")
    print(f"    Lab stock {fmt(s['mic_to_kernel'])}")
    print("    inside the Jupyter path (Lab+ext / Lab stock):")
    for label, key in (
        ("mic: browser t -> comm handler", "mic_browser_to_comm_handler"),
        ("mic: comm handler -> append sent", "mic_comm_handler_to_append"),
        ("delta: server sent -> kernel recv", "delta_server_to_kernel"),
        ("delta: kernel recv -> widget.send", "delta_kernel_to_widget_send"),
        ("delta: widget.send -> browser", "delta_widget_send_to_browser"),
    ):
        print(f"    {label:34s} ext   {fmt(e[key])}")
        print(f"    {'':34s} stock {fmt(s[key])}")
    print(
        f"    mic handler threads: ext {e['mic_handler_threads']} stock {s['mic_handler_threads']}"
    )
    print("(3) comm round trip ping/pong")
    print(f"    Lab+ext   streaming {fmt(e['rtt_streaming'])}")
    print(f"    Lab+ext   idle      {fmt(e['rtt_idle'])}")
    print(f"    Lab stock streaming {fmt(s['rtt_streaming'])}")
    print(f"    Lab stock idle      {fmt(s['rtt_idle'])}")
    print(f"    direct WebSocket echo {fmt(d['rtt_echo'])}")
    print("(5) barge-in: speech_started at kernel -> browser silence")
    print(f"    total               {fmt(b['speech_started_to_silence'])}")
    print(f"    total, rendered     {fmt(b['speech_started_to_silence_rendered'])}")
    print(f"    kernel stop sent    {fmt(b['kernel_speech_started_to_stop_sent'])}")
    print(f"    stop -> browser     {fmt(b['stop_sent_to_browser'])}")
    print(f"    browser -> silence  {fmt(b['browser_stop_to_silence'])}")
    print(
        "    (silence = the first silent frame at the OUTPUT: AudioContext base/output"
        f" latency {b['output_latency_ms']} ms included)"
    )
    print(
        f"    ({b['stops_measured']} stops, {b['stops_that_cut_playback']} cut playback,"
        f" {b['truncates']} truncates, stop_timeouts {b['stop_timeouts']})"
    )
    print()
    added50 = e["mic_to_server"]["p50"] - d["mic_to_server"]["p50"]
    added99 = e["mic_to_server"]["p99"] - d["mic_to_server"]["p99"]
    play50 = e["delta_to_first_played"]["p50"] - d["delta_to_first_played"]["p50"]
    play99 = e["delta_to_first_played"]["p99"] - d["delta_to_first_played"]["p99"]
    bi95 = b["speech_started_to_silence"]["p95"]
    bi95r = b["speech_started_to_silence_rendered"]["p95"]
    print("| goal | measured | met |")
    print("|---|---|---|")
    print(f"| relay adds <= 5 ms p50 (mic -> server) | {added50:+.1f} ms | {added50 <= 5} |")
    print(f"| relay adds <= 15 ms p99 (mic -> server) | {added99:+.1f} ms | {added99 <= 15} |")
    print(f"| relay adds <= 5 ms p50 (delta -> played) | {play50:+.1f} ms | {play50 <= 5} |")
    print(f"| relay adds <= 15 ms p99 (delta -> played) | {play99:+.1f} ms | {play99 <= 15} |")
    print(f"| barge-in stop <= 30 ms p95 (at the output) | {bi95:.1f} ms | {bi95 <= 30} |")
    print(f"| barge-in stop <= 30 ms p95 (rendered) | {bi95r:.1f} ms | {bi95r <= 30} |")
    print()
    print("underruns: Lab+ext", e["underruns"], " Lab stock", s["underruns"])
    print("CPU while streaming, per process tree: [% of one CPU used, % of wall time runnable")
    print("but waiting for a CPU]")
    print("    Lab+ext  ", e["cpu_percent_while_streaming"])
    print("    Lab stock", s["cpu_percent_while_streaming"])
    if e.get("hops"):
        print("Lab+ext", end="")
        print_hops(e["hops"])
    print(
        "appends server/kernel: Lab+ext",
        e["appends_server_vs_kernel"],
        " stock",
        s["appends_server_vs_kernel"],
        " direct server/browser",
        d["appends_server_vs_browser"],
    )
    if d["errors"]:
        print("direct errors:", d["errors"])


if __name__ == "__main__":
    main()
