"""Client driver <-> minivirtd on loopback, with the daemon serving test:///default."""

from __future__ import annotations

import queue
import socket
import struct
import threading

import msgpack
import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.public import (
    BlockJobInfo,
    DomainBlockJobStatus,
    DomainBlockJobType,
    DomainEventID,
    DomainEventType,
    DomainState,
    ErrorDomain,
    ErrorNumber,
    VirError,
)
from tests.daemon.daemon_process import DaemonProcess


def test_every_connect_call(daemon):
    local = core.open("test:///default")
    conn = core.open(daemon.url())
    try:
        assert conn.get_type() == local.get_type()
        assert conn.get_version() == local.get_version()
        assert conn.get_hostname() == local.get_hostname()
        assert conn.is_alive()
        assert [d.name for d in conn.list_all_domains()] == ["test"]
        assert conn.list_domains_id() == local.list_domains_id()
    finally:
        conn.close()
        local.close()
    assert not conn.is_alive()


def test_every_domain_call(daemon):
    conn = core.open(daemon.url("qemu", "/system"))  # the daemon maps it to its --uri
    try:
        dom = conn.lookup_by_name("test")
        assert conn.lookup_by_id(dom.id).name == "test"
        assert conn.lookup_by_uuid_string(dom.uuid_string()).name == "test"
        assert dom.get_state()[0] == DomainState.RUNNING
        info = dom.get_info()
        # libvirt's test driver's domain 'test': 8 GiB max, 2 GiB current, 2 vCPUs
        assert (info.state, info.max_mem, info.memory, info.nr_virt_cpu) == (
            DomainState.RUNNING,
            8388608,
            2097152,
            2,
        )
        assert "<name>test</name>" in dom.get_xml_desc()
        assert dom.get_block_job_info("vda") is None
        dom.block_pull("vda", 10, 0)
        job = dom.get_block_job_info("vda")
        assert isinstance(job, BlockJobInfo) and job.type == DomainBlockJobType.PULL
        assert job.bandwidth == 10 and 0 <= job.cur <= job.end
        dom.block_job_set_speed("vda", 20, 0)
        assert dom.get_block_job_info("vda").bandwidth == 20
        dom.block_job_abort("vda", 0)
        xml = dom.get_xml_desc().replace("<name>test</name>", "<name>copy</name>")
        xml = xml.replace(dom.uuid_string(), "11111111-2222-3333-4444-555555555555")
        copy = conn.define_xml(xml)
        assert copy.name == "copy" and copy.id == -1
        copy.create()
        assert copy.id == 2 and copy.is_active()  # the test driver's next id
        copy.destroy()
        assert not copy.is_active()
        copy.undefine()
        with pytest.raises(VirError) as info:
            conn.lookup_by_name("copy")
        assert info.value.code == ErrorNumber.NO_DOMAIN
    finally:
        conn.close()


def _local_error(fn):
    with pytest.raises(VirError) as info:
        fn()
    return info.value


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.lookup_by_name("nosuch"),
        lambda c: c.lookup_by_id(999),
        lambda c: c.lookup_by_uuid_string("00000000-0000-0000-0000-000000000009"),
        lambda c: c.lookup_by_name("test").get_block_job_info("vdz"),
        lambda c: c.lookup_by_name("test").block_job_abort("vda"),
        lambda c: c.lookup_by_name("test").block_job_set_speed("vda", 1),
        lambda c: c.lookup_by_name("test").block_pull("vda", 1, 1 << 20),
        lambda c: c.lookup_by_name("test").block_rebase("vda", "/nope", 0, 0),
        lambda c: c.lookup_by_name("test").create(),
        lambda c: c.define_xml("<domain"),
    ],
)
def test_errors_cross_the_wire_intact(daemon, call):
    local = core.open("test:///default")
    remote = core.open(daemon.url())
    try:
        expected = _local_error(lambda: call(local))
        got = _local_error(lambda: call(remote))
        assert got.fields() == expected.fields()
    finally:
        remote.close()
        local.close()


@pytest.mark.parametrize(
    ("call", "api"),
    [
        (lambda c, d: d.block_pull("vda"), "virDomainBlockPull"),
        (lambda c, d: d.block_job_abort("vda"), "virDomainBlockJobAbort"),
        (lambda c, d: d.block_job_set_speed("vda", 1), "virDomainBlockJobSetSpeed"),
        (lambda c, d: d.block_rebase("vda", None), "virDomainBlockRebase"),
        (lambda c, d: d.destroy(), "virDomainDestroy"),
        (lambda c, d: d.create(), "virDomainCreateWithFlags"),
        (lambda c, d: d.undefine(), "virDomainUndefine"),
    ],
)
def test_read_only_refusals(daemon, call, api):
    conn = core.open_read_only(daemon.url())
    try:
        dom = conn.lookup_by_name("test")
        assert dom.get_block_job_info("vda") is None  # allowed read-only
        err = _local_error(lambda: call(conn, dom))
        assert err.code == ErrorNumber.OPERATION_DENIED
        assert err.message.startswith("operation forbidden: read only access prevents ")
    finally:
        conn.close()


