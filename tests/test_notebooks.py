"""The shipped notebooks run top to bottom against the local server (no key, no network)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


EXPECTED = {
    "quickstart.ipynb": ["assistant:", "speech_end_to_first_audio_ms", "<Recording "],
    "inspect_events.ipynb": [
        "refused: [invalid_request_error / cannot_update_voice]",
        "item_delete_invalid_item_id",
        "speech_end_to_first_audio_ms",
        "cost_usd",
        "✗ audio.output.voice",
        "latency_ms_replay",
    ],
    "settings_playground.ipynb": [
        "✓ audio.input.turn_detection.silence_duration_ms = 900",
        "out of range: 100 (allowed: integer 5000..30000)",
        "session.update events sent meanwhile: 0",
        "silence_duration_ms in effect: 900",
        "refused: Cannot update a conversation's voice",
        "session.update refused: [invalid_request_error / cannot_update_voice]",
        "parameters shown: ['eagerness', 'create_response', 'interrupt_response']",
        "loaded; would send: ['speed', 'turn_detection']",
    ],
    "tools.ipynb": [
        '"enum": [',
        "server tools: ['get_weather', 'city_population']",
        'The get_weather tool returned: {"city": "Oslo", "temperature": 48',
        "The city_population tool returned: 2100000.",
        "tool.result  get_weather",
        '[get_weather({"city": "Oslo", "unit": "F"})]',
        "server tools: ['city_population'] | tool_choice: auto",
        'float division by zero", "type": "ZeroDivisionError"',
        "'InvalidArguments'",
        "tools called: get_weather, city_population, divide",
        "conversation items: 22 -> 22",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs(name: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # Run in a copy of the folder: the notebooks write files (saved sessions) beside them.
    shutil.copytree(NOTEBOOKS, tmp_path / "nb")
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path / "nb")}},
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            texts.append("".join(out.get("data", {}).get("text/plain", "")))
            texts.append("".join(out.get("data", {}).get("text/html", "")))
    text = "\n".join(texts)
    for expected in EXPECTED[name]:
        assert expected in text, expected
    # Plots are images, not a bare repr.
    images = [
        out
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert images
