"""Layer 6: :class:`SettingsPanel`, session settings as ipywidgets controls.

The panel edits one :class:`~realtime_widget.session.Session`'s settings and shows
what the server made of them. How it works, in the order things happen:

* **Controls → settings.** Each control maps to one keyword of
  :func:`~realtime_widget.protocol.config.settings_to_session` (``voice``,
  ``turn_detection``, ``transcription``...). A setting is built on top of the
  *effective* config, so fields the panel has no control for are kept (the
  ``strength`` of noise reduction, token limits of a retention-ratio truncation,
  extra transcription fields when the model is unchanged).
* **Inline validation** runs each keyword through ``settings_to_session`` alone
  (so every bad control shows its own message), then the merged config through
  ``validate_session`` (cross-field rules: a forced tool must exist). A
  :class:`~realtime_widget.errors.ConfigError` is shown in red beside the control
  its ``param`` names; Apply then sends nothing.
* **Apply sends only what differs from the effective config** (whole units:
  a changed VAD field sends the whole ``turn_detection`` object, since servers
  replace it when its type changes and some replace it always). Unchanged
  settings are not re-sent: the update stays small, the requested-vs-effective
  table shows only what was asked, and an unchanged voice is never offered to a
  server that refuses voice changes after audio. The update runs as
  ``await session.update(**changes)`` on the session's I/O loop, never blocking
  the kernel; :meth:`SettingsPanel.apply` returns a :class:`PendingApply` that a
  cell can ``await``.
* **Requested vs effective.** After ``session.updated``, each requested leaf is
  compared with the server's config by
  :func:`~realtime_widget.protocol.config.diff_config`: applied (✓), changed by
  the server (≠, the value it holds), not in the server's config (?). A refusal
  (an ``error`` answering the update, e.g. ``cannot_update_voice``) marks the
  field its ``param`` names ✗ with the server's message, and the others "not
  applied" (servers apply an update whole or not at all). A refused value stays
  in its control, marked, so it can be fixed and applied again.
* **Both ways.** ``session.created``/``session.updated`` hooks (on the session's
  I/O thread) load the effective config into every control the user has not
  edited since the last load; edited controls keep their pending value. Traits
  are set from that thread, as the widget's relay does (ipykernel sends comm
  messages from any thread); a lock keeps a load and a user's Apply apart.
* **Disconnected session.** Apply merges the changes into the settings the
  session sends right after it connects (its initial ``session.update``) and
  says so; the panel shows that pending config until the server answers.
* **Tools.** When the session has a tool registry (``session.tools``: names,
  enabled, enable/disable, definitions, on_change), one checkbox per tool;
  Apply enables/disables them and sends ``tools`` when the definitions differ
  from the effective ones. The tool-choice box offers the tool names.
* **Presets** are JSON files: ``{"realtime_widget_preset": 1, "session": <GA
  partial session>, "tools_enabled": [...]}``. Loading fills the controls (it
  does not apply).
* **Errors are never silent**: a last-error line shows anything that failed
  (an apply, a preset, a hook).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from collections.abc import Callable, Container, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from html import escape
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets as w

from realtime_widget._loop import io_loop
from realtime_widget.errors import ConfigError, ServerError
from realtime_widget.protocol.config import (
    KNOWN_MODELS,
    KNOWN_VOICES,
    TRANSCRIPTION_MODELS,
    default_session,
    diff_config,
    merge_session,
    settings_to_session,
    validate_session,
)

if TYPE_CHECKING:
    from realtime_widget.session import Session

    from .widget import RealtimeWidget

__all__ = [
    "DEFAULT_PRESETS_DIR",
    "ApplyResult",
    "FieldResult",
    "PendingApply",
    "SettingsPanel",
    "WidgetWithSettings",
]

DEFAULT_PRESETS_DIR = Path("~/.realtime_widget/presets")
"""Where bare preset names are saved and loaded (``panel.save_preset("calm")``)."""

_PRESET_VERSION = 1

# The settings keyword each control feeds and where that keyword lives in the GA session.
_LOCATION: dict[str, tuple[str, ...]] = {
    "model": ("model",),
    "instructions": ("instructions",),
    "output_modalities": ("output_modalities",),
    "voice": ("audio", "output", "voice"),
    "speed": ("audio", "output", "speed"),
    "turn_detection": ("audio", "input", "turn_detection"),
    "transcription": ("audio", "input", "transcription"),
    "noise_reduction": ("audio", "input", "noise_reduction"),
    "max_output_tokens": ("max_output_tokens",),
    "truncation": ("truncation",),
    "tool_choice": ("tool_choice",),
    "tools": ("tools",),
}

_VAD_PARAMS: dict[str, tuple[str, ...]] = {
    "server_vad": (
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "idle_timeout_ms",
        "create_response",
        "interrupt_response",
    ),
    "semantic_vad": ("eagerness", "create_response", "interrupt_response"),
    "off": (),
}

_TD = "audio.input.turn_detection"
# The GA path each control edits: an error whose ``param`` starts with it shows beside it.
_CONTROL_PATHS: dict[str, str] = {
    "model": "model",
    "instructions": "instructions",
    "output_modality": "output_modalities",
    "voice": "audio.output.voice",
    "speed": "audio.output.speed",
    "turn_detection": _TD,
    **{name: f"{_TD}.{name}" for name in {*_VAD_PARAMS["server_vad"], "eagerness"}},
    "transcription_model": "audio.input.transcription",
    "transcription_language": "audio.input.transcription.language",
    "transcription_prompt": "audio.input.transcription.prompt",
    "noise_reduction": "audio.input.noise_reduction",
    "max_output_tokens": "max_output_tokens",
    "truncation": "truncation",
    "retention_ratio": "truncation.retention_ratio",
    "tool_choice": "tool_choice",
    "tools": "tools",
}

_TOOL_CHOICES = ("auto", "none", "required")

FieldStatus = Literal["applied", "changed", "ignored", "refused", "not_applied", "stored"]
ApplyStatus = Literal["applied", "changed", "refused", "stored", "nothing", "invalid", "failed"]

_MARKS: dict[str, str] = {
    "applied": "✓",
    "changed": "≠",
    "ignored": "?",
    "refused": "✗",
    "not_applied": "–",
    "stored": "…",
}


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldResult:
    """One requested field after an Apply: what was asked and what the server holds."""

    path: str
    requested: Any
    effective: Any
    status: FieldStatus
    message: str | None = None
    """The server's message for a refused field."""

    def __str__(self) -> str:
        mark = _MARKS[self.status]
        if self.status == "applied":
            return f"{mark} {self.path} = {_short(self.requested)}"
        if self.status == "changed":
            return (
                f"{mark} {self.path}: requested {_short(self.requested)}, "
                f"server set {_short(self.effective)}"
            )
        if self.status == "ignored":
            return f"{mark} {self.path}: requested {_short(self.requested)}, not in server config"
        if self.status == "refused":
            return (
                f"{mark} {self.path}: requested {_short(self.requested)}, refused: {self.message}"
            )
        if self.status == "stored":
            return f"{mark} {self.path} = {_short(self.requested)} (sent when connected)"
        return (
            f"{mark} {self.path}: requested {_short(self.requested)}, not applied "
            f"(the update was refused), still {_short(self.effective)}"
        )


