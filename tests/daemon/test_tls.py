"""qemu+tls: x509 certificates made with openssl; calls and events over TLS."""

from __future__ import annotations

import queue
import shutil
import subprocess

import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.public import DomainEventID, ErrorDomain, ErrorNumber, VirError
from tests.daemon.daemon_process import DaemonProcess

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def make_pki(directory, cn="minivirt test CA", client_days="2", client_subj="/CN=client"):
    """A CA, and server and client certificates for 127.0.0.1 signed by it.

    ``client_days`` "-1" makes an expired client certificate.
    """
    directory.mkdir()

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "cakey.pem",
        "-out",
        "cacert.pem",
        "-days",
        "2",
        "-subj",
        f"/CN={cn}",
    )
    for role in ("server", "client"):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{role}key.pem",
            "-out",
            f"{role}.csr",
            "-subj",
            client_subj if role == "client" else f"/CN={role}",
        )
        (directory / f"{role}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        openssl(
            "x509",
            "-req",
            "-in",
            f"{role}.csr",
            "-CA",
            "cacert.pem",
            "-CAkey",
            "cakey.pem",
            "-CAcreateserial",
            "-out",
            f"{role}cert.pem",
            "-days",
            client_days if role == "client" else "2",
            "-extfile",
            f"{role}.ext",
        )
    return directory


@pytest.fixture
def tls_daemon(tmp_path):
    pki = make_pki(tmp_path / "pki")
    d = DaemonProcess(tmp_path, "--tls-listen", "127.0.0.1:0", "--pki", str(pki))
    d.pki = pki
    yield d
    d.stop()


def test_calls_and_events_over_tls(tls_daemon, event_loop_thread):
    uri = f"qemu+tls://127.0.0.1:{tls_daemon.tls_port}/system?pkipath={tls_daemon.pki}"
    conn = core.open(uri)
    got: queue.Queue = queue.Queue()
    try:
        assert conn.get_type() == "TEST"
        dom = conn.lookup_by_name("test")
        conn.domain_event_register_any(None, DomainEventID.BLOCK_JOB, lambda *a: got.put(a[2:5]))
        dom.block_pull("vda", 1)
        assert dom.get_block_job_info("vda").bandwidth == 1
        dom.block_job_abort("vda")
        assert got.get(timeout=10)[1:] == (1, 2)  # PULL, CANCELED
        with pytest.raises(VirError) as info:
            conn.lookup_by_name("nosuch")
        assert info.value.code == ErrorNumber.NO_DOMAIN
    finally:
        conn.close()


def test_foreign_client_certificate_is_refused(tls_daemon, tmp_path):
    other = make_pki(tmp_path / "other", cn="another CA")
    uri = f"qemu+tls://127.0.0.1:{tls_daemon.tls_port}/system?pkipath={other}&no_verify=1"
    with pytest.raises(VirError) as info:
        conn = core.open(uri)
        conn.get_type()  # TLS 1.3 may report the refusal on the first read
    # refused in the handshake, or (TLS 1.3) on the first read after it
    code, domain, message = info.value.code, info.value.domain, info.value.message
    assert domain == ErrorDomain.RPC
    if code == ErrorNumber.AUTH_FAILED:
        assert message.startswith("authentication failed: TLS handshake failed: ")
    else:
        assert code == ErrorNumber.SYSTEM_ERROR
        eof = "End of file while reading data: Input/output error"
        assert message == eof or message.startswith("Cannot recv data: "), message
    assert "TLS handshake with 127.0.0.1:" in tls_daemon.log_path.read_text()
    conn = core.open(tls_daemon.url())  # the daemon goes on
    assert conn.get_type() == "TEST"
    conn.close()


def test_untrusted_server_is_refused(tls_daemon, tmp_path):
    other = make_pki(tmp_path / "other", cn="another CA")
    uri = f"qemu+tls://127.0.0.1:{tls_daemon.tls_port}/system?pkipath={other}"
    with pytest.raises(VirError) as info:
        core.open(uri)
    assert (info.value.code, info.value.domain) == (ErrorNumber.AUTH_FAILED, ErrorDomain.RPC)
    assert info.value.message.startswith("authentication failed: TLS handshake failed: ")