def test_daemon_refuses_read_only_clients_itself(daemon):
    """Bypass core's own check: a raw read-only driver is refused by the daemon."""
    from minivirt.remote import open_driver

    drv = open_driver(core.URI.parse(daemon.url()), True)
    try:
        ref = drv.lookup_by_name("test")
        with pytest.raises(VirError) as info:
            drv.domain_block_pull(ref, "vda", 0, 0)
        assert (
            info.value.fields()
            == VirError.report(
                ErrorNumber.OPERATION_DENIED,
                ErrorDomain.DOMAIN,
                "read only access prevents virDomainBlockPull",
            ).fields()
        )
        assert (
            str(info.value) == "operation forbidden: read only access prevents virDomainBlockPull"
        )
        assert drv.domain_get_block_job_info(ref, "vda", 0) is None
    finally:
        drv.close()


def test_events_are_relayed(daemon, event_loop_thread):
    conn = core.open(daemon.url())
    got: queue.Queue = queue.Queue()
    try:
        dom = conn.lookup_by_name("test")
        jid = conn.domain_event_register_any(
            None, DomainEventID.BLOCK_JOB, lambda c, d, *a: got.put(("job", d.name, *a[:-1]))
        )
        jid2 = conn.domain_event_register_any(
            dom, DomainEventID.BLOCK_JOB, lambda c, d, *a: got.put(("job2", d.name, *a[:-1]))
        )
        lid = conn.domain_event_register_any(
            None, DomainEventID.LIFECYCLE, lambda c, d, *a: got.put(("life", d.name, *a[:-1]))
        )
        dom.block_pull("vda", 1)
        dom.block_job_abort("vda")
        events = sorted([got.get(timeout=10), got.get(timeout=10)])
        assert [e[:2] for e in events] == [("job", "test"), ("job2", "test")]
        for e in events:
            assert e[3:] == (DomainBlockJobType.PULL, DomainBlockJobStatus.CANCELED)
        # BLOCK_JOB names the disk by its source path
        assert {e[2] for e in events} == {"/guest/diskimage1"}
        dom.destroy()
        assert got.get(timeout=10) == ("life", "test", DomainEventType.STOPPED, 1)
        dom.create()
        assert got.get(timeout=10)[:3] == ("life", "test", DomainEventType.STARTED)
        conn.domain_event_deregister_any(jid)
        conn.domain_event_deregister_any(jid2)
        conn.domain_event_deregister_any(lid)
        with pytest.raises(VirError) as info:
            conn.domain_event_deregister_any(lid)
        assert info.value.code == ErrorNumber.INVALID_ARG
    finally:
        conn.close()


def test_many_threads_share_one_connection(daemon):
    conn = core.open(daemon.url())
    errors = []

    def worker(n):
        try:
            for i in range(50):
                if (n + i) % 3 == 0:
                    assert conn.lookup_by_name("test").name == "test"
                elif (n + i) % 3 == 1:
                    with pytest.raises(VirError):
                        conn.lookup_by_name(f"nosuch{n}-{i}")
                else:
                    assert conn.lookup_by_name("test").get_block_job_info("vda") is None
        except BaseException as exc:  # surfaces in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn.close()
    assert errors == []


def _raw(daemon):
    return socket.create_connection(("127.0.0.1", daemon.port))


def _recv_frame(sock):
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (length,) = struct.unpack(">I", head)
    rest = b""
    while len(rest) < length - 4:
        chunk = sock.recv(length - 4 - len(rest))
        if not chunk:
            return None
        rest += chunk
    header = struct.unpack(">IIiIII", rest[:24])
    return header, msgpack.unpackb(rest[24:], raw=False)


def _frame(proc, serial, body, program=0x20008086, mtype=0):
    payload = msgpack.packb(body)
    return struct.pack(">IIIiIII", 28 + len(payload), program, 1, proc, mtype, serial, 0) + payload


