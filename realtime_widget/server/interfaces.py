"""Engine interfaces of the local server: small, swappable, async-friendly.

A connection gets its own instance of each engine (``Engines`` holds
factories), so engines may keep per-connection state (a VAD's smoothing, a
TTS voice cache). Everything CPU-heavy is called by the server from a bounded
thread pool, never on the event loop, except :class:`Vad` which runs inline on
small frames (an energy VAD or Silero on a 20 ms frame is microseconds to a
fraction of a millisecond).

Audio is always mono PCM16 at 24 kHz as ``numpy.int16`` arrays: the server
converts from and to the wire formats (G.711) at the edges.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array

__all__ = [
    "ContextItem",
    "FunctionCall",
    "Reply",
    "Responder",
    "ResponderContext",
    "Speaker",
    "SpeechRequest",
    "SpeechSegment",
    "Transcriber",
    "TranscriptionRequest",
    "Vad",
]


@runtime_checkable
class Vad(Protocol):
    """Scores one frame of audio: how likely is it speech?

    The server's turn logic (threshold, prefix padding, silence duration) lives
    in :class:`realtime_widget.server.vad.TurnDetector`; an engine only scores
    frames of ``frame_ms`` milliseconds (10-30 ms).
    """

    name: str
    frame_ms: int

    def speech_probability(self, frame: Int16Array) -> float:
        """Return a score in [0, 1], compared with ``turn_detection.threshold``."""
        ...

    def reset(self) -> None:
        """Forget state (called after a commit or clear)."""
        ...


@dataclass(frozen=True)
class TranscriptionRequest:
    audio: Int16Array
    model: str | None = None
    language: str | None = None
    prompt: str | None = None

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@runtime_checkable
class Transcriber(Protocol):
    """Speech to text for ``audio.input.transcription``. Called in a worker thread."""

    name: str

    def transcribe(self, request: TranscriptionRequest) -> str: ...


@dataclass(frozen=True)
class ContextItem:
    """One conversation item as a responder sees it (audio decoded, no wire noise)."""

    id: str
    type: Literal["message", "function_call", "function_call_output"]
    role: Literal["user", "assistant", "system"] | None = None
    text: str | None = None
    """Joined ``input_text`` / ``output_text`` parts (None if the item has none)."""
    audio: Int16Array | None = None
    """Audio of the item (user input or assistant output), PCM16 24 kHz."""
    transcript: str | None = None
    """Transcript of the audio part, if known yet (input transcription runs async)."""
    name: str | None = None
    call_id: str | None = None
    arguments: str | None = None
    output: str | None = None

    @property
    def audio_s(self) -> float:
        return 0.0 if self.audio is None else len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True)
class ResponderContext:
    """What a responder may look at to produce one reply."""

    items: Sequence[ContextItem]
    instructions: str = ""
    tools: Sequence[Mapping[str, Any]] = ()
    tool_choice: Any = "auto"
    output_modalities: Sequence[str] = ("audio",)
    metadata: Mapping[str, Any] | None = None
    out_of_band: bool = False

    @property
    def last_item(self) -> ContextItem | None:
        return self.items[-1] if self.items else None

    def last_user_item(self) -> ContextItem | None:
        for item in reversed(self.items):
            if item.type == "message" and item.role == "user":
                return item
        return None

    def function_tools(self) -> list[Mapping[str, Any]]:
        return [t for t in self.tools if t.get("type", "function") == "function" and t.get("name")]


@dataclass(frozen=True)
class FunctionCall:
    name: str
    arguments: str | Mapping[str, Any] = "{}"
    """A JSON string, or a mapping the server serialises."""
    call_id: str | None = None
    """Left None, the server makes a ``call_...`` id."""


@dataclass(frozen=True)
class Reply:
    """A responder's answer: text to say/write, OR one function call."""

    text: str | None = None
    function_call: FunctionCall | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.function_call is None):
            raise ValueError("a Reply has exactly one of text or function_call")


@runtime_checkable
class Responder(Protocol):
    """Produces the model's reply for a response.

    ``respond`` may be a plain method (run in a worker thread) or ``async def``
    (awaited on the loop: keep it non-blocking). ``uses_transcripts`` asks the
    server to wait for pending input transcriptions of the context's audio
    items before calling ``respond`` (an STT→LLM pipeline needs them; the
    default echo responder does not, which keeps it deterministic).
    """

    name: str
    uses_transcripts: bool

    def respond(self, context: ResponderContext) -> Reply | Awaitable[Reply]: ...


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    voice: str = "alloy"
    speed: float = 1.0
    source_audio: Int16Array | None = None
    """Audio of the user turn being answered, if that turn was audio (echo speakers use it)."""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SpeechSegment:
    """Audio of a known piece of the reply text (e.g. one sentence).

    A speaker that yields these lets the server place that text's transcript
    deltas inside exactly this audio span. The ``text`` pieces of one reply,
    in order, must concatenate to a prefix of the reply text.
    """

    audio: Int16Array
    text: str


@runtime_checkable
class Speaker(Protocol):
    """Text to speech. ``synthesize`` is iterated in a worker thread, chunk by chunk.

    The server asks for one chunk at a time and closes the iterator as soon as
    the response ends (barge-in, cancel): a generator should do its work
    after each ``yield`` so it stops at the next chunk boundary.
    """

    name: str

    def synthesize(self, request: SpeechRequest) -> Iterable[Int16Array | SpeechSegment]:
        """Yield PCM16 24 kHz chunks of any size (plain or as :class:`SpeechSegment`);
        the server re-chunks and paces them."""
        ...

    def estimate_ms(self, request: SpeechRequest) -> float | None:
        """Expected duration (used to pace transcript deltas), or None if unknown."""
        ...
