"""The GA Realtime session-config model: validation, friendly settings, merge, diff.

Pure: no I/O. Configs are plain ``dict`` objects shaped exactly like the GA
``session`` object of ``session.update`` (see reference/realtime-protocol.md
§1.5): ``type``, ``model``, ``instructions``, ``output_modalities``, nested
``audio.input{format, transcription, noise_reduction, turn_detection}`` and
``audio.output{format, voice, speed}``, ``tools``, ``tool_choice``,
``max_output_tokens``, ``truncation``, ``tracing``, ``prompt``, ``reasoning``,
``parallel_tool_calls``, ``include``.

The model, in five functions:

* :func:`validate_session` checks a (possibly partial) session against a small
  table-driven schema (the ``_SESSION`` tree below) and returns a deep copy. A
  bad value raises :class:`~realtime_widget.errors.ConfigError` whose ``param``
  is the dotted path (``audio.input.turn_detection.threshold``, ``tools[2].name``)
  and whose ``allowed`` names the accepted values or range. Beta-shaped fields
  (``voice``, ``modalities``, ``input_audio_format``, ``temperature``...) are
  errors that say where the field lives in GA. Fields the model does not know
  pass through untouched (forward compatibility); :func:`unknown_fields` lists
  them so a caller can warn. Model and voice names are never rejected by name.
* :func:`settings_to_session` turns the keyword form of the public API
  (``voice="marin", silence_duration_ms=500, transcription="gpt-4o-mini-transcribe"``)
  into a validated GA partial session. Unknown keywords raise ``TypeError``.
* :func:`merge_session` applies a partial update to a full config the way the
  server does; :func:`default_session` gives what a real server reports in
  ``session.created``.
* :func:`diff_config` compares what was requested with what the server holds
  after ``session.updated``; :func:`format_diff` renders that for a human.

Numbers: booleans are never numbers; integer fields accept integral floats
(``500.0`` becomes ``500``); numpy scalars become Python numbers in the copy.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from realtime_widget.errors import ConfigError

__all__ = [
    "DEFAULT_SESSION",
    "KNOWN_MODELS",
    "KNOWN_VOICES",
    "READ_ONLY_FIELDS",
    "SETTINGS_KEYS",
    "TRANSCRIPTION_MODELS",
    "ChangeStatus",
    "ConfigChange",
    "default_session",
    "diff_config",
    "format_diff",
    "merge_session",
    "settings_to_session",
    "unknown_fields",
    "unknown_keyword_hints",
    "unknown_response_fields",
    "validate_response_params",
    "validate_session",
]

KNOWN_VOICES: tuple[str, ...] = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
"""Built-in voices (informative: any string or ``{"id": "voice_..."}`` is accepted)."""

KNOWN_MODELS: tuple[str, ...] = (
    "gpt-realtime-2.1",
    "gpt-realtime-2.1-mini",
    "gpt-realtime-2",
    "gpt-realtime-1.5",
    "gpt-realtime",
    "gpt-realtime-mini",
    "gpt-realtime-2025-08-28",
    "gpt-realtime-mini-2025-10-06",
    "gpt-realtime-mini-2025-12-15",
    "gpt-audio-1.5",
    "gpt-audio-mini",
    "gpt-audio-mini-2025-10-06",
    "gpt-audio-mini-2025-12-15",
    "gpt-4o-realtime-preview",
    "gpt-4o-realtime-preview-2024-10-01",
    "gpt-4o-realtime-preview-2024-12-17",
    "gpt-4o-realtime-preview-2025-06-03",
    "gpt-4o-mini-realtime-preview",
    "gpt-4o-mini-realtime-preview-2024-12-17",
)
"""Realtime models listed by the openai SDK 3.54 (informative only)."""

TRANSCRIPTION_MODELS: tuple[str, ...] = (
    "gpt-transcribe",
    "gpt-live-transcribe",
    "gpt-realtime-whisper",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-4o-mini-transcribe-2025-12-15",
    "gpt-4o-transcribe-diarize",
    "whisper-1",
)
"""Input-transcription models listed by the openai SDK 3.54 (informative only)."""

READ_ONLY_FIELDS: tuple[str, ...] = ("id", "object", "expires_at")
"""Top-level fields the server reports in ``session.created``/``updated``.

They are accepted by :func:`validate_session` (so a server config validates)
but a client should not send them in ``session.update``.
"""

_MISSING: Any = object()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _plain(value: Any) -> Any:
    """Deep copy with Mappings as dicts and tuples as lists (JSON-shaped)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


class _KindError(ConfigError):
    """The value has the wrong JSON kind (a string for an object...).

    Internal: public functions re-raise it as a plain :class:`ConfigError`.
    """

    def __init__(self, param: str, message: str, allowed: Sequence[Any] | str | None = None):
        super().__init__(param, message, allowed)
        self.message = message


def _clean(spec: _Spec, value: Any) -> Any:
    try:
        return spec.clean(value, "")
    except _KindError as exc:
        raise ConfigError(exc.param, exc.message, exc.allowed) from None


# ---------------------------------------------------------------------------
# Schema nodes. Each validates a value at a dotted path and returns a cleaned
# deep copy (``clean``), or lists the paths it does not know (``unknown``).
# ---------------------------------------------------------------------------


