"""Layer 5 helper: JSON schema from type hints and docstrings, argument parsing, registry."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict, Union

import pytest

from realtime_widget.protocol.config import validate_session
from realtime_widget.tools import (
    ToolArgumentsError,
    ToolChange,
    ToolRegistry,
    function_schema,
    parse_arguments,
    parse_docstring,
    to_jsonable,
)


def props(fn: Any) -> dict[str, Any]:
    schema: dict[str, Any] = function_schema(fn)["parameters"]["properties"]
    return schema


def required(fn: Any) -> list[str]:
    names: list[str] = function_schema(fn)["parameters"]["required"]
    return names


# -- schema ---------------------------------------------------------------------------


def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name,
            e.g. "Paris".
        unit: Temperature unit.
    """
    return {}


def test_weather_schema_is_a_ga_function_tool() -> None:
    tool = function_schema(get_weather)
    assert tool == {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": 'The city name, e.g. "Paris".'},
                "unit": {
                    "type": "string",
                    "enum": ["C", "F"],
                    "default": "C",
                    "description": "Temperature unit.",
                },
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    }
    # The protocol core accepts it as a session tool.
    validate_session({"type": "realtime", "tools": [tool]})


def test_scalars() -> None:
    def f(s: str, i: int, x: float, b: bool, anything: Any) -> None: ...

    assert props(f) == {
        "s": {"type": "string"},
        "i": {"type": "integer"},
        "x": {"type": "number"},
        "b": {"type": "boolean"},
        "anything": {},
    }
    assert required(f) == ["s", "i", "x", "b", "anything"]


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def test_literal_and_enum() -> None:
    def f(
        mode: Literal["a", "b"],
        n: Literal[1, 2, 3],
        mixed: Literal["x", 1],
        color: Color = Color.GREEN,
        level: Level = Level.LOW,
    ) -> None: ...

    p = props(f)
    assert p["mode"] == {"type": "string", "enum": ["a", "b"]}
    assert p["n"] == {"type": "integer", "enum": [1, 2, 3]}
    assert p["mixed"] == {"enum": ["x", 1]}
    assert p["color"] == {"type": "string", "enum": ["red", "green"], "default": "green"}
    assert p["level"] == {"type": "integer", "enum": [1, 2], "default": 1}
    assert required(f) == ["mode", "n", "mixed"]


