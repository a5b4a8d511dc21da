"""Every numeric value of the public header, pinned to libvirt's headers (libvirt-domain.h)."""

import pickle

import pytest

from minivirt import public as p


@pytest.mark.parametrize(
    ("member", "value"),
    [
        (p.DomainBlockJobType.UNKNOWN, 0),
        (p.DomainBlockJobType.PULL, 1),
        (p.DomainBlockJobType.COPY, 2),
        (p.DomainBlockJobType.COMMIT, 3),
        (p.DomainBlockJobType.ACTIVE_COMMIT, 4),
        (p.DomainBlockJobType.BACKUP, 5),
        (p.DomainBlockJobStatus.COMPLETED, 0),
        (p.DomainBlockJobStatus.FAILED, 1),
        (p.DomainBlockJobStatus.CANCELED, 2),
        (p.DomainBlockJobStatus.READY, 3),
        (p.DomainEventID.LIFECYCLE, 0),
        (p.DomainEventID.CONTROL_ERROR, 7),
        (p.DomainEventID.BLOCK_JOB, 8),
        (p.DomainEventID.BLOCK_JOB_2, 16),
        (p.DomainBlockJobAbortFlags.ASYNC, 1),
        (p.DomainBlockJobAbortFlags.PIVOT, 2),
        (p.DomainBlockJobInfoFlags.BANDWIDTH_BYTES, 1),
        (p.DomainBlockJobSetSpeedFlags.BANDWIDTH_BYTES, 1),
        (p.DomainBlockPullFlags.BANDWIDTH_BYTES, 64),
        (p.DomainBlockRebaseFlags.SHALLOW, 1),
        (p.DomainBlockRebaseFlags.REUSE_EXT, 2),
        (p.DomainBlockRebaseFlags.COPY_RAW, 4),
        (p.DomainBlockRebaseFlags.COPY, 8),
        (p.DomainBlockRebaseFlags.RELATIVE, 16),
        (p.DomainBlockRebaseFlags.COPY_DEV, 32),
        (p.DomainBlockRebaseFlags.BANDWIDTH_BYTES, 64),
        (p.DomainBlockCommitFlags.SHALLOW, 1),
        (p.DomainBlockCommitFlags.DELETE, 2),
        (p.DomainBlockCommitFlags.ACTIVE, 4),
        (p.DomainBlockCommitFlags.RELATIVE, 8),
        (p.DomainBlockCommitFlags.BANDWIDTH_BYTES, 16),
        (p.DomainBlockCopyFlags.SHALLOW, 1),
        (p.DomainBlockCopyFlags.REUSE_EXT, 2),
        (p.DomainBlockCopyFlags.TRANSIENT_JOB, 4),
        (p.DomainBlockCopyFlags.SYNCHRONOUS_WRITES, 8),
        (p.ErrorNumber.OK, 0),
        (p.ErrorNumber.INTERNAL_ERROR, 1),
        (p.ErrorNumber.NO_SUPPORT, 3),
        (p.ErrorNumber.INVALID_DOMAIN, 7),
        (p.ErrorNumber.INVALID_ARG, 8),
        (p.ErrorNumber.OPERATION_FAILED, 9),
        (p.ErrorNumber.XML_ERROR, 27),
        (p.ErrorNumber.OPERATION_DENIED, 29),
        (p.ErrorNumber.SYSTEM_ERROR, 38),
        (p.ErrorNumber.RPC, 39),
        (p.ErrorNumber.NO_DOMAIN, 42),
        (p.ErrorNumber.OPERATION_INVALID, 55),
        (p.ErrorNumber.CONFIG_UNSUPPORTED, 67),
        (p.ErrorNumber.ARGUMENT_UNSUPPORTED, 74),
        (p.ErrorNumber.OVERFLOW, 82),
        (p.ErrorNumber.BLOCK_COPY_ACTIVE, 83),
        (p.ErrorNumber.OPERATION_UNSUPPORTED, 84),
        (p.ErrorNumber.ACCESS_DENIED, 88),
        (p.ErrorDomain.NONE, 0),
        (p.ErrorDomain.DOM, 6),
        (p.ErrorDomain.RPC, 7),
        (p.ErrorDomain.QEMU, 10),
        (p.ErrorDomain.TEST, 12),
        (p.ErrorDomain.REMOTE, 13),
        (p.ErrorDomain.DOMAIN, 20),
        (p.ErrorLevel.ERROR, 2),
        (p.DomainState.RUNNING, 1),
        (p.DomainState.SHUTOFF, 5),
        (p.DomainEventType.STARTED, 2),
        (p.DomainEventType.STOPPED, 5),
    ],
)
def test_value_is_libvirts(member: int, value: int) -> None:
    assert int(member) == value


def test_error_numbers_have_no_gaps_up_to_access_denied() -> None:
    assert [int(m) for m in p.ErrorNumber] == list(range(89))


def test_block_job_info_fields_in_libvirt_order() -> None:
    info = p.BlockJobInfo(1, 10, 5, 100)
    assert info.__match_args__ == ("type", "bandwidth", "cur", "end")
    assert info.type_name == "PULL"
    assert p.BlockJobInfo(99, 0, 0, 0).type_name == "UNKNOWN"
    with pytest.raises(AttributeError):
        info.cur = 6  # type: ignore[misc]


