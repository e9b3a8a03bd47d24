// Styles of one view, injected as a <style> inside the view and scoped under
// `.rtw-root`. Colours come from JupyterLab's --jp-* variables (so light and
// dark themes follow JupyterLab 4 and Notebook 7); the fallbacks are neutral,
// translucent colours that read on light and dark hosts (marimo, VS Code).
export const STYLE = `
.rtw-root {
  --rtw-fg: var(--jp-ui-font-color1, currentColor);
  --rtw-fg2: var(--jp-ui-font-color2, currentColor);
  --rtw-model: #ab47bc;
  --rtw-bg: var(--jp-layout-color1, transparent);
  --rtw-bg2: var(--jp-layout-color2, rgba(128, 128, 128, 0.12));
  --rtw-border: var(--jp-border-color1, rgba(128, 128, 128, 0.45));
  --rtw-accent: var(--jp-brand-color1, #1976d2);
  --rtw-on-accent: var(--jp-ui-inverse-font-color1, #fff);
  --rtw-error: var(--jp-error-color1, #d32f2f);
  --rtw-warn: var(--jp-warn-color1, #e65100);
  --rtw-ok: var(--jp-success-color1, #388e3c);
  --rtw-font: var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", sans-serif);
  --rtw-mono: var(--jp-code-font-family, ui-monospace, SFMono-Regular, Menlo, monospace);
  --rtw-size: var(--jp-ui-font-size1, 13px);
  font-family: var(--rtw-font);
  font-size: var(--rtw-size);
  color: var(--rtw-fg);
  background: var(--rtw-bg);
  border: 1px solid var(--rtw-border);
  border-radius: 6px;
  padding: 8px;
  box-sizing: border-box;
  max-width: 880px;
  display: flex;
  flex-direction: column;
  gap: 6px;
  outline: none;
}
.rtw-root:focus-visible { box-shadow: 0 0 0 2px var(--rtw-accent); }
.rtw-root *, .rtw-root *::before, .rtw-root *::after { box-sizing: border-box; }
.rtw-root [hidden] { display: none !important; }
.rtw-root .rtw-bar { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.rtw-root .rtw-spacer { flex: 1; }
.rtw-root .rtw-target { color: var(--rtw-fg2); font-size: 0.92em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 60%; }
.rtw-root .rtw-usage { color: var(--rtw-fg2); font-size: 0.85em; white-space: nowrap; font-variant-numeric: tabular-nums; }
.rtw-root .rtw-pill {
  display: inline-flex; align-items: center; gap: 6px;
  padding: 2px 10px; border-radius: 999px; font-weight: 600; white-space: nowrap;
  background: var(--rtw-bg2); border: 1px solid var(--rtw-border);
}
.rtw-root .rtw-pill::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--rtw-fg2); opacity: 0.45; }
.rtw-root .rtw-pill[data-status="connecting"]::before { background: var(--rtw-warn); opacity: 1; animation: rtw-blink 1s infinite; }
.rtw-root .rtw-pill[data-status="listening"]::before { background: var(--rtw-ok); opacity: 1; }
.rtw-root .rtw-pill[data-status="user_speaking"]::before { background: var(--rtw-accent); opacity: 1; }
.rtw-root .rtw-pill[data-status="model_speaking"]::before { background: var(--rtw-model); opacity: 1; }
.rtw-root .rtw-pill[data-status="error"] { color: var(--rtw-error); border-color: var(--rtw-error); }
.rtw-root .rtw-pill[data-status="error"]::before { background: var(--rtw-error); opacity: 1; }
@keyframes rtw-blink { 50% { opacity: 0.25; } }
.rtw-root .rtw-btn, .rtw-root .rtw-seg {
  font: inherit; color: var(--rtw-fg); background: var(--rtw-bg2);
  border: 1px solid var(--rtw-border); border-radius: 4px; padding: 3px 10px; cursor: pointer;
  line-height: 1.4;
}
.rtw-root .rtw-btn:hover, .rtw-root .rtw-seg:hover { border-color: var(--rtw-accent); }
.rtw-root .rtw-btn:disabled { opacity: 0.6; cursor: default; }
.rtw-root .rtw-btn.rtw-primary { background: var(--rtw-accent); color: var(--rtw-on-accent); border-color: var(--rtw-accent); }
.rtw-root .rtw-segs { display: inline-flex; }
.rtw-root .rtw-seg { border-radius: 0; }
.rtw-root .rtw-seg:first-child { border-radius: 4px 0 0 4px; }
.rtw-root .rtw-seg:last-child { border-radius: 0 4px 4px 0; border-left: none; }
.rtw-root .rtw-seg[aria-pressed="true"] { background: var(--rtw-accent); color: var(--rtw-on-accent); border-color: var(--rtw-accent); }
.rtw-root .rtw-hold { user-select: none; touch-action: none; }
.rtw-root .rtw-hold.rtw-held { background: var(--rtw-accent); color: var(--rtw-on-accent); }
.rtw-root .rtw-mute.rtw-muted { color: var(--rtw-error); border-color: var(--rtw-error); }
.rtw-root .rtw-meter-box, .rtw-root .rtw-vol-box { display: inline-flex; align-items: center; gap: 4px; color: var(--rtw-fg2); font-size: 0.9em; }
.rtw-root .rtw-meter { contain: strict; width: 80px; height: 8px; border-radius: 4px; background: var(--rtw-bg2); border: 1px solid var(--rtw-border); overflow: hidden; }
.rtw-root .rtw-meter-fill { height: 100%; width: 100%; background: var(--rtw-ok); transform-origin: left center; transform: scaleX(0); transition: transform 60ms linear; }
.rtw-root .rtw-meter-fill.rtw-dim { background: var(--rtw-fg2); opacity: 0.5; }
.rtw-root .rtw-volume { width: 90px; accent-color: var(--rtw-accent); }
.rtw-root .rtw-notice { padding: 6px 8px; border-radius: 4px; border-left: 3px solid var(--rtw-warn); background: var(--rtw-bg2); white-space: pre-wrap; }
.rtw-root .rtw-notice.rtw-error { border-left-color: var(--rtw-error); color: var(--rtw-error); }
.rtw-root .rtw-transcript {
  contain: content; /* a transcript delta relays out this box only, not the notebook */
  max-height: 280px; min-height: 48px; overflow-y: auto; padding: 4px 6px;
  border: 1px solid var(--rtw-border); border-radius: 4px; display: flex; flex-direction: column; gap: 4px;
}
.rtw-root .rtw-empty { color: var(--rtw-fg2); font-style: italic; }
.rtw-root .rtw-row { line-height: 1.45; white-space: pre-wrap; overflow-wrap: anywhere; }
.rtw-root .rtw-who { font-weight: 600; margin-right: 6px; }
.rtw-root .rtw-user .rtw-who { color: var(--rtw-accent); }
.rtw-root .rtw-tool { font-family: var(--jp-code-font-family, monospace); font-size: 0.9em; opacity: 0.8; }
.rtw-root .rtw-assistant .rtw-who { color: var(--rtw-model); }
.rtw-root .rtw-st-in_progress .rtw-said { opacity: 0.75; }
.rtw-root .rtw-note { font-style: italic; opacity: 0.6; margin-left: 4px; }
.rtw-root .rtw-unheard { color: var(--rtw-fg2); opacity: 0.8; }
.rtw-root .rtw-input .rtw-text {
  flex: 1; min-width: 160px; font: inherit; color: var(--rtw-fg); background: var(--rtw-bg);
  border: 1px solid var(--rtw-border); border-radius: 4px; padding: 4px 6px;
}
.rtw-root .rtw-input .rtw-text:focus { outline: 1px solid var(--rtw-accent); border-color: var(--rtw-accent); }
.rtw-root .rtw-events-box > summary { cursor: pointer; color: var(--rtw-fg2); user-select: none; }
.rtw-root .rtw-events { contain: content; max-height: 200px; overflow-y: auto; font-family: var(--rtw-mono); font-size: 0.85em; margin-top: 4px; }
.rtw-root .rtw-ev { display: grid; grid-template-columns: 7.5em 1.2em minmax(8em, 18em) 1fr; gap: 6px; white-space: nowrap; }
.rtw-root .rtw-ev > span { overflow: hidden; text-overflow: ellipsis; }
.rtw-root .rtw-ev-t, .rtw-root .rtw-ev-dir { color: var(--rtw-fg2); }
`;
