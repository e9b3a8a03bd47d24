import assert from "node:assert/strict";
import { test } from "node:test";
import { Resampler, resample } from "../dsp.js";
import { pieces, rms, rng, sine } from "./helpers.mjs";

const PAIRS = [
  [48000, 24000],
  [44100, 24000],
  [96000, 24000],
  [24000, 48000],
  [24000, 44100],
  [24000, 24000],
  [22050, 24000],
];

/** Largest error against the ideal sine at the output rate, away from the edges. */
function sineError(y, f, outRate, amp, margin) {
  let err = 0;
  for (let j = margin; j < y.length - margin; j++)
    err = Math.max(err, Math.abs(y[j] - amp * Math.sin((2 * Math.PI * f * j) / outRate)));
  return err;
}

for (const [a, b] of PAIRS) {
  test(`${a} → ${b}: a sine stays a sine, with the right length and phase`, () => {
    for (const f of [440, 1000, 3000]) {
      const n = Math.round(a * 0.5); // 0.5 s
      const y = resample(sine(f, a, n, 0.5), a, b);
      assert.equal(y.length, Math.ceil((n * b) / a));
      const r = new Resampler(a, b);
      const margin = Math.ceil((r.halfWidth * b) / a) + 2;
      const err = sineError(y, f, b, 0.5, margin);
      assert.ok(err < 5e-4, `f=${f}: max error ${err}`); // better than −60 dB of the amplitude
      // amplitude preserved
      assert.ok(Math.abs(rms(y, margin, y.length - margin) - 0.5 / Math.SQRT2) < 2e-4);
    }
  });

  test(`${a} → ${b}: streaming in random pieces equals one shot exactly`, () => {
    const r0 = rng(a + b);
    const x = new Float32Array(a); // 1 s of noise + tone
    for (let i = 0; i < x.length; i++) x[i] = 0.3 * (r0() * 2 - 1) + 0.3 * Math.sin(i / 7);
    const one = resample(x, a, b);
    for (const max of [1, 7, 128, 1000]) {
      const r = new Resampler(a, b);
      const parts = [];
      let at = 0;
      for (const k of pieces(x.length, max, rng(max))) {
        parts.push(r.process(x.subarray(at, at + k)).slice());
        at += k;
      }
      parts.push(r.flush());
      const got = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
      let o = 0;
      for (const p of parts) {
        got.set(p, o);
        o += p.length;
      }
      assert.equal(got.length, one.length);
      assert.deepEqual(got, one, `pieces up to ${max}`);
    }
  });
}

test("downsampling removes what does not fit below the new Nyquist", () => {
  for (const [a, f] of [
    [48000, 15000],
    [48000, 20000],
    [44100, 16000],
  ]) {
    const y = resample(sine(f, a, a, 0.5), a, 24000);
    const level = rms(y, 100, y.length - 100);
    assert.ok(level < 0.5 * 0.01, `${f} Hz from ${a}: rms ${level}`); // < −40 dB
  }
});

test("equal rates pass samples through unchanged", () => {
  const x = sine(1000, 24000, 1000);
  const r = new Resampler(24000, 24000);
  assert.equal(r.halfWidth, 0);
  const y = r.process(x.subarray(0, 300)).slice();
  assert.deepEqual(y, x.subarray(0, 300));
  assert.deepEqual(r.process(x.subarray(300)).slice(), x.subarray(300));
  assert.equal(r.flush().length, 0);
});

test("output j sits at input position j·in/out; pull/needed agree", () => {
  const r = new Resampler(24000, 44100);
  assert.equal(r.inputPosition(147), 80);
  assert.equal(r.outputsFor(80), 147);
  for (const n of [1, 128, 129, 1000]) {
    const need = r.needed(n);
    r.push(new Float32Array(need));
    assert.ok(r.available() >= n);
    const out = new Float32Array(n);
    assert.equal(r.pull(out, n), n);
    assert.equal(r.needed(1) >= 0, true);
  }
});

test("odd rate ratios beyond 1024 phases still track positions", () => {
  const a = 44099; // reduced ratio 44099/24000: 24000 phases → 1024 rounded
  const y = resample(sine(1000, a, Math.floor(a / 2), 0.5), a, 24000);
  assert.equal(y.length, Math.ceil((Math.floor(a / 2) * 24000) / a));
  const err = sineError(y, 1000, 24000, 0.5, 30);
  assert.ok(err < 2e-3, `max error ${err}`);
});
