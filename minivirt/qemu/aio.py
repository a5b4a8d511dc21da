"""The qemu driver's awaitable block-job info (issue #14): no worker thread, no blocking.

Owns :func:`get_block_job_info_async` only.  Its checks and the answer from
memory (no job on the disk: None, without a QMP command) are
``blockjob.block_job_info_query``'s, the translation
``blockjob.block_job_info_pick``'s:
the same rules as the blocking call, in one place.  A running job's
``query-block-jobs`` is awaited through the monitor.  Must not: block the
caller's loop (the domain lock is held only to read memory, never across QMP).
"""

from __future__ import annotations

from minivirt.public import BlockJobInfo, DomainRef
from minivirt.qemu.blockjob import block_job_info_pick, block_job_info_query
from minivirt.qemu.state import QemuDriverState

__all__ = ["get_block_job_info_async"]


async def get_block_job_info_async(
    state: QemuDriverState, ref: DomainRef, disk: str, flags: int
) -> BlockJobInfo | None:
    """Mirrors qemuDomainGetBlockJobInfo, awaited; raises as ``blockjob.get_block_job_info``."""
    found = block_job_info_query(state, ref, disk, flags)
    if found is None:
        return None
    job, monitor, report_bytes = found
    return block_job_info_pick(await monitor.query_block_jobs_async(), job, report_bytes)
