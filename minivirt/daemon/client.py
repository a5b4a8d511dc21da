"""One minivirtd client connection (libvirt's ``virnetserverclient.c``).

Owns a client's framing on the I/O loop, its limits and deadlines, who may
talk (TLS handshake and ``tls_allowed_dn_list``, one CONNECT_OPEN per
socket, the socket closed after CONNECT_CLOSE, as libvirtd), keepalive, and
the writing of replies and events.  A call runs in the worker pool unless
the daemon's own list of memory-only slots holds it *and* the client's
driver declares it non-blocking (``inline``); nothing that may touch the
disk, a subprocess or QEMU runs on the loop.  Bounds, all from
:class:`~minivirt.daemon.limits.Limits`: calls being served (inline ones
too; at the limit the daemon stops reading, as libvirtd's
max_client_requests), unsent reply bytes (past the cap it stops reading;
past twice the cap the client is dropped), the time for a begun frame to
arrive in full, the time a client may stay anonymous, and how many messages
one read may run before other clients get the loop.  Must not: block the
loop, die from anything a client sends.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Protocol, cast

from minivirt import core
from minivirt.core import aio
from minivirt.daemon.dispatch import Handler
from minivirt.daemon.eager import start_eager
from minivirt.daemon.limits import Limits
from minivirt.daemon.tls import ServerSession, dn_allowed, peer_dn, ssl_text
from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.remote.codec import (
    KEEPALIVE_PING,
    KEEPALIVE_PONG,
    KEEPALIVE_PROGRAM,
    Codec,
    Message,
    Role,
)
from minivirt.remote.protocol.procedures import PROCEDURES, Procedure
from minivirt.remote.protocol.runtime import RemoteProtocolError, WireStruct

__all__ = ["Client", "Daemon"]


class _Pool(Protocol):
    def submit(self, fn: Callable[..., None], *args: Any) -> None: ...


class Daemon(Protocol):
    """What a client needs of its server (``minivirt.daemon.server.Daemon``)."""

    uri: str
    limits: Limits
    clients: set[Client]

    @property
    def pool(self) -> _Pool: ...

    loop: asyncio.AbstractEventLoop
    loop_thread: int

    def open_conn(self, uri: str, read_only: bool) -> Any: ...


log = logging.getLogger("minivirtd")

#: Messages one read runs on the loop before yielding to other clients.
BATCH: Final = 32

_CONNECT_OPEN: Final = int(Procedure.CONNECT_OPEN)
_CONNECT_CLOSE: Final = int(Procedure.CONNECT_CLOSE)


class Client(asyncio.Protocol):
    """One client connection: framing and limits on the loop, calls in the pool."""

    def __init__(self, daemon: Daemon, tls: ssl.SSLContext | None = None) -> None:
        self.daemon = daemon
        self.limits = daemon.limits
        self.codec = Codec(Role.SERVER, daemon.limits.message)
        self.transport: asyncio.Transport | None = None
        self.outstanding = 0
        self.peer = "?"
        self.anonymous = True  # no CONNECT_OPEN has succeeded yet
        self.handler = Handler(
            daemon.open_conn,
            core.Domain,
            daemon.uri,
            self.send_event,
            (aio.domain_get_block_job_info_async, aio.has_async),
        )
        self._tls = tls
        self._session: ServerSession | None = None
        self._handshake_timer: asyncio.TimerHandle | None = None
        self._ready = False  # handshake done, checks passed: messages may be read
        self._opening = False  # a CONNECT_OPEN is queued or running
        self.closing = False  # CONNECT_CLOSE seen (or dropped): nothing else is read
        self._write_paused = False
        self._reading_paused = False
        self._batching = False
        self._stalled = False  # reading stopped by a limit with bytes still buffered
        # Writes from any thread: straight to the socket while asyncio has
        # nothing buffered (saves a hop into the loop), else through the loop.
        self._wlock = threading.Lock()
        self._fd = -1
        self._queued = 0
        self._frame_timer: asyncio.TimerHandle | None = None
        self._anon_timer: asyncio.TimerHandle | None = None
        self._ka_timer: asyncio.TimerHandle | None = None
        self._keepalive = False  # the client speaks keepalive: ping it when silent
        self._last_rx = time.monotonic()
        self._pings = 0

    # -- asyncio.Protocol -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.peer = _peer(transport)
        daemon = self.daemon
        active = sum(1 for c in daemon.clients if not c.closing)  # a closed one is gone
        if active >= self.limits.clients:
            log.warning(
                "Too many active clients (%d), dropping connection from %s",
                self.limits.clients,
                self.peer,
            )
            self.transport.abort()
            self.transport = None
            return
        anonymous = sum(1 for c in daemon.clients if c.anonymous and not c.closing)
        if anonymous >= self.limits.anonymous:
            log.warning(
                "Too many anonymous clients (%d), dropping connection from %s",
                self.limits.anonymous,
                self.peer,
            )
            self.transport.abort()
            self.transport = None
            return
        daemon.clients.add(self)
        hwm = max(self.limits.unsent, 1)
        self.transport.set_write_buffer_limits(high=hwm, low=hwm // 4)
        loop = daemon.loop
        self._anon_timer = loop.call_later(self.limits.anonymous_timeout, self._anonymous_expired)
        if self._tls is not None:  # TLS in memory: every refusal is seen and logged
            self._session = ServerSession(self._tls)
            self._handshake_timer = loop.call_later(10.0, self._handshake_expired)
            return
        sock = transport.get_extra_info("socket")
        self._fd = sock.fileno() if sock is not None else -1
        self._ready = True
        log.debug("client %s connected", self.peer)

    @property
    def tls(self) -> bool:
        """Whether this client came in over TLS."""
        return self._tls is not None

    def connection_lost(self, exc: Exception | None) -> None:
        self.daemon.clients.discard(self)
        for timer in (self._frame_timer, self._anon_timer, self._ka_timer, self._handshake_timer):
            if timer is not None:
                timer.cancel()
        with self._wlock:  # asyncio closes the socket only after this returns
            self.transport = None
            self._fd = -1
        log.debug("client %s gone", self.peer)
        self.daemon.pool.submit(self.handler.cleanup)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        self._last_rx = time.monotonic()
        self._pings = 0
        if self._session is not None:
            data = self._tls_received(data)
            if not data:
                return
        self.codec.receive_data(data)
        self._process()

    # -- TLS ------------------------------------------------------------------

    def _tls_received(self, data: bytes) -> bytes:
        """Ciphertext in: the handshake, the allow-list, then plaintext out."""
        session = self._session
        assert session is not None
        was_done = session.done
        try:
            plain, reply = session.receive(data)
        except ssl.SSLError as exc:
            what = "TLS error from" if was_done else "TLS handshake with"
            log.warning("%s %s refused: %s", what, self.peer, ssl_text(exc))
            self._drop_now()
            return b""
        if reply and self.transport is not None:
            self.transport.write(reply)
        if session.done and not was_done:
            if self._handshake_timer is not None:
                self._handshake_timer.cancel()
                self._handshake_timer = None
            dn = peer_dn(session.peercert())
            if not dn_allowed(dn, self.limits.tls_allowed_dn):
                log.warning(
                    "Client %s's x509 Distinguished Name '%s' is not on the list of allowed"
                    " clients (tls_allowed_dn_list), connection refused",
                    self.peer,
                    dn,
                )
                self._drop_now()
                return b""
            log.debug("client %s: TLS with '%s'", self.peer, dn)
            self._ready = True
        return plain

    def _handshake_expired(self) -> None:
        self._handshake_timer = None
        if self._session is not None and not self._session.done:
            log.warning("TLS handshake with %s refused: not finished within 10 s", self.peer)
            self._drop_now()

    # -- reading --------------------------------------------------------------

    def _blocked(self) -> bool:
        return (
            not self._ready
            or self._opening  # nothing else until the open has answered
            or self.closing
            or self._write_paused
            or self.outstanding >= self.limits.outstanding
        )

    def _update_reading(self) -> None:
        """Loop thread: pause or resume the socket as the limits say; run what is buffered."""
        transport = self.transport
        if transport is None:
            return
        want_pause = self._blocked() or self._batching
        if want_pause and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        elif not want_pause and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        if self._stalled and not want_pause:
            self._stalled = False
            self._batching = True
            self.daemon.loop.call_soon(self._continue)

    def _continue(self) -> None:
        self._batching = False
        self._process()

    def _process(self) -> None:
        """Run up to BATCH buffered messages, then let other clients have the loop."""
        codec = self.codec
        for _ in range(BATCH):
            if self.transport is None:
                return
            if self._blocked():
                self._stalled = codec.buffered > 0
                break
            try:
                msg = codec.next_message()
            except RemoteProtocolError as exc:
                self._protocol_error(exc)
                continue
            if msg is None:
                break
            self._message(msg)
        else:
            self._batching = True
            self.daemon.loop.call_soon(self._continue)
        self._frame_deadline()
        self._update_reading()

    def _frame_deadline(self) -> None:
        """A begun frame must arrive in full within frame_timeout."""
        partial = self.codec.buffered > 0 and not self._blocked()
        if partial and self._frame_timer is None and self.transport is not None:
            self._frame_timer = self.daemon.loop.call_later(
                self.limits.frame_timeout, self._frame_expired
            )
        elif not partial and self._frame_timer is not None:
            self._frame_timer.cancel()
            self._frame_timer = None

    def _frame_expired(self) -> None:
        self._frame_timer = None
        if self.codec.buffered and not self._blocked():
            self._drop(
                f"frame not received in full within {self.limits.frame_timeout:g} s"
                f" ({self.codec.buffered} bytes buffered)"
            )

    def _anonymous_expired(self) -> None:
        self._anon_timer = None
        if self.anonymous and not self._opening:
            self._drop(f"no connection opened within {self.limits.anonymous_timeout:g} s")

    # -- calls ----------------------------------------------------------------

    def _protocol_error(self, exc: RemoteProtocolError) -> None:
        header = getattr(exc, "header", None)
        fatal = self.codec.broken
        if header is not None:
            self._write(self.codec.error_reply(header.procedure, header.serial, exc))
        if fatal or header is None:
            self._drop(f"protocol error: {exc.message}")

    def _message(self, msg: Message) -> None:
        if msg.program == KEEPALIVE_PROGRAM:
            self._keepalive_message(msg.procedure)
            return
        proc = msg.procedure
        info = PROCEDURES[proc]
        refusal = self.handler.check(info)
        if refusal is None and proc == _CONNECT_OPEN and (self._opening or not self.anonymous):
            # The loop sees every CONNECT_OPEN in order: no second one slips through.
            refusal = VirError.report(
                ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, "connection already open"
            )
        if refusal is not None:
            self._write(self.codec.error_reply(proc, msg.serial, refusal))
            return
        if proc == _CONNECT_OPEN:
            self._opening = True
        elif proc == _CONNECT_CLOSE:
            self.closing = True  # libvirtd closes the socket after the reply
        with self._wlock:
            self.outstanding += 1
        coro = self.handler.dispatch_async(proc, msg.body)
        if coro is not None:  # awaited on the loop: no worker, no blocking (issue #14)
            start_eager(self.daemon.loop, coro, functools.partial(self._finish, msg))
        elif self.handler.inline(info):
            self._run(msg)  # answered from the driver's memory: skip the hand-off
        else:
            self.daemon.pool.submit(self._run, msg)

    def _run(self, msg: Message) -> None:
        """Worker (or, for memory-only calls, loop) thread: dispatch, encode, send the reply."""
        self._finish(msg, functools.partial(self.handler.dispatch, msg.procedure, msg.body))

    def _finish(self, msg: Message, result: Callable[[], WireStruct | None]) -> None:
        proc, serial = msg.procedure, msg.serial
        opened = False
        try:
            data = self.codec.reply(proc, serial, result())
            opened = proc == _CONNECT_OPEN
        except VirError as exc:
            data = self.codec.error_reply(proc, serial, exc)
        except Exception as exc:  # a bug below must not kill the daemon
            log.exception("procedure %d failed", proc)
            err = VirError.report(ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, repr(exc))
            data = self.codec.error_reply(proc, serial, err)
        with self._wlock:
            self.outstanding -= 1
            was_full = self.outstanding + 1 >= self.limits.outstanding
        self._write(data)
        if proc in (_CONNECT_OPEN, _CONNECT_CLOSE) or was_full:
            self._on_loop(self._after_call, proc, opened)

    def _after_call(self, proc: int, opened: bool) -> None:
        """Loop thread: a call finished; note an open, close after a close, read on."""
        if proc == _CONNECT_OPEN:
            self._opening = False
            if opened:
                self.anonymous = False
                if self._anon_timer is not None:
                    self._anon_timer.cancel()
                    self._anon_timer = None
        elif proc == _CONNECT_CLOSE:
            if self.transport is not None:
                log.debug("client %s closed its connection", self.peer)
                self.transport.close()  # after the reply is flushed
            return
        self._update_reading()

    def _on_loop(self, fn: object, *args: object) -> None:
        loop = self.daemon.loop
        try:
            if threading.get_ident() == self.daemon.loop_thread:
                fn(*args)  # type: ignore[operator]
            else:
                loop.call_soon_threadsafe(fn, *args)  # type: ignore[arg-type]
        except RuntimeError:  # loop closed during shutdown
            pass

    # -- keepalive --------------------------------------------------------------

    def _keepalive_message(self, proc: int) -> None:
        """A PING is answered with a PONG; either starts pinging this client when silent."""
        if proc == KEEPALIVE_PING:
            self._write(self.codec.keepalive(KEEPALIVE_PONG))
        if not self._keepalive and self.limits.keepalive_interval > 0:
            self._keepalive = True
            self._ka_timer = self.daemon.loop.call_later(
                self.limits.keepalive_interval, self._keepalive_tick
            )

    def _keepalive_tick(self) -> None:
        """Every interval: ping a silent client; count unanswered pings, then drop it."""
        self._ka_timer = None
        if self.transport is None:
            return
        interval, count = self.limits.keepalive_interval, self.limits.keepalive_count
        idle = time.monotonic() - self._last_rx
        if idle >= interval:
            if self._pings >= count:
                log.warning(
                    "No response from client %s after %d keepalive messages in %d seconds",
                    self.peer,
                    count,
                    int(idle),
                )
                self._drop_now()
                return
            self._pings += 1
            self._write(self.codec.keepalive(KEEPALIVE_PING))
            delay = float(interval)
        else:
            delay = interval - idle
        self._ka_timer = self.daemon.loop.call_later(delay, self._keepalive_tick)

    # -- writing and dropping -----------------------------------------------------

    def _drop(self, why: str) -> None:
        log.warning("dropping client %s: %s", self.peer, why)
        self.closing = True
        with self._wlock:
            transport, self.transport, self._fd = self.transport, None, -1
        if transport is not None:
            transport.close()

    def _drop_now(self) -> None:
        self.closing = True
        with self._wlock:
            transport, self.transport, self._fd = self.transport, None, -1
        if transport is not None:
            transport.abort()

    def _write(self, data: bytes) -> None:
        """Send ``data`` (any thread), keeping frames whole and in order."""
        with self._wlock:
            transport = self.transport
            if transport is None:
                return
            if self._fd >= 0 and not self._queued and transport.get_write_buffer_size() == 0:
                try:
                    sent = os.write(self._fd, data)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    return  # the loop sees the broken connection and cleans up
                if sent == len(data):
                    return
                data = data[sent:]
            self._queued += 1
        self._on_loop(self._write_queued, data)

    def _write_queued(self, data: bytes) -> None:
        with self._wlock:
            self._queued -= 1
            transport = self.transport
            if transport is None:
                return
            if self._session is not None:  # loop thread only: the session is not thread-safe
                try:
                    data = self._session.send(data)
                except ssl.SSLError as exc:
                    log.warning("TLS write to %s failed: %s", self.peer, exc)
                    return
            transport.write(data)
            unsent = transport.get_write_buffer_size()
        if unsent > 2 * self.limits.unsent:  # events keep coming to a client that never reads
            self._drop_now()
            log.warning(
                "dropping client %s: %d reply bytes unsent (max_unsent_bytes %d)",
                self.peer,
                unsent,
                self.limits.unsent,
            )

    def send_event(self, proc: int, msg: WireStruct) -> None:
        """Any thread: queue an event MESSAGE for this client."""
        try:
            data = self.codec.event(proc, msg)
        except VirError as exc:
            log.warning("event for %s not sent: %s", self.peer, exc)
            return
        self._write(data)


def _peer(transport: asyncio.BaseTransport) -> str:
    name = transport.get_extra_info("peername")
    if isinstance(name, tuple) and len(name) >= 2:
        return f"{name[0]}:{name[1]}"
    return str(name) if name else "unix"