@dataclass(slots=True)
class ApplyResult:
    """What one Apply did.

    ``status``: ``applied`` (every field as requested), ``changed`` (the server
    holds other values for some), ``refused`` (the server answered with an
    ``error``), ``stored`` (not connected: kept as the initial settings),
    ``nothing`` (no difference to send), ``invalid`` (validation failed; nothing
    sent), ``failed`` (timeout, connection lost...).
    """

    status: ApplyStatus
    sent: dict[str, Any] = field(default_factory=dict)
    """The keyword settings given to ``session.update`` (or stored)."""
    fields: list[FieldResult] = field(default_factory=list)
    error: str | None = None
    error_code: str | None = None
    error_param: str | None = None
    answer_ms: float | None = None

    def __str__(self) -> str:
        head = f"{self.status}"
        if self.answer_ms is not None:
            head += f" in {self.answer_ms:.0f} ms"
        if self.error:
            head += f": {self.error}"
        return "\n".join([head, *(str(f) for f in self.fields)])

    def by_path(self) -> dict[str, FieldResult]:
        return {f.path: f for f in self.fields}


class PendingApply:
    """An Apply in flight. ``await`` it in a cell, or ``.result(timeout)`` from a thread
    other than the session's I/O thread."""

    def __init__(self, future: concurrent.futures.Future[ApplyResult]) -> None:
        self.future = future

    @classmethod
    def done_with(cls, result: ApplyResult) -> PendingApply:
        fut: concurrent.futures.Future[ApplyResult] = concurrent.futures.Future()
        fut.set_result(result)
        return cls(fut)

    def done(self) -> bool:
        return self.future.done()

    def result(self, timeout: float | None = None) -> ApplyResult:
        return self.future.result(timeout)

    def __await__(self) -> Generator[Any, None, ApplyResult]:
        return asyncio.wrap_future(self.future).__await__()


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _get(config: Mapping[str, Any] | None, keys: Iterable[str]) -> Any:
    node: Any = config
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _same(a: Any, b: Any) -> bool:
    """Config equality (numbers compared loosely), via diff_config both ways."""
    changes = [*diff_config({"v": a}, {"v": b}), *diff_config({"v": b}, {"v": a})]
    return all(c.status == "applied" for c in changes)


