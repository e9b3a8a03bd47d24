import { test } from "node:test";
import assert from "node:assert/strict";

import { clockOffset } from "../hub.js";

test("clockOffset: the fastest round trip decides, split evenly", () => {
  const est = clockOffset([
    { sent: 1000, rtt: 30, kernel: 6020 }, // slow: would say 5005
    { sent: 2000, rtt: 4, kernel: 7002 }, // fast: kernel is 5000 ms ahead
    { sent: 3000, rtt: 10, kernel: 8009 },
  ]);
  assert.deepEqual(est, { offset: 5000, rtt: 4 });
});

test("clockOffset: nothing usable gives null", () => {
  assert.equal(clockOffset([]), null);
  assert.equal(clockOffset([{ sent: 1, rtt: 2, kernel: undefined }]), null);
  assert.equal(clockOffset([{ sent: 1, rtt: -1, kernel: 5 }]), null);
});
