"""A private, real libvirtd 9.0 for side-by-side runs (`make conformance`, `make bench`).

Owns: installing Debian's libvirt when it is missing (root only), creating the
``libvirt-qemu`` user and group that libvirt's QEMU driver insists on, and one
libvirtd process with no systemd whose every file lives in a scratch
directory.  libvirtd running as root reads its QEMU settings from
``/etc/libvirt`` and keeps state in ``/var/lib/libvirt`` and ``/run/libvirt``
with no way to move them, so it is started in a mount namespace of its own
(``unshare -m``) where scratch directories are bind-mounted over those paths:
the host's directories are never written.  It listens on a free loopback TCP
port (``auth_tcp = "none"``) and on a unix socket in the scratch directory;
QEMU runs as root.  Stopping sends SIGTERM to that libvirtd (by its pid), then
kills every QEMU it started (found by the pid files in its runtime dir), also
when the caller fails or is interrupted.

Must not: touch the host's libvirt configuration or state, or leave a process
behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

__all__ = [
    "PACKAGES",
    "PrivateLibvirtd",
    "ensure_installed",
    "ensure_qemu_user",
    "free_port",
    "kill_pids",
    "system_python",
    "terminate",
]

#: Debian's packages for a libvirtd with the QEMU driver, virsh and libvirt-python.
PACKAGES = ("libvirt-daemon", "libvirt-daemon-driver-qemu", "libvirt-clients", "python3-libvirt")

LIBVIRTD = "/usr/sbin/libvirtd"
VIRSH = "/usr/bin/virsh"

#: The paths a root libvirtd uses for its QEMU driver, each replaced by a scratch dir.
_MOUNTS = (
    "/etc/libvirt",
    "/var/lib/libvirt",
    "/run/libvirt",
    "/var/cache/libvirt",
    "/var/log/libvirt",
)


def system_python() -> str:
    """The interpreter that has Debian's ``libvirt`` module (python3-libvirt)."""
    return "/usr/bin/python3"


def _has_libvirt() -> bool:
    if not (os.path.exists(LIBVIRTD) and os.path.exists(VIRSH)):
        return False
    probe = subprocess.run(
        [system_python(), "-c", "import libvirt, libvirt_qemu"], capture_output=True
    )
    driver = Path("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so")
    drivers = list(Path("/usr/lib").glob("*/libvirt/connection-driver/libvirt_driver_qemu.so"))
    return probe.returncode == 0 and (driver.exists() or bool(drivers))


