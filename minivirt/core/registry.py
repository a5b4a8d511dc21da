"""The driver registry (libvirt's virRegisterConnectDriver) and the open logic.

Core never imports a driver, nor the module that registers them: the
composition root ``minivirt.wiring`` imports core and calls
:func:`register_driver`, and the programs (``minivirsh``, ``minivirtd``, the
bindings) import ``minivirt.wiring`` with a plain import the import contracts
see.  Opening a connection with no driver registered is an error that says
so (a missing wiring), never a silent "no driver accepts this URI".  Each
driver an accepting factory returns is checked once against the driver table:
every slot is filled or declared in ``unsupported_slots``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from minivirt.core.uri import URI
from minivirt.public import (
    DRIVER_METHODS,
    ErrorDomain,
    ErrorNumber,
    HypervisorDriver,
    VirError,
)

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
_server_mode = False


def register_driver(name: str, factory: DriverFactory) -> None:
    """Register a connection driver; drivers are probed in registration order."""
    with _lock:
        _drivers[:] = [(n, f) for n, f in _drivers if n != name]
        _drivers.append((name, factory))


def registered_drivers() -> list[str]:
    """Names of the registered drivers, in probe order."""
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


_setup_debug_logging()


def _no_drivers() -> VirError:
    return VirError.report(
        ErrorNumber.INTERNAL_ERROR,
        ErrorDomain.NONE,
        "no connection driver is registered: import minivirt.wiring "
        "(or register drivers with minivirt.core.register_driver) before opening",
    )


def _check_table(name: str, driver: HypervisorDriver) -> HypervisorDriver:
    """INTERNAL_ERROR when ``driver`` neither fills nor declares unsupported a slot."""
    declared = getattr(driver, "unsupported_slots", None)
    missing = [] if callable(getattr(driver, "close", None)) else ["close"]  # mandatory
    if not isinstance(declared, frozenset):
        missing.append("unsupported_slots")
    else:
        missing += [
            slot
            for slot in DRIVER_METHODS
            if slot not in declared and not callable(getattr(driver, slot, None))
        ]
    if missing:
        close = getattr(driver, "close", None)
        if callable(close):
            close()
        raise VirError.report(
            ErrorNumber.INTERNAL_ERROR,
            ErrorDomain.NONE,
            f"driver '{name}' neither fills nor declares unsupported: {', '.join(missing)}",
        )
    return driver


def open_driver(name: str | None, read_only: bool) -> tuple[URI, HypervisorDriver]:
    """Find the driver that accepts ``name`` and open it.

    Raises VIR_ERR_NO_CONNECT "no connection driver available for <uri>" when
    every driver declines, as libvirt does, whatever error the accepting driver
    raised while opening, and VIR_ERR_INTERNAL_ERROR when no driver is
    registered at all or the accepting one does not conform to the table.
    """
    text = name if name else default_uri()
    uri = URI.parse(text)
    with _lock:
        drivers = list(_drivers)
    if not drivers:
        raise _no_drivers()
    for driver_name, factory in drivers:
        driver = factory(uri, read_only)
        if driver is not None:
            return uri, _check_table(driver_name, driver)
    raise VirError.report(ErrorNumber.NO_CONNECT, ErrorDomain.NONE, text)
