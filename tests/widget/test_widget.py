"""RealtimeWidget construction: traits, validation, keywords, lazy import, no key."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import traitlets

import realtime_widget
from realtime_widget import Session
from realtime_widget.widget import RealtimeWidget, talk
from realtime_widget.widget import widget as widget_module

CONTRACT_TRAITS = {
    "status", "target", "mode", "muted", "volume", "echo_cancellation", "noise_suppression",
    "auto_gain_control", "chunk_ms", "jitter_ms", "last_error", "mic_status", "mic_message",
    "transcript", "conversation_html", "usage",
}  # fmt: skip


@pytest.fixture
def widgets() -> Iterator[list[RealtimeWidget]]:
    made: list[RealtimeWidget] = []
    yield made
    for w in made:
        w.close()


def test_traits_are_the_contracts_and_synced(widgets: list[RealtimeWidget]) -> None:
    w = RealtimeWidget()
    widgets.append(w)
    synced = {name for name in w.keys if not name.startswith("_")}
    assert synced >= CONTRACT_TRAITS
    assert synced - CONTRACT_TRAITS <= {"layout", "tabbable", "tooltip"}  # DOMWidget's own
    assert (w.status, w.mode, w.chunk_ms, w.jitter_ms, w.volume) == (
        "disconnected", "vad", 20, 100, 1.0)  # fmt: skip
    assert w.target == "local server"
    assert w.transcript == [] and w.conversation_html == "" and w.usage == {}


def test_outside_a_kernel_the_comm_is_a_dummy(widgets: list[RealtimeWidget]) -> None:
    w = RealtimeWidget()
    widgets.append(w)
    assert type(w.comm).__name__ == "DummyComm"
    w.send({"type": "ping"}, [b"\0\0"])  # no kernel: a no-op, not an error


@pytest.mark.parametrize(
    ("name", "bad"),
    [("chunk_ms", 19), ("chunk_ms", 41), ("jitter_ms", 59), ("jitter_ms", 121),
     ("volume", -0.1), ("volume", 1.5), ("mode", "auto"), ("status", "talking"),
     ("mic_status", "maybe")],
)  # fmt: skip
def test_trait_validation(widgets: list[RealtimeWidget], name: str, bad: Any) -> None:
    w = RealtimeWidget()
    widgets.append(w)
    with pytest.raises(traitlets.TraitError):
        setattr(w, name, bad)
    with pytest.raises(traitlets.TraitError):
        widgets.append(RealtimeWidget(**{name: bad}) if name in widget_module.WIDGET_OPTIONS
                       else RealtimeWidget(chunk_ms=99))  # fmt: skip


def test_options_are_applied(widgets: list[RealtimeWidget]) -> None:
    w = RealtimeWidget(mode="ptt", volume=0.5, chunk_ms=40, jitter_ms=60, muted=True,
                       echo_cancellation=False)  # fmt: skip
    widgets.append(w)
    assert (w.mode, w.volume, w.chunk_ms, w.jitter_ms, w.muted, w.echo_cancellation) == (
        "ptt", 0.5, 40, 60, True, False)  # fmt: skip


def test_unknown_keywords_name_close_matches(widgets: list[RealtimeWidget]) -> None:
    with pytest.raises(TypeError, match="'jitter_ms'"):
        RealtimeWidget(jiter_ms=80)
    with pytest.raises(TypeError, match="'voice'"):
        RealtimeWidget(voise="marin")
    with pytest.raises(TypeError, match=r"session\.update"):
        RealtimeWidget(Session("local"), voice="marin")
    with pytest.raises(TypeError, match="'volume'"):
        talk(volum=0.3)
    with pytest.raises(TypeError, match="Session"):
        RealtimeWidget("local")  # type: ignore[arg-type]


def test_session_settings_and_mode_from_them(widgets: list[RealtimeWidget]) -> None:
    w = RealtimeWidget(turn_detection=None, instructions="Be brief.",
                       server_options={"pace": "burst"})  # fmt: skip
    widgets.append(w)
    assert w.mode == "ptt"  # manual turns asked for: push-to-talk
    assert w.session.auto_truncate is False  # the widget truncates with the browser's count
    assert w.session.playback_position is not None


def test_a_given_session_without_turn_detection_starts_in_push_to_talk(
    widgets: list[RealtimeWidget],
) -> None:
    """Before connecting, the settings are in ``initial_session`` (``config`` is empty):
    the widget read only ``config``, started in VAD mode, and appended the mic chunks
    sent before the server's ``session.updated`` switched it (found in Firefox)."""
    s = Session("local", turn_detection=None, server_options={"pace": "burst"})
    assert s.config == {}
    w = RealtimeWidget(s)
    widgets.append(w)
    assert w.mode == "ptt"
    w2 = RealtimeWidget(Session("local", server_options={"pace": "burst"}))
    widgets.append(w2)
    assert w2.mode == "vad"


