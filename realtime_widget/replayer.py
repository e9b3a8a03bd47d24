"""Layer 5: replay a recorded session's user side into a new session, and compare.

>>> r = await replay("talk.zip", voice="cedar", silence_duration_ms=300)   # doctest: +SKIP
>>> r.compare()                                                            # doctest: +SKIP

:func:`replay` opens a new :class:`~realtime_widget.session.Session` with the
settings the original requested (the ``session`` of every client
``session.update``, merged in order as the server merges them), updated by the
keyword overrides. Then, for each turn of the original, in order:

* a spoken turn (VAD, idle timeout or manual commit): the user's audio of that
  turn is appended in ``chunk_ms`` chunks (paced like a microphone with
  ``pace="realtime"``, as fast as the socket takes it with ``"fast"``). With
  turn detection on (in the *new* session's effective settings), a little
  silence before and enough after it let the server's VAD find the turn; with
  it off, ``input_audio_buffer.commit`` and ``response.create`` follow;
* a typed message: :meth:`Session.send_text`; a message created with audio:
  the same ``conversation.item.create`` and ``response.create``;
* a response the client asked for with no user turn before it:
  ``response.create``.

Each turn waits for its answer (``response.done``, every response of the turn
done) before the next starts, so a barge-in of the original is replayed as a
turn of its own after the reply, not over it. Follow-up responses after a tool
call (``function_call_output`` + ``response.create``) are not replayed: the
replay has no tool implementations; :attr:`ReplayTurn.note` says so.

:class:`Replay` holds both recordings and :meth:`Replay.compare` puts them side
by side, one row per turn of the original, every figure computed from the
recorded events of each (``Recording.turns()`` and ``response.done`` usage).
"""

from __future__ import annotations

import asyncio
import html
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._loop import call_in_io_loop
from .errors import ConnectionClosedError
from .log.recording import Recording
from .protocol import events as ev
from .protocol.audio import SAMPLE_RATE, Int16Array
from .protocol.config import SETTINGS_KEYS, merge_session, settings_to_session
from .state.conversation import Conversation, Turn

if TYPE_CHECKING:
    import pandas as pd

    from .session import Session

__all__ = ["Replay", "ReplayTurn", "replay", "requested_settings"]

Pace = Literal["realtime", "fast"]
TurnKind = Literal["audio", "text", "audio_item", "response", "skipped"]

_LEAD_SILENCE_MS = 300
_VAD_MARGIN_MS = 500
_SEMANTIC_WAIT_MS = {"low": 8000, "medium": 4000, "high": 2000, "auto": 4000}


@dataclass
class ReplayTurn:
    """What was replayed for one turn of the original."""

    original: int
    """Index of the turn in the original's ``conversation.turns``."""
    kind: TurnKind
    sent_ms: float = 0.0
    """Milliseconds of audio sent for it (user audio plus the silence around it)."""
    turns: list[int] = field(default_factory=list)
    """Indices of the turns it gave in the new session (usually one; a VAD with other
    settings may split or merge speech)."""
    note: str = ""


def requested_settings(recording: Recording) -> dict[str, Any]:
    """The session the original asked for: its client ``session.update``s, merged in order."""
    merged: dict[str, Any] = {}
    for entry in recording.log.filter(type="session.update", direction="client"):
        session = entry.payload.get("session")
        if isinstance(session, Mapping):
            merged = merge_session(merged, session)
    return merged


def _user_audio(conv: Conversation, turn: Turn) -> Int16Array:
    if turn.item_id is not None:
        try:
            audio = conv.item_audio(turn.item_id)
        except KeyError:
            audio = None
        if audio is not None and len(audio):
            return audio
    if turn.audio_end_ms is not None:
        per_ms = SAMPLE_RATE // 1000
        start = (turn.audio_start_ms or 0) * per_ms
        return conv.input_audio()[start : turn.audio_end_ms * per_ms]
    return np.zeros(0, dtype=np.int16)


def _has_tool_call(conv: Conversation, turn: Turn) -> bool:
    return any(item.type == "function_call" for item in conv.turn_output(turn))


