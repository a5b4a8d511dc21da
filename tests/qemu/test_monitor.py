"""The QMP monitor against a scripted QMP peer on a real unix socket."""

from __future__ import annotations

import threading

import pytest

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.qemu.qmpreply import CommandSet, QemuBlockJob
from tests.qemu.qmppeer import (
    LEGACY_COMMANDS,
    Close,
    Error,
    Event,
    Hang,
    Raw,
    Reply,
    ScriptedPeer,
    Wait,
)

JOB = {
    "device": "drive-vda",
    "type": "stream",
    "speed": 0,
    "offset": 10,
    "len": 100,
    "ready": False,
    "busy": True,
    "paused": False,
    "io-status": "ok",
}


def expect(exc: pytest.ExceptionInfo[VirError], code: ErrorNumber, message: str) -> None:
    assert (exc.value.code, exc.value.domain, exc.value.message) == (
        code,
        ErrorDomain.QEMU,
        message,
    )


# -- probing -----------------------------------------------------------------


def test_modern_generation_is_probed(harness):
    peer = harness.peer()
    mon = harness.connect(peer)
    assert mon.command_set is CommandSet.MODERN
    assert mon.qemu_version == 7_002_022
    assert [name for name, _ in peer.received] == ["qmp_capabilities", "query-commands"]


def test_legacy_generation_is_probed(harness):
    mon = harness.connect(harness.peer(LEGACY_COMMANDS))
    assert mon.command_set is CommandSet.LEGACY


def test_both_generations_prefer_modern(harness):
    both = [*LEGACY_COMMANDS, "block-job-cancel"]
    assert harness.connect(harness.peer(both)).command_set is CommandSet.MODERN


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.block_stream("drive-vda"),
        lambda m: m.block_job_cancel("drive-vda"),
        lambda m: m.block_job_set_speed("drive-vda", 1),
    ],
)
def test_no_block_job_commands(harness, call):
    mon = harness.connect(harness.peer(["qmp_capabilities", "query-commands"]))
    assert mon.command_set is CommandSet.NONE
    with pytest.raises(VirError) as exc:
        call(mon)
    expect(
        exc,
        ErrorNumber.CONFIG_UNSUPPORTED,
        "unsupported configuration: block jobs not supported with this QEMU binary",
    )


# -- modern commands ---------------------------------------------------------


def test_modern_commands_and_arguments(harness):
    peer = harness.peer()
    mon = harness.connect(peer)
    mon.block_stream("drive-vda")
    mon.block_stream("drive-vdb", base="/img/base.qcow2", backing_file="base.qcow2", speed=3 << 20)
    assert mon.block_job_cancel("drive-vda") is True
    mon.block_job_set_speed("drive-vda", 1048576)
    mon.block_job_set_speed("drive-vda", 0)
    assert peer.received[2:] == [
        ("block-stream", {"device": "drive-vda"}),
        (
            "block-stream",
            {
                "device": "drive-vdb",
                "base": "/img/base.qcow2",
                "backing-file": "base.qcow2",
                "speed": 3145728,
            },
        ),
        ("block-job-cancel", {"device": "drive-vda"}),
        ("block-job-set-speed", {"device": "drive-vda", "speed": 1048576}),
        ("block-job-set-speed", {"device": "drive-vda", "speed": 0}),
    ]


# -- 2011 commands -----------------------------------------------------------


def test_legacy_commands_and_arguments(harness):
    peer = harness.peer(LEGACY_COMMANDS)
    mon = harness.connect(peer)
    mon.block_stream("drive-vda")
    assert mon.block_job_cancel("drive-vda") is False
    mon.block_job_set_speed("drive-vda", 2 << 20)
    assert peer.received[2:] == [
        ("block_stream", {"device": "drive-vda"}),
        ("block_job_cancel", {"device": "drive-vda"}),
        ("block_job_set_speed", {"device": "drive-vda", "value": 2097152}),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"base": "/b.qcow2"},
            "unsupported configuration: partial block pull not supported with this QEMU binary",
        ),
        (
            {"speed": 1 << 20},
            "unsupported configuration: setting bandwidth at start of block pull not supported "
            "with this QEMU binary",
        ),
    ],
)
def test_legacy_refuses_base_and_start_speed(harness, kwargs, message):
    peer = harness.peer(LEGACY_COMMANDS)
    mon = harness.connect(peer)
    with pytest.raises(VirError) as exc:
        mon.block_stream("drive-vda", **kwargs)
    expect(exc, ErrorNumber.CONFIG_UNSUPPORTED, message)
    assert peer.count("block_stream") == 0


