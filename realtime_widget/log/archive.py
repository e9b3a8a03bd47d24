"""Layer 3: a recording in one file, and back (:func:`save`, :func:`load`).

The file is a zip archive (format ``realtime-widget-recording``, version
:data:`FORMAT_VERSION`; ``docs/recording-format.md`` documents it)::

    manifest.json                      format, version, library, created, connections
    connections/<n>/events.jsonl       one line per logged event, in log order
    connections/<n>/anomalies.jsonl    Conversation.anomalies as recorded
    connections/<n>/audio/input.npy    the input timeline (int16, 24 kHz mono)
    connections/<n>/audio/<k>.npy      one file per other audio track (names in the manifest)

Connections are numbered from 0, oldest first: a recording's ``history`` and
then the recording itself. :func:`load` rebuilds each connection by feeding
its logged events, in order, into a fresh
:class:`~realtime_widget.state.conversation.Conversation` (with the audio each
event carried, read back from the saved tracks) and a fresh
:class:`~realtime_widget.log.event_log.EventLog` with the same time anchor, the
way :class:`~realtime_widget.log.recorder.Recorder` did live. So every table,
array and figure of the loaded :class:`Recording` is computed again from the
same events, and equals the original's.

What is not re-derived: ``Conversation.anomalies`` is restored as saved when
re-feeding gives different ones (an undecodable base64 payload is logged
without its base64, so the message differs; a recorder bug leaves no event to
re-feed). Values that JSON cannot hold exactly (tuples, numpy scalars, non-str
dict keys in widget events or hand-made client events) come back as their JSON
equivalent. Secrets are never written: ``api_key``-like entries of ``info`` are
dropped, MCP ``authorization``/``headers`` values in session and response
settings are replaced by ``"***"``, and any occurrence of a key found in the
environment (``OPENAI_API_KEY``, ``AZURE_OPENAI_API_KEY``) is masked.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from realtime_widget.errors import RecordingFileError
from realtime_widget.protocol.audio import Int16Array
from realtime_widget.state.audio_store import INPUT_TRACK, AudioRef, AudioTrack
from realtime_widget.state.conversation import Anomaly, Conversation

from .event_log import APPEND, DELTA_TYPES, Direction, EventLog, LoggedEvent, compact_event
from .recorder import INVALID_FRAME, Recorder
from .recording import Recording

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "RecordingFileError", "load", "save"]

FORMAT_NAME = "realtime-widget-recording"
FORMAT_VERSION = 1
"""Version written by :func:`save`; :func:`load` reads versions 1 to this one."""

_log = logging.getLogger(__name__)
_MANIFEST = "manifest.json"
_DIRECTIONS = ("client", "server", "widget")
_SECRET_KEYS = frozenset(
    {"api_key", "apikey", "api-key", "key", "secret", "token", "password", "authorization"}
)
_SETTINGS_EVENTS = frozenset(
    {
        "session.update",
        "session.created",
        "session.updated",
        "response.create",
        "response.created",
        "response.done",
    }
)
_ENV_SECRETS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "XAI_API_KEY")
# Server event types the recorder keeps uncompacted (stored as rows when regular).
_ROWS = frozenset(DELTA_TYPES)


# -- save --------------------------------------------------------------------------------


def save(recording: Recording, path: str | PathLike[str]) -> Path:
    """Write ``recording`` (and its ``history``, as earlier connections) to ``path``.

    The file is written next to ``path`` and renamed into place, so a failed
    save never leaves half a file. Returns the path. For a live session, save
    once it is closed (or accept that events arriving during the save are not
    in the file).
    """
    out = Path(path)
    connections = [*recording.history, recording]
    secrets = [v for v in (os.environ.get(k) for k in _ENV_SECRETS) if v and len(v) >= 8]
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # Text members are deflated (fast level: JSON shrinks ~10 x); audio is stored
        # (PCM barely compresses, and stored members read back without inflating).
        with zipfile.ZipFile(
            tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True
        ) as zf:
            entries = [_save_connection(zf, n, rec, secrets) for n, rec in enumerate(connections)]
            from realtime_widget import __version__

            manifest = {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "library": {"name": "realtime_widget", "version": __version__},
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "connections": entries,
            }
            text = _mask(json.dumps(manifest, indent=1, default=_json_default), secrets)
            zf.writestr(_MANIFEST, text, compress_type=zipfile.ZIP_DEFLATED)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def _save_connection(
    zf: zipfile.ZipFile, n: int, recording: Recording, secrets: list[str]
) -> dict[str, Any]:
    recorder = recording.recorder
    conv = recording.conversation
    log = recording.log
    base = f"connections/{n}"
    # Snapshot sizes first: a live session may still be appending.
    anomalies = list(conv.anomalies)
    count = len(log)
    unknown_ids = {id(e) for e in conv.unknown}

    events_name = f"{base}/events.jsonl"
    with zf.open(events_name, "w", force_zip64=True) as raw, _text(raw) as f:
        for i in range(count):
            f.write(_mask(_event_line(log[i], unknown_ids), secrets))
            f.write("\n")

    anomalies_name = f"{base}/anomalies.jsonl"
    with zf.open(anomalies_name, "w") as raw, _text(raw) as f:
        for a in anomalies:
            line = [a.t, a.direction, a.type, a.event_id, a.message]
            f.write(_mask(_dumps(line), secrets))
            f.write("\n")

    input_name = f"{base}/audio/input.npy"
    input_samples = _write_track(zf, input_name, conv.input_track)
    tracks = []
    for k, (name, track) in enumerate(conv.tracks.items()):
        file = f"{base}/audio/track-{k:04d}-{_safe(name)}.npy"
        tracks.append({"name": name, "file": file, "samples": _write_track(zf, file, track)})

    info = _clean_info({**getattr(recorder, "info", {}), **recording.info})
    return {
        "index": n,
        "info": info,
        "anchor": {"monotonic": log.anchor[0], "wall": log.anchor[1]},
        "events": count,
        "events_file": events_name,
        "anomalies": len(anomalies),
        "anomalies_file": anomalies_name,
        "input": {"file": input_name, "samples": input_samples},
        "tracks": tracks,
        "formats": {"input": recorder.input_format, "output": recorder.output_format},
        "summary": {
            "items": len(conv.items),
            "turns": len(conv.turns),
            "responses": len(conv.responses),
            "errors": len(conv.errors),
            "by_direction": log.counts(),
        },
    }


def _event_line(entry: LoggedEvent, unknown_ids: set[int]) -> str:
    line: dict[str, Any] = {"direction": entry.direction, "t_kernel": entry.t_kernel}
    if entry.t_browser is not None:
        line["t_browser"] = entry.t_browser
    ref = entry.audio
    if ref is not None:
        line["audio"] = {"track": ref.track, "start": ref.start, "length": ref.length}
    payload = entry.payload
    if (
        entry.direction == "server"
        and entry.type == INVALID_FRAME
        and id(payload) not in unknown_ids
    ):
        line["fed"] = False  # the recorder's own entry for an unparsable frame
    if entry.type in _SETTINGS_EVENTS:
        payload = _mask_settings(payload)
    line["event"] = payload
    return _dumps(line)


def _write_track(zf: zipfile.ZipFile, name: str, track: AudioTrack) -> int:
    data = track.array()
    # A ZipInfo of its own: stored, not deflated (the archive's default is for text).
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    with zf.open(info, "w", force_zip64=True) as f:
        np.lib.format.write_array(f, np.ascontiguousarray(data, dtype="<i2"), allow_pickle=False)
    return len(data)


def _text(raw: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(raw, encoding="utf-8", newline="\n", write_through=False)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "_"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    return str(value)  # e.g. a datetime; a Secret gives '***'


def _jsonable(value: Any) -> Any:
    """A copy of ``value`` whose dict keys are all strings (json.dumps refuses others)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _dumps(obj: Any) -> str:
    try:
        return json.dumps(obj, separators=(",", ":"), default=_json_default)
    except TypeError:  # a non-string dict key of a type json cannot coerce
        return json.dumps(_jsonable(obj), separators=(",", ":"), default=_json_default)


