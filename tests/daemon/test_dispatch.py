"""The daemon's per-client dispatch, in process: URI mapping, refusals, registrations."""

from __future__ import annotations

import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.daemon.dispatch import Handler, map_uri
from minivirt.public import DomainRef, ErrorDomain, ErrorNumber, VirError
from minivirt.remote.protocol import messages as m
from minivirt.remote.protocol.procedures import PROCEDURES
from minivirt.remote.protocol.server_stubs import SERVER_DISPATCH, ServerStubs


@pytest.mark.parametrize(
    ("asked", "local", "opened"),
    [
        (None, "qemu:///system", "qemu:///system"),
        ("", "test:///default", "test:///default"),
        ("qemu:///system", "qemu:///embed?root=/x", "qemu:///embed?root=/x"),
        ("test:///default", "qemu:///system", "test:///default"),
        ("qemu:///embed?root=/x", "qemu:///embed?root=/x", "qemu:///embed?root=/x"),
    ],
)
def test_map_uri(asked, local, opened):
    assert map_uri(asked, local) == opened


def test_map_uri_refuses_other_local_paths():
    with pytest.raises(VirError) as info:
        map_uri("qemu:///embed?root=/etc", "qemu:///system")
    assert (info.value.code, info.value.message) == (
        ErrorNumber.NO_CONNECT,
        "no connection driver available for qemu:///embed?root=/etc",
    )


class RecordingConn:
    """Wraps a core connection and records event (de)registrations and close."""

    def __init__(self, conn):
        self.conn = conn
        self.log = []

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def domain_event_register_any(self, dom, event_id, cb):
        cid = self.conn.domain_event_register_any(dom, event_id, cb)
        self.log.append(("register", event_id))
        return cid

    def domain_event_deregister_any(self, cid):
        self.log.append(("deregister", cid))
        self.conn.domain_event_deregister_any(cid)

    def close(self):
        self.log.append(("close",))
        return self.conn.close()


@pytest.fixture
def handler(event_loop_thread):
    opened = []

    def open_conn(uri, read_only):
        conn = RecordingConn(core.open_read_only(uri) if read_only else core.open(uri))
        opened.append(conn)
        return conn

    h = Handler(open_conn, core.Domain, "test:///default", lambda proc, msg: None)
    h.opened = opened
    yield h
    h.cleanup()  # no test:///default connection may outlive the test


def test_calls_before_open_are_refused(handler):
    err = handler.check(PROCEDURES[238])
    assert (err.code, err.domain, err.message) == (
        ErrorNumber.INTERNAL_ERROR,
        ErrorDomain.RPC,
        "internal error: connection not open",
    )
    assert handler.check(PROCEDURES[1]) is None


def test_read_only_annotations(handler):
    handler.dispatch(1, m.RemoteConnectOpenArgs("test:///default", 1))
    assert handler.read_only
    assert handler.check(PROCEDURES[238]) is None
    err = handler.check(PROCEDURES[240])
    assert (err.code, err.domain, err.message) == (
        ErrorNumber.OPERATION_DENIED,
        ErrorDomain.DOMAIN,
        "operation forbidden: read only access prevents virDomainBlockPull",
    )
    denied = {p.api for p in PROCEDURES.values() if handler.check(p) is not None}
    assert "virDomainGetBlockJobInfo" not in denied
    assert {"virDomainBlockJobAbort", "virDomainBlockRebase", "virDomainDefineXML"} <= denied


def test_open_twice(handler):
    handler.dispatch(1, m.RemoteConnectOpenArgs(None, 0))
    with pytest.raises(VirError) as info:
        handler.dispatch(1, m.RemoteConnectOpenArgs(None, 0))
    assert info.value.message == "internal error: connection already open"


