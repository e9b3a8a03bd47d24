"""Issue 6 in a real browser: talking to the local server's offline speech engines.

The fake microphone says a weather question (espeak-ng); the kernel's local server runs
the offline engines (WebRTC VAD, Whisper tiny.en, rule replies, Piper). What must hold:
the user's words are transcribed, the reply is relevant (the weather rule answers), it is
spoken (Piper audio, played in the browser to its last sample) and both sides show in
the widget's transcript. Skipped when the ``local`` extra is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import audio, harness
from .scenario import debug_state, run_setup, setup_cell, wait_connected

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

QUESTION = "What is the weather like today?"


def _offline_available() -> bool:
    from realtime_widget.server.offline import missing_modules

    return not missing_modules()


@pytest.fixture(scope="module")
def weather_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = audio.tools_missing()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("offline-speech")
    mic, _ = audio.make_speech(d, "weather", QUESTION, lead_s=0.5, tail_s=14.0)
    return mic


@pytest.fixture(scope="module")
def talk(pw: Any, lab: harness.JupyterServer, weather_wav: Path) -> Iterator[dict[str, Any]]:
    if not _offline_available():
        pytest.skip("the local extra (offline speech engines) is not installed")
    browser = harness.Browser(pw, lab, wav=weather_wav)
    try:
        nb = browser.open_notebook([setup_cell(engines="offline", silence_ms=500)], "offline.ipynb")
        run_setup(nb, timeout=120)
        nb.click_connect()
        wait_connected(nb, timeout=60)
        nb.wait_kernel("_rtw_done(1)", timeout=90)
        yield {"nb": nb}
    finally:
        browser.close()


def test_spoken_question_gets_a_relevant_spoken_reply(talk: dict[str, Any]) -> None:
    nb = talk["nb"]
    engines = nb.kernel_json(
        "session.log.filter(type='session.created')[0].payload['session']['instructions']"
    )
    assert "whisper" in engines.lower() and "piper" in engines.lower(), engines
    nb.wait_kernel(
        "any(i.role == 'user' and i.transcript_status == 'completed'"
        " for i in session.conversation.items)",
        timeout=60,
    )
    heard = nb.kernel_json(
        "[i.transcript for i in session.conversation.items if i.role == 'user'][0]"
    )
    assert "weather" in heard.lower(), heard
    reply = nb.kernel_json(
        "(lambda it: {'id': it.id, 'text': it.text, 'samples': it.audio_samples})("
        "[i for i in session.conversation.items if i.role == 'assistant'][0])"
    )
    assert "weather" in reply["text"].lower(), reply["text"]  # the weather rule answered
    assert reply["samples"] > 24000  # over a second of Piper speech, not an echo or a tone
    harness.poll(
        lambda: debug_state(nb)["played"].get(reply["id"], 0) >= reply["samples"],
        timeout=60,
        what="the browser played the spoken reply",
    )
    page_text = nb.page.locator(".rtw-transcript").first.inner_text().lower()
    assert page_text.count("weather") >= 2, page_text  # the question and the answer