def test_talk_builds_a_session_for_the_target(widgets: list[RealtimeWidget]) -> None:
    w = talk(instructions="Hi.", volume=0.25, model="gpt-realtime-local")
    widgets.append(w)
    assert isinstance(w, RealtimeWidget) and isinstance(w.session, Session)
    assert w.volume == 0.25
    w2 = talk("ws://127.0.0.1:9/v1/realtime", mode="ptt")
    widgets.append(w2)
    assert w2.mode == "ptt"
    assert w2.target == ""  # the URL is shown once the session resolved it


def test_given_session_is_not_closed_with_the_widget() -> None:
    s = Session("local")
    w = RealtimeWidget(s)
    assert w.session is s
    assert s.auto_truncate is False
    w.close()
    deadline = time.monotonic() + 5
    while s.playback_position is not None and time.monotonic() < deadline:
        time.sleep(0.01)  # detach runs on the I/O loop
    # (A tuple: mypy narrowed auto_truncate to False above.)
    assert (s.playback_position, s.auto_truncate) == (None, True)  # its own barge-in is back
    assert s.status == "new"  # not the widget's to close


def test_key_is_in_no_trait_or_repr(widgets: list[RealtimeWidget]) -> None:
    key = "sk-test-abcdefghijklmnop0123"
    w = RealtimeWidget(Session("openai", api_key=key))
    widgets.append(w)
    assert key not in json.dumps(w.get_state(), default=str)
    assert key not in repr(w)
    assert key not in json.dumps(w._repr_mimebundle_(), default=str)
    assert w.target == "openai"


def test_package_import_is_cheap_and_lazy() -> None:
    code = (
        "import sys, realtime_widget;"
        "before = 'anywidget' in sys.modules;"
        "realtime_widget.RealtimeWidget;"
        "print(before, 'anywidget' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
    assert realtime_widget.talk is talk


def test_missing_bundle_falls_back_to_a_placeholder() -> None:
    code = (
        "import pathlib;"
        "real = pathlib.Path.is_file;"
        "pathlib.Path.is_file = lambda self: False if self.name == 'widget.js' else real(self);"
        "from realtime_widget.widget import widget as m;"
        "w = m.RealtimeWidget();"
        "print(w._esm == m._PLACEHOLDER_ESM, 'not built' in w._esm)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_bundle_is_used_when_built(widgets: list[RealtimeWidget]) -> None:
    path = widget_module._ESM_PATH
    if not path.is_file():
        pytest.skip("the front end is not built")
    w = RealtimeWidget()
    widgets.append(w)
    assert w._esm == path.read_text(encoding="utf-8")


def test_relay_writes_can_wait_for_a_later_sync(
    widgets: list[RealtimeWidget], monkeypatch: pytest.MonkeyPatch
) -> None:
    """durable.py: the transcript's Python value is current at once; the page gets the
    whole list only with a later sync (one message, even for an unchanged value)."""
    w = RealtimeWidget()
    widgets.append(w)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(w, "_send", lambda msg, buffers=None: sent.append(msg))
    rows = [{"item_id": "u1", "role": "user", "text": "hi", "unheard": "", "status": "completed"}]
    w._set_from_relay({"transcript": rows}, sync=False)
    assert w.transcript == rows and sent == []
    w.status = "listening"  # any other write still syncs by itself
    assert [m["state"] for m in sent] == [{"status": "listening"}]
    w._set_from_relay({"transcript": rows, "conversation_html": "<div>hi</div>"})
    assert len(sent) == 2 and sent[-1]["method"] == "update"
    assert sent[-1]["state"] == {"transcript": rows, "conversation_html": "<div>hi</div>"}
    w.transcript = []  # a user's own write syncs as before
    assert sent[-1]["state"] == {"transcript": []}
