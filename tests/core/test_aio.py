"""core.aio: the awaitable block-job info runs the blocking entry point's checks."""

from __future__ import annotations

import asyncio

import pytest

import minivirt.wiring  # noqa: F401  (registers the drivers with core)
from minivirt import core
from minivirt.core import aio
from minivirt.public import BlockJobInfo, ErrorNumber, VirError


def test_the_twin_answers_as_the_blocking_call():
    conn = core.open("test:///default")
    try:
        dom = conn.lookup_by_name("test")
        assert aio.has_async(conn, "domain_get_block_job_info")
        assert asyncio.run(aio.domain_get_block_job_info_async(dom, "vda")) is None
        dom.block_pull("vda", 3)
        got = asyncio.run(aio.domain_get_block_job_info_async(dom, "vda"))
        assert isinstance(got, BlockJobInfo)
        now = dom.get_block_job_info("vda")  # the simulated job moves on
        assert (got.type, got.bandwidth, got.end) == (now.type, now.bandwidth, now.end)
        dom.block_job_abort("vda")
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda d: (d, None, 0),
            "disk in virDomainGetBlockJobInfo must not be NULL",
        ),
        (lambda d: ("test", "vda", 0), "invalid domain pointer in virDomainGetBlockJobInfo"),
        (lambda d: (d, "vda", -1), None),
        (lambda d: (d, "nosuch", 0), None),
    ],
)
def test_the_same_errors_as_the_blocking_call(call, message):
    conn = core.open("test:///default")
    try:
        args = call(conn.lookup_by_name("test"))
        with pytest.raises(VirError) as sync:
            core.domain_get_block_job_info(*args)
        with pytest.raises(VirError) as awaited:
            asyncio.run(aio.domain_get_block_job_info_async(*args))
        assert (awaited.value.code, awaited.value.domain, awaited.value.message) == (
            sync.value.code,
            sync.value.domain,
            sync.value.message,
        )
        if message is not None:
            assert sync.value.message == message
    finally:
        conn.close()


def test_a_driver_without_the_twin():
    conn = core.open("fake:///x")
    try:
        assert not aio.has_async(conn, "domain_get_block_job_info")
        with pytest.raises(VirError) as info:
            asyncio.run(aio.domain_get_block_job_info_async(conn.lookup_by_name("fakedom"), "vda"))
        assert info.value.code == ErrorNumber.NO_SUPPORT
    finally:
        conn.close()
