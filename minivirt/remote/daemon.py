"""minivirtd: serves a local hypervisor to remote clients (libvirt's ``libvirtd``).

Owns the asyncio I/O loop (uvloop's when installed; one ``asyncio.Protocol``
per client over TCP, TLS or a unix socket), the worker pool every call runs
in (so a slow call never stalls another client), the limits (clients, frame
size, outstanding calls per client), the event-loop thread that core's event
callbacks run in, and clean shutdown on SIGTERM/SIGINT.  Replies and events
are written from the thread that made them, straight to the socket while
asyncio has nothing buffered for it, else through the loop
(``call_soon_threadsafe``); TLS clients always through the loop.  The daemon
is a client of the public API: each client's CONNECT_OPEN is a ``core.open``
here, in server mode, so ``qemu:///system`` means the local qemu driver.
Must not: die from anything a client sends.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import logging
import os
import queue
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

import minivirt.wiring  # noqa: F401  (registers the drivers with core)
from minivirt import core
from minivirt.events import EventLoopThread
from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.remote import DEFAULT_TCP_PORT, DEFAULT_TLS_PORT, DEFAULT_UNIX_SOCKET
from minivirt.remote.codec import Codec, Message, Role
from minivirt.remote.dispatch import Handler
from minivirt.remote.protocol.procedures import PROCEDURES
from minivirt.remote.protocol.runtime import RemoteProtocolError, WireStruct
from minivirt.remote.tls import server_context

__all__ = ["Daemon", "Limits", "main"]

log = logging.getLogger("minivirtd")

DEFAULT_URI: Final = "qemu:///system"


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """libvirtd's max_clients and max_client_requests, the frame size, the workers."""

    clients: int = 120
    outstanding: int = 64
    message: int = 33554432
    workers: int = 8


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed (and not disabled by MINIVIRTD_NO_UVLOOP), else asyncio's."""
    if not os.environ.get("MINIVIRTD_NO_UVLOOP"):
        try:
            import uvloop  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()  # type: ignore[no-any-return,unused-ignore]
    return asyncio.new_event_loop()


