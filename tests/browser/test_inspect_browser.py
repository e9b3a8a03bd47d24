"""Issues 4 and 5 in a real browser: the settings panel, a tool, and a saved recording.

One scenario (a real JupyterLab, Debian Chromium with a fake microphone, the kernel on
the local server), in the order a user would go:

* the settings panel beside the widget: the voice and the VAD silence are changed in
  the page (typed into the panel's inputs, Apply clicked) before connecting; the first
  turn then runs with them (the server's response carries the voice; its VAD waited
  the longer silence);
* a tool defined in a cell: a message typed into the widget asks the local server's
  responder to call it; the kernel runs it, the result goes back, the spoken answer is
  played in the browser and shown in the transcript;
* the session saved from the kernel loads in a fresh Python process with the same
  event table, turn table (with the browser's playback times), audio and timeline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from . import harness
from .scenario import (
    debug_state,
    kernel_array,
    run_setup,
    setup_cell,
    wait_connected,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

TOOL_CELL = '''
@session.tool
def get_weather(city: str) -> dict:
    """Current weather for a city."""
    return {"city": city, "temp_c": 21, "sky": "clear"}

ws = w.with_settings()
'''


def _panel_input(nb: harness.NotebookPage, label: str) -> Any:
    """The <input> of the panel control whose description is ``label``."""
    page = nb.page
    box = page.locator(".widget-inline-hbox").filter(
        has=page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    )
    box.first.wait_for(state="visible", timeout=30_000)
    return box.first.locator("input").first


@pytest.fixture(scope="class")
def scenario(
    pw: Any, lab: harness.JupyterServer, speech: dict[str, tuple[Path, Path]]
) -> Iterator[dict[str, Any]]:
    mic, _ = speech["short"]
    browser = harness.Browser(pw, lab, wav=mic)
    try:
        nb = browser.open_notebook(
            [setup_cell(silence_ms=500, extra=TOOL_CELL, display="ws")], "inspect.ipynb"
        )
        run_setup(nb)
        yield {"nb": nb, "dir": lab.root}
    finally:
        browser.close()


class TestPanelToolRecording:
    def test_a_panel_settings_apply_to_the_next_turn(self, scenario: dict[str, Any]) -> None:
        nb = scenario["nb"]
        voice = _panel_input(nb, "voice")
        voice.fill("cedar")
        voice.press("Tab")
        nb.page.get_by_text("Turn detection", exact=True).first.click()
        silence = _panel_input(nb, "silence ms")
        silence.fill("900")
        silence.press("Tab")
        nb.page.locator("button", has_text=re.compile(r"^\s*Apply\s*$")).first.click()
        # Not connected yet: the panel stores them as the session's initial settings.
        nb.wait_kernel(
            "(session.initial_session or {}).get('audio', {}).get('output', {}).get('voice')"
            " == 'cedar'",
            timeout=30,
        )
        nb.click_connect()
        wait_connected(nb)
        nb.wait_kernel("_rtw_done(1)", timeout=60)
        done = nb.kernel_json(
            "[e.payload['response'] for e in session.log.filter(type='response.done')][0]"
        )
        assert done["audio"]["output"]["voice"] == "cedar"
        td = nb.kernel_json("session.config['audio']['input']['turn_detection']")
        assert td["silence_duration_ms"] == 900
        # The server's VAD waited the panel's 900 ms of silence, not the cell's 500: in
        # the audio the server received, the last voiced 20 ms frame before the turn's
        # audio_end_ms (which includes the silence) is ~900 ms earlier.
        x = kernel_array(nb, "_rtw_conn().input_samples()", Path(scenario["dir"]) / "in.npy")
        end_ms = nb.kernel_json(
            "session.log.filter(type='input_audio_buffer.speech_stopped')[0]"
            ".payload['audio_end_ms']"
        )
        frames = x[: end_ms * 24 // 480 * 480].astype(np.float64).reshape(-1, 480)
        rms = np.sqrt((frames**2).mean(axis=1))
        voiced = np.flatnonzero(rms > 0.02 * 32768)
        assert len(voiced), "no speech in the server's input before speech_stopped"
        silence_ms = end_ms - (voiced[-1] + 1) * 20
        assert 850 <= silence_ms <= 1100, f"VAD ended the turn after {silence_ms} ms of silence"
        # The settings history shows the panel's values applied.
        rows = nb.kernel_json(
            "[r['status'] for r in session.recording.settings().to_dict('records')]"
        )
        assert "applied" in rows and "refused" not in rows

    def test_b_tool_is_called_and_its_result_spoken(self, scenario: dict[str, Any]) -> None:
        nb = scenario["nb"]
        nb.kernel_exec("w.muted = True")  # no microphone turn may interrupt this one
        nb.wait_js("() => (globalThis.__realtimeWidgets || []).length > 0")
        box = nb.page.locator(".rtw-text").first
        box.fill('call get_weather {"city": "Paris"}')
        box.press("Enter")
        nb.wait_kernel(
            "any(i.type == 'function_call_output' for i in session.conversation.items)",
            timeout=30,
        )
        nb.wait_kernel(
            "any('get_weather' in (i.text or '') and i.role == 'assistant' and i.audio_done"
            " for i in session.conversation.items)",
            timeout=60,
        )
        info = nb.kernel_json(
            "(lambda it: {'id': it.id, 'text': it.text, 'samples': it.audio_samples})("
            "[i for i in session.conversation.items"
            " if i.role == 'assistant' and 'get_weather' in (i.text or '')][-1])"
        )
        output = nb.kernel_json(
            "[i.output for i in session.conversation.items if i.type == 'function_call_output']"
        )
        assert json.loads(output[-1]) == {"city": "Paris", "temp_c": 21, "sky": "clear"}
        assert "21" in info["text"]
        # The spoken result is played in the browser, to its last sample.
        harness.poll(
            lambda: debug_state(nb)["played"].get(info["id"], 0) >= info["samples"],
            timeout=30,
            what="the browser played the tool result's reply",
        )
        # The call and its result are rows of the widget's transcript.
        tool_rows = nb.page.locator(".rtw-transcript .rtw-tool")
        harness.poll(lambda: tool_rows.count() >= 2, timeout=30, what="tool call and result rows")
        texts = [tool_rows.nth(i).inner_text() for i in range(tool_rows.count())]
        assert any("get_weather(" in t and "Paris" in t for t in texts), texts
        assert any("→" in t and "21" in t for t in texts), texts
        calls = nb.kernel_json(
            "[e.payload.get('name') for e in session.log.filter(type='tool.call')]"
        )
        assert calls == ["get_weather"]

    def test_c_saved_recording_loads_in_a_fresh_process(self, scenario: dict[str, Any]) -> None:
        nb, folder = scenario["nb"], Path(scenario["dir"])
        nb.kernel_exec("w.disconnect()")
        nb.wait_kernel("session.status == 'closed'", timeout=30)
        # Close the widget too (the browser's last playback reports are logged as widget
        # events), and wait until the log stops growing: the file and the tables below
        # must describe the same events.
        nb.kernel_exec("w.close()")
        nb.kernel_exec(
            "import time as _t\n_n = -1\n"
            "while _n != len(session.log):\n    _n = len(session.log)\n    _t.sleep(0.5)"
        )
        out = folder / "saved"
        out.mkdir(exist_ok=True)
        nb.kernel_exec(
            textwrap.dedent(
                f"""
                import json as _json, numpy as _np
                _out = {str(out)!r}
                _rec = session.recording
                session.save(_out + "/session.zip")
                _rec.turns().to_pickle(_out + "/turns.pkl")
                _rec.events.to_pickle(_out + "/events.pkl")
                _rec.usage().to_pickle(_out + "/usage.pkl")
                _np.save(_out + "/audio.npy", _rec.audio(stereo=True))
                _fig = _rec.timeline()
                with open(_out + "/plot.json", "w") as _f:
                    _json.dump([[len(a.get_lines()), len(a.collections)] for a in _fig.axes], _f)
                """
            )
        )
        played = nb.kernel_json("int(session.recording.turns()['t_first_played'].notna().sum())")
        assert played >= 2, "the turn table has no browser playback times"
        check = textwrap.dedent(
            f"""
            import json, sys
            import numpy as np
            import pandas as pd
            from pandas.testing import assert_frame_equal
            import realtime_widget

            out = {str(out)!r}
            rec = realtime_widget.load(out + "/session.zip")
            assert_frame_equal(rec.turns(), pd.read_pickle(out + "/turns.pkl"))
            assert_frame_equal(rec.events, pd.read_pickle(out + "/events.pkl"))
            assert_frame_equal(rec.usage(), pd.read_pickle(out + "/usage.pkl"))
            assert np.array_equal(rec.audio(stereo=True), np.load(out + "/audio.npy"))
            fig = rec.timeline()
            shape = [[len(a.get_lines()), len(a.collections)] for a in fig.axes]
            assert shape == json.load(open(out + "/plot.json")), shape
            assert any(i.type == "function_call" for i in rec.items)
            print("same tables, audio and plot", len(rec.log), "events")
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", check], check=False, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "same tables, audio and plot" in result.stdout
