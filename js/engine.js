// The model-level audio engine: one AudioContext, the capture and player
// worklets, the microphone track and the output gain. Created lazily by the
// first Connect (a user gesture), shared by all views of the model, closed
// when the last view goes away, on Disconnect, or with the widget.
//
// It knows nothing of the comm protocol: the hub (hub.js) gives it callbacks
// and decides what to send.
import { CAPTURE_WORKLET, PLAYER_WORKLET } from "./worklets/code.js";
import { asInt16, int16ToFloat, WIRE_RATE } from "./dsp.js";

/**
 * @typedef {object} MicProblem
 * @property {"denied"|"absent"|"insecure"|"unsupported"|"error"} status
 * @property {string} message
 */

/**
 * @typedef {object} EngineHooks
 * @property {(c: {pcm: Int16Array, n: number, t: number, rms: number, peak: number}) => void} onChunk
 * @property {(m: any) => void} onPlayer a player message with `t` (epoch ms) added
 * @property {(status: string, message: string) => void} onMicStatus
 * @property {(level: string, message: string) => void} log
 */

/** @returns {number} epoch milliseconds */
export function nowEpoch() {
  return performance.timeOrigin + performance.now();
}

/** True inside a VS Code notebook webview (its UA carries "Code/x.y" and Electron). */
export function inVSCode() {
  const ua = globalThis.navigator?.userAgent ?? "";
  return /\bCode\/\d/.test(ua) && /Electron/.test(ua);
}

/**
 * Problems that are known before asking for the microphone.
 * @returns {MicProblem|null}
 */
export function micSupportProblem() {
  const g = /** @type {any} */ (globalThis);
  if (g.isSecureContext === false) {
    return {
      status: "insecure",
      message:
        "The browser allows the microphone (and audio worklets) only on secure pages, and this page is plain http on " +
        `a remote address (${g.location?.host ?? "?"}). Open JupyterLab over https, or at http://localhost / ` +
        "http://127.0.0.1 — for a remote server, through an SSH tunnel (ssh -L 8888:localhost:8888 your-server). " +
        "Text input still works.",
    };
  }
  if (!g.navigator?.mediaDevices?.getUserMedia || typeof g.AudioWorkletNode === "undefined") {
    return {
      status: "unsupported",
      message:
        "This browser has no microphone capture or AudioWorklet support (navigator.mediaDevices / AudioWorklet " +
        "missing). Use a current Chrome, Edge, Firefox or Safari. Text input still works.",
    };
  }
  return null;
}

/**
 * What a getUserMedia failure means for the user.
 * @param {any} err
 * @returns {MicProblem}
 */
export function classifyMicError(err) {
  const name = err?.name ?? "Error";
  const detail = `(${name}${err?.message ? `: ${err.message}` : ""})`;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    if (inVSCode())
      return {
        status: "denied",
        message:
          "VS Code notebooks block the microphone in their output views. Open this notebook in JupyterLab or " +
          `Notebook 7 in a browser to talk; text input works here. ${detail}`,
      };
    return {
      status: "denied",
      message:
        "The microphone permission was denied. Allow the microphone for this site in the browser's site settings " +
        `(the icon left of the address bar), then click Connect again. Text input still works. ${detail}`,
    };
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError")
    return {
      status: "absent",
      message:
        "No microphone was found. Connect one (or enable it in the system's sound settings), then click Connect " +
        `again. Text input still works. ${detail}`,
    };
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError")
    return {
      status: "error",
      message:
        "The microphone could not be opened: another application may be using it, or the operating system " +
        `blocks the browser from it. ${detail}`,
    };
  return { status: "error", message: `The microphone could not be started. ${detail}` };
}

/**
 * @param {string} code
 * @returns {string}
 */
function blobUrl(code) {
  return URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
}

/**
 * @typedef {object} DebugRecord what tests see in globalThis.__realtimeWidgets
 * @property {AudioEngine} engine
 * @property {AudioContext[]} contexts every AudioContext the engine created
 * @property {{chunksCaptured: number, chunksSent: number, samplesSent: number, audioReceived: number,
 *   samplesReceived: number, underruns: number, played: Record<string, number>,
 *   playedSamples: Record<string, number>, dropped: number}} counters
 * @property {{stopId: any, itemId: any, received: number, silence: number|null, played: number|null}[]} stops
 * @property {{settings: any, sampleRate: number|null, resampling: boolean|null, constraints: any}} capture
 * @property {Float32Array[]} tap
 * @property {() => Float32Array} tapSamples
 * @property {{t: number, itemId: string, offset: number, n: number}[]} arrivals kernel `audio`
 *   messages as they arrived (performance.now() ms; the last 10000)
 * @property {any[]} playback player reports (playback events, with `t` epoch ms; the last 10000)
 */

