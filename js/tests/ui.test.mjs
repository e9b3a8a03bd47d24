import { test } from "node:test";
import assert from "node:assert/strict";

import { rowNote, usageText } from "../ui.js";

test("usageText: nothing before the first response", () => {
  assert.equal(usageText(undefined), "");
  assert.equal(usageText({}), "");
  assert.equal(usageText({ responses: 0, total_tokens: 0, cost_usd: null }), "");
});

test("usageText: tokens, and the cost only when priced", () => {
  assert.equal(usageText({ responses: 2, total_tokens: 1234, cost_usd: 0.01234 }), "1,234 tok · $0.0123");
  assert.equal(usageText({ responses: 1, total_tokens: 92, cost_usd: null }), "92 tok");
  assert.equal(usageText({ responses: 1, total_tokens: 92, cost_usd: Number.NaN }), "92 tok");
});

test("rowNote: says what a row's text alone does not", () => {
  const row = (role, text, unheard, status) => ({ item_id: "x", role, text, unheard, status });
  assert.equal(rowNote(row("assistant", "", "", "interrupted")), "(interrupted before it was heard)");
  assert.equal(rowNote(row("assistant", "Hel", "lo there", "interrupted")), "(interrupted)");
  assert.equal(rowNote(row("assistant", "", "Hello", "interrupted")), "(interrupted)");
  assert.equal(rowNote(row("assistant", "", "", "completed")), "(audio)");
  assert.equal(rowNote(row("user", "", "", "completed")), "(speech)");
  assert.equal(rowNote(row("assistant", "", "", "in_progress")), "");
  assert.equal(rowNote(row("assistant", "Hi.", "", "completed")), "");
  assert.equal(rowNote(row("tool", "", "", "completed")), "");
});
