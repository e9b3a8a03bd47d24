"""SettingsPanel against the REAL local server (loopback WebSocket): controls →
``session.update`` → ``session.updated`` → controls, validation, refusals, presets."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from realtime_widget import ConfigError, Session
from realtime_widget.server import LocalServer
from realtime_widget.widget import RealtimeWidget
from realtime_widget.widget.settings_panel import SettingsPanel, WidgetWithSettings


@pytest.fixture
async def url() -> AsyncIterator[str]:
    server = LocalServer(pace="burst")
    yield await server.start()
    await server.stop()


@pytest.fixture
async def session(url: str) -> AsyncIterator[Session]:
    s = Session(url)
    await s.connect()
    yield s
    await s.close()


@pytest.fixture
def panel(session: Session, tmp_path: Path) -> Any:
    p = SettingsPanel(session, presets_dir=tmp_path / "presets")
    yield p
    p.close()


def updates_sent(s: Session) -> list[dict[str, Any]]:
    return [r.payload["session"] for r in s.log if r.type == "session.update"]


def td(s: Session) -> dict[str, Any]:
    return dict(s.config["audio"]["input"]["turn_detection"] or {})


async def test_panel_shows_the_effective_config(session: Session, panel: SettingsPanel) -> None:
    c = panel.controls
    assert c["model"].value == session.config["model"]
    assert c["voice"].value == session.config["audio"]["output"]["voice"]
    assert c["turn_detection"].value == "server_vad"
    assert c["silence_duration_ms"].value == td(session)["silence_duration_ms"]
    assert c["max_output_tokens"].value == "inf"
    assert panel.changes() == {}
    assert panel.errors == {}


async def test_apply_round_trip_sends_only_differences(
    session: Session, panel: SettingsPanel
) -> None:
    before = len(updates_sent(session))
    panel.set(voice="cedar", silence_duration_ms=700, instructions="Be terse.", speed=1.25)
    assert set(panel.changes()) == {"voice", "turn_detection", "instructions", "speed"}
    result = await panel.apply()
    assert result.status == "applied", str(result)
    sent = updates_sent(session)[before:]
    assert len(sent) == 1
    assert set(sent[0]) == {"type", "audio", "instructions"}
    assert sent[0]["audio"]["input"]["turn_detection"]["type"] == "server_vad"  # whole unit
    assert session.config["audio"]["output"]["voice"] == "cedar"
    assert session.config["audio"]["output"]["speed"] == 1.25
    assert td(session)["silence_duration_ms"] == 700
    # Requested vs effective: only the fields the user changed, all applied.
    paths = result.by_path()
    assert set(paths) == {
        "instructions",
        "audio.output.voice",
        "audio.output.speed",
        "audio.input.turn_detection.silence_duration_ms",
    }
    assert all(f.status == "applied" for f in result.fields)
    assert "✓" in panel.results.value and "silence_duration_ms" in panel.results.value
    assert "applied 4/4" in panel.status_line.value
    assert panel.changes() == {}  # the controls now show the effective config
    # Nothing to do the second time.
    again = await panel.apply()
    assert again.status == "nothing"
    assert len(updates_sent(session)) == before + 1


async def test_apply_button_click(session: Session, panel: SettingsPanel) -> None:
    panel.controls["instructions"].value = "Clicked."
    panel.apply_button.click()
    assert panel.last_apply is not None
    result = await panel.last_apply
    assert result.status == "applied"
    assert session.config["instructions"] == "Clicked."


async def test_invalid_settings_show_messages_and_send_nothing(
    session: Session, panel: SettingsPanel
) -> None:
    before = len(updates_sent(session))
    panel.set(silence_duration_ms=-5, idle_timeout_ms="100", max_output_tokens="5000", model="")
    errors = panel.errors
    assert "integer >= 0" in errors["silence_duration_ms"]
    assert "5000..30000" in errors["idle_timeout_ms"]
    assert "1..4096" in errors["max_output_tokens"]
    assert "empty" in errors["model"]
    label = panel._error_labels["silence_duration_ms"].value
    assert "color:#c62828" in label and "silence_duration_ms" in label
    result = await panel.apply()
    assert result.status == "invalid"
    assert "not sent" in panel.status_line.value
    assert len(updates_sent(session)) == before  # nothing went out
    # A forced tool that does not exist is caught too (cross-field rule).
    panel.revert()
    assert panel.errors == {}
    panel.set(tool_choice="no_such_tool")
    assert "no function tool named 'no_such_tool'" in panel.errors["tool_choice"]
    assert (await panel.apply()).status == "invalid"
    assert len(updates_sent(session)) == before
    # Fixing the value clears the message.
    panel.set(tool_choice="required")
    assert panel.errors == {}


async def test_refused_voice_change_is_shown_with_the_server_message(
    session: Session, panel: SettingsPanel
) -> None:
    await session.send_text("make some audio")
    await session.wait_for("response.done", timeout=10)
    panel.set(voice="marin", silence_duration_ms=650)
    result = await panel.apply()
    assert result.status == "refused"
    assert result.error_code == "cannot_update_voice"
    voice = result.by_path()["audio.output.voice"]
    assert voice.status == "refused"
    assert voice.message is not None and "assistant audio" in voice.message
    silence = result.by_path()["audio.input.turn_detection.silence_duration_ms"]
    assert silence.status == "not_applied"
    assert "refused" in panel.errors["voice"] and "cannot_update_voice" in panel.errors["voice"]
    assert "cannot_update_voice" in panel.last_error
    assert "✗" in panel.results.value
    assert session.config["audio"]["output"]["voice"] != "marin"
    assert panel.controls["voice"].value == "marin"  # kept, to fix and apply again
    # Put the voice back: the rest goes through.
    panel.set(voice=session.config["audio"]["output"]["voice"])
    again = await panel.apply()
    assert again.status == "applied"
    assert td(session)["silence_duration_ms"] == 650


async def test_python_side_update_appears_in_the_panel(
    session: Session, panel: SettingsPanel
) -> None:
    threads: list[str] = []
    session.on("session.updated", lambda _e: threads.append(threading.current_thread().name))
    panel.set(speed=1.2)  # an edit not applied yet
    await session.update(instructions="From Python.", silence_duration_ms=900, voice="sage")
    assert threads == ["realtime-widget-io"]  # the panel was updated from the I/O thread
    assert session.hook_errors == [] and panel.last_error == ""
    c = panel.controls
    assert c["instructions"].value == "From Python."
    assert c["silence_duration_ms"].value == 900
    assert c["voice"].value == "sage"
    assert c["speed"].value == 1.2  # the user's pending edit is kept
    assert panel.changes() == {"speed": 1.2}
    await session.update(turn_detection=None)
    assert c["turn_detection"].value == "off"
    assert panel.visible_vad_params() == []


async def test_turn_detection_switch_shows_its_parameters(
    session: Session, panel: SettingsPanel
) -> None:
    assert panel.visible_vad_params() == [
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "idle_timeout_ms",
        "create_response",
        "interrupt_response",
    ]
    panel.set(turn_detection="semantic_vad")
    assert panel.visible_vad_params() == ["eagerness", "create_response", "interrupt_response"]
    panel.set(eagerness="high", interrupt_response=False)
    result = await panel.apply()
    assert result.status == "applied", str(result)
    assert td(session) == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": False,
    }
    panel.set(turn_detection="off")
    assert panel.visible_vad_params() == []
    assert (await panel.apply()).status == "applied"
    assert session.config["audio"]["input"]["turn_detection"] is None
    panel.set(turn_detection="server_vad")
    panel.set(silence_duration_ms=450, idle_timeout_ms="6000", threshold=0.7)
    assert (await panel.apply()).status == "applied"
    assert td(session)["silence_duration_ms"] == 450
    assert td(session)["idle_timeout_ms"] == 6000
    assert td(session)["threshold"] == pytest.approx(0.7)


async def test_input_audio_and_response_settings(session: Session, panel: SettingsPanel) -> None:
    assert panel.controls["transcription_language"].disabled  # transcription is off
    panel.set(
        transcription_model="whisper-1",
        transcription_language="en",
        noise_reduction="near_field",
        max_output_tokens="300",
        truncation="retention_ratio",
        retention_ratio=0.5,
        tool_choice="none",
        output_modality="text",
    )
    assert not panel.controls["transcription_language"].disabled
    result = await panel.apply()
    assert result.status == "applied", str(result)
    cfg = session.config
    assert cfg["audio"]["input"]["transcription"] == {"model": "whisper-1", "language": "en"}
    assert cfg["audio"]["input"]["noise_reduction"]["type"] == "near_field"
    assert cfg["max_output_tokens"] == 300
    assert cfg["truncation"] == {"type": "retention_ratio", "retention_ratio": 0.5}
    assert cfg["tool_choice"] == "none"
    assert cfg["output_modalities"] == ["text"]
    # Clearing the language sends the transcription object without it.
    panel.set(transcription_language="")
    assert (await panel.apply()).status == "applied"
    assert session.config["audio"]["input"]["transcription"] == {"model": "whisper-1"}
    panel.set(transcription_model="", noise_reduction="off", max_output_tokens="inf")
    assert (await panel.apply()).status == "applied"
    assert session.config["audio"]["input"]["transcription"] is None
    assert session.config["audio"]["input"]["noise_reduction"] is None
    assert session.config["max_output_tokens"] == "inf"


async def test_presets_round_trip(session: Session, panel: SettingsPanel, tmp_path: Path) -> None:
    panel.set(voice="coral", silence_duration_ms=800, instructions="Preset A.")
    path = panel.save_preset("calm")
    assert path == tmp_path / "presets" / "calm.json"
    data = json.loads(path.read_text())
    assert data["realtime_widget_preset"] == 1
    assert data["session"]["audio"]["output"]["voice"] == "coral"
    assert panel.presets() == ["calm"]
    assert list(panel.preset_name.options) == ["calm"]
    panel.revert()
    assert panel.controls["voice"].value != "coral"
    panel.load_preset("calm")
    assert panel.controls["voice"].value == "coral"
    assert panel.controls["silence_duration_ms"].value == 800
    assert panel.controls["instructions"].value == "Preset A."
    assert set(panel.changes()) == {"voice", "turn_detection", "instructions"}
    result = await panel.apply()
    assert result.status == "applied"
    assert session.config["audio"]["output"]["voice"] == "coral"
    # The UI buttons do the same; a missing preset shows in the error line.
    panel.preset_name.value = "nope"
    panel.load_button.click()
    assert "nope" in panel.last_error
    # Explicit paths; an invalid preset raises and changes nothing.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"realtime_widget_preset": 1, "session": {"max_output_tokens": 0}}))
    with pytest.raises(ConfigError, match="max_output_tokens"):
        panel.load_preset(bad)
    assert panel.changes() == {}
    other = tmp_path / "other.json"
    other.write_text("{}")
    with pytest.raises(ValueError, match="not a realtime_widget settings preset"):
        panel.load_preset(other)
    panel.set(silence_duration_ms=-1)
    with pytest.raises(ConfigError):
        panel.save_preset(tmp_path / "never.json")
    assert not (tmp_path / "never.json").exists()


async def test_disconnected_apply_stores_initial_settings(url: str, tmp_path: Path) -> None:
    s = Session(url)
    panel = SettingsPanel(s, presets_dir=tmp_path)
    try:
        assert "Apply stores settings" in panel.status_line.value
        panel.set(voice="cedar", silence_duration_ms=650)
        result = await panel.apply()
        assert result.status == "stored"
        assert "initial settings" in panel.status_line.value
        assert {f.path for f in result.fields} == {
            "audio.output.voice",
            "audio.input.turn_detection.type",
            "audio.input.turn_detection.threshold",
            "audio.input.turn_detection.prefix_padding_ms",
            "audio.input.turn_detection.silence_duration_ms",
            "audio.input.turn_detection.idle_timeout_ms",
            "audio.input.turn_detection.create_response",
            "audio.input.turn_detection.interrupt_response",
        }
        assert panel.changes() == {}  # the controls show the pending initial config
        assert not [r for r in s.log if r.type == "session.update"]
        await s.connect()
        assert s.config["audio"]["output"]["voice"] == "cedar"
        assert td(s)["silence_duration_ms"] == 650
        assert panel.controls["voice"].value == "cedar"
        assert panel.controls["silence_duration_ms"].value == 650
        assert panel.changes() == {}
        await s.close()
        panel.set(instructions="Next time.")
        assert (await panel.apply()).status == "stored"
    finally:
        panel.close()
        await s.close()


async def test_tools_checkboxes(session: Session, panel: SettingsPanel) -> None:
    registry = getattr(session, "tools", None)
    if registry is None or not hasattr(registry, "add"):
        pytest.skip("the session has no tool registry")

    def get_time(city: str) -> str:
        """The time in a city."""
        return "noon"

    registry.add(get_time)
    boxes = panel.tool_checkboxes
    assert list(boxes) == ["get_time"]
    assert "get_time" in panel.controls["tool_choice"].options
    await session.wait_for("session.updated", timeout=5)
    boxes["get_time"].value = False
    assert "tools" in panel.changes()
    result = await panel.apply()
    assert "get_time" not in registry.enabled
    tool_row = result.by_path()["tools.get_time"]
    assert tool_row.requested == "disabled"
    assert tool_row.status == "applied", str(result)
    assert not session.config.get("tools")
    boxes["get_time"].value = True
    panel.set(tool_choice="get_time")
    assert panel.errors == {}
    result = await panel.apply()
    assert result.status == "applied", str(result)
    assert session.config["tool_choice"] == {"type": "function", "name": "get_time"}
    assert "(on server)" in boxes["get_time"].description


async def test_widget_with_settings(session: Session, tmp_path: Path) -> None:
    widget = RealtimeWidget(session)
    try:
        both = widget.with_settings(presets_dir=tmp_path)
        assert isinstance(both, WidgetWithSettings)
        assert both.children[0] is widget and both.children[1] is both.panel
        assert both.panel.session is session
        assert widget.mode == "vad"
        both.panel.set(turn_detection="off")
        assert (await both.panel.apply()).status == "applied"
        assert widget.mode == "ptt"  # the widget follows the session's settings
        both.panel.close()
    finally:
        widget.close()
