"""A local Realtime-protocol (GA) server with pluggable engines.

It shares only the protocol core (``realtime_widget.protocol``,
``realtime_widget.errors``) with the client, so it runs and is tested with no
API key and no network::

    from realtime_widget.server import LocalServer

    async with LocalServer(pace="burst") as server:
        ...  # connect a client to server.url

Engines (VAD, transcription, reply, speech) are small interfaces in
:mod:`.interfaces`. With the ``local`` extra installed the server uses the
offline speech engines of :mod:`.offline` (WebRTC VAD, Whisper tiny.en, rule
or chat-completions replies, Piper); otherwise the echo engines of
:mod:`.engines`, which need no extra dependency (:meth:`Engines.select`).

Behaviour choices (details in each module's docstring):

* On connect only ``session.created`` is sent, as OpenAI GA does;
  ``conversation.created`` (xAI style) is opt-in (``emit_conversation_created``).
* ``server_vad`` threshold t means "frame RMS above ``-60 + 50·t`` dBFS" on
  20 ms frames with the energy VAD (WebRTC's verdict at 0.5 with the offline
  one); ``semantic_vad`` is approximated by silence waits of 1200/800/500 ms
  for eagerness low/medium(auto)/high, or, with the offline engines, by waits
  judged from a partial transcript (at most 8/4/2 s) (:mod:`.vad`).
* Usage is estimated deterministically: text 4 chars/token, user audio 10
  tokens/s, assistant audio 20 tokens/s, cached prefix from 1024 tokens
  (:mod:`.usage`).
* ``pace="realtime"`` sends each audio delta when its start time comes (80 ms
  ahead); ``"burst"`` as fast as the socket drains. Transcript deltas are placed
  in time proportionally to character offsets, and a truncate keeps the words
  that started before ``audio_end_ms`` (:mod:`.responses`).
* Session, item and response rules live in :mod:`.handler`; errors use OpenAI's
  codes and never close the socket.
"""

from __future__ import annotations

from .app import PATHS, LocalServer
from .engines import EchoSpeaker, Engines, PlaceholderTranscriber, ToneSpeaker
from .interfaces import (
    ContextItem,
    FunctionCall,
    Reply,
    Responder,
    ResponderContext,
    Speaker,
    SpeechRequest,
    SpeechSegment,
    Transcriber,
    TranscriptionRequest,
    Vad,
)
from .options import Pace, ServerOptions
from .records import ConnectionRecord, Fault
from .responder import CallableResponder, EchoResponder, arguments_from_schema
from .vad import EnergyVad, TurnConfig, TurnDetector

__all__ = [
    "PATHS",
    "CallableResponder",
    "ConnectionRecord",
    "ContextItem",
    "EchoResponder",
    "EchoSpeaker",
    "EnergyVad",
    "Engines",
    "Fault",
    "FunctionCall",
    "LocalServer",
    "Pace",
    "PlaceholderTranscriber",
    "Reply",
    "Responder",
    "ResponderContext",
    "ServerOptions",
    "Speaker",
    "SpeechRequest",
    "SpeechSegment",
    "ToneSpeaker",
    "Transcriber",
    "TranscriptionRequest",
    "TurnConfig",
    "TurnDetector",
    "Vad",
    "arguments_from_schema",
]
