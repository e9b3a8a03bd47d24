"""Layer 2: conversation state (sans-I/O) and audio storage."""

from .audio_store import AudioRef, AudioTrack
from .conversation import Anomaly, Conversation, ErrorRecord, Item, Response, Turn, strip_audio

__all__ = [
    "Anomaly",
    "AudioRef",
    "AudioTrack",
    "Conversation",
    "ErrorRecord",
    "Item",
    "Response",
    "Turn",
    "strip_audio",
]
