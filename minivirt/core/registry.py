"""The driver registry (libvirt's virRegisterConnectDriver) and the open logic.

Core never imports a driver: ``minivirt.wiring`` (the composition root) calls
:func:`register_driver`; it is imported by name the first time a connection is
opened, as libvirt's virInitialize registers its drivers.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable

from minivirt.core.uri import URI
from minivirt.public import ErrorDomain, ErrorNumber, HypervisorDriver, VirError

__all__ = [
    "DriverFactory",
    "default_uri",
    "is_server_mode",
    "open_driver",
    "register_driver",
    "registered_drivers",
    "set_server_mode",
]

#: ``factory(uri, read_only)`` returns a driver, or None to decline the URI.
DriverFactory = Callable[[URI, bool], "HypervisorDriver | None"]

_lock = threading.Lock()
_drivers: list[tuple[str, DriverFactory]] = []
_initialized = False
_server_mode = False


def register_driver(name: str, factory: DriverFactory) -> None:
    """Register a connection driver; drivers are probed in registration order."""
    with _lock:
        _drivers[:] = [(n, f) for n, f in _drivers if n != name]
        _drivers.append((name, factory))


def registered_drivers() -> list[str]:
    """Names of the registered drivers, in probe order."""
    _initialize()
    with _lock:
        return [n for n, _ in _drivers]


def set_server_mode(enabled: bool) -> None:
    """Inside the daemon: local URIs (``qemu:///system``) are served in-process, never relayed."""
    global _server_mode
    _server_mode = enabled


def is_server_mode() -> bool:
    """Whether this process is the daemon (see :func:`set_server_mode`)."""
    return _server_mode


def default_uri() -> str:
    """The URI used when none is given: ``MINIVIRT_DEFAULT_URI``, else qemu:///system for root
    and qemu:///session for others, as libvirt picks."""
    env = os.environ.get("MINIVIRT_DEFAULT_URI")
    if env:
        return env
    return "qemu:///system" if os.geteuid() == 0 else "qemu:///session"


def _setup_debug_logging() -> None:
    """``MINIVIRT_DEBUG=1`` sends minivirt's debug log to stderr, as ``LIBVIRT_DEBUG=1`` does."""
    if os.environ.get("MINIVIRT_DEBUG", "") in ("", "0"):
        return
    import logging

    logger = logging.getLogger("minivirt")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s: %(process)d: %(levelname)s : %(name)s : %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _initialize() -> None:
    global _initialized
    if _initialized:
        return
    _initialized = True
    _setup_debug_logging()
    try:
        importlib.import_module("minivirt.wiring")
    except ModuleNotFoundError as exc:
        if exc.name != "minivirt.wiring":
            raise


def open_driver(name: str | None, read_only: bool) -> tuple[URI, HypervisorDriver]:
    """Find the driver that accepts ``name`` and open it.

    Raises VIR_ERR_NO_CONNECT "no connection driver available for No
    connection for URI …" when every driver declines, as libvirt does, and
    whatever error the accepting driver raised while opening.
    """
    _initialize()
    text = name if name else default_uri()
    uri = URI.parse(text)
    with _lock:
        drivers = list(_drivers)
    for _, factory in drivers:
        driver = factory(uri, read_only)
        if driver is not None:
            return uri, driver
    raise VirError.report(ErrorNumber.NO_CONNECT, ErrorDomain.NONE, f"No connection for URI {text}")
