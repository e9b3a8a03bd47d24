import assert from "node:assert/strict";
import { test } from "node:test";
import { PlayerCore, Ring } from "../dsp.js";

const f32 = (/** @type {number[]} */ a) => new Float32Array(a);
const seq = (/** @type {number} */ a, /** @type {number} */ n) => f32(Array.from({ length: n }, (_, i) => a + i));

test("ring buffer wraps around in order", () => {
  const r = new Ring(8);
  assert.equal(r.capacity, 8);
  const out = new Float32Array(16);
  let next = 0;
  let expect = 0;
  r.push(seq(0, 2)); // keep 2 queued so the positions wrap at varying places
  next = 2;
  for (let round = 0; round < 10; round++) {
    r.push(seq(next, 5));
    next += 5;
    assert.equal(r.shift(out, 0, 5), 5);
    for (let i = 0; i < 5; i++) assert.equal(out[i], expect++);
  }
  assert.equal(r.capacity, 8, "never needed to grow");
  const m = r.shift(out, 0, 16);
  for (let i = 0; i < m; i++) assert.equal(out[i], expect++);
  assert.equal(expect, next);
  assert.equal(r.size, 0);
});

test("ring buffer grows (doubling) and keeps the order, also when wrapped", () => {
  const r = new Ring(8);
  const out = new Float32Array(64);
  r.push(seq(0, 6));
  r.shift(out, 0, 5); // read at 5, one left
  r.push(seq(6, 6)); // wraps: 7 queued
  r.push(seq(12, 20)); // grows to 32
  assert.equal(r.capacity, 32);
  assert.equal(r.size, 27);
  assert.equal(r.shift(out, 0, 64), 27);
  assert.deepEqual(Array.from(out.subarray(0, 27)), Array.from(seq(5, 27)));
});

test("underrun: shift returns what there is", () => {
  const r = new Ring(4);
  r.push(f32([1, 2]));
  const out = new Float32Array(4).fill(9);
  assert.equal(r.shift(out, 1, 3), 2);
  assert.deepEqual(Array.from(out), [9, 1, 2, 9]);
  assert.equal(r.shift(out, 0, 3), 0);
  r.push(f32([3]));
  r.clear();
  assert.equal(r.size, 0);
});

/** Render `quanta` blocks of `n` frames; returns the concatenated output. */
function run(p, quanta, n = 128) {
  const out = new Float32Array(quanta * n);
  for (let q = 0; q < quanta; q++) p.render(out.subarray(q * n, (q + 1) * n));
  return out;
}

const firstNonZero = (/** @type {Float32Array} */ x) => x.findIndex((v) => v !== 0);

test("start threshold: a burst waits until jitter_ms is buffered", () => {
  const p = new PlayerCore({ jitterMs: 100 }); // 2400 samples
  p.enqueue("a", "r", 0, new Float32Array(1200).fill(0.5));
  let out = run(p, 10);
  assert.equal(firstNonZero(out), -1, "still buffering");
  assert.equal(p.state, "buffering");
  p.enqueue("a", "r", 1200, new Float32Array(1200).fill(0.5)); // now 2400
  out = run(p, 1);
  assert.equal(firstNonZero(out), 0, "plays from the next quantum");
  assert.equal(p.state, "playing");
  const ev = p.takeEvents();
  assert.deepEqual(ev.map((e) => [e.event, e.itemId, e.frame]), [["started", "a", 1280]]);
});

test("start threshold: a short reply starts after waiting jitter_ms since its last buffer", () => {
  const p = new PlayerCore({ jitterMs: 100 });
  p.enqueue("a", "r", 0, new Float32Array(1000).fill(0.25));
  const out = run(p, 30); // 3840 frames
  assert.equal(firstNonZero(out), 2400); // exactly jitter after the enqueue
  assert.equal(out.subarray(2400, 3400).every((v) => v === 0.25), true);
  assert.equal(out.subarray(3400).every((v) => v === 0), true);
  const ev = p.takeEvents();
  assert.deepEqual(
    ev.map((e) => [e.event, e.itemId, e.played, e.frame]),
    [
      ["started", "a", 0, 2400],
      ["stopped", "a", 1000, 3400],
      ["drained", "a", 1000, 3400],
    ],
  );
});

test("underrun inside an item: rebuffers to the threshold and counts it", () => {
  const p = new PlayerCore({ jitterMs: 60 }); // 1440 samples
  p.enqueue("a", "r", 0, new Float32Array(1440).fill(0.1));
  run(p, 20);
  assert.equal(p.played("a"), 1440);
  assert.equal(p.underruns, 0);
  p.enqueue("a", "r", 1440, new Float32Array(2000).fill(0.2));
  const out = run(p, 20);
  assert.equal(firstNonZero(out), 0, "2000 ≥ threshold: plays at once");
  assert.equal(p.played("a"), 3440);
  assert.equal(p.counts.get("a"), 3440);
  assert.equal(p.underruns, 1);
  const ev = p.takeEvents().map((e) => e.event);
  assert.deepEqual(ev, ["started", "stopped", "drained", "stopped", "drained"]); // no second "started"
});
