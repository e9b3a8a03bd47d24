// AudioWorkletProcessor "rtw-capture": microphone → mono → 24 kHz → PCM16 chunks.
//
// A thin wrapper over dsp.js (Resampler, Chunker). Runs in the
// AudioWorkletGlobalScope (globals: sampleRate, currentFrame, registerProcessor).
//
// Port messages in:  {type: "config", chunkMs} | {type: "close"}
// Port messages out: {type: "chunk", pcm: Int16Array (transferred), n, end, rms, peak}
//   `end`: context time (s) at the END of the chunk's last sample, i.e. the
//   context time of the sample that follows it.
import { Chunker, mixToMono, Resampler, WIRE_RATE } from "../dsp.js";

/** @param {number} ms */
function chunkSamples(ms) {
  const v = Math.min(100, Math.max(10, Number(ms) || 20));
  return Math.round((WIRE_RATE * v) / 1000);
}

class CaptureProcessor extends AudioWorkletProcessor {
  /** @param {{processorOptions?: {chunkMs?: number}}} [options] */
  constructor(options) {
    super();
    const o = options?.processorOptions ?? {};
    this.resampler = new Resampler(sampleRate, WIRE_RATE);
    this.chunker = new Chunker(chunkSamples(o.chunkMs ?? 20));
    this.mono = new Float32Array(128);
    /** @type {number|null} context frame of input sample 0 */
    this.frame0 = null;
    this.inCount = 0;
    this.alive = true;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  /** @param {any} m */
  onMessage(m) {
    if (!m || typeof m !== "object") return;
    if (m.type === "config" && m.chunkMs !== undefined) this.chunker.setChunkSamples(chunkSamples(m.chunkMs));
    else if (m.type === "close") this.alive = false;
  }

  /** @param {Float32Array[][]} inputs */
  process(inputs) {
    if (!this.alive) return false;
    const input = inputs[0] ?? [];
    const n = input.length > 0 ? input[0].length : 128;
    if (this.frame0 === null) this.frame0 = currentFrame;
    else if (currentFrame !== this.frame0 + this.inCount) this.frame0 = currentFrame - this.inCount; // re-anchor after a gap
    if (this.mono.length !== n) this.mono = new Float32Array(n);
    mixToMono(input, this.mono);
    this.inCount += n;
    const y = this.resampler.process(this.mono);
    if (y.length > 0) {
      for (const c of this.chunker.push(y)) {
        const endFrame = this.frame0 + this.resampler.inputPosition(c.end);
        this.port.postMessage(
          { type: "chunk", pcm: c.pcm, n: c.pcm.length, end: endFrame / sampleRate, rms: c.rms, peak: c.peak },
          [c.pcm.buffer],
        );
      }
    }
    return true;
  }
}

registerProcessor("rtw-capture", CaptureProcessor);
