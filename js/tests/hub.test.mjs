// The hub (model-level protocol logic) with a fake anywidget model; no audio
// engine (that needs a browser: js/tests/smoke_chromium.py, tests/browser/).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Hub, MAX_EVENTS } from "../hub.js";

class FakeModel {
  constructor(state = {}) {
    this.state = { status: "disconnected", mode: "vad", muted: false, volume: 1, transcript: [], ...state };
    this.handlers = new Map();
    this.sent = [];
    this.saves = 0;
  }
  get(k) {
    return this.state[k];
  }
  set(k, v) {
    this.state[k] = v;
    this.emit(`change:${k}`);
  }
  save_changes() {
    this.saves++;
  }
  send(content, _cb, buffers) {
    this.sent.push({ content, buffers });
  }
  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name).add(fn);
  }
  off(name, fn) {
    this.handlers.get(name)?.delete(fn);
  }
  emit(name, ...args) {
    for (const fn of [...(this.handlers.get(name) ?? [])]) fn(...args);
  }
  of(type) {
    return this.sent.map((s) => s.content).filter((c) => c.type === type);
  }
}

const chunk = (n = 480) => ({ pcm: new Int16Array(n), n, t: 1, rms: 0, peak: 0 });

test("hello on initialize; msg:custom registered once and removed on close", () => {
  const m = new FakeModel();
  const hub = new Hub(m);
  const [hello] = m.of("hello");
  assert.equal(typeof hello.t, "number");
  assert.equal(hello.sample_rate, null);
  assert.equal(m.handlers.get("msg:custom").size, 1);
  hub.close();
  assert.equal(m.handlers.get("msg:custom").size, 0);
  for (const [name, fns] of m.handlers) assert.equal(fns.size, 0, name);
});

test("a stop with no audio engine is answered at once with item_id null", async () => {
  const m = new FakeModel();
  const hub = new Hub(m);
  m.emit("msg:custom", { type: "stop", stop_id: 3, reason: "speech_started", item_id: "x" }, []);
  await new Promise((r) => setTimeout(r, 0));
  const [r] = m.of("interrupted");
  assert.deepEqual({ ...r, t: 0 }, { type: "interrupted", item_id: null, played: 0, t: 0, stop_id: 3, quiet: true });
  hub.close();
});

test("every message is sent quiet (no kernel busy status through the server extension)", () => {
  const m = new FakeModel();
  const hub = new Hub(m);
  hub.connected = true;
  hub._chunk(chunk());
  hub.sendText("hi");
  hub.ping(10).catch(() => {});
  const types = ["hello", "mic", "text", "ping"];
  for (const ty of types) {
    const msgs = m.of(ty);
    assert.ok(msgs.length > 0, ty);
    for (const msg of msgs) assert.equal(msg.quiet, true, ty);
  }
  hub.close();
});

test("mic chunks: sent only when connected, not muted, and in ptt mode only while held; one seq", () => {
  const m = new FakeModel();
  const hub = new Hub(m);
  hub._chunk(chunk());
  assert.equal(m.of("mic").length, 0, "not connected");
  hub.connected = true;
  hub._chunk(chunk());
  hub._chunk(chunk());
  m.set("muted", true);
  hub._chunk(chunk());
  m.set("muted", false);
  hub.setMode("ptt");
  assert.equal(m.state.mode, "ptt");
  hub._chunk(chunk()); // not held
  hub.pttDown();
  hub._chunk(chunk());
  hub.pttUp();
  hub._chunk(chunk());
  const seqd = m.sent.map((s) => s.content).filter((c) => c.type === "mic" || c.type === "ptt");
  assert.deepEqual(
    seqd.map((c) => [c.type, c.action ?? null, c.seq]),
    [
      ["mic", null, 0],
      ["mic", null, 1],
      ["ptt", "down", 2],
      ["mic", null, 3],
      ["ptt", "up", 4],
    ],
  );
  const mic = m.sent.find((s) => s.content.type === "mic");
  assert.equal(mic.buffers.length, 1);
  assert.equal(mic.buffers[0].byteLength, 960);
  assert.equal(mic.content.n, 480);
  // leaving ptt mode while held releases
  hub.pttDown();
  hub.setMode("vad");
  assert.deepEqual(m.of("ptt").at(-1).action, "up");
  hub.close();
});

