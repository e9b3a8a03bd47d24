"""The server-side conversation: ordered items, their audio, and wire views of them.

Audio is stored once per item as PCM16 24 kHz samples (never as base64) and
encoded into the session's current wire format only when an item is
retrieved. Item dicts sent in ``conversation.item.added/done`` carry no audio,
as on OpenAI.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from realtime_widget.protocol.audio import SAMPLE_RATE, Int16Array
from realtime_widget.protocol.events import new_id

from .interfaces import ContextItem

__all__ = ["Conversation", "Item", "ItemError", "estimate_text_tokens"]


class ItemError(ValueError):
    """A client-supplied item is malformed; carries the protocol error fields."""

    def __init__(self, message: str, *, code: str = "invalid_value", param: str | None = None):
        super().__init__(message)
        self.code = code
        self.param = param


def estimate_text_tokens(text: str | None) -> int:
    """≈ 4 characters per token, the usual rule of thumb for English."""
    return 0 if not text else -(-len(text) // 4)


@dataclass
class Item:
    """One item. ``content`` holds wire parts without audio; ``audio`` the samples by part index."""

    id: str
    type: str
    role: str | None = None
    status: str = "completed"
    content: list[dict[str, Any]] = field(default_factory=list)
    audio: dict[int, Int16Array] = field(default_factory=dict)
    name: str | None = None
    call_id: str | None = None
    arguments: str | None = None
    output: str | None = None
    heard: str | None = None
    """What the server's own transcriber heard (early transcription during the
    end-of-turn silence); not on the wire, only a fallback transcript for responders."""

    def wire(self, *, audio: dict[int, str] | None = None) -> dict[str, Any]:
        """The item as sent to clients; ``audio`` = base64 strings to include, by part index."""
        out: dict[str, Any] = {"id": self.id, "object": "realtime.item", "type": self.type}
        if self.type == "message":
            out["status"] = self.status
            out["role"] = self.role
            parts = []
            for i, part in enumerate(self.content):
                p = dict(part)
                if audio is not None and i in audio:
                    p["audio"] = audio[i]
                parts.append(p)
            out["content"] = parts
        elif self.type == "function_call":
            out["status"] = self.status
            out["name"] = self.name
            out["call_id"] = self.call_id
            out["arguments"] = self.arguments if self.arguments is not None else ""
        elif self.type == "function_call_output":
            out["call_id"] = self.call_id
            out["output"] = self.output
        return out

    def audio_ms(self, index: int = 0) -> float:
        samples = self.audio.get(index)
        return 0.0 if samples is None else len(samples) * 1000 / SAMPLE_RATE

    def text(self) -> str | None:
        texts = [str(p["text"]) for p in self.content if p.get("text") is not None]
        return "".join(texts) if texts else None

    def transcript(self) -> str | None:
        for p in self.content:
            if p.get("type") in ("input_audio", "output_audio") and p.get("transcript"):
                return str(p["transcript"])
        return None

    def all_audio(self) -> Int16Array | None:
        if not self.audio:
            return None
        chunks = [self.audio[i] for i in sorted(self.audio)]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def to_context(self) -> ContextItem:
        return ContextItem(
            id=self.id,
            type=self.type,  # type: ignore[arg-type]
            role=self.role,  # type: ignore[arg-type]
            text=self.text(),
            audio=self.all_audio(),
            transcript=self.transcript() or self.heard,
            name=self.name,
            call_id=self.call_id,
            arguments=self.arguments,
            output=self.output,
        )

    def token_counts(self) -> tuple[int, int]:
        """(text tokens, audio tokens) this item costs as input context.

        Audio: user audio 10 tokens/s (1 per 100 ms), assistant audio 20/s
        (1 per 50 ms) — OpenAI's published ratios for gpt-4o audio.
        """
        text = estimate_text_tokens(self.text()) + estimate_text_tokens(self.transcript())
        text += estimate_text_tokens(self.arguments) + estimate_text_tokens(self.output)
        text += estimate_text_tokens(self.name)
        rate = 20 if self.role == "assistant" else 10
        audio = sum(-(-len(a) * rate // SAMPLE_RATE) for a in self.audio.values())
        return text, audio


_USER_PARTS = {"input_text", "input_audio", "input_image"}
_ASSISTANT_PARTS = {"output_text", "output_audio", "text"}


def item_from_client(raw: Any, decode_audio: Any) -> Item:
    """Validate a ``conversation.item.create`` item and build an :class:`Item`.

    ``decode_audio(b64: str) -> Int16Array`` decodes ``input_audio`` parts in
    the session's input format. Raises :class:`ItemError`.
    """
    if not isinstance(raw, Mapping):
        raise ItemError(
            "Missing required parameter: 'item'.", code="missing_required_parameter", param="item"
        )
    kind = raw.get("type")
    if kind is None:
        raise ItemError(
            "Missing required parameter: 'item.type'.",
            code="missing_required_parameter",
            param="item.type",
        )
    item_id = raw.get("id") or new_id("item")
    if not isinstance(item_id, str) or len(item_id) > 64:
        raise ItemError(
            "Invalid 'item.id': expected a string of at most 64 characters.", param="item.id"
        )
    if kind == "message":
        return _message_from_client(raw, item_id, decode_audio)
    if kind == "function_call":
        for key in ("name", "arguments"):
            if not isinstance(raw.get(key), str):
                raise ItemError(
                    f"Missing required parameter: 'item.{key}'.",
                    code="missing_required_parameter",
                    param=f"item.{key}",
                )
        return Item(
            id=item_id,
            type="function_call",
            name=raw["name"],
            arguments=raw["arguments"],
            call_id=raw.get("call_id") or new_id("call"),
        )
    if kind == "function_call_output":
        for key in ("call_id", "output"):
            if not isinstance(raw.get(key), str):
                raise ItemError(
                    f"Missing required parameter: 'item.{key}'.",
                    code="missing_required_parameter",
                    param=f"item.{key}",
                )
        return Item(
            id=item_id, type="function_call_output", call_id=raw["call_id"], output=raw["output"]
        )
    raise ItemError(
        f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call', "
        "and 'function_call_output'.",
        param="item.type",
    )


def _message_from_client(raw: Mapping[str, Any], item_id: str, decode_audio: Any) -> Item:
    role = raw.get("role")
    if role not in ("user", "assistant", "system"):
        raise ItemError(
            f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', and 'system'.",
            param="item.role",
        )
    content = raw.get("content")
    if not isinstance(content, list):
        raise ItemError(
            "Missing required parameter: 'item.content'.",
            code="missing_required_parameter",
            param="item.content",
        )
    allowed = {"user": _USER_PARTS, "system": {"input_text"}, "assistant": _ASSISTANT_PARTS}[role]
    item = Item(id=item_id, type="message", role=role)
    for i, part in enumerate(content):
        param = f"item.content[{i}]"
        if not isinstance(part, Mapping) or part.get("type") not in allowed:
            got = part.get("type") if isinstance(part, Mapping) else part
            raise ItemError(
                f"Invalid value: '{got}'. Supported values for a {role} message are: "
                + ", ".join(f"'{a}'" for a in sorted(allowed))
                + ".",
                param=f"{param}.type",
            )
        ptype = part["type"]
        if ptype in ("input_text", "output_text", "text"):
            if not isinstance(part.get("text"), str):
                raise ItemError(
                    f"Missing required parameter: '{param}.text'.",
                    code="missing_required_parameter",
                    param=f"{param}.text",
                )
            item.content.append(
                {"type": "output_text" if ptype == "text" else ptype, "text": part["text"]}
            )
        elif ptype == "input_audio":
            b64 = part.get("audio")
            if not isinstance(b64, str):
                raise ItemError(
                    f"Missing required parameter: '{param}.audio'.",
                    code="missing_required_parameter",
                    param=f"{param}.audio",
                )
            try:
                item.audio[len(item.content)] = decode_audio(b64)
            except ValueError as exc:
                raise ItemError(f"Invalid audio: {exc}", param=f"{param}.audio") from exc
            item.content.append({"type": "input_audio", "transcript": part.get("transcript")})
        elif ptype == "output_audio":
            # The API lets clients add assistant audio *transcripts* (history replay) but not audio.
            if part.get("audio"):
                raise ItemError(
                    "Assistant messages cannot contain audio; send the transcript only.",
                    param=f"{param}.audio",
                )
            item.content.append(
                {"type": "output_audio", "transcript": part.get("transcript") or ""}
            )
        else:  # input_image: kept as-is, the local engines cannot see images
            item.content.append(copy.deepcopy(dict(part)))
    return item


class Conversation:
    """Ordered items with O(1) lookup. The default conversation of a session."""

    def __init__(self) -> None:
        self.id = new_id("conv")
        self._items: list[Item] = []
        self._by_id: dict[str, Item] = {}

    def __iter__(self) -> Iterator[Item]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def get(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id)

    @property
    def last_id(self) -> str | None:
        return self._items[-1].id if self._items else None

    def previous_id(self, item_id: str) -> str | None:
        for i, item in enumerate(self._items):
            if item.id == item_id:
                return self._items[i - 1].id if i else None
        return None

    def insert(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert after ``previous_item_id`` ("root" = first; None = append).

        Returns the id of the item now before it. Raises :class:`ItemError`.
        """
        if item.id in self._by_id:
            raise ItemError(f"Item with id '{item.id}' already exists.", param="item.id")
        if previous_item_id is None:
            pos = len(self._items)
        elif previous_item_id == "root":
            pos = 0
        else:
            prev = self._by_id.get(previous_item_id)
            if prev is None:
                raise ItemError(
                    f"Previous item with id '{previous_item_id}' does not exist.",
                    code="invalid_value",
                    param="previous_item_id",
                )
            pos = self._items.index(prev) + 1
        self._items.insert(pos, item)
        self._by_id[item.id] = item
        return self._items[pos - 1].id if pos else None

    def delete(self, item_id: str) -> bool:
        item = self._by_id.pop(item_id, None)
        if item is None:
            return False
        self._items.remove(item)
        return True

    def context(self) -> list[ContextItem]:
        return [item.to_context() for item in self._items]
