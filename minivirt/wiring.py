"""The composition root: registers minivirt's drivers with core (libvirt's virInitialize).

Core imports this module by name the first time a connection is opened.
Each factory filters URIs by scheme before importing its driver, so a client
of ``qemu+tcp://`` never imports the qemu driver (or asyncio) and a shell
starts fast.

Routing, as libvirt's: ``test:///…`` → test driver; ``qemu:///session`` and
``qemu:///embed?root=DIR`` → qemu driver in this process; ``qemu:///system``
→ the daemon's unix socket, except inside the daemon itself (server mode),
where it is the local qemu driver; anything with a transport or a host →
remote driver.
"""

from __future__ import annotations

from minivirt import core
from minivirt.public import HypervisorDriver

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio

__all__ = ["register_all", "share_event_loop"]


def _remote(uri: core.URI, read_only: bool) -> HypervisorDriver | None:
    local_system = uri.scheme == "qemu" and uri.path == "/system" and uri.transport is None
    if not (uri.transport or uri.host or local_system):
        return None
    if local_system and not uri.host and core.is_server_mode():
        return None
    from minivirt import remote

    return remote.open_driver(uri, read_only)


def _test(uri: core.URI, read_only: bool) -> HypervisorDriver | None:
    if uri.scheme != "test" or uri.transport or uri.host:
        return None
    from minivirt import testdrv

    return testdrv.open_test_driver(uri, read_only)


def _qemu(uri: core.URI, read_only: bool) -> HypervisorDriver | None:
    if uri.scheme != "qemu" or uri.transport or uri.host:
        return None
    from minivirt import qemu

    return qemu.open_driver(uri, read_only)


def share_event_loop(loop: asyncio.AbstractEventLoop, thread_ident: int) -> None:
    """A server's I/O loop becomes the qemu driver's QMP loop too (issue #14)."""
    from minivirt.qemu import monitorloop

    monitorloop.share_loop(loop, thread_ident)


def register_all() -> None:
    """Register the remote, test and qemu drivers, in libvirt's probe order."""
    core.register_driver("remote", _remote)
    core.register_driver("test", _test)
    core.register_driver("qemu", _qemu)


register_all()