# -- error classes -----------------------------------------------------------

ERROR_ROWS = [
    (
        "DeviceNotActive",
        "Block job 'drive-vda' not found",
        ErrorNumber.OPERATION_INVALID,
        "Requested operation is not valid: No active block job 'drive-vda'",
    ),
    (
        "GenericError",
        "Device 'drive-vda' is in use",
        ErrorNumber.INTERNAL_ERROR,
        "internal error: unable to execute QEMU command '{cmd}': Device 'drive-vda' is in use",
    ),
    (
        "DeviceNotFound",
        "Device 'drive-vda' not found",
        ErrorNumber.INTERNAL_ERROR,
        "internal error: unable to execute QEMU command '{cmd}': Device 'drive-vda' not found",
    ),
    (
        "CommandNotFound",
        "The command x has not been found",
        ErrorNumber.INTERNAL_ERROR,
        "internal error: unable to execute QEMU command '{cmd}': The command x has not been found",
    ),
    (
        "KVMMissingCap",
        "no kvm",
        ErrorNumber.INTERNAL_ERROR,
        "internal error: unable to execute QEMU command '{cmd}': no kvm",
    ),
    (
        "DeviceInUse",
        "busy",
        ErrorNumber.INTERNAL_ERROR,
        "internal error: unable to execute QEMU command '{cmd}': busy",
    ),
    (
        "NotSupported",
        "nope",
        ErrorNumber.INTERNAL_ERROR,
        "internal error: unable to execute QEMU command '{cmd}': nope",
    ),
]

CALLS = [
    ("block-stream", lambda m: m.block_stream("drive-vda")),
    ("block-job-cancel", lambda m: m.block_job_cancel("drive-vda")),
    ("block-job-set-speed", lambda m: m.block_job_set_speed("drive-vda", 5)),
]


@pytest.mark.parametrize(("cls", "desc", "code", "message"), ERROR_ROWS)
@pytest.mark.parametrize(("cmd", "call"), CALLS)
def test_error_classes(harness, cls, desc, code, message, cmd, call):
    mon = harness.connect(harness.peer(script={cmd: [Error(cls, desc)]}))
    with pytest.raises(VirError) as exc:
        call(mon)
    expect(exc, code, message.format(cmd=cmd))
    assert exc.value.__cause__ is not None


def test_error_reply_without_return_or_error(harness):
    mon = harness.connect(harness.peer(script={"cont": [Raw(b'{"id": "__qmp#00001"}\n')]}))
    with pytest.raises(VirError) as exc:
        mon.cont()
    assert exc.value.code == ErrorNumber.INTERNAL_ERROR
    assert exc.value.message.startswith("internal error: unable to execute QEMU command 'cont'")


# -- query-block-jobs --------------------------------------------------------


def test_query_block_jobs_parses_entries(harness):
    other = dict(JOB, device="drive-vdb", type="mirror", ready=True)
    no_ready = {k: v for k, v in JOB.items() if k != "ready"}
    mon = harness.connect(
        harness.peer(script={"query-block-jobs": [Reply([JOB, other, no_ready])]})
    )
    assert mon.query_block_jobs() == (
        QemuBlockJob("drive-vda", "stream", 0, 10, 100, False),
        QemuBlockJob("drive-vdb", "mirror", 0, 10, 100, True),
        QemuBlockJob("drive-vda", "stream", 0, 10, 100, None),
    )


def _without(key):
    return [{k: v for k, v in JOB.items() if k != key}]


