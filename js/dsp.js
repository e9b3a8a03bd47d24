// Pure DSP and sample accounting for realtime_widget.
//
// No DOM, no Web Audio: this module is imported by the AudioWorklet processors
// (bundled into them), by the main-thread engine, and by the node unit tests.
//
// Units: the wire format is mono PCM16 at 24 kHz ("24k"). Player accounting is
// always in 24k samples, exact integers. Audio-context time is in frames of the
// context's own rate.

/** Sample rate of all audio on the comm (PCM16 mono). */
export const WIRE_RATE = 24000;

// -- PCM conversion -----------------------------------------------------------

/**
 * Float [-1, 1] → int16, clipped, rounded half to even: the same numbers as the
 * kernel's `as_int16` (`np.clip(np.round(x * 32767), -32768, 32767)`). NaN → 0.
 * @param {ArrayLike<number>} src
 * @param {Int16Array} [dst]
 * @returns {Int16Array}
 */
export function floatToInt16(src, dst = new Int16Array(src.length)) {
  const n = src.length;
  for (let i = 0; i < n; i++) {
    let v = src[i] * 32767;
    if (!(v > -32768)) v = v !== v ? 0 : -32768; // NaN and -inf/clip low
    else if (v > 32767) v = 32767;
    let r = Math.round(v);
    if (r - v === 0.5 && r & 1) r -= 1; // half to even (Math.round rounds half up)
    dst[i] = r;
  }
  return dst;
}

/**
 * int16 → float in [-1, 1): x / 32768 (the kernel's `to_float32`).
 * @param {ArrayLike<number>} src
 * @param {Float32Array} [dst]
 * @returns {Float32Array}
 */
export function int16ToFloat(src, dst = new Float32Array(src.length)) {
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = src[i] / 32768;
  return dst;
}

/**
 * View a received buffer (DataView / ArrayBuffer / typed array) as Int16 samples,
 * copying only when its byte offset is odd (Int16Array needs 2-byte alignment).
 * @param {ArrayBuffer | ArrayBufferView} buf
 * @returns {Int16Array}
 */
export function asInt16(buf) {
  if (buf instanceof Int16Array) return buf;
  if (buf instanceof ArrayBuffer) return new Int16Array(buf, 0, buf.byteLength >> 1);
  const n = buf.byteLength >> 1;
  if (buf.byteOffset % 2 === 0) return new Int16Array(buf.buffer, buf.byteOffset, n);
  const copy = new Uint8Array(n * 2);
  copy.set(new Uint8Array(buf.buffer, buf.byteOffset, n * 2));
  return new Int16Array(copy.buffer);
}

/**
 * RMS and peak of `x[start:end]`.
 * @param {Float32Array} x
 * @param {number} [start]
 * @param {number} [end]
 * @returns {{rms: number, peak: number}}
 */
export function levels(x, start = 0, end = x.length) {
  let sum = 0;
  let peak = 0;
  for (let i = start; i < end; i++) {
    const v = x[i];
    sum += v * v;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
  }
  const n = end - start;
  return { rms: n > 0 ? Math.sqrt(sum / n) : 0, peak };
}

/**
 * Mix the channels of one worklet input to mono (average) into `out`.
 * @param {Float32Array[]} channels
 * @param {Float32Array} out
 * @returns {Float32Array} `out` (or a zeroed `out` when there are no channels)
 */
export function mixToMono(channels, out) {
  const nch = channels.length;
  if (nch === 0) {
    out.fill(0);
    return out;
  }
  if (nch === 1) {
    out.set(channels[0]);
    return out;
  }
  const g = 1 / nch;
  const n = out.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < nch; c++) s += channels[c][i];
    out[i] = s * g;
  }
  return out;
}

// -- resampling ---------------------------------------------------------------

