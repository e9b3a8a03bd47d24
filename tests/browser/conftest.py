"""Fixtures for the real-browser tests: one JupyterLab per module, Playwright, test speech.

Everything heavy is module-scoped (one Lab server, one Playwright driver per module);
each scenario launches its own Chromium (a few hundred ms) because the fake
microphone's WAV is a launch flag. On a failure every open page is screenshotted and
the console log and the Jupyter server log are saved; the directory is printed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import audio, harness

ARTIFACTS = Path(tempfile.gettempdir()) / "rtw-browser-artifacts"


def _skip_reason() -> str | None:
    return harness.missing_prerequisites() or audio.tools_missing()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="module")
def pw() -> Iterator[Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with harness.playwright_sync() as p:
        yield p


@pytest.fixture(scope="module")
def lab(pw: Any) -> Iterator[harness.JupyterServer]:
    server = harness.JupyterServer(app="lab").start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Fake-mic WAVs (48 kHz) and their 24 kHz references.

    * ``short``: 0.5 s silence, ~2.3 s of speech, 6 s silence: one clean turn per loop,
      the echo reply ends long before the loop speaks again.
    * ``long_quiet``: ~7.6 s of speech then 12 s silence: a long reply nobody interrupts.
    * ``long_barge``: the same speech with 1.2 s silence: the loop speaks again while
      the ~7.6 s echo reply plays (barge-in).
    """
    reason = audio.tools_missing()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("speech")
    return {
        "short": audio.make_speech(d, "short", audio.SHORT_TEXT, lead_s=0.5, tail_s=6.0),
        "long_quiet": audio.make_speech(d, "long_quiet", audio.LONG_TEXT, lead_s=0.5, tail_s=12.0),
        "long_barge": audio.make_speech(d, "long_barge", audio.LONG_TEXT, lead_s=0.5, tail_s=1.2),
    }


def _failed(request: pytest.FixtureRequest) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return bool(rep is not None and rep.failed)


def save_artifacts(request: pytest.FixtureRequest, browsers: list[harness.Browser]) -> None:
    for i, browser in enumerate(browsers):
        browser.artifacts = ARTIFACTS
        out = browser.save_artifacts(f"{request.node.name}-{i}")
        print(f"\n[browser artifacts] {out}")


@pytest.fixture
def launch(request: pytest.FixtureRequest, pw: Any) -> Iterator[Any]:
    """``launch(wav=..., fake_ui=True, ...) -> Browser``; closed after the test
    (screenshots, console and server log saved first if the test failed)."""
    made: list[harness.Browser] = []

    def make(server: harness.JupyterServer | None = None, **kw: Any) -> harness.Browser:
        b = harness.Browser(pw, server or request.getfixturevalue("lab"), **kw)
        made.append(b)
        return b

    yield make
    if _failed(request):
        save_artifacts(request, made)
    for b in made:
        b.close()


@pytest.fixture(autouse=True)
def _artifacts_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Module-scoped scenarios keep their browser open across tests: save those too."""
    yield
    if _failed(request):
        save_artifacts(request, list(harness.LIVE_BROWSERS))
