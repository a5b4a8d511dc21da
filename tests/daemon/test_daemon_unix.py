"""minivirtd's unix socket: owner-only, stale files replaced, a live daemon's socket never stolen."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys

import minivirt.wiring  # noqa: F401
from minivirt import core
from tests.daemon.daemon_process import DaemonProcess


def test_socket_is_owner_only_and_a_second_daemon_is_refused(tmp_path):
    path = tmp_path / "run" / "sock"
    first = DaemonProcess(tmp_path, "--unix", str(path))
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "minivirt.daemon",
                "--unix",
                str(path),
                "--uri",
                "test:///default",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert f"another daemon is listening on {path}" in second.stderr
        conn = core.open(f"qemu+unix:///system?socket={path}")  # the first one still serves
        assert conn.get_type() == "TEST"
        conn.close()
    finally:
        assert first.stop() == 0


def test_stale_socket_file_is_replaced(tmp_path):
    path = tmp_path / "sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    d = DaemonProcess(tmp_path, "--unix", str(path))
    try:
        conn = core.open(f"qemu:///system?socket={path}")
        assert conn.lookup_by_name("test").name == "test"
        conn.close()
    finally:
        d.stop()
