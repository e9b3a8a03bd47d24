"""Layer 5 helper: Python functions as Realtime function tools (no I/O).

:func:`function_schema` turns a typed function into a GA function tool::

    def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
        '''Current weather for a city.

        Args:
            city: The city name, e.g. "Paris".
            unit: Temperature unit.
        '''

    function_schema(get_weather) == {
        "type": "function", "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": 'The city name, e.g. "Paris".'},
            "unit": {"type": "string", "enum": ["C", "F"], "default": "C",
                     "description": "Temperature unit."}},
            "required": ["city"], "additionalProperties": False}}

Supported annotations: ``str``, ``int``, ``float``, ``bool``, ``None``, ``Any``,
``Literal[...]``, ``Enum`` subclasses, ``list[T]`` / ``set[T]`` / ``Sequence[T]``,
``tuple[T, ...]`` and ``tuple[A, B]``, ``dict[str, T]``, ``Optional[T]`` / ``T | None``,
other unions, dataclasses and TypedDicts (nested objects with their required keys), and
``Annotated[T, "description"]``. A parameter with a default, or typed ``Optional``, is
not required. Anything else raises a :class:`TypeError` that names the parameter.

Docstrings: the prose before the first section is the tool's description; parameter
descriptions come from Google (``Args:``), NumPy (``Parameters`` + dashes) or Sphinx
(``:param x:``) sections. A dataclass or TypedDict documents its fields the same way
(``Attributes:`` / ``Args:`` / ``:param:``).

:func:`parse_arguments` checks the model's JSON arguments against the same
annotations and converts them (Enum members, dataclass instances, tuples), raising
:class:`ToolArgumentsError` with a message meant for the model to read and recover.

:class:`ToolRegistry` keeps the tools of a session: add/remove/enable/disable, the
enabled tools' definitions, and change listeners (the session sends a
``session.update``; a settings panel refreshes).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import json
import re
import threading
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union

__all__ = [
    "Tool",
    "ToolArgumentsError",
    "ToolChange",
    "ToolRegistry",
    "function_schema",
    "parse_arguments",
    "parse_docstring",
    "to_jsonable",
]

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""Names the Realtime API accepts for a function tool."""

_SUPPORTED = (
    "str, int, float, bool, None, Any, Literal, Enum, list/set/tuple/Sequence, "
    "dict[str, T], Optional/unions, dataclasses, TypedDicts"
)
_MISSING = object()


class ToolArgumentsError(ValueError):
    """The model's arguments do not fit the function (bad JSON, missing, wrong type)."""


# ---------------------------------------------------------------------------
# Docstrings
# ---------------------------------------------------------------------------

