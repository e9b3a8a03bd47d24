"""Replies from any OpenAI-compatible chat-completions endpoint (e.g. a local Ollama).

``ChatResponder("http://127.0.0.1:11434/v1", model="llama3.2")`` POSTs to
``{url}/chat/completions`` (non-streaming) with the conversation as chat
messages: the session's instructions as the system message (a short
voice-assistant prompt when the session kept the server's default), user
turns as their typed text or transcript (audio is transcribed with the
shared Whisper when the session has no input transcription), assistant turns
as their transcript, tool calls and results as ``tool_calls`` / ``tool``
messages. The session's function tools are offered in the chat format and a
returned tool call becomes a Realtime function call.

The request runs in the server's engine pool (urllib, no extra dependency).
An HTTP or network error fails the response with ``engine_error`` and a
message naming the URL; the socket stays open.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from realtime_widget.server.interfaces import FunctionCall, Reply, ResponderContext

from .rules import TranscribeFn, user_words

__all__ = ["DEFAULT_SYSTEM_PROMPT", "ChatResponder"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a friendly voice assistant. Your answers are spoken aloud: reply in one to "
    "three short plain sentences, with no lists, markdown or emoji."
)
_SERVER_DEFAULT_PREFIX = "Local realtime_widget server"


class ChatResponder:
    """Responder over ``POST {url}/chat/completions`` (see module docstring)."""

    uses_transcripts = True

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        transcribe: TranscribeFn | None = None,
        timeout: float = 60.0,
        max_tokens: int | None = 200,
        temperature: float | None = 0.7,
    ) -> None:
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/chat/completions") else f"{base}/chat/completions"
        self.model = model or os.environ.get("REALTIME_WIDGET_RESPONDER_MODEL") or "default"
        self.api_key = (
            api_key if api_key is not None else os.environ.get("REALTIME_WIDGET_RESPONDER_KEY")
        )
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._transcribe = transcribe
        self.name = f"chat:{self.model}@{base}"

    def messages(self, context: ResponderContext) -> list[dict[str, Any]]:
        """The chat messages for ``context``."""
        instructions = context.instructions.strip()
        if not instructions or instructions.startswith(_SERVER_DEFAULT_PREFIX):
            instructions = DEFAULT_SYSTEM_PROMPT
        out: list[dict[str, Any]] = [{"role": "system", "content": instructions}]
        for item in context.items:
            if item.type == "function_call":
                out.append(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": item.call_id or "call",
                                "type": "function",
                                "function": {
                                    "name": item.name,
                                    "arguments": item.arguments or "{}",
                                },
                            }
                        ],
                    }
                )
            elif item.type == "function_call_output":
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": item.call_id or "call",
                        "content": item.output or "",
                    }
                )
            elif item.role == "user":
                words = user_words(item, self._transcribe)
                if words:
                    out.append({"role": "user", "content": words})
            elif item.role in ("assistant", "system"):
                words = item.text or item.transcript or ""
                if words:
                    out.append({"role": item.role, "content": words})
        return out

    def request_body(self, context: ResponderContext) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self.messages(context),
            "stream": False,
        }
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        tools = context.function_tools()
        if tools and context.tool_choice != "none":
            body["tools"] = [_chat_tool(t) for t in tools]
            choice = context.tool_choice
            if isinstance(choice, Mapping) and choice.get("type") == "function":
                body["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
            elif choice in ("auto", "required"):
                body["tool_choice"] = choice
        return body

    def respond(self, context: ResponderContext) -> Reply:
        data = json.dumps(self.request_body(context)).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.endpoint, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise RuntimeError(f"{self.endpoint} answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RuntimeError(f"chat endpoint {self.endpoint} failed: {exc}") from None
        return _reply_from(payload)


def _chat_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool["name"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def _reply_from(payload: Any) -> Reply:
    try:
        message = payload["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise RuntimeError(f"unexpected chat-completions answer: {str(payload)[:300]}") from None
    calls = message.get("tool_calls") or []
    if calls:
        function = calls[0].get("function") or {}
        arguments = function.get("arguments") or "{}"
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        return Reply(
            function_call=FunctionCall(
                name=str(function.get("name")), arguments=arguments, call_id=calls[0].get("id")
            )
        )
    content = message.get("content")
    if isinstance(content, list):  # content parts
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    text = " ".join(str(content or "").split())
    return Reply(text=text or "Sorry, I have no answer to that.")
