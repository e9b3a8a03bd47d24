import assert from "node:assert/strict";
import { test } from "node:test";
import { asInt16, floatToInt16, int16ToFloat, levels, mixToMono } from "../dsp.js";

test("float → int16: scale by 32767, clip, NaN → 0", () => {
  const x = [0, 1, -1, 1.5, -1.5, Infinity, -Infinity, Number.NaN, 0.5, -0.5];
  assert.deepEqual(Array.from(floatToInt16(x)), [0, 32767, -32767, 32767, -32768, 32767, -32768, 0, 16384, -16384]);
});

test("float → int16 rounds half to even like numpy", () => {
  // products that are exact halves: x * 32767 = k + 0.5 for these x (float64)
  const halves = [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5, 100.5, -100.5];
  const x = new Float64Array(halves.map((h) => h / 32767));
  for (let i = 0; i < x.length; i++) assert.equal(x[i] * 32767, halves[i]); // precondition
  const y = Array.from(floatToInt16(x));
  assert.deepEqual(y, [0, 2, 2, 4, 0, -2, -2, -4, 100, -100]);
  assert.deepEqual(Array.from(floatToInt16([0.49 / 32767, 0.51 / 32767, -0.51 / 32767])), [0, 1, -1]);
});

test("int16 → float divides by 32768 and round-trips within one step", () => {
  const i = new Int16Array([-32768, -1, 0, 1, 16384, 32767]);
  const f = int16ToFloat(i);
  assert.deepEqual(Array.from(f), [-1, -1 / 32768, 0, 1 / 32768, 0.5, 32767 / 32768]);
  const back = floatToInt16(f);
  for (let k = 0; k < i.length; k++) assert.ok(Math.abs(back[k] - i[k]) <= 1);
});

test("asInt16 views aligned buffers and copies unaligned ones", () => {
  const bytes = new Uint8Array([0xff, 0x01, 0x00, 0x02, 0x00, 0x80, 0x00]);
  const aligned = new DataView(bytes.buffer, 1, 4); // offset 1: unaligned
  assert.deepEqual(Array.from(asInt16(aligned)), [1, 2]);
  const dv = new DataView(bytes.buffer, 2, 4);
  const v = asInt16(dv);
  assert.equal(v.buffer, bytes.buffer); // no copy
  assert.deepEqual(Array.from(v), [512, -32768]);
  assert.deepEqual(Array.from(asInt16(new Int16Array([5, 6]).buffer)), [5, 6]);
});

test("levels and mono mix", () => {
  const { rms, peak } = levels(new Float32Array([0.5, -0.5, 0.5, -1]));
  assert.ok(Math.abs(rms - Math.sqrt((0.25 * 3 + 1) / 4)) < 1e-7);
  assert.equal(peak, 1);
  const out = new Float32Array(3);
  mixToMono([new Float32Array([1, 0, -1]), new Float32Array([0, 0, 1])], out);
  assert.deepEqual(Array.from(out), [0.5, 0, 0]);
  mixToMono([], out);
  assert.deepEqual(Array.from(out), [0, 0, 0]);
});