def _number(text: str) -> Any:
    """A number typed in a text box: int, else float, else the text (validation says why)."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _control_for(param: str | None) -> str | None:
    """The control that edits ``param`` (a GA dotted path; ``session.`` prefix allowed)."""
    if not param:
        return None
    if param.startswith("session."):
        param = param[len("session.") :]
    best: str | None = None
    best_len = -1
    for name, path in _CONTROL_PATHS.items():
        if (param == path or param.startswith((path + ".", path + "["))) and len(path) > best_len:
            best, best_len = name, len(path)
    return best


def _tool_choice_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if value.get("type") == "function":
            return str(value.get("name", ""))
        if value.get("type") == "mcp":
            name = value.get("name")
            return f"mcp:{value.get('server_label')}" + (f":{name}" if name else "")
    return "auto"


def _field_errors(key: str, value: Mapping[str, Any]) -> dict[str, str]:
    """Validate each field of an object setting alone (with its required fields)."""
    required = {k: v for k, v in value.items() if k in ("type", "model", "retention_ratio")}
    errors: dict[str, str] = {}
    for field_name, field_value in value.items():
        try:
            settings_to_session(**{key: {**required, field_name: field_value}})
        except ConfigError as exc:
            name = _control_for(exc.param)
            if name is not None and name not in errors:
                errors[name] = str(exc)
    return errors


def _voice_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("id", ""))
    return "" if value is None else str(value)


def _call_or_value(value: Any) -> Any:
    return value() if callable(value) else value


# ---------------------------------------------------------------------------
# The panel
# ---------------------------------------------------------------------------


class SettingsPanel(w.VBox):  # type: ignore[misc]
    """Session settings as controls: edit, validate, Apply, see requested vs effective.

    >>> panel = SettingsPanel(session)              # doctest: +SKIP
    >>> panel                                        # doctest: +SKIP
    >>> panel.set(voice="cedar", silence_duration_ms=700)   # doctest: +SKIP
    >>> result = await panel.apply()                 # doctest: +SKIP
    >>> print(result)                                # doctest: +SKIP

    ``controls`` maps names (``model``, ``voice``, ``turn_detection``,
    ``silence_duration_ms``, ``transcription_model``...) to the ipywidgets;
    setting a control's ``.value`` and clicking ``apply_button`` is what a user
    does. ``presets_dir``: where bare preset names live (default
    ``~/.realtime_widget/presets``).
    """

    def __init__(
        self,
        session: Session,
        *,
        presets_dir: str | PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.session = session
        self.presets_dir = Path(presets_dir or DEFAULT_PRESETS_DIR).expanduser()
        self._lock = threading.RLock()
        self._loading = 0
        self._loaded: dict[str, Any] = {}
        self._closed = False
        self.errors: dict[str, str] = {}
        """Validation or refusal messages shown beside controls, by control name."""
        self.last_result: ApplyResult | None = None
        self.last_apply: PendingApply | None = None
        """The Apply started last (by the button or :meth:`apply`)."""
        self.last_error = ""
        """The last failure shown in the panel's error line ('' if none)."""
        self._tool_boxes: dict[str, w.Checkbox] = {}
        self._tools_loaded: dict[str, bool] = {}
        self._registry_hooked = False

        c = self.controls = self._make_controls()
        self._error_labels = {name: w.HTML("") for name in (*c, "tools")}
        self.turn_detection_params = w.VBox()
        """The parameter controls of the chosen turn-detection type (swapped on change)."""
        self.tools_box = w.VBox()
        self.apply_button = w.Button(description="Apply", button_style="primary", icon="check")
        self.revert_button = w.Button(description="Revert", tooltip="Show the effective config")
        self.status_line = w.HTML("")
        self.results = w.HTML("")
        self.error_line = w.HTML("")
        self.preset_name = w.Combobox(
            placeholder="preset name or path.json", description="preset", ensure_option=False
        )
        self.save_button = w.Button(description="Save", icon="save")
        self.load_button = w.Button(description="Load", icon="folder-open")

        sections = [
            ("Model and voice", ("model", "instructions", "voice", "speed", "output_modality")),
            (
                "Input audio",
                (
                    "transcription_model",
                    "transcription_language",
                    "transcription_prompt",
                    "noise_reduction",
                ),
            ),
            ("Responses", ("max_output_tokens", "truncation", "retention_ratio", "tool_choice")),
        ]
        rows = {name: self._row(name) for name in c}
        self._rows = rows
        boxes = [w.VBox([rows[n] for n in names]) for _, names in sections]
        turn_box = w.VBox([rows["turn_detection"], self.turn_detection_params])
        tools_section = w.VBox([self.tools_box, self._error_labels["tools"]])
        presets = w.VBox(
            [
                self.preset_name,
                w.HBox([self.save_button, self.load_button]),
                w.HTML(f"<small>folder: {escape(str(self.presets_dir))}</small>"),
            ]
        )
        self.accordion = w.Accordion(
            children=[boxes[0], turn_box, boxes[1], boxes[2], tools_section, presets],
            titles=(
                "Model and voice",
                "Turn detection",
                "Input audio",
                "Responses",
                "Tools",
                "Presets",
            ),
            selected_index=0,
        )
        super().__init__(
            children=[
                w.HTML("<b>Session settings</b>"),
                self.accordion,
                w.HBox([self.apply_button, self.revert_button]),
                self.status_line,
                self.results,
                self.error_line,
            ],
            **kwargs,
        )
        self.layout.min_width = "26em"

        for control in c.values():
            control.observe(self._on_control_change, names="value")
        c["turn_detection"].observe(self._show_vad_params, names="value")
        c["transcription_model"].observe(self._show_transcription, names="value")
        c["truncation"].observe(self._show_truncation, names="value")
        self.apply_button.on_click(lambda _b: self._click_apply())
        self.revert_button.on_click(lambda _b: self.revert())
        self.save_button.on_click(lambda _b: self._click_preset(save=True))
        self.load_button.on_click(lambda _b: self._click_preset(save=False))

        self._hooks: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
            ("session.created", self._on_session_event),
            ("session.updated", self._on_session_event),
            ("error", self._on_error_event),
            ("connection.closed", self._on_closed_event),
        ]
        for type_, hook in self._hooks:
            session.on(type_, hook)
        self._hook_registry()
        self._refresh_tools()
        self.revert()
        self._show_vad_params()
        self._show_transcription()
        self._show_truncation()
        self._refresh_presets()

    # -- building ------------------------------------------------------------------

    def _make_controls(self) -> dict[str, w.ValueWidget]:
        wide = w.Layout(width="24em")
        short = {"style": {"description_width": "11em"}}
        return {
            "model": w.Combobox(
                options=list(KNOWN_MODELS), ensure_option=False, description="model", **short
            ),
            "instructions": w.Textarea(
                description="instructions", rows=3, layout=wide, continuous_update=False, **short
            ),
            "voice": w.Combobox(
                options=list(KNOWN_VOICES), ensure_option=False, description="voice", **short
            ),
            "speed": w.FloatSlider(
                min=0.25, max=1.5, step=0.05, value=1.0, description="speed", **short
            ),
            "output_modality": w.ToggleButtons(
                options=["audio", "text"], description="output", **short
            ),
            "turn_detection": w.Dropdown(
                options=[
                    ("server VAD", "server_vad"),
                    ("semantic VAD", "semantic_vad"),
                    ("off (push-to-talk)", "off"),
                ],
                description="turn detection",
                **short,
            ),
            "threshold": w.FloatSlider(
                min=0.0, max=1.0, step=0.05, value=0.5, description="threshold", **short
            ),
            "prefix_padding_ms": w.IntText(300, description="prefix padding ms", **short),
            "silence_duration_ms": w.IntText(500, description="silence ms", **short),
            "idle_timeout_ms": w.Text(
                "", placeholder="off (5000..30000)", description="idle timeout ms", **short
            ),
            "eagerness": w.Dropdown(
                options=["auto", "low", "medium", "high"], description="eagerness", **short
            ),
            "create_response": w.Checkbox(True, description="create response", indent=False),
            "interrupt_response": w.Checkbox(True, description="interrupt response", indent=False),
            "transcription_model": w.Combobox(
                options=list(TRANSCRIPTION_MODELS),
                ensure_option=False,
                placeholder="off",
                description="transcription",
                **short,
            ),
            "transcription_language": w.Text(
                "", placeholder="e.g. en", description="language", **short
            ),
            "transcription_prompt": w.Text("", description="prompt", **short),
            "noise_reduction": w.Dropdown(
                options=[("off", "off"), ("near field", "near_field"), ("far field", "far_field")],
                description="noise reduction",
                **short,
            ),
            "max_output_tokens": w.Text(
                "inf", placeholder="inf or 1..4096", description="max output tokens", **short
            ),
            "truncation": w.Dropdown(
                options=["auto", "disabled", "retention_ratio"], description="truncation", **short
            ),
            "retention_ratio": w.FloatSlider(
                min=0.0, max=1.0, step=0.05, value=0.8, description="retention ratio", **short
            ),
            "tool_choice": w.Combobox(
                options=list(_TOOL_CHOICES),
                ensure_option=False,
                description="tool choice",
                **short,
            ),
        }

    def _row(self, name: str) -> w.Box:
        return w.VBox([self.controls[name], self._error_labels[name]])

    # -- reading the controls --------------------------------------------------------

    def _values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def effective(self) -> dict[str, Any]:
        """The config the panel edits: the server's, or (not connected) the defaults
        with the session's pending initial settings merged in."""
        s = self.session
        if s.status == "connected" and s.config:
            return dict(s.config)
        base = default_session()
        if isinstance(s.config.get("model"), str) and s.config.get("model"):
            base["model"] = s.config["model"]
        initial = _initial_settings(s)
        return merge_session(base, initial) if initial else base

    def settings(self, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every setting the controls describe, as ``session.update`` keywords (unvalidated).

        Built on ``base`` (default: :meth:`effective`), whose fields without a
        control are kept.
        """
        base = self.effective() if base is None else base
        v = self._values()
        out: dict[str, Any] = {
            "model": str(v["model"]).strip(),
            "instructions": v["instructions"],
            "output_modalities": [v["output_modality"]],
            "speed": v["speed"],
        }
        voice = str(v["voice"]).strip()
        old_voice = _get(base, _LOCATION["voice"])
        if isinstance(old_voice, Mapping) and old_voice.get("id") == voice:
            out["voice"] = dict(old_voice)
        elif voice.startswith("voice_"):
            out["voice"] = {"id": voice}
        else:
            out["voice"] = voice

        kind = v["turn_detection"]
        if kind == "off":
            out["turn_detection"] = None
        else:
            old = _get(base, _LOCATION["turn_detection"])
            td = dict(old) if isinstance(old, Mapping) and old.get("type") == kind else {}
            td["type"] = kind
            for name in _VAD_PARAMS[kind]:
                value = v[name]
                if name == "idle_timeout_ms":
                    value = _number(value) if str(value).strip() else None
                td[name] = value
            out["turn_detection"] = td

        model = str(v["transcription_model"]).strip()
        if model in ("", "off"):
            out["transcription"] = None
        else:
            old = _get(base, _LOCATION["transcription"])
            tr = dict(old) if isinstance(old, Mapping) and old.get("model") == model else {}
            tr["model"] = model
            for key in ("language", "prompt"):
                text = str(v[f"transcription_{key}"])
                if text.strip():
                    tr[key] = text
                else:
                    tr.pop(key, None)
            out["transcription"] = tr

        noise = v["noise_reduction"]
        if noise == "off":
            out["noise_reduction"] = None
        else:
            old = _get(base, _LOCATION["noise_reduction"])
            nr = dict(old) if isinstance(old, Mapping) and old.get("type") == noise else {}
            nr["type"] = noise
            out["noise_reduction"] = nr

        tokens = str(v["max_output_tokens"]).strip()
        out["max_output_tokens"] = "inf" if tokens in ("", "inf") else _number(tokens)

        trunc = v["truncation"]
        if trunc == "retention_ratio":
            old = _get(base, _LOCATION["truncation"])
            tt = dict(old) if isinstance(old, Mapping) and old.get("type") == trunc else {}
            tt["type"] = trunc
            tt["retention_ratio"] = v["retention_ratio"]
            out["truncation"] = tt
        else:
            out["truncation"] = trunc

        choice = str(v["tool_choice"]).strip()
        old_choice = _get(base, _LOCATION["tool_choice"])
        if old_choice is not None and choice == _tool_choice_text(old_choice):
            out["tool_choice"] = old_choice
        elif choice in _TOOL_CHOICES:
            out["tool_choice"] = choice
        else:
            out["tool_choice"] = {"type": "function", "name": choice}
        return out

    def validate(self, base: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Check every setting; return (and show) error messages by control name."""
        base = self.effective() if base is None else base
        settings = self.settings(base)
        errors: dict[str, str] = {}
        for key, value in settings.items():
            try:
                settings_to_session(**{key: value})
            except ConfigError as exc:
                errors[_control_for(exc.param) or key] = str(exc)
                if isinstance(value, dict):  # each field alone: one message per control
                    errors.update(_field_errors(key, value))
        if "tool_choice" not in errors:
            # Cross-field: a forced function must be among the tools the update leaves on.
            names = {t.get("name") for t in base.get("tools") or [] if isinstance(t, Mapping)}
            if self._registry() is not None:
                names = (names - set(self._tool_boxes)) | set(self._checked_tools())
            tools = [{"type": "function", "name": n} for n in sorted(n for n in names if n)]
            try:
                validate_session({"tool_choice": settings["tool_choice"], "tools": tools})
            except ConfigError as exc:
                errors["tool_choice"] = str(exc)
        self._show_errors(errors)
        return errors

    def changes(self, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The settings that differ from ``base`` (default: the effective config):
        what Apply would send. Not validated (see :meth:`validate`). Tool checkboxes
        that differ from the registry show as ``tools`` (their definitions are the
        registry's, known once Apply has enabled/disabled them)."""
        base = self.effective() if base is None else base
        out = {
            key: value
            for key, value in self.settings(base).items()
            if not _same(value, _get(base, _LOCATION[key]))
        }
        if self._registry() is not None and self._tools_edited():
            out["tools"] = self._checked_tools()
        return out

    # -- writing the controls --------------------------------------------------------

    def _values_for(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Control values that show ``config`` (a full GA session)."""
        v = self._values()
        td = _get(config, _LOCATION["turn_detection"])
        tr = _get(config, _LOCATION["transcription"])
        nr = _get(config, _LOCATION["noise_reduction"])
        trunc = _get(config, _LOCATION["truncation"])
        mods = config.get("output_modalities")
        tokens = config.get("max_output_tokens", "inf")
        out: dict[str, Any] = {
            "model": str(config.get("model") or ""),
            "instructions": str(config.get("instructions") or ""),
            "voice": _voice_text(_get(config, _LOCATION["voice"])),
            "output_modality": mods[0] if isinstance(mods, list) and mods else "audio",
            "turn_detection": td.get("type") if isinstance(td, Mapping) else "off",
            "transcription_model": str(tr.get("model", "")) if isinstance(tr, Mapping) else "",
            "transcription_language": str(tr.get("language") or "")
            if isinstance(tr, Mapping)
            else "",
            "transcription_prompt": str(tr.get("prompt") or "") if isinstance(tr, Mapping) else "",
            "noise_reduction": nr.get("type") if isinstance(nr, Mapping) else "off",
            "max_output_tokens": str(tokens if tokens is not None else "inf"),
            "truncation": trunc.get("type") if isinstance(trunc, Mapping) else trunc or "auto",
            "tool_choice": _tool_choice_text(config.get("tool_choice", "auto")),
        }
        speed = _get(config, _LOCATION["speed"])
        out["speed"] = float(speed) if isinstance(speed, (int, float)) else v["speed"]
        if isinstance(trunc, Mapping) and isinstance(trunc.get("retention_ratio"), (int, float)):
            out["retention_ratio"] = float(trunc["retention_ratio"])
        if isinstance(td, Mapping):
            for name in _VAD_PARAMS.get(str(td.get("type")), ()):
                if name not in td:
                    continue
                value = td[name]
                if name == "idle_timeout_ms":
                    value = "" if value is None else str(value)
                out[name] = value
        return out

    def _set_values(self, values: Mapping[str, Any], *, only_untouched: bool) -> None:
        with self._lock:
            self._loading += 1
            try:
                for name, value in values.items():
                    control = self.controls[name]
                    if only_untouched and control.value != self._loaded.get(name, control.value):
                        continue  # edited by the user, not applied yet
                    self._set_value(name, value)
            finally:
                self._loading -= 1

    def _set_value(self, name: str, value: Any) -> None:
        control = self.controls[name]
        options = getattr(control, "options", None)
        if isinstance(control, w.Combobox):
            if value and options is not None and value not in options:
                control.options = (*options, value)
        elif isinstance(control, (w.Dropdown, w.ToggleButtons)):
            allowed = [o[1] if isinstance(o, tuple) else o for o in control.options]
            if value not in allowed:
                self._set_error(name, f"the server reports {value!r}, which this panel cannot show")
                return
        try:
            control.value = value
        except Exception as exc:  # a trait refused the value (a type the control cannot hold)
            self._set_error(name, f"cannot show {value!r}: {exc}")

    def load(self, config: Mapping[str, Any], *, force: bool = True) -> None:
        """Show ``config`` (a full GA session) in the controls.

        ``force=False`` keeps the controls the user edited since the last load.
        """
        values = self._values_for(config)
        with self._lock:
            self._set_values(values, only_untouched=not force)
            # What the server holds, per control: a control that differs was edited.
            self._loaded = {**self._values(), **values}
            self._model_options(config)
        self._refresh_tools()
        self.validate(config)

    def revert(self) -> None:
        """Show the effective config again, dropping unapplied edits."""
        self.load(self.effective(), force=True)
        self._update_status()

    def set(self, **values: Any) -> None:
        """Set controls by name, as a user would (``panel.set(voice="cedar")``)."""
        unknown = [k for k in values if k not in self.controls]
        if unknown:
            raise TypeError(f"unknown control(s) {unknown}; controls: {', '.join(self.controls)}")
        for name, value in values.items():
            self._set_value(name, value)

    def _model_options(self, config: Mapping[str, Any]) -> None:
        model = config.get("model")
        combo = self.controls["model"]
        if isinstance(model, str) and model and model not in combo.options:
            combo.options = (*combo.options, model)

    # -- visibility ------------------------------------------------------------------

    def _show_vad_params(self, change: Mapping[str, Any] | None = None) -> None:
        kind = self.controls["turn_detection"].value
        self.turn_detection_params.children = [self._rows[n] for n in _VAD_PARAMS[kind]]

    def _show_transcription(self, change: Mapping[str, Any] | None = None) -> None:
        off = str(self.controls["transcription_model"].value).strip() in ("", "off")
        for name in ("transcription_language", "transcription_prompt"):
            self.controls[name].disabled = off

    def _show_truncation(self, change: Mapping[str, Any] | None = None) -> None:
        ratio = self.controls["truncation"].value == "retention_ratio"
        self._rows["retention_ratio"].layout.display = None if ratio else "none"

    def visible_vad_params(self) -> list[str]:
        """Names of the turn-detection parameter controls shown now."""
        rows = {id(row): name for name, row in self._rows.items()}
        return [rows[id(row)] for row in self.turn_detection_params.children]

    # -- errors and status -------------------------------------------------------------

    def _show_errors(self, errors: Mapping[str, str]) -> None:
        with self._lock:
            self.errors = dict(errors)
            for name, label in self._error_labels.items():
                message = errors.get(name, "")
                label.value = _red(message) if message else ""

    def _set_error(self, name: str, message: str) -> None:
        with self._lock:
            self.errors[name] = message
            label = self._error_labels.get(name)
            if label is not None:
                label.value = _red(message)

    def _fail(self, message: str) -> None:
        self.last_error = message
        self.error_line.value = _red(f"last error: {message}")

    def _update_status(self, text: str | None = None) -> None:
        if text is None:
            s = self.session
            if s.status == "connected":
                text = f"connected: {s.config.get('model', '?')}"
            else:
                text = f"{s.status}: Apply stores settings for the connection"
            pending = self.changes()
            if pending:
                text += f" · {len(pending)} change(s) to apply: {', '.join(pending)}"
        self.status_line.value = f"<small>{escape(text)}</small>"

    def _on_control_change(self, change: Mapping[str, Any]) -> None:
        if self._loading or self._closed:
            return
        try:
            self.validate()
            self._update_status()
        except Exception as exc:
            self._fail(f"validation failed: {exc!r}")

    # -- apply ---------------------------------------------------------------------------

    def _click_apply(self) -> None:
        self.last_apply = self.apply()

    def apply(self) -> PendingApply:
        """Validate, then send what differs from the effective config (see the module doc).

        Returns at once; ``await`` the result in a cell. Invalid settings send nothing.
        """
        try:
            with self._lock:
                base = self.effective()
                errors = self.validate(base)
                if errors:
                    first = next(iter(errors.values()))
                    result = ApplyResult("invalid", error=first)
                    self._finish(result)
                    return self._started(PendingApply.done_with(result))
                changes = self.changes(base)
                changes.pop("tools", None)
                toggles = self._apply_tool_states()
                if not changes and not toggles:
                    result = ApplyResult("nothing")
                    self._finish(result)
                    return self._started(PendingApply.done_with(result))
                if self.session.status != "connected":
                    result = self._store_initial(changes, toggles)
                    self._finish(result)
                    return self._started(PendingApply.done_with(result))
            self.status_line.value = "<small>applying…</small>"
            future = asyncio.run_coroutine_threadsafe(self._send(changes, base, toggles), io_loop())
            return self._started(PendingApply(future))
        except Exception as exc:
            result = ApplyResult("failed", error=f"{type(exc).__name__}: {exc}")
            self._finish(result)
            return self._started(PendingApply.done_with(result))

    def _started(self, pending: PendingApply) -> PendingApply:
        self.last_apply = pending
        return pending

    async def _send(
        self, changes: dict[str, Any], base: Mapping[str, Any], toggles: Mapping[str, bool]
    ) -> ApplyResult:
        """On the I/O loop: the ``session.update``, then the tools the session syncs itself."""
        t0 = time.monotonic()
        result = ApplyResult("applied", sent=changes)
        effective: Mapping[str, Any] | None = None
        if changes:
            requested = settings_to_session(**changes)
            requested.pop("type", None)
            # The leaves the user changed: a whole turn_detection object is sent, but the
            # table lists only the fields that differ from before (and any the server altered).
            asked = {c.path for c in diff_config(requested, base) if c.status != "applied"}
            try:
                effective = await self.session.update(**changes)
            except ServerError as exc:
                self._refused(result, exc, requested, asked, base)
            except Exception as exc:
                result.status = "failed"
                result.error = f"{type(exc).__name__}: {exc}"
                self._finish(result)
                return result
            else:
                result.fields = [
                    FieldResult(c.path, c.requested, c.effective, c.status)
                    for c in diff_config(requested, effective)
                    if c.path in asked or c.status != "applied"
                ]
        if toggles:
            result.fields.extend(await self._tool_results(toggles))
            effective = self.session.config if result.status != "refused" else None
        if result.status != "refused" and any(f.status != "applied" for f in result.fields):
            result.status = "changed"
        result.answer_ms = (time.monotonic() - t0) * 1000.0
        self._finish(result, effective=effective)
        return result

    def _refused(
        self,
        result: ApplyResult,
        exc: ServerError,
        requested: Mapping[str, Any],
        asked: Container[str],
        base: Mapping[str, Any],
    ) -> None:
        result.status = "refused"
        result.error, result.error_code, result.error_param = str(exc), exc.code, exc.param
        culprit = exc.param[len("session.") :] if exc.param else None
        message = str(exc.error.get("message") or exc)
        for c in diff_config(requested, self.session.config or base):
            mine = culprit is None or (
                c.path == culprit or c.path.startswith((culprit + ".", culprit + "["))
            )
            if mine or c.path in asked:
                mark: FieldStatus = "refused" if mine else "not_applied"
                result.fields.append(
                    FieldResult(c.path, c.requested, c.effective, mark, message if mine else None)
                )

    async def _tool_results(self, toggles: Mapping[str, bool]) -> list[FieldResult]:
        """Wait (up to 5 s) for the server's ``tools`` to show the toggled tools."""
        deadline = time.monotonic() + 5.0
        while True:
            tools = self.session.config.get("tools") or []
            names = {t.get("name") for t in tools if isinstance(t, Mapping)}
            if all((n in names) == on for n, on in toggles.items()):
                break
            if time.monotonic() > deadline or self.session.status != "connected":
                break
            await asyncio.sleep(0.02)
        word = {True: "enabled", False: "disabled"}
        return [
            FieldResult(
                f"tools.{name}",
                word[on],
                word[name in names],
                "applied" if (name in names) == on else "changed",
            )
            for name, on in toggles.items()
        ]

    def _store_initial(self, changes: dict[str, Any], toggles: Mapping[str, bool]) -> ApplyResult:
        fields: list[FieldResult] = []
        if changes:
            partial = settings_to_session(**changes)
            initial = _initial_settings(self.session)
            merged = merge_session(initial, partial) if initial else partial
            _set_initial_settings(self.session, validate_session(merged))
            partial.pop("type", None)
            fields = [
                FieldResult(c.path, c.requested, None, "stored")
                for c in diff_config(partial, partial)
            ]
        word = {True: "enabled", False: "disabled"}
        fields += [FieldResult(f"tools.{n}", word[on], None, "stored") for n, on in toggles.items()]
        return ApplyResult("stored", sent=changes, fields=fields)

    def _finish(self, result: ApplyResult, *, effective: Mapping[str, Any] | None = None) -> None:
        """Show ``result`` (any thread)."""
        try:
            with self._lock:
                self.last_result = result
                if effective is not None:
                    self.load(effective, force=True)
                elif result.status == "stored":
                    self.load(self.effective(), force=True)
                if result.status == "refused":
                    name = _control_for(result.error_param)
                    if name is not None:
                        self._set_error(name, f"refused by the server: {result.error}")
                    self._fail(f"session.update refused: {result.error}")
                elif result.status == "failed":
                    self._fail(f"apply failed: {result.error}")
                self.results.value = _results_html(result)
                self._update_status(_status_text(result, self.session.status))
        except Exception as exc:  # showing must not lose the result
            self._fail(f"could not show the result: {exc!r}")

    # -- sync from the session (I/O thread) ------------------------------------------------

    def _on_session_event(self, event: dict[str, Any]) -> None:
        if self._closed:
            return
        config = event.get("session")
        if not isinstance(config, Mapping):
            return
        try:
            self.load(config, force=False)
            self._update_status()
        except Exception as exc:
            self._fail(f"could not show {event.get('type')}: {exc!r}")

    def _on_error_event(self, event: dict[str, Any]) -> None:
        err = event.get("error")
        if self._closed or not isinstance(err, Mapping):
            return
        param = err.get("param")
        if isinstance(param, str) and param.startswith("session"):
            code = err.get("code")
            self._fail(f"server error{f' [{code}]' if code else ''}: {err.get('message')}")

    def _on_closed_event(self, event: dict[str, Any]) -> None:
        if not self._closed:
            self._update_status("disconnected: Apply stores settings for the next connection")

    # -- tools --------------------------------------------------------------------------

    def _registry(self) -> Any:
        reg = getattr(self.session, "tools", None)
        if reg is None or not all(hasattr(reg, a) for a in ("names", "enable", "disable")):
            return None
        return reg

    def _tool_states(self) -> dict[str, bool]:
        reg = self._registry()
        if reg is None:
            return {}
        names = list(_call_or_value(reg.names))
        enabled = reg.enabled
        if callable(enabled):
            try:
                enabled = enabled()
            except TypeError:  # enabled(name) -> bool
                return {n: bool(reg.enabled(n)) for n in names}
        return {n: n in enabled for n in names}

    def _checked_tools(self) -> list[str]:
        return [n for n, box in self._tool_boxes.items() if box.value]

    def _tools_edited(self) -> bool:
        states = self._tool_states()
        return any(states.get(n) != box.value for n, box in self._tool_boxes.items())

    def _apply_tool_states(self) -> dict[str, bool]:
        """Enable/disable registry tools as checked; returns the toggles made.

        The session sends the new ``tools`` itself (its registry listener)."""
        reg = self._registry()
        if reg is None:
            return {}
        states = self._tool_states()
        wanted = {n: box.value for n, box in self._tool_boxes.items() if n in states}
        toggles = {n: on for n, on in wanted.items() if states[n] != on}
        self._tools_loaded.update(toggles)
        for name, on in toggles.items():
            (reg.enable if on else reg.disable)(name)
        return toggles

    def _hook_registry(self) -> None:
        reg = self._registry()
        if reg is None or self._registry_hooked or not hasattr(reg, "on_change"):
            return
        reg.on_change(self._on_tools_changed)
        self._registry_hooked = True

    def _on_tools_changed(self, *args: Any, **kwargs: Any) -> None:
        if not self._closed:
            try:
                self._refresh_tools()
            except Exception as exc:
                self._fail(f"could not show the tools: {exc!r}")

    def _refresh_tools(self) -> None:
        """One checkbox per registry tool; a box the user changed keeps its value.

        A tool in the effective config is marked "(on server)"."""
        with self._lock:
            self._hook_registry()
            if self._registry() is None:
                self.tools_box.children = [
                    w.HTML("<small>this session has no tool registry (session.tools)</small>")
                ]
                return
            states = self._tool_states()
            on_server = {
                t.get("name") for t in self.effective().get("tools") or [] if isinstance(t, Mapping)
            }
            boxes: dict[str, w.Checkbox] = {}
            for name, on in states.items():
                box = self._tool_boxes.get(name)
                if box is None:
                    box = w.Checkbox(on, indent=False)
                    box.observe(self._on_control_change, names="value")
                elif box.value == self._tools_loaded.get(name, box.value):
                    box.value = on  # not edited: follow the registry
                self._tools_loaded[name] = on
                box.description = f"{name} (on server)" if name in on_server else name
                boxes[name] = box
            self._tool_boxes = boxes
            self.tools_box.children = list(boxes.values()) or [
                w.HTML("<small>no tools registered</small>")
            ]
            combo = self.controls["tool_choice"]
            combo.options = [*_TOOL_CHOICES, *states]

    @property
    def tool_checkboxes(self) -> dict[str, w.Checkbox]:
        """One checkbox per registered tool (empty without ``session.tools``)."""
        return dict(self._tool_boxes)

    # -- presets ------------------------------------------------------------------------

    def _preset_path(self, name: str | PathLike[str]) -> Path:
        path = Path(name).expanduser()
        if not path.suffix and len(path.parts) == 1:
            return self.presets_dir / f"{path.name}.json"
        return path

    def save_preset(self, name: str | PathLike[str]) -> Path:
        """Save the controls' settings to JSON (a bare name goes to ``presets_dir``).

        Invalid settings raise :class:`ConfigError` and write nothing.
        """
        errors = self.validate()
        if errors:
            raise ConfigError("preset", next(iter(errors.values())))
        settings = self.settings()
        settings.pop("tools", None)  # functions live in Python; the preset keeps their names
        data = {
            "realtime_widget_preset": _PRESET_VERSION,
            "session": settings_to_session(**settings),
            "tools_enabled": sorted(n for n, b in self._tool_boxes.items() if b.value),
        }
        path = self._preset_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self._refresh_presets()
        return path

    def load_preset(self, name: str | PathLike[str]) -> dict[str, Any]:
        """Fill the controls from a preset (not applied: press Apply). Returns its session.

        A file that is not a preset, or holds an invalid setting, raises and
        changes nothing.
        """
        path = self._preset_path(name)
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "realtime_widget_preset" not in data:
            raise ValueError(f"{path} is not a realtime_widget settings preset")
        session = validate_session(data.get("session") or {})
        session.pop("tools", None)
        shown = merge_session(self.effective(), session)
        with self._lock:
            self._set_values(self._values_for(shown), only_untouched=False)
            enabled = data.get("tools_enabled")
            if isinstance(enabled, list):
                for tool, box in self._tool_boxes.items():
                    box.value = tool in enabled
        self.validate()
        self._update_status()
        return session

    def presets(self) -> list[str]:
        """Names of the presets in ``presets_dir``."""
        if not self.presets_dir.is_dir():
            return []
        return sorted(p.stem for p in self.presets_dir.glob("*.json"))

    def _refresh_presets(self) -> None:
        try:
            self.preset_name.options = self.presets()
        except OSError as exc:
            self._fail(f"cannot list presets: {exc}")

    def _click_preset(self, *, save: bool) -> None:
        name = self.preset_name.value.strip()
        if not name:
            self._fail("type a preset name first")
            return
        try:
            if save:
                path = self.save_preset(name)
                self._update_status(f"saved preset {path}")
            else:
                self.load_preset(name)
                pending = self.changes()
                self._update_status(
                    f"loaded preset {name}: {len(pending)} change(s), press Apply to send them"
                )
        except Exception as exc:
            self._fail(f"preset {name!r}: {exc}")

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop following the session and close the controls."""
        self._closed = True
        for type_, hook in getattr(self, "_hooks", []):
            self.session.off(type_, hook)
        reg = self._registry() if getattr(self, "_registry_hooked", False) else None
        if reg is not None and hasattr(reg, "off_change"):
            reg.off_change(self._on_tools_changed)
        super().close()


class WidgetWithSettings(w.HBox):  # type: ignore[misc]
    """A :class:`~realtime_widget.widget.widget.RealtimeWidget` with a
    :class:`SettingsPanel` for its session beside it (``.widget``, ``.panel``)."""

    def __init__(self, widget: RealtimeWidget, **options: Any) -> None:
        self.widget = widget
        self.panel = SettingsPanel(widget.session, **options)
        super().__init__(children=[widget, self.panel])


# ---------------------------------------------------------------------------
# The session's initial settings (sent right after connecting)
# ---------------------------------------------------------------------------


def _initial_settings(session: Session) -> dict[str, Any]:
    return session.initial_session or {}


def _set_initial_settings(session: Session, value: dict[str, Any]) -> None:
    session.initial_session = value


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def _red(text: str) -> str:
    return f'<span style="color:#c62828">{escape(text)}</span>'


_COLORS = {
    "applied": "#2e7d32",
    "changed": "#ef6c00",
    "ignored": "#757575",
    "refused": "#c62828",
    "not_applied": "#757575",
    "stored": "#1565c0",
}


def _status_text(result: ApplyResult, session_status: str) -> str:
    if result.status == "stored":
        return (
            f"not connected ({session_status}): stored {len(result.sent)} setting(s) as the "
            "session's initial settings; they are sent when it connects"
        )
    if result.status == "nothing":
        return "nothing to apply: the controls show the effective config"
    if result.status == "invalid":
        return "not sent: fix the settings marked in red"
    if result.status == "failed":
        return f"failed: {result.error}"
    if result.status == "refused":
        return f"refused by the server: nothing in this update was applied ({result.error_code})"
    n_ok = sum(f.status == "applied" for f in result.fields)
    text = f"applied {n_ok}/{len(result.fields)} field(s)"
    if result.answer_ms is not None:
        text += f" in {result.answer_ms:.0f} ms"
    if result.status == "changed":
        text += "; the server changed some (≠)"
    return text


def _results_html(result: ApplyResult) -> str:
    if not result.fields:
        return ""
    rows = []
    for f in result.fields:
        color = _COLORS[f.status]
        note = f.status.replace("_", " ")
        if f.status == "refused" and f.message:
            note = f"refused: {f.message}"
        elif f.status == "changed":
            note = "changed by the server"
        effective = "" if f.status == "stored" else escape(_short(f.effective))
        rows.append(
            f"<tr><td>{escape(f.path)}</td><td>{escape(_short(f.requested))}</td>"
            f"<td>{effective}</td>"
            f'<td style="color:{color}">{_MARKS[f.status]} {escape(note)}</td></tr>'
        )
    head = "<tr><th>field</th><th>requested</th><th>effective</th><th></th></tr>"
    return f'<table style="font-size:90%">{head}{"".join(rows)}</table>'
