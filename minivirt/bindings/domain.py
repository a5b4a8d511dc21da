"""``virDomain``: libvirt-python's domain object over a ``minivirt.core.Domain``.

This module owns libvirt-python's method names, parameter names, defaults and
return shapes for a domain (``blockPull(disk, bandwidth=0, flags=0)`` → 0,
``blockJobInfo(path, flags=0)`` → dict or ``{}``, ``info()`` → list, …).
Every call goes through ``minivirt.core`` inside :class:`~.errors.ApiCall`,
which turns a VirError into libvirtError; it must not check arguments itself
(core does, in libvirt's order) nor reach a driver.
"""

from __future__ import annotations

import uuid as _uuid

from minivirt import core
from minivirt.bindings.errors import ApiCall

__all__ = ["DomainCalls"]


def _c_ulong(value: int) -> int:
    """An ``unsigned long`` argument as libvirt-python converts it (through a C long).

    A value outside a C long raises OverflowError before any call, as
    libvirt-python does; a negative one wraps to 64 bits.
    """
    if isinstance(value, int) and not -(1 << 63) <= value < (1 << 63):
        raise OverflowError("Python int too large to convert to C long")
    return value & ((1 << 64) - 1) if isinstance(value, int) else value


def _c_uint(value: int) -> int:
    """An ``unsigned int`` argument (flags): libvirt-python keeps the low 32 bits."""
    return value & 0xFFFFFFFF if isinstance(value, int) and not isinstance(value, bool) else value