export class AudioEngine {
  /**
   * @param {EngineHooks} hooks
   * @param {{jitterMs?: number, chunkMs?: number, volume?: number, debug?: DebugRecord[]|null}} opts
   */
  constructor(hooks, opts) {
    this.hooks = hooks;
    this.jitterMs = opts.jitterMs ?? 100;
    this.chunkMs = opts.chunkMs ?? 20;
    this.volume = opts.volume ?? 1;
    /** @type {AudioContext|null} */
    this.ctx = null;
    /** @type {AudioWorkletNode|null} */
    this.player = null;
    /** @type {AudioWorkletNode|null} */
    this.capture = null;
    /** @type {GainNode|null} */
    this.gain = null;
    /** @type {MediaStream|null} */
    this.stream = null;
    /** @type {MediaStreamAudioSourceNode|null} */
    this.source = null;
    /** @type {Promise<void>|null} */
    this.ready = null;
    this.closed = false;
    this.micOn = false;
    this.inLevel = { rms: 0, peak: 0, at: 0 };
    this.outLevel = { rms: 0, peak: 0, at: 0 };
    /** @type {Map<any, {resolve: (m: any) => void, timer: any}>} */
    this.stops = new Map();
    this.lastProgress = /** @type {any} */ (null);
    /** @type {number|null} capture clock: epoch ms at context time 0 (smoothed) */
    this.capAnchor = null;
    this.lastCapT = -Infinity;
    /** @type {[any, any][]} audio that arrived while the player worklet was loading */
    this.early = [];
    /** @type {DebugRecord|null} */
    this.debug = null;
    if (opts.debug) {
      /** @type {DebugRecord} */
      const rec = {
        engine: this,
        contexts: [],
        counters: {
          chunksCaptured: 0,
          chunksSent: 0,
          samplesSent: 0,
          audioReceived: 0,
          samplesReceived: 0,
          underruns: 0,
          played: {},
          playedSamples: {},
          dropped: 0,
        },
        stops: [],
        capture: { settings: null, sampleRate: null, resampling: null, constraints: null },
        tap: [],
        tapSamples() {
          let n = 0;
          for (const c of this.tap) n += c.length;
          const out = new Float32Array(n);
          let at = 0;
          for (const c of this.tap) {
            out.set(c, at);
            at += c.length;
          }
          return out;
        },
        arrivals: [],
        playback: [],
      };
      this.debug = rec;
      opts.debug.push(rec);
    }
  }

  get sampleRate() {
    return this.ctx ? this.ctx.sampleRate : null;
  }

  /**
   * Create (or resume) the AudioContext. Call it synchronously from a user
   * gesture: the context is created before the first await. The returned
   * promise resolves once the player worklet is running.
   * @returns {Promise<void>}
   */
  open() {
    if (this.closed) return Promise.reject(new Error("engine closed"));
    if (this.ctx) {
      if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
      return /** @type {Promise<void>} */ (this.ready);
    }
    const ctx = this._newContext(true);
    if (!ctx) {
      this.ready = Promise.reject(new Error("Web Audio is not available"));
      this.ready.catch(() => {});
      return this.ready;
    }
    this.ready = this._buildPlayer(ctx);
    return this.ready;
  }

  /**
   * @param {boolean} preferWire try a 24 kHz context first
   * @returns {AudioContext|null}
   */
  _newContext(preferWire) {
    const AC = /** @type {typeof AudioContext|undefined} */ (
      /** @type {any} */ (globalThis).AudioContext ?? /** @type {any} */ (globalThis).webkitAudioContext
    );
    if (!AC) {
      this.hooks.log("error", "Web Audio (AudioContext) is not available in this browser");
      return null;
    }
    /** @type {AudioContext|null} */
    let ctx = null;
    if (preferWire) {
      try {
        ctx = new AC({ sampleRate: WIRE_RATE, latencyHint: "interactive" });
        if (ctx.sampleRate !== WIRE_RATE) {
          ctx.close().catch(() => {});
          ctx = null;
        }
      } catch {
        ctx = null;
      }
    }
    if (!ctx) {
      try {
        ctx = new AC({ latencyHint: "interactive" });
      } catch (e) {
        this.hooks.log("error", `AudioContext refused: ${e}`);
        return null;
      }
    }
    ctx.resume().catch(() => {}); // inside the gesture when called from a click
    this.ctx = ctx;
    this.debug?.contexts.push(ctx);
    return ctx;
  }

