"""Deterministic token accounting for ``response.done.usage`` and rate limits.

Estimates, not a tokenizer: text ≈ 4 characters per token; user audio 10
tokens per second (1 per 100 ms), assistant audio 20 per second (1 per
50 ms); tools and instructions are counted as the text of their JSON.
Cached input mimics OpenAI prompt caching: the part of this response's
context that is an unchanged prefix of the previous response's context,
counted only from 1024 tokens up and in steps of 64.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .conversation import Item, estimate_text_tokens

__all__ = ["ContextCost", "PrefixUnit", "Usage", "audio_output_tokens", "context_cost"]

_CACHE_MIN = 1024
_CACHE_STEP = 64


@dataclass(frozen=True)
class PrefixUnit:
    key: str
    text: int
    audio: int


@dataclass(frozen=True)
class ContextCost:
    units: tuple[PrefixUnit, ...]

    @property
    def text(self) -> int:
        return sum(u.text for u in self.units)

    @property
    def audio(self) -> int:
        return sum(u.audio for u in self.units)

    def cached(self, previous: ContextCost | None) -> tuple[int, int]:
        """(cached text tokens, cached audio tokens) given the previous context."""
        if previous is None:
            return 0, 0
        text = audio = 0
        for a, b in zip(self.units, previous.units, strict=False):
            if a != b:
                break
            text += a.text
            audio += a.audio
        total = text + audio
        if total < _CACHE_MIN:
            return 0, 0
        kept = total - total % _CACHE_STEP
        # Scale both kinds down together so the detail sums match the total.
        text_kept = text * kept // total
        return text_kept, kept - text_kept


def context_cost(
    instructions: str, tools: Sequence[Mapping[str, Any]], items: Sequence[Item]
) -> ContextCost:
    header = instructions + (json.dumps(list(tools), sort_keys=True) if tools else "")
    units = [
        PrefixUnit(f"header:{zlib.crc32(header.encode()):08x}", estimate_text_tokens(header), 0)
    ]
    for item in items:
        text, audio = item.token_counts()
        units.append(PrefixUnit(item.id, text, audio))
    return ContextCost(tuple(units))


def audio_output_tokens(ms: float) -> int:
    return -(-round(ms) // 50)


@dataclass
class Usage:
    input_text: int = 0
    input_audio: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    output_text: int = 0
    output_audio: int = 0

    def wire(self) -> dict[str, Any]:
        inp = self.input_text + self.input_audio
        out = self.output_text + self.output_audio
        return {
            "total_tokens": inp + out,
            "input_tokens": inp,
            "output_tokens": out,
            "input_token_details": {
                "text_tokens": self.input_text,
                "audio_tokens": self.input_audio,
                "image_tokens": 0,
                "cached_tokens": self.cached_text + self.cached_audio,
                "cached_tokens_details": {
                    "text_tokens": self.cached_text,
                    "audio_tokens": self.cached_audio,
                    "image_tokens": 0,
                },
            },
            "output_token_details": {
                "text_tokens": self.output_text,
                "audio_tokens": self.output_audio,
            },
        }
