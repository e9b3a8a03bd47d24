// Shared helpers for the node unit tests (not a test file itself).

/**
 * @param {number} f Hz
 * @param {number} rate Hz
 * @param {number} n samples
 * @param {number} [amp]
 * @param {number} [phase] radians
 */
export function sine(f, rate, n, amp = 0.5, phase = 0) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = amp * Math.sin((2 * Math.PI * f * i) / rate + phase);
  return x;
}

/** @param {ArrayLike<number>} x @param {number} [a] @param {number} [b] */
export function rms(x, a = 0, b = x.length) {
  let s = 0;
  for (let i = a; i < b; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, b - a));
}

/** Deterministic PRNG (mulberry32). @param {number} seed */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Split `n` into random piece sizes in [1, max]. @param {number} n @param {number} max @param {() => number} r */
export function pieces(n, max, r) {
  const out = [];
  let left = n;
  while (left > 0) {
    const k = Math.min(left, 1 + Math.floor(r() * max));
    out.push(k);
    left -= k;
  }
  return out;
}

/**
 * Install minimal AudioWorkletGlobalScope globals; returns the registry of
 * processors and a controllable clock.
 */
export function fakeWorkletScope(rate) {
  const registry = new Map();
  const g = /** @type {any} */ (globalThis);
  g.sampleRate = rate;
  g.currentFrame = 0;
  g.currentTime = 0;
  g.AudioWorkletProcessor = class {
    constructor() {
      const sent = [];
      this.port = {
        sent,
        onmessage: null,
        postMessage(m, _transfer) {
          sent.push(m);
        },
      };
    }
  };
  g.registerProcessor = (name, cls) => registry.set(name, cls);
  return {
    registry,
    /** advance the clock by one quantum of `n` frames */
    advance(n) {
      g.currentFrame += n;
      g.currentTime = g.currentFrame / rate;
    },
  };
}