  /** @param {AudioContext} ctx */
  async _buildPlayer(ctx) {
    if (!ctx.audioWorklet) throw new Error("AudioWorklet is not available (it needs a secure page)");
    const url = blobUrl(PLAYER_WORKLET);
    try {
      await ctx.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    if (this.closed || this.ctx !== ctx) return;
    const gain = ctx.createGain();
    gain.gain.value = this.volume;
    const player = new AudioWorkletNode(ctx, "rtw-player", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { jitterMs: this.jitterMs, tap: !!this.debug },
    });
    player.port.onmessage = (e) => this._onPlayer(e.data);
    player.connect(gain);
    gain.connect(ctx.destination);
    this.player = player;
    this.gain = gain;
    const early = this.early;
    this.early = [];
    for (const [msg, buffer] of early) this.enqueue(msg, buffer);
  }

  /**
   * Map a context time (s) to the epoch ms at which that frame reaches the
   * output (getOutputTimestamp when the context reports it).
   * @param {number} t
   * @returns {number}
   */
  ctxTimeToEpoch(t) {
    const ctx = this.ctx;
    if (!ctx) return nowEpoch();
    const ts = typeof ctx.getOutputTimestamp === "function" ? ctx.getOutputTimestamp() : null;
    if (ts && ts.performanceTime && ts.contextTime)
      return performance.timeOrigin + ts.performanceTime + (t - ts.contextTime) * 1000;
    const lat = (ctx.baseLatency || 0) + (/** @type {any} */ (ctx).outputLatency || 0);
    return nowEpoch() + (t - ctx.currentTime + lat) * 1000;
  }

  /**
   * Epoch ms at which a captured frame entered the graph: its output time
   * minus the output latency (the render thread runs that far ahead of the
   * speaker). The context → epoch offset is smoothed (it may move by at most
   * 0.5 ms per chunk, enough for clock drift, not for the jitter of
   * getOutputTimestamp), never puts a chunk in the future, and the times of
   * successive chunks strictly increase.
   * @param {number} t context time (s)
   */
  captureTimeToEpoch(t) {
    const ctx = this.ctx;
    if (!ctx) return nowEpoch();
    const lat = (ctx.baseLatency || 0) + (/** @type {any} */ (ctx).outputLatency || 0);
    const est = this.ctxTimeToEpoch(t) - lat * 1000 - t * 1000;
    if (this.capAnchor === null) this.capAnchor = est;
    else this.capAnchor += Math.max(-0.5, Math.min(0.5, est - this.capAnchor));
    let epoch = this.capAnchor + t * 1000;
    const now = nowEpoch();
    if (epoch > now) {
      this.capAnchor -= epoch - now;
      epoch = now;
    }
    if (epoch <= this.lastCapT) epoch = this.lastCapT + 0.001;
    this.lastCapT = epoch;
    return epoch;
  }

