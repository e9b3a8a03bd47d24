"""Reply engines: the deterministic default and a wrapper for test callables.

:class:`EchoResponder` rules, checked in order against the context:

0. an out-of-band response (``conversation: "none"``) whose instructions ask
   to summarize → a summary of the context: ``Summary of 4 items: the user said
   "..."; tools called: get_weather; the assistant said "...".``
1. the last item is a ``function_call_output`` → a sentence with the output of
   every tool result since the last call turn:
   ``The get_weather tool returned: {"temp": 21}.``
2. the session has function tools, ``tool_choice`` is not ``"none"`` and the
   last user message is text that says ``call NAME {json}`` or mentions a
   tool's name (``get_weather`` or ``get weather``), or ``tool_choice`` forces
   a tool → a function call; arguments are the inline JSON if any, else built
   from the tool's JSON schema (``default``, first ``enum`` value, or a simple
   value per type);
3. the last user message has text → ``You said: "<text>".``
4. the last user message is audio only → ``I heard 1.4 seconds of audio.``
   (the default speaker echoes that audio back, so the words are honest);
5. nothing to answer (empty context, an idle-timeout prompt) → a fixed
   ``Are you still there?``-style prompt.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .interfaces import ContextItem, FunctionCall, Reply, ResponderContext

__all__ = ["CallableResponder", "EchoResponder", "arguments_from_schema"]

_CALL_RE = re.compile(r"\bcall\s+([A-Za-z_][\w\-.]*)\s*(\{.*\})?", re.IGNORECASE | re.DOTALL)


class EchoResponder:
    """Deterministic text replies plus tool calls on request (see module docstring)."""

    name = "echo"
    uses_transcripts = False

    def respond(self, context: ResponderContext) -> Reply:
        last = context.last_item
        if context.out_of_band and "summar" in context.instructions.lower():
            return Reply(text=_summary(context))
        if last is not None and last.type == "function_call_output":
            outputs: list[ContextItem] = []
            for item in reversed(context.items):
                if item.type != "function_call_output":
                    break
                outputs.insert(0, item)
            return Reply(text=" ".join(_tool_result_sentence(context, o) for o in outputs))
        user = context.last_user_item()
        call = self._tool_call(context, user)
        if call is not None:
            return Reply(function_call=call)
        if user is None:
            return Reply(text="Are you still there? I am listening.")
        if user.text:
            return Reply(text=f'You said: "{user.text}".')
        if user.audio is not None and user.audio.size:
            return Reply(text=f"I heard {user.audio_s:.1f} seconds of audio.")
        return Reply(text="Are you still there? I am listening.")

    def _tool_call(
        self, context: ResponderContext, user: ContextItem | None
    ) -> FunctionCall | None:
        tools = context.function_tools()
        choice = context.tool_choice
        if not tools or choice == "none":
            return None
        # Only answer the *latest* turn with a call: after a tool result the model speaks.
        if user is None or context.last_item is not user:
            return None
        by_name = {str(t["name"]): t for t in tools}
        text = user.text or ""
        forced: str | None = None
        if isinstance(choice, Mapping) and choice.get("type") == "function":
            forced = str(choice.get("name"))
        match = _CALL_RE.search(text)
        if match and match.group(1) in by_name and (forced is None or forced == match.group(1)):
            tool = by_name[match.group(1)]
            args: Any = None
            if match.group(2):
                try:
                    args = json.loads(match.group(2))
                except ValueError:
                    args = None
            if not isinstance(args, dict):
                args = arguments_from_schema(tool.get("parameters"))
            return FunctionCall(name=str(tool["name"]), arguments=json.dumps(args))
        lowered = text.lower()
        for name, tool in by_name.items():
            if forced is not None and name != forced:
                continue
            if name.lower() in lowered or name.replace("_", " ").lower() in lowered:
                return FunctionCall(
                    name=name, arguments=json.dumps(arguments_from_schema(tool.get("parameters")))
                )
        if forced is not None and forced in by_name:
            tool = by_name[forced]
        elif choice == "required":
            tool = tools[0]
        else:
            return None
        return FunctionCall(
            name=str(tool["name"]),
            arguments=json.dumps(arguments_from_schema(tool.get("parameters"))),
        )


def _tool_result_sentence(context: ResponderContext, output_item: ContextItem) -> str:
    name = "the"
    for item in context.items:
        if item.type == "function_call" and item.call_id == output_item.call_id and item.name:
            name = f"the {item.name}"
    return f"{name[0].upper()}{name[1:]} tool returned: {output_item.output}."


def _summary(context: ResponderContext) -> str:
    items = context.items
    if not items:
        return "Summary: the conversation is empty."
    said = [
        f'"{item.text if item.text is not None else item.transcript or "(audio)"}"'
        for item in items
        if item.type == "message" and item.role == "user"
    ]
    tools = [item.name for item in items if item.type == "function_call" and item.name]
    replies = [item for item in items if item.type == "message" and item.role == "assistant"]
    parts = [f"Summary of {len(items)} item{'s' if len(items) != 1 else ''}"]
    if said:
        parts.append(f"the user said {', '.join(said)}")
    if tools:
        parts.append(f"tools called: {', '.join(dict.fromkeys(tools))}")
    if replies:
        last = replies[-1].text or replies[-1].transcript or "(audio)"
        parts.append(f'the assistant last said "{last}"')
    return "; ".join(parts[1:]).join([parts[0] + ": ", "."]) if len(parts) > 1 else parts[0] + "."


_TYPE_DEFAULTS: dict[str, Any] = {
    "string": "example",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "array": [],
    "null": None,
}


def arguments_from_schema(schema: Any) -> dict[str, Any]:
    """Arguments for an object JSON schema: required properties (all if none listed)."""
    if not isinstance(schema, Mapping):
        return {}
    value = _value_for(schema)
    return value if isinstance(value, dict) else {}


def _value_for(schema: Mapping[str, Any]) -> Any:
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        names = schema.get("required") or list(props)
        return {n: _value_for(props.get(n) or {}) for n in names if isinstance(n, str)}
    if kind in ("integer", "number") and "minimum" in schema:
        return schema["minimum"]
    return _TYPE_DEFAULTS.get(str(kind), "example")


ReplyLike = Reply | str | FunctionCall
ResponderFn = Callable[[ResponderContext], ReplyLike | Awaitable[ReplyLike]]


class CallableResponder:
    """Wraps ``fn(context) -> Reply | str | FunctionCall`` (sync or async) as a Responder."""

    uses_transcripts = False

    def __init__(self, fn: ResponderFn, name: str | None = None, *, uses_transcripts: bool = False):
        self._fn = fn
        self.name: str = name or str(getattr(fn, "__name__", "callable"))
        self.uses_transcripts = uses_transcripts
        self._async = inspect.iscoroutinefunction(fn)

    def respond(self, context: ResponderContext) -> Reply | Awaitable[Reply]:
        if self._async:
            return self._respond_async(context)
        return _as_reply(self._fn(context))  # type: ignore[arg-type]

    async def _respond_async(self, context: ResponderContext) -> Reply:
        result = self._fn(context)
        if inspect.isawaitable(result):
            result = await result
        return _as_reply(result)


def _as_reply(value: ReplyLike) -> Reply:
    if isinstance(value, Reply):
        return value
    if isinstance(value, FunctionCall):
        return Reply(function_call=value)
    if isinstance(value, str):
        return Reply(text=value)
    raise TypeError(
        f"a responder must return Reply, str or FunctionCall, got {type(value).__name__}"
    )


async def call_responder(responder: Any, context: ResponderContext, run_sync: Any) -> Reply:
    """Run ``responder.respond``: awaited if async, else through ``run_sync`` (a thread pool)."""
    method = responder.respond
    if inspect.iscoroutinefunction(method):
        result = method(context)
    else:
        # A sync method may still hand back an awaitable (CallableResponder over
        # an async function): creating a coroutine in the worker is harmless,
        # it is awaited here on the loop.
        result = await run_sync(method, context)
    if inspect.isawaitable(result):
        result = await result
    return _as_reply(result)
