"""Awaitable entry points: the same checks, then a driver's async twin (issue #14).

A caller running an asyncio loop (minivirtd) awaits these instead of handing
the call to a thread.  Each runs the blocking entry point's checks — the
same function, so no rule is written twice — and then awaits the driver's
``*_async`` slot, which answers from memory at once or awaits QEMU without
blocking the loop.  :func:`has_async` tells whether a connection's driver has
the twin; without it a caller uses the blocking entry point in a thread.
"""

from __future__ import annotations

from minivirt.core import checks
from minivirt.core.connection import Connection
from minivirt.core.domain import BLOCK_JOB_INFO, DomainHandle, block_job_info_checks, driver_for
from minivirt.public import BlockJobInfo, has_async_block_job_info

__all__ = ["domain_get_block_job_info_async", "has_async"]


def has_async(conn: Connection, slot: str = "domain_get_block_job_info") -> bool:
    """Whether ``conn``'s driver has the awaitable twin of ``slot`` (only block-job info
    has one)."""
    return slot == "domain_get_block_job_info" and has_async_block_job_info(conn.driver)


async def domain_get_block_job_info_async(
    dom: DomainHandle, disk: str, flags: int = 0
) -> BlockJobInfo | None:
    """Mirrors virDomainGetBlockJobInfo, awaited: the job on ``disk``, or None.

    Raises what :func:`minivirt.core.domain_get_block_job_info` raises, and
    NO_SUPPORT when the driver has no awaitable twin (see :func:`has_async`).
    """
    dom, flags = block_job_info_checks(dom, disk, flags)
    driver = driver_for(dom, "domain_get_block_job_info", BLOCK_JOB_INFO)
    if not has_async_block_job_info(driver):
        raise checks.unsupported(BLOCK_JOB_INFO)
    return await driver.domain_get_block_job_info_async(dom.ref, disk, flags)
