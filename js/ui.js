// One view's DOM: controls, meters, transcript, events, text input.
// Everything lives under a `.rtw-root` element; styles are scoped to it.
import { STYLE } from "./style.js";

/** @typedef {import("./hub.js").Hub} Hub */
/** @typedef {import("./hub.js").Row} Row */

const STATUS_LABELS = /** @type {Record<string, string>} */ ({
  disconnected: "disconnected",
  connecting: "connecting",
  listening: "listening",
  user_speaking: "user speaking",
  model_speaking: "model speaking",
  error: "error",
});

const MIC_PROBLEMS = new Set(["denied", "absent", "insecure", "unsupported", "error"]);

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any>} [props]
 * @param {(Node|string|null|undefined)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
function h(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "title")
      el.setAttribute(k, String(v));
    else /** @type {any} */ (el)[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/** @param {EventTarget|null} t */
function isEditable(t) {
  if (!(t instanceof HTMLElement)) return false;
  if (t.isContentEditable) return true;
  const tag = t.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const type = /** @type {HTMLInputElement} */ (t).type;
    return !["button", "checkbox", "radio", "range", "submit", "reset", "color", "file"].includes(type);
  }
  return !!t.closest(".cm-editor, .CodeMirror, [contenteditable='true']");
}

/** Level (rms, 0..1 float scale) → meter fraction (−60..0 dBFS). @param {number} rms */
function meterFraction(rms) {
  if (!(rms > 0)) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

/** @param {any} t kernel event time @returns {string} */
function fmtTime(t) {
  const x = Number(t);
  if (!Number.isFinite(x)) return "";
  let ms = null;
  if (x > 1e12) ms = x; // epoch ms
  else if (x > 1e9) ms = x * 1000; // epoch s
  if (ms !== null) {
    const d = new Date(ms);
    const p = (/** @type {number} */ n, w = 2) => String(n).padStart(w, "0");
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }
  return x.toFixed(3);
}

/** @param {any} dir */
function fmtDir(dir) {
  const d = String(dir ?? "");
  if (["in", "recv", "server", "received", "←", "<"].includes(d)) return "←";
  if (["out", "send", "client", "sent", "→", ">"].includes(d)) return "→";
  if (d === "widget") return "·";
  return d;
}

/**
 * A row's heard and unheard text: `text` is what was heard (the kernel sends
 * the heard part as `text` once an item is truncated), `unheard` the cut tail.
 * @param {Row} row
 */
export function splitHeard(row) {
  return [row.text ?? "", row.unheard ?? ""];
}

/**
 * A short note after a row's text, for what the text alone does not say: a reply cut
 * by an interruption (often before any of it was heard: then it has no text at all),
 * or a finished item with no text (audio without a transcript). "" for none.
 * @param {Row} row
 * @returns {string}
 */
export function rowNote(row) {
  const [heard, unheard] = splitHeard(row);
  if (row.status === "interrupted") return heard || unheard ? "(interrupted)" : "(interrupted before it was heard)";
  if (row.status === "completed" && !heard && !unheard) {
    if (row.role === "user") return "(speech)";
    if (row.role === "assistant") return "(audio)";
  }
  return "";
}

/**
 * Build a view. Returns its cleanup.
 * @param {Hub} hub
 * @param {HTMLElement} el
 * @returns {() => void}
 */

/**
 * The session's running totals as a short label ("1,234 tok · $0.0123"); "" before any.
 * @param {unknown} u the `usage` trait: {total_tokens, cost_usd (null when unpriced)}
 * @returns {string}
 */
export function usageText(u) {
  if (!u || typeof u !== "object") return "";
  const o = /** @type {{total_tokens?: number, cost_usd?: number | null, responses?: number}} */ (u);
  if (!o.responses) return "";
  const tokens = `${Number(o.total_tokens ?? 0).toLocaleString("en-US")} tok`;
  const cost = typeof o.cost_usd === "number" && Number.isFinite(o.cost_usd) ? ` · $${o.cost_usd.toFixed(4)}` : "";
  return tokens + cost;
}

export function createView(hub, el) {
  const model = hub.model;
  const ac = new AbortController();
  const sig = { signal: ac.signal };
  const view = {};

  // -- DOM -----------------------------------------------------------------------
  const style = h("style", { text: STYLE });
  const pill = h("span", { class: "rtw-pill", role: "status", "aria-live": "polite" });
  const target = h("span", { class: "rtw-target" });
  const usage = h("span", { class: "rtw-usage", title: "tokens and cost so far (response.done usage)" });
  const connectBtn = h("button", { class: "rtw-btn rtw-connect", type: "button" });
  const inFill = h("div", { class: "rtw-meter-fill" });
  const outFill = h("div", { class: "rtw-meter-fill" });
  const inMeter = h("div", { class: "rtw-meter", title: "microphone level" }, [inFill]);
  const outMeter = h("div", { class: "rtw-meter", title: "model audio level" }, [outFill]);
  const vadBtn = h("button", { class: "rtw-seg", type: "button", text: "VAD", title: "server voice activity detection" });
  const pttBtn = h("button", { class: "rtw-seg", type: "button", text: "Push-to-talk" });
  const modeGroup = h("div", { class: "rtw-segs", role: "group", "aria-label": "turn mode" }, [vadBtn, pttBtn]);
  const holdBtn = h("button", {
    class: "rtw-btn rtw-hold",
    type: "button",
    text: "Hold to talk",
    title: "hold this button, or the space bar while the widget has focus",
  });
  const muteBtn = h("button", { class: "rtw-btn rtw-mute", type: "button" });
  const volume = h("input", {
    class: "rtw-volume",
    type: "range",
    min: "0",
    max: "1",
    step: "0.01",
    title: "volume",
    "aria-label": "volume",
  });
  const micMsg = h("div", { class: "rtw-notice rtw-mic-msg", role: "alert" });
  const errMsg = h("div", { class: "rtw-notice rtw-error", role: "alert" });
  const transcript = h("div", { class: "rtw-transcript", "aria-label": "transcript", "aria-live": "polite" });
  const empty = h("div", { class: "rtw-empty", text: "The conversation appears here." });
  const textInput = h("input", {
    class: "rtw-text",
    type: "text",
    placeholder: "Type a message and press Enter",
    "aria-label": "message",
  });
  const sendBtn = h("button", { class: "rtw-btn", type: "button", text: "Send" });
  const evSummary = h("summary", { text: "Events" });
  const evList = h("div", { class: "rtw-events" });
  const evDetails = h("details", { class: "rtw-events-box" }, [evSummary, evList]);

  const root = h(
    "div",
    { class: "rtw-root", tabIndex: 0, "data-lm-suppress-shortcuts": "true", "aria-label": "realtime voice widget" },
    [
      style,
      h("div", { class: "rtw-bar" }, [pill, target, h("span", { class: "rtw-spacer" }), usage, connectBtn]),
      h("div", { class: "rtw-bar rtw-controls" }, [
        h("label", { class: "rtw-meter-box" }, [h("span", { text: "mic" }), inMeter]),
        h("label", { class: "rtw-meter-box" }, [h("span", { text: "out" }), outMeter]),
        modeGroup,
        holdBtn,
        muteBtn,
        h("label", { class: "rtw-vol-box" }, [h("span", { text: "vol" }), volume]),
      ]),
      micMsg,
      errMsg,
      transcript,
      h("div", { class: "rtw-bar rtw-input" }, [textInput, sendBtn]),
      evDetails,
    ],
  );
  el.append(root);

  // -- state → DOM -----------------------------------------------------------------
  const updateState = () => {
    const status = String(model.get("status") ?? "disconnected");
    let shown = status;
    if (hub.speaking !== undefined && ["listening", "user_speaking", "model_speaking"].includes(status))
      shown = hub.speaking === "user" ? "user_speaking" : hub.speaking === "model" ? "model_speaking" : "listening";
    if (hub.connecting && status === "disconnected") shown = "connecting";
    pill.textContent = STATUS_LABELS[shown] ?? shown;
    pill.dataset.status = shown;
    target.textContent = model.get("target") ? String(model.get("target")) : "";
    usage.textContent = usageText(model.get("usage"));
    const on = hub.connected || hub.connecting;
    connectBtn.textContent = hub.connecting ? "Cancel" : on ? "Disconnect" : "Connect";
    connectBtn.title = hub.connecting ? "waiting for the microphone permission / audio start" : "";
    connectBtn.classList.toggle("rtw-primary", !on);
    const ptt = hub.mode === "ptt";
    vadBtn.setAttribute("aria-pressed", String(!ptt));
    pttBtn.setAttribute("aria-pressed", String(ptt));
    holdBtn.hidden = !ptt;
    holdBtn.classList.toggle("rtw-held", hub.pttHeld);
    holdBtn.setAttribute("aria-pressed", String(hub.pttHeld));
    const muted = hub.muted;
    muteBtn.textContent = muted ? "Unmute" : "Mute";
    muteBtn.setAttribute("aria-pressed", String(muted));
    muteBtn.classList.toggle("rtw-muted", muted);
    if (document.activeElement !== volume) volume.value = String(hub.volume);
    const err = String(model.get("last_error") ?? "");
    errMsg.textContent = err;
    errMsg.hidden = !err;
    const ms = String(model.get("mic_status") ?? "off");
    const mm = String(model.get("mic_message") ?? "");
    micMsg.hidden = !(MIC_PROBLEMS.has(ms) && mm);
    micMsg.textContent = mm;
    root.dataset.mic = ms;
  };

  /** @type {Map<string, HTMLElement>} */
  const rowEls = new Map();
  const atBottom = (/** @type {HTMLElement} */ box) => box.scrollHeight - box.scrollTop - box.clientHeight < 24;

  /** @param {Row} row */
  const renderRow = (row) => {
    let div = rowEls.get(row.item_id);
    if (!div) {
      div = h("div", { class: "rtw-row" });
      div.dataset.itemId = row.item_id;
      rowEls.set(row.item_id, div);
    }
    const user = row.role === "user";
    const kind = user ? "rtw-user" : row.role === "tool" ? "rtw-tool" : "rtw-assistant";
    div.className = `rtw-row ${kind} rtw-st-${row.status}`;
    const [heard, unheard] = splitHeard(row);
    const who = user ? "You" : row.role === "assistant" ? "Model" : row.role === "tool" ? "Tool" : row.role;
    const parts = [h("span", { class: "rtw-who", text: who })];
    parts.push(h("span", { class: "rtw-said", text: heard }));
    if (unheard) parts.push(h("s", { class: "rtw-unheard", text: unheard, title: "not heard: cut by an interruption" }));
    const note = rowNote(row);
    if (note) parts.push(h("span", { class: "rtw-note", text: note }));
    div.replaceChildren(...parts);
    return div;
  };

  // DOM work for messages is done once per animation frame, not per message: the
  // scroll check reads layout, and a forced layout of the whole JupyterLab page per
  // transcript delta kept the main thread (which also relays the audio) busy.
  let frame = 0;
  let allRowsDirty = false;
  /** @type {Map<string, Row>} */
  const dirtyRows = new Map();
  /** @type {import("./hub.js").LogEvent[]} */
  let newEvents = [];
  let eventsStale = false; // the list was not kept up to date while closed
  const flush = () => {
    frame = 0;
    if (allRowsDirty) {
      allRowsDirty = false;
      dirtyRows.clear();
      renderAllRows();
    } else if (dirtyRows.size > 0) {
      const rows = [...dirtyRows.values()];
      dirtyRows.clear();
      updateRows(rows);
    }
    if (newEvents.length > 0 || eventsStale) {
      const evs = newEvents;
      newEvents = [];
      addEvents(evs);
    }
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(flush);
  };

  const renderAllRows = () => {
    const stick = atBottom(transcript);
    const els = [];
    for (const row of hub.rows.values()) els.push(renderRow(row));
    for (const [id, div] of rowEls) if (!hub.rows.has(id)) {
      div.remove();
      rowEls.delete(id);
    }
    transcript.replaceChildren(...(els.length ? els : [empty]));
    if (stick) transcript.scrollTop = transcript.scrollHeight;
  };

  /** @param {Row[]} rows */
  const updateRows = (rows) => {
    const stick = atBottom(transcript);
    for (const row of rows) {
      const known = rowEls.has(row.item_id);
      const div = renderRow(row);
      if (!known) {
        empty.remove();
        transcript.append(div);
      }
    }
    if (stick) transcript.scrollTop = transcript.scrollHeight;
  };

  /** @param {import("./hub.js").LogEvent} e */
  const eventRow = (e) =>
    h("div", { class: "rtw-ev" }, [
      h("span", { class: "rtw-ev-t", text: fmtTime(e.t) }),
      h("span", { class: "rtw-ev-dir", text: fmtDir(e.dir) }),
      h("span", { class: "rtw-ev-type", text: String(e.type ?? "") }),
      h("span", { class: "rtw-ev-sum", text: String(e.summary ?? "") }),
    ]);

  const updateEventCount = () => {
    evSummary.textContent = `Events (${hub.events.length}${hub.events.length >= 200 ? ", last 200" : ""})`;
  };

  /** @param {import("./hub.js").LogEvent[]} evs */
  const addEvents = (evs) => {
    updateEventCount();
    if (!evDetails.open) {
      // closed (the default): no rows built; the list is rebuilt when opened
      eventsStale = true;
      return;
    }
    const stick = atBottom(evList);
    if (eventsStale) {
      eventsStale = false;
      evList.replaceChildren(...hub.events.map(eventRow));
    } else {
      for (const e of evs) evList.append(eventRow(e));
    }
    while (evList.childElementCount > hub.events.length) evList.firstElementChild?.remove();
    if (stick) evList.scrollTop = evList.scrollHeight;
  };

  // -- meters (animation frames only while audio is on) -------------------------------
  // ~15 updates a second (plenty for a level meter), and a style write only when
  // the bar moves visibly: every write means a paint of the page's layer
  let raf = 0;
  let meterAt = -Infinity;
  let shownIn = "";
  let shownOut = "";
  /** @param {HTMLElement} el @param {string} v @param {string} shown */
  const setMeter = (el, v, shown) => {
    if (v !== shown) el.style.transform = v;
    return v;
  };
  const meters = () => {
    raf = 0;
    const e = hub.engine;
    if (!e || e.closed) {
      shownIn = setMeter(inFill, "scaleX(0)", shownIn);
      shownOut = setMeter(outFill, "scaleX(0)", shownOut);
      return;
    }
    const now = performance.now();
    if (now - meterAt >= 60) {
      meterAt = now;
      const fresh = (/** @type {{rms: number, at: number}} */ l) => (now - l.at < 250 ? l.rms : 0);
      const bar = (/** @type {number} */ rms) => `scaleX(${(Math.round(meterFraction(rms) * 50) / 50).toFixed(2)})`;
      shownIn = setMeter(inFill, bar(fresh(e.inLevel)), shownIn);
      if (inFill.classList.contains("rtw-dim") !== hub.muted) inFill.classList.toggle("rtw-dim", hub.muted);
      shownOut = setMeter(outFill, bar(fresh(e.outLevel) * hub.volume), shownOut);
    }
    raf = requestAnimationFrame(meters);
  };
  const startMeters = () => {
    if (!raf && hub.active) raf = requestAnimationFrame(meters);
  };

  // -- DOM events ----------------------------------------------------------------------
  connectBtn.addEventListener(
    "click",
    () => {
      if (hub.connected || hub.connecting) hub.disconnect();
      else {
        hub.connect(); // creates/resumes the AudioContext synchronously, inside the click
        startMeters();
      }
    },
    sig,
  );
  vadBtn.addEventListener("click", () => hub.setMode("vad"), sig);
  pttBtn.addEventListener("click", () => hub.setMode("ptt"), sig);
  muteBtn.addEventListener("click", () => hub.setMuted(!hub.muted), sig);
  volume.addEventListener("input", () => hub.setVolume(Number(volume.value)), sig);

  let holdPointer = /** @type {number|null} */ (null);
  holdBtn.addEventListener(
    "pointerdown",
    (e) => {
      if (e.button !== 0) return;
      holdPointer = e.pointerId;
      try {
        holdBtn.setPointerCapture(e.pointerId);
      } catch {}
      e.preventDefault();
      hub.pttDown();
    },
    sig,
  );
  const release = () => {
    if (holdPointer === null) return;
    holdPointer = null;
    hub.pttUp();
  };
  holdBtn.addEventListener("pointerup", release, sig);
  holdBtn.addEventListener("pointercancel", release, sig);
  holdBtn.addEventListener("lostpointercapture", release, sig);

  let spaceHeld = false;
  root.addEventListener(
    "keydown",
    (e) => {
      if (e.key !== " " && e.code !== "Space") return;
      if (hub.mode !== "ptt" || isEditable(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      e.preventDefault();
      e.stopPropagation();
      if (e.repeat || spaceHeld) return;
      spaceHeld = true;
      hub.pttDown();
    },
    sig,
  );
  const spaceUp = () => {
    if (!spaceHeld) return;
    spaceHeld = false;
    hub.pttUp();
  };
  root.addEventListener(
    "keyup",
    (e) => {
      if (e.key !== " " && e.code !== "Space") return;
      if (spaceHeld) {
        e.preventDefault();
        e.stopPropagation();
      }
      spaceUp();
    },
    sig,
  );
  root.addEventListener(
    "focusout",
    (e) => {
      if (!root.contains(/** @type {Node|null} */ (e.relatedTarget))) spaceUp();
    },
    sig,
  );
  window.addEventListener("blur", spaceUp, sig);

  const submit = () => {
    if (hub.sendText(textInput.value)) textInput.value = "";
  };
  textInput.addEventListener(
    "keydown",
    (e) => {
      if (e.key === "Enter" && !e.isComposing) {
        e.preventDefault();
        e.stopPropagation();
        submit();
      }
    },
    sig,
  );
  sendBtn.addEventListener("click", submit, sig);
  evDetails.addEventListener(
    "toggle",
    () => {
      if (evDetails.open && eventsStale) addEvents([]);
    },
    sig,
  );

  // -- hub / model events ------------------------------------------------------------------
  const unsubscribe = hub.subscribe((kind, data) => {
    if (kind === "state" || kind === "mic") updateState();
    else if (kind === "rows") {
      allRowsDirty = true;
      schedule();
    } else if (kind === "row") {
      dirtyRows.set(data.item_id, data);
      schedule();
    } else if (kind === "events") {
      for (const e of data) newEvents.push(e);
      if (newEvents.length > 200) newEvents.splice(0, newEvents.length - 200);
      schedule();
    }
    else if (kind === "engine") {
      updateState();
      startMeters();
    }
  });
  const onTrait = () => updateState();
  const traits = ["status", "target", "last_error", "mic_status", "mic_message", "mode", "muted", "volume", "usage"];
  for (const k of traits) model.on(`change:${k}`, onTrait);

  updateState();
  renderAllRows();
  addEvents(hub.events.slice(-200));
  startMeters();
  hub.attachView(view);

  return () => {
    if (spaceHeld || holdPointer !== null) hub.pttUp();
    ac.abort();
    unsubscribe();
    for (const k of traits) model.off(`change:${k}`, onTrait);
    if (raf) cancelAnimationFrame(raf);
    raf = 0;
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
    root.remove();
    hub.detachView(view);
  };
}