def test_lists_tuples_sets() -> None:
    def f(
        *,
        a: list[str],
        b: tuple[int, ...],
        c: tuple[int, str],
        d: set[int],
        e: Sequence[float],
        g: list,  # type: ignore[type-arg]
    ) -> None: ...

    p = props(f)
    assert p["a"] == {"type": "array", "items": {"type": "string"}}
    assert p["b"] == {"type": "array", "items": {"type": "integer"}}
    assert p["c"] == {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    assert p["d"] == {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    assert p["e"] == {"type": "array", "items": {"type": "number"}}
    assert p["g"] == {"type": "array"}


def test_optional_and_defaults_are_not_required() -> None:
    def f(
        *,
        a: Optional[int],  # noqa: UP045 (the old spelling is supported too)
        b: str | None,
        c: int = 3,
        d: list[str] | None = None,
        e: Union[int, str] = 1,  # noqa: UP007
        f: float = 0.5,
    ) -> None: ...

    p = props(f)
    assert p["a"] == {"type": ["integer", "null"]}
    assert p["b"] == {"type": ["string", "null"]}
    assert p["c"] == {"type": "integer", "default": 3}
    assert p["d"] == {"type": ["array", "null"], "items": {"type": "string"}}
    assert p["e"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 1}
    assert p["f"] == {"type": "number", "default": 0.5}
    assert required(f) == []


def test_dict_of_str() -> None:
    def f(counts: dict[str, int], meta: dict[str, Any]) -> None: ...

    p = props(f)
    assert p["counts"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert p["meta"] == {"type": "object", "additionalProperties": {}}


@dataclass
class Point:
    """A point on the map.

    Attributes:
        lat: Latitude in degrees.
        lon: Longitude in degrees.
    """

    lat: float
    lon: float
    label: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class Route:
    start: Point
    stops: list[Point]
    mode: Literal["walk", "drive"] = "walk"


class Filters(TypedDict):
    """Search filters.

    Args:
        max_price: Highest price in euros.
    """

    max_price: float
    open_now: NotRequired[bool]


class Loose(TypedDict, total=False):
    a: int
    b: str


def test_nested_dataclasses() -> None:
    def plan(route: Route) -> None: ...

    route = props(plan)["route"]
    assert route["type"] == "object"
    assert route["required"] == ["start", "stops"]
    assert route["additionalProperties"] is False
    assert "description" not in route  # the dataclass's auto-generated __doc__ is skipped
    start = route["properties"]["start"]
    assert start["description"] == "A point on the map."
    assert start["properties"]["lat"] == {"type": "number", "description": "Latitude in degrees."}
    assert start["properties"]["label"] == {"type": "string", "default": ""}
    assert start["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert start["required"] == ["lat", "lon"]
    assert route["properties"]["stops"]["items"] == start
    assert route["properties"]["mode"]["default"] == "walk"


def test_typeddicts() -> None:
    def search(filters: Filters, loose: Loose | None = None) -> None: ...

    p = props(search)
    assert p["filters"] == {
        "type": "object",
        "description": "Search filters.",
        "properties": {
            "max_price": {"type": "number", "description": "Highest price in euros."},
            "open_now": {"type": "boolean"},
        },
        "required": ["max_price"],
        "additionalProperties": False,
    }
    assert p["loose"]["type"] == ["object", "null"]
    assert p["loose"]["required"] == []


def test_annotated_description_and_explicit_names() -> None:
    def f(q: Annotated[str, "What to look for."]) -> None:
        """Search."""

    assert props(f)["q"] == {"type": "string", "description": "What to look for."}
    tool = function_schema(f, name="web_search", description="Search the web.")
    assert (tool["name"], tool["description"]) == ("web_search", "Search the web.")


def test_unsupported_annotations_name_the_parameter() -> None:
    def f(when: datetime.datetime) -> None: ...

    def g(city, n: int) -> None: ...  # type: ignore[no-untyped-def]

    def h(*args: int) -> None: ...

    def k(m: dict[int, str]) -> None: ...

    def nested(points: list[complex]) -> None: ...

    with pytest.raises(TypeError, match=r"parameter 'when' of .*f: unsupported type datetime"):
        function_schema(f)
    with pytest.raises(TypeError, match=r"parameter 'city' .* has no type hint"):
        function_schema(g)
    with pytest.raises(TypeError, match=r"parameter '\*args'"):
        function_schema(h)
    with pytest.raises(TypeError, match=r"parameter 'm' .*dict keys must be str"):
        function_schema(k)
    with pytest.raises(TypeError, match=r"parameter 'points' .*complex"):
        function_schema(nested)


@dataclass
class Node:
    value: int
    children: list[Node]


def test_recursive_dataclass_is_refused() -> None:
    def f(tree: Node) -> None: ...

    with pytest.raises(TypeError, match=r"parameter 'tree' .*recursive type"):
        function_schema(f)


def test_invalid_tool_name() -> None:
    with pytest.raises(ValueError, match="invalid tool name"):
        function_schema(lambda: None)
    assert function_schema(lambda: None, name="noop")["name"] == "noop"


# -- docstrings --------------------------------------------------------------------------


def test_google_docstring() -> None:
    doc = """Book a table.

    Picks the first free slot.

    Args:
        name (str): Who books.
        size: How many people,
            children included.

    Returns:
        The booking id.
    """
    assert parse_docstring(doc) == (
        "Book a table.\n\nPicks the first free slot.",
        {"name": "Who books.", "size": "How many people, children included."},
    )


def test_numpy_docstring() -> None:
    doc = """Book a table.

    Parameters
    ----------
    name : str
        Who books.
    size : int, optional
        How many
        people.

    Returns
    -------
    str
        The booking id.
    """
    assert parse_docstring(doc) == (
        "Book a table.",
        {"name": "Who books.", "size": "How many people."},
    )


def test_sphinx_docstring() -> None:
    doc = """Book a table.

    :param name: Who books.
    :param int size: How many
        people.
    :type size: int
    :returns: The booking id.
    """
    assert parse_docstring(doc) == (
        "Book a table.",
        {"name": "Who books.", "size": "How many people."},
    )


def test_docstring_descriptions_reach_the_schema() -> None:
    def book(name: str, size: int = 2) -> str:
        """Book a table.

        :param name: Who books.
        :param size: How many people.
        """
        return ""

    p = props(book)
    assert p["name"]["description"] == "Who books."
    assert p["size"] == {"type": "integer", "default": 2, "description": "How many people."}
    assert parse_docstring(None) == ("", {})


# -- arguments ----------------------------------------------------------------------------


def test_parse_converts_values() -> None:
    def f(
        *,
        city: str,
        color: Color,
        route: Route,
        filters: Filters,
        pair: tuple[int, str],
        ids: set[int],
        ratio: float,
        n: int,
        note: str | None,
        unit: Literal["C", "F"] = "C",
    ) -> None: ...

    kwargs = parse_arguments(
        f,
        """{"city": "Oslo", "color": "red", "route": {"start": {"lat": 1, "lon": 2},
        "stops": [{"lat": 3, "lon": 4, "label": "x"}]}, "filters": {"max_price": 20},
        "pair": [1, "a"], "ids": [1, 2, 2], "ratio": 1, "n": 3.0}""",
    )
    assert kwargs == {
        "city": "Oslo",
        "color": Color.RED,
        "route": Route(Point(1.0, 2.0), [Point(3.0, 4.0, "x")]),
        "filters": {"max_price": 20.0},
        "pair": (1, "a"),
        "ids": {1, 2},
        "ratio": 1.0,
        "n": 3,
        "note": None,  # Optional without default: None
    }
    assert isinstance(kwargs["ratio"], float)
    assert isinstance(kwargs["route"].start.lat, float)
    assert parse_arguments(lambda: None, "") == {}
    assert parse_arguments(get_weather, {"city": "Rome"}) == {"city": "Rome"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('{"city": ', "not valid JSON"),
        ("[1, 2]", "must be a JSON object, got array"),
        ("{}", "missing required argument 'city'"),
        ('{"city": 3}', "city: expected a string, got integer 3"),
        ('{"city": "x", "unit": "K"}', 'unit: must be one of ["C", "F"], got string "K"'),
        ('{"city": "x", "wind": true}', "unexpected argument(s) wind (allowed: city, unit)"),
        ('{"city": null}', "city: expected a string, got null"),
    ],
)
def test_parse_errors(arguments: str, message: str) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        parse_arguments(get_weather, arguments)
    assert message in str(info.value)


def test_parse_nested_errors_and_all_problems_at_once() -> None:
    def f(route: Route, n: int, flag: bool, color: Color) -> None: ...

    with pytest.raises(ToolArgumentsError) as info:
        parse_arguments(
            f,
            '{"route": {"start": {"lat": "north", "lon": 1}, "stops": []},'
            ' "n": 1.5, "flag": 1, "color": "blue"}',
        )
    text = str(info.value)
    assert 'route.start.lat: expected a number, got string "north"' in text
    assert "n: expected an integer, got number 1.5" in text
    assert "flag: expected a boolean, got integer 1" in text
    assert 'color: must be one of ["red", "green"]' in text
    with pytest.raises(ToolArgumentsError, match=r"route: missing required key\(s\) stops"):
        parse_arguments(f, '{"route": {"start": {"lat": 1, "lon": 1}}, "n": 1, "flag": true,'
                        ' "color": "red"}')  # fmt: skip
    with pytest.raises(ToolArgumentsError, match=r"route\.start: unexpected key\(s\) alt"):
        parse_arguments(
            f,
            '{"route": {"start": {"lat": 1, "lon": 1, "alt": 3}, "stops": []}, "n": 1,'
            ' "flag": true, "color": "red"}',
        )

    def g(filters: Filters, pair: tuple[int, int]) -> None: ...

    with pytest.raises(ToolArgumentsError) as info:
        parse_arguments(g, '{"filters": {"open_now": true}, "pair": [1, 2, 3]}')
    assert "filters: missing required key(s) max_price" in str(info.value)
    assert "pair: must have exactly 2 items, got 3" in str(info.value)


def test_to_jsonable() -> None:
    import numpy as np

    value = {"p": Point(1.0, 2.0), "c": Color.RED, "t": (1, 2), "n": np.float32(0.5)}
    assert to_jsonable(value) == {
        "p": {"lat": 1.0, "lon": 2.0, "label": "", "tags": []},
        "c": "red",
        "t": [1, 2],
        "n": 0.5,
    }


# -- registry --------------------------------------------------------------------------------


async def lookup(query: str) -> list[str]:
    """Look something up."""
    return [query]


def test_registry_add_enable_disable_remove_and_listeners() -> None:
    reg = ToolRegistry()
    changes: list[ToolChange] = []
    reg.on_change(changes.append)

    @reg.on_change
    def broken(change: ToolChange) -> None:
        raise RuntimeError("listener bug")

    reg.add(get_weather)
    tool = reg.add(lookup, name="search", timeout=5)
    assert tool.is_async and not reg["get_weather"].is_async
    assert reg.names == reg.enabled == ["get_weather", "search"]
    assert [d["name"] for d in reg.definitions()] == ["get_weather", "search"]
    assert reg.definitions()[1]["description"] == "Look something up."
    reg.disable("get_weather")
    reg.disable("get_weather")  # no change, no notification
    assert reg.enabled == ["search"]
    assert [d["name"] for d in reg.definitions()] == ["search"]
    reg.enable("get_weather")
    reg.add(get_weather, description="Replaced.")  # re-running a cell replaces
    assert reg["get_weather"].description == "Replaced."
    assert [t.name for t in reg] == ["get_weather", "search"]
    assert "search" in reg and len(reg) == 2
    reg.remove("search")
    assert reg.names == ["get_weather"]
    assert [(c.kind, c.name) for c in changes] == [
        ("added", "get_weather"),
        ("added", "search"),
        ("disabled", "get_weather"),
        ("enabled", "get_weather"),
        ("replaced", "get_weather"),
        ("removed", "search"),
    ]
    assert len(reg.listener_errors) == len(changes)  # the broken listener never broke a change
    reg.off_change(broken)
    with pytest.raises(KeyError, match="no tool named 'nope'"):
        reg.disable("nope")
    with pytest.raises(ValueError, match="timeout must be positive"):
        reg.add(get_weather, timeout=0)
    assert "get_weather" in repr(reg)
    assert reg["get_weather"].parse('{"city": "Rome"}') == {"city": "Rome"}
