// anywidget entry point of realtime_widget's front end.
//
// initialize (once per model): the hub — comm messages, live transcript and
// events, the audio engine's lifetime. render (once per view): the DOM.
// The audio engine belongs to the model and is shared by its views; it is
// released when the last view goes away and when the widget closes.
//
// anywidget (0.11) evaluates this module once per widget instance and awaits
// `initialize` before any `render`, so the module-level `hub` is this model's.
// (Each call gets its own model proxy, so the proxies can't be used as keys.)
import { Hub } from "./hub.js";
import { createView } from "./ui.js";

/** @type {Hub|null} */
let hub = null;

export default {
  /** @param {{model: any, signal?: AbortSignal}} props */
  initialize({ model }) {
    const h = new Hub(model);
    hub = h;
    return () => {
      h.close();
      if (hub === h) hub = null;
    };
  },

  /** @param {{model: any, el: HTMLElement, signal?: AbortSignal}} props */
  render({ model, el }) {
    if (!hub || hub.closed) hub = new Hub(model); // a host that skips initialize
    return createView(hub, el);
  },
};
