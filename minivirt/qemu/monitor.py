"""The QMP monitor: the one module of minivirt that imports ``qemu.qmp``.

It owns one connection per QEMU process (:class:`Monitor`), run on a
driver's :class:`~minivirt.qemu.monitorloop.MonitorLoop`, with a
synchronous, typed surface for the driver: each command has a timeout,
every ``qemu.qmp`` exception is translated here, once, into a
:class:`VirError` (error domain QEMU), and block-job events plus the end of
the connection are handed to driver callbacks on the loop thread in the order
QEMU sent them.  At connect time the block-job command generation is probed
(``query-commands``).  It must not hold domain state, emit libvirt events or
call back into the driver other than through the two callbacks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import socket
from collections.abc import Callable, Mapping
from typing import Final

from qemu.qmp import ExecInterruptedError, ExecuteError, QMPClient, QMPError
from qemu.qmp.message import Message
from qemu.qmp.protocol import Runstate

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.qemu.monitorloop import MonitorLoop, timeout_error
from minivirt.qemu.qmpreply import (
    BlockChainEntry,
    CommandSet,
    QemuBlockJob,
    QmpEvent,
    command_error,
    internal_error,
    parse_block_chain,
    parse_block_jobs,
    parse_command_set,
)

__all__ = ["DEFAULT_TIMEOUT", "EOF_MESSAGE", "Monitor"]

_log = logging.getLogger(__name__)
# qemu.qmp logs a disconnect at ERROR level; without this, Python's last-resort
# handler would print it on a shell user's terminal.  Applications that
# configure logging still receive every record.
logging.getLogger("qemu.qmp").addHandler(logging.NullHandler())
logging.getLogger("minivirt.qemu").addHandler(logging.NullHandler())

#: Seconds a QMP command may take before the call fails with OPERATION_TIMEOUT.
DEFAULT_TIMEOUT: Final[float] = 30.0
#: Detail of the OPERATION_FAILED error when QEMU went away.
EOF_MESSAGE: Final[str] = "End of file from qemu monitor"


def _dump(obj: object) -> str:
    """One QMP message as JSON, for the debug log (MINIVIRT_DEBUG=1)."""
    return json.dumps(obj, separators=(",", ":"), default=str)


def _eof_error() -> VirError:
    return VirError.report(ErrorNumber.OPERATION_FAILED, ErrorDomain.QEMU, EOF_MESSAGE)


class _Client(QMPClient):
    """QMPClient handing every event straight to a callback, in arrival order.

    Its message hooks log only when qemu.qmp's logger is on: the library's
    own hooks render every message as indented JSON for a debug line even
    when nothing is logged (most of a query's CPU time, issue #14).
    """

    def __init__(self, name: str, on_event: Callable[[QmpEvent], None]) -> None:
        super().__init__(name)
        self._on_event = on_event

    def _cb_outbound(self, msg: Message) -> Message:
        if self.logger.isEnabledFor(logging.DEBUG):
            return super()._cb_outbound(msg)
        return msg

    def _cb_inbound(self, msg: Message) -> Message:
        if self.logger.isEnabledFor(logging.DEBUG):
            return super()._cb_inbound(msg)
        return msg

    async def _event_dispatch(self, msg: Message) -> None:
        data = msg.get("data")
        stamp = msg.get("timestamp")
        seconds = micro = 0
        if isinstance(stamp, dict):
            s, us = stamp.get("seconds"), stamp.get("microseconds")
            seconds = s if isinstance(s, int) else 0
            micro = us if isinstance(us, int) else 0
        event = QmpEvent(
            name=str(msg.get("event")),
            data=data if isinstance(data, dict) else {},
            seconds=seconds,
            microseconds=micro,
        )
        try:
            self._on_event(event)
        except Exception:  # a driver bug must not kill the reader
            _log.exception("monitor event callback failed for %s", event.name)
        # Let the loop run what the event queued (a domain event's zero timer) before
        # the events QEMU sent behind it are read: a finished job is followed by
        # JOB_STATUS_CHANGE events nobody waits for.
        await asyncio.sleep(0)
        # Logged once the event is on its way: rendering the line must not delay it.
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("QEMU_MONITOR_RECV_EVENT: mon=%s event=%s", self.name, _dump(dict(msg)))


class Monitor:
    """One QMP connection to one QEMU process, with a synchronous typed surface.

    Mirrors libvirt's qemuMonitor / qemu_monitor_json.c: each method issues
    one QMP command and raises VirError (domain QEMU) on failure.
    """

    def __init__(
        self,
        loop: MonitorLoop,
        name: str,
        on_event: Callable[[QmpEvent], None],
        on_eof: Callable[[], None],
        timeout: float,
    ) -> None:
        self._mloop = loop
        self._client = _Client(name, on_event)
        self._on_eof = on_eof
        self.timeout = timeout
        self._closing = False
        self._gone = False
        self._watcher: asyncio.Task[None] | None = None
        self._jobs_inflight: asyncio.Future[tuple[QemuBlockJob, ...]] | None = None
        self.command_set = CommandSet.NONE
        self.qemu_version = 0
        #: How many query_block_jobs() calls were answered by a query already in flight.
        self.shared_queries = 0

    @classmethod
    def open(
        cls,
        loop: MonitorLoop,
        address: socket.socket | str,
        *,
        on_event: Callable[[QmpEvent], None],
        on_eof: Callable[[], None],
        timeout: float = DEFAULT_TIMEOUT,
        name: str = "qemu",
    ) -> Monitor:
        """Connect, negotiate capabilities and probe the block-job command set.

        Raises VirError OPERATION_FAILED "End of file from qemu monitor" when
        the peer goes away, OPERATION_TIMEOUT when it does not answer, and
        INTERNAL_ERROR for a malformed greeting or probe reply.
        """
        mon = cls(loop, name, on_event, on_eof, timeout)
        try:
            loop.run(mon._connect(address), timeout, "qmp_capabilities")
        except VirError:
            loop.run(mon._shutdown(), timeout, "disconnect")
            raise
        return mon

    async def _connect(self, address: socket.socket | str) -> None:
        try:
            await self._client.connect(address)
        except QMPError as exc:
            cause = exc.exc if hasattr(exc, "exc") else exc
            if isinstance(cause, EOFError | ConnectionResetError | BrokenPipeError):
                raise _eof_error() from exc
            if isinstance(cause, OSError):
                raise VirError.report(
                    ErrorNumber.SYSTEM_ERROR,
                    ErrorDomain.QEMU,
                    f"failed to connect to monitor socket: {cause.strerror}",
                ) from exc
            raise internal_error(f"unable to connect to QEMU monitor: {exc}") from exc
        except (OSError, EOFError) as exc:
            raise _eof_error() from exc
        greeting = self._client.greeting
        self.qemu_version = _greeting_version(greeting.QMP.version if greeting else None)
        self._watcher = asyncio.get_running_loop().create_task(self._watch())
        self.command_set = parse_command_set(await self._execute("query-commands", None, None))

    async def _watch(self) -> None:
        client = self._client
        while client.runstate == Runstate.RUNNING:
            await client.runstate_changed()
        try:
            await client.disconnect()
        except (QMPError, OSError, EOFError) as exc:
            _log.debug("monitor %s ended: %s", client.name, exc)
        self._gone = True
        if not self._closing:
            try:
                self._on_eof()
            except Exception:
                _log.exception("monitor EOF callback failed")

    async def _execute(
        self, command: str, args: Mapping[str, object] | None, job: str | None
    ) -> object:
        if self._gone or self._client.runstate != Runstate.RUNNING:
            raise _eof_error()
        debug = _log.isEnabledFor(logging.DEBUG)
        if debug:
            msg: dict[str, object] = {"execute": command}
            if args:
                msg["arguments"] = dict(args)
            _log.debug("QEMU_MONITOR_SEND_MSG: mon=%s msg=%s", self._client.name, _dump(msg))
        try:
            reply = await self._client.execute(command, args)
        except ExecuteError as exc:
            if debug:
                _log.debug(
                    "QEMU_MONITOR_RECV_REPLY: mon=%s reply=%s",
                    self._client.name,
                    _dump({"error": {"class": exc.error_class, "desc": str(exc)}}),
                )
            raise command_error(command, exc.error_class, str(exc), job) from exc
        except (QMPError, OSError, EOFError) as exc:
            raise self._transport_error(exc, f" '{command}'") from exc
        if debug:
            _log.debug(
                "QEMU_MONITOR_RECV_REPLY: mon=%s reply=%s",
                self._client.name,
                _dump({"return": reply}),
            )
        return reply

    def _transport_error(self, exc: BaseException, command: str) -> VirError:
        """What a failure other than QEMU's own error reply means: the monitor is gone
        (interrupted, closed, end of file) or qemu.qmp refused the exchange."""
        if (
            isinstance(exc, QMPError)
            and not isinstance(exc, ExecInterruptedError)
            and self._client.runstate == Runstate.RUNNING
        ):
            return internal_error(f"unable to execute QEMU command{command}: {exc}")
        return _eof_error()

    async def _shutdown(self) -> None:
        self._closing = True
        try:
            await self._client.disconnect()
        except (QMPError, OSError, EOFError) as exc:
            _log.debug("monitor disconnect: %s", exc)
        if self._watcher is not None:
            self._watcher.cancel()
        self._gone = True

    def _run(self, command: str, args: Mapping[str, object] | None, job: str | None) -> object:
        speed = (args or {}).get("speed")
        if isinstance(speed, int) and speed >= 1 << 63:
            # libvirt builds 'speed' as a signed long long ("J" in
            # qemuMonitorJSONMakeCommand), so a larger value reads as negative.
            raise VirError.report(
                ErrorNumber.INTERNAL_ERROR,
                ErrorDomain.QEMU,
                "argument key 'speed' must not be negative",
            )
        return self._mloop.run(self._execute(command, args, job), self.timeout, command)

    @property
    def closed(self) -> bool:
        """True once the connection is gone (EOF or close())."""
        return self._gone

    def close(self) -> None:
        """Disconnect without reporting EOF to the driver (idempotent)."""
        if self._gone and self._closing:
            return
        self._closing = True
        if self._mloop.in_loop_thread():
            self._mloop.loop.create_task(self._shutdown())
            return
        try:
            self._mloop.run(self._shutdown(), self.timeout, "disconnect")
        except VirError as exc:
            _log.debug("monitor close: %s", exc)

    # -- commands -----------------------------------------------------------

    def execute(self, command: str, args: Mapping[str, object] | None = None) -> object:
        """Any QMP command; its ``return`` value (errors mapped as qemuMonitorJSONCheckError)."""
        return self._run(command, args, None)

    def cont(self) -> None:
        """``cont``: let a domain started with -S run."""
        self._run("cont", None, None)

    def passthrough(self, msg: Mapping[str, object]) -> dict[str, object]:
        """One QMP command as a user wrote it (libvirt's qemuMonitorJSONArbitraryCommand).

        ``msg`` must hold ``execute``.  Returns QEMU's whole reply without the
        id qemu.qmp gave it, ``{"return": …}`` or ``{"error": {…}}``: a QMP
        error is an answer here, not an exception.  Raises OPERATION_FAILED
        (EOF), OPERATION_TIMEOUT, INTERNAL_ERROR for a reply qemu.qmp refuses.
        """
        return self._mloop.run(self._passthrough(msg), self.timeout, str(msg.get("execute")))

    async def _passthrough(self, msg: Mapping[str, object]) -> dict[str, object]:
        if self._gone or self._client.runstate != Runstate.RUNNING:
            raise _eof_error()
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("QEMU_MONITOR_SEND_MSG: mon=%s msg=%s", self._client.name, _dump(msg))
        try:
            value = await self._client.execute_msg(Message(msg))
        except ExecuteError as exc:
            reply = dict(exc.received)
            reply.pop("id", None)
            return reply
        except (QMPError, OSError, EOFError) as exc:
            raise self._transport_error(exc, "") from exc
        return {"return": value}

    def query_block_chain(self, device: str) -> tuple[BlockChainEntry, ...]:
        """The backing chain QEMU opened for ``device`` (``query-block``), top first."""
        return parse_block_chain(self._run("query-block", None, None), device)

    def query_block_jobs(self) -> tuple[QemuBlockJob, ...]:
        """``query-block-jobs``, validated (as libvirt's qemuMonitorJSONParseBlockJobInfo).

        Calls arriving while a query is in flight share its answer instead of
        queueing behind it (single flight).
        """
        return self._mloop.run(self._query_jobs_shared(), self.timeout, "query-block-jobs")

    async def query_block_jobs_async(self) -> tuple[QemuBlockJob, ...]:
        """:meth:`query_block_jobs`, awaited from any event loop without blocking it.

        On the monitor's own loop it is awaited directly; from another loop
        the query runs on the monitor's loop and only its answer crosses back
        (no thread waits).  Raises as :meth:`query_block_jobs`.
        """
        if self._mloop.in_loop_thread():
            return await self._query_jobs_on_loop()
        coro = asyncio.wait_for(self._query_jobs_shared(), self.timeout)
        try:
            if self._mloop.closed:
                coro.close()
                raise internal_error("cannot run 'query-block-jobs' on a closed monitor loop")
            future = asyncio.run_coroutine_threadsafe(coro, self._mloop.loop)
            return await asyncio.wrap_future(future)
        except (TimeoutError, concurrent.futures.TimeoutError) as exc:
            raise timeout_error("query-block-jobs", self.timeout) from exc

    async def _query_jobs_on_loop(self) -> tuple[QemuBlockJob, ...]:
        """The shared query awaited on the monitor's loop, with this caller's timeout.

        As ``wait_for(_query_jobs_shared(), timeout)`` without its extra Task per
        call: a timer cancels this caller's shield (never the shared query).
        """
        loop = asyncio.get_running_loop()
        waiter = asyncio.shield(self._jobs_query(loop))
        expired: list[bool] = []

        def expire() -> None:
            expired.append(True)
            waiter.cancel()

        timer = loop.call_later(self.timeout, expire)
        try:
            return await waiter
        except asyncio.CancelledError:
            if not expired:
                raise  # the caller itself was cancelled
            raise timeout_error("query-block-jobs", self.timeout) from None
        finally:
            timer.cancel()

    def _jobs_query(
        self, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[tuple[QemuBlockJob, ...]]:
        """The query-block-jobs in flight, or a new one (single-flight)."""
        shared = self._jobs_inflight
        if shared is None or shared.done():
            shared = loop.create_task(self._query_jobs_raw())
            shared.add_done_callback(_consume_exception)
            self._jobs_inflight = shared
        else:
            self.shared_queries += 1
        return shared

    async def _query_jobs_raw(self) -> tuple[QemuBlockJob, ...]:
        return parse_block_jobs(await self._execute("query-block-jobs", None, None))

    async def _query_jobs_shared(self) -> tuple[QemuBlockJob, ...]:
        return await asyncio.shield(self._jobs_query(asyncio.get_running_loop()))

    def _require_jobs(self) -> None:
        if self.command_set is CommandSet.NONE:
            raise VirError.report(
                ErrorNumber.CONFIG_UNSUPPORTED,
                ErrorDomain.QEMU,
                "block jobs not supported with this QEMU binary",
            )

    def block_stream(
        self,
        device: str,
        *,
        base: str | None = None,
        backing_file: str | None = None,
        speed: int = 0,
    ) -> None:
        """Start a pull: ``block-stream`` (modern) or ``block_stream`` (2011).

        Raises VirError CONFIG_UNSUPPORTED for a base or a start bandwidth
        with the 2011 commands, or when the binary has no block jobs.
        """
        self._require_jobs()
        if self.command_set is CommandSet.LEGACY:
            if base is not None:
                raise VirError.report(
                    ErrorNumber.CONFIG_UNSUPPORTED,
                    ErrorDomain.QEMU,
                    "partial block pull not supported with this QEMU binary",
                )
            if speed:
                raise VirError.report(
                    ErrorNumber.CONFIG_UNSUPPORTED,
                    ErrorDomain.QEMU,
                    "setting bandwidth at start of block pull not supported with this QEMU binary",
                )
            self._run("block_stream", {"device": device}, device)
            return
        args: dict[str, object] = {"device": device}
        if base is not None:
            args["base"] = base
        if backing_file is not None:
            args["backing-file"] = backing_file
        if speed:
            args["speed"] = speed
        self._run("block-stream", args, device)

    def block_job_cancel(self, device: str) -> bool:
        """Cancel the job on ``device``; True if QEMU will announce it with an event.

        The 2011 ``block_job_cancel`` is synchronous and emits nothing: the
        caller synthesises CANCELED itself.
        """
        self._require_jobs()
        if self.command_set is CommandSet.LEGACY:
            self._run("block_job_cancel", {"device": device}, device)
            return False
        self._run("block-job-cancel", {"device": device}, device)
        return True

    def block_job_set_speed(self, device: str, speed: int) -> None:
        """``block-job-set-speed`` {speed} or the 2011 ``block_job_set_speed`` {value}, bytes/s."""
        self._require_jobs()
        if self.command_set is CommandSet.LEGACY:
            self._run("block_job_set_speed", {"device": device, "value": speed}, device)
            return
        self._run("block-job-set-speed", {"device": device, "speed": speed}, device)

    def quit(self) -> None:
        """``quit``: ask QEMU to exit (the EOF that follows is not reported)."""
        self._closing = True
        try:
            self._run("quit", None, None)
        except VirError as exc:
            _log.debug("quit: %s", exc)


def _consume_exception(task: asyncio.Future[tuple[QemuBlockJob, ...]]) -> None:
    if not task.cancelled():
        task.exception()


def _greeting_version(version: object) -> int:
    """major*1000000 + minor*1000 + micro from the greeting's ``version`` member (0 if absent)."""
    qemu = version.get("qemu") if isinstance(version, Mapping) else None
    if not isinstance(qemu, Mapping):
        return 0
    parts = [qemu.get(key) for key in ("major", "minor", "micro")]
    if not all(isinstance(part, int) for part in parts):
        return 0
    major, minor, micro = (int(str(part)) for part in parts)
    return major * 1_000_000 + minor * 1000 + micro
