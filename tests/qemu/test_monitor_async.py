"""The monitor's awaitable query and a shared loop (issue #14), on a scripted QMP peer."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from qemu.qmp.message import Message as QmpMessage

from minivirt.public import ErrorNumber, VirError
from minivirt.qemu import monitorloop as monitor_mod
from minivirt.qemu.monitorloop import MonitorLoop
from minivirt.qemu.qmpreply import QemuBlockJob
from tests.qemu.qmppeer import Hang, Reply
from tests.qemu.test_monitor import JOB, expect


def test_query_block_jobs_awaited_from_another_loop(harness):
    mon = harness.connect(harness.peer(script={"query-block-jobs": [Reply([JOB])]}))

    async def ask():
        return await mon.query_block_jobs_async()

    assert asyncio.run(ask()) == (QemuBlockJob("drive-vda", "stream", 0, 10, 100, False),)


def test_a_shared_loop_runs_the_monitor(sockdir):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        monitor_mod.share_loop(loop, thread.ident)
        mloop = MonitorLoop("shared")
        assert mloop.loop is loop
        assert not mloop.in_loop_thread()

        async def where():
            return threading.get_ident(), mloop.in_loop_thread()

        assert mloop.run(where(), 5.0, "where") == (thread.ident, True)
        mloop.close()  # a shared loop is its owner's: it keeps running
        assert loop.is_running()
    finally:
        monitor_mod.share_loop(None)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    own = MonitorLoop("own")
    try:
        assert own.loop is not loop
    finally:
        own.close()


def test_a_blocking_call_from_the_shared_loop_is_refused(sockdir):
    loop = asyncio.new_event_loop()
    try:
        monitor_mod.share_loop(loop, threading.get_ident())
        mloop = MonitorLoop("shared")

        async def nothing():
            return None

        with pytest.raises(Exception) as info:
            mloop.run(nothing(), 1.0, "nothing")
        assert "cannot run 'nothing' on the monitor thread now" in str(info.value)
    finally:
        monitor_mod.share_loop(None)
        loop.close()


def test_awaited_on_the_monitor_loop_shares_one_query(harness):
    mon = harness.connect(harness.peer(script={"query-block-jobs": [Reply([JOB])]}))

    async def two():
        return await asyncio.gather(mon.query_block_jobs_async(), mon.query_block_jobs_async())

    job = QemuBlockJob("drive-vda", "stream", 0, 10, 100, False)
    assert harness.mloop.run(two(), 10.0, "two") == [(job,), (job,)]
    assert mon.shared_queries == 1  # the second caller rode on the first's query


def test_awaited_on_the_monitor_loop_times_out(harness):
    mon = harness.connect(harness.peer(script={"query-block-jobs": [Hang()]}), timeout=0.2)

    async def ask():
        return await mon.query_block_jobs_async()

    with pytest.raises(VirError) as exc:
        harness.mloop.run(ask(), 10.0, "ask")
    expect(
        exc,
        ErrorNumber.OPERATION_TIMEOUT,
        "Timed out during operation: QEMU monitor did not answer 'query-block-jobs' within 0.2 s",
    )


def test_qmp_messages_are_rendered_only_for_a_debug_log(harness, monkeypatch, caplog):
    rendered = []
    plain = QmpMessage.__str__

    def counting(self):
        rendered.append(1)
        return plain(self)

    monkeypatch.setattr(QmpMessage, "__str__", counting)
    script = {"query-block-jobs": [Reply([JOB]), Reply([JOB])]}
    mon = harness.connect(harness.peer(script=script))
    with caplog.at_level(logging.INFO, logger="qemu.qmp"):
        mon.query_block_jobs()
    assert rendered == []  # no debug log: no JSON rendered for it
    with caplog.at_level(logging.DEBUG, logger="qemu.qmp"):
        mon.query_block_jobs()
    assert len(rendered) >= 2 and "query-block-jobs" in caplog.text  # sent and received
