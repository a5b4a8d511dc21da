"""The qemu driver (patch 4): real QEMU domains, QMP monitor, block pull end to end.

Entry point for the wiring module: :func:`open_driver` (the factory given to
``core.register_driver``).  The driver imports public, events and conf only;
``qemu.qmp`` is imported by :mod:`minivirt.qemu.monitor` alone.
"""

from minivirt.qemu.driver import QemuConnection, open_driver

__all__ = ["QemuConnection", "open_driver"]
