"""The client end of one RPC connection (libvirt's ``virnetclient.c``).

Owns the blocking socket, serial numbers, and who reads the socket.  As in
libvirt, a calling thread reads the socket itself while it waits (it holds
"the buck"), delivering other threads' replies on the way, and hands the buck
to another waiting caller when its own reply is in; so a lone caller never
pays a thread switch.  While nobody calls, events are read by the thread of
the application's event loop itself, as libvirt's virNetClient does: once
events are wanted the socket is watched there (virEventAddHandle), and a
readable socket is read without blocking by that thread, which then runs
the callbacks, with no reader thread handing the event over.  The watch is
paused while a caller holds the buck and resumed when it lets go.  A
background thread reads only when no event loop watches the socket and
events or keepalive are wanted.  Keepalive is libvirt's: once started, a
PING goes out after ``interval`` seconds without a byte from the server, and
``count`` unanswered PINGs close the connection ("connection closed due to
keepalive timeout"); the server's PINGs are answered with PONGs.  A dropped
connection completes every pending call with libvirt's SYSTEM_ERROR / RPC
error; nothing waits forever.  Socket errors are
translated here, once.  Must not: know procedures beyond the codec's table,
import asyncio.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Callable

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.public.logger import get_logger
from minivirt.remote.codec import (
    KEEPALIVE_PING,
    KEEPALIVE_PONG,
    KEEPALIVE_PROGRAM,
    Codec,
    Message,
    MessageStatus,
    MessageType,
    Role,
)
from minivirt.remote.protocol.runtime import RemoteProtocolError, WireStruct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Protocol
else:
    Protocol = object  # a static type only: mypy checks it, run time never does

__all__ = ["RPCClient", "StreamSocket", "keepalive_timeout", "os_text", "system_error"]

log = get_logger(__name__)

_RECV_SIZE: Final = 256 * 1024
_NOWAIT: Final = socket.MSG_DONTWAIT


def system_error(text: str) -> VirError:
    """VIR_ERR_SYSTEM_ERROR in VIR_FROM_RPC, as virnetsocket reports I/O failures."""
    return VirError.report(ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC, text)


def keepalive_timeout() -> VirError:
    """What every call gets once the server failed to answer ``count`` PINGs."""
    return VirError.report(
        ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, "connection closed due to keepalive timeout"
    )


def os_text(exc: OSError) -> str:
    """strerror of an OSError (what libvirt's virReportSystemError appends)."""
    return os.strerror(exc.errno) if exc.errno else str(exc)


class StreamSocket(Protocol):
    """What the client needs of a connection: a socket, or a TLS session over one.

    ``recv`` takes the flags of socket.recv; with ``socket.MSG_DONTWAIT`` it raises
    BlockingIOError when nothing can be read yet.
    """

    def recv(self, size: int, flags: int = 0, /) -> bytes: ...
    def fileno(self) -> int: ...
    def sendall(self, data: bytes, /) -> None: ...
    def shutdown(self, how: int, /) -> None: ...
    def close(self) -> None: ...


class _Slot:
    """One outstanding call.  ``lock`` is held until somebody wakes the caller."""

    __slots__ = ("done", "error", "lock", "message", "proc", "waiting")

    def __init__(self, proc: int) -> None:
        self.proc = proc
        self.lock = threading.Lock()
        self.lock.acquire()
        self.message: Message | None = None
        self.error: VirError | None = None
        self.done = False
        self.waiting = False


class RPCClient:
    """Calls over one connection from any number of threads; events to ``on_event``."""

    def __init__(self, sock: StreamSocket, on_event: Callable[[Message], None]) -> None:
        self._sock = sock
        self._on_event = on_event
        self._codec = Codec(Role.CLIENT)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._send_lock = threading.Lock()
        self._pending: dict[int, _Slot] = {}
        self._serial = 0
        self._reading = False
        self._want_events = False
        self._closing = False
        self.dead: VirError | None = None
        self._keepalive: tuple[int, int] | None = None  # (interval, count) once started
        self._keepalive_stop = threading.Event()
        self._last_rx = time.monotonic()
        self._pings = 0
        self._watch = -1  # the application's event loop watches the socket (events wanted)
        self._watch_paused = False  # ... but a caller holds the buck
        self._background = threading.Thread(
            target=self._background_loop, name="minivirt-remote-events", daemon=True
        )
        self._background.start()

    @property
    def alive(self) -> bool:
        return self.dead is None and not self._closing

    def want_events(self, wanted: bool) -> None:
        """Events are wanted (registrations exist): somebody reads while nobody calls.

        That is the application's event loop, watching the socket from the first
        registration until the connection closes; the background thread only when
        no event loop is registered.
        """
        with self._lock:
            self._want_events = wanted
            self._idle.notify_all()
        if wanted:
            self._watch_socket()

    def _watch_socket(self) -> None:
        from minivirt import events  # only a client that wants events needs the loop

        with self._lock:
            if self._watch >= 0 or self.dead is not None or self._closing:
                return
            if events.event_registered_impl() is None:
                return  # no loop to watch from: the background thread reads
            watch = events.event_add_handle(
                self._sock.fileno(), events.EVENT_HANDLE_READABLE, self._incoming
            )
            if watch >= 0:
                self._watch = watch
                self._idle.notify_all()  # the background thread's reading is no longer needed

    def _unwatch_socket(self) -> None:
        """Lock held: the loop stops watching (the connection failed or is closing)."""
        if self._watch >= 0:
            from minivirt import events

            events.event_remove_handle(self._watch)
            self._watch = -1

    def _incoming(self, watch: int, fd: int, revents: int) -> None:
        """Event loop thread: the socket is readable; read what is there unless a caller is."""
        from minivirt import events

        with self._lock:
            if watch != self._watch or self.dead is not None or self._closing:
                return
            if self._reading:
                # The buck holder reads it; stop the loop waking for it until it lets go.
                if not self._watch_paused:
                    self._watch_paused = True
                    events.event_update_handle(watch, 0)
                return
            self._reading = True
        try:
            self._read_once(wait=False)
        finally:
            self._pass_buck()

    def start_keepalive(self, interval: int, count: int) -> None:
        """Mirrors virNetClientKeepAliveStart (``interval`` <= 0 stops it)."""
        with self._lock:
            running = self._keepalive is not None
            if interval <= 0:
                self._keepalive = None
                self._keepalive_stop.set()
                return
            self._keepalive = (interval, count)
            self._idle.notify_all()
        if not running:
            self._keepalive_stop.clear()
            self._send_keepalive(KEEPALIVE_PING)  # tells the server to watch us too
            threading.Thread(
                target=self._keepalive_loop, name="minivirt-remote-keepalive", daemon=True
            ).start()

    def _send_keepalive(self, proc: int) -> None:
        try:
            with self._send_lock:
                self._sock.sendall(self._codec.keepalive(proc))
        except OSError as exc:
            self._fail(system_error(f"Cannot write data: {os_text(exc)}"))

    def _keepalive_loop(self) -> None:
        delay = 0.0
        while not self._keepalive_stop.wait(delay):
            with self._lock:
                settings = self._keepalive
                if settings is None or self.dead is not None or self._closing:
                    return
            interval, count = settings
            idle = time.monotonic() - self._last_rx
            if idle < interval:
                delay = interval - idle
                continue
            if self._pings >= count:
                log.debug("no answer from the server to %d keepalive messages", count)
                self._fail(keepalive_timeout())
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self._pings += 1
            self._send_keepalive(KEEPALIVE_PING)
            delay = float(interval)

    def call(self, proc: int, args: WireStruct | None) -> WireStruct | None:
        """One round trip; the reply's body, or the server's error raised as VirError."""
        slot = _Slot(int(proc))
        with self._lock:
            if self.dead is not None or self._closing:
                raise VirError.report(
                    ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, "client socket is closed"
                )
            self._serial += 1
            serial = self._serial
            self._pending[serial] = slot
        try:
            data = self._codec.call(proc, serial, args)
        except VirError:
            with self._lock:
                self._pending.pop(serial, None)
            raise
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError as exc:
            self._fail(system_error(f"Cannot write data: {os_text(exc)}"))
        self._wait(slot)
        if slot.error is not None:
            raise slot.error
        msg = slot.message
        assert msg is not None
        if msg.status == MessageStatus.ERROR:
            assert isinstance(msg.body, VirError)
            raise msg.body
        assert not isinstance(msg.body, VirError)
        return msg.body

    def close(self) -> None:
        """Shut the socket; pending calls fail; the background thread ends."""
        with self._lock:
            self._closing = True
            self._idle.notify_all()
        self._keepalive_stop.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if threading.current_thread() is not self._background:
            self._background.join()
        with self._lock:
            self._unwatch_socket()  # before the descriptor goes
        self._sock.close()

    # -- who reads ------------------------------------------------------------

    def _wait(self, slot: _Slot) -> None:
        while True:
            with self._lock:
                if slot.done:
                    return
                lead = not self._reading
                if lead:
                    self._reading = True
                else:
                    slot.waiting = True
            if lead:
                try:
                    while not slot.done and self._read_once():
                        pass
                finally:
                    self._pass_buck()
                return
            slot.lock.acquire()  # woken with the reply, or to take over reading

    def _pass_buck(self) -> None:
        with self._lock:
            self._reading = False
            for other in self._pending.values():
                if other.waiting:
                    other.waiting = False
                    other.lock.release()
                    return
            if self._watch_paused:
                self._watch_paused = False
                if self._watch >= 0:
                    from minivirt import events

                    events.event_update_handle(self._watch, events.EVENT_HANDLE_READABLE)
            if self._want_events or self._keepalive is not None:  # the background reader's work
                self._idle.notify_all()

    def _background_loop(self) -> None:
        while True:
            with self._lock:
                while (
                    not self._closing
                    and self.dead is None
                    and (
                        self._reading
                        or self._pending
                        or self._watch >= 0  # the event loop reads
                        or not (self._want_events or self._keepalive is not None)
                    )
                ):
                    self._idle.wait()
                if self._closing or self.dead is not None:
                    return
                self._reading = True
            try:
                self._read_once()
            finally:
                self._pass_buck()

    def _read_once(self, wait: bool = True) -> bool:
        """Read what the socket has and dispatch it (buck holder only); False once dead.

        With ``wait`` False (the event loop's thread) it returns at once when
        nothing is there yet.
        """
        try:
            data = self._sock.recv(_RECV_SIZE) if wait else self._sock.recv(_RECV_SIZE, _NOWAIT)
        except BlockingIOError:
            return True
        except OSError as exc:
            if exc.errno == errno.EINTR:
                return True
            self._fail(system_error(f"Cannot recv data: {os_text(exc)}"))
            return False
        if not data:
            self._fail(system_error("End of file while reading data: Input/output error"))
            return False
        self._last_rx = time.monotonic()
        self._pings = 0
        codec = self._codec
        codec.receive_data(data)
        while True:
            try:
                msg = codec.next_message()
            except RemoteProtocolError as exc:
                if self._bad_message(exc):
                    continue
                self._fail(exc)
                return False
            if msg is None:
                return True
            if msg.program == KEEPALIVE_PROGRAM:
                if msg.procedure == KEEPALIVE_PING:
                    self._send_keepalive(KEEPALIVE_PONG)
            elif msg.type == MessageType.REPLY:
                self._complete(msg.serial, msg, None)
            else:
                try:
                    self._on_event(msg)
                except Exception:  # an event must never kill the reader
                    log.exception("event handling failed")

    def _complete(self, serial: int, msg: Message | None, err: VirError | None) -> None:
        with self._lock:
            slot = self._pending.pop(serial, None)
            if slot is None:
                log.warning("reply for unknown serial %d dropped", serial)
                return
            if msg is not None and msg.procedure != slot.proc:
                text = f"reply to procedure {slot.proc} carries procedure {msg.procedure}"
                msg, err = None, RemoteProtocolError(text)
            slot.message, slot.error, slot.done = msg, err, True
            if slot.waiting:
                slot.waiting = False
                slot.lock.release()
            if not self._pending and (self._want_events or self._keepalive is not None):
                self._idle.notify_all()

    def _bad_message(self, exc: RemoteProtocolError) -> bool:
        """A well-framed but bad message: fail its call if it is a reply, and go on."""
        header = getattr(exc, "header", None)
        if header is None or self._codec.broken:
            return False
        if header.type == MessageType.REPLY:
            self._complete(header.serial, None, exc)
        else:
            log.warning("bad message from server dropped: %s", exc)
        return True

    def _fail(self, err: VirError) -> None:
        """The connection is gone: every pending caller gets ``err``."""
        with self._lock:
            if self.dead is None:
                self.dead = err
            pending, self._pending = self._pending, {}
            self._keepalive_stop.set()
            self._unwatch_socket()  # a dead socket stays readable: the loop must not spin
            for slot in pending.values():
                slot.error, slot.done = err, True
                if slot.waiting:
                    slot.waiting = False
                    slot.lock.release()
            self._idle.notify_all()