MALFORMED = [
    ({"not": "a list"}, "internal error: reply was missing return data"),
    ("text", "internal error: reply was missing return data"),
    ([1], "internal error: missing array element"),
    ([None], "internal error: missing array element"),
    (_without("device"), "internal error: entry was missing 'device'"),
    (_without("type"), "internal error: entry was missing 'type'"),
    (_without("speed"), "internal error: entry was missing 'speed'"),
    (_without("offset"), "internal error: entry was missing 'offset'"),
    (_without("len"), "internal error: entry was missing 'len'"),
    ([dict(JOB, device=7)], "internal error: entry was missing 'device'"),
    ([dict(JOB, type=None)], "internal error: entry was missing 'type'"),
    ([dict(JOB, speed="fast")], "internal error: entry was missing 'speed'"),
    ([dict(JOB, offset=-1)], "internal error: entry was missing 'offset'"),
    ([dict(JOB, len=1.5)], "internal error: entry was missing 'len'"),
    ([dict(JOB, len=True)], "internal error: entry was missing 'len'"),
]


@pytest.mark.parametrize(("reply", "message"), MALFORMED)
def test_query_block_jobs_malformed(harness, reply, message):
    mon = harness.connect(harness.peer(script={"query-block-jobs": [Reply(reply)]}))
    with pytest.raises(VirError) as exc:
        mon.query_block_jobs()
    expect(exc, ErrorNumber.INTERNAL_ERROR, message)
    # the monitor stays usable after a malformed reply
    mon.cont()


def test_query_block_jobs_single_flight(harness):
    peer = harness.peer(script={"query-block-jobs": [Wait("go"), Reply([JOB])]})
    mon = harness.connect(peer)
    results: list[object] = []

    def query() -> None:
        results.append(mon.query_block_jobs())

    first = threading.Thread(target=query)
    first.start()
    peer.wait_for("query-block-jobs")
    others = [threading.Thread(target=query) for _ in range(3)]
    for thread in others:
        thread.start()
    deadline = threading.Event()
    while mon.shared_queries < 3 and not deadline.wait(0.01):
        pass
    peer.release("go")
    for thread in [first, *others]:
        thread.join(10)
    assert peer.count("query-block-jobs") == 1
    assert len(results) == 4 and all(r == results[0] for r in results)
    # once answered, a new call asks QEMU again
    peer.script["query-block-jobs"] = [Reply([])]
    assert mon.query_block_jobs() == ()
    assert peer.count("query-block-jobs") == 2


def test_query_block_chain(harness):
    image = {
        "filename": "/i/top.qcow2",
        "format": "qcow2",
        "backing-filename": "base.qcow2",
        "backing-image": {"filename": "/i/base.qcow2", "format": "raw"},
    }
    reply = [
        {"device": "drive-vdb", "inserted": {"image": {"filename": "x", "format": "raw"}}},
        {"device": "drive-vda", "inserted": {"image": image}},
    ]
    mon = harness.connect(harness.peer(script={"query-block": [Reply(reply)] * 3}))
    chain = mon.query_block_chain("drive-vda")
    assert [(e.path, e.format, e.backing_name) for e in chain] == [
        ("/i/top.qcow2", "qcow2", "base.qcow2"),
        ("/i/base.qcow2", "raw", None),
    ]
    assert mon.query_block_chain("drive-vdz") == ()


# -- events ------------------------------------------------------------------


def test_events_arrive_in_order_before_the_reply(harness):
    base = {"device": "drive-vda", "type": "stream", "len": 100, "offset": 100, "speed": 0}
    events = [
        Event("BLOCK_JOB_READY", base),
        Event("BLOCK_JOB_ERROR", {"device": "drive-vda", "operation": "read", "action": "report"}),
        Event("BLOCK_JOB_COMPLETED", dict(base, error="Input/output error")),
        Event("BLOCK_JOB_CANCELLED", base),
        Event("BLOCK_JOB_COMPLETED", base),
    ]
    mon = harness.connect(harness.peer(script={"cont": [*events, Reply({})]}))
    mon.cont()
    assert [e.name for e in harness.events] == [
        "BLOCK_JOB_READY",
        "BLOCK_JOB_ERROR",
        "BLOCK_JOB_COMPLETED",
        "BLOCK_JOB_CANCELLED",
        "BLOCK_JOB_COMPLETED",
    ]
    assert harness.events[2].data["error"] == "Input/output error"
    assert (harness.events[0].seconds, harness.events[0].microseconds) == (1, 2)


