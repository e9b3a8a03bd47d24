"""Tests for realtime_widget.protocol.config (the GA session-config model)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from realtime_widget.errors import ConfigError
from realtime_widget.protocol.config import (
    DEFAULT_SESSION,
    KNOWN_MODELS,
    KNOWN_VOICES,
    READ_ONLY_FIELDS,
    SETTINGS_KEYS,
    TRANSCRIPTION_MODELS,
    ConfigChange,
    default_session,
    diff_config,
    format_diff,
    merge_session,
    settings_to_session,
    unknown_fields,
    unknown_response_fields,
    validate_response_params,
    validate_session,
)


def nest(path: str, value: Any) -> dict[str, Any]:
    """``nest("audio.output.speed", 1)`` → ``{"audio": {"output": {"speed": 1}}}``."""
    out: Any = value
    for key in reversed(path.split(".")):
        out = {key: out}
    return dict(out)


def raises_config(param: str, *fragments: str) -> Any:
    """Context manager: ConfigError whose param is ``param`` and text has ``fragments``."""

    class _Check:
        def __enter__(self) -> None:
            self._ctx = pytest.raises(ConfigError)
            self._info = self._ctx.__enter__()

        def __exit__(self, *exc: Any) -> bool:
            handled = self._ctx.__exit__(*exc)
            err = self._info.value
            assert err.param == param, f"param {err.param!r} != {param!r}: {err}"
            for fragment in fragments:
                assert fragment in str(err), f"{fragment!r} not in {str(err)!r}"
            return bool(handled)

    return _Check()


TD = "audio.input.turn_detection"
SERVER_VAD = {"type": "server_vad"}
SEMANTIC_VAD = {"type": "semantic_vad"}

# (dotted path, value) pairs that must validate and come back unchanged.
VALID: list[tuple[str, Any]] = [
    ("type", "realtime"),
    ("model", "gpt-realtime-2.1"),
    ("model", "some-future-model"),
    ("instructions", "Be brief."),
    ("instructions", ""),
    ("output_modalities", ["audio"]),
    ("output_modalities", ["text"]),
    ("audio.input.format", {"type": "audio/pcm", "rate": 24000}),
    ("audio.input.format", {"type": "audio/pcm"}),
    ("audio.input.format", {"type": "audio/pcmu"}),
    ("audio.input.format", {"type": "audio/pcma"}),
    ("audio.output.format", {"type": "audio/pcm", "rate": 24000}),
    ("audio.output.format", {"type": "audio/pcmu"}),
    ("audio.input.transcription", None),
    ("audio.input.transcription", {"model": "gpt-4o-mini-transcribe"}),
    ("audio.input.transcription", {"model": "my-own-asr"}),
    (
        "audio.input.transcription",
        {
            "model": "gpt-live-transcribe",
            "language": "en",
            "prompt": "tech words",
            "languages": ["en", "de"],
            "keywords": ["Realtime", "kernel"],
            "delay": "low",
        },
    ),
    ("audio.input.transcription", {"model": "gpt-realtime-whisper", "delay": "xhigh"}),
    ("audio.input.noise_reduction", None),
    ("audio.input.noise_reduction", {"type": "near_field"}),
    ("audio.input.noise_reduction", {"type": "far_field", "strength": 0.0}),
    ("audio.input.noise_reduction", {"type": "far_field", "strength": 1}),
    (TD, None),
    (TD, {"type": "server_vad"}),
    (
        TD,
        {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
            "idle_timeout_ms": None,
            "create_response": True,
            "interrupt_response": False,
        },
    ),
    (TD, {"type": "server_vad", "threshold": 0, "prefix_padding_ms": 0}),
    (TD, {"type": "server_vad", "threshold": 1.0, "silence_duration_ms": 0}),
    (TD, {"type": "server_vad", "idle_timeout_ms": 5000}),
    (TD, {"type": "server_vad", "idle_timeout_ms": 30000}),
    (TD, {"type": "semantic_vad"}),
    (TD, {"type": "semantic_vad", "eagerness": "low", "create_response": False}),
    (TD, {"type": "semantic_vad", "eagerness": "auto", "interrupt_response": True}),
    ("audio.output.voice", "marin"),
    ("audio.output.voice", "a-voice-not-in-the-list"),
    ("audio.output.voice", {"id": "voice_1234"}),
    ("audio.output.speed", 0.25),
    ("audio.output.speed", 1.5),
    ("audio.output.speed", 1),
    ("tools", []),
    (
        "tools",
        [
            {
                "type": "function",
                "name": "get_time",
                "description": "Current time",
                "parameters": {"type": "object", "properties": {}},
            },
            {"type": "function", "name": "A-b_9"},
            {"type": "function", "name": "x" * 64, "parameters": {"type": "object"}},
            {
                "type": "mcp",
                "server_label": "docs",
                "server_url": "https://example.com/mcp",
                "require_approval": "never",
                "allowed_tools": ["search"],
            },
        ],
    ),
    ("tool_choice", "auto"),
    ("tool_choice", "none"),
    ("tool_choice", "required"),
    ("tool_choice", {"type": "function", "name": "get_time"}),
    ("tool_choice", {"type": "mcp", "server_label": "docs"}),
    ("tool_choice", {"type": "mcp", "server_label": "docs", "name": "search"}),
    ("max_output_tokens", 1),
    ("max_output_tokens", 4096),
    ("max_output_tokens", "inf"),
    ("truncation", "auto"),
    ("truncation", "disabled"),
    ("truncation", {"type": "retention_ratio", "retention_ratio": 0.8}),
    (
        "truncation",
        {
            "type": "retention_ratio",
            "retention_ratio": 0,
            "token_limits": {"post_instructions": 5000},
        },
    ),
    ("tracing", "auto"),
    ("tracing", None),
    ("tracing", {}),
    ("tracing", {"workflow_name": "w", "group_id": "g", "metadata": {"any": ["thing", 1]}}),
    ("parallel_tool_calls", True),
    ("parallel_tool_calls", False),
    ("reasoning", {"effort": "minimal"}),
    ("reasoning", {"effort": "xhigh"}),
    ("reasoning", {}),
    ("prompt", {"id": "pmpt_123"}),
    (
        "prompt",
        {
            "id": "pmpt_123",
            "version": "2",
            "variables": {"city": "Paris", "note": {"type": "input_text", "text": "hi"}},
        },
    ),
    ("prompt", None),
    ("include", ["item.input_audio_transcription.logprobs"]),
    ("include", []),
    ("include", None),
]


@pytest.mark.parametrize(("path", "value"), VALID, ids=[f"{p}={v!r}"[:60] for p, v in VALID])
def test_valid_values_round_trip(path: str, value: Any) -> None:
    session = nest(path, value)
    if path != "type":
        session = {"type": "realtime", **session}
    before = copy.deepcopy(session)
    out = validate_session(session)
    assert out == session
    assert session == before  # input untouched
    assert unknown_fields(session) == []


# (dotted path, value, expected error param, fragments expected in the message)
INVALID: list[tuple[str, Any, str, tuple[str, ...]]] = [
    ("type", "conversation", "type", ("'realtime'", "'transcription'")),
    ("type", None, "type", ("'realtime'",)),
    ("model", 5, "model", ("string",)),
    ("model", "", "model", ("empty",)),
    ("instructions", None, "instructions", ("string",)),
    ("instructions", ["a"], "instructions", ("string",)),
    ("output_modalities", ["audio", "text"], "output_modalities", ("both", "['audio']")),
    ("output_modalities", ["text", "audio"], "output_modalities", ("['text']",)),
    ("output_modalities", [], "output_modalities", ("empty",)),
    ("output_modalities", "audio", "output_modalities", ("list",)),
    ("output_modalities", ["video"], "output_modalities[0]", ("'audio'", "'text'")),
    ("output_modalities", ["audio", "audio"], "output_modalities", ("exactly one",)),
    ("audio", "pcm", "audio", ("object",)),
    ("audio.input", None, "audio.input", ("object",)),
    ("audio.input.format", "pcm16", "audio.input.format", ("object",)),
    (
        "audio.input.format",
        {"type": "audio/pcm", "rate": 16000},
        "audio.input.format.rate",
        ("24000",),
    ),
    ("audio.input.format", {"type": "audio/pcm", "rate": 24000.0}, "audio.input.format.rate", ()),
    ("audio.input.format", {"type": "audio/wav"}, "audio.input.format.type", ("'audio/pcmu'",)),
    ("audio.input.format", {"rate": 24000}, "audio.input.format.type", ("required",)),
    (
        "audio.output.format",
        {"type": "audio/pcmu", "rate": 8000},
        "audio.output.format.rate",
        ("audio/pcm",),
    ),
    ("audio.input.transcription", "whisper-1", "audio.input.transcription", ("null",)),
    ("audio.input.transcription", {}, "audio.input.transcription.model", ("required",)),
    ("audio.input.transcription", {"model": 1}, "audio.input.transcription.model", ("string",)),
    (
        "audio.input.transcription",
        {"model": "m", "language": 1},
        "audio.input.transcription.language",
        (),
    ),
    (
        "audio.input.transcription",
        {"model": "m", "languages": "en"},
        "audio.input.transcription.languages",
        ("list",),
    ),
    (
        "audio.input.transcription",
        {"model": "m", "keywords": ["a", 2]},
        "audio.input.transcription.keywords[1]",
        (),
    ),
    (
        "audio.input.transcription",
        {"model": "m", "delay": "fast"},
        "audio.input.transcription.delay",
        ("'minimal'", "'xhigh'"),
    ),
    ("audio.input.noise_reduction", "near_field", "audio.input.noise_reduction", ("null",)),
    (
        "audio.input.noise_reduction",
        {"type": "near"},
        "audio.input.noise_reduction.type",
        ("'near_field'", "'far_field'"),
    ),
    (
        "audio.input.noise_reduction",
        {"strength": 0.5},
        "audio.input.noise_reduction.type",
        ("required",),
    ),
    (
        "audio.input.noise_reduction",
        {"type": "far_field", "strength": 1.5},
        "audio.input.noise_reduction.strength",
        ("0..1",),
    ),
    (
        "audio.input.noise_reduction",
        {"type": "far_field", "strength": True},
        "audio.input.noise_reduction.strength",
        ("bool",),
    ),
    (TD, "server_vad", TD, ("null", "server_vad")),
    (TD, {"threshold": 0.5}, f"{TD}.type", ("required", "'server_vad'", "'semantic_vad'")),
    (TD, {"type": "vad"}, f"{TD}.type", ("'server_vad'", "'semantic_vad'")),
    (TD, {**SERVER_VAD, "threshold": 1.01}, f"{TD}.threshold", ("0..1",)),
    (TD, {**SERVER_VAD, "threshold": -0.1}, f"{TD}.threshold", ("0..1",)),
    (TD, {**SERVER_VAD, "threshold": True}, f"{TD}.threshold", ("bool",)),
    (TD, {**SERVER_VAD, "threshold": "0.5"}, f"{TD}.threshold", ("number",)),
    (TD, {**SERVER_VAD, "threshold": float("nan")}, f"{TD}.threshold", ("finite",)),
    (TD, {**SERVER_VAD, "prefix_padding_ms": -1}, f"{TD}.prefix_padding_ms", (">= 0",)),
    (TD, {**SERVER_VAD, "prefix_padding_ms": 2.5}, f"{TD}.prefix_padding_ms", ("integer",)),
    (TD, {**SERVER_VAD, "silence_duration_ms": False}, f"{TD}.silence_duration_ms", ("bool",)),
    (TD, {**SERVER_VAD, "silence_duration_ms": -5}, f"{TD}.silence_duration_ms", (">= 0",)),
    (TD, {**SERVER_VAD, "idle_timeout_ms": 4999}, f"{TD}.idle_timeout_ms", ("5000..30000",)),
    (TD, {**SERVER_VAD, "idle_timeout_ms": 30001}, f"{TD}.idle_timeout_ms", ("5000..30000",)),
    (TD, {**SERVER_VAD, "idle_timeout_ms": "10s"}, f"{TD}.idle_timeout_ms", ("null",)),
    (TD, {**SERVER_VAD, "create_response": 1}, f"{TD}.create_response", ("boolean",)),
    (TD, {**SERVER_VAD, "interrupt_response": "yes"}, f"{TD}.interrupt_response", ("boolean",)),
    (
        TD,
        {**SERVER_VAD, "eagerness": "low"},
        f"{TD}.eagerness",
        ("server_vad", "only semantic_vad"),
    ),
    (
        TD,
        {**SEMANTIC_VAD, "threshold": 0.5},
        f"{TD}.threshold",
        ("semantic_vad", "only server_vad"),
    ),
    (
        TD,
        {**SEMANTIC_VAD, "prefix_padding_ms": 100},
        f"{TD}.prefix_padding_ms",
        ("only server_vad",),
    ),
    (
        TD,
        {**SEMANTIC_VAD, "silence_duration_ms": 100},
        f"{TD}.silence_duration_ms",
        ("only server_vad",),
    ),
    (TD, {**SEMANTIC_VAD, "idle_timeout_ms": 6000}, f"{TD}.idle_timeout_ms", ("only server_vad",)),
    (TD, {**SEMANTIC_VAD, "eagerness": "eager"}, f"{TD}.eagerness", ("'low'", "'auto'")),
    ("audio.output.voice", 3, "audio.output.voice", ("wrong type",)),
    ("audio.output.voice", None, "audio.output.voice", ("null",)),
    ("audio.output.voice", "", "audio.output.voice", ("empty",)),
    ("audio.output.voice", {"name": "x"}, "audio.output.voice.id", ("required",)),
    ("audio.output.speed", 0.2, "audio.output.speed", ("0.25..1.5",)),
    ("audio.output.speed", 1.6, "audio.output.speed", ("0.25..1.5",)),
    ("audio.output.speed", True, "audio.output.speed", ("bool",)),
    ("tools", {"type": "function"}, "tools", ("list",)),
    ("tools", [{"name": "f"}], "tools[0].type", ("required", "'function'", "'mcp'")),
    ("tools", [{"type": "code"}], "tools[0].type", ("'function'", "'mcp'")),
    ("tools", [{"type": "function"}], "tools[0].name", ("required",)),
    ("tools", [{"type": "function", "name": ""}], "tools[0].name", ("1-64",)),
    ("tools", [{"type": "function", "name": "x" * 65}], "tools[0].name", ("1-64",)),
    ("tools", [{"type": "function", "name": "get time"}], "tools[0].name", ("invalid tool name",)),
    ("tools", [{"type": "function", "name": "a.b"}], "tools[0].name", ()),
    ("tools", [{"type": "function", "name": "f", "description": 1}], "tools[0].description", ()),
    ("tools", [{"type": "function", "name": "f", "parameters": "{}"}], "tools[0].parameters", ()),
    (
        "tools",
        [{"type": "function", "name": "f", "parameters": {"type": "string"}}],
        "tools[0].parameters.type",
        ("'object'",),
    ),
    (
        "tools",
        [{"type": "function", "name": "f", "parameters": {}}],
        "tools[0].parameters.type",
        ("'object'",),
    ),
    (
        "tools",
        [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": []}}],
        "tools[0].parameters.properties",
        (),
    ),
    (
        "tools",
        [{"type": "function", "name": "f", "parameters": {"type": "object", "required": "a"}}],
        "tools[0].parameters.required",
        (),
    ),
    (
        "tools",
        [{"type": "function", "name": "f", "server_label": "x"}],
        "tools[0].server_label",
        ("only mcp",),
    ),
    ("tools", [{"type": "mcp"}], "tools[0].server_label", ("required",)),
    (
        "tools",
        [
            {"type": "function", "name": "f"},
            {"type": "function", "name": "g"},
            {"type": "function", "name": "f"},
        ],
        "tools[2].name",
        ("duplicate", "tools[0]"),
    ),
    (
        "tools",
        [{"type": "mcp", "server_label": "s"}, {"type": "mcp", "server_label": "s"}],
        "tools[1].server_label",
        ("duplicate",),
    ),
    ("tool_choice", "any", "tool_choice", ("'auto'", "'none'", "'required'")),
    ("tool_choice", None, "tool_choice", ("wrong type",)),
    ("tool_choice", {"type": "function"}, "tool_choice.name", ("required",)),
    ("tool_choice", {"name": "f"}, "tool_choice.type", ("required",)),
    ("tool_choice", {"type": "mcp", "name": "x"}, "tool_choice.server_label", ("required",)),
    ("max_output_tokens", 0, "max_output_tokens", ("1..4096",)),
    ("max_output_tokens", 4097, "max_output_tokens", ("1..4096",)),
    ("max_output_tokens", 10.5, "max_output_tokens", ("integer",)),
    ("max_output_tokens", True, "max_output_tokens", ("wrong type",)),
    ("max_output_tokens", "infinite", "max_output_tokens", ("'inf'",)),
    ("max_output_tokens", None, "max_output_tokens", ("wrong type",)),
    ("truncation", "sometimes", "truncation", ("'auto'", "'disabled'")),
    ("truncation", {"type": "retention_ratio"}, "truncation.retention_ratio", ("required",)),
    (
        "truncation",
        {"type": "retention_ratio", "retention_ratio": 1.5},
        "truncation.retention_ratio",
        ("0..1",),
    ),
    (
        "truncation",
        {"type": "ratio", "retention_ratio": 0.5},
        "truncation.type",
        ("'retention_ratio'",),
    ),
    (
        "truncation",
        {
            "type": "retention_ratio",
            "retention_ratio": 0.5,
            "token_limits": {"post_instructions": 0},
        },
        "truncation.token_limits.post_instructions",
        (">= 1",),
    ),
    ("tracing", "on", "tracing", ("'auto'",)),
    ("tracing", True, "tracing", ("wrong type",)),
    ("tracing", {"workflow_name": 1}, "tracing.workflow_name", ()),
    ("parallel_tool_calls", "yes", "parallel_tool_calls", ("boolean",)),
    ("parallel_tool_calls", 1, "parallel_tool_calls", ("boolean",)),
    ("reasoning", {"effort": "max"}, "reasoning.effort", ("'minimal'", "'xhigh'")),
    ("reasoning", "high", "reasoning", ("null",)),
    ("prompt", {"version": "1"}, "prompt.id", ("required",)),
    ("prompt", "pmpt_1", "prompt", ("null",)),
    ("prompt", {"id": "p", "variables": {"a": 1}}, "prompt.variables.a", ()),
    ("include", "item.input_audio_transcription.logprobs", "include", ("list",)),
    ("include", [3], "include[0]", ("string",)),
]


@pytest.mark.parametrize(
    ("path", "value", "param", "fragments"),
    INVALID,
    ids=[f"{p}={v!r}"[:70] for p, v, _, _ in INVALID],
)
def test_invalid_values_name_param_and_allowed(
    path: str, value: Any, param: str, fragments: tuple[str, ...]
) -> None:
    with raises_config(param, *fragments):
        validate_session({"type": "realtime", **nest(path, value)})


def test_error_carries_allowed_values() -> None:
    with pytest.raises(ConfigError) as info:
        validate_session({"audio": {"input": {"noise_reduction": {"type": "x"}}}})
    assert info.value.param == "audio.input.noise_reduction.type"
    assert info.value.allowed == ("near_field", "far_field")
    assert isinstance(info.value, ValueError)
    with pytest.raises(ConfigError) as info:
        validate_session({"audio": {"output": {"speed": 9}}})
    assert info.value.allowed == "number 0.25..1.5"
    # internal error subclasses never escape
    with pytest.raises(ConfigError) as info:
        validate_session({"model": 1})
    assert type(info.value) is ConfigError


BETA_FIELDS = [
    ("voice", "alloy", "audio.output.voice"),
    ("speed", 1.0, "audio.output.speed"),
    ("modalities", ["text", "audio"], "output_modalities"),
    ("input_audio_format", "pcm16", "audio.input.format"),
    ("output_audio_format", "g711_ulaw", "audio.output.format"),
    ("input_audio_transcription", {"model": "whisper-1"}, "audio.input.transcription"),
    ("input_audio_noise_reduction", {"type": "near_field"}, "audio.input.noise_reduction"),
    ("turn_detection", {"type": "server_vad"}, "audio.input.turn_detection"),
    ("max_response_output_tokens", 100, "max_output_tokens"),
    ("temperature", 0.8, "no temperature"),
    ("client_secret", {"value": "x"}, "client_secrets"),
]


@pytest.mark.parametrize(("field", "value", "ga_place"), BETA_FIELDS)
def test_beta_fields_rejected_with_ga_hint(field: str, value: Any, ga_place: str) -> None:
    with raises_config(field, "beta", ga_place):
        validate_session({"type": "realtime", field: value})
    # also without type, and in a transcription session
    with raises_config(field, ga_place):
        validate_session({field: value})
    with raises_config(field, ga_place):
        validate_session({"type": "transcription", field: value})


def test_beta_voice_message_text() -> None:
    with pytest.raises(
        ConfigError, match=r"`voice` is beta-shaped; in GA it is audio\.output\.voice"
    ):
        validate_session({"voice": "marin"})


def test_missing_type_is_added_first() -> None:
    out = validate_session({"instructions": "hi"})
    assert out == {"type": "realtime", "instructions": "hi"}
    assert next(iter(out)) == "type"
    assert validate_session({}) == {"type": "realtime"}


def test_not_a_mapping() -> None:
    with raises_config("session", "object"):
        validate_session(["type", "realtime"])  # type: ignore[arg-type]


def test_result_is_a_deep_copy() -> None:
    session = {
        "type": "realtime",
        "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.4}}},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "future": {"nested": [1, 2]},
    }
    out = validate_session(session)
    assert out == session
    out["audio"]["input"]["turn_detection"]["threshold"] = 0.9
    out["tools"][0]["parameters"]["x"] = 1
    out["future"]["nested"].append(3)
    assert session["audio"]["input"]["turn_detection"]["threshold"] == 0.4  # type: ignore[index]
    assert "x" not in session["tools"][0]["parameters"]  # type: ignore[index]
    assert session["future"] == {"nested": [1, 2]}


def test_numbers_are_normalised() -> None:
    out = validate_session(
        {
            "audio": {
                "input": {
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": np.float32(0.25),
                        "silence_duration_ms": np.int64(500),
                        "prefix_padding_ms": 300.0,
                    }
                },
                "output": {"speed": np.float64(1.25)},
            },
            "max_output_tokens": np.int32(100),
            "output_modalities": ("audio",),
        }
    )
    td = out["audio"]["input"]["turn_detection"]
    assert type(td["threshold"]) is float
    assert td["threshold"] == 0.25
    assert type(td["silence_duration_ms"]) is int
    assert td["silence_duration_ms"] == 500
    assert type(td["prefix_padding_ms"]) is int
    assert td["prefix_padding_ms"] == 300
    assert type(out["audio"]["output"]["speed"]) is float
    assert type(out["max_output_tokens"]) is int
    assert out["output_modalities"] == ["audio"]


def test_unknown_fields_pass_through_and_are_reported() -> None:
    session = {
        "type": "realtime",
        "future_flag": True,
        "audio": {
            "input": {
                "echo_cancellation": "on",
                "turn_detection": {"type": "server_vad", "threshold": 0.5, "vendor_x": 1},
                "transcription": {"model": "m", "diarize": True},
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000, "channels": 1}},
        },
        "tools": [
            {
                "type": "function",
                "name": "f",
                "strict": True,
                "parameters": {"type": "object", "x-anything": 1},
            },
            {"type": "mcp", "server_label": "s", "anything": {"goes": 1}},
        ],
        "tracing": {"workflow_name": "w", "metadata": {"free": "form"}},
        "truncation": {
            "type": "retention_ratio",
            "retention_ratio": 0.5,
            "token_limits": {"other": 1},
        },
    }
    out = validate_session(session)
    assert out == session
    assert unknown_fields(session) == [
        "future_flag",
        "audio.input.echo_cancellation",
        "audio.input.turn_detection.vendor_x",
        "audio.input.transcription.diarize",
        "audio.output.format.channels",
        "tools[0].strict",
        "truncation.token_limits.other",
    ]


def test_unknown_fields_never_raises() -> None:
    assert unknown_fields({"audio": "junk", "tools": "x", "tool_choice": 3}) == []
    assert unknown_fields({"audio": {"input": {"turn_detection": {"type": "?", "a": 1}}}}) == []
    assert unknown_fields({"audio": {"input": {"turn_detection": None}}}) == []
    assert unknown_fields([]) == []  # type: ignore[arg-type]
    assert unknown_fields({"voice": "x"}) == ["voice"]  # beta names are not GA fields


def test_default_session_validates_with_no_unknown_fields() -> None:
    d = default_session()
    assert validate_session(d) == d
    assert unknown_fields(d) == []


# -- transcription sessions -------------------------------------------------------


def test_transcription_session_allows_input_and_include() -> None:
    session = {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                "noise_reduction": {"type": "near_field"},
                "turn_detection": None,
            }
        },
        "include": ["item.input_audio_transcription.logprobs"],
    }
    assert validate_session(session) == session
    assert unknown_fields(session) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "gpt-realtime"),
        ("instructions", "x"),
        ("output_modalities", ["text"]),
        ("tools", []),
        ("tool_choice", "auto"),
        ("max_output_tokens", 10),
        ("truncation", "auto"),
        ("tracing", None),
        ("prompt", None),
        ("reasoning", {"effort": "low"}),
        ("parallel_tool_calls", True),
        ("audio.output", {"voice": "marin"}),
    ],
)
def test_transcription_session_rejects_realtime_fields(field: str, value: Any) -> None:
    with raises_config(field, "transcription session", "audio.input.*, include"):
        validate_session({"type": "transcription", **nest(field, value)})


def test_transcription_session_checks_input_values() -> None:
    with raises_config("audio.input.turn_detection.eagerness", "only semantic_vad"):
        validate_session(
            {
                "type": "transcription",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "eagerness": "low"}}},
            }
        )


# -- cross-field checks -----------------------------------------------------------


def test_tool_choice_must_name_a_given_tool() -> None:
    tools = [{"type": "function", "name": "a"}, {"type": "mcp", "server_label": "s"}]
    validate_session({"tools": tools, "tool_choice": {"type": "function", "name": "a"}})
    validate_session({"tools": tools, "tool_choice": {"type": "mcp", "server_label": "s"}})
    with raises_config("tool_choice.name", "'b'", "'a'"):
        validate_session({"tools": tools, "tool_choice": {"type": "function", "name": "b"}})
    with raises_config("tool_choice.server_label", "'t'"):
        validate_session({"tools": tools, "tool_choice": {"type": "mcp", "server_label": "t"}})
    # without tools in the same update the server's tools are unknown: accepted
    validate_session({"tool_choice": {"type": "function", "name": "b"}})


# -- response.create parameters --------------------------------------------------------


def test_response_params_valid() -> None:
    params = {
        "conversation": "none",
        "input": [
            {"type": "item_reference", "id": "item_1"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        ],
        "instructions": "Summarise",
        "tools": [{"type": "function", "name": "f"}],
        "tool_choice": {"type": "function", "name": "f"},
        "output_modalities": ["text"],
        "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": {"id": "voice_9"}}},
        "max_output_tokens": "inf",
        "metadata": {"purpose": "classifier", **{f"k{i}": "v" for i in range(15)}},
        "prompt": {"id": "pmpt_1"},
        "reasoning": {"effort": "low"},
        "parallel_tool_calls": False,
    }
    out = validate_response_params(params)
    assert out == params
    assert out is not params
    assert out["input"] is not params["input"]
    assert validate_response_params({}) == {}  # no type is added here
    assert validate_response_params({"conversation": "auto", "input": []}) == {
        "conversation": "auto",
        "input": [],
    }
    assert unknown_response_fields(params) == []


@pytest.mark.parametrize(
    ("params", "param", "fragments"),
    [
        ({"conversation": "default"}, "conversation", ("'auto'", "'none'")),
        ({"input": {"type": "message"}}, "input", ("list",)),
        ({"input": [{"role": "user"}]}, "input[0].type", ("required",)),
        ({"input": ["hi"]}, "input[0]", ("object",)),
        ({"instructions": 3}, "instructions", ()),
        ({"output_modalities": ["audio", "text"]}, "output_modalities", ("both",)),
        ({"audio": {"output": {"voice": 1}}}, "audio.output.voice", ()),
        ({"audio": {"output": {"format": {"type": "mp3"}}}}, "audio.output.format.type", ()),
        ({"max_output_tokens": 0}, "max_output_tokens", ("1..4096",)),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", ("17 pairs", "16")),
        ({"metadata": {"k" * 65: "v"}}, "metadata", ("64",)),
        ({"metadata": {"k": "v" * 513}}, "metadata.k", ("512",)),
        ({"metadata": {"k": 1}}, "metadata.k", ("string",)),
        ({"metadata": ["k"]}, "metadata", ("object",)),
        (
            {"tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "a"}]},
            "tools[1].name",
            ("duplicate",),
        ),
        (
            {
                "tools": [{"type": "function", "name": "a"}],
                "tool_choice": {"type": "function", "name": "z"},
            },
            "tool_choice.name",
            (),
        ),
        ({"reasoning": {"effort": "huge"}}, "reasoning.effort", ()),
        ({"parallel_tool_calls": None}, "parallel_tool_calls", ()),
        ({"prompt": {}}, "prompt.id", ("required",)),
        ({"modalities": ["text"]}, "modalities", ("output_modalities",)),
        ({"voice": "ash"}, "voice", ("audio.output.voice",)),
        ({"output_audio_format": "pcm16"}, "output_audio_format", ("audio.output.format",)),
        ({"temperature": 0.7}, "temperature", ("beta",)),
        ({"max_response_output_tokens": 5}, "max_response_output_tokens", ("max_output_tokens",)),
    ],
)
def test_response_params_invalid(
    params: dict[str, Any], param: str, fragments: tuple[str, ...]
) -> None:
    with raises_config(param, *fragments):
        validate_response_params(params)


def test_response_params_unknown_fields() -> None:
    params = {"future": 1, "audio": {"output": {"speed": 1.2}}, "input": [{"type": "x", "y": 1}]}
    assert validate_response_params(params) == params
    assert unknown_response_fields(params) == ["future", "audio.output.speed"]
    assert unknown_response_fields("x") == []  # type: ignore[arg-type]
    with raises_config("response", "object"):
        validate_response_params(None)  # type: ignore[arg-type]


# -- settings_to_session -----------------------------------------------------------------


def test_settings_shorthands() -> None:
    out = settings_to_session(
        voice="marin",
        speed=1.1,
        instructions="Be brief.",
        turn_detection="server_vad",
        silence_duration_ms=500,
        threshold=0.6,
        transcription="gpt-4o-mini-transcribe",
        noise_reduction="near_field",
        input_format="pcm16",
        output_format="g711_ulaw",
    )
    assert out == {
        "type": "realtime",
        "instructions": "Be brief.",
        "audio": {
            "output": {"voice": "marin", "speed": 1.1, "format": {"type": "audio/pcmu"}},
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "noise_reduction": {"type": "near_field"},
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": 500,
                    "threshold": 0.6,
                },
            },
        },
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("pcm16", {"type": "audio/pcm", "rate": 24000}),
        ("audio/pcm", {"type": "audio/pcm", "rate": 24000}),
        ("g711_ulaw", {"type": "audio/pcmu"}),
        ("audio/pcmu", {"type": "audio/pcmu"}),
        ("g711_alaw", {"type": "audio/pcma"}),
        ("audio/pcma", {"type": "audio/pcma"}),
        ({"type": "audio/pcma"}, {"type": "audio/pcma"}),
    ],
)
def test_settings_formats(value: Any, expected: dict[str, Any]) -> None:
    assert settings_to_session(input_format=value)["audio"]["input"]["format"] == expected
    assert settings_to_session(output_format=value)["audio"]["output"]["format"] == expected


def test_settings_bad_format() -> None:
    with raises_config("audio.input.format", "'mp3'", "'pcm16'", "'audio/pcmu'"):
        settings_to_session(input_format="mp3")
    with raises_config("audio.output.format.rate"):
        settings_to_session(output_format={"type": "audio/pcm", "rate": 16000})


def test_settings_none_and_dict_forms() -> None:
    out = settings_to_session(transcription=None, noise_reduction=None, turn_detection=None)
    assert out["audio"]["input"] == {
        "transcription": None,
        "noise_reduction": None,
        "turn_detection": None,
    }
    out = settings_to_session(
        transcription={"model": "whisper-1", "language": "de"},
        noise_reduction={"type": "far_field", "strength": 0.4},
        turn_detection={"type": "semantic_vad", "eagerness": "high"},
    )
    assert out["audio"]["input"] == {
        "transcription": {"model": "whisper-1", "language": "de"},
        "noise_reduction": {"type": "far_field", "strength": 0.4},
        "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
    }
    assert settings_to_session(voice={"id": "voice_1"})["audio"]["output"]["voice"] == {
        "id": "voice_1"
    }


def test_settings_vad_type_inference() -> None:
    td = settings_to_session(silence_duration_ms=800)["audio"]["input"]["turn_detection"]
    assert td == {"type": "server_vad", "silence_duration_ms": 800}
    td = settings_to_session(idle_timeout_ms=None, prefix_padding_ms=200)["audio"]["input"][
        "turn_detection"
    ]
    assert td == {"type": "server_vad", "idle_timeout_ms": None, "prefix_padding_ms": 200}
    td = settings_to_session(eagerness="low", interrupt_response=False)["audio"]["input"][
        "turn_detection"
    ]
    assert td == {"type": "semantic_vad", "eagerness": "low", "interrupt_response": False}
    td = settings_to_session(turn_detection="semantic_vad", create_response=False)["audio"][
        "input"
    ]["turn_detection"]
    assert td == {"type": "semantic_vad", "create_response": False}
    td = settings_to_session(
        turn_detection={"type": "server_vad", "threshold": 0.3}, silence_duration_ms=600
    )["audio"]["input"]["turn_detection"]
    assert td == {"type": "server_vad", "threshold": 0.3, "silence_duration_ms": 600}
    td = settings_to_session(
        audio={"input": {"turn_detection": {"type": "server_vad"}}}, threshold=0.7
    )["audio"]["input"]["turn_detection"]
    assert td == {"type": "server_vad", "threshold": 0.7}


def test_settings_vad_errors() -> None:
    with raises_config("audio.input.turn_detection", "server_vad", "semantic_vad"):
        settings_to_session(threshold=0.5, eagerness="low")
    with raises_config("audio.input.turn_detection.type", "create_response", "turn_detection="):
        settings_to_session(create_response=False)
    with raises_config("audio.input.turn_detection", "turn_detection=None", "threshold"):
        settings_to_session(turn_detection=None, threshold=0.5)
    with raises_config("audio.input.turn_detection.eagerness", "only semantic_vad"):
        settings_to_session(turn_detection="server_vad", eagerness="low")
    with raises_config("audio.input.turn_detection.threshold", "only server_vad"):
        settings_to_session(turn_detection="semantic_vad", threshold=0.5)
    with raises_config("audio.input.turn_detection.type", "'server_vad'"):
        settings_to_session(turn_detection="push_to_talk")
    with raises_config("audio.input.turn_detection.threshold", "0..1"):
        settings_to_session(threshold=2)
    with raises_config("audio.input.turn_detection.threshold", "given twice"):
        settings_to_session(turn_detection={"type": "server_vad", "threshold": 0.3}, threshold=0.4)


def test_settings_modalities() -> None:
    assert settings_to_session(modalities="text")["output_modalities"] == ["text"]
    assert settings_to_session(output_modalities="audio")["output_modalities"] == ["audio"]
    assert settings_to_session(modalities=["audio"])["output_modalities"] == ["audio"]
    with pytest.raises(TypeError, match="not both"):
        settings_to_session(modalities="text", output_modalities="text")
    with raises_config("output_modalities", "both"):
        settings_to_session(modalities=["audio", "text"])


def test_settings_ga_keys_verbatim() -> None:
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}]
    kwargs: dict[str, Any] = {
        "type": "realtime",
        "model": "gpt-realtime-2",
        "instructions": "x",
        "output_modalities": ["audio"],
        "audio": {"output": {"voice": "cedar"}},
        "tools": tools,
        "tool_choice": "required",
        "max_output_tokens": 200,
        "truncation": "disabled",
        "tracing": "auto",
        "include": ["item.input_audio_transcription.logprobs"],
        "prompt": {"id": "p"},
        "reasoning": {"effort": "low"},
        "parallel_tool_calls": True,
    }
    before = copy.deepcopy(kwargs)
    out = settings_to_session(**kwargs)
    assert out == kwargs
    assert kwargs == before
    out["tools"][0]["name"] = "changed"
    assert tools[0]["name"] == "f"
    assert set(kwargs) | {
        "modalities",
        "voice",
        "speed",
        "input_format",
        "output_format",
        "transcription",
        "noise_reduction",
        "turn_detection",
        "threshold",
        "prefix_padding_ms",
        "silence_duration_ms",
        "idle_timeout_ms",
        "eagerness",
        "create_response",
        "interrupt_response",
    } == set(SETTINGS_KEYS)


def test_settings_merge_with_audio_and_conflicts() -> None:
    audio = {"output": {"voice": "marin"}, "input": {"future": 1}}
    out = settings_to_session(audio=audio, voice="marin", speed=1.2, transcription="whisper-1")
    assert out["audio"] == {
        "output": {"voice": "marin", "speed": 1.2},
        "input": {"future": 1, "transcription": {"model": "whisper-1"}},
    }
    assert audio == {"output": {"voice": "marin"}, "input": {"future": 1}}
    with raises_config("audio.output.voice", "given twice", "voice="):
        settings_to_session(audio={"output": {"voice": "ash"}}, voice="marin")
    with raises_config("audio.input.turn_detection", "given twice"):
        settings_to_session(
            audio={"input": {"turn_detection": {"type": "server_vad"}}}, turn_detection=None
        )
    with raises_config("audio", "object"):
        settings_to_session(audio="x", voice="marin")
    with raises_config("audio.output", "object"):
        settings_to_session(audio={"output": None}, voice="marin")


def test_settings_validates_result() -> None:
    with raises_config("audio.output.speed", "0.25..1.5"):
        settings_to_session(speed=3)
    with raises_config("audio.output", "transcription session"):
        settings_to_session(type="transcription", voice="marin")
    out = settings_to_session(
        type="transcription", transcription="gpt-transcribe", turn_detection=None
    )
    assert out == {
        "type": "transcription",
        "audio": {"input": {"transcription": {"model": "gpt-transcribe"}, "turn_detection": None}},
    }
    assert settings_to_session() == {"type": "realtime"}


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("silence_duration", "silence_duration_ms"),
        ("voise", "voice"),
        ("instruction", "instructions"),
        ("treshold", "threshold"),
        ("turn_detect", "turn_detection"),
        ("output_modality", "output_modalities"),
    ],
)
def test_settings_typo_type_error(typo: str, suggestion: str) -> None:
    with pytest.raises(TypeError) as info:
        settings_to_session(**{typo: 1})
    hint = str(info.value).split("Accepted:")[0]
    assert repr(typo) in hint
    assert "did you mean" in hint
    assert repr(suggestion) in hint


def test_settings_unknown_keyword_without_match_lists_accepted() -> None:
    with pytest.raises(TypeError, match="no close match") as info:
        settings_to_session(xyzzy=1)
    assert "silence_duration_ms" in str(info.value)


# -- merge_session ------------------------------------------------------------------------


def test_merge_recursive_and_inputs_unchanged() -> None:
    base = default_session()
    before = copy.deepcopy(base)
    update = {
        "audio": {
            "output": {"voice": "marin"},
            "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 700}},
        }
    }
    update_before = copy.deepcopy(update)
    out = merge_session(base, update)
    assert base == before
    assert update == update_before
    assert out["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
        "speed": 1.0,
    }
    td = out["audio"]["input"]["turn_detection"]
    assert td["silence_duration_ms"] == 700
    assert td["threshold"] == 0.5
    assert td["idle_timeout_ms"] is None
    out["audio"]["output"]["format"]["rate"] = 1
    assert base["audio"]["output"]["format"]["rate"] == 24000
    out["tools"].append("x")
    assert base["tools"] == []


def test_merge_turn_detection_type_change_replaces() -> None:
    out = merge_session(
        default_session(),
        {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}}},
    )
    assert out["audio"]["input"]["turn_detection"] == {"type": "semantic_vad", "eagerness": "low"}
    validate_session(out)
    # and back: server_vad fields from before are gone
    out2 = merge_session(out, {"audio": {"input": {"turn_detection": {"type": "server_vad"}}}})
    assert out2["audio"]["input"]["turn_detection"] == {"type": "server_vad"}
    # turn detection from null: the object is taken as is
    off = merge_session(default_session(), {"audio": {"input": {"turn_detection": None}}})
    assert off["audio"]["input"]["turn_detection"] is None
    on = merge_session(
        off, {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.2}}}}
    )
    assert on["audio"]["input"]["turn_detection"] == {"type": "server_vad", "threshold": 0.2}


def test_merge_clears() -> None:
    base = merge_session(
        default_session(),
        {
            "instructions": "old",
            "tools": [{"type": "function", "name": "f"}],
            "tracing": {"workflow_name": "w"},
            "audio": {
                "input": {
                    "transcription": {"model": "whisper-1", "language": "en"},
                    "noise_reduction": {"type": "near_field", "strength": 0.5},
                }
            },
        },
    )
    out = merge_session(
        base,
        {
            "instructions": "",
            "tools": [],
            "tracing": None,
            "audio": {
                "input": {"transcription": None, "noise_reduction": None, "turn_detection": None}
            },
        },
    )
    assert out["instructions"] == ""
    assert out["tools"] == []
    assert out["tracing"] is None
    assert out["audio"]["input"]["transcription"] is None
    assert out["audio"]["input"]["noise_reduction"] is None
    assert out["audio"]["input"]["turn_detection"] is None
    assert out["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}


def test_merge_replaced_as_unit() -> None:
    base = merge_session(
        default_session(),
        {
            "audio": {
                "input": {"transcription": {"model": "whisper-1", "language": "en", "prompt": "p"}}
            },
            "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}],
            "tool_choice": {"type": "mcp", "server_label": "s", "name": "n"},
            "prompt": {"id": "p1", "variables": {"x": "1"}},
        },
    )
    out = merge_session(
        base,
        {
            "audio": {
                "input": {
                    "transcription": {"model": "gpt-4o-transcribe"},
                    "format": {"type": "audio/pcmu"},
                },
                "output": {"format": {"type": "audio/pcma"}, "voice": {"id": "voice_1"}},
            },
            "tools": [{"type": "function", "name": "c"}],
            "tool_choice": {"type": "function", "name": "c"},
            "prompt": {"id": "p2"},
            "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
        },
    )
    assert out["audio"]["input"]["transcription"] == {"model": "gpt-4o-transcribe"}
    assert out["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert out["audio"]["output"]["format"] == {"type": "audio/pcma"}
    assert out["audio"]["output"]["voice"] == {"id": "voice_1"}
    assert out["tools"] == [{"type": "function", "name": "c"}]
    assert out["tool_choice"] == {"type": "function", "name": "c"}
    assert out["prompt"] == {"id": "p2"}
    validate_session(out)
    # pcm format with rate replaced by a partial pcm object: no rate kept
    pcm = merge_session(out, {"audio": {"input": {"format": {"type": "audio/pcm"}}}})
    assert pcm["audio"]["input"]["format"] == {"type": "audio/pcm"}


def test_merge_noise_reduction_keeps_strength() -> None:
    base = merge_session(
        default_session(),
        {"audio": {"input": {"noise_reduction": {"type": "near_field", "strength": 0.3}}}},
    )
    out = merge_session(base, {"audio": {"input": {"noise_reduction": {"type": "far_field"}}}})
    assert out["audio"]["input"]["noise_reduction"] == {"type": "far_field", "strength": 0.3}


def test_merge_unknown_and_mappingproxy() -> None:
    out = merge_session(DEFAULT_SESSION, {"vendor": {"a": 1}})
    out2 = merge_session(out, {"vendor": {"b": 2}})
    assert out2["vendor"] == {"a": 1, "b": 2}
    assert isinstance(out2["audio"], dict)


# -- defaults -------------------------------------------------------------------------------


def test_default_session_shape() -> None:
    d = default_session()
    assert d["type"] == "realtime"
    assert d["object"] == "realtime.session"
    assert d["model"] == "gpt-realtime"
    assert d["output_modalities"] == ["audio"]
    assert isinstance(d["instructions"], str)
    assert d["instructions"]
    assert d["audio"] == {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
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
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
    }
    assert d["tools"] == []
    assert d["tool_choice"] == "auto"
    assert d["max_output_tokens"] == "inf"
    assert d["truncation"] == "auto"
    assert d["tracing"] is None
    assert d["prompt"] is None
    assert d["include"] is None


def test_default_session_fresh_copies_and_constant() -> None:
    a, b = default_session(), default_session()
    assert a == b == dict(DEFAULT_SESSION)
    a["audio"]["output"]["voice"] = "marin"
    a["tools"].append({})
    assert b["audio"]["output"]["voice"] == "alloy"
    assert default_session()["tools"] == []
    with pytest.raises(TypeError):
        DEFAULT_SESSION["model"] = "x"  # type: ignore[index]


def test_default_session_model_and_overrides() -> None:
    d = default_session(
        "gpt-realtime-2.1", voice="marin", silence_duration_ms=500, id="sess_1", expires_at=10
    )
    assert d["model"] == "gpt-realtime-2.1"
    assert d["audio"]["output"]["voice"] == "marin"
    assert d["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 500
    assert d["audio"]["input"]["turn_detection"]["threshold"] == 0.5
    assert d["id"] == "sess_1"
    assert d["expires_at"] == 10
    assert validate_session(d) == d
    d = default_session(eagerness="low")
    assert d["audio"]["input"]["turn_detection"] == {"type": "semantic_vad", "eagerness": "low"}
    with pytest.raises(TypeError):
        default_session(voic="x")
    assert set(READ_ONLY_FIELDS) == {"id", "object", "expires_at"}


def test_informative_lists() -> None:
    assert KNOWN_VOICES == (
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
    for model in (
        "gpt-realtime-2.1",
        "gpt-realtime-2.1-mini",
        "gpt-realtime-2",
        "gpt-realtime-1.5",
        "gpt-realtime",
        "gpt-realtime-mini",
    ):
        assert model in KNOWN_MODELS
    assert "gpt-4o-mini-transcribe" in TRANSCRIPTION_MODELS
    assert "whisper-1" in TRANSCRIPTION_MODELS
    assert len(set(KNOWN_MODELS)) == len(KNOWN_MODELS)


# -- diff ------------------------------------------------------------------------------------


def test_diff_statuses() -> None:
    effective = default_session()
    effective["tools"] = [
        {"type": "function", "name": "b", "description": "B"},
        {
            "type": "function",
            "name": "a",
            "description": "server A",
            "parameters": {"type": "object"},
        },
    ]
    requested = {
        "type": "realtime",
        "instructions": "Be brief.",
        "audio": {
            "output": {"voice": "marin", "speed": 1},
            "input": {
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5 + 1e-12,
                    "silence_duration_ms": 500,
                }
            },
        },
        "tools": [
            {"type": "function", "name": "a", "description": "A"},
            {"type": "function", "name": "c"},
        ],
        "vendor_flag": True,
        "tracing": None,
        "output_modalities": ["audio"],
    }
    changes = diff_config(requested, effective)
    by_path = {c.path: c for c in changes}
    assert [c.path for c in changes] == [
        "type",
        "instructions",
        "audio.output.voice",
        "audio.output.speed",
        "audio.input.turn_detection.type",
        "audio.input.turn_detection.threshold",
        "audio.input.turn_detection.silence_duration_ms",
        "tools[0].type",
        "tools[0].name",
        "tools[0].description",
        "tools[1]",
        "vendor_flag",
        "tracing",
        "output_modalities",
    ]
    assert by_path["type"].status == "applied"
    assert by_path["instructions"].status == "changed"
    assert by_path["audio.output.voice"] == ConfigChange(
        "audio.output.voice", "marin", "alloy", "changed"
    )
    assert by_path["audio.output.speed"].status == "applied"  # 1 == 1.0
    assert by_path["audio.input.turn_detection.threshold"].status == "applied"  # within 1e-9
    assert by_path["audio.input.turn_detection.silence_duration_ms"].effective == 200
    assert by_path["tools[0].description"].status == "changed"
    assert by_path["tools[0].description"].effective == "server A"
    assert by_path["tools[1]"].status == "ignored"
    assert by_path["vendor_flag"] == ConfigChange("vendor_flag", True, None, "ignored")
    assert by_path["tracing"].status == "applied"
    assert by_path["output_modalities"].status == "applied"


def test_diff_edge_cases() -> None:
    eff = {"a": 1.0, "b": True, "c": [1, 2], "d": None, "e": {"x": 1}, "tools": [], "f": 0.1}
    changes = diff_config(
        {"a": 1, "b": 1, "c": [1, 2.0], "d": {"y": 1}, "e": {}, "tools": [], "f": 0.1 + 1e-6}, eff
    )
    status = {c.path: c.status for c in changes}
    assert status == {
        "a": "applied",
        "b": "changed",  # a bool is not a number
        "c": "applied",  # lists compared whole, numerically
        "d": "changed",
        "e": "changed",  # {} vs {"x": 1}: compared whole
        "tools": "applied",
        "f": "changed",
    }
    assert diff_config({}, eff) == []
    assert diff_config({"a": {"b": 1}}, {"a": 5}) == [ConfigChange("a", {"b": 1}, 5, "changed")]
    assert diff_config({"tools": [{"type": "function", "name": "f"}]}, {"tools": None}) == [
        ConfigChange("tools", [{"type": "function", "name": "f"}], None, "changed")
    ]
    mcp = [{"type": "mcp", "server_label": "s", "server_url": "u"}]
    assert [c.status for c in diff_config({"tools": mcp}, {"tools": mcp})] == ["applied"] * 3


def test_config_change_is_frozen_and_slotted() -> None:
    change = ConfigChange("a", 1, 1, "applied")
    with pytest.raises(AttributeError):
        change.path = "b"  # type: ignore[misc]
    assert not hasattr(change, "__dict__")


def test_format_diff() -> None:
    changes = [
        ConfigChange("audio.output.voice", "marin", "marin", "applied"),
        ConfigChange("audio.output.voice", "marin", "alloy", "changed"),
        ConfigChange("foo", 1, None, "ignored"),
    ]
    assert format_diff(changes) == (
        "✓ audio.output.voice = 'marin'\n"
        "✗ audio.output.voice: requested 'marin', server kept 'alloy'\n"
        "? foo: not in server config"
    )
    assert format_diff([]) == ""
    long = format_diff([ConfigChange("instructions", "x" * 500, "y", "changed")])
    assert len(long) < 250
    assert "…" in long
    text = format_diff(diff_config({"audio": {"output": {"speed": 1.2}}}, default_session()))
    assert text == "✗ audio.output.speed: requested 1.2, server kept 1.0"


# -- the openai SDK's own models ------------------------------------------------------------------


def _assert_no_extras(model: Any, where: str = "") -> None:
    """Recursively: the SDK model kept no field it does not declare."""
    from pydantic import BaseModel

    if isinstance(model, BaseModel):
        assert not model.model_extra, f"{where}: fields unknown to the SDK: {model.model_extra}"
        for name in type(model).model_fields:
            _assert_no_extras(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for i, item in enumerate(model):
            _assert_no_extras(item, f"{where}[{i}]")


@pytest.mark.sdk
def test_default_session_matches_sdk_models() -> None:
    pytest.importorskip("openai")
    from openai.types.realtime import (
        RealtimeSessionCreateRequest,
        RealtimeSessionCreateResponse,
    )
    from pydantic import TypeAdapter

    d = default_session()
    request = {k: v for k, v in d.items() if k not in READ_ONLY_FIELDS}
    model = TypeAdapter(RealtimeSessionCreateRequest).validate_python(request)
    _assert_no_extras(model)
    assert model.audio is not None
    assert model.audio.input is not None
    assert model.audio.input.turn_detection is not None
    assert model.audio.input.turn_detection.type == "server_vad"
    response = TypeAdapter(RealtimeSessionCreateResponse).validate_python(
        default_session(id="sess_1")
    )
    _assert_no_extras(response)
    assert response.object == "realtime.session"


@pytest.mark.sdk
def test_valid_samples_and_settings_match_sdk_models() -> None:
    pytest.importorskip("openai")
    from openai.types.realtime.session_update_event import SessionUpdateEvent
    from pydantic import TypeAdapter

    adapter = TypeAdapter(SessionUpdateEvent)
    for path, value in VALID:
        session = {"type": "realtime", **nest(path, value)} if path != "type" else nest(path, value)
        adapter.validate_python({"type": "session.update", "session": validate_session(session)})
    full = settings_to_session(
        voice="marin",
        speed=1.1,
        instructions="x",
        turn_detection="semantic_vad",
        eagerness="low",
        transcription="gpt-4o-mini-transcribe",
        noise_reduction="far_field",
        input_format="g711_alaw",
        output_modalities="audio",
        tools=[
            {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
        ],
        tool_choice={"type": "function", "name": "f"},
        max_output_tokens=100,
        truncation={"type": "retention_ratio", "retention_ratio": 0.7},
    )
    event = adapter.validate_python({"type": "session.update", "session": full})
    _assert_no_extras(event)
    transcription = settings_to_session(type="transcription", transcription="gpt-transcribe")
    _assert_no_extras(adapter.validate_python({"type": "session.update", "session": transcription}))


@pytest.mark.sdk
def test_response_params_match_sdk_model() -> None:
    pytest.importorskip("openai")
    from openai.types.realtime import RealtimeResponseCreateParams
    from pydantic import TypeAdapter

    params = validate_response_params(
        {
            "conversation": "none",
            "instructions": "x",
            "output_modalities": ["text"],
            "audio": {"output": {"voice": "marin", "format": {"type": "audio/pcm", "rate": 24000}}},
            "metadata": {"k": "v"},
            "max_output_tokens": 50,
        }
    )
    _assert_no_extras(TypeAdapter(RealtimeResponseCreateParams).validate_python(params))
