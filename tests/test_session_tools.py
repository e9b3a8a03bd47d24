"""Tools end to end: Session ↔ the local server over real loopback WebSockets."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Literal

import numpy as np

from realtime_widget import Session
from realtime_widget._loop import call_in_io_loop
from tests.signals import silence, speech_like


def sent(s: Session, type_: str) -> list[dict[str, Any]]:
    return [r.payload for r in s.log if r.direction == "client" and r.type == type_]


def notes(s: Session, type_: str) -> list[dict[str, Any]]:
    return [r.payload for r in s.log if r.direction == "widget" and r.type == type_]


def errors(s: Session) -> list[dict[str, Any]]:
    return [r.payload["error"] for r in s.log if r.direction == "server" and r.type == "error"]


async def follow_up(s: Session, first: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
    """The ``response.done`` of the response that followed ``first`` (the tool result)."""
    call_ids = ",".join(i["call_id"] for i in first["response"]["output"])

    def ours(e: dict[str, Any]) -> bool:
        metadata = e["response"].get("metadata") or {}
        return metadata.get("realtime_widget") == "tool_outputs" and (
            metadata.get("call_ids") == call_ids
        )

    return await s.wait_for("response.done", ours, timeout=timeout, since=0)


async def test_sync_tool_turn_end_to_end(burst_server: str) -> None:
    threads: list[str] = []

    async with Session(burst_server, output_modalities=["text"]) as s:
        mark = s.mark()

        @s.tool
        def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict[str, Any]:
            """Current weather for a city.

            Args:
                city: The city name.
            """
            threads.append(threading.current_thread().name)
            return {"city": city, "temp": 21 if unit == "C" else 70, "unit": unit}

        await s.wait_for("session.updated", timeout=5, since=mark)
        assert [t["name"] for t in s.config["tools"]] == ["get_weather"]
        await s.send_text('call get_weather {"city": "Paris", "unit": "F"}')
        first = await s.wait_for("response.done", timeout=10)
        assert first["response"]["output"][0]["type"] == "function_call"
        second = await follow_up(s, first)
        assert second["response"]["status"] == "completed"

        # Ran in a worker thread, not on the I/O loop.
        assert threads and threads[0] != "realtime-widget-io"
        # The output went back as JSON, then exactly one response.create.
        outputs = [
            e["item"] for e in sent(s, "conversation.item.create") if e["item"]["type"] != "message"
        ]
        assert outputs == [
            {
                "type": "function_call_output",
                "call_id": first["response"]["output"][0]["call_id"],
                "output": '{"city": "Paris", "temp": 70, "unit": "F"}',
            }
        ]
        assert len(sent(s, "response.create")) == 2  # the user's + one for the tool output
        kinds = [i.type for i in s.conversation.items]
        assert kinds == ["message", "function_call", "function_call_output", "message"]
        reply = s.conversation.items[-1].text
        assert reply == 'The get_weather tool returned: {"city": "Paris", "temp": 70, "unit": "F"}.'

        # The log: tool.call and tool.result notes, also in the DataFrame.
        (call,) = notes(s, "tool.call")
        (result,) = notes(s, "tool.result")
        assert call["name"] == result["name"] == "get_weather"
        assert call["call_id"] == result["call_id"] == outputs[0]["call_id"]
        assert json.loads(call["arguments"]) == {"city": "Paris", "unit": "F"}
        assert result["error"] is None and result["duration_ms"] >= 0
        df = s.recording.events
        rows = df[df["type"].isin(["tool.call", "tool.result"])]
        assert list(rows["direction"]) == ["widget", "widget"]
        assert list(rows["item_id"]) == [first["response"]["output"][0]["id"]] * 2
        # The transcript shows the call and the spoken result in the same turn.
        turns = s.recording.turns()
        assert len(turns) == 1
        text = turns.iloc[0]["assistant_text"]
        assert '[get_weather({"city": "Paris", "unit": "F"})]' in text
        assert "tool returned" in text
        assert turns.iloc[0]["responses"] == 2
        assert not errors(s)


async def test_async_tool_runs_on_the_io_loop_and_reply_is_spoken(burst_server: str) -> None:
    s = Session(burst_server)  # audio modality: the reply is spoken
    where: list[str] = []

    @s.tool(name="lookup", timeout=5)
    async def find(query: str, limit: int = 2) -> list[str]:
        """Search the notes."""
        where.append(threading.current_thread().name)
        await asyncio.sleep(0.05)
        return [f"{query}-{i}" for i in range(limit)]

    async with s:  # registered before connect: sent in the initial update
        assert [t["name"] for t in s.requested[0]["tools"]] == ["lookup"]
        await s.send_text("please lookup something")  # names the tool: schema arguments
        first = await s.wait_for("response.done", timeout=10)
        second = await follow_up(s, first)
        assert where == ["realtime-widget-io"]
        output = json.loads(s.conversation.items[2].output or "")
        assert output == ["example-0", "example-1"]
        assert "lookup tool returned" in s.conversation.items[-1].text
        assert len(s.assistant_audio(second["response"]["id"])) > 0  # spoken back


async def test_errors_go_back_to_the_model(burst_server: str) -> None:
    async with Session(burst_server, output_modalities=["text"]) as s:

        @s.tool
        def explode(reason: str) -> str:
            raise ValueError(f"cannot {reason}")

        @s.tool(timeout=0.2)
        async def slow(seconds: float) -> str:
            await asyncio.sleep(seconds)
            return "done"

        @s.tool(timeout=0.2)
        def slow_sync(seconds: float) -> str:
            time.sleep(seconds)
            return "done"

        @s.tool
        def get_weather(city: str) -> str:
            return "sunny"

        def output_of_turn(first: dict[str, Any]) -> dict[str, Any]:
            call_id = first["response"]["output"][0]["call_id"]
            item = next(
                i
                for i in s.conversation.items
                if i.type == "function_call_output" and i.call_id == call_id
            )
            result: dict[str, Any] = json.loads(item.output or "")
            return result

        cases = [
            ('call explode {"reason": "fly"}', {"error": "cannot fly", "type": "ValueError"}),
            (
                'call slow {"seconds": 5}',
                {"error": "slow did not finish within 0.2 s", "type": "TimeoutError"},
            ),
            (
                'call slow_sync {"seconds": 1}',
                {"error": "slow_sync did not finish within 0.2 s", "type": "TimeoutError"},
            ),
            (
                'call get_weather {"city": 3}',
                {"error": "city: expected a string, got integer 3", "type": "InvalidArguments"},
            ),
            (
                'call get_weather {"town": "x"}',
                {
                    "error": "unexpected argument(s) town (allowed: city); "
                    "missing required argument 'city'",
                    "type": "InvalidArguments",
                },
            ),
        ]
        await s.sync_tools()
        for text, expected in cases:
            mark = s.mark()
            await s.send_text(text)
            first = await s.wait_for("response.done", timeout=10, since=mark)
            second = await follow_up(s, first)
            assert output_of_turn(first) == expected
            # The model sees the error and can recover (the echo reads it out).
            said = second["response"]["output"][0]["content"][0]["text"]
            assert expected["type"] in said
        results = notes(s, "tool.result")
        assert [(r["name"], r["error_type"]) for r in results] == [
            ("explode", "ValueError"),
            ("slow", "TimeoutError"),
            ("slow_sync", "TimeoutError"),
            ("get_weather", "InvalidArguments"),
            ("get_weather", "InvalidArguments"),
        ]
        assert results[0]["error"] == "cannot fly"
        assert not errors(s)
        assert len(sent(s, "response.create")) == 2 * len(cases)


async def test_user_speaks_while_the_tool_runs(rt_server: str) -> None:
    """The race: a VAD auto-response starts while the tool runs; the tool's
    response.create waits for it to finish, so the server never answers
    ``conversation_already_has_active_response``."""
    started = threading.Event()
    async with Session(
        rt_server, turn_detection="server_vad", silence_duration_ms=300, reply_timeout=20
    ) as s:

        @s.tool
        def slow_lookup(topic: str) -> dict[str, str]:
            started.set()
            time.sleep(0.6)
            return {"topic": topic, "answer": "42"}

        await s.sync_tools()
        await s.send_text('call slow_lookup {"topic": "life"}')
        first = await s.wait_for("response.done", timeout=10)
        assert await asyncio.to_thread(started.wait, 5)
        # The user talks while the tool runs: a VAD turn and its auto-response.
        audio = np.concatenate([speech_like(0.6, seed=21), silence(0.5)])
        await s.send_audio(audio, realtime=False)
        vad_created = await s.wait_for(
            "response.created", lambda e: e["response"]["id"] != first["response"]["id"], timeout=10
        )
        second = await follow_up(s, first, timeout=20)
        assert second["response"]["status"] == "completed"
        vad_done = await s.wait_for(
            "response.done",
            lambda e: e["response"]["id"] == vad_created["response"]["id"],
            since=0,
        )
        assert vad_done["response"]["status"] == "completed"
        # The tool's response.create went out only after the VAD response ended.
        log = list(s.log)
        i_vad_done = next(
            r.index
            for r in log
            if r.type == "response.done" and r.response_id == vad_created["response"]["id"]
        )
        creates = [r for r in log if r.direction == "client" and r.type == "response.create"]
        assert len(creates) == 2
        assert creates[-1].payload["response"]["metadata"]["realtime_widget"] == "tool_outputs"
        assert creates[-1].index > i_vad_done
        # The output was added as soon as the tool finished (while the VAD reply ran).
        (output_create,) = [
            r
            for r in log
            if r.direction == "client"
            and r.type == "conversation.item.create"
            and r.payload["item"]["type"] == "function_call_output"
        ]
        assert output_create.index < i_vad_done
        assert not [
            e for e in errors(s) if e.get("code") == "conversation_already_has_active_response"
        ]
        assert "slow_lookup tool returned" in s.conversation.items[-1].text


async def test_a_response_requested_meanwhile_is_waited_for(burst_server: str) -> None:
    """Someone else's response.create is on its way when the tool finishes: the
    session knows a response is about to start and waits for its end."""
    async with Session(burst_server, output_modalities=["text"]) as s:

        @s.tool
        def ping(n: int) -> int:
            s.send({"type": "response.create"})  # thread-safe; goes out before the outputs
            return n + 1

        await s.sync_tools()
        await s.send_text('call ping {"n": 1}')
        first = await s.wait_for("response.done", timeout=10)
        second = await follow_up(s, first)
        assert second["response"]["status"] == "completed"
        assert not errors(s)
        creates = sent(s, "response.create")
        assert len(creates) == 3
        dones = [r.index for r in s.log if r.type == "response.done"]
        tool_create = next(
            r.index
            for r in s.log
            if r.direction == "client"
            and r.type == "response.create"
            and (r.payload.get("response") or {}).get("metadata")
        )
        assert tool_create > dones[1]  # after the other response's done


async def test_enable_disable_sends_session_update(burst_server: str) -> None:
    def alpha(x: int) -> int:
        return x

    def beta(y: str) -> str:
        return y

    extra = {
        "type": "function",
        "name": "manual",
        "description": "handled by a hook",
        "parameters": {"type": "object", "properties": {}},
    }
    s = Session(burst_server, tools=[extra], tool_choice="required")
    s.tools.add(alpha)
    async with s:
        assert [t["name"] for t in s.requested[0]["tools"]] == ["manual", "alpha"]
        assert s.config["tool_choice"] == "required"

        async def update_after(change: Any) -> dict[str, Any]:
            mark = s.mark()
            change()
            await s.wait_for("session.updated", timeout=5, since=mark)
            request: dict[str, Any] = sent(s, "session.update")[-1]["session"]
            return request

        req = await update_after(lambda: s.tools.add(beta))
        assert [t["name"] for t in req["tools"]] == ["manual", "alpha", "beta"]
        assert req["tool_choice"] == "required"  # kept as set
        req = await update_after(lambda: s.tools.disable("alpha"))
        assert [t["name"] for t in req["tools"]] == ["manual", "beta"]
        assert [t["name"] for t in s.config["tools"]] == ["manual", "beta"]
        req = await update_after(lambda: s.tools.enable("alpha"))
        assert [t["name"] for t in req["tools"]] == ["manual", "alpha", "beta"]
        req = await update_after(lambda: s.tools.remove("beta"))
        assert [t["name"] for t in req["tools"]] == ["manual", "alpha"]
        # A user update of the dict tools keeps the registry's tools.
        await s.update(tools=[], tool_choice="auto")
        assert [t["name"] for t in s.config["tools"]] == ["alpha"]
        # Several changes in one go (one turn of the I/O loop) make one update.
        before = len(sent(s, "session.update"))

        async def burst() -> None:
            s.tools.disable("alpha")
            s.tools.add(beta)
            s.tools.add(beta, description="again")

        await call_in_io_loop(burst())
        cfg = await s.sync_tools()
        assert [t["name"] for t in cfg["tools"]] == ["beta"]
        assert cfg["tools"][0]["description"] == "again"
        assert len(sent(s, "session.update")) - before == 2  # the burst's + sync_tools'
        assert cfg["tool_choice"] == "auto"
        assert not errors(s)


async def test_forced_tool_choice_falls_back_when_its_tool_is_disabled(burst_server: str) -> None:
    def alpha(x: int) -> int:
        return x

    s = Session(burst_server, output_modalities=["text"])
    s.tools.add(alpha)
    async with s:
        await s.update(tool_choice={"type": "function", "name": "alpha"})
        mark = s.mark()
        s.tools.disable("alpha")
        await s.wait_for("session.updated", timeout=5, since=mark)
        assert s.config["tool_choice"] == "auto"
        assert notes(s, "tool.error")
        assert not errors(s)


async def test_calls_of_unregistered_tools_are_left_to_hooks(burst_server: str) -> None:
    tool = {
        "type": "function",
        "name": "manual",
        "description": "x",
        "parameters": {"type": "object", "properties": {}},
    }
    async with Session(burst_server, tools=[tool], output_modalities=["text"]) as s:
        await s.send_text("call manual")
        await s.wait_for("response.done", timeout=10)
        await asyncio.sleep(0.2)
        assert len(sent(s, "response.create")) == 1
        assert not notes(s, "tool.call")