def ensure_installed() -> None:
    """Install Debian's libvirt (``apt-get update`` first) when it is missing; root only."""
    if _has_libvirt():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(
            "libvirt is missing; install it with:\n"
            "    sudo apt-get install --no-install-recommends " + " ".join(PACKAGES)
        )
    print("minivirt: installing " + " ".join(PACKAGES) + " with apt-get", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def ensure_qemu_user() -> None:
    """Create the ``libvirt-qemu`` system group and user when absent.

    libvirt's QEMU driver resolves its compiled-in default user at start-up
    even when qemu.conf says root, and refuses to load without it.
    """

    def missing(db: str) -> bool:
        return bool(subprocess.run(["getent", db, "libvirt-qemu"], capture_output=True).returncode)

    # Another run (make bench, a second make conformance) may create them at the
    # same moment: a failed add is an error only if the entry is still missing.
    if missing("group"):
        subprocess.run(["groupadd", "--system", "libvirt-qemu"], capture_output=True)
        if missing("group"):
            raise RuntimeError("cannot create the libvirt-qemu group")
    if missing("passwd"):
        subprocess.run(
            [
                "useradd",
                "--system",
                "--gid",
                "libvirt-qemu",
                "--no-create-home",
                "--home-dir",
                "/var/lib/libvirt",
                "--shell",
                "/usr/sbin/nologin",
                "libvirt-qemu",
            ],
            capture_output=True,
        )
        if missing("passwd"):
            raise RuntimeError("cannot create the libvirt-qemu user")


def terminate(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM a daemon we started, SIGKILL after ``grace`` seconds, and reap it."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def kill_pids(pids: list[int]) -> None:
    """SIGKILL each process (QEMUs a daemon left behind); gone ones are skipped."""
    for pid in set(pids):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _libvirtd_conf(port: int, sock_dir: Path) -> str:
    return (
        "listen_tls = 0\n"
        "listen_tcp = 1\n"
        f'tcp_port = "{port}"\n'
        'listen_addr = "127.0.0.1"\n'
        'auth_tcp = "none"\n'
        'auth_unix_rw = "none"\n'
        'auth_unix_ro = "none"\n'
        f'unix_sock_dir = "{sock_dir}"\n'
        'unix_sock_rw_perms = "0700"\n'
        "log_level = 3\n"
        f'log_outputs = "3:file:{sock_dir.parent}/libvirtd.log"\n'
    )


_QEMU_CONF = (
    'user = "+0"\n'
    'group = "+0"\n'
    'security_driver = "none"\n'
    "dynamic_ownership = 0\n"
    "remember_owner = 0\n"
    'stdio_handler = "file"\n'
    "set_process_name = 0\n"
)


class PrivateLibvirtd:
    """One private libvirtd; use as a context manager.

    ``tcp_uri`` (``qemu+tcp://127.0.0.1:PORT/system``) and ``unix_uri``
    (``qemu+unix:///system?socket=…``) reach it; ``pid`` is its process.
    """

    def __init__(self, scratch: Path | None = None) -> None:
        self._own_scratch = scratch is None
        self.scratch = Path(scratch or tempfile.mkdtemp(prefix="minivirt-libvirtd-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def tcp_uri(self) -> str:
        return f"qemu+tcp://127.0.0.1:{self.port}/system"

    @property
    def socket_path(self) -> Path:
        return self.scratch / "sock" / "libvirt-sock"

    @property
    def unix_uri(self) -> str:
        return f"qemu+unix:///system?socket={self.socket_path}"

    @property
    def log_path(self) -> Path:
        return self.scratch / "libvirtd.log"

    def _dir(self, mount: str) -> Path:
        return self.scratch / "root" / mount.strip("/").replace("/", "_")

    def start(self, timeout: float = 30.0) -> None:
        """Start libvirtd and wait until its TCP and unix sockets answer."""
        ensure_installed()
        ensure_qemu_user()
        sock_dir = self.scratch / "sock"
        sock_dir.mkdir(parents=True, exist_ok=True)
        binds = []
        for mount in _MOUNTS:
            Path(mount).mkdir(parents=True, exist_ok=True)
            target = self._dir(mount)
            target.mkdir(parents=True, exist_ok=True)
            binds.append(f"mount --bind {target} {mount}")
        etc = self._dir("/etc/libvirt")
        (etc / "libvirtd.conf").write_text(_libvirtd_conf(self.port, sock_dir))
        (etc / "qemu.conf").write_text(_QEMU_CONF)
        (etc / "libvirt.conf").write_text("")
        script = " && ".join(
            [
                *binds,
                f"exec {LIBVIRTD} --listen -f /etc/libvirt/libvirtd.conf"
                f" -p {self.scratch}/libvirtd.pid",
            ]
        )
        log = open(self.scratch / "libvirtd.stderr", "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "libvirtd exited at start-up: "
                    + (self.scratch / "libvirtd.stderr").read_text(errors="replace")
                )
            if self.socket_path.exists() and self._tcp_answers():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("libvirtd did not start listening in time")

    def _tcp_answers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def qemu_pids(self) -> list[int]:
        """Pids of the QEMU processes this libvirtd started (its pid files)."""
        pids = []
        for pidfile in (self._dir("/run/libvirt") / "qemu").glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                pids.append(int(pidfile.read_text().strip()))
        return pids

    def stop(self) -> None:
        """SIGTERM libvirtd (SIGKILL after 10 s), then kill every QEMU it started."""
        qemus = self.qemu_pids()
        terminate(self.proc)
        kill_pids(qemus + self.qemu_pids())
        if self._own_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> PrivateLibvirtd:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def running(scratch: Path | None = None) -> Iterator[PrivateLibvirtd]:
    """A started :class:`PrivateLibvirtd`, stopped on exit (SIGINT/SIGTERM included)."""
    daemon = PrivateLibvirtd(scratch)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    if sys.argv[1:] == ["--install"]:
        # `make deps`: the tests compare with the real libvirt-python, so it is needed
        # before pytest runs, not only for `make conformance`.
        ensure_installed()
        sys.exit(0)
    # Start one and print its URIs, for trying things by hand; Ctrl-C stops it.
    with running() as lv:
        print(f"libvirtd pid {lv.pid}\n  {lv.tcp_uri}\n  {lv.unix_uri}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
