"""Out-of-band responses (``conversation: "none"``) over a real WebSocket to the local server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from realtime_widget import ConfigError, Session
from realtime_widget.errors import ServerError


def snapshot(s: Session) -> list[tuple[str, str, str]]:
    return [(i.id, i.type, i.text) for i in s.conversation.items]


async def talk(s: Session, text: str) -> None:
    mark = s.mark()
    await s.send_text(text)
    await s.wait_for("response.done", timeout=10, since=mark)


async def test_summary_returns_text_and_leaves_the_conversation(burst_server: str) -> None:
    async with Session(burst_server, output_modalities=["text"]) as s:
        await talk(s, "I like green tea")
        await talk(s, "and long walks")
        before = snapshot(s)
        turns_before = len(s.conversation.turns)
        answer = await s.ask_out_of_band("Summarize the conversation", timeout=10)
        assert answer == (
            'Summary of 4 items: the user said "I like green tea", "and long walks"; '
            'the assistant last said "You said: "and long walks".".'
        )
        assert snapshot(s) == before
        assert len(s.conversation.turns) == turns_before
        request = [r.payload for r in s.log if r.type == "response.create"][-1]["response"]
        assert request["conversation"] == "none"
        assert request["metadata"]["realtime_widget_oob"].startswith("oob_")
        response = list(s.conversation.responses.values())[-1]
        assert response.out_of_band
        # The conversation goes on as before.
        await talk(s, "one more")
        assert [i.text for i in s.conversation.items][-2:] == ["one more", 'You said: "one more".']


async def test_parallel_asks_get_their_own_answers(burst_server: str) -> None:
    async with Session(burst_server, output_modalities=["text"]) as s:
        await talk(s, "hello")
        user_id = s.conversation.items[0].id
        before = snapshot(s)
        answers = await asyncio.gather(
            *(
                s.ask_out_of_band(
                    "Repeat the input.",
                    input=[
                        {
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": word}],
                        }
                    ],
                )
                for word in ["apple", "pear", "plum", "fig"]
            ),
            s.ask_out_of_band("Repeat the input.", input=[user_id], metadata={"who": "ref"}),
        )
        assert answers == [
            'You said: "apple".',
            'You said: "pear".',
            'You said: "plum".',
            'You said: "fig".',
            'You said: "hello".',
        ]
        assert snapshot(s) == before
        metas = [r.metadata for r in s.conversation.responses.values() if r.out_of_band]
        assert len(metas) == 5 and any((m or {}).get("who") == "ref" for m in metas)


async def test_audio_modality_returns_the_transcript(burst_server: str) -> None:
    async with Session(burst_server) as s:
        await talk(s, "sing")
        text = await s.ask_out_of_band("Summarize please", output_modalities=["audio"])
        assert text.startswith("Summary of 2 items")
        response = list(s.conversation.responses.values())[-1]
        assert response.out_of_band
        assert len(s.assistant_audio(response.id)) > 0


async def test_ask_while_a_response_streams(rt_server: str) -> None:
    async with Session(rt_server) as s:
        mark = s.mark()
        await s.send_text("a sentence that takes a while to say out loud")
        await s.wait_for("response.output_audio.delta", timeout=10, since=mark)
        answer = await s.ask_out_of_band("Summarize the conversation", timeout=10)
        assert answer.startswith("Summary of")
        assert s.conversation.active_response_id is not None  # still speaking
        done = await s.wait_for("response.done", lambda e: not _oob(e), timeout=20, since=mark)
        assert done["response"]["status"] == "completed"
        assert [i.role for i in s.conversation.items] == ["user", "assistant"]


def _oob(event: dict[str, Any]) -> bool:
    return "realtime_widget_oob" in (event["response"].get("metadata") or {})


async def test_errors(burst_server: str) -> None:
    async with Session(burst_server) as s:
        n = len(s.log)
        with pytest.raises(ConfigError):
            await s.ask_out_of_band("x", output_modalities=["smell"])
        assert len(s.log) == n  # nothing sent
        with pytest.raises(TypeError):
            await s.ask_out_of_band("x", input="item_1")  # type: ignore[arg-type]
        with pytest.raises(ServerError) as info:
            await s.ask_out_of_band("x", input=["item_does_not_exist"], timeout=5)
        assert "does not exist" in str(info.value)
