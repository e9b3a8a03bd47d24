import assert from "node:assert/strict";
import { test } from "node:test";
import { Chunker, floatToInt16, Resampler } from "../dsp.js";
import { fakeWorkletScope, pieces, rng, sine } from "./helpers.mjs";

test("chunks of exactly chunk_ms across 128-frame quanta, with their end indexes", () => {
  for (const ms of [20, 25, 30, 40]) {
    const size = (24000 * ms) / 1000;
    const c = new Chunker(size);
    const x = sine(300, 24000, 24000);
    const got = [];
    for (let i = 0; i < x.length; i += 128) got.push(...c.push(x.subarray(i, i + 128)));
    assert.equal(got.length, Math.floor(24000 / size));
    got.forEach((k, i) => {
      assert.equal(k.pcm.length, size);
      assert.equal(k.start, i * size);
      assert.equal(k.end, (i + 1) * size);
      assert.deepEqual(k.pcm, floatToInt16(x.subarray(k.start, k.end)));
      assert.ok(k.peak <= 0.5 && k.rms > 0.3 && k.rms < 0.36);
    });
  }
});

test("arbitrary piece sizes give the same chunks", () => {
  const x = sine(700, 24000, 10000);
  const ref = new Chunker(480).push(x);
  const c = new Chunker(480);
  const got = [];
  let at = 0;
  for (const k of pieces(x.length, 700, rng(3))) {
    got.push(...c.push(x.subarray(at, at + k)));
    at += k;
  }
  assert.deepEqual(
    got.map((k) => [k.start, k.end, Array.from(k.pcm)]),
    ref.map((k) => [k.start, k.end, Array.from(k.pcm)]),
  );
  assert.equal(c.fill, 10000 - 480 * 20);
});

test("a new chunk length applies at the next chunk boundary", () => {
  const c = new Chunker(480);
  const a = c.push(new Float32Array(600)); // one chunk + 120 pending
  c.setChunkSamples(720);
  const b = c.push(new Float32Array(1200)); // finishes the 480 chunk, then 720s
  assert.deepEqual(
    [...a, ...b].map((k) => [k.start, k.end]),
    [
      [0, 480],
      [480, 960],
      [960, 1680],
    ],
  );
});

test("capture worklet: 48 kHz mic → 24 kHz chunks with context end times", async () => {
  const rate = 48000;
  const scope = fakeWorkletScope(rate);
  scope.advance(128 * 10); // the context has been running for a while
  await import(`../worklets/capture.js?r=${rate}`);
  const Proc = scope.registry.get("rtw-capture");
  const p = new Proc({ processorOptions: { chunkMs: 20 } });
  const frame0 = globalThis.currentFrame;
  const x = sine(1000, rate, rate); // 1 s, stereo copies
  for (let i = 0; i < x.length; i += 128) {
    const q = x.subarray(i, i + 128);
    assert.equal(p.process([[q, q]], []), true);
    scope.advance(128);
  }
  const chunks = p.port.sent.filter((m) => m.type === "chunk");
  // 24000 samples minus the resampler's look-ahead: 49 full chunks of 480
  assert.equal(chunks.length, 49);
  chunks.forEach((m, i) => {
    assert.equal(m.n, 480);
    assert.ok(m.pcm instanceof Int16Array);
    // END of the chunk's last sample: 24k index (i+1)*480 = 48k frame 2*(i+1)*480
    assert.equal(m.end, (frame0 + 2 * (i + 1) * 480) / rate);
  });
  // the audio is the sine at 24 kHz, same phase
  const all = new Int16Array(49 * 480);
  chunks.forEach((m, i) => all.set(m.pcm, i * 480));
  let err = 0;
  for (let j = 40; j < all.length; j++)
    err = Math.max(err, Math.abs(all[j] / 32767 - 0.5 * Math.sin((2 * Math.PI * 1000 * j) / 24000)));
  assert.ok(err < 1e-3, `max error ${err}`);
  // chunk_ms change through the port, and close
  p.port.onmessage({ data: { type: "config", chunkMs: 40 } });
  assert.equal(p.chunker.nextSize, 960);
  p.port.onmessage({ data: { type: "close" } });
  assert.equal(p.process([[x.subarray(0, 128)]], []), false);
});

test("capture pipeline end times at 44.1 kHz follow j·44100/24000", () => {
  const r = new Resampler(44100, 24000);
  const c = new Chunker(480);
  const x = sine(440, 44100, 44100);
  const ends = [];
  for (let i = 0; i < x.length; i += 128) for (const k of c.push(r.process(x.subarray(i, i + 128)))) ends.push(k.end);
  ends.forEach((e, i) => {
    assert.equal(e, (i + 1) * 480);
    assert.equal(r.inputPosition(e), ((i + 1) * 480 * 147) / 80); // input frames after capture start
  });
});
