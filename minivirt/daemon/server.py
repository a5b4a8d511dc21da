"""minivirtd: serves a local hypervisor to remote clients (libvirt's ``libvirtd``).

Owns the asyncio I/O loop (uvloop's when installed; one
:class:`~minivirt.daemon.client.Client` per connection over TCP, TLS or a
unix socket), the worker pool the calls run in (so a slow call never stalls
another client), the listeners (plain TCP only on loopback unless
``--insecure-tcp``, as libvirtd's ``listen_tcp`` needs an explicit choice),
the config file, the event-loop thread that core's event callbacks run in,
and clean shutdown on SIGTERM/SIGINT.  The daemon is a client of the public
API: each client's CONNECT_OPEN is a ``core.open`` here, in server mode, so
``qemu:///system`` means the local qemu driver.  Must not: die from anything
a client sends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import ipaddress
import logging
import os
import queue
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import minivirt.wiring  # registers the drivers with core
from minivirt import core
from minivirt.daemon.client import Client
from minivirt.daemon.eventimpl import LoopEventImpl
from minivirt.daemon.limits import Limits, load_config
from minivirt.daemon.tls import server_context
from minivirt.events import EventLoopThread, event_register_impl
from minivirt.public import VirError
from minivirt.remote import DEFAULT_TCP_PORT, DEFAULT_TLS_PORT, DEFAULT_UNIX_SOCKET

__all__ = ["Daemon", "WorkerPool", "is_loopback", "main"]

log = logging.getLogger("minivirtd")

DEFAULT_URI: Final = "qemu:///system"


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


@contextlib.contextmanager
def _event_loop(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """The process's virEvent implementation: the daemon's own loop, as libvirtd's.

    Core's event callbacks (the relays to clients) then run on the thread that
    writes the replies, in the loop's next iteration.  MINIVIRTD_EVENT_THREAD=1
    keeps the default poll() loop in a thread of its own instead (for comparison).
    """
    if os.environ.get("MINIVIRTD_EVENT_THREAD"):
        with EventLoopThread():
            yield
        return
    event_register_impl(LoopEventImpl(loop, threading.get_ident()))
    yield


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


class Daemon:
    """The server: listeners, clients, worker pool, event-loop thread."""

    def __init__(self, uri: str = DEFAULT_URI, limits: Limits | None = None) -> None:
        self.uri = uri
        self.limits = limits or Limits()
        self.clients: set[Client] = set()
        self.pool = WorkerPool(self.limits.workers)
        self.loop: asyncio.AbstractEventLoop = _new_loop()
        self.loop_thread = -1  # the thread ident running the loop, once serving
        self.servers: list[asyncio.base_events.Server] = []
        self._stop: asyncio.Event | None = None

    def open_conn(self, uri: str, read_only: bool) -> Any:
        """core.open / core.open_read_only, as the client asked."""
        return core.open_read_only(uri) if read_only else core.open(uri)

    async def listen_tcp(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> int:
        """Listen on ``host:port`` (0 = any free port), over TLS with ``tls``; return the port."""
        self.loop_thread = threading.get_ident()
        server = await self.loop.create_server(lambda: Client(self, tls), host, port)
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
        self.loop_thread = threading.get_ident()
        server = await self.loop.create_unix_server(lambda: Client(self), path)
        os.chmod(path, 0o700)
        self.servers.append(server)

    def stop(self) -> None:
        """Ask :meth:`serve` to return (loop thread or signal handler)."""
        if self._stop is not None:
            self._stop.set()

    async def serve(self) -> None:
        """Run until :meth:`stop`; then close listeners and clients."""
        self.loop_thread = threading.get_ident()
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


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _limits(opts: argparse.Namespace) -> Limits:
    """The config file (if any), then the command line's explicit limits over it."""
    limits = load_config(opts.config) if opts.config else Limits()
    given = {
        "clients": opts.max_clients,
        "outstanding": opts.max_outstanding,
        "message": opts.max_message,
        "workers": opts.workers,
        "anonymous": opts.max_anonymous_clients,
    }
    return dataclasses.replace(limits, **{k: v for k, v in given.items() if v is not None})


