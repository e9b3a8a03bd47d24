// Model-level state shared by the views of one widget: the comm protocol
// (docs/comm-protocol.md), the live transcript and event list, the audio
// engine's lifetime, push-to-talk and the mic sequence counter.
import { AudioEngine, micSupportProblem, nowEpoch } from "./engine.js";

/**
 * @typedef {object} Row a transcript row
 * @property {string} item_id
 * @property {string} role
 * @property {string} text
 * @property {string} unheard
 * @property {string} status "in_progress" | "completed" | "interrupted" | ...
 */

/**
 * @typedef {object} LogEvent
 * @property {number} t
 * @property {string} dir
 * @property {string} type
 * @property {string} summary
 */

export const MAX_EVENTS = 200;

/**
 * @param {Row} a
 * @param {Row} b
 */
const sameRow = (a, b) =>
  a.role === b.role && a.text === b.text && a.unheard === b.unheard && a.status === b.status;

/** @param {number} v @param {number} lo @param {number} hi @param {number} dflt */
function clampNum(v, lo, hi, dflt) {
  const x = Number(v);
  if (!Number.isFinite(x)) return dflt;
  return Math.min(hi, Math.max(lo, x));
}

export class Hub {
  /** @param {any} model the anywidget model */
  constructor(model) {
    this.model = model;
    /** @type {AudioEngine|null} */
    this.engine = null;
    /** @type {Set<object>} */
    this.views = new Set();
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    /** @type {LogEvent[]} */
    this.events = [];
    /** @type {Set<(kind: string, data?: any) => void>} */
    this.listeners = new Set();
    /** fast status hint from `state` messages (undefined: none) */
    this.speaking = /** @type {string|null|undefined} */ (undefined);
    this.connected = false;
    this.connecting = false;
    this.seq = 0;
    this.pttHeld = false;
    this.closed = false;
    this.viewId = Math.random().toString(36).slice(2, 10);
    /** @type {Map<any, (m: any) => void>} */
    this.pings = new Map();
    this.pingCount = 0;
    this.lastStatus = model.get("status") ?? "disconnected";
    /** the kernel's row list as this page has it: the trait, patched by `rows` messages */
    this.traitRows = /** @type {any[]} */ ([]);
    this.applyTraitRows(model.get("transcript"));
    this._onCustom = (/** @type {any} */ msg, /** @type {DataView[]} */ buffers) => this.onCustom(msg, buffers ?? []);
    this._onChange = {
      transcript: () => this.applyTraitRows(this.model.get("transcript")),
      status: () => this._statusChanged(),
      volume: () => this.engine?.setVolume(this.volume),
      jitter_ms: () => this.engine?.setJitterMs(this.jitterMs),
      chunk_ms: () => this.engine?.setChunkMs(this.chunkMs),
      mode: () => {
        if (this.mode !== "ptt" && this.pttHeld) this.pttUp();
        this.emit("state");
      },
      muted: () => this.emit("state"),
    };
    model.on("msg:custom", this._onCustom);
    for (const [k, f] of Object.entries(this._onChange)) model.on(`change:${k}`, f);
    this.send({
      type: "hello",
      t: nowEpoch(),
      view: this.viewId,
      secure: globalThis.isSecureContext !== false,
      sample_rate: null,
      user_agent: globalThis.navigator?.userAgent ?? "",
      audio_worklet: typeof globalThis.AudioWorkletNode !== "undefined",
    });
    const pre = micSupportProblem();
    if (pre) this.setMic(pre.status, pre.message);
  }

  // -- traits ---------------------------------------------------------------------

  get mode() {
    return this.model.get("mode") === "ptt" ? "ptt" : "vad";
  }
  get muted() {
    return !!this.model.get("muted");
  }
  get volume() {
    return clampNum(this.model.get("volume"), 0, 1, 1);
  }
  get jitterMs() {
    return clampNum(this.model.get("jitter_ms"), 0, 1000, 100);
  }
  get chunkMs() {
    return clampNum(this.model.get("chunk_ms"), 10, 100, 20);
  }

  /**
   * Write browser-owned or shared traits.
   * @param {Record<string, any>} values
   */
  setTraits(values) {
    if (this.closed) return;
    let changed = false;
    for (const [k, v] of Object.entries(values)) {
      if (this.model.get(k) !== v) {
        this.model.set(k, v);
        changed = true;
      }
    }
    if (!changed) return;
    try {
      this.model.save_changes();
    } catch (e) {
      console.warn("realtime_widget: save_changes failed", e);
    }
  }

  /** @param {string} status @param {string} message */
  setMic(status, message) {
    this.setTraits({ mic_status: status, mic_message: message });
    this.emit("mic");
  }

  // -- listeners ------------------------------------------------------------------