def test_unsolicited_events_are_delivered(harness):
    peer = harness.peer()
    harness.connect(peer)
    peer.send_event(
        "BLOCK_JOB_COMPLETED",
        {"device": "drive-vda", "type": "stream", "len": 1, "offset": 1, "speed": 0},
    )
    harness.monitors[0].cont()  # a round trip: the event was read before the reply
    assert [e.name for e in harness.events] == ["BLOCK_JOB_COMPLETED"]


def test_what_an_event_queued_runs_before_the_next_event(harness):
    # A finished job is followed by JOB_STATUS_CHANGE events: the domain event the
    # first one queued on the loop (a zero timer) must not wait until they are read.
    import asyncio

    from minivirt.qemu.monitor import Monitor

    order: list[str] = []

    def on_event(event):
        order.append(event.name)
        if event.name == "BLOCK_JOB_COMPLETED":
            asyncio.get_running_loop().call_soon(order.append, "queued by it")

    base = {"device": "drive-vda", "type": "stream", "len": 1, "offset": 1, "speed": 0}
    status = {"id": "drive-vda", "status": "concluded"}
    together = b"".join(  # one write: all three are read at once
        ScriptedPeer._event_bytes(name, data)
        for name, data in [
            ("BLOCK_JOB_COMPLETED", base),
            ("JOB_STATUS_CHANGE", status),
            ("JOB_STATUS_CHANGE", dict(status, status="null")),
        ]
    )
    peer = harness.peer(script={"cont": [Raw(together), Reply({})]})
    mon = Monitor.open(harness.mloop, peer.path, on_event=on_event, on_eof=lambda: None)
    try:
        mon.cont()
    finally:
        mon.close()
    assert order[:3] == ["BLOCK_JOB_COMPLETED", "queued by it", "JOB_STATUS_CHANGE"]


# -- the peer going away -----------------------------------------------------

EOF = "operation failed: End of file from qemu monitor"


@pytest.mark.parametrize("actions", [[Close()], [Raw(b"this is not json\n")]])
def test_peer_vanishing_mid_command(harness, actions):
    mon = harness.connect(harness.peer(script={"block-stream": actions}))
    with pytest.raises(VirError) as exc:
        mon.block_stream("drive-vda")
    expect(exc, ErrorNumber.OPERATION_FAILED, EOF)
    assert harness.eof.wait(10)
    assert mon.closed
    with pytest.raises(VirError) as exc:
        mon.query_block_jobs()
    expect(exc, ErrorNumber.OPERATION_FAILED, EOF)


def test_peer_hanging_up_between_commands_reports_eof(harness):
    peer = harness.peer()
    mon = harness.connect(peer)
    peer.hang_up()
    assert harness.eof.wait(10)
    with pytest.raises(VirError) as exc:
        mon.cont()
    expect(exc, ErrorNumber.OPERATION_FAILED, EOF)


def test_close_does_not_report_eof(harness):
    mon = harness.connect(harness.peer())
    mon.close()
    assert mon.closed and not harness.eof.is_set()
    mon.close()


def test_command_timeout(harness):
    mon = harness.connect(harness.peer(script={"cont": [Hang()]}), timeout=0.2)
    with pytest.raises(VirError) as exc:
        mon.cont()
    expect(
        exc,
        ErrorNumber.OPERATION_TIMEOUT,
        "Timed out during operation: QEMU monitor did not answer 'cont' within 0.2 s",
    )


def test_connect_to_a_peer_that_hangs_up_at_once(harness, sockdir):
    peer = harness.peer(script={"query-commands": [Close()]})
    with pytest.raises(VirError) as exc:
        harness.connect(peer)
    expect(exc, ErrorNumber.OPERATION_FAILED, EOF)


def test_connect_to_nothing(harness, sockdir):
    from minivirt.qemu.monitor import Monitor

    with pytest.raises(VirError) as exc:
        Monitor.open(
            harness.mloop, f"{sockdir}/absent.sock", on_event=print, on_eof=print, timeout=5
        )
    expect(
        exc,
        ErrorNumber.SYSTEM_ERROR,
        "failed to connect to monitor socket: No such file or directory",
    )
