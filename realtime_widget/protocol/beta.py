"""Translate beta-protocol server events (older compatible servers) to GA.

OpenAI refuses the beta shape now, but speaches, Qwen-Omni and some gateways
still emit beta names. Everything inside the package works on GA events only,
so the connection runs each received event through :func:`to_ga` first.
Events that are already GA (the common case) cost one dict lookup.
"""

from __future__ import annotations

from typing import Any

from .events import Event

__all__ = ["BETA_RENAMES", "beta_session_to_ga", "to_ga"]

BETA_RENAMES: dict[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "transcription_session.updated": "session.updated",
}

_BETA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}

_CONTENT_TYPES = {"text": "output_text", "audio": "output_audio"}


def _ga_item(item: Any) -> Any:
    """Rename assistant content part types (``text``/``audio`` → ``output_*``)."""
    if not isinstance(item, dict) or item.get("role") != "assistant":
        return item
    content = item.get("content")
    if not isinstance(content, list) or not any(
        isinstance(p, dict) and p.get("type") in _CONTENT_TYPES for p in content
    ):
        return item
    new = dict(item)
    new["content"] = [
        {**p, "type": _CONTENT_TYPES.get(str(p.get("type")), p.get("type"))}
        if isinstance(p, dict)
        else p
        for p in content
    ]
    return new


def _ga_response(response: dict[str, Any]) -> dict[str, Any]:
    """A beta ``response`` object with GA item content types and ``output_modalities``
    (the same object when nothing needs renaming)."""
    output = response.get("output")
    new_output: Any = output
    changed = False
    if isinstance(output, list):
        new_output = [_ga_item(i) for i in output]
        changed = any(a is not b for a, b in zip(new_output, output, strict=True))
    beta_modalities = "modalities" in response and "output_modalities" not in response
    if not changed and not beta_modalities:
        return response
    new = dict(response)
    if changed:
        new["output"] = new_output
    if beta_modalities:
        mods = list(new.pop("modalities") or [])
        new["output_modalities"] = ["audio"] if "audio" in mods else mods
    return new


def beta_session_to_ga(session: dict[str, Any], session_type: str = "realtime") -> dict[str, Any]:
    """Map a flat beta ``session`` object onto the GA nested shape.

    Already-GA objects (they have ``audio`` or ``type``) come back unchanged.
    Fields with no GA counterpart (``temperature``) are kept at top level so
    nothing is lost. ``session_type="transcription"`` is for beta
    transcription sessions (``transcription_session.updated``), whose
    ``modalities`` have no GA counterpart and are dropped.
    """
    if "audio" in session or session.get("type") in ("realtime", "transcription"):
        return session
    out: dict[str, Any] = {"type": session_type}
    inp: dict[str, Any] = {}
    outp: dict[str, Any] = {}
    for key, value in session.items():
        if key == "modalities":
            if session_type == "transcription":
                continue
            mods = list(value or [])
            out["output_modalities"] = ["audio"] if "audio" in mods else mods
        elif key == "voice":
            outp["voice"] = value
        elif key == "speed":
            outp["speed"] = value
        elif key == "input_audio_format":
            inp["format"] = _BETA_FORMATS.get(value, value)
        elif key == "output_audio_format":
            outp["format"] = _BETA_FORMATS.get(value, value)
        elif key == "input_audio_transcription":
            inp["transcription"] = value
        elif key == "input_audio_noise_reduction":
            inp["noise_reduction"] = value
        elif key == "turn_detection":
            inp["turn_detection"] = value
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        else:
            out[key] = value
    audio: dict[str, Any] = {}
    if inp:
        audio["input"] = inp
    if outp:
        audio["output"] = outp
    if audio:
        out["audio"] = audio
    return out


def to_ga(event: Event) -> list[Event]:
    """Return the GA event(s) equivalent to ``event``.

    Usually ``[event]`` itself. ``conversation.item.created`` (beta) becomes
    ``conversation.item.added`` followed by ``conversation.item.done`` for a
    finished item (only ``added`` for one still in progress), matching the GA
    order. The original type is kept in ``_beta_type`` for the log.
    """
    type_ = event.get("type")
    renamed = BETA_RENAMES.get(type_) if isinstance(type_, str) else None
    if renamed is not None:
        new = dict(event)
        new["type"] = renamed
        new["_beta_type"] = type_
        if renamed == "session.updated" and isinstance(new.get("session"), dict):
            kind = "transcription" if type_ == "transcription_session.updated" else "realtime"
            new["session"] = beta_session_to_ga(new["session"], kind)
        return [new]
    if type_ == "conversation.item.created":
        item = _ga_item(event.get("item"))
        added = {**event, "type": "conversation.item.added", "item": item, "_beta_type": type_}
        if isinstance(item, dict) and item.get("status") == "in_progress":
            return [added]
        done = {**added, "type": "conversation.item.done"}
        return [added, done]
    if type_ in ("session.created", "session.updated"):
        session = event.get("session")
        if isinstance(session, dict) and "audio" not in session and "modalities" in session:
            return [{**event, "session": beta_session_to_ga(session), "_beta_type": type_}]
    if type_ in ("response.created", "response.done"):
        response = event.get("response")
        if isinstance(response, dict):
            ga_response = _ga_response(response)
            if ga_response is not response:
                return [{**event, "response": ga_response}]
        return [event]
    if type_ in (
        "response.output_item.added",
        "response.output_item.done",
        "conversation.item.retrieved",
    ):
        item = event.get("item")
        if isinstance(item, dict) and item.get("role") == "assistant":
            ga = _ga_item(item)
            if ga is not item:
                return [{**event, "item": ga}]
    return [event]
