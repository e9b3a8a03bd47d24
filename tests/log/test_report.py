"""Static HTML of a recording: what a saved notebook shows without a kernel."""

from __future__ import annotations

import html

import pytest

from realtime_widget.log import Recorder
from realtime_widget.log.recording import Recording
from realtime_widget.log.report import recording_html, transcript_rows, turns_html
from tests.fixtures.streams import load, replay

pytest.importorskip("pandas")


def test_turn_table_has_every_turn_with_its_latency() -> None:
    recorder, _, _ = replay(load("barge_in"))
    rec = Recording(recorder)
    turns = rec.turns()
    page = turns_html(turns)
    assert page.count("<tr>") == len(turns) + 1
    for _, row in turns.iterrows():
        assert f"{row['speech_end_to_first_audio_ms']:.0f}" in page
    assert "interrupted" in page
    unheard = turns.iloc[0]["unheard_text"]
    assert f'<s style="opacity: 0.55">{html.escape(unheard)[:40]}' in page


def test_recording_html_escapes_and_includes_history() -> None:
    first, _, _ = replay(load("text_turn"))
    second = Recorder()
    evil = "<script>alert(1)</script>"
    second.receive(
        '{"type":"conversation.item.added","item":{"id":"u1","type":"message","role":"user",'
        '"content":[{"type":"input_text","text":"' + evil + '"}]}}',
        1.0,
    )
    rec = Recording(second, history=[Recording(first)])
    page = recording_html(rec)
    assert evil not in page
    assert html.escape(evil) in page
    rows = transcript_rows([first.conversation])
    assert rows and html.escape(rows[0]["text"]) in page  # the earlier connection too


def test_empty_recording_html() -> None:
    page = recording_html(Recording(Recorder()))
    assert "0 turns" in page
    assert turns_html(Recording(Recorder()).turns()) == ""