def _plan(conv: Conversation, turn: Turn) -> tuple[TurnKind, Any, str]:
    """(kind, what to send, note) for one original turn."""
    if turn.source == "timeout":
        return "skipped", None, "idle-timeout turn: not replayed"
    if turn.source == "response":
        return "response", None, ""
    if turn.source == "item":
        try:
            item = conv.item(turn.item_id) if turn.item_id else None
        except KeyError:
            item = None
        if item is None:
            return "skipped", None, "the user item is unknown"
        audio = conv.item_audio(item.id)
        if len(audio):
            return "audio_item", audio, ""
        if item.text:
            return "text", item.text, ""
        return "skipped", None, "the user item has neither text nor audio"
    audio = _user_audio(conv, turn)
    if not len(audio):
        return "skipped", None, "no user audio recorded for this turn"
    return "audio", audio, ""


def _trailing_ms(turn_detection: Mapping[str, Any]) -> int:
    if turn_detection.get("type") == "semantic_vad":
        eagerness = turn_detection.get("eagerness") or "auto"
        return _SEMANTIC_WAIT_MS.get(str(eagerness), 4000) + _VAD_MARGIN_MS
    silence = turn_detection.get("silence_duration_ms")
    silence = silence if isinstance(silence, int) and silence > 0 else 500
    return silence + _VAD_MARGIN_MS


class Replay:
    """A replayed session: :attr:`original`, :attr:`new`, and :meth:`compare`."""

    def __init__(
        self,
        original: Recording,
        new: Recording,
        turns: list[ReplayTurn],
        settings: Mapping[str, Any],
        overrides: Mapping[str, Any],
    ) -> None:
        self.original = original
        self.new = new
        self.turns = turns
        self.settings: dict[str, Any] = dict(settings)
        """The session settings the replay asked for (requested + overrides)."""
        self.overrides: dict[str, Any] = dict(overrides)
        """The keyword overrides given to :func:`replay`."""

    def compare(self) -> pd.DataFrame:
        """One row per turn of the original: both sides' user transcript, assistant
        text, end of speech → first audio (ms) and tokens, computed from each
        recording's events. Columns end in ``_original`` / ``_replay``."""
        import pandas as pd

        orig = self.original.turns()
        new = self.new.turns()
        rows: list[dict[str, Any]] = []
        for rt in self.turns:
            o = orig.loc[rt.original] if rt.original in orig.index else None
            n = new.loc[[i for i in rt.turns if i in new.index]]
            o_in, o_out = _tokens(self.original.conversation, [rt.original])
            n_in, n_out = _tokens(self.new.conversation, rt.turns)
            latencies = n["speech_end_to_first_audio_ms"].dropna()
            rows.append(
                {
                    "turn": rt.original,
                    "kind": rt.kind,
                    "user_text_original": "" if o is None else o["user_text"],
                    "user_text_replay": " ".join(t for t in n["user_text"] if t),
                    "assistant_text_original": "" if o is None else o["assistant_text"],
                    "assistant_text_replay": " ".join(t for t in n["assistant_text"] if t),
                    "latency_ms_original": math.nan
                    if o is None
                    else float(o["speech_end_to_first_audio_ms"]),
                    "latency_ms_replay": float(latencies.iloc[-1]) if len(latencies) else math.nan,
                    "input_tokens_original": o_in,
                    "input_tokens_replay": n_in,
                    "output_tokens_original": o_out,
                    "output_tokens_replay": n_out,
                    "interrupted_original": False if o is None else bool(o["interrupted"]),
                    "replay_turns": len(rt.turns),
                    "note": rt.note,
                }
            )
        columns = [
            "turn", "kind", "user_text_original", "user_text_replay",
            "assistant_text_original", "assistant_text_replay", "latency_ms_original",
            "latency_ms_replay", "input_tokens_original", "input_tokens_replay",
            "output_tokens_original", "output_tokens_replay", "interrupted_original",
            "replay_turns", "note",
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=columns).set_index("turn")

    def __repr__(self) -> str:
        done = sum(1 for t in self.turns if t.kind != "skipped")
        return (
            f"<Replay {done}/{len(self.turns)} turns replayed; overrides {self.overrides!r}; "
            f"original {self.original!r}; new {self.new!r}>"
        )

    def _repr_html_(self) -> str:
        overrides = ", ".join(f"{k}={v!r}" for k, v in self.overrides.items()) or "none"
        table = self.compare().to_html(na_rep="", float_format=lambda x: f"{x:.0f}")
        return (
            f"<b>Replay</b> of {len(self.turns)} turns; overrides: "
            f"<code>{html.escape(overrides)}</code>{table}"
        )