  /** @param {(kind: string, data?: any) => void} fn @returns {() => void} */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** @param {string} kind @param {any} [data] */
  emit(kind, data) {
    for (const fn of [...this.listeners]) {
      try {
        fn(kind, data);
      } catch (e) {
        console.error("realtime_widget view error", e);
      }
    }
  }

  /**
   * Every message is sent `quiet`: the package's Jupyter server extension then does
   * not forward the kernel's `busy` status for it (docs/comm-protocol.md). Without
   * that, JupyterLab re-renders its kernel status twice per message, 100 times a
   * second while the mic streams, and the page's main thread falls behind.
   * @param {any} content @param {any[]} [buffers]
   */
  send(content, buffers) {
    if (this.closed) return;
    try {
      this.model.send({ ...content, quiet: true }, undefined, buffers);
    } catch (e) {
      console.warn("realtime_widget: send failed", e);
    }
  }

  /** @param {string} level @param {string} message */
  log(level, message) {
    this.send({ type: "log", level, message, t: nowEpoch() });
  }

  // -- kernel → browser -------------------------------------------------------------

  /** @param {any} msg @param {DataView[]} buffers */
  onCustom(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    switch (msg.type) {
      case "audio":
        if (buffers.length > 0) this._audio(msg, buffers[0]);
        break;
      case "stop":
        this._stop(msg);
        break;
      case "transcript":
        this.applyTranscript(msg);
        break;
      case "rows":
        this.applyRowChanges(msg);
        break;
      case "events":
        this.addEvents(Array.isArray(msg.events) ? msg.events : []);
        break;
      case "pong": {
        const f = this.pings.get(msg.id);
        if (f) {
          this.pings.delete(msg.id);
          f(msg);
        }
        break;
      }
      case "state":
        this.speaking = msg.speaking ?? null;
        this.emit("state");
        break;
      default:
        break;
    }
  }

  /** @param {any} msg @param {DataView} buffer */
  _audio(msg, buffer) {
    if (!this.engine && !this.closed && this.views.size > 0) {
      // model audio without a Connect click (the kernel connected from Python):
      // play it if the page may start audio (it has had a user gesture). Never with
      // no view left: a removed view must not leave an AudioContext behind.
      const ua = /** @type {any} */ (globalThis.navigator)?.userActivation;
      if (ua?.hasBeenActive) this._ensureEngine().open().catch((e) => this.log("error", `audio: ${e}`));
    }
    this.engine?.enqueue(msg, buffer);
  }

  /** @param {any} msg */
  async _stop(msg) {
    const stopId = msg.stop_id ?? null;
    if (this.engine) {
      const r = await this.engine.stop(stopId, msg.item_id ?? null);
      this.send({ type: "interrupted", item_id: r.itemId, played: r.played, t: r.t, stop_id: stopId });
    } else {
      this.send({ type: "interrupted", item_id: null, played: 0, t: nowEpoch(), stop_id: stopId });
    }
  }

  /**
   * Final rows from the `transcript` trait: they replace live rows and set the
   * order (trait rows first, in their order; live-only rows after).
   * @param {any} list
   */
  applyTraitRows(list) {
    if (!Array.isArray(list)) return;
    this.traitRows = list.slice();
    /** @type {Map<string, Row>} */
    const next = new Map();
    for (const r of list) {
      if (!r || r.item_id === undefined) continue;
      const id = String(r.item_id);
      const live = this.rows.get(id);
      const row = {
        item_id: id,
        role: r.role ?? live?.role ?? "assistant",
        text: String(r.text ?? ""),
        unheard: String(r.unheard ?? ""),
        status: String(r.status ?? "completed"),
      };
      if (live && row.status === "in_progress" && live.text.length > row.text.length) {
        row.text = live.text;
        row.unheard = live.unheard || row.unheard;
      }
      next.set(id, row);
    }
    for (const [id, r] of this.rows) if (!next.has(id)) next.set(id, r);
    const before = [...this.rows.keys()];
    const after = [...next.keys()];
    const prev = this.rows;
    this.rows = next;
    if (before.every((id, i) => after[i] === id)) {
      // same order, rows possibly added at the end (every response.done sends the
      // whole list): redraw only what changed, not the whole transcript, whose
      // rebuild grew with the session on the main thread that also relays the mic
      for (const [id, r] of next) {
        const old = prev.get(id);
        if (!old || !sameRow(old, r)) this.emit("row", r);
      }
    } else {
      this.emit("rows");
    }
  }

