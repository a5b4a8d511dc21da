"""QEMU unprivileged under the DAC security driver, end to end through minivirtd over TCP.

minivirtd serves ``qemu:///system?root=DIR`` (the system driver, state under
DIR): QEMU runs as a dedicated system user, each image of a domain is given
to that user at start and handed back (owner and mode) at stop, and a
completed pull hands back the template at once — checked by opening files
as the QEMU user.  The record of owners survives a daemon restart.  Needs
root (the suite runs as root in CI).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import stat
import subprocess
import tempfile

import pytest

import minivirt.wiring  # noqa: F401
from minivirt import core
from minivirt.public import (
    DomainBlockJobStatus,
    DomainEventID,
    ErrorDomain,
    ErrorNumber,
    VirError,
)
from tests.daemon.daemon_process import DaemonProcess
from tests.integration.conftest import _kill_leftovers, run

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(os.geteuid() != 0, reason="the DAC driver changes owners: needs root"),
]

USER = "minivirt-qemu"


def owner(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def opens_as(path: str, uid: int, gid: int, write: bool = False) -> bool:
    """Whether a process running as uid:gid (no other groups) can open ``path``.

    The shell opens it for reading (``<``) or appending (``>>``, nothing written).
    """
    redirect = ">>" if write else "<"
    done = subprocess.run(
        ["/bin/sh", "-c", f'exec 3{redirect}"$1"', "sh", path],
        user=uid,
        group=gid,
        extra_groups=[],
        cwd="/",
        capture_output=True,
    )
    return done.returncode == 0


@pytest.fixture
def images_dir():
    """A world-searchable directory (QEMU's user must reach the images; owners never change)."""
    path = tempfile.mkdtemp(prefix="minivirt-dac-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def system_root(tmp_path):
    root = str(tmp_path / "system")
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "etc", "qemu.conf"), "w") as conf:
        conf.write(f'# the QEMU user of this test driver\nuser = "{USER}"\ngroup = "{USER}"\n')
    yield root
    _kill_leftovers(root)


def make_chain(directory: str) -> tuple[str, str]:
    template = os.path.join(directory, "template.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", template, "16M")
    run("qemu-io", "-f", "qcow2", "-c", "write -q -P 0x5a 0 16M", template)
    top = os.path.join(directory, "disk.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", template, "-F", "qcow2", top)
    os.chmod(template, 0o600)  # only root reads the template...
    os.chmod(top, 0o640)
    return template, top


def _yaml(top: str) -> str:
    return (
        f"name: guest\nmemory: 64\ndisks:\n  - {{target: vda, source: '{top}', copy_on_read: on}}\n"
    )


def qemu_pid(root: str) -> int:
    with open(os.path.join(root, "run", "qemu", "guest.json")) as src:
        return int(json.load(src)["pid"])


def _subdir(tmp_path, name: str):
    path = tmp_path / name
    path.mkdir()
    return path


def _connect(daemon: DaemonProcess) -> core.Connection:
    return core.open(daemon.url("qemu", "/system"))


def test_images_lent_then_template_revoked_after_pull(
    tmp_path, system_root, images_dir, event_loop
):
    template, top = make_chain(images_dir)
    before = {p: owner(p) for p in (template, top)}
    daemon = DaemonProcess(tmp_path, uri=f"qemu:///system?root={system_root}")
    try:
        conn = _connect(daemon)
        import pwd

        qemu = pwd.getpwnam(USER)  # created by the driver when missing
        uid, gid = qemu.pw_uid, qemu.pw_gid
        got: queue.Queue = queue.Queue()
        conn.domain_event_register_any(
            None, DomainEventID.BLOCK_JOB, lambda c, d, disk, t, s, o: got.put(s)
        )
        dom = conn.define_xml(_yaml(top))
        assert not opens_as(template, uid, gid)  # nothing lent before start
        dom.create()
        with open(f"/proc/{qemu_pid(system_root)}/status") as status:
            uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
        assert set(map(int, uids)) == {uid}  # QEMU runs as the QEMU user
        for path in (template, top):
            assert owner(path)[:2] == (uid, gid)
            assert owner(path)[2] == before[path][2]  # the mode is left alone
        assert opens_as(template, uid, gid) and opens_as(top, uid, gid, write=True)

        dom.block_pull("vda", 0)
        assert got.get(timeout=90) == DomainBlockJobStatus.COMPLETED
        # the template was handed back at once: the QEMU user cannot open it any more
        assert owner(template) == before[template]
        assert not opens_as(template, uid, gid)
        assert owner(top)[:2] == (uid, gid) and template not in dom.get_xml_desc()
        assert dom.qemu_monitor_command("info status", 1) == "VM status: running\r\n"

        dom.destroy()
        assert owner(top) == before[top] and owner(template) == before[template]
        assert not opens_as(top, uid, gid)
        conn.close()
    finally:
        assert daemon.stop() == 0
    assert subprocess.run(["qemu-img", "compare", "-U", top, template]).returncode == 0