def test_event_registration_errors_and_cleanup(handler):
    handler.dispatch(1, m.RemoteConnectOpenArgs(None, 0))
    handler.dispatch(167, m.RemoteDomainEventsRegisterAnyArgs(8))
    handler.dispatch(167, m.RemoteDomainEventsRegisterAnyArgs(0))
    cases = [
        (167, 8, "internal error: domain event 8 already registered"),
        (167, 99, "internal error: unsupported event ID 99"),
        (167, -1, "internal error: unsupported event ID -1"),
        (168, 16, "internal error: domain event 16 not registered"),
    ]
    for proc, event_id, text in cases:
        cls = (
            m.RemoteDomainEventsRegisterAnyArgs
            if proc == 167
            else m.RemoteDomainEventsDeregisterAnyArgs
        )
        with pytest.raises(VirError) as info:
            handler.dispatch(proc, cls(event_id))
        assert (info.value.code, info.value.message) == (ErrorNumber.INTERNAL_ERROR, text)
    handler.dispatch(168, m.RemoteDomainEventsDeregisterAnyArgs(0))
    conn = handler.opened[0]
    handler.cleanup()  # the client went away
    assert [e[0] for e in conn.log] == ["register", "register", "deregister", "deregister", "close"]
    assert conn.conn.closed


def test_every_hand_written_procedure_has_a_dispatcher():
    for number, name in SERVER_DISPATCH.items():
        if PROCEDURES[number].generate not in ("both", "server"):
            assert getattr(Handler, name) is not getattr(ServerStubs, name), name
    events = {n for n, p in PROCEDURES.items() if p.msg is not None}
    assert set(SERVER_DISPATCH) == set(PROCEDURES) - events


# -- the generated dispatchers: what each one calls, with which arguments, and returns ------

UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
UUID_BYTES = bytes.fromhex("6695eb01f6a4830479aa97f2502e193f")  # typed out, not derived
WIRE = m.RemoteNonnullDomain("guest", UUID_BYTES, 7)


class FakeDomain:
    """What make_domain hands the dispatchers: records every call with the ref it was made for."""

    def __init__(self, log, ref):
        self._log, self._ref = log, ref
        self.name, self.id = ref.name, ref.id

    def uuid_string(self):
        return self._ref.uuid

    def __getattr__(self, method):
        def call(*args):
            self._log.append((self._ref, method, args))
            if method == "get_xml_desc":
                return "<domain type='fake'/>"
            if method == "qemu_monitor_command":
                return '{"return":{},"id":"libvirt-1"}'
            return None

        return call


class FakeConn:
    def __init__(self):
        self.log = []

    def get_type(self):
        self.log.append(("conn", "get_type", ()))
        return "Fake"

    def get_version(self):
        self.log.append(("conn", "get_version", ()))
        return 9_000_000

    def get_hostname(self):
        self.log.append(("conn", "get_hostname", ()))
        return "host.example"

    def lookup_by_id(self, id):
        self.log.append(("conn", "lookup_by_id", (id,)))
        return FakeDomain(self.log, DomainRef("guest", UUID, id))

    def lookup_by_name(self, name):
        self.log.append(("conn", "lookup_by_name", (name,)))
        return FakeDomain(self.log, DomainRef(name, UUID, 7))


REF = DomainRef("guest", UUID, 7)