  /**
   * A `rows` message: the kernel's row list changed; replace `delete` rows at `start`
   * with `rows` (`total`: the list's new length). The trait itself follows whole only
   * when the conversation pauses (realtime_widget/widget/durable.py): it grows with the
   * session.
   * @param {any} m
   */
  applyRowChanges(m) {
    const { start, total } = m;
    const del = m.delete;
    if (![start, del, total].every((v) => Number.isInteger(v) && v >= 0) || !Array.isArray(m.rows)) return;
    const next = this.traitRows.slice();
    // a page that loaded between two messages may have a shorter list: pad it; the
    // positions it never had stay empty (applyTraitRows skips them) until a whole sync
    while (next.length < start) next.push(null);
    next.splice(start, del, ...m.rows);
    next.length = Math.min(next.length, total);
    this.applyTraitRows(next);
  }

  /** @param {any} m a `transcript` message */
  applyTranscript(m) {
    if (m.item_id === undefined || m.item_id === null) return;
    const id = String(m.item_id);
    let row = this.rows.get(id);
    if (!row) {
      row = { item_id: id, role: m.role ?? "assistant", text: "", unheard: "", status: "in_progress" };
      this.rows.set(id, row);
    }
    if (m.role) row.role = m.role;
    if (typeof m.text === "string") row.text = m.text;
    else if (typeof m.delta === "string") row.text += m.delta;
    if (typeof m.unheard === "string" && m.unheard) {
      row.unheard = m.unheard;
      row.status = "interrupted";
    }
    if (m.final) {
      if (row.status === "in_progress") row.status = "completed";
    }
    this.emit("row", row);
  }

  /** @param {LogEvent[]} evs */
  addEvents(evs) {
    if (evs.length === 0) return;
    for (const e of evs) this.events.push(e);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    this.emit("events", evs);
  }

  _statusChanged() {
    const status = this.model.get("status");
    const prev = this.lastStatus;
    this.lastStatus = status;
    this.speaking = undefined;
    if (status === "disconnected" && prev !== "disconnected" && this.connected && !this.connecting) {
      // the kernel's session ended: release the microphone and the audio
      this.connected = false;
      this.pttHeld = false;
      this.closeEngine();
    }
    this.emit("state");
  }

  // -- user actions (from views) ------------------------------------------------------

  _ensureEngine() {
    if (!this.engine || this.engine.closed) {
      const g = /** @type {any} */ (globalThis);
      let debug = null;
      if (g.__REALTIME_WIDGET_DEBUG__ === true) {
        if (!Array.isArray(g.__realtimeWidgets)) g.__realtimeWidgets = [];
        debug = g.__realtimeWidgets;
      }
      this.engine = new AudioEngine(
        {
          onChunk: (c) => this._chunk(c),
          onPlayer: (m) => this._player(m),
          onMicStatus: (s, msg) => this.setMic(s, msg),
          log: (level, message) => this.log(level, message),
        },
        { jitterMs: this.jitterMs, chunkMs: this.chunkMs, volume: this.volume, debug },
      );
      if (debug) {
        const rec = debug[debug.length - 1];
        rec.hub = this;
        rec.model = this.model;
        rec.ping = () => this.ping();
      }
      this.emit("engine");
    }
    return this.engine;
  }

  /**
   * The Connect button. Call synchronously from the click handler: the
   * AudioContext is created/resumed before anything is awaited.
   */
  connect() {
    if (this.closed || this.connecting) return Promise.resolve();
    const engine = this._ensureEngine();
    const opened = engine.open(); // AudioContext inside the gesture
    this.connecting = true;
    this.emit("state");
    return (async () => {
      try {
        try {
          await opened;
        } catch (e) {
          this.log("error", `audio output unavailable: ${e}`);
        }
        if (engine.closed) return;
        await engine.startMic({
          echoCancellation: this.model.get("echo_cancellation") ?? true,
          noiseSuppression: this.model.get("noise_suppression") ?? true,
          autoGainControl: this.model.get("auto_gain_control") ?? true,
        });
        if (engine.closed) return;
        this.seq = 0;
        this.pttHeld = false;
        this.connected = true;
        this.send({
          type: "connect",
          t: nowEpoch(),
          sample_rate: engine.sampleRate,
          mic_status: this.model.get("mic_status") ?? "off",
        });
        this.syncClock().catch(() => {});
      } finally {
        this.connecting = false;
        this.emit("state");
      }
    })();
  }

  /** The Disconnect button. */
  disconnect() {
    if (this.pttHeld) this.pttUp();
    this.connected = false;
    this.send({ type: "disconnect", t: nowEpoch() });
    this.closeEngine();
    this.emit("state");
  }

  closeEngine() {
    const e = this.engine;
    this.engine = null;
    if (e) {
      const hadMic = e.micOn || !!e.stream;
      e.close();
      if (hadMic || this.model.get("mic_status") === "starting" || this.model.get("mic_status") === "on")
        this.setMic("off", "");
    }
    this.pttHeld = false;
    this.emit("engine");
  }

  get active() {
    return !!this.engine && !this.engine.closed;
  }