class DomainCalls:
    """Mirrors libvirt-python's virDomain (virDomainPtr): every method but ``connect``.

    ``minivirt.bindings.virDomain`` (in ``connection``) adds ``connect()``,
    typed with its virConnect; keeping it there spares a circular import.

    Built by the connection's lookups, ``defineXML`` and event dispatch as
    ``virDomain(conn, _obj=<core.Domain>)``.  Methods return 0 on success and
    raise libvirtError for every failure, with libvirt's code, domain and
    message (INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG, NO_SUPPORT,
    NO_DOMAIN, OPERATION_INVALID and the driver's errors).
    """

    __slots__ = ("_conn", "_o")

    def __init__(self, conn: object, _obj: core.Domain | None = None) -> None:
        if not isinstance(_obj, core.Domain):
            raise TypeError(f"Expected a minivirt.core.Domain but got {type(_obj)}")
        self._conn = conn
        self._o: core.Domain = _obj

    def __repr__(self) -> str:
        return f"<virDomain {self._o.name!r} {self._o.uuid_string()}>"

    # -- identity -----------------------------------------------------------
    def name(self) -> str:
        """Mirrors virDomainGetName."""
        with ApiCall("virDomainGetName"):
            return self._o.name

    def ID(self) -> int:
        """Mirrors virDomainGetID: the id, -1 while the domain is not running."""
        with ApiCall("virDomainGetID"):
            return self._o.id

    def UUID(self) -> bytes:
        """Mirrors virDomainGetUUID: the 16 raw bytes of the UUID."""
        with ApiCall("virDomainGetUUID"):
            return _uuid.UUID(self._o.uuid_string()).bytes

    def UUIDString(self) -> str:
        """Mirrors virDomainGetUUIDString."""
        with ApiCall("virDomainGetUUIDString"):
            return self._o.uuid_string()

    def isActive(self) -> int:
        """Mirrors virDomainIsActive: 1 if running, else 0.  Raises INVALID_DOMAIN, NO_SUPPORT."""
        with ApiCall("virDomainIsActive"):
            return int(self._o.is_active())

    def isPersistent(self) -> int:
        """Mirrors virDomainIsPersistent: always 1 (every minivirt domain is defined)."""
        with ApiCall("virDomainIsPersistent"):
            self._o.get_state(0)
            return 1

    # -- state ----------------------------------------------------------------
    def info(self) -> list[int]:
        """Mirrors virDomainGetInfo: [state, maxMem KiB, memory KiB, nrVirtCpu, cpuTime ns]."""
        with ApiCall("virDomainGetInfo"):
            i = self._o.get_info()
            return [i.state, i.max_mem, i.memory, i.nr_virt_cpu, i.cpu_time]

    def state(self, flags: int = 0) -> list[int]:
        """Mirrors virDomainGetState: [state, reason]."""
        with ApiCall("virDomainGetState"):
            st, reason = self._o.get_state(flags)
            return [int(st), int(reason)]

    def XMLDesc(self, flags: int = 0) -> str:
        """Mirrors virDomainGetXMLDesc: libvirt domain XML."""
        with ApiCall("virDomainGetXMLDesc"):
            return self._o.get_xml_desc(flags)

    # -- lifecycle -------------------------------------------------------------
    def create(self) -> int:
        """Mirrors virDomainCreate: start the defined domain.  Raises OPERATION_DENIED,
        OPERATION_INVALID (already running) and the driver's start errors."""
        with ApiCall("virDomainCreate"):
            self._o.create(0)
            return 0

    def createWithFlags(self, flags: int = 0) -> int:
        """Mirrors virDomainCreateWithFlags."""
        with ApiCall("virDomainCreateWithFlags"):
            self._o.create(flags)
            return 0

    def destroy(self) -> int:
        """Mirrors virDomainDestroy: stop the domain now.  Raises OPERATION_DENIED,
        OPERATION_INVALID (not running)."""
        with ApiCall("virDomainDestroy"):
            self._o.destroy(0)
            return 0

    def undefine(self) -> int:
        """Mirrors virDomainUndefine.  Raises OPERATION_DENIED, NO_DOMAIN and driver errors."""
        with ApiCall("virDomainUndefine"):
            self._o.undefine(0)
            return 0

    # -- block jobs (the series) ------------------------------------------------
    def blockPull(self, disk: str, bandwidth: int = 0, flags: int = 0) -> int:
        """Mirrors virDomainBlockPull: start populating ``disk`` from its backing chain.

        ``disk`` is the target name (``vda``) or the source path; ``bandwidth``
        in MiB/s (0 = unlimited).  Returns 0 once the job is started.  Raises
        libvirtError: INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG,
        NO_SUPPORT, OPERATION_INVALID (domain not running), and the driver's
        errors (unknown disk, job already active, …).
        """
        with ApiCall("virDomainBlockPull"):
            self._o.block_pull(disk, _c_ulong(bandwidth), _c_uint(flags))
            return 0

    def blockRebase(self, disk: str, base: str | None, bandwidth: int = 0, flags: int = 0) -> int:
        """Mirrors virDomainBlockRebase: a pull limited to the layers above ``base``.

        ``base`` None pulls the whole chain (as blockPull).  Raises as blockPull,
        plus INVALID_ARG for copy-only flags without COPY.
        """
        with ApiCall("virDomainBlockRebase"):
            self._o.block_rebase(disk, base, _c_ulong(bandwidth), _c_uint(flags))
            return 0

    def blockJobAbort(self, disk: str, flags: int = 0) -> int:
        """Mirrors virDomainBlockJobAbort: cancel the job on ``disk`` (event CANCELED).

        Raises INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG (also: no active
        job on the disk), NO_SUPPORT, OPERATION_INVALID (domain not running)
        and the driver's errors.
        """
        with ApiCall("virDomainBlockJobAbort"):
            self._o.block_job_abort(disk, _c_uint(flags))
            return 0

    def blockJobSetSpeed(self, disk: str, bandwidth: int, flags: int = 0) -> int:
        """Mirrors virDomainBlockJobSetSpeed: ``bandwidth`` in MiB/s (bytes/s with
        VIR_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES).

        Raises INVALID_DOMAIN, OPERATION_DENIED, INVALID_ARG (also: no active
        job on the disk), NO_SUPPORT, OPERATION_INVALID (domain not running),
        OVERFLOW and the driver's errors.
        """
        with ApiCall("virDomainBlockJobSetSpeed"):
            self._o.block_job_set_speed(disk, _c_ulong(bandwidth), _c_uint(flags))
            return 0

    def blockJobInfo(self, path: str, flags: int = 0) -> dict[str, int]:
        """Mirrors virDomainGetBlockJobInfo as libvirt-python ≥ 1.1.1 returns it.

        ``{'type': …, 'bandwidth': …, 'cur': …, 'end': …}`` while a job runs
        on ``path``, ``{}`` when there is none.  Allowed on read-only
        connections.  Raises INVALID_DOMAIN, INVALID_ARG, NO_SUPPORT and the
        driver's errors (domain not running, unknown disk).
        """
        with ApiCall("virDomainGetBlockJobInfo"):
            info = self._o.get_block_job_info(path, _c_uint(flags))
            if info is None:
                return {}
            return {
                "type": int(info.type),
                "bandwidth": int(info.bandwidth),
                "cur": int(info.cur),
                "end": int(info.end),
            }
