// AudioWorkletProcessor "rtw-player": model audio (24 kHz float) → output.
//
// A thin wrapper over dsp.js PlayerCore (ring buffer, start threshold,
// resampling to the context rate, exact per-item accounting).
//
// Port messages in:
//   {type: "audio", itemId, responseId, offset, samples: Float32Array (24 kHz)}
//   {type: "stop", stopId, itemId}
//   {type: "config", jitterMs?, tap?}
//   {type: "close"}
// Port messages out (times are context seconds):
//   {type: "playback", event: "started"|"stopped"|"drained", itemId, responseId, played, time}
//   {type: "interrupted", stopId, itemId, played, time}     time = first silent frame
//   {type: "progress", itemId, played, buffered, underruns, time, rms, peak, tap?}
//   {type: "level", rms, peak}                               ~every 50 ms while active
//   {type: "dropped", itemId, n}                             audio of a stopped item
import { PlayerCore } from "../dsp.js";

class PlayerProcessor extends AudioWorkletProcessor {
  /** @param {{processorOptions?: {jitterMs?: number, tap?: boolean}}} [options] */
  constructor(options) {
    super();
    const o = options?.processorOptions ?? {};
    this.core = new PlayerCore({ outRate: sampleRate, jitterMs: o.jitterMs ?? 100, tap: !!o.tap });
    this.levelEvery = Math.round(sampleRate * 0.05);
    this.sinceLevel = 0;
    this.ticks = 0;
    this.sum = 0;
    this.count = 0;
    this.peak = 0;
    this.wasActive = false;
    this.alive = true;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  /** @param {any} m */
  onMessage(m) {
    if (!m || typeof m !== "object") return;
    const core = this.core;
    if (m.type === "audio") {
      if (!core.enqueue(String(m.itemId), m.responseId ?? null, m.offset ?? 0, m.samples))
        this.port.postMessage({ type: "dropped", itemId: m.itemId, n: m.samples.length });
    } else if (m.type === "stop") {
      // the last report before the stop carries the final counts (and the tap)
      if (core.state !== "idle" || core.current !== null || core.tapChunks.length > 0)
        this.postProgress(currentTime, true);
      const r = core.stop(m.itemId ?? null);
      this.port.postMessage({
        type: "interrupted",
        stopId: m.stopId ?? null,
        itemId: r.itemId,
        played: r.played,
        time: r.frame / sampleRate,
      });
    } else if (m.type === "config") {
      if (m.jitterMs !== undefined) core.setJitterMs(m.jitterMs);
      if (m.tap !== undefined) core.tap = !!m.tap;
    } else if (m.type === "close") {
      this.alive = false;
    }
  }

  /**
   * @param {number} time
   * @param {boolean} [force]
   */
  postProgress(time, force = false) {
    const core = this.core;
    const item = core.current ?? core.dryItem ?? core.pending[0]?.itemId ?? core.segs[0]?.itemId ?? null;
    /** @type {any} */
    const msg = {
      type: "progress",
      itemId: item,
      played: item === null ? 0 : core.played(item),
      buffered: core.unplayed,
      underruns: core.underruns,
      time,
      rms: this.count > 0 ? Math.sqrt(this.sum / this.count) : 0,
      peak: this.peak,
      force,
    };
    /** @type {Transferable[]} */
    const transfer = [];
    if (core.tap && core.tapChunks.length > 0) {
      msg.tap = core.takeTap();
      transfer.push(msg.tap.buffer);
    }
    this.port.postMessage(msg, transfer);
  }

  /**
   * @param {Float32Array[][]} _inputs
   * @param {Float32Array[][]} outputs
   */
  process(_inputs, outputs) {
    if (!this.alive) return false;
    const out = outputs[0];
    if (!out || out.length === 0) return true;
    const ch0 = out[0];
    const core = this.core;
    core.render(ch0, currentFrame);
    for (let c = 1; c < out.length; c++) out[c].set(ch0);
    const events = core.takeEvents();
    // an item ended or the queue ran dry: report the final counts (and the
    // tap) first, so that whoever sees the event sees them too
    if (events.some((e) => e.event !== "started")) this.postProgress(currentTime);
    for (const e of events) {
      this.port.postMessage({
        type: "playback",
        event: e.event,
        itemId: e.itemId,
        responseId: e.responseId ?? null,
        played: e.played,
        time: e.frame / sampleRate,
      });
    }
    const active = core.state !== "idle" || core.pending.length > 0 || core.current !== null;
    if (active || this.wasActive) {
      for (let i = 0; i < ch0.length; i++) {
        const v = ch0[i];
        this.sum += v * v;
        const a = v < 0 ? -v : v;
        if (a > this.peak) this.peak = a;
      }
      this.count += ch0.length;
      this.sinceLevel += ch0.length;
      if (this.sinceLevel >= this.levelEvery) {
        this.sinceLevel = 0;
        this.ticks += 1;
        if (this.ticks % 2 === 0 || !active) this.postProgress(currentTime);
        else this.port.postMessage({ type: "level", rms: Math.sqrt(this.sum / this.count), peak: this.peak });
        this.sum = 0;
        this.count = 0;
        this.peak = 0;
        if (!active) this.wasActive = false;
      }
      if (active) this.wasActive = true;
    }
    return true;
  }
}

registerProcessor("rtw-player", PlayerProcessor);
