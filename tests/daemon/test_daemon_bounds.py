"""Hostile clients: every buffer bounded, deadlines, one open per socket, keepalive.

Each test drives one limit of minivirtd (a real subprocess on loopback) to its
end and then shows that another client is still served.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys

import msgpack
import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.daemon.limits import Limits, parse_config
from minivirt.public import ErrorDomain, ErrorNumber, VirError
from tests.daemon.conftest import serving
from tests.daemon.daemon_process import DaemonProcess

KEEP = 0x6B656570


def _frame(proc, serial, body, prog=0x20008086, mtype=0):
    payload = msgpack.packb(body)
    return struct.pack(">IIIiIII", 28 + len(payload), prog, 1, proc, mtype, serial, 0) + payload


def _read_frames(sock, count):
    """``count`` frames: (header, body) pairs."""
    data = b""
    out = []
    while len(out) < count:
        while len(data) < 4 or len(data) < struct.unpack(">I", data[:4])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            data += chunk
        (n,) = struct.unpack(">I", data[:4])
        out.append((struct.unpack(">IIiIII", data[4:28]), msgpack.unpackb(data[28:n])))
        data = data[n:]
    return out


def _eof(sock):
    sock.settimeout(30)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_config_file_syntax():
    limits = parse_config(
        "# limits\nmax_clients = 7\nmax_client_requests=2  # inline comment\n"
        'tls_allowed_dn_list = ["C=GB,*", "CN=a#b"]\nunknown_key = "ignored"\n'
    )
    assert (limits.clients, limits.outstanding) == (7, 2)
    assert limits.tls_allowed_dn == ("C=GB,*", "CN=a#b")
    assert limits.keepalive_interval == Limits().keepalive_interval == 5
    with pytest.raises(VirError) as info:
        parse_config("max_clients = many\n")
    assert (info.value.code, info.value.domain) == (ErrorNumber.CONF_SYNTAX, ErrorDomain.CONF)
    with pytest.raises(VirError):
        parse_config('max_clients = ["1"]\n')


def test_unread_replies_stop_reading_and_memory_stays_flat(make_daemon):
    """A client pipelining listings and never reading: the daemon stops reading it."""
    d = make_daemon(config="max_unsent_bytes = 65536\n")
    with socket.create_connection(("127.0.0.1", d.port)) as sock:
        sock.sendall(_frame(1, 1, [None, 0]))
        assert _read_frames(sock, 1)[0][0][5] == 0
        before = _rss_kib(d.proc.pid)
        call = _frame(273, 2, [1, 0])  # CONNECT_LIST_ALL_DOMAINS, need_results
        burst = call * 4096
        sock.setblocking(False)
        sent = 0
        for _ in range(2000):  # until the kernel buffers are full both ways
            try:
                sent += sock.send(burst)
            except BlockingIOError:
                serving(d)  # another client is answered meanwhile
                try:
                    sent += sock.send(burst)
                except BlockingIOError:
                    break
        after = _rss_kib(d.proc.pid)
        assert sent < 2000 * len(burst)  # the daemon did stop reading
        assert after - before < 16 * 1024  # KiB: bounded by max_unsent_bytes, not by calls
    serving(d)


def test_anonymous_clients_are_bounded_and_expire(make_daemon):
    d = make_daemon(config="max_anonymous_clients = 3\nanonymous_timeout = 1\n")
    idle = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(3)]
    extra = socket.create_connection(("127.0.0.1", d.port))
    assert _eof(extra)  # refused: too many anonymous clients
    for sock in idle:  # dropped after anonymous_timeout
        assert _eof(sock)
        sock.close()
    extra.close()
    serving(d)
    log = d.log_path.read_text()
    assert "Too many anonymous clients (3)" in log
    assert "no connection opened within 1 s" in log


def test_a_frame_must_arrive_in_full(make_daemon):
    d = make_daemon(config="frame_timeout = 1\n")
    with socket.create_connection(("127.0.0.1", d.port)) as sock:
        sock.sendall(struct.pack(">I", 32 * 1024 * 1024) + b"\0" * 100)  # 32 MiB declared
        assert _eof(sock)
    assert "frame not received in full within 1 s" in d.log_path.read_text()
    serving(d)


def test_second_connect_open_on_a_socket_is_refused(make_daemon):
    d = make_daemon()
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", d.port)) as sock:
            sock.sendall(_frame(1, 1, [None, 1]) + _frame(1, 2, [None, 0]))  # RO then RW
            (h1, _), (h2, b2) = _read_frames(sock, 2)
            assert (h1[4], h1[5]) == (1, 0)
            assert (h2[4], h2[5]) == (2, 1)
            assert (b2[0], b2[1], b2[2]) == (
                ErrorNumber.INTERNAL_ERROR,
                ErrorDomain.RPC,
                "internal error: connection already open",
            )
    serving(d)


def test_connect_close_closes_the_socket(make_daemon):
    d = make_daemon()
    with socket.create_connection(("127.0.0.1", d.port)) as sock:
        # open read-only, close, then try to open read-write on the same socket
        sock.sendall(_frame(1, 1, [None, 1]) + _frame(2, 2, None) + _frame(1, 3, [None, 0]))
        frames = _read_frames(sock, 3)
        assert [(h[4], h[5]) for h, _ in frames] == [(1, 0), (2, 0)]
        assert _eof(sock)
    serving(d)


def test_plain_tcp_beyond_loopback_needs_insecure_tcp(tmp_path):
    run = [sys.executable, "-m", "minivirt.daemon", "--uri", "test:///default"]
    refused = subprocess.run(
        [*run, "--listen", "0.0.0.0:0"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1
    assert "refusing plain TCP on 0.0.0.0" in refused.stderr
    assert "--insecure-tcp" in refused.stderr
    d = DaemonProcess(tmp_path, "--listen", "0.0.0.0:0", "--insecure-tcp")
    try:
        serving(d)
        assert "plain, unauthenticated TCP on 0.0.0.0" in d.log_path.read_text()
    finally:
        d.stop()


def test_server_answers_ping_and_drops_a_silent_keepalive_client(make_daemon):
    d = make_daemon(config="keepalive_interval = 1\nkeepalive_count = 2\n")
    with socket.create_connection(("127.0.0.1", d.port)) as sock:
        sock.sendall(_frame(1, 1, [None, 0]) + _frame(1, 0, None, prog=KEEP, mtype=2))
        frames = _read_frames(sock, 2)
        assert frames[0][0][5] == 0  # the open
        assert frames[1][0][:3] == (KEEP, 1, 2)  # PONG
        # now silent: PINGs, then the daemon gives up
        pings = _read_frames(sock, 10)
        assert [h[:3] for h, _ in pings] == [(KEEP, 1, 1), (KEEP, 1, 1)]
    assert "No response from client" in d.log_path.read_text()
    serving(d)


def test_client_keepalive_detects_a_silent_server():
    """A 'server' that accepts and never answers: calls fail with libvirt's error."""
    from minivirt.remote.protocol.procedures import Procedure
    from minivirt.remote.rpcclient import RPCClient

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client_sock = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
        rpc = RPCClient(client_sock, lambda msg: None)
        try:
            rpc.start_keepalive(1, 2)
            with pytest.raises(VirError) as info:
                rpc.call(Procedure.CONNECT_GET_TYPE, None)
            assert (info.value.code, info.value.domain, info.value.message) == (
                ErrorNumber.INTERNAL_ERROR,
                ErrorDomain.RPC,
                "internal error: connection closed due to keepalive timeout",
            )
            received = b""
            peer.settimeout(5)
            while chunk := peer.recv(65536):
                received += chunk
            assert received.count(struct.pack(">I", KEEP)) == 3  # first PING, then 2
        finally:
            rpc.close()
            peer.close()