class WorkerPool:
    """Fixed worker threads fed by one queue (lighter than ThreadPoolExecutor per call)."""

    def __init__(self, workers: int) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]] | None]
        self._queue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"minivirtd-worker-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` in a worker."""
        self._queue.put((fn, args))

    def shutdown(self) -> None:
        """Finish queued work, then stop every worker."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, args = item
            try:
                fn(*args)
            except Exception:  # a worker must survive anything
                log.exception("worker task failed")


class _Client(asyncio.Protocol):
    """One client connection: framing in the loop, calls in the pool."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.codec = Codec(Role.SERVER, daemon.limits.message)
        self.transport: asyncio.Transport | None = None
        self.outstanding = 0
        # Writes from any thread: straight to the socket while asyncio has
        # nothing buffered (saves a hop into the loop), else through the loop.
        self._wlock = threading.Lock()
        self._fd = -1
        self._queued = 0
        self.peer = "?"
        self.handler = Handler(daemon.open_conn, core.Domain, daemon.uri, self.send_event)

    # -- asyncio.Protocol -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.peer = str(transport.get_extra_info("peername") or "unix")
        if len(self.daemon.clients) >= self.daemon.limits.clients:
            log.warning(
                "Too many active clients (%d), dropping connection from %s",
                self.daemon.limits.clients,
                self.peer,
            )
            self.transport.abort()
            return
        self.daemon.clients.add(self)
        sock = transport.get_extra_info("socket")
        tls = transport.get_extra_info("sslcontext") is not None
        # TLS clients are written to through the transport only (it encrypts).
        self._fd = sock.fileno() if sock is not None and not tls else -1
        log.debug("client %s connected", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.daemon.clients.discard(self)
        with self._wlock:  # asyncio closes the socket only after this returns
            self.transport = None
            self._fd = -1
        log.debug("client %s gone", self.peer)
        self.daemon.pool.submit(self.handler.cleanup)

    def data_received(self, data: bytes) -> None:
        codec = self.codec
        codec.receive_data(data)
        while self.transport is not None:
            try:
                msg = codec.next_message()
            except RemoteProtocolError as exc:
                self._protocol_error(exc)
                continue
            if msg is None:
                return
            self._call(msg)

    # -- calls ----------------------------------------------------------------

    def _protocol_error(self, exc: RemoteProtocolError) -> None:
        header = getattr(exc, "header", None)
        fatal = self.codec.broken
        if header is not None:
            self._write(self.codec.error_reply(header.procedure, header.serial, exc))
        if fatal or header is None:
            self._drop(f"protocol error: {exc.message}")

    def _drop(self, why: str) -> None:
        log.warning("dropping client %s: %s", self.peer, why)
        with self._wlock:
            transport, self.transport, self._fd = self.transport, None, -1
        if transport is not None:
            transport.close()

    def _call(self, msg: Message) -> None:
        info = PROCEDURES[msg.procedure]
        refusal = self.handler.check(info)
        if refusal is not None:
            self._write(self.codec.error_reply(msg.procedure, msg.serial, refusal))
            return
        if self.outstanding >= self.daemon.limits.outstanding:
            err = VirError.report(
                ErrorNumber.RPC,
                ErrorDomain.RPC,
                f"too many outstanding calls ({self.daemon.limits.outstanding})",
            )
            self._write(self.codec.error_reply(msg.procedure, msg.serial, err))
            self._drop(err.message)
            return
        with self._wlock:
            self.outstanding += 1
        if self.handler.inline(info):
            self._run(msg)  # the driver never blocks on this call: skip the hand-off
        else:
            self.daemon.pool.submit(self._run, msg)

    def _run(self, msg: Message) -> None:
        """Worker (or, for non-blocking calls, loop) thread: dispatch, encode, send the reply."""
        proc, serial = msg.procedure, msg.serial
        try:
            ret = self.handler.dispatch(proc, msg.body)
            data = self.codec.reply(proc, serial, ret)
        except VirError as exc:
            data = self.codec.error_reply(proc, serial, exc)
        except Exception as exc:  # a bug below must not kill the daemon
            log.exception("procedure %d failed", proc)
            err = VirError.report(ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, repr(exc))
            data = self.codec.error_reply(proc, serial, err)
        with self._wlock:
            self.outstanding -= 1
        self._write(data)

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
        try:
            self.daemon.loop.call_soon_threadsafe(self._write_queued, data)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _write_queued(self, data: bytes) -> None:
        with self._wlock:
            self._queued -= 1
            if self.transport is not None:
                self.transport.write(data)

    def send_event(self, proc: int, msg: WireStruct) -> None:
        """Any thread: queue an event MESSAGE for this client."""
        try:
            data = self.codec.event(proc, msg)
        except VirError as exc:
            log.warning("event for %s not sent: %s", self.peer, exc)
            return
        self._write(data)


class Daemon:
    """The server: listeners, clients, worker pool, event-loop thread."""

    def __init__(self, uri: str = DEFAULT_URI, limits: Limits | None = None) -> None:
        self.uri = uri
        self.limits = limits or Limits()
        self.clients: set[_Client] = set()
        self.pool = WorkerPool(self.limits.workers)
        self.loop: asyncio.AbstractEventLoop = _new_loop()
        self.servers: list[asyncio.base_events.Server] = []
        self._stop: asyncio.Event | None = None

    def open_conn(self, uri: str, read_only: bool) -> Any:
        """core.open / core.open_read_only, as the client asked."""
        return core.open_read_only(uri) if read_only else core.open(uri)

    async def listen_tcp(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> int:
        """Listen on ``host:port`` (0 = any free port), over TLS with ``tls``; return the port."""
        server = await self.loop.create_server(lambda: _Client(self), host, port, ssl=tls)
        self.servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def listen_unix(self, path: str) -> None:
        """Listen on the unix socket ``path``, owner-only as libvirtd's read-write socket.

        A stale socket file is replaced; one that a live daemon still answers
        on is not (OSError EADDRINUSE).
        """
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if os.path.exists(path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # nobody answers: stale
            else:
                raise OSError(errno.EADDRINUSE, f"another daemon is listening on {path}")
            finally:
                probe.close()
        server = await self.loop.create_unix_server(lambda: _Client(self), path)
        os.chmod(path, 0o700)
        self.servers.append(server)

    def stop(self) -> None:
        """Ask :meth:`serve` to return (loop thread or signal handler)."""
        if self._stop is not None:
            self._stop.set()

    async def serve(self) -> None:
        """Run until :meth:`stop`; then close listeners and clients."""
        self._stop = asyncio.Event()
        await self._stop.wait()
        for server in self.servers:
            server.close()
        for client in list(self.clients):
            if client.transport is not None:
                client.transport.close()
        for server in self.servers:
            await server.wait_closed()
        for _ in range(3):  # let connection_lost run: each client's cleanup is queued
            await asyncio.sleep(0)


def _listen_address(text: str, default_port: int = DEFAULT_TCP_PORT) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: Sequence[str] | None = None) -> int:
    """minivirtd [--listen 127.0.0.1:16509] [--unix PATH] [--tls-listen ADDR --pki DIR]
    [--uri URI] [--state-dir DIR]: libvirtd's twin.  With no listener named: TCP on
    127.0.0.1:16509 and the unix socket /run/minivirt/minivirt-sock (qemu:///system)."""
    parser = argparse.ArgumentParser(prog="minivirtd", description="minivirt daemon")
    parser.add_argument("--listen", default=None, help="TCP address (default 127.0.0.1:16509)")
    parser.add_argument("--unix", default=None, help="unix socket path")
    parser.add_argument("--tls-listen", default=None, help="TLS address (e.g. 0.0.0.0:16514)")
    parser.add_argument("--pki", default=None, help="dir with cacert.pem, server{cert,key}.pem")
    parser.add_argument("--uri", default=DEFAULT_URI, help="local hypervisor URI")
    parser.add_argument("--state-dir", default=None, help="qemu:///system state under DIR")
    parser.add_argument("--max-clients", type=int, default=120)
    parser.add_argument("--max-outstanding", type=int, default=64)
    parser.add_argument("--max-message", type=int, default=33554432)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--verbose", "-v", action="store_true")
    opts = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if opts.verbose else logging.INFO,
        format="%(asctime)s minivirtd: %(levelname)s: %(message)s",
    )
    uri = opts.uri
    if opts.state_dir and uri == DEFAULT_URI:
        uri = f"qemu:///embed?root={os.path.abspath(opts.state_dir)}"
    core.set_server_mode(True)
    limits = Limits(opts.max_clients, opts.max_outstanding, opts.max_message, opts.workers)
    daemon = Daemon(uri, limits)
    # libvirtd initialises its local driver's state at start-up and keeps it
    # for its life (domain ids keep growing, a shut-off domain keeps its
    # reason); one connection held until the daemon stops does the same.
    try:
        held = core.open(uri) if uri.startswith("qemu:") else None
    except VirError as exc:
        log.error("cannot open %s: %s", uri, exc)
        return 1
    loop = daemon.loop
    asyncio.set_event_loop(loop)
    default_listeners = not (opts.listen or opts.unix or opts.tls_listen)
    with EventLoopThread():
        try:
            if opts.unix:
                loop.run_until_complete(daemon.listen_unix(opts.unix))
                log.info("listening on unix:%s", opts.unix)
            if opts.tls_listen:
                host, port = _listen_address(opts.tls_listen, DEFAULT_TLS_PORT)
                ctx = server_context(opts.pki)
                port = loop.run_until_complete(daemon.listen_tcp(host, port, ctx))
                log.info("listening (TLS) on %s:%d", host, port)
                print(f"minivirtd listening (TLS) on {host}:{port}", flush=True)
            if opts.listen or not (opts.unix or opts.tls_listen):
                host, port = _listen_address(opts.listen or f"127.0.0.1:{DEFAULT_TCP_PORT}")
                port = loop.run_until_complete(daemon.listen_tcp(host, port))
                log.info("listening on %s:%d, serving %s", host, port, uri)
                print(f"minivirtd listening on {host}:{port}", flush=True)
        except (OSError, VirError) as exc:
            log.error("cannot listen: %s", exc)
            if held is not None:
                held.close()
            return 1
        if default_listeners:  # as libvirtd: TCP on loopback and the system unix socket
            try:
                loop.run_until_complete(daemon.listen_unix(DEFAULT_UNIX_SOCKET))
                print(f"minivirtd listening on unix:{DEFAULT_UNIX_SOCKET}", flush=True)
            except OSError as exc:
                log.warning("not listening on %s: %s", DEFAULT_UNIX_SOCKET, exc)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, daemon.stop)
        loop.run_until_complete(daemon.serve())
        daemon.pool.shutdown()
        if held is not None:
            held.close()
    loop.close()
    log.info("shut down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