# (procedure, args, the calls it must make, what it must return)
GENERATED = [
    (3, None, [("conn", "get_type", ())], m.RemoteConnectGetTypeRet("Fake")),
    (4, None, [("conn", "get_version", ())], m.RemoteConnectGetVersionRet(9_000_000)),
    (59, None, [("conn", "get_hostname", ())], m.RemoteConnectGetHostnameRet("host.example")),
    (
        22,
        m.RemoteDomainLookupByIdArgs(7),
        [("conn", "lookup_by_id", (7,))],
        m.RemoteDomainLookupByIdRet(WIRE),
    ),
    (
        23,
        m.RemoteDomainLookupByNameArgs("guest"),
        [("conn", "lookup_by_name", ("guest",))],
        m.RemoteDomainLookupByNameRet(WIRE),
    ),
    (9, m.RemoteDomainCreateArgs(WIRE), [(REF, "create", ())], None),
    (12, m.RemoteDomainDestroyArgs(WIRE), [(REF, "destroy", ())], None),
    (
        14,
        m.RemoteDomainGetXmlDescArgs(WIRE, 2),
        [(REF, "get_xml_desc", (2,))],
        m.RemoteDomainGetXmlDescRet("<domain type='fake'/>"),
    ),
    (35, m.RemoteDomainUndefineArgs(WIRE), [(REF, "undefine", ())], None),
    (231, m.RemoteDomainUndefineFlagsArgs(WIRE, 1), [(REF, "undefine", (1,))], None),
    (234, m.RemoteDomainDestroyFlagsArgs(WIRE, 1), [(REF, "destroy", (1,))], None),
    (
        237,
        m.RemoteDomainBlockJobAbortArgs(WIRE, "vda", 1),
        [(REF, "block_job_abort", ("vda", 1))],
        None,
    ),
    (
        239,
        m.RemoteDomainBlockJobSetSpeedArgs(WIRE, "vdb", 7, 1),
        [(REF, "block_job_set_speed", ("vdb", 7, 1))],
        None,
    ),
    (
        240,
        m.RemoteDomainBlockPullArgs(WIRE, "vda", 5, 64),
        [(REF, "block_pull", ("vda", 5, 64))],
        None,
    ),
    (
        266,
        m.RemoteDomainBlockRebaseArgs(WIRE, "vda", "/images/base.qcow2", 3, 16),
        [(REF, "block_rebase", ("vda", "/images/base.qcow2", 3, 16))],
        None,
    ),
    (
        # QEMU_PROGRAM's procedure 1 (virDomainQemuMonitorCommand), keyed program << 32 | 1
        0x20008087 << 32 | 1,
        m.QemuDomainMonitorCommandArgs(WIRE, "info status", 1),
        [(REF, "qemu_monitor_command", ("info status", 1))],
        m.QemuDomainMonitorCommandRet('{"return":{},"id":"libvirt-1"}'),
    ),
]


def test_the_table_covers_every_generated_dispatcher():
    generated = {
        n for n, p in PROCEDURES.items() if p.msg is None and p.generate in ("both", "server")
    }
    assert {row[0] for row in GENERATED} == generated


@pytest.mark.parametrize(
    ("proc", "args", "calls", "ret"), GENERATED, ids=[str(row[0]) for row in GENERATED]
)
def test_generated_dispatcher_calls_the_api(proc, args, calls, ret):
    conn = FakeConn()
    h = Handler(lambda uri, ro: conn, lambda c, ref: FakeDomain(c.log, ref), "x:///", None)
    h.dispatch(1, m.RemoteConnectOpenArgs(None, 0))
    assert h.dispatch(proc, args) == ret
    assert conn.log == calls


def test_block_job_info_is_awaited_when_the_driver_has_the_twin():
    import asyncio

    from minivirt import core
    from minivirt.core import aio
    from minivirt.daemon.dispatch import Handler
    from minivirt.remote.protocol import messages as m
    from minivirt.remote.protocol.procedures import Procedure
    from minivirt.remote.protocol.runtime import uuid_to_bytes

    def opener(uri, ro):
        return core.open(uri)

    h = Handler(
        opener,
        core.Domain,
        "test:///default",
        lambda p, msg: None,
        (aio.domain_get_block_job_info_async, aio.has_async),
    )
    assert h.dispatch_async(Procedure.DOMAIN_GET_BLOCK_JOB_INFO, None) is None  # not open
    h.dispatch(Procedure.CONNECT_OPEN, m.RemoteConnectOpenArgs(None, 0))
    try:
        dom = h._conn().lookup_by_name("test")
        wire = m.RemoteNonnullDomain("test", uuid_to_bytes(dom.uuid_string()), dom.id)
        args = m.RemoteDomainGetBlockJobInfoArgs(wire, "vda", 0)
        coro = h.dispatch_async(Procedure.DOMAIN_GET_BLOCK_JOB_INFO, args)
        assert coro is not None
        assert asyncio.run(coro) == m.RemoteDomainGetBlockJobInfoRet(0, 0, 0, 0, 0)
        assert h.dispatch_async(Procedure.DOMAIN_GET_STATE, None) is None  # no twin
    finally:
        h.cleanup()