def _mask(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s in text:
            text = text.replace(s, "***")
    return text


def _mask_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict.fromkeys(value, "***") if value else value
    return "***" if value else value


def _mask_tools(obj: Any) -> Any:
    """``obj`` (a session or response) with MCP credentials masked; itself if none."""
    if not isinstance(obj, Mapping):
        return obj
    tools = obj.get("tools")
    if not isinstance(tools, list) or not any(
        isinstance(t, Mapping) and ("authorization" in t or "headers" in t) for t in tools
    ):
        return obj
    masked = [
        {k: (_mask_value(v) if k in ("authorization", "headers") else v) for k, v in t.items()}
        if isinstance(t, Mapping)
        else t
        for t in tools
    ]
    return {**obj, "tools": masked}


def _mask_settings(payload: dict[str, Any]) -> dict[str, Any]:
    out = payload
    for key in ("session", "response"):
        value = payload.get(key)
        masked = _mask_tools(value)
        if masked is not value:
            out = {**out, key: masked}
    return out


def _clean_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """``info`` without secret-looking entries (recursively) and URL query strings."""
    out: dict[str, Any] = {}
    for key, given in info.items():
        name = str(key)
        value = given
        lowered = name.lower().replace("-", "_")
        if lowered in _SECRET_KEYS or lowered.endswith(("_key", "_secret", "_token")):
            continue
        if isinstance(value, Mapping):
            value = _clean_info(value)
        elif isinstance(value, str) and "://" in value and "?" in value:
            value = value.split("?", 1)[0]
        elif type(value).__name__ == "Secret":
            continue
        out[name] = value
    return out


# -- load --------------------------------------------------------------------------------


def load(path: str | PathLike[str]) -> Recording:
    """Read a file written by :func:`save`; return the last connection's :class:`Recording`.

    Its ``history`` holds the earlier connections, oldest first. Raises
    :class:`RecordingFileError` if the file is missing, is not a recording, is
    corrupt or was written by a newer format version.
    """
    src = Path(path)
    try:
        zf = zipfile.ZipFile(src)
    except FileNotFoundError:
        raise RecordingFileError(f"no such recording file: {src}") from None
    except IsADirectoryError:
        raise RecordingFileError(f"{src} is a directory, not a recording file") from None
    except zipfile.BadZipFile:
        raise RecordingFileError(
            f"{src} is not a realtime_widget recording (not a zip archive, or a truncated one)"
        ) from None
    except OSError as exc:
        raise RecordingFileError(f"cannot read {src}: {exc.strerror or exc}") from None
    with zf:
        manifest = _read_manifest(zf, src)
        recordings: list[Recording] = []
        for n, entry in enumerate(manifest["connections"]):
            try:
                recordings.append(_load_connection(zf, entry))
            except RecordingFileError as exc:
                raise RecordingFileError(f"{src}: connection {n}: {exc}") from None
            except (
                zipfile.BadZipFile,
                KeyError,
                ValueError,
                TypeError,
                IndexError,
                OSError,
                EOFError,
            ) as exc:
                raise RecordingFileError(
                    f"{src} is corrupt (connection {n}): {type(exc).__name__}: {exc}"
                ) from None
    if not recordings:
        raise RecordingFileError(f"{src} holds no connection")
    last = recordings[-1]
    last.history = recordings[:-1]
    return last


def _read_manifest(zf: zipfile.ZipFile, src: Path) -> dict[str, Any]:
    try:
        raw = zf.read(_MANIFEST)
    except KeyError:
        raise RecordingFileError(
            f"{src} is a zip archive but not a realtime_widget recording (no {_MANIFEST})"
        ) from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RecordingFileError(f"{src} is corrupt: {exc}") from None
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RecordingFileError(f"{src} is corrupt: {_MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise RecordingFileError(
            f"{src} is not a realtime_widget recording (format {found!r}, expected {FORMAT_NAME!r})"
        )
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RecordingFileError(f"{src} is corrupt: format version {version!r} is not valid")
    if version > FORMAT_VERSION:
        library = manifest.get("library")
        by = library.get("version") if isinstance(library, dict) else None
        raise RecordingFileError(
            f"{src} uses recording format version {version}"
            + (f" (written by realtime_widget {by})" if by else "")
            + f"; this realtime_widget reads versions up to {FORMAT_VERSION}: upgrade it"
        )
    if not isinstance(manifest.get("connections"), list):
        raise RecordingFileError(f"{src} is corrupt: {_MANIFEST} lists no connections")
    return manifest


def _read_array(zf: zipfile.ZipFile, name: str, samples: int) -> Int16Array:
    with zf.open(name) as f:
        data = np.lib.format.read_array(io.BytesIO(f.read()), allow_pickle=False)
    if data.dtype != np.dtype("<i2") or data.ndim != 1:
        raise RecordingFileError(f"{name}: expected 1-d int16 audio, found {data.dtype}")
    if len(data) != samples:
        raise RecordingFileError(f"{name}: {len(data)} samples, the manifest says {samples}")
    return data.astype(np.int16, copy=False)


def _lines(zf: zipfile.ZipFile, name: str) -> Iterator[tuple[int, Any]]:
    with zf.open(name) as raw, io.TextIOWrapper(raw, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except ValueError:
                    raise RecordingFileError(f"{name} line {number} is not JSON") from None


def _load_connection(zf: zipfile.ZipFile, entry: Mapping[str, Any]) -> Recording:
    anchor = entry["anchor"]
    log = EventLog(anchor=(float(anchor["monotonic"]), float(anchor["wall"])))
    conv = Conversation()
    recorder = Recorder(conv, log)
    info = dict(entry.get("info") or {})
    recorder.info = dict(info)

    inp = entry["input"]
    audio: dict[str, Int16Array] = {INPUT_TRACK: _read_array(zf, inp["file"], inp["samples"])}
    for t in entry["tracks"]:
        if t["name"] != INPUT_TRACK:  # an item called "input" is shadowed, as it was live
            audio[t["name"]] = _read_array(zf, t["file"], t["samples"])

    count = 0
    for number, line in _lines(zf, entry["events_file"]):
        try:
            _refeed(recorder, line, audio)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise RecordingFileError(
                f"{entry['events_file']} line {number}: {type(exc).__name__}: {exc}"
            ) from None
        count += 1
    if count != entry["events"]:
        raise RecordingFileError(
            f"{entry['events_file']} has {count} events, the manifest says {entry['events']}"
        )

    saved = [
        Anomaly(float(a[0]), str(a[1]), a[2], a[3], str(a[4]))
        for _, a in _lines(zf, entry["anomalies_file"])
    ]
    if saved != conv.anomalies:
        conv.anomalies[:] = saved
    return Recording(recorder, info)


def _pcm(audio: Mapping[str, Int16Array], ref: AudioRef) -> bytes:
    """The bytes a logged event carried (zero-padded if its track was later replaced)."""
    samples = audio.get(ref.track)
    chunk = b"" if samples is None else samples[ref.start : ref.start + ref.length].tobytes()
    missing = ref.length * 2 - len(chunk)
    return chunk + bytes(missing) if missing > 0 else chunk


def _refeed(recorder: Recorder, line: Mapping[str, Any], audio: Mapping[str, Int16Array]) -> None:
    """Apply one saved event as :class:`Recorder` did live: state first, then the log."""
    direction = line["direction"]
    if direction not in _DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    t = line["t_kernel"]
    if not isinstance(t, float) and not (isinstance(t, int) and not isinstance(t, bool)):
        raise TypeError(f"t_kernel is {type(t).__name__}")
    t = float(t)
    t_browser = line.get("t_browser")  # as saved: an int stays an int
    event = line["event"]
    if not isinstance(event, dict):
        raise TypeError("event is not an object")
    raw_ref = line.get("audio")
    ref = (
        None if raw_ref is None else AudioRef(raw_ref["track"], raw_ref["start"], raw_ref["length"])
    )
    pcm = None if ref is None else _pcm(audio, ref)
    conv = recorder.conversation
    type_ = event.get("type")
    new_ref: AudioRef | None = ref
    if direction == "server":
        if line.get("fed", True):
            if type_ not in _ROWS:
                event = compact_event(event)
            if type_ in ("session.created", "session.updated"):
                recorder.set_formats(event.get("session"))
            new_ref = conv.feed_server(event, t, pcm)
    elif direction == "client":
        # Live, appends skip feed_client (no event-id memory): so here.
        if type_ == APPEND:
            new_ref = conv.feed_append(event, t, pcm)
        else:
            new_ref = conv.feed_client(event, t, pcm)
    if new_ref != ref:
        # Only possible for a track replaced later (an item id created twice): the log
        # keeps the saved reference, as it did live.
        _log.debug("re-fed %s stored its audio at %s, the file says %s", type_, new_ref, ref)
    recorder.log.record(cast(Direction, direction), event, t, t_browser=t_browser, audio=ref)
