"""libvirt-python's event-loop functions (``virEvent*``) over core's default loop.

This module owns the Python-facing spellings: ``cbData`` dictionaries, the
``_dispatchEvent*Callback`` trampolines, and libvirtError on a -1 return.
The loop itself is minivirt.events', reached only through ``minivirt.core``'s
re-exports.  It must not know about connections or domains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minivirt import core
from minivirt.bindings.errors import ApiCall

__all__ = [
    "_dispatchEventHandleCallback",
    "_dispatchEventTimeoutCallback",
    "virEventAddHandle",
    "virEventAddTimeout",
    "virEventRegisterDefaultImpl",
    "virEventRemoveHandle",
    "virEventRemoveTimeout",
    "virEventRunDefaultImpl",
    "virEventUpdateHandle",
    "virEventUpdateTimeout",
]

#: ``cb(watch, fd, events, opaque)``
HandleCallback = Callable[[int, int, int, Any], object]
#: ``cb(timer, opaque)``
TimeoutCallback = Callable[[int, Any], object]


def _checked(function: str, ret: int) -> int:
    if ret == -1:
        raise ApiCall(function).fail()
    return ret


def virEventRegisterDefaultImpl() -> int:
    """Mirrors virEventRegisterDefaultImpl: install the default poll() loop; returns 0.

    Call it before opening connections whose events you want.
    """
    with ApiCall("virEventRegisterDefaultImpl"):
        return _checked("virEventRegisterDefaultImpl", core.event_register_default_impl())


def virEventRunDefaultImpl() -> int:
    """Mirrors virEventRunDefaultImpl: run one iteration (blocks until a timer or handle fires).

    Raises libvirtError when the default loop was never registered.
    """
    with ApiCall("virEventRunDefaultImpl"):
        return _checked("virEventRunDefaultImpl", core.event_run_default_impl())


def _dispatchEventHandleCallback(watch: int, fd: int, events: int, cbData: dict[str, Any]) -> int:
    """libvirt-python's trampoline: ``cb(watch, fd, events, opaque)``."""
    cbData["cb"](watch, fd, events, cbData["opaque"])
    return 0


def _dispatchEventTimeoutCallback(timer: int, cbData: dict[str, Any]) -> int:
    """libvirt-python's trampoline: ``cb(timer, opaque)``."""
    cbData["cb"](timer, cbData["opaque"])
    return 0


def virEventAddHandle(fd: int, events: int, cb: HandleCallback, opaque: Any) -> int:
    """Mirrors virEventAddHandle: watch ``fd`` for VIR_EVENT_HANDLE_* ``events``; the watch id.

    Raises libvirtError when no event loop is registered.
    """
    cb_data: dict[str, Any] = {"cb": cb, "opaque": opaque}

    def invoke(watch: int, fd_: int, revents: int) -> None:
        _dispatchEventHandleCallback(watch, fd_, revents, cb_data)

    with ApiCall("virEventAddHandle"):
        return _checked("virEventAddHandle", core.event_add_handle(fd, events, invoke))


def virEventUpdateHandle(watch: int, events: int) -> None:
    """Mirrors virEventUpdateHandle (an unknown watch is ignored)."""
    with ApiCall("virEventUpdateHandle"):
        core.event_update_handle(watch, events)


def virEventRemoveHandle(watch: int) -> int:
    """Mirrors virEventRemoveHandle; raises libvirtError for an unknown watch."""
    with ApiCall("virEventRemoveHandle"):
        return _checked("virEventRemoveHandle", core.event_remove_handle(watch))


def virEventAddTimeout(timeout: int, cb: TimeoutCallback, opaque: Any) -> int:
    """Mirrors virEventAddTimeout: ``timeout`` ms (-1 disabled, 0 every iteration); the timer id.

    Raises libvirtError when no event loop is registered.
    """
    cb_data: dict[str, Any] = {"cb": cb, "opaque": opaque}

    def invoke(timer: int) -> None:
        _dispatchEventTimeoutCallback(timer, cb_data)

    with ApiCall("virEventAddTimeout"):
        return _checked("virEventAddTimeout", core.event_add_timeout(timeout, invoke))


def virEventUpdateTimeout(timer: int, timeout: int) -> None:
    """Mirrors virEventUpdateTimeout (an unknown timer is ignored)."""
    with ApiCall("virEventUpdateTimeout"):
        core.event_update_timeout(timer, timeout)


def virEventRemoveTimeout(timer: int) -> int:
    """Mirrors virEventRemoveTimeout; raises libvirtError for an unknown timer."""
    with ApiCall("virEventRemoveTimeout"):
        return _checked("virEventRemoveTimeout", core.event_remove_timeout(timer))
