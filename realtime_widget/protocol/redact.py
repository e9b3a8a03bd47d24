"""Keep secrets out of log records.

``websockets`` logs the whole handshake, headers included, at DEBUG level, on
the client and on the server. Both ends of this package attach
:class:`SecretFilter` to the logger they give ``websockets``, so that an
``Authorization``/``api-key`` value, or a known key anywhere in a message, is
replaced by ``***`` before any handler sees the record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = ["SecretFilter", "redact"]

# Header lines as websockets logs them ("> Authorization: Bearer sk-..."), plus the
# browser subprotocol form of a key ("openai-insecure-api-key.<key>").
_AUTH_PATTERNS = re.compile(
    r"(?im)^([<>]?\s*(?:authorization|api-key|x-api-key|openai-api-key)\s*:\s*)(?:bearer\s+)?\S+"
    r"|(openai-insecure-api-key\.)[^\s,]+"
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with auth header values and every string in ``secrets`` replaced by ``***``."""
    for s in sorted(secrets, key=len, reverse=True):
        if s:
            text = text.replace(s, "***")
    return _AUTH_PATTERNS.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", text)


class SecretFilter(logging.Filter):
    """A logging filter that redacts a record's formatted message in place."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