def _still_serving(daemon):
    conn = core.open(daemon.url())
    try:
        assert conn.lookup_by_name("test").name == "test"
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("data", "code", "fragment"),
    [
        (_frame(9999, 5, None), ErrorNumber.RPC, "unknown procedure: 9999"),
        (_frame(3, 5, None, program=0x1234), ErrorNumber.RPC, "cannot find program 0x1234"),
        (_frame(23, 5, [1, 2, 3]), ErrorNumber.RPC, "Unable to decode message payload"),
        (_frame(23, 5, None, mtype=1), ErrorNumber.RPC, "unexpected message type 1"),
        (_frame(3, 5, None), ErrorNumber.INTERNAL_ERROR, "connection not open"),
    ],
    ids=["procedure", "program", "payload", "type", "not-open"],
)
def test_malformed_frames_are_answered(daemon, data, code, fragment):
    with _raw(daemon) as sock:
        sock.sendall(data)
        header, body = _recv_frame(sock)
        assert header[4] == 5 and header[3] == 1 and header[5] == 1  # REPLY, ERROR
        assert (body[0], body[1]) == (code, ErrorDomain.RPC)
        assert fragment in body[2]
        # the stream is still usable: open then ask the type
        sock.sendall(_frame(1, 6, [None, 0]))
        assert _recv_frame(sock)[0][4:] == (6, 0)
        sock.sendall(_frame(3, 7, None))
        (head, ret) = _recv_frame(sock)
        assert head[4:] == (7, 0) and ret == ["TEST"]
    _still_serving(daemon)


@pytest.mark.parametrize(
    "data",
    [
        struct.pack(">I", 0xFFFFFFF0) + b"\x20\x00\x80\x86" + bytes(20),
        struct.pack(">I", 2),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_framing_garbage_drops_only_that_client(daemon, data):
    bystander = core.open(daemon.url())
    with _raw(daemon) as sock:
        sock.sendall(data)
        sock.settimeout(10)
        while _recv_frame(sock) is not None:
            pass  # maybe an error reply, then EOF
    assert bystander.lookup_by_name("test").name == "test"
    bystander.close()
    _still_serving(daemon)


def test_client_killed_mid_call(daemon, tmp_path):
    import subprocess
    import sys

    script = (
        "import minivirt.wiring\n"
        "from minivirt import core\n"
        f"c = core.open({daemon.url()!r})\n"
        "d = c.lookup_by_name('test')\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    d.get_block_job_info('vda')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _still_serving(daemon)
    assert daemon.proc.poll() is None


class _SilentServer:
    """A fake daemon: answers CONNECT_OPEN, then swallows calls and hangs up on demand."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.got_call = threading.Event()
        self.conn = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.conn, _ = self.listener.accept()
        header, _ = _recv_frame(self.conn)
        payload = msgpack.packb(None)
        self.conn.sendall(
            struct.pack(">IIIiIII", 28 + len(payload), 0x20008086, 1, 1, 1, header[4], 0) + payload
        )
        if _recv_frame(self.conn) is not None:
            self.got_call.set()

    def hang_up(self):
        self.conn.close()
        self.listener.close()


def test_dropped_connection_fails_pending_calls():
    server = _SilentServer()
    conn = core.open(f"test+tcp://127.0.0.1:{server.port}/default")
    result: queue.Queue = queue.Queue()

    def call():
        try:
            conn.get_type()
        except VirError as exc:
            result.put(exc)

    t = threading.Thread(target=call)
    t.start()
    assert server.got_call.wait(10)
    server.hang_up()
    t.join(10)
    err = result.get(timeout=1)
    assert (err.code, err.domain) == (ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC)
    assert err.message == "End of file while reading data: Input/output error"
    assert not conn.is_alive()
    late = _local_error(conn.get_type)
    assert late.message == "internal error: client socket is closed"
    conn.close()


def test_unreachable_daemon():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = _local_error(lambda: core.open(f"qemu+tcp://127.0.0.1:{port}/system"))
    assert (err.code, err.domain) == (ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC)
    assert err.message == (f"unable to connect to server at '127.0.0.1:{port}': Connection refused")


def test_unix_socket_and_missing_paths(tmp_path):
    path = tmp_path / "sock"
    d = DaemonProcess(tmp_path, "--unix", str(path))
    try:
        for uri in (f"qemu:///system?socket={path}", f"qemu+unix:///system?socket={path}"):
            conn = core.open(uri)
            assert conn.get_type() == "TEST"
            conn.close()
    finally:
        d.stop()
    err = _local_error(lambda: core.open(f"qemu+tls://127.0.0.1/system?pkipath={tmp_path}"))
    assert err.code == ErrorNumber.SYSTEM_ERROR and "cacert.pem" in err.message
    err = _local_error(lambda: core.open(f"qemu:///system?socket={tmp_path}/absent"))
    assert err.message.startswith(f"Failed to connect socket to '{tmp_path}/absent'")


def test_the_client_driver_fills_every_slot():
    from minivirt.public.driver import DRIVER_METHODS
    from minivirt.remote.client import RemoteDriver

    missing = [name for name in (*DRIVER_METHODS, "close") if not hasattr(RemoteDriver, name)]
    assert missing == []
    # Every slot is a procedure: what the daemon's driver cannot do, the daemon reports.
    assert RemoteDriver.unsupported_slots == frozenset()
