"""Layer 3: the whole conversation as one audio timeline, as it was heard.

Both sides are placed on the kernel clock, starting at the log's first event:

* User: the input timeline (everything appended), chunk by chunk at the time it
  was sent. Chunks are laid end to end (the microphone is continuous; send times
  jitter by tens of ms) unless a chunk was sent more than :data:`GAP_S` later than
  the end of the previous one: push-to-talk pauses, a muted mic, typed turns.
* Assistant: each in-conversation assistant item from the moment the browser
  started playing it (``widget.playback_started``; without a widget, its first
  delta), for the part that was heard (``truncated_ms`` when cut). The player is a
  queue, so an item never starts before the previous one ended.
"""

from __future__ import annotations

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array
from realtime_widget.state.conversation import Conversation

from .event_log import EventLog
from .tables import first_played_times

__all__ = ["GAP_S", "conversation_audio", "placements"]

GAP_S = 0.2
"""A send-time jump larger than this between microphone chunks is kept as silence."""


def placements(
    log: EventLog, conv: Conversation
) -> tuple[list[tuple[int, Int16Array]], list[tuple[int, str, Int16Array]]]:
    """Where each piece of audio goes: ``([(sample, user chunk)], [(sample, item_id,
    heard audio)])``, sample positions from the log's first event."""
    if not len(log):
        return [], []
    t0 = log[0].t_kernel
    start, length, t_sent = log.input_timeline()
    user: list[tuple[int, Int16Array]] = []
    cursor = 0
    gap = int(GAP_S * SAMPLE_RATE)
    if len(start):
        everything = conv.input_audio()
        for s, n, t in zip(start.tolist(), length.tolist(), t_sent.tolist(), strict=True):
            ideal = round((t - t0) * SAMPLE_RATE) - n
            pos = ideal if ideal - cursor > gap else cursor
            pos = max(pos, 0)
            user.append((pos, everything[s : s + n]))
            cursor = pos + n
    played = first_played_times(log)
    assistant: list[tuple[int, str, Int16Array]] = []
    cursor = 0
    for item in conv.items:
        if item.role != "assistant" or not item.audio_samples:
            continue
        t = played.get(item.id, item.t_first_audio)
        if t is None:
            continue
        audio = item.heard_audio
        pos = max(round((t - t0) * SAMPLE_RATE), cursor)
        assistant.append((pos, item.id, audio))
        cursor = pos + len(audio)
    return user, assistant


def conversation_audio(log: EventLog, conv: Conversation, *, stereo: bool = False) -> Int16Array:
    """Mono mix (saturating) or ``(n, 2)`` stereo (user left, assistant right), int16."""
    user, assistant = placements(log, conv)
    end = max([p + len(a) for p, a in user] + [p + len(a) for p, _, a in assistant], default=0)
    # Pieces of one side never overlap (placements keeps a cursor per side): plain
    # assignment, int16 throughout; an hour is 2 x 173 MB, not 690 MB of int32.
    left = np.zeros(end, dtype=np.int16)
    right = np.zeros(end, dtype=np.int16)
    for pos, audio in user:
        left[pos : pos + len(audio)] = audio
    for pos, _, audio in assistant:
        right[pos : pos + len(audio)] = audio
    if stereo:
        return np.column_stack((left, right))
    mix = np.empty(end, dtype=np.int16)
    block = 1 << 20
    for i in range(0, end, block):
        total = left[i : i + block].astype(np.int32) + right[i : i + block]
        np.clip(total, -32768, 32767, out=total)
        mix[i : i + block] = total
    return mix