def main(argv: Sequence[str] | None = None) -> int:
    """minivirtd [--listen 127.0.0.1:16509 [--insecure-tcp]] [--unix PATH]
    [--tls-listen ADDR --pki DIR] [--uri URI] [--state-dir DIR] [--config FILE]:
    libvirtd's twin.  With no listener named: TCP on 127.0.0.1:16509 and the unix
    socket /run/minivirt/minivirt-sock (qemu:///system)."""
    parser = argparse.ArgumentParser(prog="minivirtd", description="minivirt daemon")
    parser.add_argument("--listen", default=None, help="TCP address (default 127.0.0.1:16509)")
    parser.add_argument("--unix", default=None, help="unix socket path")
    parser.add_argument("--tls-listen", default=None, help="TLS address (e.g. 0.0.0.0:16514)")
    parser.add_argument("--pki", default=None, help="dir with cacert.pem, server{cert,key}.pem")
    parser.add_argument("--uri", default=DEFAULT_URI, help="local hypervisor URI")
    parser.add_argument("--state-dir", default=None, help="qemu:///system state under DIR")
    parser.add_argument(
        "--insecure-tcp",
        action="store_true",
        help="allow plain, unauthenticated TCP on an address other than loopback",
    )
    parser.add_argument("--config", default=None, help="libvirtd.conf-style limits file")
    parser.add_argument("--max-clients", type=int, default=None)
    parser.add_argument("--max-anonymous-clients", type=int, default=None)
    parser.add_argument("--max-outstanding", type=int, default=None)
    parser.add_argument("--max-message", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--verbose", "-v", action="store_true")
    opts = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if opts.verbose else logging.INFO,
        format="%(asctime)s minivirtd: %(levelname)s: %(message)s",
    )
    uri = opts.uri
    if opts.state_dir and uri == DEFAULT_URI:
        uri = f"qemu:///embed?root={os.path.abspath(opts.state_dir)}"
    try:
        limits = _limits(opts)
    except VirError as exc:
        log.error("%s", exc.message)
        return 1
    if opts.listen:
        host, _ = _listen_address(opts.listen)
        if not is_loopback(host) and not opts.insecure_tcp:
            log.error(
                "refusing plain TCP on %s: it is neither encrypted nor authenticated, and"
                " anyone who reaches it controls every domain; use --tls-listen, or"
                " --insecure-tcp if that is really meant",
                host,
            )
            return 1
        if not is_loopback(host):
            log.warning("plain, unauthenticated TCP on %s (--insecure-tcp)", host)
    core.set_server_mode(True)
    daemon = Daemon(uri, limits)
    loop = daemon.loop
    asyncio.set_event_loop(loop)
    if not os.environ.get("MINIVIRTD_OWN_QMP_THREAD"):
        # One loop for clients and QEMU monitors: an awaited QMP call needs no hand-off.
        minivirt.wiring.share_event_loop(loop, threading.get_ident())
    default_listeners = not (opts.listen or opts.unix or opts.tls_listen)
    with _event_loop(loop):
        # libvirtd initialises its local driver's state at start-up and keeps it for its
        # life (domain ids keep growing, a shut-off domain keeps its reason); a connection
        # held until the daemon stops does the same.  Opened in a thread while the loop
        # runs, since taking back running domains talks QMP on that loop.
        try:
            held = (
                loop.run_until_complete(loop.run_in_executor(None, core.open, uri))
                if uri.startswith("qemu:")
                else None
            )
        except VirError as exc:
            log.error("cannot open %s: %s", uri, exc)
            return 1
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
        # The workers' last calls may still talk to QEMU through this loop: keep it running.
        loop.run_until_complete(loop.run_in_executor(None, daemon.pool.shutdown))
        if held is not None:
            loop.run_until_complete(loop.run_in_executor(None, held.close))
    loop.close()
    log.info("shut down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