def test_values_are_frozen_slotted_and_compare_by_fields() -> None:
    ref = p.DomainRef("d", "00000000-0000-0000-0000-000000000001", 1)
    same = p.DomainRef(name="d", uuid="00000000-0000-0000-0000-000000000001", id=1)
    assert ref == same and hash(ref) == hash(same) and ref != p.DomainRef("d", ref.uuid)
    assert p.DomainRef("d", ref.uuid).id == -1
    assert repr(ref) == "DomainRef(name='d', uuid='00000000-0000-0000-0000-000000000001', id=1)"
    assert not hasattr(ref, "__dict__")
    with pytest.raises(AttributeError):
        del ref.name  # type: ignore[misc]
    event = p.BlockJobEvent(ref, "vda", 1, 0, id=16)
    assert event.__match_args__ == ("dom", "disk", "type", "status", "id")
    assert event != p.LifecycleEvent(ref, 1, 0) and event != (ref, "vda", 1, 0, 16)
    assert p.LifecycleEvent(ref, 2, 0) == p.LifecycleEvent(ref, 2, 0)
    info = p.DomainInfo(1, 65536, 65536, 1, 0)
    for value in (ref, event, info, p.BlockJobInfo(1, 0, 5, 10), p.LifecycleEvent(ref, 2, 0)):
        assert pickle.loads(pickle.dumps(value)) == value
    match event:
        case p.BlockJobEvent(dom, disk, _, status, 16):
            assert (dom, disk, status) == (ref, "vda", 0)
        case _:
            pytest.fail("no match")


def test_block_job_event_ids() -> None:
    ref = p.DomainRef("d", "00000000-0000-0000-0000-000000000001", 1)
    assert p.BlockJobEvent(ref, "/img", 1, 0).event_id == 8
    assert p.BlockJobEvent(ref, "vda", 1, 0, id=16).event_id == 16
    assert p.LifecycleEvent(ref, 2, 0).event_id == 0


@pytest.mark.parametrize(
    ("code", "detail", "message"),
    [
        (
            p.ErrorNumber.INVALID_ARG,
            "disk 'vdz' not found in domain",
            "invalid argument: disk 'vdz' not found in domain",
        ),
        (
            p.ErrorNumber.OPERATION_INVALID,
            "domain is not running",
            "Requested operation is not valid: domain is not running",
        ),
        (p.ErrorNumber.OPERATION_UNSUPPORTED, "x", "Operation not supported: x"),
        (
            p.ErrorNumber.NO_SUPPORT,
            "virDomainBlockPull",
            "this function is not supported by the connection driver: virDomainBlockPull",
        ),
        (
            p.ErrorNumber.INVALID_DOMAIN,
            "virDomainBlockPull",
            "invalid domain pointer in virDomainBlockPull",
        ),
        (
            p.ErrorNumber.OPERATION_DENIED,
            "read only access prevents virDomainBlockPull",
            "operation forbidden: read only access prevents virDomainBlockPull",
        ),
        (p.ErrorNumber.OVERFLOW, "y", "numerical overflow: y"),
        (p.ErrorNumber.INTERNAL_ERROR, None, "internal error"),
        (p.ErrorNumber.RPC, "boom", "boom"),
    ],
)
def test_report_formats_like_libvirt(code: p.ErrorNumber, detail: str | None, message: str) -> None:
    err = p.VirError.report(code, p.ErrorDomain.QEMU, detail)
    assert err.message == message == str(err)
    assert (err.code, err.domain, err.level) == (code, 10, 2)
    assert err.str2 == detail and (err.int1, err.int2) == (-1, -1)


def test_vir_error_round_trips_its_fields() -> None:
    err = p.VirError(55, 10, "m", 2, "a", None, "c", 3, 4)
    assert p.VirError(*err.fields()) == err
    assert pickle.loads(pickle.dumps(err)) == err
    assert p.VirError(1, 0, "x") != err


def test_unknown_code_does_not_crash() -> None:
    err = p.VirError.report(999, p.ErrorDomain.NONE, "odd")  # type: ignore[arg-type]
    assert err.message == "odd" and err.code == 999


def test_the_slot_names_are_the_driver_table() -> None:
    # DriverSlot (what unsupported_slots may name) lists every method of the protocol,
    # in table order.  It is a string alias (run time never imports typing); this is
    # the Literal mypy reads from it.
    import inspect
    from typing import Literal, get_args

    from minivirt.public.driver import DRIVER_METHODS, DriverSlot, HypervisorDriver

    methods = [
        name
        for name, value in vars(HypervisorDriver).items()
        if inspect.isfunction(value) and not name.startswith("_")
    ]
    assert methods == ["close", *DRIVER_METHODS]
    assert get_args(eval(DriverSlot, {"Literal": Literal})) == DRIVER_METHODS
    assert len(DRIVER_METHODS) == len(set(DRIVER_METHODS)) == 23
    assert isinstance(vars(HypervisorDriver)["unsupported_slots"], property)


def test_capabilities_are_told_by_their_method() -> None:
    # KeepAliveDriver and AsyncBlockJobInfoDriver are declared by having the method.
    from minivirt.public.driver import has_async_block_job_info, has_keep_alive

    class Remote:
        def connect_set_keep_alive(self, interval: int, count: int) -> int:
            return 0

    class Async:
        async def domain_get_block_job_info_async(self, dom, disk, flags):
            return None

    class Plain:
        connect_set_keep_alive = None  # a None attribute is no method

    assert has_keep_alive(Remote()) and not has_async_block_job_info(Remote())
    assert has_async_block_job_info(Async()) and not has_keep_alive(Async())
    assert not has_keep_alive(Plain()) and not has_keep_alive(object())
