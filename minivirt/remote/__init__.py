"""The remote driver (patch 3): protocol, sans-I/O codec, client driver.

``open_driver(uri, read_only)`` is the factory ``minivirt.wiring`` registers:
it accepts ``qemu+tcp://HOST[:PORT]/system``, ``test+tcp://HOST[:PORT]/PATH``,
``qemu+unix:///system`` and ``qemu:///system`` (unix socket
``/run/minivirt/minivirt-sock``, or ``?socket=PATH``) and
``qemu+tls://HOST[:PORT]/system`` (x509 certificates in libvirt's places, or
``?pkipath=DIR``; ``no_verify=1``), and declines (None) anything else.
This package imports public and events only; the server side, minivirtd,
is the ``minivirt.daemon`` package.
"""

from __future__ import annotations

from minivirt.public import ConnectURI, HypervisorDriver

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "DEFAULT_TCP_PORT",
    "DEFAULT_TLS_PORT",
    "DEFAULT_UNIX_SOCKET",
    "open_driver",
    "server_uri",
]

DEFAULT_TCP_PORT: Final = 16509
DEFAULT_TLS_PORT: Final = 16514
DEFAULT_UNIX_SOCKET: Final = "/run/minivirt/minivirt-sock"


def server_uri(uri: ConnectURI) -> str:
    """The URI the daemon is asked to open: transport, host and client options dropped."""
    return f"{uri.scheme}://{uri.path or '/'}"


def open_driver(uri: ConnectURI, read_only: bool) -> HypervisorDriver | None:
    """Mirrors remoteConnectOpen: connect to minivirtd and CONNECT_OPEN there.

    Returns None for URIs the remote driver does not serve.  Raises
    SYSTEM_ERROR (RPC) when the daemon cannot be reached or a certificate
    cannot be read, AUTH_FAILED (RPC) when the TLS handshake fails, and
    whatever the daemon's open reports (e.g. NO_CONNECT).
    """
    from minivirt.remote.client import RemoteDriver, connect_tcp, connect_tls, connect_unix
    from minivirt.remote.rpcclient import StreamSocket

    transport = uri.transport
    sock: StreamSocket
    if transport == "tls":
        verify = uri.query.get("no_verify", "0") != "1"
        host = uri.host or "localhost"
        sock = connect_tls(host, uri.port or DEFAULT_TLS_PORT, uri.query.get("pkipath"), verify)
    elif transport == "tcp":
        sock = connect_tcp(uri.host or "localhost", uri.port or DEFAULT_TCP_PORT)
    elif transport == "unix" or (
        transport is None and not uri.host and uri.scheme == "qemu" and uri.path == "/system"
    ):
        if uri.host:
            return None
        sock = connect_unix(uri.query.get("socket", DEFAULT_UNIX_SOCKET))
    else:
        return None
    driver = RemoteDriver(sock)
    driver.open(server_uri(uri), read_only)
    return driver
