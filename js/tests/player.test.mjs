import assert from "node:assert/strict";
import { test } from "node:test";
import { PlayerCore, resample } from "../dsp.js";
import { fakeWorkletScope, sine } from "./helpers.mjs";

/** Render `quanta` blocks of `n` frames starting at clock frame `frame0`. */
function run(p, quanta, n = 128, frame0) {
  const out = new Float32Array(quanta * n);
  for (let q = 0; q < quanta; q++)
    p.render(out.subarray(q * n, (q + 1) * n), frame0 === undefined ? undefined : frame0 + q * n);
  return out;
}

test("gapless across buffers and items; exact per-item counts and events", () => {
  const p = new PlayerCore({ jitterMs: 100 });
  const a = sine(500, 24000, 3000, 0.5);
  const b = sine(900, 24000, 1000, 0.3);
  p.enqueue("A", "r1", 0, a.subarray(0, 1000));
  p.enqueue("A", "r1", 1000, a.subarray(1000, 2000));
  p.enqueue("A", "r1", 2000, a.subarray(2000));
  p.enqueue("B", "r1", 0, b.subarray(0, 500));
  p.enqueue("B", "r1", 500, b.subarray(500));
  assert.equal(p.segs.length, 2, "contiguous buffers merge");
  const out = run(p, 40, 128, 10_000);
  assert.deepEqual(out.subarray(0, 3000), a);
  assert.deepEqual(out.subarray(3000, 4000), b);
  assert.equal(out.subarray(4000).every((v) => v === 0), true);
  assert.equal(p.played("A"), 3000);
  assert.equal(p.played("B"), 1000);
  assert.equal(p.counts.get("A"), 3000);
  assert.equal(p.counts.get("B"), 1000);
  assert.deepEqual(
    p.takeEvents().map((e) => [e.event, e.itemId, e.played, e.frame]),
    [
      ["started", "A", 0, 10_000],
      ["stopped", "A", 3000, 13_000],
      ["started", "B", 0, 13_000],
      ["stopped", "B", 1000, 14_000],
      ["drained", "B", 1000, 14_000],
    ],
  );
});

test("stop mid-item: exact played count, silence from the next quantum, late audio dropped", () => {
  const p = new PlayerCore({ jitterMs: 100, tap: true });
  const a = sine(440, 24000, 6000, 0.5);
  p.enqueue("A", "r", 0, a);
  p.enqueue("B", "r", 0, a); // queued behind A
  run(p, 20); // 2560 frames
  const r = p.stop("A");
  assert.deepEqual(r, { itemId: "A", played: 2560, frame: 2560 });
  assert.equal(p.buffered, 0);
  const after = run(p, 5);
  assert.equal(after.every((v) => v === 0), true);
  assert.equal(p.enqueue("A", "r", 6000, a), false, "late audio of a stopped item");
  assert.equal(p.enqueue("B", "r", 6000, a), false, "queued items are stopped too");
  assert.deepEqual(p.takeTap(), a.subarray(0, 2560));
  // a new item plays normally afterwards, its frames continue the clock
  p.enqueue("C", "r2", 0, a);
  run(p, 1);
  const ev = p.takeEvents().filter((e) => e.itemId === "C");
  assert.deepEqual(ev.map((e) => [e.event, e.frame]), [["started", 2560 + 5 * 128]]);
});

test("stop when idle, and while the first item is still buffering", () => {
  const p = new PlayerCore({ jitterMs: 100 });
  assert.deepEqual(p.stop(null), { itemId: null, played: 0, frame: 0 });
  p.enqueue("A", "r", 0, new Float32Array(100).fill(0.1));
  run(p, 2);
  assert.deepEqual(p.stop(null), { itemId: "A", played: 0, frame: 256 });
  // after a finished item and the drain, stop reports nothing playing
  p.enqueue("B", "r", 0, new Float32Array(2400).fill(0.1));
  run(p, 30);
  assert.equal(p.stop(null).itemId, null);
});

for (const rate of [48000, 44100]) {
  test(`resampled output at ${rate}: played = floor(position of last frame) + 1, exact`, () => {
    const p = new PlayerCore({ outRate: rate, jitterMs: 100, tap: true });
    const a = sine(700, 24000, 4800, 0.5);
    p.enqueue("A", "r", 0, a);
    const out = run(p, 10); // 1280 frames at `rate`
    const expected = Math.floor((1279 * 24000) / rate) + 1;
    assert.equal(p.played("A"), expected);
    // the audio is the band-limited resampling of the stream (A then silence)
    const ref = resample(a, 24000, rate);
    for (let i = 0; i < 1280; i++) assert.ok(Math.abs(out[i] - ref[i]) < 1e-6, `frame ${i}`);
    const r = p.stop(null);
    assert.equal(r.played, expected);
    assert.equal(r.itemId, "A");
    assert.equal(run(p, 3).every((v) => v === 0), true, "silence right after stop");
    assert.deepEqual(p.takeTap(), a.subarray(0, expected));
    // playing to the end counts every sample
    const q = new PlayerCore({ outRate: rate, jitterMs: 100 });
    q.enqueue("A", "r", 0, a);
    run(q, Math.ceil(((4800 + 200) * rate) / 24000 / 128));
    assert.equal(q.played("A"), 4800);
    assert.deepEqual(q.takeEvents().map((e) => e.event), ["started", "stopped", "drained"]);
  });
}

test("player worklet: messages in and out (fake AudioWorkletGlobalScope)", async () => {
  const scope = fakeWorkletScope(24000);
  await import("../worklets/player.js?fake");
  const Proc = scope.registry.get("rtw-player");
  const p = new Proc({ processorOptions: { jitterMs: 100, tap: true } });
  const send = (m) => p.port.onmessage({ data: m });
  const a = sine(440, 24000, 4800, 0.5);
  send({ type: "audio", itemId: "A", responseId: "r", offset: 0, samples: a.subarray(0, 2400) });
  send({ type: "audio", itemId: "A", responseId: "r", offset: 2400, samples: a.subarray(2400) });
  const outs = [[new Float32Array(128), new Float32Array(128)]];
  for (let q = 0; q < 30; q++) {
    assert.equal(p.process([], outs), true);
    assert.deepEqual(outs[0][1], outs[0][0], "all channels carry the same audio");
    scope.advance(128);
  }
  send({ type: "stop", stopId: 7, itemId: "A" });
  const sent = p.port.sent;
  const started = sent.find((m) => m.type === "playback" && m.event === "started");
  assert.deepEqual(
    { itemId: started.itemId, played: started.played, time: started.time },
    { itemId: "A", played: 0, time: 0 },
  );
  const intr = sent.find((m) => m.type === "interrupted");
  assert.deepEqual(intr, { type: "interrupted", stopId: 7, itemId: "A", played: 3840, time: 3840 / 24000 });
  const progress = sent.filter((m) => m.type === "progress" && !m.force);
  assert.ok(progress.length >= 1);
  assert.ok(progress.every((m) => m.itemId === "A" && m.underruns === 0));
  const tapped = sent.filter((m) => m.type === "progress" && m.tap).reduce((n, m) => n + m.tap.length, 0);
  assert.equal(tapped, 3840);
  send({ type: "audio", itemId: "A", responseId: "r", offset: 4800, samples: a });
  assert.deepEqual(sent.at(-1), { type: "dropped", itemId: "A", n: 4800 });
  send({ type: "close" });
  assert.equal(p.process([], outs), false);
});
