"""Layer 3: the event log and the receive/send recorder (sans-I/O)."""

from .event_log import EventLog, LoggedEvent
from .recorder import INVALID_FRAME, Received, Recorder

__all__ = ["INVALID_FRAME", "EventLog", "LoggedEvent", "Received", "Recorder"]