def test_client_keepalive_keeps_a_quiet_connection(make_daemon):
    d = make_daemon(config="keepalive_interval = 1\nkeepalive_count = 1\n")
    conn = core.open(d.url())
    try:
        assert core.connect_set_keep_alive(conn, 1, 1) == 0
        import time

        time.sleep(3.5)  # several intervals of silence from the application
        assert conn.is_alive()
        assert conn.get_type() == "TEST"
    finally:
        conn.close()


def test_set_keep_alive_on_a_local_driver_is_unsupported():
    conn = core.open("test:///default")
    with pytest.raises(VirError) as info:
        core.connect_set_keep_alive(conn, 5, 5)
    assert info.value.code == ErrorNumber.NO_SUPPORT
    conn.close()


def _fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_thousand_clients_killed_while_registered_for_events(make_daemon):
    """Clients vanish (RST, as a SIGKILLed process's sockets) with registrations: nothing leaks."""
    d = make_daemon()

    def batch(n):
        socks = []
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", d.port))
            sock.sendall(_frame(1, 1, [None, 0]) + _frame(167, 2, [0]) + _frame(167, 3, [5]))
            # opened and registered (LIFECYCLE, BLOCK_JOB) before the next one
            assert [h[5] for h, _ in _read_frames(sock, 3)] == [0, 0, 0]
            socks.append(sock)
        for sock in socks:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

    batch(100)  # warm-up: the pool's threads, caches
    serving(d)
    rss, fds = _rss_kib(d.proc.pid), _fds(d.proc.pid)
    for _ in range(9):
        batch(100)
    killed = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time, minivirt.wiring\n"
                "from minivirt import core\n"
                "core.event_register_default_impl()\n"
                "c = core.open(sys.argv[1])\n"
                "c.domain_event_register_any(None, 0, lambda *a: None)\n"
                "print('registered', flush=True)\n"
                "time.sleep(600)\n",
                d.url(),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
    for proc in killed:
        assert proc.stdout.readline() == "registered\n"
        proc.kill()
        proc.wait()
        proc.stdout.close()
    conn = core.open(d.url())  # the events of the dead clients' registrations go nowhere
    dom = conn.lookup_by_name("test")
    dom.block_pull("vda", 1)
    dom.block_job_abort("vda")
    conn.close()
    import time

    for _ in range(100):  # connection_lost and the cleanups have run
        if _fds(d.proc.pid) <= fds:
            break
        time.sleep(0.1)
    assert _fds(d.proc.pid) <= fds  # flat: no descriptor left behind (one may close late)
    assert _rss_kib(d.proc.pid) - rss < 8 * 1024  # KiB
    assert "Traceback" not in d.log_path.read_text()