/** @param {number} a @param {number} b @returns {number} */
function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (Kaiser window). */
function besselI0(x) {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

const MAX_PHASES = 1024;

/**
 * Streaming band-limited resampler (polyphase windowed sinc, Kaiser window).
 *
 * Output sample `j` is the input signal evaluated at input position
 * `j * inRate / outRate` exactly (sample 0 on sample 0: no phase shift, no
 * group delay in the numbers; the only cost is a look-ahead of `halfWidth`
 * input samples before an output can be computed). When downsampling the
 * kernel's cutoff is scaled to the output Nyquist, so it is a proper anti-alias
 * low-pass plus interpolation; when upsampling it removes images. Each phase is
 * normalised to unit DC gain. Input before sample 0 (and after the end on
 * `flush`) is taken as zeros.
 *
 * Streaming is exact: feeding the input in any split gives bit-identical
 * output to feeding it at once. Equal rates pass samples through untouched.
 *
 * The rational step is tracked with integers, so positions never drift. Rates
 * whose reduced ratio needs more than 1024 phases use the nearest of 1024
 * (timing error < 0.0005 input samples).
 */
export class Resampler {
  /**
   * @param {number} inRate input sample rate (Hz, integer)
   * @param {number} outRate output sample rate (Hz, integer)
   * @param {{zeroCrossings?: number, rolloff?: number, beta?: number}} [opts]
   */
  constructor(inRate, outRate, opts = {}) {
    inRate = Math.round(inRate);
    outRate = Math.round(outRate);
    if (!(inRate > 0 && outRate > 0)) throw new RangeError("sample rates must be positive");
    const g = gcd(inRate, outRate);
    /** input samples per `up` outputs: output j sits at input position j*down/up */
    this.down = inRate / g;
    this.up = outRate / g;
    this.inRate = inRate;
    this.outRate = outRate;
    this.identity = inRate === outRate;
    const zc = opts.zeroCrossings ?? 10;
    const rolloff = opts.rolloff ?? 0.92;
    const beta = opts.beta ?? 7;
    // cutoff as a fraction of the input rate (Nyquist = 0.5)
    const fc = 0.5 * rolloff * Math.min(1, outRate / inRate);
    /** look-ahead (and history) in input samples */
    this.halfWidth = this.identity ? 0 : Math.ceil(zc / (2 * fc));
    this.phases = this.identity ? 1 : Math.min(this.up, MAX_PHASES);
    /** input samples needed after an output's integer position (+1 when phases are rounded) */
    this.look = this.halfWidth + (this.phases < this.up ? 1 : 0);
    const H = this.halfWidth;
    const taps = 2 * H;
    this.taps = taps;
    /** coefficients: phases × taps; phase p is the fractional position p/phases */
    this.coeffs = new Float32Array(this.phases * taps);
    if (!this.identity) {
      const i0b = besselI0(beta);
      for (let p = 0; p < this.phases; p++) {
        const frac = p / this.phases;
        let sum = 0;
        const row = new Float64Array(taps);
        for (let i = 0; i < taps; i++) {
          const x = frac + H - 1 - i; // distance from the output position to tap k
          const u = x / H;
          let w = 0;
          if (u > -1 && u < 1) w = besselI0(beta * Math.sqrt(1 - u * u)) / i0b;
          const a = 2 * fc * x;
          const s = a === 0 ? 1 : Math.sin(Math.PI * a) / (Math.PI * a);
          row[i] = 2 * fc * s * w;
          sum += row[i];
        }
        for (let i = 0; i < taps; i++) this.coeffs[p * taps + i] = row[i] / sum;
      }
    }
    this._outBuf = new Float32Array(256);
    this.reset();
  }

  /** Forget all input and output (next output is j = 0 at input position 0). */
  reset() {
    const H = this.halfWidth;
    /** history: hist[i] is input sample (histStart + i) */
    this.hist = new Float32Array(Math.max(64, 4 * H + 256));
    this.histStart = -H; // H virtual zeros before sample 0
    this.histLen = H;
    /** input samples received */
    this.inCount = 0;
    /** outputs produced */
    this.outCount = 0;
    // position of the next output: idx + rem/up
    this.idx = 0;
    this.rem = 0;
    /** absolute index of the last non-zero input sample (skip work on silence) */
    this.lastNonZero = -Infinity;
  }

  /**
   * Input position (in input samples, may be fractional) of output sample `j`.
   * @param {number} j
   * @returns {number}
   */
  inputPosition(j) {
    return (j * this.down) / this.up;
  }

  /**
   * Number of outputs with input position < `inCount` (what `flush` would
   * produce in total for that much input).
   * @param {number} inCount
   */
  outputsFor(inCount) {
    return Math.ceil((inCount * this.up) / this.down);
  }

  /**
   * Append input samples.
   * @param {ArrayLike<number>} input
   */
  push(input) {
    const n = input.length;
    if (n === 0) return;
    if (this.histLen + n > this.hist.length) {
      // drop history no future output needs, then grow if still short
      this._compact();
      if (this.histLen + n > this.hist.length) {
        let cap = this.hist.length;
        while (cap < this.histLen + n) cap *= 2;
        const h = new Float32Array(cap);
        h.set(this.hist.subarray(0, this.histLen));
        this.hist = h;
      }
    }
    const base = this.histLen;
    for (let i = 0; i < n; i++) {
      const v = input[i];
      this.hist[base + i] = v;
      if (v !== 0) this.lastNonZero = this.inCount + i;
    }
    this.histLen += n;
    this.inCount += n;
  }

  _compact() {
    // oldest sample the next output needs
    const keepFrom = this.identity ? this.outCount : this.idx - this.halfWidth + 1;
    const drop = keepFrom - this.histStart;
    if (drop <= 0) return;
    this.hist.copyWithin(0, drop, this.histLen);
    this.histLen -= drop;
    this.histStart += drop;
  }

  /** Outputs that can be computed from the input received so far. */
  available() {
    if (this.identity) return this.inCount - this.outCount;
    // output at idx needs input up to idx + H (strictly below inCount)
    const lastIdx = this.inCount - 1 - this.look;
    if (lastIdx < this.idx) return 0;
    // count j >= outCount with floor(j*down/up) <= lastIdx  ⇔  j*down < (lastIdx+1)*up
    const jEnd = Math.ceil(((lastIdx + 1) * this.up) / this.down); // first j beyond
    return Math.max(0, jEnd - this.outCount);
  }

  /**
   * Input samples still needed before `n` more outputs can be pulled.
   * @param {number} n
   */
  needed(n) {
    if (n <= 0) return 0;
    const jLast = this.outCount + n - 1;
    const idxLast = Math.floor((jLast * this.down) / this.up);
    return Math.max(0, idxLast + this.look + 1 - this.inCount);
  }

  /**
   * Compute up to `n` outputs into `out[0:]`; returns how many.
   * @param {Float32Array} out
   * @param {number} [n]
   * @returns {number}
   */
  pull(out, n = out.length) {
    const m = Math.min(n, this.available());
    if (m <= 0) return 0;
    if (this.identity) {
      // history starts at outCount: hand out its first m samples
      out.set(this.hist.subarray(0, m));
      this.hist.copyWithin(0, m, this.histLen);
      this.histLen -= m;
      this.histStart += m;
      this.outCount += m;
      this.idx = this.outCount;
      return m;
    }
    const H = this.halfWidth;
    const taps = this.taps;
    const up = this.up;
    const down = this.down;
    const P = this.phases;
    const stepInt = Math.floor(down / up);
    const stepRem = down % up;
    const hist = this.hist;
    const coeffs = this.coeffs;
    let idx = this.idx;
    let rem = this.rem;
    for (let j = 0; j < m; j++) {
      let k0 = idx - H + 1; // first tap
      let phase;
      if (P === up) phase = rem;
      else {
        phase = Math.floor((rem * P) / up + 0.5);
        if (phase === P) {
          phase = 0;
          k0 += 1; // rounded up to the next integer position (`look` covers its last tap)
        }
      }
      let acc = 0;
      if (k0 <= this.lastNonZero) {
        const off = k0 - this.histStart;
        const c = phase * taps;
        for (let i = 0; i < taps; i++) acc += hist[off + i] * coeffs[c + i];
      }
      out[j] = acc;
      idx += stepInt;
      rem += stepRem;
      if (rem >= up) {
        rem -= up;
        idx += 1;
      }
    }
    this.idx = idx;
    this.rem = rem;
    this.outCount += m;
    return m;
  }

  /**
   * Push `input` and return every output now available. The returned array is
   * an internal buffer, valid until the next call.
   * @param {ArrayLike<number>} input
   * @returns {Float32Array}
   */
  process(input) {
    this.push(input);
    const n = this.available();
    if (this._outBuf.length < n) this._outBuf = new Float32Array(Math.max(n, this._outBuf.length * 2));
    const m = this.pull(this._outBuf, n);
    return this._outBuf.subarray(0, m);
  }

  /**
   * End of stream: return the remaining outputs (those with input position
   * before the end of the input), with zeros as the input beyond the end.
   * Afterwards `outCount === outputsFor(inCount)`. Call `reset()` to reuse.
   * @returns {Float32Array}
   */
  flush() {
    const total = this.outputsFor(this.inCount);
    const want = total - this.outCount;
    if (want <= 0) return new Float32Array(0);
    const realIn = this.inCount;
    this.push(new Float32Array(this.needed(want)));
    const out = new Float32Array(want);
    this.pull(out, want);
    this.inCount = realIn; // padding is not input
    return out;
  }
}

/**
 * One-shot resampling of a whole signal (equals streaming + flush).
 * @param {ArrayLike<number>} x
 * @param {number} inRate
 * @param {number} outRate
 * @returns {Float32Array}
 */
export function resample(x, inRate, outRate) {
  const r = new Resampler(inRate, outRate);
  const a = r.process(x).slice();
  const b = r.flush();
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// -- capture: chunker -----------------------------------------------------------

/**
 * @typedef {object} Chunk
 * @property {Int16Array} pcm PCM16 samples (its own ArrayBuffer: transferable)
 * @property {number} start index (24k samples since capture start) of the first sample
 * @property {number} end index just after the last sample (= start + pcm.length)
 * @property {number} rms RMS level of the chunk (float scale)
 * @property {number} peak peak level of the chunk (float scale)
 */

/**
 * Cuts a float stream (at the wire rate) into PCM16 chunks of a fixed length,
 * whatever the size of the pieces pushed. A new length (setChunkSamples) takes
 * effect at the next chunk boundary.
 */
export class Chunker {
  /** @param {number} chunkSamples */
  constructor(chunkSamples) {
    this.size = Math.max(1, Math.round(chunkSamples));
    this.nextSize = this.size;
    this.buf = new Float32Array(this.size);
    this.fill = 0;
    /** samples pushed so far */
    this.count = 0;
  }

  /** @param {number} n */
  setChunkSamples(n) {
    this.nextSize = Math.max(1, Math.round(n));
    if (this.fill === 0) this._applySize();
  }

  _applySize() {
    if (this.nextSize !== this.size) {
      this.size = this.nextSize;
      this.buf = new Float32Array(this.size);
    }
  }

  /**
   * @param {Float32Array} x
   * @returns {Chunk[]} the chunks completed by this piece (often none)
   */
  push(x) {
    /** @type {Chunk[]} */
    const out = [];
    let i = 0;
    const n = x.length;
    while (i < n) {
      const take = Math.min(this.size - this.fill, n - i);
      this.buf.set(x.subarray(i, i + take), this.fill);
      this.fill += take;
      i += take;
      this.count += take;
      if (this.fill === this.size) {
        const { rms, peak } = levels(this.buf);
        const end = this.count;
        out.push({ pcm: floatToInt16(this.buf), start: end - this.size, end, rms, peak });
        this.fill = 0;
        this._applySize();
      }
    }
    return out;
  }
}

// -- playback: ring buffer ------------------------------------------------------

/**
 * Growable float FIFO (ring buffer). `read`/`write` are counters whose
 * difference is the fill; they are re-based when the buffer grows.
 */
export class Ring {
  /** @param {number} [capacity] initial capacity (grows by doubling) */
  constructor(capacity = 1 << 18) {
    let cap = 1;
    while (cap < capacity) cap <<= 1;
    this.buf = new Float32Array(cap);
    this.mask = cap - 1;
    this.read = 0;
    this.write = 0;
  }

  get size() {
    return this.write - this.read;
  }

  get capacity() {
    return this.buf.length;
  }

  /** @param {Float32Array} x */
  push(x) {
    const n = x.length;
    if (this.size + n > this.buf.length) this._grow(this.size + n);
    const cap = this.buf.length;
    const w = this.write & this.mask;
    const first = Math.min(n, cap - w);
    this.buf.set(x.subarray(0, first), w);
    if (n > first) this.buf.set(x.subarray(first), 0);
    this.write += n;
  }

  /** @param {number} need */
  _grow(need) {
    let cap = this.buf.length;
    while (cap < need) cap <<= 1;
    const nb = new Float32Array(cap);
    const n = this.size;
    this._copyOut(nb, 0, n);
    this.buf = nb;
    this.mask = cap - 1;
    this.read = 0;
    this.write = n;
  }

  /**
   * Copy `n` samples from the read position into `dst[at:]` without consuming.
   * @param {Float32Array} dst
   * @param {number} at
   * @param {number} n
   */
  _copyOut(dst, at, n) {
    const cap = this.buf.length;
    const r = this.read & this.mask;
    const first = Math.min(n, cap - r);
    dst.set(this.buf.subarray(r, r + first), at);
    if (n > first) dst.set(this.buf.subarray(0, n - first), at + first);
  }

  /**
   * Take up to `n` samples into `dst[at:]`; returns how many.
   * @param {Float32Array} dst
   * @param {number} at
   * @param {number} n
   */
  shift(dst, at, n) {
    const m = Math.min(n, this.size);
    if (m > 0) this._copyOut(dst, at, m);
    this.read += m;
    return m;
  }

  clear() {
    this.read = this.write;
  }
}

// -- playback: player core ---------------------------------------------------------

/**
 * @typedef {object} PlayerEvent
 * @property {"started"|"stopped"|"drained"} event
 * @property {string|null} itemId
 * @property {string|null} [responseId]
 * @property {number} played item position reached (24k samples)
 * @property {number} frame output frame (player's output frame counter plus the
 *   frame base given to `render`) at which it happened
 */

/**
 * @typedef {object} Segment queued audio of one item, contiguous in the ring
 * @property {string} itemId
 * @property {string|null} responseId
 * @property {number} offset item position of the segment's first sample
 * @property {number} n samples still queued
 */

/**
 * @typedef {object} Pending audio pulled from the ring, not yet fully output
 * @property {number} s stream index (24k) of its first sample
 * @property {number} n length
 * @property {number} done samples of it already output
 * @property {string} itemId
 * @property {string|null} responseId
 * @property {number} offset
 * @property {Float32Array|null} data a copy of the samples (only when tapping)
 */

/**
 * The player's logic, independent of Web Audio (the worklet is a thin wrapper).
 *
 * * Queue: 24k float audio per item (`enqueue`), gapless across consecutive
 *   buffers and items, in a growable ring.
 * * Start threshold: nothing plays until `jitter` samples are queued (at the
 *   start of a burst and again after the queue ran dry), or until the queue has
 *   waited a full `jitter` since the last buffer arrived (short replies).
 * * Output at the context rate: a band-limited 24k → outRate resampler when
 *   they differ. The "stream" is the 24k signal fed to it (audio or silence).
 * * Accounting: a 24k stream sample counts as played when the output frame at
 *   its position has been rendered. `played` for an item is its position
 *   (offset of the last played sample + 1), exact in 24k samples; `counts`
 *   has the number of samples actually played per item.
 * * `stop()`: drops everything queued and everything pulled but not output;
 *   the next render is silence; returns the interrupted item and its position.
 */
export class PlayerCore {
  /**
   * @param {{outRate?: number, jitterMs?: number, capacity?: number, tap?: boolean}} [opts]
   */
  constructor(opts = {}) {
    this.outRate = opts.outRate ?? WIRE_RATE;
    this.resampler = new Resampler(WIRE_RATE, this.outRate);
    this.ring = new Ring(opts.capacity ?? WIRE_RATE * 16);
    this.setJitterMs(opts.jitterMs ?? 100);
    /** @type {Segment[]} */
    this.segs = [];
    /** @type {Pending[]} */
    this.pending = [];
    /** @type {"idle"|"buffering"|"playing"} */
    this.state = "idle";
    /** 24k stream samples fed to the resampler */
    this.streamPos = 0;
    /** stream index at the last enqueue */
    this.lastEnqueueAt = 0;
    /** output frames rendered */
    this.outFrames = 0;
    /** stream samples known played (prefix of the stream) */
    this.playedStream = 0;
    /** @type {string|null} item whose samples were played last and is not finished */
    this.current = null;
    /** @type {string|null} */
    this.currentResponse = null;
    /** stream index just after the last audio sample played */
    this.currentEnd = 0;
    /** @type {Map<string, number>} item → position reached */
    this.positions = new Map();
    /** @type {Map<string, number>} item → samples played */
    this.counts = new Map();
    /** @type {Set<string>} items that have started */
    this.startedItems = new Set();
    /** @type {string|null} the item that was current when the queue ran dry */
    this.dryItem = null;
    this.dryPending = false;
    this.underruns = 0;
    /** silence samples inserted inside an item (after underruns) */
    this.underrunSamples = 0;
    /** @type {Set<string>} stopped items: late audio for them is dropped */
    this.stopped = new Set();
    /** @type {string[]} */
    this._stoppedOrder = [];
    /** @type {PlayerEvent[]} */
    this.events = [];
    this.tap = !!opts.tap;
    /** @type {Float32Array[]} played audio (24k), when tapping */
    this.tapChunks = [];
    this._tmp = new Float32Array(1024);
    this._frameBase = 0;
  }

  /** @param {number} ms */
  setJitterMs(ms) {
    this.jitter = Math.max(0, Math.round((ms * WIRE_RATE) / 1000));
  }

  /** Samples queued (not yet pulled from the ring). */
  get buffered() {
    return this.ring.size;
  }

  /** Samples queued or pulled but not yet output. */
  get unplayed() {
    let n = this.ring.size;
    for (const p of this.pending) n += p.n - p.done;
    return n;
  }

  /**
   * Queue model audio. Returns false if the item was stopped (dropped).
   * @param {string} itemId
   * @param {string|null} responseId
   * @param {number} offset item position of the first sample
   * @param {Float32Array} samples 24k float
   */
  enqueue(itemId, responseId, offset, samples) {
    if (this.stopped.has(itemId)) return false;
    const n = samples.length;
    if (n === 0) return true;
    const last = this.segs[this.segs.length - 1];
    if (last && last.itemId === itemId && last.offset + last.n === offset) last.n += n;
    else this.segs.push({ itemId, responseId: responseId ?? null, offset, n });
    this.ring.push(samples);
    this.lastEnqueueAt = this.streamPos;
    if (this.state === "idle") this.state = "buffering";
    return true;
  }

  /**
   * Pull `n` stream samples (audio or silence) into `dst`.
   * @param {Float32Array} dst
   * @param {number} n
   */
  _pullStream(dst, n) {
    let at = 0;
    while (at < n) {
      if (this.state === "buffering") {
        const ready =
          this.ring.size >= this.jitter || this.streamPos + at - this.lastEnqueueAt >= this.jitter;
        if (ready && this.ring.size > 0) this.state = "playing";
      }
      if (this.state !== "playing") {
        // silence for the rest (the state cannot change within a pull unless
        // the wait-since-last-enqueue condition becomes true: step to it)
        let stop = n;
        if (this.state === "buffering" && this.ring.size > 0) {
          const wait = this.lastEnqueueAt + this.jitter - (this.streamPos + at);
          if (wait > 0 && wait < n - at) stop = at + wait;
        }
        dst.fill(0, at, stop);
        at = stop;
        continue;
      }
      const seg = this.segs[0];
      if (!seg) {
        // queue ran dry while playing
        this.state = this.ring.size > 0 ? "buffering" : "idle";
        this.dryPending = true;
        continue;
      }
      const m = Math.min(seg.n, n - at);
      this.ring.shift(dst, at, m);
      /** @type {Pending} */
      const p = {
        s: this.streamPos + at,
        n: m,
        done: 0,
        itemId: seg.itemId,
        responseId: seg.responseId,
        offset: seg.offset,
        data: this.tap ? dst.slice(at, at + m) : null,
      };
      const prev = this.pending[this.pending.length - 1];
      if (
        prev &&
        !prev.data &&
        !p.data &&
        prev.itemId === p.itemId &&
        prev.s + prev.n === p.s &&
        prev.offset + prev.n === p.offset
      )
        prev.n += m;
      else this.pending.push(p);
      seg.n -= m;
      seg.offset += m;
      if (seg.n === 0) this.segs.shift();
      at += m;
    }
    this.streamPos += n;
  }

  /**
   * Render `out.length` frames at the output rate.
   * @param {Float32Array} out
   * @param {number} [frame] output-clock frame of out[0] (e.g. the worklet's
   *   `currentFrame`); events carry frames on this clock
   */
  render(out, frame) {
    const n = out.length;
    if (frame !== undefined) this._frameBase = frame - this.outFrames;
    const r = this.resampler;
    let need = r.needed(n);
    if (this._tmp.length < need) this._tmp = new Float32Array(Math.max(need, this._tmp.length * 2));
    if (need > 0) {
      const tmp = this._tmp.subarray(0, need);
      this._pullStream(tmp, need);
      r.push(tmp);
    }
    const got = r.pull(out, n);
    if (got < n) out.fill(0, got); // cannot happen; defensive
    const outStart = this.outFrames;
    this.outFrames += n;
    // stream samples whose position has been output: floor(pos(last)) + 1
    const lastPos = Math.floor(r.inputPosition(r.outCount - 1));
    this._account(lastPos + 1, outStart);
  }

  /**
   * Output frame (own counter) at which stream sample `s` is first reached.
   * @param {number} s
   */
  _frameOfStream(s) {
    const r = this.resampler;
    return Math.ceil((s * r.up) / r.down);
  }

  /**
   * Mark the stream prefix [0, playedTo) as played.
   * @param {number} playedTo
   * @param {number} _outStart
   */
  _account(playedTo, _outStart) {
    if (playedTo <= this.playedStream) return;
    while (this.pending.length > 0) {
      const p = this.pending[0];
      if (p.s >= playedTo) break;
      const upto = Math.min(p.n, playedTo - p.s);
      if (upto > p.done) {
        const first = p.done === 0;
        const item = p.itemId;
        if (first && this.current !== item) {
          // a new item (or the same item after a gap) reaches the output
          if (this.current !== null) this._emitStopped(this._frameOfStream(p.s));
        }
        if (!this.startedItems.has(item)) {
          this.startedItems.add(item);
          this.events.push({
            event: "started",
            itemId: item,
            responseId: p.responseId,
            played: p.offset,
            frame: this._frameBase + this._frameOfStream(p.s + p.done),
          });
        } else if (first && this.dryItem === item && this.current === null) {
          this.underruns += 1;
        }
        this.current = item;
        this.currentResponse = p.responseId;
        this.currentEnd = p.s + upto;
        this.dryItem = null;
        const k = upto - p.done;
        this.positions.set(item, p.offset + upto);
        this.counts.set(item, (this.counts.get(item) ?? 0) + k);
        if (p.data) this.tapChunks.push(p.data.subarray(p.done, upto));
        p.done = upto;
      }
      if (p.done === p.n) this.pending.shift();
      else break;
    }
    this.playedStream = playedTo;
    if (this.dryPending && this.pending.length === 0 && this.state !== "playing") {
      // everything pulled has been output and the queue ran dry
      // (frames: just after the last audio sample played)
      this.dryPending = false;
      const frame = this._frameBase + this._frameOfStream(this.currentEnd);
      if (this.current !== null) {
        this.dryItem = this.current;
        this._emitStopped(this._frameOfStream(this.currentEnd));
      }
      this.events.push({ event: "drained", itemId: this.dryItem, played: this._pos(this.dryItem), frame });
    }
  }

  /** @param {number} ownFrame */
  _emitStopped(ownFrame) {
    const item = this.current;
    this.events.push({
      event: "stopped",
      itemId: item,
      responseId: this.currentResponse,
      played: this._pos(item),
      frame: this._frameBase + ownFrame,
    });
    this.current = null;
    this.currentResponse = null;
  }

  /** @param {string|null} item */
  _pos(item) {
    return item === null ? 0 : (this.positions.get(item) ?? 0);
  }

  /**
   * Position reached in an item (24k samples), 0 if none played.
   * @param {string} item
   */
  played(item) {
    return this._pos(item);
  }

  /**
   * Stop at once: drop the queue and everything not yet output; the next
   * `render` is silence. Returns the interrupted item: the one playing, or if
   * none the first one queued (nothing of it played), or null when idle.
   * @param {string|null} [itemId] also mark this item as stopped
   * @returns {{itemId: string|null, played: number, frame: number}}
   */
  stop(itemId = null) {
    /** @type {string|null} */
    let item = this.current;
    let played = this._pos(item);
    if (item === null) {
      const pending = this.pending[0];
      const head = pending ?? this.segs[0];
      if (head) {
        item = head.itemId;
        // Pulled audio counts what was already output; queued audio starts at its offset.
        played = this.positions.get(item) ?? (pending ? pending.offset + pending.done : head.offset);
      }
    }
    const mark = (/** @type {string|null} */ id) => {
      if (id === null || this.stopped.has(id)) return;
      this.stopped.add(id);
      this._stoppedOrder.push(id);
      if (this._stoppedOrder.length > 256) this.stopped.delete(/** @type {string} */ (this._stoppedOrder.shift()));
    };
    mark(item);
    mark(itemId);
    for (const p of this.pending) mark(p.itemId);
    for (const s of this.segs) mark(s.itemId);
    this.ring.clear();
    this.segs = [];
    this.pending = [];
    this.state = "idle";
    this.dryPending = false;
    this.dryItem = null;
    this.current = null;
    this.currentResponse = null;
    // silence from the next render: forget the resampler's history, keep the
    // output clock (outFrames) and restart the stream at the current output
    this.resampler.reset();
    this._frameBase += this.outFrames;
    this.outFrames = 0;
    this.streamPos = 0;
    this.playedStream = 0;
    this.lastEnqueueAt = 0;
    this.currentEnd = 0;
    return { itemId: item, played, frame: this._frameBase };
  }

  /** Take the events produced since the last call. */
  takeEvents() {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** Take the tapped audio since the last call (concatenated). */
  takeTap() {
    const chunks = this.tapChunks;
    this.tapChunks = [];
    return concatFloat32(chunks);
  }
}

/**
 * @param {Float32Array[]} chunks
 * @returns {Float32Array}
 */
export function concatFloat32(chunks) {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Float32Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
