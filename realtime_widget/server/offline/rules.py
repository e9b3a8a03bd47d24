"""A deterministic, rule-based responder for spoken conversations.

Rules, checked in order against the user's latest words (typed text, or the
transcript of their audio: the session's input transcription when enabled,
else the responder transcribes the audio itself with the shared Whisper):

1. the last item is a tool result → it is read out (as the echo responder);
   an out-of-band request to summarize → the echo responder's summary;
2. the session has tools → the echo responder's tool rules apply to the
   words (``call NAME {json}``, a tool's name said aloud, a forced
   ``tool_choice``), so a spoken "what's the weather, get weather" calls
   ``get_weather``;
3. intents, first match wins: greeting, weather, time, date, joke, thanks,
   goodbye, "who are you", "can you hear me";
4. anything else is echoed: ``You said: <words>.``; nothing recognised →
   ``Sorry, I did not catch that. Could you say it again?``

Replies are short and end with a full stop so they speak naturally. The time
and date come from the clock (pass ``clock`` for a fixed one in tests).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable

from realtime_widget.protocol.audio import Int16Array
from realtime_widget.server.interfaces import ContextItem, Reply, ResponderContext
from realtime_widget.server.responder import EchoResponder

__all__ = ["RuleResponder", "TranscribeFn", "user_words"]

TranscribeFn = Callable[[Int16Array], str]

_JOKES = (
    "Why did the scarecrow win an award? Because he was outstanding in his field.",
    "I told my computer a joke about UDP. I am not sure it got it.",
    "Why do programmers prefer dark mode? Because light attracts bugs.",
)

_INTENTS: list[tuple[str, re.Pattern[str]]] = [
    ("weather", re.compile(r"\b(weather|rain|raining|sunny|forecast|temperature|cold|hot)\b")),
    ("time", re.compile(r"\bwhat(?:'s| is)? the time\b|\bwhat time\b|\btime is it\b")),
    ("date", re.compile(r"\bwhat(?:'s| is)? the date\b|\bwhat day\b|\btoday's date\b")),
    ("joke", re.compile(r"\b(joke|funny|make me laugh)\b")),
    ("thanks", re.compile(r"\b(thanks|thank you|cheers)\b")),
    ("bye", re.compile(r"\b(bye|goodbye|good night|see you|farewell)\b")),
    ("who", re.compile(r"\bwho are you\b|\byour name\b|\bwhat are you\b")),
    ("hear", re.compile(r"\bcan you hear me\b|\bare you there\b|\btesting\b")),
    ("greeting", re.compile(r"^\W*(hi|hello|hey|good morning|good afternoon|good evening)\b")),
]


def user_words(item: ContextItem, transcribe: TranscribeFn | None) -> str:
    """The user's words: typed text, the known transcript, or a fresh transcription."""
    if item.text:
        return item.text
    if item.transcript:
        return item.transcript
    if item.audio is not None and item.audio.size and transcribe is not None:
        return transcribe(item.audio)
    return ""


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


class RuleResponder:
    """Deterministic intent rules plus the echo responder's tool calls (module docstring)."""

    name = "rules"
    uses_transcripts = True

    def __init__(
        self,
        transcribe: TranscribeFn | None = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._transcribe = transcribe
        self._clock = clock or dt.datetime.now
        self._echo = EchoResponder()
        self._jokes = 0

    def respond(self, context: ResponderContext) -> Reply:
        last = context.last_item
        if last is not None and last.type == "function_call_output":
            return self._echo.respond(context)
        if context.out_of_band and "summar" in context.instructions.lower():
            return self._echo.respond(context)  # its out-of-band summary
        user = context.last_user_item()
        if user is None:
            return Reply(text="Are you still there? I am listening.")
        words = user_words(user, self._transcribe).strip()
        if context.function_tools() and words:
            # The echo rules read ``text``: give them the words of the audio turn.
            spoken = dataclasses.replace(user, text=words)
            items = [spoken if item is user else item for item in context.items]
            call = self._echo._tool_call(dataclasses.replace(context, items=items), spoken)
            if call is not None:
                return Reply(function_call=call)
        return Reply(text=self.reply_to(words))

    def reply_to(self, words: str) -> str:
        """The rule reply to one utterance."""
        norm = _normalise(words)
        if not norm:
            return "Sorry, I did not catch that. Could you say it again?"
        intent = next((name for name, pattern in _INTENTS if pattern.search(norm)), None)
        now = self._clock()
        if intent == "greeting":
            return "Hello! It is nice to hear from you. How can I help?"
        if intent == "weather":
            return (
                "I cannot look outside from here, so I have no live weather. "
                "I hope it is pleasant where you are."
            )
        if intent == "time":
            return f"It is {now.hour}:{now.minute:02d} here."
        if intent == "date":
            return f"Today is {now.strftime('%A, %B')} {now.day}."
        if intent == "joke":
            joke = _JOKES[self._jokes % len(_JOKES)]
            self._jokes += 1
            return joke
        if intent == "thanks":
            return "You are welcome."
        if intent == "bye":
            return "Goodbye! Talk to you soon."
        if intent == "who":
            return "I am the local assistant of realtime widget, running offline on this machine."
        if intent == "hear":
            return "Yes, I can hear you clearly."
        return f"You said: {words.rstrip('.!? ')}."
