"""The offline engines one by one: WebRTC VAD under server_vad/semantic_vad rules,
Whisper transcription accuracy, Piper sentence streaming, the rule responder."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from realtime_widget.server import ContextItem, ResponderContext, SpeechRequest, TurnConfig
from realtime_widget.server.interfaces import SpeechSegment, TranscriptionRequest
from realtime_widget.server.vad import TurnDetector, end_of_turn_probability

from .offline_support import SR, espeak, needs_espeak, needs_offline, wer

pytestmark = [needs_offline, needs_espeak]

SENTENCES = [
    "what is the weather like in paris today",
    "set a timer for ten minutes",
    "please tell me a funny story about a cat",
    "how far away is the sun from the earth",
    "thank you very much for your help",
]


@pytest.fixture(scope="module")
def transcriber():  # type: ignore[no-untyped-def]
    from realtime_widget.server.offline.whisper import WhisperTranscriber

    t = WhisperTranscriber()
    t.loaded()  # load once for the module
    return t


@pytest.fixture(scope="module")
def speaker():  # type: ignore[no-untyped-def]
    from realtime_widget.server.offline.speech import PiperSpeaker

    s = PiperSpeaker()
    s.loaded()
    return s


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), dtype=np.int16)


# -- transcription ---------------------------------------------------------------


def test_espeak_sentences_transcribe_with_low_word_error(transcriber) -> None:  # type: ignore[no-untyped-def]
    hyps = [transcriber.transcribe(TranscriptionRequest(audio=espeak(s))) for s in SENTENCES]
    rate = wer(SENTENCES, hyps)
    assert rate <= 0.10, (rate, hyps)


def test_silence_and_tiny_audio_transcribe_to_nothing(transcriber) -> None:  # type: ignore[no-untyped-def]
    assert transcriber.transcribe(TranscriptionRequest(audio=silence(1.0))) == ""
    assert transcriber.transcribe(TranscriptionRequest(audio=espeak("hello")[:1000])) == ""


def test_user_model_folder_is_accepted_and_a_bad_one_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from realtime_widget.server.offline.models import load_whisper, packaged_whisper_model
    from realtime_widget.server.offline.whisper import WhisperTranscriber

    folder = packaged_whisper_model()
    t = WhisperTranscriber(folder)
    assert t.name == "whisper:model"
    assert load_whisper(folder).path == str(folder)
    with pytest.raises(FileNotFoundError, match=r"model\.bin"):
        load_whisper(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_whisper(tmp_path / "nope" / "model")


# -- speech ------------------------------------------------------------------------------


def test_sentences_split_back_to_the_text() -> None:
    from realtime_widget.server.offline.speech import split_sentences

    text = 'Hello there! It is 3.5 degrees. Is that "cold"? Yes… very. ' + "word " * 80
    parts = split_sentences(text)
    assert "".join(parts) == text
    assert parts[:3] == ["Hello there! ", "It is 3.5 degrees. ", 'Is that "cold"? ']
    assert all(len(p) <= 240 for p in parts)


def test_speech_streams_sentence_by_sentence(speaker) -> None:  # type: ignore[no-untyped-def]
    text = "Hello there. This is the second sentence. And here is a third one."
    gen = speaker.synthesize(SpeechRequest(text=text))
    first = next(gen)
    # Only the first sentence has been synthesised when its audio is handed out.
    assert isinstance(first, SpeechSegment)
    assert first.text == "Hello there. "
    assert speaker.audio_seconds == pytest.approx(first.audio.size / SR)
    rest = list(gen)
    assert [s.text for s in rest] == ["This is the second sentence. ", "And here is a third one."]
    audio = np.concatenate([first.audio, *(s.audio for s in rest)])
    assert audio.dtype == np.int16 and audio.size > 2 * SR  # 24 kHz, a few seconds
    assert np.abs(audio).max() > 3000


def test_speech_generator_stops_when_closed(speaker) -> None:  # type: ignore[no-untyped-def]
    gen = speaker.synthesize(SpeechRequest(text="One. Two. Three. Four."))
    next(gen)
    done = speaker.audio_seconds
    gen.close()
    assert speaker.audio_seconds == done  # no further sentence was synthesised


def test_piper_speech_transcribes_back(speaker, transcriber) -> None:  # type: ignore[no-untyped-def]
    text = "I cannot look outside from here, so I have no live weather."
    audio = np.concatenate([s.audio for s in speaker.synthesize(SpeechRequest(text=text))])
    heard = transcriber.transcribe(TranscriptionRequest(audio=audio))
    assert wer([text], [heard]) <= 0.10, heard


# -- VAD ------------------------------------------------------------------------------


def _turns(config: TurnConfig, audio: np.ndarray, judged: bool = False) -> TurnDetector:
    from realtime_widget.server.offline.webrtc import WebRtcVad

    return TurnDetector(WebRtcVad(), config, judged=judged)


def _speech_span(audio: np.ndarray) -> tuple[int, int]:
    """First and last sample above -45 dBFS in 10 ms windows (the truth for espeak audio)."""
    win = SR // 100
    n = audio.size // win
    rms = np.sqrt((audio[: n * win].astype(np.float64).reshape(n, win) ** 2).mean(axis=1))
    loud = np.nonzero(rms > 32768 * 10 ** (-45 / 20))[0]
    return int(loud[0] * win), int((loud[-1] + 1) * win)


def test_webrtc_vad_honours_silence_duration_and_prefix_padding() -> None:
    speech = espeak("please tell me a funny story about a cat")
    audio = np.concatenate([silence(1.0), speech, silence(2.0)])
    first, last = _speech_span(audio)
    results = {}
    for pad, wait in ((0, 300), (300, 300), (300, 900)):
        cfg = TurnConfig(prefix_padding_ms=pad, silence_duration_ms=wait)
        det = _turns(cfg, audio)
        events = [e for i in range(0, audio.size, 480) for e in det.feed(audio[i : i + 480])]
        assert [e.kind for e in events] == ["start", "stop"], events
        results[(pad, wait)] = events
    # speech starts near the truth, and prefix padding moves audio_start_ms back by itself
    start0 = results[(0, 300)][0].ms
    assert abs(start0 - first * 1000 // SR) <= 60
    assert results[(300, 300)][0].ms == start0 - 300
    # the turn ends silence_duration_ms after speech (plus WebRTC's short hangover)
    stop_short, stop_long = results[(300, 300)][1].ms, results[(300, 900)][1].ms
    assert 300 <= stop_short - last * 1000 // SR <= 300 + 200
    assert stop_long - stop_short == 600


def test_webrtc_vad_ignores_noise_and_silence() -> None:
    from realtime_widget.server.offline.webrtc import WebRtcVad

    vad = WebRtcVad()
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(SR * 3) * 32768 * 10 ** (-40 / 20)).astype(np.int16)
    frames = noise[: noise.size // 480 * 480].reshape(-1, 480)
    assert sum(vad.speech_probability(f) > 0.5 for f in frames) <= 0.05 * len(frames)
    det = TurnDetector(vad, TurnConfig())
    assert det.feed(noise) == []  # isolated false frames never start a turn
    assert vad.speech_probability(np.zeros(480, np.int16)) == 0.0
    # threshold above 0.5 also asks for loudness: a quiet voice no longer counts
    quiet = (espeak("hello there")[: SR // 2].astype(np.float64) * 0.01).astype(np.int16)
    scores = [vad.speech_probability(quiet[i : i + 480]) for i in range(0, quiet.size - 480, 480)]
    assert max(scores) <= 0.8


def test_semantic_end_of_turn_probability() -> None:
    assert end_of_turn_probability("What is the weather in Paris today?", None) >= 0.9
    assert end_of_turn_probability("I would like to go to the", None) <= 0.1
    assert end_of_turn_probability("so, um", None) <= 0.1
    assert end_of_turn_probability("Tell me about it,", None) <= 0.2
    assert end_of_turn_probability(None, None) == 0.5
    assert end_of_turn_probability(None, -6.0) > end_of_turn_probability(None, 6.0)


@pytest.mark.parametrize(("eagerness", "longest"), [("high", 2000), ("auto", 4000), ("low", 8000)])
def test_semantic_vad_waits_longer_for_an_unfinished_turn(eagerness: str, longest: int) -> None:
    cfg = TurnConfig.from_session({"type": "semantic_vad", "eagerness": eagerness})
    assert cfg is not None
    speech = espeak("what is the weather like in paris today")
    audio = np.concatenate([silence(0.5), speech, silence(longest / 1000 + 1)])
    waits = {}
    for partial in ("What is the weather like in Paris today?", "What is the weather like and"):
        det = _turns(cfg, audio, judged=True)
        events = []
        for i in range(0, audio.size, 480):
            for ev in det.feed(audio[i : i + 480]):
                events.append(ev)
                if ev.kind == "pause":
                    det.set_partial(partial, ev.sample)  # what the server's transcriber returns
        kinds = [e.kind for e in events]
        assert kinds == ["start", "pause", "stop"], kinds
        waits[partial[-1]] = events[2].ms - events[1].ms
    finished, unfinished = waits["?"], waits["d"]
    assert finished < unfinished <= longest
    assert unfinished >= 0.8 * longest


# -- replies ---------------------------------------------------------------------------


def _ctx(text: str | None = None, *, audio: np.ndarray | None = None, tools=()) -> ResponderContext:  # type: ignore[no-untyped-def]
    item = ContextItem(id="item_1", type="message", role="user", text=text, audio=audio)
    return ResponderContext(items=[item], tools=tools)


def test_rule_responder_intents() -> None:
    from realtime_widget.server.offline.rules import RuleResponder

    r = RuleResponder(clock=lambda: dt.datetime(2026, 11, 3, 9, 5))
    said = {
        t: r.respond(_ctx(t)).text
        for t in (
            "Hello!",
            "What's the weather like in Paris?",
            "What time is it?",
            "What is the date?",
            "Tell me a joke.",
            "Thank you.",
            "Goodbye.",
            "Who are you?",
            "Can you hear me?",
            "The cat sat on the mat.",
            "",
        )
    }
    assert said["Hello!"].startswith("Hello!")
    assert "weather" in said["What's the weather like in Paris?"]
    assert said["What time is it?"] == "It is 9:05 here."
    assert said["What is the date?"] == "Today is Tuesday, November 3."
    assert "?" in said["Tell me a joke."]
    assert said["Thank you."] == "You are welcome."
    assert said["Goodbye."].startswith("Goodbye")
    assert "local assistant" in said["Who are you?"]
    assert said["Can you hear me?"].startswith("Yes")
    assert said["The cat sat on the mat."] == "You said: The cat sat on the mat."
    assert "did not catch" in said[""]


def test_rule_responder_transcribes_audio_and_calls_tools(transcriber, speaker) -> None:  # type: ignore[no-untyped-def]
    from realtime_widget.server.offline.rules import RuleResponder

    def transcribe(audio: np.ndarray) -> str:
        return str(transcriber.transcribe(TranscriptionRequest(audio=audio)))

    def piper(text: str) -> np.ndarray:
        return np.concatenate([s.audio for s in speaker.synthesize(SpeechRequest(text=text))])

    r = RuleResponder(transcribe)
    assert r.respond(_ctx(audio=piper("Hello there."))).text.startswith("Hello!")
    tool = {
        "type": "function",
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "default": "Paris"}},
        },
    }
    reply = r.respond(_ctx(audio=piper("Please get weather for me."), tools=[tool]))
    assert reply.function_call is not None
    assert reply.function_call.name == "get_weather"
    assert json.loads(str(reply.function_call.arguments)) == {"city": "Paris"}