test("live transcript: deltas, full text, unheard; trait rows set the order", () => {
  const m = new FakeModel({
    transcript: [{ item_id: "u1", role: "user", text: "hi", unheard: "", status: "completed" }],
  });
  const hub = new Hub(m);
  const seen = [];
  hub.subscribe((kind) => seen.push(kind));
  const msg = (c) => m.emit("msg:custom", { type: "transcript", ...c }, []);
  msg({ item_id: "a1", role: "assistant", delta: "Hello ", final: false });
  msg({ item_id: "a1", role: "assistant", delta: "there, friend.", final: false });
  assert.equal(hub.rows.get("a1").text, "Hello there, friend.");
  assert.equal(hub.rows.get("a1").status, "in_progress");
  msg({ item_id: "u2", role: "user", text: "a question", final: true });
  assert.equal(hub.rows.get("u2").status, "completed");
  msg({ item_id: "a1", role: "assistant", text: "Hello there, ", unheard: "friend.", final: true });
  assert.equal(hub.rows.get("a1").status, "interrupted");
  assert.equal(hub.rows.get("a1").unheard, "friend.");
  assert.deepEqual([...hub.rows.keys()], ["u1", "a1", "u2"]);
  // the kernel's final rows put the user item before the reply
  m.set("transcript", [
    { item_id: "u1", role: "user", text: "hi", unheard: "", status: "completed" },
    { item_id: "u2", role: "user", text: "a question", unheard: "", status: "completed" },
    { item_id: "a1", role: "assistant", text: "Hello there, ", unheard: "friend.", status: "interrupted" },
  ]);
  assert.deepEqual([...hub.rows.keys()], ["u1", "u2", "a1"]);
  assert.ok(seen.includes("row") && seen.includes("rows"));
  hub.close();
});

test("trait rows in the same order redraw only the rows that changed or are new", () => {
  const row = (id, text, status = "completed") => ({ item_id: id, role: id[0] === "u" ? "user" : "assistant", text, unheard: "", status });
  const m = new FakeModel({ transcript: [row("u1", "hi"), row("a1", "Hello.")] });
  const hub = new Hub(m);
  const seen = [];
  hub.subscribe((kind, data) => seen.push(kind === "row" ? `row:${data.item_id}` : kind));
  // the whole list again, unchanged (a response.done sends it every time): nothing to draw
  m.set("transcript", [row("u1", "hi"), row("a1", "Hello.")]);
  assert.deepEqual(seen, []);
  // one row's text final, two rows added at the end
  m.set("transcript", [row("u1", "hi"), row("a1", "Hello there."), row("u2", "more"), row("a2", "Sure.")]);
  assert.deepEqual(seen, ["row:a1", "row:u2", "row:a2"]);
  assert.deepEqual([...hub.rows.keys()], ["u1", "a1", "u2", "a2"]);
  // a live row the trait does not have yet stays after the trait rows, in place
  m.emit("msg:custom", { type: "transcript", item_id: "u3", role: "user", text: "and", final: false }, []);
  seen.length = 0;
  m.set("transcript", [row("u1", "hi"), row("a1", "Hello there."), row("u2", "more"), row("a2", "Sure.")]);
  assert.deepEqual(seen, []);
  // a new order: the whole list is redrawn
  m.set("transcript", [row("u1", "hi"), row("u2", "more"), row("a1", "Hello there."), row("a2", "Sure.")]);
  assert.deepEqual(seen, ["rows"]);
  hub.close();
});

