"""The ``test:///default`` driver: simulated domains and block jobs in memory.

Like libvirt's test driver, but with simulated block jobs (pull, rebase,
info, abort, set-speed) that follow the qemu driver's checks, codes and
texts (the shared rules of :mod:`minivirt.hypervisor`), and raise the same
events.  Imports public, events, conf and hypervisor only;
never core nor another driver.  ``minivirt.wiring`` registers
:func:`open_test_driver` with core.

Test hooks: :func:`set_clock` (inject a clock before the first open),
:func:`shared_hypervisor` (reach the live simulated host), and on it
``kick()``, ``set_backing()``, ``inject_failure()``; a disk whose image file
name starts with ``failing`` fails every pull half-way (status FAILED).
"""

from minivirt.testdrv.driver import (
    TEST_VERSION,
    TestDriver,
    open_test_driver,
    set_clock,
    shared_hypervisor,
)
from minivirt.testdrv.hypervisor import FAILING_PREFIX, TEST_DOMAIN_UUID, TestHypervisor
from minivirt.testdrv.simjob import ABORT_DELAY, DEFAULT_DISK_SIZE, DEFAULT_RATE

__all__ = [
    "ABORT_DELAY",
    "DEFAULT_DISK_SIZE",
    "DEFAULT_RATE",
    "FAILING_PREFIX",
    "TEST_DOMAIN_UUID",
    "TEST_VERSION",
    "TestDriver",
    "TestHypervisor",
    "open_test_driver",
    "set_clock",
    "shared_hypervisor",
]