def _tokens(conv: Conversation, turns: list[int]) -> tuple[float, float]:
    """(input, output) tokens of every response of these turns; NaN without usage."""
    total_in = total_out = 0
    seen = False
    for index in turns:
        if not 0 <= index < len(conv.turns):
            continue
        for rid in conv.turns[index].response_ids:
            usage = conv.responses[rid].usage if rid in conv.responses else None
            if not isinstance(usage, dict):
                continue
            seen = True
            i, o = usage.get("input_tokens"), usage.get("output_tokens")
            total_in += i if isinstance(i, int) else 0
            total_out += o if isinstance(o, int) else 0
    return (float(total_in), float(total_out)) if seen else (math.nan, math.nan)


def _transcribed(conv: Conversation, turn: Turn) -> bool:
    if turn.source == "item" or turn.item_id is None:
        return True
    try:
        status = conv.item(turn.item_id).transcript_status
    except KeyError:
        return False
    return status in ("completed", "failed")


def _settled(conv: Conversation, start: int, need_response: bool, transcripts: bool) -> bool:
    """Every turn since ``start`` is committed (and transcribed, if asked) and the last
    one's responses are done."""
    turns = conv.turns[start:]
    if not turns:
        return False
    if any(t.t_committed is None for t in turns):
        return False  # still speaking, or not committed yet
    if transcripts and not all(_transcribed(conv, t) for t in turns):
        return False  # input transcription runs beside the response and may end later
    if not need_response:
        return True
    last = turns[-1]
    if not last.response_ids or conv.active_response_id is not None:
        return False
    return all(
        conv.responses[r].t_done is not None for r in last.response_ids if r in conv.responses
    )


async def _wait_settled(s: Session, start: int, need_response: bool, timeout: float) -> bool:
    """Poll the state on the I/O loop (where it changes) until :func:`_settled`."""
    audio_in = (s.config.get("audio") or {}).get("input") or {}
    transcripts = audio_in.get("transcription") is not None

    async def poll() -> bool:
        deadline = time.monotonic() + timeout
        conv = s.conversation
        while time.monotonic() < deadline:
            if _settled(conv, start, need_response, transcripts):
                return True
            if s.status != "connected":
                raise s.close_error or ConnectionClosedError(f"the session is {s.status}")
            await asyncio.sleep(0.02)
        return False

    return await call_in_io_loop(poll())


async def _note(s: Session, **fields: Any) -> None:
    async def go() -> None:  # the log is written on the I/O thread only
        s.recorder.note("replay.turn", time.monotonic(), **fields)

    await call_in_io_loop(go())