test("rows messages splice the kernel's list between whole syncs", () => {
  const row = (id, text, status = "completed") => ({ item_id: id, role: id[0] === "u" ? "user" : "assistant", text, unheard: "", status });
  const m = new FakeModel({ transcript: [row("u1", "hi")] });
  const hub = new Hub(m);
  const seen = [];
  hub.subscribe((kind, data) => seen.push(kind === "row" ? `row:${data.item_id}` : kind));
  const rows = (start, del, list, total) => m.emit("msg:custom", { type: "rows", start, delete: del, rows: list, total }, []);
  rows(1, 0, [row("a1", "Hel", "in_progress")], 2); // appended
  assert.deepEqual(seen, ["row:a1"]);
  rows(1, 1, [row("a1", "Hello."), row("u2", "more")], 3); // changed + appended
  assert.deepEqual([...hub.rows.keys()], ["u1", "a1", "u2"]);
  assert.equal(hub.rows.get("a1").text, "Hello.");
  // a user row completing late goes before the reply: an insertion
  seen.length = 0;
  rows(2, 0, [row("u3", "late")], 4);
  assert.deepEqual(seen, ["rows"]);
  assert.deepEqual([...hub.rows.keys()], ["u1", "a1", "u3", "u2"]);
  // an early item deleted (trimming the context): one small message
  rows(0, 1, [], 3);
  assert.deepEqual(hub.traitRows.map((r) => r.item_id), ["a1", "u3", "u2"]);
  // the whole trait at a pause replaces the patched list
  m.set("transcript", [row("a1", "Hello."), row("u3", "late"), row("u2", "more")]);
  assert.deepEqual(hub.traitRows.map((r) => r.item_id), ["a1", "u3", "u2"]);
  // malformed messages change nothing
  seen.length = 0;
  rows(-1, 0, [], 3);
  rows(0, 0, "nope", 3);
  m.emit("msg:custom", { type: "rows" }, []);
  assert.deepEqual(seen, []);
  assert.equal(hub.traitRows.length, 3);
  // a page that missed earlier rows: the positions it never had stay empty
  const late = new Hub(new FakeModel({ transcript: [] }));
  late.model.emit("msg:custom", { type: "rows", start: 2, delete: 0, rows: [row("u9", "x")], total: 3 }, []);
  assert.deepEqual([...late.rows.keys()], ["u9"]);
  assert.equal(late.traitRows.length, 3);
  late.close();
  hub.close();
});

test("events keep the last 200; pong resolves ping; state hint", async () => {
  const m = new FakeModel();
  const hub = new Hub(m);
  for (let i = 0; i < 5; i++)
    m.emit("msg:custom", { type: "events", events: Array.from({ length: 50 }, (_, k) => ({ t: i * 50 + k, dir: "in", type: "x", summary: "" })) }, []);
  assert.equal(hub.events.length, MAX_EVENTS);
  assert.equal(hub.events[0].t, 50);
  const p = hub.ping(1000);
  const [ping] = m.of("ping");
  m.emit("msg:custom", { type: "pong", id: ping.id, t_kernel: 1 }, []);
  const r = await p;
  assert.ok(r.rtt >= 0 && r.pong.t_kernel === 1);
  m.emit("msg:custom", { type: "state", speaking: "model" }, []);
  assert.equal(hub.speaking, "model");
  m.set("status", "listening");
  assert.equal(hub.speaking, undefined, "the trait takes over");
  hub.close();
});

test("traits written by the browser: set + save_changes only when changed", () => {
  const m = new FakeModel({ mic_status: "off", mic_message: "" });
  const hub = new Hub(m);
  const saves = m.saves;
  hub.setMic("denied", "allow the microphone");
  assert.equal(m.state.mic_status, "denied");
  assert.equal(m.saves, saves + 1);
  hub.setMic("denied", "allow the microphone");
  assert.equal(m.saves, saves + 1);
  hub.setVolume(2);
  assert.equal(m.state.volume, 1);
  hub.setVolume(0.25);
  assert.equal(m.state.volume, 0.25);
  hub.close();
});

test("text input sends trimmed text, ignores blanks", () => {
  const m = new FakeModel();
  const hub = new Hub(m);
  assert.equal(hub.sendText("   "), false);
  assert.equal(hub.sendText("  hello "), true);
  assert.deepEqual(m.of("text").map((c) => c.text), ["hello"]);
  hub.close();
});