_GOOGLE_PARAMS = {
    "args",
    "arguments",
    "parameters",
    "params",
    "keyword args",
    "keyword arguments",
    "kwargs",
    "attributes",
    "fields",
}
_GOOGLE_SECTIONS = _GOOGLE_PARAMS | {
    "returns",
    "return",
    "yields",
    "raises",
    "examples",
    "example",
    "notes",
    "note",
    "see also",
    "references",
    "warnings",
    "warning",
    "todo",
}
_NUMPY_PARAMS = {"parameters", "other parameters", "attributes", "fields"}
_SPHINX_FIELD = re.compile(r"^:(\w+)(?:\s+([^:]*?))?\s*:\s*(.*)$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?::\s*(.*))?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(lines: list[str]) -> str:
    return " ".join(x.strip() for x in lines if x.strip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """``(description, {parameter: description})`` from a Google, NumPy or Sphinx docstring.

    The description is the prose before the first section (paragraphs kept apart
    by a blank line, lines within a paragraph joined).
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    prose: list[str] = []
    in_prose = True
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        heading = stripped.rstrip(":").lower()
        underlined = (
            i + 1 < len(lines)
            and set(lines[i + 1].strip()) == {"-"}
            and _indent(lines[i + 1]) == _indent(line)
        )
        if underlined:  # NumPy section
            in_prose = False
            i += 2
            base = _indent(line)
            body: list[str] = []
            while i < len(lines):
                nxt = lines[i]
                if (
                    i + 1 < len(lines)
                    and nxt.strip()
                    and set(lines[i + 1].strip()) == {"-"}
                    and _indent(nxt) <= base
                ):
                    break
                body.append(nxt)
                i += 1
            if heading in _NUMPY_PARAMS:
                _numpy_entries(body, base, params)
            continue
        if stripped.endswith(":") and heading in _GOOGLE_SECTIONS and not stripped.startswith(":"):
            in_prose = False
            base = _indent(line)
            i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
                body.append(lines[i])
                i += 1
            if heading in _GOOGLE_PARAMS:
                _google_entries(body, params)
            continue
        match = _SPHINX_FIELD.match(stripped)
        if match:
            in_prose = False
            kind, arg, text = match.groups()
            i += 1
            more: list[str] = []
            while i < len(lines) and lines[i].strip() and _indent(lines[i]) > _indent(line):
                more.append(lines[i])
                i += 1
            if kind in ("param", "parameter", "arg", "argument", "key", "keyword", "ivar"):
                name = (arg or "").split()[-1] if arg else ""
                if name:
                    params[name] = _join([text, *more])
            continue
        if in_prose:
            prose.append(line)
        i += 1
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*prose, ""]:
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append(_join(current))
            current = []
    return "\n\n".join(paragraphs), params


def _google_entries(body: list[str], out: dict[str, str]) -> None:
    content = [x for x in body if x.strip()]
    if not content:
        return
    base = min(_indent(x) for x in content)
    name: str | None = None
    text: list[str] = []
    for line in content:
        match = _GOOGLE_ENTRY.match(line.strip()) if _indent(line) == base else None
        if match:
            if name:
                out[name] = _join(text)
            name, text = match.group(1), [match.group(3)]
        elif name:
            text.append(line)
    if name:
        out[name] = _join(text)


def _numpy_entries(body: list[str], base: int, out: dict[str, str]) -> None:
    name: str | None = None
    text: list[str] = []
    for line in body:
        if not line.strip():
            continue
        match = _NUMPY_ENTRY.match(line.strip()) if _indent(line) <= base else None
        if match:
            if name:
                out[name] = _join(text)
            name, text = match.group(1), []
        elif name:
            text.append(line)
    if name:
        out[name] = _join(text)


# ---------------------------------------------------------------------------
# Annotations → JSON schema
# ---------------------------------------------------------------------------


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")


def _strip_required(tp: Any) -> Any:
    """``Required[T]`` / ``NotRequired[T]`` / ``ReadOnly[T]`` → ``T``."""
    while typing.get_origin(tp) is not None and getattr(typing.get_origin(tp), "_name", None) in (
        "Required",
        "NotRequired",
        "ReadOnly",
    ):
        tp = typing.get_args(tp)[0]
    return tp


def _td_required(cls: type, key: str, hint: Any) -> bool:
    """Is ``key`` required in TypedDict ``cls``? ``Required``/``NotRequired`` win (with
    postponed annotations ``__required_keys__`` cannot see them), then ``total``."""
    tp = hint
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    name = getattr(typing.get_origin(tp), "_name", None)
    if name == "NotRequired":
        return False
    if name == "Required":
        return True
    keys = getattr(cls, "__required_keys__", None)
    if keys is not None and key in keys:
        return True
    return bool(getattr(cls, "__total__", True)) and keys is None


def _is_union(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin is Union or origin is types.UnionType


def _is_optional(tp: Any) -> bool:
    tp = _unannotate(tp)[0]
    return _is_union(tp) and type(None) in typing.get_args(tp)


def _unannotate(tp: Any) -> tuple[Any, str | None]:
    """``Annotated[T, "doc", ...]`` → ``(T, "doc")``."""
    if typing.get_origin(tp) is typing.Annotated:
        args = typing.get_args(tp)
        doc = next((a for a in args[1:] if isinstance(a, str)), None)
        return args[0], doc
    return tp, None


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception as exc:  # a forward reference the function's module cannot resolve
        raise TypeError(f"cannot resolve the type hints of {obj!r}: {exc}") from exc


def _class_doc(cls: type) -> tuple[str, dict[str, str]]:
    doc = cls.__doc__ or ""
    # A dataclass without a docstring gets an auto one ("Point(x: int, y: int)").
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        return "", {}
    if _is_typeddict(cls) and doc.startswith(f"{cls.__name__}("):
        return "", {}
    return parse_docstring(doc)


class _SchemaBuilder:
    def __init__(self, where: str) -> None:
        self.where = where  # "parameter 'x' of f"
        self.stack: list[type] = []

    def fail(self, tp: Any, why: str = "unsupported type") -> TypeError:
        name = getattr(tp, "__name__", None) or repr(tp)
        if getattr(tp, "__module__", "builtins") not in ("builtins", "typing"):
            name = f"{tp.__module__}.{name}" if isinstance(tp, type) else repr(tp)
        return TypeError(f"{self.where}: {why} {name} (supported: {_SUPPORTED})")

    def schema(self, tp: Any) -> dict[str, Any]:
        tp, doc = _unannotate(_strip_required(tp))
        out = self._schema(tp)
        if doc:
            out = {**out, "description": doc}
        return out

    def _schema(self, tp: Any) -> dict[str, Any]:
        if tp is Any or tp is object:
            return {}
        if tp is None or tp is type(None):
            return {"type": "null"}
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer"}
        if tp is float:
            return {"type": "number"}
        if tp is str:
            return {"type": "string"}
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is Literal:
            return _enum_schema(list(args))
        if _is_union(tp):
            members = [a for a in args if a is not type(None)]
            nullable = len(members) < len(args)
            if len(members) == 1:
                inner = self.schema(members[0])
                return _nullable(inner) if nullable else inner
            options = [self.schema(a) for a in members]
            if nullable:
                options.append({"type": "null"})
            return {"anyOf": options}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _enum_schema([m.value for m in tp])
        if origin in (list, set, frozenset, Sequence, typing.Sequence) or tp in (
            list,
            set,
            frozenset,
        ):
            out: dict[str, Any] = {"type": "array"}
            if args:
                out["items"] = self.schema(args[0])
            if origin in (set, frozenset) or tp in (set, frozenset):
                out["uniqueItems"] = True
            return out
        if origin is tuple or tp is tuple:
            if not args or (len(args) == 2 and args[1] is Ellipsis):
                return {"type": "array", **({"items": self.schema(args[0])} if args else {})}
            if args == ((),):  # tuple[()]
                return {"type": "array", "maxItems": 0}
            return {
                "type": "array",
                "prefixItems": [self.schema(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        if origin in (dict, Mapping, typing.Mapping) or tp is dict:
            if args and args[0] is not str:
                raise self.fail(tp, "dict keys must be str in JSON, not")
            out = {"type": "object"}
            if args:
                out["additionalProperties"] = self.schema(args[1])
            return out
        if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or _is_typeddict(tp)):
            if tp in self.stack:
                raise self.fail(tp, "recursive type")
            self.stack.append(tp)
            try:
                return self._object(tp)
            finally:
                self.stack.pop()
        raise self.fail(tp)

    def _object(self, cls: type) -> dict[str, Any]:
        description, docs = _class_doc(cls)
        hints = _hints(cls)
        props: dict[str, Any] = {}
        required: list[str] = []
        if dataclasses.is_dataclass(cls):
            for f in dataclasses.fields(cls):
                if not f.init:
                    continue
                prop = self.schema(hints.get(f.name, Any))
                if f.default is not dataclasses.MISSING:
                    _add_default(prop, f.default)
                elif f.default_factory is dataclasses.MISSING:
                    required.append(f.name)
                if f.name in docs and "description" not in prop:
                    prop["description"] = docs[f.name]
                props[f.name] = prop
        else:
            for key, hint in hints.items():
                prop = self.schema(hint)
                if key in docs and "description" not in prop:
                    prop["description"] = docs[key]
                props[key] = prop
                if _td_required(cls, key, hint):
                    required.append(key)
        out: dict[str, Any] = {"type": "object"}
        if description:
            out["description"] = description
        out["properties"] = props
        out["required"] = required
        out["additionalProperties"] = False
        return out


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    kinds = {_json_type(v) for v in values}
    out: dict[str, Any] = {}
    if len(kinds) == 1 and None not in kinds:
        out["type"] = kinds.pop()
    out["enum"] = values
    return out


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return None


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str) and "enum" not in schema:
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _add_default(prop: dict[str, Any], default: Any) -> None:
    try:
        value = to_jsonable(default)
        json.dumps(value)
    except (TypeError, ValueError):
        return  # not representable: leave it out of the schema
    prop["default"] = value


def to_jsonable(value: Any) -> Any:
    """Dataclasses → dicts, Enums → values, tuples/sets → lists (recursively); numpy
    scalars and arrays → Python numbers and lists. Anything else is returned as is."""
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist) and type(value).__module__.startswith("numpy"):
        return tolist()
    return value


@dataclass(frozen=True)
class _Param:
    name: str
    annotation: Any
    required: bool
    default: Any  # _MISSING when none


def _signature(fn: Callable[..., Any]) -> list[_Param]:
    where = f"{getattr(fn, '__qualname__', fn)!s}"
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot read the signature of {where}: {exc}") from exc
    hints = _hints(fn)
    out: list[_Param] = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            star = "*" if p.kind is p.VAR_POSITIONAL else "**"
            raise TypeError(
                f"parameter '{star}{p.name}' of {where}: a tool takes named parameters only"
            )
        if p.kind is p.POSITIONAL_ONLY:
            raise TypeError(
                f"parameter '{p.name}' of {where}: positional-only parameters cannot be "
                "passed by name"
            )
        if p.name not in hints:
            raise TypeError(
                f"parameter '{p.name}' of {where} has no type hint: annotate it "
                f"(e.g. '{p.name}: str', or Any for any JSON value)"
            )
        tp = hints[p.name]
        default = _MISSING if p.default is p.empty else p.default
        required = default is _MISSING and not _is_optional(tp)
        out.append(_Param(p.name, tp, required, default))
    return out


def function_schema(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """The GA function tool for ``fn``: ``{"type": "function", "name", "description",
    "parameters"}`` (see the module docstring for the supported annotations)."""
    tool_name = str(name or getattr(fn, "__name__", ""))
    if not TOOL_NAME.fullmatch(tool_name):
        raise ValueError(
            f"invalid tool name {tool_name!r}: 1-64 characters of a-z, A-Z, 0-9, _ and - "
            "(pass name=...)"
        )
    doc_description, docs = parse_docstring(inspect.getdoc(fn))
    where_fn = getattr(fn, "__qualname__", tool_name)
    props: dict[str, Any] = {}
    required: list[str] = []
    for p in _signature(fn):
        prop = _SchemaBuilder(f"parameter '{p.name}' of {where_fn}").schema(p.annotation)
        if p.default is not _MISSING and p.default is not None:
            _add_default(prop, p.default)
        if p.name in docs and "description" not in prop:
            prop["description"] = docs[p.name]
        props[p.name] = prop
        if p.required:
            required.append(p.name)
    return {
        "type": "function",
        "name": tool_name,
        "description": description if description is not None else doc_description,
        "parameters": {
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": False,
        },
    }


# ---------------------------------------------------------------------------
# Arguments: JSON → validated, converted kwargs
# ---------------------------------------------------------------------------


def _describe(value: Any) -> str:
    kind = _json_type(value) or ("object" if isinstance(value, dict) else "array")
    text = json.dumps(value) if not isinstance(value, (dict, list)) else kind
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}" if kind not in ("object", "array") else kind


class _Converter:
    def convert(self, value: Any, tp: Any, path: str) -> Any:
        tp = _unannotate(_strip_required(tp))[0]
        if tp is Any or tp is object:
            return value
        if tp is None or tp is type(None):
            if value is None:
                return None
            raise self._wrong(path, "null", value)
        if tp is bool:
            if isinstance(value, bool):
                return value
            raise self._wrong(path, "a boolean", value)
        if tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise self._wrong(path, "an integer", value)
        if tp is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            raise self._wrong(path, "a number", value)
        if tp is str:
            if isinstance(value, str):
                return value
            raise self._wrong(path, "a string", value)
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is Literal:
            for option in args:
                if value == option and type(value) is type(option):
                    return option
            raise ToolArgumentsError(
                f"{path}: must be one of {json.dumps(list(args))}, got {_describe(value)}"
            )
        if _is_union(tp):
            if value is None and type(None) in args:
                return None
            errors: list[str] = []
            for member in args:
                if member is type(None):
                    continue
                try:
                    return self.convert(value, member, path)
                except ToolArgumentsError as exc:
                    errors.append(str(exc))
            if len(errors) == 1:
                raise ToolArgumentsError(errors[0])
            raise ToolArgumentsError(
                f"{path}: matches none of the allowed types ({_describe(value)})"
            )
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            for member in tp:
                if member.value == value and type(member.value) is type(value):
                    return member
            allowed = [m.value for m in tp]
            raise ToolArgumentsError(
                f"{path}: must be one of {json.dumps(to_jsonable(allowed))}, got {_describe(value)}"
            )
        if origin in (list, set, frozenset, Sequence, typing.Sequence, tuple) or tp in (
            list,
            set,
            frozenset,
            tuple,
        ):
            if not isinstance(value, list):
                raise self._wrong(path, "an array", value)
            kind = origin or tp
            fixed = bool(args) and not (len(args) == 2 and args[1] is Ellipsis)
            if kind is tuple and fixed and args != ((),):
                if len(value) != len(args):
                    raise ToolArgumentsError(
                        f"{path}: must have exactly {len(args)} items, got {len(value)}"
                    )
                return tuple(
                    self.convert(v, a, f"{path}[{i}]")
                    for i, (v, a) in enumerate(zip(value, args, strict=True))
                )
            item_tp = args[0] if args else Any
            items = [self.convert(v, item_tp, f"{path}[{i}]") for i, v in enumerate(value)]
            if kind is tuple:
                return tuple(items)
            if kind in (set, frozenset):
                try:
                    return kind(items)
                except TypeError as exc:
                    raise ToolArgumentsError(f"{path}: items must be hashable ({exc})") from None
            return items
        if origin in (dict, Mapping, typing.Mapping) or tp is dict:
            if not isinstance(value, dict):
                raise self._wrong(path, "an object", value)
            value_tp = args[1] if args else Any
            return {k: self.convert(v, value_tp, f"{path}.{k}") for k, v in value.items()}
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self._dataclass(value, tp, path)
        if _is_typeddict(tp):
            return self._typeddict(value, tp, path)
        raise ToolArgumentsError(f"{path}: cannot convert to {tp!r}")

    def _dataclass(self, value: Any, cls: type, path: str) -> Any:
        if not isinstance(value, dict):
            raise self._wrong(path, "an object", value)
        hints = _hints(cls)
        fields_ = {f.name: f for f in dataclasses.fields(cls) if f.init}
        _unknown(value, fields_, path)
        kwargs: dict[str, Any] = {}
        missing: list[str] = []
        for name, f in fields_.items():
            if name in value:
                kwargs[name] = self.convert(value[name], hints.get(name, Any), f"{path}.{name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                missing.append(name)
        if missing:
            raise ToolArgumentsError(f"{path}: missing required key(s) {', '.join(missing)}")
        return cls(**kwargs)

    def _typeddict(self, value: Any, cls: type, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._wrong(path, "an object", value)
        hints = _hints(cls)
        _unknown(value, hints, path)
        missing = [k for k, h in hints.items() if _td_required(cls, k, h) and k not in value]
        if missing:
            raise ToolArgumentsError(f"{path}: missing required key(s) {', '.join(missing)}")
        return {k: self.convert(v, hints[k], f"{path}.{k}") for k, v in value.items()}

    @staticmethod
    def _wrong(path: str, expected: str, value: Any) -> ToolArgumentsError:
        return ToolArgumentsError(f"{path}: expected {expected}, got {_describe(value)}")


def _unknown(value: Mapping[str, Any], known: Mapping[str, Any], path: str) -> None:
    extra = [k for k in value if k not in known]
    if extra:
        raise ToolArgumentsError(
            f"{path}: unexpected key(s) {', '.join(map(str, extra))} "
            f"(allowed: {', '.join(known) or 'none'})"
        )


def _load_arguments(arguments_json: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if arguments_json is None:
        return {}
    if isinstance(arguments_json, Mapping):
        return dict(arguments_json)
    if not arguments_json.strip():
        return {}
    try:
        value = json.loads(arguments_json)
    except ValueError as exc:
        raise ToolArgumentsError(f"the arguments are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ToolArgumentsError(f"the arguments must be a JSON object, got {_describe(value)}")
    return value


def _parse(params: list[_Param], arguments_json: str | Mapping[str, Any] | None) -> dict[str, Any]:
    raw = _load_arguments(arguments_json)
    known = {p.name: p for p in params}
    problems: list[str] = []
    extra = [k for k in raw if k not in known]
    if extra:
        problems.append(
            f"unexpected argument(s) {', '.join(extra)} (allowed: {', '.join(known) or 'none'})"
        )
    kwargs: dict[str, Any] = {}
    for p in params:
        if p.name not in raw:
            if p.required:
                problems.append(f"missing required argument '{p.name}'")
            elif p.default is _MISSING:  # Optional without a default: None
                kwargs[p.name] = None
            continue
        try:
            kwargs[p.name] = _Converter().convert(raw[p.name], p.annotation, p.name)
        except ToolArgumentsError as exc:
            problems.append(str(exc))
    if problems:
        raise ToolArgumentsError("; ".join(problems))
    return kwargs


def parse_arguments(
    fn: Callable[..., Any], arguments_json: str | Mapping[str, Any] | None
) -> dict[str, Any]:
    """The model's ``arguments`` (a JSON string) as keyword arguments for ``fn``.

    Values are checked against ``fn``'s annotations and converted (Enum members,
    dataclass instances, tuples, sets); an omitted ``Optional`` parameter without a
    default gets None. Raises :class:`ToolArgumentsError` listing every problem
    (invalid JSON, missing or unexpected arguments, wrong types) in words the model
    can act on.
    """
    return _parse(_signature(fn), arguments_json)


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------


@dataclass
class Tool:
    """One registered function tool."""

    name: str
    fn: Callable[..., Any]
    description: str
    parameters: dict[str, Any]
    timeout: float | None = 30.0
    """Seconds the call may take; None for no limit."""
    enabled: bool = True
    _params: list[_Param] = field(default_factory=list, repr=False)

    @property
    def is_async(self) -> bool:
        fn = self.fn
        while isinstance(fn, functools.partial):
            fn = fn.func
        return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 (an async __call__ on an object)
        )

    def definition(self) -> dict[str, Any]:
        """The GA function tool dict sent in ``session.update``."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }

    def parse(self, arguments_json: str | Mapping[str, Any] | None) -> dict[str, Any]:
        """:func:`parse_arguments` for this tool (the signature is read once)."""
        return _parse(self._params, arguments_json)


@dataclass(frozen=True)
class ToolChange:
    """What changed in a :class:`ToolRegistry` (passed to ``on_change`` listeners)."""

    kind: Literal["added", "replaced", "removed", "enabled", "disabled"]
    name: str


ToolListener = Callable[[ToolChange], None]


class ToolRegistry:
    """The function tools of a session, by name, in registration order.

    Thread-safe. Every change calls the ``on_change`` listeners synchronously, in
    the thread that made it, after the change (a listener that raises is
    skipped, never breaking the change). Adding a name that exists replaces the
    tool (re-running a notebook cell redefines it).
    """

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._listeners: list[ToolListener] = []
        self._lock = threading.RLock()
        self.listener_errors: list[BaseException] = []

    # -- changes --------------------------------------------------------------

    def add(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = 30.0,
        enabled: bool = True,
    ) -> Tool:
        """Register ``fn`` (sync or async) as a tool; returns the :class:`Tool`."""
        if not callable(fn):
            raise TypeError(f"a tool is a function, got {type(fn).__name__}")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive (or None for no limit)")
        schema = function_schema(fn, name=name, description=description)
        tool = Tool(
            name=schema["name"],
            fn=fn,
            description=schema["description"],
            parameters=schema["parameters"],
            timeout=timeout,
            enabled=enabled,
            _params=_signature(fn),
        )
        with self._lock:
            kind: Literal["added", "replaced"] = "replaced" if tool.name in self._tools else "added"
            self._tools[tool.name] = tool
        self._notify(ToolChange(kind, tool.name))
        return tool

    def remove(self, name: str) -> Tool:
        with self._lock:
            tool = self._tools.pop(self._known(name))
        self._notify(ToolChange("removed", name))
        return tool

    def enable(self, name: str) -> None:
        self.set_enabled(name, True)

    def disable(self, name: str) -> None:
        self.set_enabled(name, False)

    def set_enabled(self, name: str, enabled: bool) -> None:
        with self._lock:
            tool = self._tools[self._known(name)]
            if tool.enabled == enabled:
                return
            tool.enabled = enabled
        self._notify(ToolChange("enabled" if enabled else "disabled", name))

    def clear(self) -> None:
        for name in self.names:
            self.remove(name)

    def _known(self, name: str) -> str:
        if name not in self._tools:
            known = ", ".join(self._tools) or "none"
            raise KeyError(f"no tool named {name!r} (tools: {known})")
        return name

    # -- listeners ----------------------------------------------------------------

    def on_change(self, callback: ToolListener) -> ToolListener:
        """Call ``callback(change)`` after every change; usable as a decorator."""
        with self._lock:
            self._listeners.append(callback)
        return callback

    def off_change(self, callback: ToolListener) -> None:
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def _notify(self, change: ToolChange) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception as exc:
                self.listener_errors.append(exc)

    # -- views ------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Every tool's name, enabled or not."""
        with self._lock:
            return list(self._tools)

    @property
    def enabled(self) -> list[str]:
        """Names of the enabled tools."""
        with self._lock:
            return [t.name for t in self._tools.values() if t.enabled]

    def definitions(self) -> list[dict[str, Any]]:
        """The enabled tools as GA function tool dicts (for ``session.tools``)."""
        with self._lock:
            return [t.definition() for t in self._tools.values() if t.enabled]

    def get(self, name: str) -> Tool | None:
        with self._lock:
            return self._tools.get(name)

    def __getitem__(self, name: str) -> Tool:
        with self._lock:
            return self._tools[self._known(name)]

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        with self._lock:
            return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        with self._lock:
            parts = [t.name if t.enabled else f"{t.name} (disabled)" for t in self._tools.values()]
        return f"<ToolRegistry {', '.join(parts) or 'empty'}>"