class _Spec:
    describe = "a value"

    def clean(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def unknown(self, value: Any, path: str) -> list[str]:
        return []


class _Any(_Spec):
    """Opaque: anything, copied as is, never reported as unknown."""

    def __init__(self, describe: str = "any value") -> None:
        self.describe = describe

    def clean(self, value: Any, path: str) -> Any:
        return _plain(value)


class _Str(_Spec):
    def __init__(self, *, empty: bool = True) -> None:
        self.empty = empty
        self.describe = "a string" if empty else "a non-empty string"

    def clean(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise _KindError(path, f"must be a string, got {_kind(value)}", self.describe)
        if not self.empty and not value:
            raise ConfigError(path, "must not be empty", self.describe)
        return value


class _Bool(_Spec):
    describe = "true or false"

    def clean(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise _KindError(path, f"must be a boolean, got {_kind(value)}", (True, False))
        return value


class _Num(_Spec):
    """A number (never a bool) in ``[lo, hi]``; ``integer`` wants a whole number."""

    def __init__(
        self, lo: float | None = None, hi: float | None = None, *, integer: bool = False
    ) -> None:
        self.lo, self.hi, self.integer = lo, hi, integer
        what = "integer" if integer else "number"
        if lo is not None and hi is not None:
            self.describe = f"{what} {_fmt_num(lo)}..{_fmt_num(hi)}"
        elif lo is not None:
            self.describe = f"{what} >= {_fmt_num(lo)}"
        else:
            self.describe = f"any {what}"

    def clean(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _KindError(path, f"must be a number, got {_kind(value)}", self.describe)
        number: int | float
        if isinstance(value, numbers.Integral):
            number = int(value)
        else:
            number = float(value)
            if not math.isfinite(number):
                raise ConfigError(path, f"must be finite, got {number!r}", self.describe)
            if self.integer:
                if not number.is_integer():
                    raise ConfigError(path, f"must be an integer, got {number!r}", self.describe)
                number = int(number)
        if (self.lo is not None and number < self.lo) or (self.hi is not None and number > self.hi):
            raise ConfigError(path, f"out of range: {number!r}", self.describe)
        return number


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class _Enum(_Spec):
    def __init__(self, *values: Any) -> None:
        self.values = values
        self.describe = " | ".join(repr(v) for v in values)

    def clean(self, value: Any, path: str) -> Any:
        for allowed in self.values:
            if type(value) is type(allowed) and value == allowed:
                return value
        raise ConfigError(path, f"unknown value {value!r}", self.values)


class _Nullable(_Spec):
    def __init__(self, inner: _Spec) -> None:
        self.inner = inner
        self.describe = f"null or {inner.describe}"

    def clean(self, value: Any, path: str) -> Any:
        if value is None:
            return None
        try:
            return self.inner.clean(value, path)
        except _KindError as exc:
            if exc.param != path:
                raise
            raise _KindError(path, f"has the wrong type ({_kind(value)})", self.describe) from None

    def unknown(self, value: Any, path: str) -> list[str]:
        return [] if value is None else self.inner.unknown(value, path)


class _ListOf(_Spec):
    def __init__(self, item: _Spec) -> None:
        self.item = item
        self.describe = f"a list (items: {item.describe})"

    def clean(self, value: Any, path: str) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _KindError(path, f"must be a list, got {_kind(value)}", self.describe)
        return [self.item.clean(v, f"{path}[{i}]") for i, v in enumerate(value)]

    def unknown(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, (list, tuple)):
            return []
        return [u for i, v in enumerate(value) for u in self.item.unknown(v, f"{path}[{i}]")]


class _MapOf(_Spec):
    """An object with free string keys, each value checked by ``value``."""

    def __init__(self, value: _Spec) -> None:
        self.value = value
        self.describe = f"an object of {value.describe}"

    def clean(self, value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise _KindError(path, f"must be an object, got {_kind(value)}", self.describe)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(path, f"keys must be strings, got {k!r}", self.describe)
            out[k] = self.value.clean(v, _join(path, k))
        return out


class _ByKind(_Spec):
    """Dispatch on the JSON kind of the value (string, number, object, null)."""

    def __init__(
        self,
        *,
        string: _Spec | None = None,
        number: _Spec | None = None,
        obj: _Spec | None = None,
        null: bool = False,
    ) -> None:
        self.string, self.number, self.obj, self.null = string, number, obj, null
        parts = [s.describe for s in (string, number, obj) if s is not None]
        if null:
            parts.insert(0, "null")
        self.describe = " or ".join(parts)

    def _pick(self, value: Any) -> _Spec | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, str):
            return self.string
        if isinstance(value, numbers.Real):
            return self.number
        if isinstance(value, Mapping):
            return self.obj
        return None

    def clean(self, value: Any, path: str) -> Any:
        if value is None and self.null:
            return None
        spec = self._pick(value)
        if spec is None:
            raise _KindError(path, f"has the wrong type ({_kind(value)})", self.describe)
        return spec.clean(value, path)

    def unknown(self, value: Any, path: str) -> list[str]:
        spec = self._pick(value)
        return [] if spec is None else spec.unknown(value, path)


@dataclass(frozen=True)
class _Forbidden:
    """A field that is known but not allowed here: ``message`` says why/where."""

    message: str
    allowed: Sequence[Any] | str | None = None


class _Obj(_Spec):
    """An object with known fields. Unknown fields pass through (copied).

    ``forbid`` names fields that are errors here (beta names, fields of another
    variant, realtime-only fields in a transcription session). ``open`` objects
    (MCP tools) never report unknown fields.
    """

    def __init__(
        self,
        fields: Mapping[str, _Spec],
        *,
        required: Iterable[str] = (),
        forbid: Mapping[str, _Forbidden] | None = None,
        open_: bool = False,
        describe: str = "an object",
    ) -> None:
        self.fields = dict(fields)
        self.required = tuple(required)
        self.forbid = dict(forbid or {})
        self.open = open_
        self.describe = describe

    def clean(self, value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise _KindError(path, f"must be an object, got {_kind(value)}", self.describe)
        for key in value:
            bad = self.forbid.get(key)
            if bad is not None:
                raise ConfigError(_join(path, key), bad.message, bad.allowed)
        for key in self.required:
            if key not in value:
                raise ConfigError(_join(path, key), "is required", self.fields[key].describe)
        out: dict[str, Any] = {}
        for key, v in value.items():
            spec = self.fields.get(key)
            out[key] = _plain(v) if spec is None else spec.clean(v, _join(path, key))
        return out

    def unknown(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, Mapping) or self.open:
            return []
        found: list[str] = []
        for key, v in value.items():
            spec = self.fields.get(key)
            if spec is None:
                found.append(_join(path, str(key)))
            else:
                found.extend(spec.unknown(v, _join(path, key)))
        return found


class _Tagged(_Spec):
    """An object discriminated by ``type``; each variant is an :class:`_Obj`.

    A field that belongs to another variant only is an error naming the
    variant(s) that allow it (``threshold`` on ``semantic_vad``).
    """

    def __init__(self, what: str, variants: Mapping[str, _Obj]) -> None:
        self.what = what
        self.variants: dict[str, _Obj] = {}
        for tag, obj in variants.items():
            fields: dict[str, _Spec] = {"type": _Enum(tag), **obj.fields}
            self.variants[tag] = _Obj(
                fields,
                required=("type", *obj.required),
                forbid=obj.forbid,
                open_=obj.open,
                describe=f"{{type: {tag!r}, ...}}",
            )
        self.describe = f"{what} object ({' | '.join(repr(t) for t in self.variants)})"

    def _variant(self, value: Any, path: str) -> tuple[str, _Obj]:
        if not isinstance(value, Mapping):
            raise _KindError(path, f"must be an object, got {_kind(value)}", self.describe)
        if "type" not in value:
            raise ConfigError(_join(path, "type"), "is required", tuple(self.variants))
        tag = value["type"]
        obj = self.variants.get(tag) if isinstance(tag, str) else None
        if obj is None:
            raise ConfigError(
                _join(path, "type"), f"unknown {self.what} type {tag!r}", tuple(self.variants)
            )
        return tag, obj

    def clean(self, value: Any, path: str) -> Any:
        tag, obj = self._variant(value, path)
        if not obj.open:
            for key in value:
                if key in obj.fields or key in obj.forbid:
                    continue
                owners = [t for t, o in self.variants.items() if key in o.fields]
                if owners:
                    raise ConfigError(
                        _join(path, key),
                        f"`{key}` is not valid for {tag} {self.what}; only "
                        f"{' / '.join(owners)} allows it",
                        tuple(k for k in obj.fields if k != "type"),
                    )
        return obj.clean(value, path)

    def unknown(self, value: Any, path: str) -> list[str]:
        try:
            _, obj = self._variant(value, path)
        except ConfigError:
            return []
        return obj.unknown(value, path)


# -- special nodes --------------------------------------------------------------


class _Modalities(_Spec):
    describe = "['audio'] or ['text']"
    _ALLOWED = (["audio"], ["text"])

    def clean(self, value: Any, path: str) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _KindError(path, f"must be a list, got {_kind(value)}", self._ALLOWED)
        if not value:
            raise ConfigError(path, "must not be empty", self._ALLOWED)
        for i, v in enumerate(value):
            if v not in ("audio", "text") or not isinstance(v, str):
                raise ConfigError(f"{path}[{i}]", f"unknown modality {v!r}", ("audio", "text"))
        if len(value) != 1:
            raise ConfigError(
                path,
                f"{list(value)!r}: GA accepts exactly one modality, not both "
                "(['audio'] = audio plus transcript)",
                self._ALLOWED,
            )
        return list(value)


class _Metadata(_Spec):
    describe = "an object of at most 16 string pairs (keys <= 64 chars, values <= 512)"

    def clean(self, value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise _KindError(path, f"must be an object, got {_kind(value)}", self.describe)
        if len(value) > 16:
            raise ConfigError(path, f"has {len(value)} pairs, at most 16", self.describe)
        for k, v in value.items():
            if not isinstance(k, str) or len(k) > 64:
                raise ConfigError(path, f"key {k!r} must be a string of <= 64 chars", self.describe)
            if not isinstance(v, str) or len(v) > 512:
                raise ConfigError(
                    _join(path, k), "value must be a string of <= 512 chars", self.describe
                )
        return dict(value)


_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class _ToolName(_Spec):
    describe = "1-64 characters of a-z, A-Z, 0-9, _ and -"

    def clean(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise _KindError(path, f"must be a string, got {_kind(value)}", self.describe)
        if not _TOOL_NAME.fullmatch(value):
            raise ConfigError(path, f"invalid tool name {value!r}", self.describe)
        return value


class _Parameters(_Spec):
    """A function's JSON Schema: an object schema (``type: "object"``)."""

    describe = 'a JSON Schema object like {"type": "object", "properties": {...}}'

    def clean(self, value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise _KindError(path, f"must be a JSON Schema object, got {_kind(value)}", "object")
        if value.get("type") != "object":
            raise ConfigError(
                _join(path, "type"),
                f"a function's parameters schema must have type 'object', got "
                f"{value.get('type', '(missing)')!r}",
                ("object",),
            )
        props = value.get("properties", {})
        if not isinstance(props, Mapping):
            raise ConfigError(_join(path, "properties"), "must be an object", "an object")
        req = value.get("required", [])
        if not isinstance(req, (list, tuple)) or not all(isinstance(r, str) for r in req):
            raise ConfigError(_join(path, "required"), "must be a list of strings", "list of str")
        return _plain(value)


def _tool_key(tool: Any) -> str | None:
    """The identity of a tool: function ``name`` or MCP ``server_label``."""
    if not isinstance(tool, Mapping):
        return None
    if tool.get("type") == "mcp":
        label = tool.get("server_label")
        return f"mcp:{label}" if isinstance(label, str) else None
    name = tool.get("name")
    return name if isinstance(name, str) else None


class _Tools(_ListOf):
    def clean(self, value: Any, path: str) -> Any:
        tools: list[Any] = super().clean(value, path)
        seen: dict[str, int] = {}
        for i, tool in enumerate(tools):
            key = _tool_key(tool)
            if key is None:
                continue
            if key in seen:
                field = "server_label" if key.startswith("mcp:") else "name"
                raise ConfigError(
                    f"{path}[{i}].{field}",
                    f"duplicate tool {field} {tool[field]!r} (also {path}[{seen[key]}])",
                    "unique names",
                )
            seen[key] = i
        return tools


# -- the tables -------------------------------------------------------------------

_FORMAT = _Tagged(
    "audio format",
    {
        "audio/pcm": _Obj({"rate": _Enum(24000)}),
        "audio/pcmu": _Obj({}),
        "audio/pcma": _Obj({}),
    },
)

_TRANSCRIPTION = _Obj(
    {
        "model": _Str(empty=False),
        "language": _Str(),
        "prompt": _Str(),
        "languages": _ListOf(_Str()),
        "keywords": _ListOf(_Str()),
        "delay": _Enum("minimal", "low", "medium", "high", "xhigh"),
    },
    required=("model",),
    describe="{model, language?, prompt?, languages?, keywords?, delay?}",
)

_NOISE_REDUCTION = _Obj(
    {"type": _Enum("near_field", "far_field"), "strength": _Num(0, 1)},
    required=("type",),
    describe="{type: 'near_field' | 'far_field', strength?}",
)

_VAD_COMMON: dict[str, _Spec] = {"create_response": _Bool(), "interrupt_response": _Bool()}

_TURN_DETECTION = _Tagged(
    "turn detection",
    {
        "server_vad": _Obj(
            {
                "threshold": _Num(0, 1),
                "prefix_padding_ms": _Num(0, integer=True),
                "silence_duration_ms": _Num(0, integer=True),
                "idle_timeout_ms": _Nullable(_Num(5000, 30000, integer=True)),
                **_VAD_COMMON,
            }
        ),
        "semantic_vad": _Obj({"eagerness": _Enum("low", "medium", "high", "auto"), **_VAD_COMMON}),
    },
)

_AUDIO_INPUT = _Obj(
    {
        "format": _FORMAT,
        "transcription": _Nullable(_TRANSCRIPTION),
        "noise_reduction": _Nullable(_NOISE_REDUCTION),
        "turn_detection": _Nullable(_TURN_DETECTION),
    },
    describe="{format?, transcription?, noise_reduction?, turn_detection?}",
)

_VOICE = _ByKind(
    string=_Str(empty=False),
    obj=_Obj({"id": _Str(empty=False)}, required=("id",), describe="{id: 'voice_...'}"),
)

_AUDIO_OUTPUT = _Obj(
    {"format": _FORMAT, "voice": _VOICE, "speed": _Num(0.25, 1.5)},
    describe="{format?, voice?, speed?}",
)

_TOOL = _Tagged(
    "tool",
    {
        "function": _Obj(
            {"name": _ToolName(), "description": _Str(), "parameters": _Parameters()},
            required=("name",),
        ),
        "mcp": _Obj({"server_label": _Str(empty=False)}, required=("server_label",), open_=True),
    },
)

_TOOLS = _Tools(_TOOL)

_TOOL_CHOICE = _ByKind(
    string=_Enum("auto", "none", "required"),
    obj=_Tagged(
        "tool choice",
        {
            "function": _Obj({"name": _Str(empty=False)}, required=("name",)),
            "mcp": _Obj(
                {"server_label": _Str(empty=False), "name": _Str(empty=False)},
                required=("server_label",),
            ),
        },
    ),
)

_MAX_OUTPUT_TOKENS = _ByKind(number=_Num(1, 4096, integer=True), string=_Enum("inf"))

_TRUNCATION = _ByKind(
    string=_Enum("auto", "disabled"),
    obj=_Tagged(
        "truncation",
        {
            "retention_ratio": _Obj(
                {
                    "retention_ratio": _Num(0, 1),
                    "token_limits": _Obj({"post_instructions": _Num(1, integer=True)}),
                },
                required=("retention_ratio",),
            )
        },
    ),
)

_TRACING = _ByKind(
    null=True,
    string=_Enum("auto"),
    obj=_Obj(
        {"workflow_name": _Str(), "group_id": _Str(), "metadata": _Any("an object")},
        describe="{workflow_name?, group_id?, metadata?}",
    ),
)

_REASONING = _Nullable(
    _Obj(
        {"effort": _Enum("minimal", "low", "medium", "high", "xhigh")},
        describe="{effort: 'minimal' | 'low' | 'medium' | 'high' | 'xhigh'}",
    )
)

_PROMPT = _Nullable(
    _Obj(
        {
            "id": _Str(empty=False),
            "version": _Str(),
            "variables": _MapOf(_ByKind(string=_Str(), obj=_Any("an input object"))),
        },
        required=("id",),
        describe="{id, version?, variables?}",
    )
)

_INCLUDE = _Nullable(_ListOf(_Str(empty=False)))

_BETA_SESSION_FIELDS: dict[str, _Forbidden] = {
    "voice": _Forbidden("`voice` is beta-shaped; in GA it is audio.output.voice"),
    "speed": _Forbidden("`speed` is beta-shaped; in GA it is audio.output.speed"),
    "modalities": _Forbidden(
        "`modalities` is beta-shaped; in GA it is output_modalities (['audio'] or ['text'])"
    ),
    "input_audio_format": _Forbidden(
        "`input_audio_format` is beta-shaped; in GA it is audio.input.format "
        "({'type': 'audio/pcm', 'rate': 24000}, {'type': 'audio/pcmu'} or {'type': 'audio/pcma'})"
    ),
    "output_audio_format": _Forbidden(
        "`output_audio_format` is beta-shaped; in GA it is audio.output.format "
        "({'type': 'audio/pcm', 'rate': 24000}, {'type': 'audio/pcmu'} or {'type': 'audio/pcma'})"
    ),
    "input_audio_transcription": _Forbidden(
        "`input_audio_transcription` is beta-shaped; in GA it is audio.input.transcription"
    ),
    "input_audio_noise_reduction": _Forbidden(
        "`input_audio_noise_reduction` is beta-shaped; in GA it is audio.input.noise_reduction"
    ),
    "turn_detection": _Forbidden(
        "`turn_detection` is beta-shaped; in GA it is audio.input.turn_detection"
    ),
    "max_response_output_tokens": _Forbidden(
        "`max_response_output_tokens` is beta-shaped; in GA it is max_output_tokens"
    ),
    "temperature": _Forbidden("`temperature` is beta-only; GA sessions have no temperature"),
    "client_secret": _Forbidden(
        "`client_secret` is beta-shaped; in GA ephemeral keys come from "
        "POST /v1/realtime/client_secrets"
    ),
}

_READ_ONLY: dict[str, _Spec] = {
    "id": _Str(),
    "object": _Str(),
    "expires_at": _Num(0, integer=True),
}

_SESSION_TYPE = _Enum("realtime", "transcription")

_REALTIME_FIELDS: dict[str, _Spec] = {
    "type": _SESSION_TYPE,
    "model": _Str(empty=False),
    "instructions": _Str(),
    "output_modalities": _Modalities(),
    "audio": _Obj({"input": _AUDIO_INPUT, "output": _AUDIO_OUTPUT}, describe="{input?, output?}"),
    "tools": _TOOLS,
    "tool_choice": _TOOL_CHOICE,
    "max_output_tokens": _MAX_OUTPUT_TOKENS,
    "truncation": _TRUNCATION,
    "tracing": _TRACING,
    "prompt": _PROMPT,
    "reasoning": _REASONING,
    "parallel_tool_calls": _Bool(),
    "include": _INCLUDE,
    **_READ_ONLY,
}

_SESSION = _Obj(_REALTIME_FIELDS, forbid=_BETA_SESSION_FIELDS, describe="a GA session object")

_TRANSCRIPTION_ONLY = "audio.input.*, include"
_TRANSCRIPTION_SESSION = _Obj(
    {
        "type": _SESSION_TYPE,
        "audio": _Obj(
            {"input": _AUDIO_INPUT},
            forbid={
                "output": _Forbidden(
                    "is not allowed in a transcription session", _TRANSCRIPTION_ONLY
                )
            },
            describe="{input?}",
        ),
        "include": _INCLUDE,
        **_READ_ONLY,
    },
    forbid={
        **{
            key: _Forbidden("is not allowed in a transcription session", _TRANSCRIPTION_ONLY)
            for key in _REALTIME_FIELDS
            if key not in ("type", "audio", "include", *_READ_ONLY)
        },
        **_BETA_SESSION_FIELDS,
    },
    describe="a GA transcription session object",
)

_RESPONSE = _Obj(
    {
        "conversation": _Enum("auto", "none"),
        "input": _ListOf(_Obj({"type": _Str(empty=False)}, required=("type",), open_=True)),
        "instructions": _Str(),
        "tools": _TOOLS,
        "tool_choice": _TOOL_CHOICE,
        "output_modalities": _Modalities(),
        "audio": _Obj(
            {"output": _Obj({"format": _FORMAT, "voice": _VOICE}, describe="{format?, voice?}")},
            describe="{output?}",
        ),
        "max_output_tokens": _MAX_OUTPUT_TOKENS,
        "metadata": _Nullable(_Metadata()),
        "prompt": _PROMPT,
        "reasoning": _REASONING,
        "parallel_tool_calls": _Bool(),
    },
    forbid={
        "modalities": _Forbidden(
            "`modalities` is beta-shaped; in GA it is output_modalities (['audio'] or ['text'])"
        ),
        "voice": _Forbidden("`voice` is beta-shaped; in GA it is audio.output.voice"),
        "output_audio_format": _Forbidden(
            "`output_audio_format` is beta-shaped; in GA it is audio.output.format"
        ),
        "max_response_output_tokens": _Forbidden(
            "`max_response_output_tokens` is beta-shaped; in GA it is max_output_tokens"
        ),
        "temperature": _Forbidden("`temperature` is beta-only; GA responses have no temperature"),
    },
    describe="response.create parameters",
)


def _check_tool_choice(obj: Mapping[str, Any]) -> None:
    """A forced tool must exist when the same object also sets ``tools``."""
    choice, tools = obj.get("tool_choice"), obj.get("tools")
    if not isinstance(choice, Mapping) or not isinstance(tools, list):
        return
    if choice.get("type") == "function":
        names = [t.get("name") for t in tools if t.get("type") == "function"]
        if choice.get("name") not in names:
            raise ConfigError(
                "tool_choice.name",
                f"no function tool named {choice.get('name')!r} in tools",
                names,
            )
    elif choice.get("type") == "mcp":
        labels = [t.get("server_label") for t in tools if t.get("type") == "mcp"]
        if choice.get("server_label") not in labels:
            raise ConfigError(
                "tool_choice.server_label",
                f"no mcp tool with server_label {choice.get('server_label')!r} in tools",
                labels,
            )


def _session_spec(session: Mapping[str, Any]) -> _Obj:
    return _TRANSCRIPTION_SESSION if session.get("type") == "transcription" else _SESSION


def validate_session(session: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a (possibly partial) GA ``session`` object; return a deep copy.

    A missing ``type`` is added as ``"realtime"`` (first key) because GA
    requires it on the wire; nothing else is added. Raises
    :class:`ConfigError` naming the dotted path of the first bad field.
    Transcription sessions (``type: "transcription"``) allow only
    ``audio.input.*`` and ``include`` (plus the server's read-only fields).
    """
    if not isinstance(session, Mapping):
        raise ConfigError("session", f"must be an object, got {_kind(session)}", "a dict")
    if "type" not in session:
        session = {"type": "realtime", **session}
    _SESSION_TYPE.clean(session["type"], "type")
    out: dict[str, Any] = _clean(_session_spec(session), session)
    _check_tool_choice(out)
    return out


def unknown_fields(session: Mapping[str, Any]) -> list[str]:
    """Dotted paths of fields in ``session`` that this model does not know.

    For a warning: such fields are passed through by :func:`validate_session`.
    Never raises; parts that are malformed are skipped.
    """
    obj: Any = session
    if not isinstance(obj, Mapping):
        return []
    return _session_spec(obj).unknown(obj, "")


def validate_response_params(response: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``response.create``'s ``response`` overrides; return a deep copy.

    Same rules and error style as :func:`validate_session`. Paths in errors
    are relative to the ``response`` object (``metadata``, ``audio.output.voice``),
    not prefixed with ``response.``.
    """
    if not isinstance(response, Mapping):
        raise ConfigError("response", f"must be an object, got {_kind(response)}", "a dict")
    out: dict[str, Any] = _clean(_RESPONSE, response)
    _check_tool_choice(out)
    return out


def unknown_response_fields(response: Mapping[str, Any]) -> list[str]:
    """Like :func:`unknown_fields`, for ``response.create`` parameters."""
    return _RESPONSE.unknown(response, "") if isinstance(response, Mapping) else []


# ---------------------------------------------------------------------------
# Friendly keyword settings → GA partial session
# ---------------------------------------------------------------------------

_GA_KEYS = (
    "type",
    "model",
    "instructions",
    "output_modalities",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "truncation",
    "tracing",
    "include",
    "prompt",
    "reasoning",
    "parallel_tool_calls",
)
_SERVER_VAD_KEYS = ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms")
_SEMANTIC_VAD_KEYS = ("eagerness",)
_COMMON_VAD_KEYS = ("create_response", "interrupt_response")
_VAD_KEYS = (*_SERVER_VAD_KEYS, *_SEMANTIC_VAD_KEYS, *_COMMON_VAD_KEYS)
_SHORTHAND_KEYS = (
    "modalities",
    "voice",
    "speed",
    "input_format",
    "output_format",
    "transcription",
    "noise_reduction",
    "turn_detection",
    *_VAD_KEYS,
)
SETTINGS_KEYS: tuple[str, ...] = (*_GA_KEYS, *_SHORTHAND_KEYS)
"""Every keyword :func:`settings_to_session` accepts."""

_TURN_DETECTION_TYPE = _Enum("server_vad", "semantic_vad")

_PCM: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}
_FORMAT_ALIASES: dict[str, dict[str, Any]] = {
    "pcm16": _PCM,
    "pcm": _PCM,
    "audio/pcm": _PCM,
    "g711_ulaw": {"type": "audio/pcmu"},
    "pcmu": {"type": "audio/pcmu"},
    "audio/pcmu": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
    "pcma": {"type": "audio/pcma"},
    "audio/pcma": {"type": "audio/pcma"},
}


def _format_setting(value: Any, path: str) -> Any:
    if isinstance(value, str):
        fmt = _FORMAT_ALIASES.get(value)
        if fmt is None:
            raise ConfigError(path, f"unknown audio format {value!r}", tuple(_FORMAT_ALIASES))
        return dict(fmt)
    return _plain(value)


def _put(target: dict[str, Any], keys: Sequence[str], value: Any, keyword: str) -> None:
    """Set ``target[k0][k1]...`` unless ``audio=`` already holds a different value."""
    node = target
    for i, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(".".join(keys[: i + 1]), "must be an object", "an object")
        node = child
    last = keys[-1]
    if last in node and node[last] != value:
        raise ConfigError(
            ".".join(keys),
            f"given twice, as {keyword}= and inside audio= ({node[last]!r} vs {value!r})",
        )
    node[last] = value


def unknown_keyword_hints(bad: Iterable[str], known: Sequence[str]) -> list[str]:
    """``'voise' (did you mean 'voice'?)`` for each unknown keyword: close matches among
    ``known``, or "no close match"."""
    hints = []
    for key in bad:
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "no close match"
        hints.append(f"{key!r} ({hint})")
    return hints


def _check_keywords(settings: Mapping[str, Any]) -> None:
    bad = [k for k in settings if k not in SETTINGS_KEYS]
    if not bad:
        return
    hints = unknown_keyword_hints(bad, SETTINGS_KEYS)
    raise TypeError(
        f"unexpected session setting(s): {', '.join(hints)}. Accepted: {', '.join(SETTINGS_KEYS)}"
    )


def _turn_detection_setting(settings: Mapping[str, Any], current: Any) -> Any:
    """Build ``audio.input.turn_detection`` from turn_detection= and VAD shorthands."""
    path = "audio.input.turn_detection"
    td: Any = current
    if "turn_detection" in settings:
        given = settings["turn_detection"]
        if isinstance(given, str):
            given = {"type": _TURN_DETECTION_TYPE.clean(given, f"{path}.type")}
        else:
            given = _plain(given)
        if current is not _MISSING and current != given:
            raise ConfigError(path, "given twice, as turn_detection= and inside audio=")
        td = given
    fields = {k: settings[k] for k in _VAD_KEYS if k in settings}
    if not fields:
        return td
    if td is None:
        raise ConfigError(
            path,
            f"turn_detection=None turns turn detection off; {', '.join(fields)} cannot be set "
            "with it",
        )
    if td is _MISSING:
        td = {}
    if not isinstance(td, dict):
        return td  # validation reports the bad type
    if "type" not in td:
        server = [k for k in fields if k in _SERVER_VAD_KEYS]
        semantic = [k for k in fields if k in _SEMANTIC_VAD_KEYS]
        if server and semantic:
            raise ConfigError(
                path,
                f"{', '.join(server)} belong to server_vad and {', '.join(semantic)} to "
                "semantic_vad; they cannot be combined",
                ("server_vad", "semantic_vad"),
            )
        if not server and not semantic:
            raise ConfigError(
                f"{path}.type",
                f"{', '.join(fields)} needs the turn-detection type: also pass "
                "turn_detection='server_vad' or 'semantic_vad'",
                ("server_vad", "semantic_vad"),
            )
        td = {"type": "server_vad" if server else "semantic_vad", **td}
    for key, value in fields.items():
        if key in td and td[key] != value:
            raise ConfigError(f"{path}.{key}", f"given twice, as {key}= and in turn_detection")
        td[key] = _plain(value)
    return td


def settings_to_session(**settings: Any) -> dict[str, Any]:
    """Turn the public API's keyword settings into a validated GA partial session.

    Accepts every GA top-level key verbatim (``instructions``, ``audio``,
    ``tools``, ...) plus shorthands:

    * ``voice``, ``speed``, ``output_format`` → ``audio.output.*``;
    * ``input_format``, ``transcription``, ``noise_reduction``,
      ``turn_detection`` → ``audio.input.*``. Formats may be ``"pcm16"``,
      ``"audio/pcm"``, ``"g711_ulaw"``, ``"audio/pcmu"``, ``"g711_alaw"``,
      ``"audio/pcma"`` or a format dict; ``transcription`` a model name, dict
      or ``None``; ``noise_reduction`` ``"near_field"``/``"far_field"``, dict
      or ``None``; ``turn_detection`` ``"server_vad"``/``"semantic_vad"``,
      dict or ``None``;
    * VAD fields ``threshold, prefix_padding_ms, silence_duration_ms,
      idle_timeout_ms, eagerness, create_response, interrupt_response`` merge
      into ``audio.input.turn_detection``. Without an explicit type,
      threshold/padding/silence/idle imply ``server_vad`` and eagerness
      ``semantic_vad``; ``create_response``/``interrupt_response`` alone need
      ``turn_detection=`` to say the type (the caller knows the current one);
    * ``modalities``/``output_modalities`` accept a string (``"audio"``).

    A value given twice (shorthand and inside ``audio=``) is a ConfigError
    unless equal. Unknown keywords raise ``TypeError`` naming close matches.
    The result went through :func:`validate_session` (so it has ``type``).
    """
    _check_keywords(settings)
    if "modalities" in settings and "output_modalities" in settings:
        raise TypeError("give either modalities= or output_modalities=, not both")
    out: dict[str, Any] = {k: _plain(settings[k]) for k in _GA_KEYS if k in settings}
    for key in ("modalities", "output_modalities"):
        if key in settings:
            mods = settings[key]
            out["output_modalities"] = [mods] if isinstance(mods, str) else _plain(mods)
    if "audio" in out and not isinstance(out["audio"], dict):
        raise ConfigError("audio", f"must be an object, got {_kind(out['audio'])}", "an object")

    outputs = {"voice": "voice", "speed": "speed", "output_format": "format"}
    for keyword, field in outputs.items():
        if keyword in settings:
            value = settings[keyword]
            if keyword == "output_format":
                value = _format_setting(value, "audio.output.format")
            _put(out, ("audio", "output", field), _plain(value), keyword)
    if "input_format" in settings:
        value = _format_setting(settings["input_format"], "audio.input.format")
        _put(out, ("audio", "input", "format"), value, "input_format")
    if "transcription" in settings:
        value = settings["transcription"]
        value = {"model": value} if isinstance(value, str) else _plain(value)
        _put(out, ("audio", "input", "transcription"), value, "transcription")
    if "noise_reduction" in settings:
        value = settings["noise_reduction"]
        value = {"type": value} if isinstance(value, str) else _plain(value)
        _put(out, ("audio", "input", "noise_reduction"), value, "noise_reduction")
    if "turn_detection" in settings or any(k in settings for k in _VAD_KEYS):
        audio_in = out.setdefault("audio", {}).setdefault("input", {})
        if not isinstance(audio_in, dict):
            raise ConfigError("audio.input", f"must be an object, got {_kind(audio_in)}")
        audio_in["turn_detection"] = _turn_detection_setting(
            settings, audio_in.get("turn_detection", _MISSING)
        )
    return validate_session(out)


# ---------------------------------------------------------------------------
# Merge and defaults
# ---------------------------------------------------------------------------

_REPLACED_AS_UNIT = frozenset(
    {
        "audio.input.format",
        "audio.output.format",
        "audio.input.transcription",
        "audio.output.voice",
        "tools",
        "tool_choice",
        "truncation",
        "tracing",
        "prompt",
        "include",
        "output_modalities",
    }
)


def _merge(base: Mapping[str, Any], update: Mapping[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = _plain(base)
    for key, new in update.items():
        p = _join(path, key)
        old: Any = out.get(key)
        merge = isinstance(new, Mapping) and isinstance(old, Mapping) and p not in _REPLACED_AS_UNIT
        if merge and p == "audio.input.turn_detection":
            merge = new.get("type", old.get("type")) == old.get("type")
        out[key] = _merge(old, new, p) if merge else _plain(new)
    return out


def merge_session(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a partial session ``update`` onto ``base`` like the server does.

    Objects merge recursively, except those replaced as a unit: formats,
    ``transcription``, ``voice``, ``tools``, ``tool_choice``, ``truncation``,
    ``tracing``, ``prompt``, lists, and ``turn_detection`` when its ``type``
    changes (same type: fields merge, like ``noise_reduction`` whose omitted
    ``strength`` is kept). ``None`` clears (``turn_detection``,
    ``noise_reduction``, ``transcription``, ``tracing``), ``""`` clears
    ``instructions``, ``[]`` clears ``tools``. Returns a new dict; the inputs
    are not modified. No validation happens here.
    """
    return _merge(base, update, "")


_DEFAULT_INSTRUCTIONS = (
    "You are a helpful, witty, and friendly AI. Your voice and personality should be warm "
    "and engaging. Talk quickly and keep answers short."
)


def _build_default(model: str) -> dict[str, Any]:
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime",
        "object": "realtime.session",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": _DEFAULT_INSTRUCTIONS,
        "audio": {
            "input": {
                "format": dict(pcm),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": dict(pcm), "voice": "alloy", "speed": 1.0},
        },
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "truncation": "auto",
        "tracing": None,
        "prompt": None,
        "include": None,
    }


DEFAULT_SESSION: Mapping[str, Any] = MappingProxyType(_build_default("gpt-realtime"))
"""What a GA server reports in ``session.created`` (reference §6). Read-only view;
use :func:`default_session` for a mutable copy."""


def default_session(model: str = "gpt-realtime", **overrides: Any) -> dict[str, Any]:
    """A fresh copy of the GA defaults (as in ``session.created``) for ``model``.

    ``overrides`` are the keywords of :func:`settings_to_session` (GA keys or
    shorthands such as ``voice="marin"``) merged with :func:`merge_session`;
    the read-only ``id``, ``object`` and ``expires_at`` are set verbatim.
    """
    base = _build_default(model)
    read_only = {k: overrides.pop(k) for k in READ_ONLY_FIELDS if k in overrides}
    if overrides:
        base = merge_session(base, settings_to_session(**overrides))
    base.update(read_only)
    return base


# ---------------------------------------------------------------------------
# Requested vs effective
# ---------------------------------------------------------------------------

ChangeStatus = Literal["applied", "changed", "ignored"]


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One requested leaf and what the server made of it.

    ``applied``: the server holds the requested value; ``changed``: it holds
    another value; ``ignored``: the server's config lacks the field.
    """

    path: str
    requested: Any
    effective: Any
    status: ChangeStatus

    def __str__(self) -> str:
        if self.status == "applied":
            return f"✓ {self.path} = {_short(self.requested)}"
        if self.status == "changed":
            return (
                f"✗ {self.path}: requested {_short(self.requested)}, "
                f"server kept {_short(self.effective)}"
            )
        return f"? {self.path}: not in server config"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same(a: Any, b: Any) -> bool:
    """Equality for configs: numbers within 1e-9 (int == float), bools strict."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _diff(req: Mapping[str, Any], eff: Any, path: str, out: list[ConfigChange]) -> None:
    for key, want in req.items():
        p = _join(path, key)
        if not isinstance(eff, Mapping) or key not in eff:
            out.append(ConfigChange(p, _plain(want), None, "ignored"))
            continue
        have = eff[key]
        if p == "tools" and isinstance(want, (list, tuple)) and want and isinstance(have, list):
            _diff_tools(want, have, p, out)
        elif isinstance(want, Mapping) and want and isinstance(have, Mapping):
            _diff(want, have, p, out)
        else:
            status: ChangeStatus = "applied" if _same(want, have) else "changed"
            out.append(ConfigChange(p, _plain(want), _plain(have), status))


def _diff_tools(
    want: Sequence[Any], have: Sequence[Any], path: str, out: list[ConfigChange]
) -> None:
    by_key = {_tool_key(t): t for t in have if _tool_key(t) is not None}
    for i, tool in enumerate(want):
        p = f"{path}[{i}]"
        match = by_key.get(_tool_key(tool))
        if match is None:
            out.append(ConfigChange(p, _plain(tool), None, "ignored"))
        elif isinstance(tool, Mapping):
            _diff(tool, match, p, out)


def diff_config(requested: Mapping[str, Any], effective: Mapping[str, Any]) -> list[ConfigChange]:
    """Compare a requested partial session with the server's effective one.

    Reports every leaf present in ``requested`` (dicts are recursed into;
    lists compared whole, except ``tools``, matched by function name or MCP
    server label and then compared field by field under the requested index,
    e.g. ``tools[0].description``). A tool the server lacks is ``ignored``.
    """
    out: list[ConfigChange] = []
    _diff(requested, effective, "", out)
    return out


def format_diff(changes: Iterable[ConfigChange]) -> str:
    """One line per change: ``✓`` applied, ``✗`` changed, ``?`` ignored."""
    return "\n".join(str(c) for c in changes)