  /**
   * Open the microphone with the given processing constraints. Resolves to
   * null when it runs, or to the problem (also reported through onMicStatus).
   * @param {{echoCancellation: boolean, noiseSuppression: boolean, autoGainControl: boolean}} c
   * @returns {Promise<MicProblem|null>}
   */
  async startMic(c) {
    if (this.micOn || this.closed) return null;
    const pre = micSupportProblem();
    if (pre) {
      this.hooks.onMicStatus(pre.status, pre.message);
      return pre;
    }
    this.hooks.onMicStatus("starting", "");
    const constraints = {
      echoCancellation: !!c.echoCancellation,
      noiseSuppression: !!c.noiseSuppression,
      autoGainControl: !!c.autoGainControl,
      channelCount: 1,
    };
    /** @type {MediaStream} */
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: constraints });
    } catch (e) {
      const p = classifyMicError(e);
      this.hooks.onMicStatus(p.status, p.message);
      return p;
    }
    if (this.closed) {
      for (const t of stream.getTracks()) t.stop();
      return null;
    }
    this.stream = stream;
    try {
      await this.ready;
      await this._buildCapture(/** @type {AudioContext} */ (this.ctx), stream);
    } catch (e) {
      const err = /** @type {any} */ (e);
      if (err?.name === "NotSupportedError" && this.ctx && this.ctx.sampleRate === WIRE_RATE) {
        // Firefox refuses a MediaStream source at another rate: fall back to a
        // default-rate context (allowed without a gesture: capture is active)
        this.hooks.log("info", "24 kHz AudioContext refused the microphone; using the default rate and resampling");
        await this._rebuildAtDefaultRate();
        try {
          await this._buildCapture(/** @type {AudioContext} */ (this.ctx), stream);
        } catch (e2) {
          return this._micFailed(e2);
        }
      } else {
        return this._micFailed(e);
      }
    }
    if (this.closed) return null;
    this.micOn = true;
    const track = stream.getAudioTracks()[0];
    track?.addEventListener("ended", () => {
      if (this.closed) return;
      this.micOn = false;
      this.hooks.onMicStatus("error", "The microphone stopped (device unplugged or permission revoked).");
    });
    if (this.debug) {
      this.debug.capture = {
        settings: track?.getSettings ? track.getSettings() : null,
        sampleRate: this.ctx?.sampleRate ?? null,
        resampling: this.ctx ? this.ctx.sampleRate !== WIRE_RATE : null,
        constraints,
      };
    }
    this.hooks.onMicStatus("on", "");
    return null;
  }

  /** @param {any} e */
  _micFailed(e) {
    this._stopTracks();
    const msg = `The microphone could not be connected to the audio graph (${e?.name ?? "Error"}: ${e?.message ?? e}).`;
    this.hooks.log("error", msg);
    this.hooks.onMicStatus("error", msg);
    return /** @type {MicProblem} */ ({ status: "error", message: msg });
  }

  async _rebuildAtDefaultRate() {
    const old = this.ctx;
    // only the context and its nodes are rebuilt: the microphone stays open (the
    // capture is rebuilt on it), and close() meanwhile still stops it
    const stream = this.stream;
    this.stream = null;
    this._teardownNodes();
    this.stream = stream;
    this.ctx = null;
    old?.close().catch(() => {});
    const ctx = this._newContext(false);
    if (!ctx) throw new Error("no AudioContext");
    this.ready = this._buildPlayer(ctx);
    await this.ready;
  }

  /**
   * @param {AudioContext} ctx
   * @param {MediaStream} stream
   */
  async _buildCapture(ctx, stream) {
    const source = ctx.createMediaStreamSource(stream); // may throw NotSupportedError (rate mismatch)
    const url = blobUrl(CAPTURE_WORKLET);
    try {
      await ctx.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    if (this.closed || this.ctx !== ctx) {
      source.disconnect();
      return;
    }
    const capture = new AudioWorkletNode(ctx, "rtw-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
      processorOptions: { chunkMs: this.chunkMs },
    });
    capture.port.onmessage = (e) => this._onCapture(e.data);
    this.capAnchor = null; // a new context clock
    source.connect(capture);
    this.source = source;
    this.capture = capture;
  }

  /** @param {any} m */
  _onCapture(m) {
    if (m?.type !== "chunk") return;
    this.inLevel = { rms: m.rms, peak: m.peak, at: performance.now() };
    if (this.debug) this.debug.counters.chunksCaptured += 1;
    this.hooks.onChunk({ pcm: m.pcm, n: m.n, t: this.captureTimeToEpoch(m.end), rms: m.rms, peak: m.peak });
  }

  /** Count a chunk that the hub sent (debug counters). @param {number} n */
  countSent(n) {
    if (!this.debug) return;
    this.debug.counters.chunksSent += 1;
    this.debug.counters.samplesSent += n;
  }

  /** @param {any} m */
  _onPlayer(m) {
    if (!m || typeof m !== "object") return;
    const d = this.debug;
    if (m.type === "level") {
      this.outLevel = { rms: m.rms, peak: m.peak, at: performance.now() };
      return;
    }
    if (m.type === "progress") {
      this.outLevel = { rms: m.rms, peak: m.peak, at: performance.now() };
      if (d && m.tap) d.tap.push(m.tap);
      if (d) d.counters.underruns = m.underruns;
      if (d && m.itemId !== null) d.counters.played[m.itemId] = m.played;
    }
    if (m.type === "dropped") {
      if (d) d.counters.dropped += m.n;
      return;
    }
    const t = this.ctxTimeToEpoch(m.time);
    if (m.type === "interrupted") {
      const waiter = this.stops.get(m.stopId);
      if (waiter) {
        clearTimeout(waiter.timer);
        this.stops.delete(m.stopId);
        waiter.resolve({ itemId: m.itemId, played: m.played, t });
      }
      if (d) {
        if (m.itemId !== null) d.counters.played[m.itemId] = m.played;
        const rec = d.stops.find((s) => s.stopId === m.stopId && s.silence === null);
        if (rec) {
          rec.silence = t;
          rec.played = m.played;
          rec.itemId = m.itemId;
        }
      }
      return;
    }
    if (m.type === "progress") {
      this.lastProgress = m;
      if (d) {
        d.playback.push({ event: "progress", itemId: m.itemId, played: m.played, buffered: m.buffered, t, at: performance.now() });
        if (d.playback.length > 10000) d.playback.splice(0, 1000);
      }
    }
    if (d && m.type === "playback") {
      if (m.itemId !== null) d.counters.played[m.itemId] = m.played;
      d.playback.push({ event: m.event, itemId: m.itemId, played: m.played, t, at: performance.now() });
      if (d.playback.length > 10000) d.playback.splice(0, 1000);
    }
    this.hooks.onPlayer({ ...m, t });
  }

  /**
   * Queue one kernel `audio` message.
   * @param {{item_id: string, response_id?: string|null, offset?: number}} msg
   * @param {DataView|ArrayBuffer|ArrayBufferView} buffer PCM16 24 kHz
   */
  enqueue(msg, buffer) {
    if (!this.player) {
      // the worklet is still loading: keep the audio (up to ~5 min) for it
      if (this.closed || !this.ctx || this.early.length >= 6000) return false;
      this.early.push([msg, asInt16(buffer).slice()]);
      return true;
    }
    const pcm = asInt16(buffer);
    const samples = int16ToFloat(pcm);
    const d = this.debug;
    if (d) {
      d.counters.audioReceived += 1;
      d.counters.samplesReceived += samples.length;
      d.arrivals.push({ t: performance.now(), itemId: msg.item_id, offset: msg.offset ?? 0, n: samples.length });
      if (d.arrivals.length > 10000) d.arrivals.splice(0, 1000);
    }
    this.player.port.postMessage(
      {
        type: "audio",
        itemId: msg.item_id,
        responseId: msg.response_id ?? null,
        offset: msg.offset ?? 0,
        samples,
      },
      [samples.buffer],
    );
    return true;
  }

  /**
   * Stop playback at once; resolves to what was interrupted.
   * @param {any} stopId
   * @param {string|null} itemId
   * @returns {Promise<{itemId: string|null, played: number, t: number}>}
   */
  stop(stopId, itemId) {
    const received = nowEpoch();
    const key = stopId ?? `stop-${received}`;
    if (this.debug) this.debug.stops.push({ stopId: key, itemId, received, silence: null, played: null });
    if (!this.player) {
      this.early = []; // nothing has played yet
      return Promise.resolve({ itemId: null, played: 0, t: received });
    }
    this.player.port.postMessage({ type: "stop", stopId: key, itemId });
    return new Promise((resolve) => {
      // the worklet answers before its next quantum; a suspended context may
      // not: fall back to the last progress report
      const timer = setTimeout(() => {
        this.stops.delete(key);
        const p = this.lastProgress;
        resolve({ itemId: p?.itemId ?? null, played: p?.played ?? 0, t: nowEpoch() });
      }, 300);
      this.stops.set(key, { resolve, timer });
    });
  }

  /** @param {number} v 0..1 */
  setVolume(v) {
    this.volume = v;
    if (this.gain && this.ctx) this.gain.gain.setTargetAtTime(v, this.ctx.currentTime, 0.015);
  }

  /** @param {number} ms */
  setJitterMs(ms) {
    this.jitterMs = ms;
    this.player?.port.postMessage({ type: "config", jitterMs: ms });
  }

  /** @param {number} ms */
  setChunkMs(ms) {
    this.chunkMs = ms;
    this.capture?.port.postMessage({ type: "config", chunkMs: ms });
  }

  /** Stop the microphone (tracks and capture node); playback keeps going. */
  stopMic() {
    this._stopTracks();
    if (this.capture) {
      this.capture.port.postMessage({ type: "close" });
      this.capture.port.onmessage = null;
      this.capture.disconnect();
      this.capture = null;
    }
    this.source?.disconnect();
    this.source = null;
    this.micOn = false;
    this.inLevel = { rms: 0, peak: 0, at: 0 };
  }

  _stopTracks() {
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
  }

  _teardownNodes() {
    this.early = [];
    this.stopMic();
    if (this.player) {
      this.player.port.postMessage({ type: "close" });
      this.player.port.onmessage = null;
      this.player.disconnect();
      this.player = null;
    }
    this.gain?.disconnect();
    this.gain = null;
  }

  /** Release everything: tracks, nodes, the AudioContext. Idempotent. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this._teardownNodes();
    for (const [, w] of this.stops) {
      clearTimeout(w.timer);
      w.resolve({ itemId: null, played: 0, t: nowEpoch() });
    }
    this.stops.clear();
    const ctx = this.ctx;
    this.ctx = null;
    if (ctx && ctx.state !== "closed") ctx.close().catch(() => {});
    this.outLevel = { rms: 0, peak: 0, at: 0 };
  }
}