def test_missing_certificates(tmp_path):
    with pytest.raises(VirError) as info:
        core.open(f"qemu+tls://127.0.0.1:1/system?pkipath={tmp_path}")
    assert (info.value.code, info.value.domain) == (ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC)
    assert info.value.message == (
        f"Cannot read CA certificate '{tmp_path}/cacert.pem': No such file or directory"
    )


def _tls_uri(d, pki):
    return f"qemu+tls://127.0.0.1:{d.tls_port}/system?pkipath={pki}"


def _refused(uri):
    with pytest.raises(VirError) as info:
        conn = core.open(uri)
        conn.get_type()  # TLS 1.3 may report the refusal on the first read
    assert info.value.domain == ErrorDomain.RPC
    assert info.value.code in (ErrorNumber.AUTH_FAILED, ErrorNumber.SYSTEM_ERROR)


def test_expired_client_certificate_is_refused_and_logged(tmp_path):
    pki = make_pki(tmp_path / "pki", client_days="-1")
    d = DaemonProcess(tmp_path, "--tls-listen", "127.0.0.1:0", "--pki", str(pki))
    try:
        _refused(_tls_uri(d, pki))
        log = d.log_path.read_text()
        assert "TLS handshake with 127.0.0.1:" in log  # logged with the peer
        assert "certificate has expired" in log
        conn = core.open(d.url())  # the daemon goes on
        assert conn.get_type() == "TEST"
        conn.close()
    finally:
        d.stop()


def test_tls_allowed_dn_list(tmp_path):
    pki = make_pki(tmp_path / "pki", client_subj="/C=GB/O=minivirt/CN=client")
    config = tmp_path / "minivirtd.conf"
    config.write_text('tls_allowed_dn_list = ["C=GB,O=minivirt,CN=admin*", "C=FR,*"]\n')
    d = DaemonProcess(
        tmp_path, "--tls-listen", "127.0.0.1:0", "--pki", str(pki), "--config", str(config)
    )
    try:
        _refused(_tls_uri(d, pki))
        log = d.log_path.read_text()
        assert "Client 127.0.0.1:" in log
        assert "x509 Distinguished Name 'C=GB,O=minivirt,CN=client' is not on the list" in log
        assert "procedure" not in log  # refused before any procedure ran
    finally:
        d.stop()
    config.write_text('tls_allowed_dn_list = ["C=GB,O=minivirt,CN=cli?nt", "C=FR,*"]\n')
    d = DaemonProcess(
        tmp_path, "--tls-listen", "127.0.0.1:0", "--pki", str(pki), "--config", str(config)
    )
    try:
        conn = core.open(_tls_uri(d, pki))
        assert conn.get_type() == "TEST"
        conn.close()
    finally:
        d.stop()


def test_tls_recv_returns_every_whole_record_at_once(tmp_path):
    """Two records read from the socket together come back from one recv: nothing is
    left decrypted-but-unread where an event loop watching the socket cannot see it."""
    import socket
    import ssl
    import threading

    from minivirt.remote.tls import TLSSocket, client_context, x509_context

    pki = make_pki(tmp_path / "pki")
    server_ctx = x509_context(ssl.Purpose.CLIENT_AUTH, (str(pki / "cacert.pem"),
                              str(pki / "servercert.pem"), str(pki / "serverkey.pem")))  # fmt: skip
    ours, theirs = socket.socketpair()
    done = threading.Event()

    def serve():
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = server_ctx.wrap_bio(incoming, outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                theirs.sendall(outgoing.read())
                incoming.write(theirs.recv(65536))
        theirs.sendall(outgoing.read())
        tls.write(b"first record")
        tls.write(b"second record")
        theirs.sendall(outgoing.read())  # both records in one write
        done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client = TLSSocket(ours, client_context(str(pki)), "127.0.0.1")
        assert done.wait(10)
        assert client.recv(65536) == b"first recordsecond record"
        with pytest.raises(BlockingIOError):  # nothing hides behind them
            client.recv(65536, socket.MSG_DONTWAIT)
    finally:
        thread.join(10)
        ours.close()
        theirs.close()
