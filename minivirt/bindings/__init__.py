"""libvirt-python's surface over minivirt (patch 6, and the Python half of patch 7).

``import minivirt.bindings as libvirt`` lets a script written for
libvirt-python's block-job API run unchanged against any minivirt URI
(``test:///default``, ``qemu:///embed?root=DIR``, ``qemu+tcp://HOST:PORT/system``):
``open``/``openReadOnly``, ``virConnect``, ``virDomain``, ``libvirtError``,
the ``virEvent*`` loop functions and every ``VIR_*`` constant of the series.

This package reaches hypervisors only through ``minivirt.core`` (and reads
constants and ``VirError`` from ``minivirt.public``); it never imports a
driver, ``minivirt.conf`` or the remote client.  Being a program's entry
point, it imports ``minivirt.wiring`` (the composition root) so that
``open`` finds the drivers, as libvirt-python's libvirt.so comes with its
drivers registered.  It is the
one package using camelCase names, because libvirt-python does.
"""

from minivirt.bindings import constants as _constants
from minivirt.bindings.connection import getVersion, open, openReadOnly, virConnect, virDomain
from minivirt.bindings.errors import (
    libvirtError,
    registerErrorHandler,
    virGetLastError,
    virGetLastErrorCode,
    virGetLastErrorDomain,
    virGetLastErrorMessage,
    virResetLastError,
)
from minivirt.bindings.event import (
    _dispatchEventHandleCallback,
    _dispatchEventTimeoutCallback,
    virEventAddHandle,
    virEventAddTimeout,
    virEventRegisterDefaultImpl,
    virEventRemoveHandle,
    virEventRemoveTimeout,
    virEventRunDefaultImpl,
    virEventUpdateHandle,
    virEventUpdateTimeout,
)

globals().update(_constants.CONSTANTS)

__all__ = [
    "_dispatchEventHandleCallback",
    "_dispatchEventTimeoutCallback",
    "getVersion",
    "libvirtError",
    "open",
    "openReadOnly",
    "registerErrorHandler",
    "virConnect",
    "virDomain",
    "virEventAddHandle",
    "virEventAddTimeout",
    "virEventRegisterDefaultImpl",
    "virEventRemoveHandle",
    "virEventRemoveTimeout",
    "virEventRunDefaultImpl",
    "virEventUpdateHandle",
    "virEventUpdateTimeout",
    "virGetLastError",
    "virGetLastErrorCode",
    "virGetLastErrorDomain",
    "virGetLastErrorMessage",
    "virResetLastError",
    *_constants.CONSTANTS,
]
