"""QEMU command line, monitor sockets with long paths, status files, killing."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from minivirt.conf import DiskDef, DomainDef
from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.qemu import process

UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


def test_command_line():
    defn = DomainDef(
        "g,x",
        UUID,
        memory_kib=131072,
        vcpus=2,
        disks=(
            DiskDef("vda", "/img/a,b.qcow2"),
            DiskDef("vdb", "/img/raw.img", format="raw", readonly=True),
        ),
    )
    cmd = process.build_command(defn, "/usr/bin/qemu-system-x86_64", 9, kvm=False)
    joined = " ".join(cmd)
    assert cmd[0] == "/usr/bin/qemu-system-x86_64"
    assert "-machine pc,accel=tcg,usb=off" in joined
    assert "-m size=128M -smp 2" in joined
    assert "-nodefaults" in cmd and "-S" in cmd and "-display none" in joined
    assert "guest=g,,x" in joined
    assert "socket,id=charmonitor,fd=9,server=on,wait=off" in cmd
    assert ("file=/img/a,,b.qcow2,format=qcow2,if=none,id=drive-virtio-disk0") in cmd
    assert "virtio-blk-pci,drive=drive-virtio-disk0,id=virtio-disk0" in cmd
    assert ("file=/img/raw.img,format=raw,if=none,id=drive-virtio-disk1,readonly=on") in cmd
    assert "accel=kvm" in " ".join(process.build_command(defn, "q", 9, kvm=True))


def test_other_buses_are_refused():
    defn = DomainDef("g", UUID, disks=(DiskDef("sda", "/img/a.qcow2", bus="sata"),))
    with pytest.raises(VirError) as exc:
        process.build_command(defn, "q", 3, kvm=False)
    assert (exc.value.code, exc.value.domain) == (ErrorNumber.CONFIG_UNSUPPORTED, ErrorDomain.QEMU)


def test_missing_emulator():
    defn = DomainDef("g", UUID, emulator="/nonexistent/qemu")
    with pytest.raises(VirError) as exc:
        process.emulator_path(defn)
    assert exc.value.message == (
        "operation failed: Cannot find QEMU binary /nonexistent/qemu: No such file or directory"
    )


def test_long_socket_paths(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = str(deep / "guest.monitor")
    assert len(path) > 108
    listener = process.listen_unix(path)
    accepted: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        accepted.append(conn.recv(5))
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    client = process.connect_unix(path)
    client.sendall(b"hello")
    thread.join(5)
    client.close()
    listener.close()
    assert accepted == [b"hello"]
    assert os.path.exists(path)


def test_status_files(tmp_path):
    path = str(tmp_path / "g.json")
    assert process.read_status(path) is None
    process.write_status(path, {"pid": 3, "jobs": {"vda": {"device": "drive-virtio-disk0"}}})
    assert process.read_status(path) == {
        "pid": 3,
        "jobs": {"vda": {"device": "drive-virtio-disk0"}},
    }
    (tmp_path / "bad.json").write_text("[1")
    assert process.read_status(str(tmp_path / "bad.json")) is None
    process.remove_status(path)
    process.remove_status(path)
    assert not os.path.exists(path)


def test_kill_child_and_stranger():
    child = subprocess.Popen(["sleep", "60"])
    assert process.kill_process(child, child.pid)
    assert child.returncode is not None
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 60"])
    try:
        assert process.pid_alive(stubborn.pid)
        assert process.kill_process(None, stubborn.pid)  # SIGTERM ignored, then SIGKILL
        stubborn.wait(5)
        assert not process.pid_alive(stubborn.pid)
    finally:
        stubborn.kill()
        stubborn.wait()


def test_image_chain(tmp_path):
    base = str(tmp_path / "base.qcow2")
    top = str(tmp_path / "top.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"], check=True)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top],
        check=True,
    )
    chain = process.image_chain(top)
    assert [(e.path, e.format, e.backing_name) for e in chain] == [
        (top, "qcow2", "base.qcow2"),
        (base, "qcow2", None),
    ]
    assert process.image_chain(str(tmp_path / "absent.qcow2")) == ()


def test_log_tail(tmp_path):
    log = str(tmp_path / "g.log")
    with open(log, "w") as out:
        out.write("header\n")
        offset = out.tell()
        out.write("qemu: could not open disk\n")
    assert process.log_tail(log, offset) == "qemu: could not open disk"
    assert process.log_tail(str(tmp_path / "none.log"), 0) == ""


@pytest.mark.parametrize("value", ["on", "off"])
def test_copy_on_read_on_the_drive(value):
    defn = DomainDef(
        "g", UUID, disks=(DiskDef("vda", "/img/a.qed", format="qed", copy_on_read=value),)
    )
    cmd = process.build_command(defn, "q", 9, kvm=False)
    assert f"file=/img/a.qed,format=qed,if=none,id=drive-virtio-disk0,copy-on-read={value}" in cmd


def test_no_copy_on_read_option_when_absent():
    defn = DomainDef("g", UUID, disks=(DiskDef("vda", "/img/a.qcow2"),))
    assert "copy-on-read" not in " ".join(process.build_command(defn, "q", 9, kvm=False))