def test_owners_come_back_after_a_daemon_restart(tmp_path, system_root, images_dir, event_loop):
    template, top = make_chain(images_dir)
    before = {p: owner(p) for p in (template, top)}
    uri = f"qemu:///system?root={system_root}"
    first = DaemonProcess(_subdir(tmp_path, "a"), uri=uri)
    try:
        conn = _connect(first)
        conn.define_xml(_yaml(top)).create()
        conn.close()
    finally:
        assert first.stop() == 0
    lent = owner(top)[:2]
    assert lent != before[top][:2]  # QEMU outlived the daemon and still holds the images
    second = DaemonProcess(_subdir(tmp_path, "b"), uri=uri)
    try:
        conn = _connect(second)
        dom = conn.lookup_by_name("guest")
        assert dom.is_active()  # taken back from its status file
        dom.destroy()
        assert {p: owner(p) for p in (template, top)} == before
        # started again, then QEMU dies while no daemon runs
        dom.create()
        conn.close()
    finally:
        assert second.stop() == 0
    assert owner(top)[:2] == lent
    os.kill(qemu_pid(system_root), 9)
    third = DaemonProcess(_subdir(tmp_path, "c"), uri=uri)
    try:
        conn = _connect(third)
        assert not conn.lookup_by_name("guest").is_active()
        assert {p: owner(p) for p in (template, top)} == before  # given back at start-up
        conn.close()
    finally:
        assert third.stop() == 0


def test_start_refused_before_any_image_is_given(tmp_path, system_root, images_dir, event_loop):
    # libvirt checks every disk's chain (qemuDomainDetermineDiskChain) before the
    # security driver labels anything: an image it cannot reach refuses the start
    # with the storage error, and no image changes owner.  The refusal of the DAC
    # driver itself is tests/qemu/test_security.py::test_a_failed_lend_changes_nothing.
    template, top = make_chain(images_dir)
    before = {p: owner(p) for p in (template, top)}
    loop = os.path.join(images_dir, "loop.img")
    os.symlink(loop, loop)  # ELOOP for every access
    daemon = DaemonProcess(tmp_path, uri=f"qemu:///system?root={system_root}")
    try:
        conn = _connect(daemon)
        dom = conn.define_xml(
            "name: guest\nmemory: 64\ndisks:\n"
            f"  - {{target: vda, source: '{top}'}}\n"
            f"  - {{target: vdb, source: '{loop}', format: raw}}\n"
        )
        with pytest.raises(VirError) as exc:
            dom.create()
        assert (exc.value.code, exc.value.domain, exc.value.message) == (
            ErrorNumber.SYSTEM_ERROR,
            ErrorDomain.STORAGE,
            f"Cannot access storage file '{loop}': Too many levels of symbolic links",
        )
        assert not dom.is_active()
        assert {p: owner(p) for p in (template, top)} == before  # vda's images given back
        assert not os.path.exists(os.path.join(system_root, "run", "qemu", "guest.json"))
        conn.close()
    finally:
        assert daemon.stop() == 0