async def replay(
    source: Recording | str | PathLike[str],
    target: Any = "local",
    *,
    pace: Pace = "fast",
    turn_timeout: float = 60.0,
    chunk_ms: int = 40,
    model: str | None = None,
    api_key: str | None = None,
    session_kwargs: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Replay:
    """Send a recorded session's user turns into a new session; return a :class:`Replay`.

    ``source``: a :class:`Recording` or the path of a saved one. ``target``,
    ``model``, ``api_key`` and ``session_kwargs`` (e.g. ``server_options``,
    ``reply_timeout``) go to :class:`~realtime_widget.session.Session`.
    ``overrides``: session settings (``voice=``, ``silence_duration_ms=``,
    ``turn_detection=``, ``instructions=``...) applied over the original's.
    ``pace``: ``"realtime"`` sends the audio like a microphone, ``"fast"`` as
    fast as possible. ``chunk_ms`` (20-100): audio per append. A turn whose
    answer does not finish within ``turn_timeout`` s is noted and the next
    one starts. See the module docstring for what is replayed.
    """
    from .log.archive import load
    from .session import Session

    if pace not in ("realtime", "fast"):
        raise ValueError(f"pace must be 'realtime' or 'fast', not {pace!r}")
    if not 20 <= chunk_ms <= 100:
        raise ValueError(f"chunk_ms must be within 20-100, not {chunk_ms}")
    original = source if isinstance(source, Recording) else load(source)
    requested = requested_settings(original)
    override_session = settings_to_session(**overrides) if overrides else {}
    settings = merge_session(requested, override_session)
    settings = {k: v for k, v in settings.items() if k in SETTINGS_KEYS}

    s = Session(target, model=model, api_key=api_key, **dict(session_kwargs or {}), **settings)
    await s.connect()
    conv = original.conversation
    turns: list[ReplayTurn] = []
    try:
        for turn in list(conv.turns):
            rt = await _replay_turn(
                s, conv, turn, pace=pace, chunk_ms=chunk_ms, timeout=turn_timeout
            )
            turns.append(rt)
    finally:
        await s.close()
    new = s.recording if hasattr(s, "recording") else Recording(s.recorder)
    return Replay(original, new, turns, settings, overrides)


async def _replay_turn(
    s: Session, conv: Conversation, turn: Turn, *, pace: Pace, chunk_ms: int, timeout: float
) -> ReplayTurn:
    kind, payload, note = _plan(conv, turn)
    rt = ReplayTurn(turn.index, kind, note=note)
    if kind == "skipped":
        await _note(s, original_turn=turn.index, kind=kind, note=note)
        return rt
    if _has_tool_call(conv, turn):
        rt.note = "tool call: its follow-up response is not replayed"
    had_response = bool(turn.response_ids)
    td = ((s.config.get("audio") or {}).get("input") or {}).get("turn_detection")
    vad = isinstance(td, Mapping)
    start = len(s.conversation.turns)
    await _note(s, original_turn=turn.index, kind=kind)
    need_response = had_response
    realtime = pace == "realtime"
    if kind == "audio":
        audio = np.asarray(payload, dtype=np.int16)
        if vad:
            assert isinstance(td, Mapping)
            lead = np.zeros(_LEAD_SILENCE_MS * SAMPLE_RATE // 1000, dtype=np.int16)
            samples = np.concatenate([lead, audio])
            rt.sent_ms = await s.send_audio(
                samples,
                realtime=realtime,
                chunk_ms=chunk_ms,
                commit=False,
                respond=False,
                trailing_silence_ms=_trailing_ms(td),
            )
            need_response = td.get("create_response", True) is not False
            if had_response and not need_response:
                await _wait_settled(s, start, False, timeout)
                await s.create_response()
                need_response = True
        else:
            rt.sent_ms = await s.send_audio(
                audio, realtime=realtime, chunk_ms=chunk_ms, commit=True, respond=had_response
            )
    elif kind == "text":
        await s.send_text(str(payload), respond=had_response)
    elif kind == "audio_item":
        pcm = np.asarray(payload, dtype="<i2").tobytes()
        s.send(ev.conversation_item_create(ev.user_audio_item(pcm)))
        rt.sent_ms = len(payload) * 1000.0 / SAMPLE_RATE
        if had_response:
            await s.create_response()
    else:  # "response": it opens a turn only when there is none to attach to
        mark = s.mark()
        await s.create_response()
        try:
            done = await s.wait_for("response.done", timeout=timeout, since=mark)
        except TimeoutError:
            rt.note = f"no response.done within {timeout:g} s"
            return rt
        rid = (done.get("response") or {}).get("id")
        response = s.conversation.responses.get(rid) if isinstance(rid, str) else None
        if response is not None and response.turn is not None:
            rt.turns = [response.turn] if response.turn < start else []
        rt.turns += list(range(start, len(s.conversation.turns)))
        return rt
    if not await _wait_settled(s, start, need_response, timeout):
        rt.note = (rt.note + "; " if rt.note else "") + f"not settled within {timeout:g} s"
    rt.turns = list(range(start, len(s.conversation.turns)))
    return rt
