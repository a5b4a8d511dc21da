"""Awaitable entry points: the same checks, then a driver's async twin (issue #14).

A caller running an asyncio loop (minivirtd) awaits these instead of handing
the call to a thread.  Each runs the blocking entry point's checks — the
same function, so no rule is written twice — and then awaits the driver's
``*_async`` slot, which answers from memory at once or awaits QEMU without
blocking the loop.  :func:`has_async` tells whether a connection's driver has
the twin; without it a caller uses the blocking entry point in a thread.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

from minivirt.core.connection import Connection
from minivirt.core.domain import Domain, block_job_info_call
from minivirt.public import BlockJobInfo

__all__ = ["domain_get_block_job_info_async", "has_async"]


def has_async(conn: Connection, slot: str) -> bool:
    """Whether ``conn``'s driver has the awaitable twin of ``slot`` (``<slot>_async``)."""
    return getattr(conn.driver, f"{slot}_async", None) is not None


async def domain_get_block_job_info_async(
    dom: Domain, disk: str, flags: int = 0
) -> BlockJobInfo | None:
    """Mirrors virDomainGetBlockJobInfo, awaited: the job on ``disk``, or None.

    Raises what :func:`minivirt.core.domain_get_block_job_info` raises.
    """
    method, ref, flags = block_job_info_call(dom, disk, flags, "domain_get_block_job_info_async")
    awaitable = cast("Awaitable[BlockJobInfo | None]", method(ref, disk, flags))
    return await awaitable
