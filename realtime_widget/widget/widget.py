"""Layer 6: :class:`RealtimeWidget`, the anywidget the notebook shows.

The browser does audio only; the kernel holds the session. Small durable
state lives in synced traitlets (docs/comm-protocol.md, "Traitlets"); audio
and high-rate events travel as custom messages, relayed by
:class:`~realtime_widget.widget.relay.Relay` on the session's I/O thread.

The API key stays in the :class:`~realtime_widget.session.Session`: no trait,
message or repr of the widget carries it (``target`` shows ``session.url``).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from realtime_widget.log.recording import Recording
from realtime_widget.protocol.config import SETTINGS_KEYS, unknown_keyword_hints
from realtime_widget.session import Session
from realtime_widget.state.pricing import PriceTable

from .relay import Relay, describe_target

if TYPE_CHECKING:
    from .settings_panel import WidgetWithSettings

__all__ = ["STATUSES", "WIDGET_OPTIONS", "RealtimeWidget", "talk"]

STATUSES = ("disconnected", "connecting", "listening", "user_speaking", "model_speaking", "error")
MIC_STATUSES = ("off", "starting", "on", "denied", "absent", "insecure", "unsupported", "error")

_ESM_PATH = Path(__file__).parent.parent / "static" / "widget.js"
# Until the front end is built (js/ → static/widget.js), a module that says so:
# the Python side must import and work (tests, headless use) without the bundle.
_PLACEHOLDER_ESM = """
export default {
  render({ el }) {
    el.textContent = "realtime_widget: the front end is not built (static/widget.js is missing).";
  },
};
"""

WIDGET_OPTIONS = (
    "mode",
    "muted",
    "volume",
    "echo_cancellation",
    "noise_suppression",
    "auto_gain_control",
    "chunk_ms",
    "jitter_ms",
)
"""Keyword arguments of :class:`RealtimeWidget` that set traits."""

_SESSION_OPTIONS = tuple(
    name
    for name, p in inspect.signature(Session.__init__).parameters.items()
    if p.kind is inspect.Parameter.KEYWORD_ONLY
)


def _check_keywords(given: dict[str, Any], *, session_given: bool) -> None:
    """Reject unknown keywords naming close matches (a typo must fail in its cell)."""
    everything = (*WIDGET_OPTIONS, *_SESSION_OPTIONS, *SETTINGS_KEYS)
    accepted = WIDGET_OPTIONS if session_given else everything
    bad = [k for k in given if k not in accepted]
    if not bad:
        return
    hints = unknown_keyword_hints(bad, everything)
    message = f"unexpected keyword argument(s): {', '.join(hints)}"
    if session_given:
        message += (
            ". With a session given, only widget options are accepted "
            f"({', '.join(WIDGET_OPTIONS)}); change the session with session.update(...)"
        )
    raise TypeError(message)


class RealtimeWidget(anywidget.AnyWidget):
    """Talk to a Realtime model from a notebook: the browser captures the microphone
    and plays the model; the kernel holds the session.

    >>> w = RealtimeWidget(instructions="Be brief.")      # doctest: +SKIP
    >>> w                                                 # doctest: +SKIP

    ``session``: a :class:`Session` to use (any target); without one, a
    ``Session("local", **session_settings)`` (the bundled local server) is
    created. Widget options: ``mode`` (``"vad"`` server turn detection, or
    ``"ptt"`` push-to-talk; default: whatever the session's settings say),
    ``muted``, ``volume`` (0..1), ``echo_cancellation``/``noise_suppression``/
    ``auto_gain_control`` (microphone constraints), ``chunk_ms`` (20..40),
    ``jitter_ms`` (60..120).

    The widget takes over barge-in (``session.auto_truncate = False``): it
    truncates with the exact count of samples the browser played.
    """

    _esm = _ESM_PATH if _ESM_PATH.is_file() else _PLACEHOLDER_ESM

    status = traitlets.Enum(STATUSES, default_value="disconnected").tag(sync=True)
    target = traitlets.Unicode("").tag(sync=True)
    mode = traitlets.Enum(("vad", "ptt"), default_value="vad").tag(sync=True)
    muted = traitlets.Bool(False).tag(sync=True)
    volume = traitlets.Float(1.0, min=0.0, max=1.0).tag(sync=True)
    echo_cancellation = traitlets.Bool(True).tag(sync=True)
    noise_suppression = traitlets.Bool(True).tag(sync=True)
    auto_gain_control = traitlets.Bool(True).tag(sync=True)
    chunk_ms = traitlets.Int(20, min=20, max=40).tag(sync=True)
    jitter_ms = traitlets.Int(100, min=60, max=120).tag(sync=True)
    last_error = traitlets.Unicode("").tag(sync=True)
    mic_status = traitlets.Enum(MIC_STATUSES, default_value="off").tag(sync=True)
    mic_message = traitlets.Unicode("").tag(sync=True)
    transcript = traitlets.List(traitlets.Dict()).tag(sync=True)
    conversation_html = traitlets.Unicode("").tag(sync=True)
    usage = traitlets.Dict().tag(sync=True)
    """Session totals, updated at every ``response.done``: tokens (input/output, text,
    audio, cached), ``responses`` and ``cost_usd`` (None when the model has no price;
    set :attr:`prices`). Shown in the widget's top bar."""

    def __init__(
        self,
        session: Session | None = None,
        *,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        _check_keywords(kwargs, session_given=session is not None)
        options = {k: kwargs.pop(k) for k in WIDGET_OPTIONS if k in kwargs}
        owns = session is None
        if session is None:
            session = Session("local", **kwargs)
            if mode is None and "turn_detection" in kwargs and kwargs["turn_detection"] is None:
                mode = "ptt"
        elif not isinstance(session, Session):
            raise TypeError(f"session must be a realtime_widget.Session, not {type(session)!r}")
        explicit = mode is not None
        if mode is None:
            mode = "ptt" if _turn_detection_off(session) else "vad"
        self._relay: Relay | None = None
        self._unsent: frozenset[str] = frozenset()
        super().__init__(mode=mode, **options)
        if isinstance(self._esm, str) and self._esm == _PLACEHOLDER_ESM and _ESM_PATH.is_file():
            self._esm = _ESM_PATH.read_text(encoding="utf-8")  # built since the import
        self.session: Session = session
        """The session this widget relays (public: inspect its log, conversation, config)."""
        self._owns_session = owns
        self.target = describe_target(session)
        self._relay = Relay(
            session,
            self._send_from_relay,
            self._set_from_relay,
            mode=mode,
            mode_explicit=explicit,
        )
        self._relay.attach()
        self.on_msg(self._on_custom_message)

    # -- the relay's two outputs (called on the I/O thread) ------------------------------

    def _send_from_relay(self, content: dict[str, Any], buffers: list[bytes] | None) -> None:
        # widget.send works from any thread (iopub is thread-safe in ipykernel).
        self.send(content, buffers)

    def _set_from_relay(self, values: dict[str, Any], sync: bool = True) -> None:
        # Python values first, with their automatic sync held back; then (sync) one comm
        # message with every name given, changed now or set earlier without a sync
        # (durable.py: the transcript's whole list goes to the page only at pauses).
        self._unsent = frozenset(values)
        try:
            for name, value in values.items():
                setattr(self, name, value)
        finally:
            self._unsent = frozenset()
        if sync:
            self.send_state(list(values))  # works from any thread

    def _should_send_property(self, key: str, value: Any) -> bool:
        # ipywidgets asks this before syncing a changed trait (7.x and 8.x alike).
        if key in self._unsent:
            return False
        return bool(super()._should_send_property(key, value))

    # -- browser → kernel --------------------------------------------------------------

    def _on_custom_message(self, _widget: Any, content: Any, buffers: Any) -> None:
        """Runs on the main thread or a subshell thread: copy, stamp, hand over. Nothing else.

        The buffers are views into the kernel's message; ``bytes`` copies them so
        they stay valid on the I/O thread.
        """
        if self._relay is None:
            return
        copies = [bytes(b) for b in buffers] if buffers else []
        self._relay.submit(content, copies)

    @traitlets.observe("mode")
    def _mode_changed(self, change: dict[str, Any]) -> None:
        relay = self._relay
        if relay is not None:
            relay.loop.call_soon_threadsafe(relay.set_mode, change["new"])

    @traitlets.observe("mic_status")
    def _mic_status_changed(self, change: dict[str, Any]) -> None:
        relay = self._relay
        if relay is not None:
            relay.loop.call_soon_threadsafe(
                relay.note_mic, change["new"], self.mic_message, time.monotonic()
            )

    # -- Python API --------------------------------------------------------------------

    def connect(self) -> None:
        """Connect the session, as the Connect button does (returns at once).

        The microphone still needs the button: browsers start audio only on a click.
        """
        relay = self._require_relay()
        relay.loop.call_soon_threadsafe(relay.connect)

    def disconnect(self) -> None:
        """Close the session, as the Disconnect button does (returns at once)."""
        relay = self._require_relay()
        relay.loop.call_soon_threadsafe(relay.disconnect)

    @property
    def prices(self) -> PriceTable | None:
        """The price table for :attr:`usage`'s running cost (None: the dated defaults)."""
        return self._require_relay().prices

    @prices.setter
    def prices(self, table: PriceTable | None) -> None:
        self._require_relay().prices = table

    @property
    def recording(self) -> Recording:
        """``session.recording``: events, turns (with the browser's playback times),
        latencies, usage, audio, timeline and ``save``."""
        return self.session.recording

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the session's recording to one file (``realtime_widget.load`` reads it)."""
        return self.session.save(path)

    def with_settings(self, **options: Any) -> WidgetWithSettings:
        """This widget with a :class:`~.settings_panel.SettingsPanel` for its session beside
        it (``.panel``); ``options`` go to the panel (``presets_dir``)."""
        from .settings_panel import WidgetWithSettings

        return WidgetWithSettings(self, **options)

    @property
    def stats(self) -> dict[str, float]:
        """Relay counters: mic chunks and gaps, audio messages, drops..."""
        return self._require_relay().stats

    def close(self) -> None:
        """Close the widget; a session the widget created is closed too."""
        # Also runs from ipywidgets' __del__, even for a widget whose __init__ failed.
        relay = getattr(self, "_relay", None)
        self._relay = None
        if relay is not None:
            relay.loop.call_soon_threadsafe(relay.detach)
            if getattr(self, "_owns_session", False):
                asyncio.run_coroutine_threadsafe(self.session.close(), relay.loop)
        super().close()

    def _require_relay(self) -> Relay:
        if self._relay is None:
            raise RuntimeError("the widget is closed")
        return self._relay


def talk(target: str = "local", **kwargs: Any) -> RealtimeWidget:
    """A widget on a new session: ``talk()`` (local server), ``talk("openai", voice="marin")``.

    Keywords are widget options (``mode``, ``volume``...), session options
    (``model``, ``api_key``, ``server_options``...) or session settings
    (``instructions``, ``voice``, ``turn_detection``...). Display the result
    and press Connect.
    """
    _check_keywords(kwargs, session_given=False)
    options = {k: kwargs.pop(k) for k in WIDGET_OPTIONS if k in kwargs}
    mode = options.pop("mode", None)
    if mode is None and "turn_detection" in kwargs and kwargs["turn_detection"] is None:
        mode = "ptt"
    return RealtimeWidget(Session(target, **kwargs), mode=mode, **options)


def _turn_detection_off(session: Session) -> bool:
    """Whether the session has (or, not connected yet, will ask for) no turn detection.

    Before connecting, ``config`` is empty and the settings wait in ``initial_session``:
    reading only ``config`` started such a widget in VAD mode, and the microphone chunks
    sent before the server's ``session.updated`` switched it were appended as speech.
    """
    for cfg in (session.config, session.initial_session or {}):
        audio = cfg.get("audio")
        audio_in = audio.get("input") if isinstance(audio, dict) else None
        if isinstance(audio_in, dict) and "turn_detection" in audio_in:
            return audio_in["turn_detection"] is None
    return False