  /** @param {{pcm: Int16Array, n: number, t: number}} c */
  _chunk(c) {
    if (!this.connected || this.muted) return;
    if (this.mode === "ptt" && !this.pttHeld) return;
    const seq = this.seq++;
    this.send({ type: "mic", seq, t: c.t, n: c.n }, [c.pcm.buffer]);
    this.engine?.countSent(c.n);
  }

  /** @param {any} m */
  _player(m) {
    if (m.type === "playback") {
      this.send({ type: "playback", event: m.event, item_id: m.itemId, played: m.played, t: m.t });
      this.emit("playback", m);
    } else if (m.type === "progress") {
      if (!m.force || m.itemId !== null)
        this.send({
          type: "progress",
          item_id: m.itemId,
          played: m.played,
          buffered: m.buffered,
          underruns: m.underruns,
          t: m.t,
        });
    }
  }

  pttDown() {
    if (this.mode !== "ptt" || this.pttHeld) return;
    this.pttHeld = true;
    if (this.connected) this.send({ type: "ptt", action: "down", seq: this.seq++, t: nowEpoch() });
    this.emit("state");
  }

  pttUp() {
    if (!this.pttHeld) return;
    this.pttHeld = false;
    if (this.connected) this.send({ type: "ptt", action: "up", seq: this.seq++, t: nowEpoch() });
    this.emit("state");
  }

  /** @param {"vad"|"ptt"} mode */
  setMode(mode) {
    if (mode !== "ptt" && this.pttHeld) this.pttUp();
    this.setTraits({ mode });
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    this.setTraits({ muted });
  }

  /** @param {number} v */
  setVolume(v) {
    const x = clampNum(v, 0, 1, 1);
    this.engine?.setVolume(x);
    this.setTraits({ volume: x });
  }

  /** @param {string} text */
  sendText(text) {
    const s = text.trim();
    if (!s) return false;
    this.send({ type: "text", text: s, t: nowEpoch() });
    return true;
  }

  /**
   * RTT probe: resolves to {rtt (ms), pong} or rejects after `timeoutMs`.
   * @param {number} [timeoutMs]
   */
  ping(timeoutMs = 5000) {
    const id = `${this.viewId}-${++this.pingCount}`;
    const t0 = performance.now();
    const sent = nowEpoch();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new Error("ping timeout"));
      }, timeoutMs);
      this.pings.set(id, (pong) => {
        clearTimeout(timer);
        resolve({ rtt: performance.now() - t0, pong, sent });
      });
      this.send({ type: "ping", id, t: sent });
    });
  }

  /**
   * Measure the kernel's wall clock against this page's (a remote kernel's clock may
   * differ) and tell the kernel: a few pings, the fastest one wins (NTP-style).
   * @param {number} [n]
   */
  async syncClock(n = 5) {
    /** @type {{rtt: number, pong: any, sent: number}[]} */
    const samples = [];
    for (let i = 0; i < n; i++) {
      try {
        samples.push(/** @type {any} */ (await this.ping(2000)));
      } catch {
        /* a lost ping: the others decide */
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    const est = clockOffset(samples.map((x) => ({ sent: x.sent, rtt: x.rtt, kernel: x.pong?.t_kernel })));
    if (est) this.send({ type: "clock", offset_ms: est.offset, rtt_ms: est.rtt, samples: samples.length });
  }

  // -- views -----------------------------------------------------------------------

  /** @param {object} view */
  attachView(view) {
    this.views.add(view);
  }

  /** @param {object} view */
  detachView(view) {
    this.views.delete(view);
    if (this.views.size === 0) {
      // no view left: nothing may keep the microphone or an AudioContext
      if (this.pttHeld) this.pttUp();
      this.connected = false;
      this.closeEngine();
    }
  }

  /** The model goes away (initialize cleanup). */
  close() {
    if (this.closed) return;
    if (this.pttHeld) this.pttUp();
    this.closeEngine();
    this.closed = true;
    this.model.off("msg:custom", this._onCustom);
    for (const [k, f] of Object.entries(this._onChange)) this.model.off(`change:${k}`, f);
    this.listeners.clear();
    this.pings.clear();
  }
}

/**
 * Kernel clock minus page clock (ms) from ping samples: the sample with the smallest
 * round trip, assuming its two legs took equally long; its `rtt` bounds the error.
 * @param {{sent: number, rtt: number, kernel: unknown}[]} samples
 * @returns {{offset: number, rtt: number} | null}
 */
export function clockOffset(samples) {
  let best = null;
  for (const s of samples) {
    if (typeof s.kernel !== "number" || !Number.isFinite(s.kernel) || !(s.rtt >= 0)) continue;
    if (best === null || s.rtt < best.rtt) best = s;
  }
  if (best === null) return null;
  return { offset: /** @type {number} */ (best.kernel) - (best.sent + best.rtt / 2), rtt: best.rtt };
}
