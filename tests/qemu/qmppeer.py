"""A scripted QMP peer: an asyncio server speaking QMP on a real unix socket.

It plays QEMU for the monitor tests: greeting, capabilities negotiation, then
for each command the actions its script gives (reply, error, events, raw
bytes, hang, hang up).  It runs its own event loop in a thread, records every
command it receives, and never imports minivirt.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "LEGACY_COMMANDS",
    "MODERN_COMMANDS",
    "Close",
    "Error",
    "Event",
    "Hang",
    "Raw",
    "Reply",
    "ScriptedPeer",
    "Wait",
]

MODERN_COMMANDS = [
    "qmp_capabilities",
    "query-commands",
    "query-block-jobs",
    "query-block",
    "block-stream",
    "block-job-cancel",
    "block-job-set-speed",
    "cont",
    "quit",
]
LEGACY_COMMANDS = [
    "qmp_capabilities",
    "query-commands",
    "query-block-jobs",
    "query-block",
    "block_stream",
    "block_job_cancel",
    "block_job_set_speed",
    "cont",
    "quit",
]


class Reply:
    def __init__(self, value: Any = None) -> None:
        self.value = {} if value is None else value


class Error:
    def __init__(self, cls: str, desc: str) -> None:
        self.cls, self.desc = cls, desc


class Event:
    def __init__(self, name: str, data: dict[str, Any] | None = None) -> None:
        self.name, self.data = name, data or {}


class Raw:
    """Bytes written as they are (for malformed replies)."""

    def __init__(self, data: bytes) -> None:
        self.data = data


class Close:
    """Hang up the connection (the peer vanishes)."""


class Hang:
    """Never answer."""


class Wait:
    """Wait until the test calls ``peer.release(name)``."""

    def __init__(self, name: str) -> None:
        self.name = name


Action = Reply | Error | Event | Raw | Close | Hang | Wait
Script = list[Action] | Callable[[dict[str, Any]], list[Action]]


class ScriptedPeer:
    """QMP server on ``path``; ``script`` maps a command name to its actions."""

    def __init__(
        self, path: str, commands: list[str] | None = None, script: dict[str, Script] | None = None
    ) -> None:
        self.path = path
        self.commands = MODERN_COMMANDS if commands is None else commands
        self.script: dict[str, Script] = dict(script or {})
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.failure: Exception | None = None
        self.arrived = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._gates: dict[str, asyncio.Event] = {}
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)

    async def _start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=self.path)

    def _gate(self, name: str) -> asyncio.Event:
        return self._gates.setdefault(name, asyncio.Event())

    def release(self, name: str) -> None:
        self._loop.call_soon_threadsafe(lambda: self._gate(name).set())

    def count(self, name: str) -> int:
        with self.arrived:
            return sum(1 for cmd, _ in self.received if cmd == name)

    def wait_for(self, name: str, n: int = 1, timeout: float = 10.0) -> None:
        with self.arrived:
            ok = self.arrived.wait_for(
                lambda: sum(1 for cmd, _ in self.received if cmd == name) >= n, timeout
            )
        assert ok, f"peer did not receive {n} x {name}"

    def send_event(self, name: str, data: dict[str, Any]) -> None:
        async def push() -> None:
            for writer in self._writers:
                writer.write(self._event_bytes(name, data))
                await writer.drain()

        asyncio.run_coroutine_threadsafe(push(), self._loop).result(5)

    def hang_up(self) -> None:
        async def close() -> None:
            for writer in self._writers:
                writer.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)

    @staticmethod
    def _event_bytes(name: str, data: dict[str, Any]) -> bytes:
        msg = {"event": name, "data": data, "timestamp": {"seconds": 1, "microseconds": 2}}
        return json.dumps(msg).encode() + b"\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        greeting = {
            "QMP": {
                "version": {"qemu": {"major": 7, "minor": 2, "micro": 22}, "package": "scripted"},
                "capabilities": [],
            }
        }
        writer.write(json.dumps(greeting).encode() + b"\n")
        try:
            async for msg in self._messages(reader):
                name = msg.get("execute")
                args = msg.get("arguments", {})
                with self.arrived:
                    self.received.append((name, args))
                    self.arrived.notify_all()
                if not await self._answer(writer, msg.get("id"), name, args):
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:  # make script bugs visible in the test's output
            self.failure = exc
            raise
        finally:
            writer.close()

    @staticmethod
    async def _messages(reader: asyncio.StreamReader):
        """JSON objects from the stream (QMP clients need not end them with newlines)."""
        decoder = json.JSONDecoder()
        buf = ""
        while chunk := await reader.read(65536):
            buf += chunk.decode()
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    msg, end = decoder.raw_decode(buf)
                except json.JSONDecodeError:
                    break
                buf = buf[end:]
                yield msg

    async def _answer(
        self, writer: asyncio.StreamWriter, msg_id: Any, name: str, args: dict[str, Any]
    ) -> bool:
        script = self.script.get(name)
        if script is None:
            if name == "query-commands":
                actions: list[Action] = [Reply([{"name": c} for c in self.commands])]
            elif name in ("query-block-jobs", "query-block"):
                actions = [Reply([])]
            elif name in self.commands:
                actions = [Reply({})]
            else:
                actions = [Error("CommandNotFound", f"The command {name} has not been found")]
        else:
            actions = script(args) if callable(script) else script
        for action in actions:
            if isinstance(action, Reply):
                writer.write(json.dumps({"return": action.value, "id": msg_id}).encode() + b"\n")
            elif isinstance(action, Error):
                body = {"error": {"class": action.cls, "desc": action.desc}, "id": msg_id}
                writer.write(json.dumps(body).encode() + b"\n")
            elif isinstance(action, Event):
                writer.write(self._event_bytes(action.name, action.data))
            elif isinstance(action, Raw):
                writer.write(action.data)
            elif isinstance(action, Close):
                await writer.drain()
                writer.close()
                return False
            elif isinstance(action, Hang):
                await asyncio.Event().wait()
            elif isinstance(action, Wait):
                await self._gate(action.name).wait()
            await writer.drain()
        return True

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for writer in self._writers:
                writer.close()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
