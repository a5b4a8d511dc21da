"""QEMU processes: command line, spawning, killing, monitor sockets, status files.

This module owns everything the driver does to the host for one QEMU: the
command line built from a :class:`DomainDef`, the pre-bound QMP listening
socket handed to QEMU as a file descriptor, the per-domain log file that
receives QEMU's stdout/stderr, SIGTERM-then-SIGKILL and reaping, the JSON
status file of a running domain, and ``qemu-img info`` for backing chains.
It must not speak QMP, hold domain state or emit events.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from typing import Final

from minivirt.conf import DiskDef, DomainDef, disk_alias
from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.qemu.qmpreply import BlockChainEntry, chain_from_qemu_img

__all__ = [
    "DEFAULT_EMULATOR",
    "build_command",
    "connect_unix",
    "drive_id",
    "emulator_path",
    "emulator_version",
    "image_chain",
    "kill_process",
    "kvm_usable",
    "listen_unix",
    "log_tail",
    "pid_alive",
    "read_status",
    "remove_status",
    "spawn",
    "write_status",
]

DEFAULT_EMULATOR: Final[str] = "qemu-system-x86_64"
_KVM_GET_API_VERSION: Final[int] = 0xAE00
_SUN_PATH_MAX: Final[int] = 107
_version_cache: dict[str, int] = {}


def drive_id(disk: DiskDef) -> str:
    """The ``-drive`` id (QMP ``device``) of a disk: ``drive-`` + its alias."""
    return f"drive-{disk_alias(disk)}"


def kvm_usable() -> bool:
    """True when /dev/kvm can be opened read-write and answers KVM_GET_API_VERSION."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, _KVM_GET_API_VERSION) == 12
    except OSError:
        return False
    finally:
        os.close(fd)


def emulator_path(defn: DomainDef) -> str:
    """The emulator binary; OPERATION_FAILED "Cannot find QEMU binary %s" when absent."""
    wanted = defn.emulator or DEFAULT_EMULATOR
    found = wanted if os.path.isabs(wanted) and os.access(wanted, os.X_OK) else None
    if found is None and not os.path.isabs(wanted):
        found = shutil.which(wanted)
    if found is None:
        raise VirError.report(
            ErrorNumber.OPERATION_FAILED,
            ErrorDomain.QEMU,
            f"Cannot find QEMU binary {wanted}: No such file or directory",
        )
    return found


def emulator_version(binary: str = DEFAULT_EMULATOR) -> int:
    """major*1000000 + minor*1000 + micro of ``binary --version`` (0 when unknown)."""
    if binary in _version_cache:
        return _version_cache[binary]
    version = 0
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        words = out.split()
        text = words[words.index("version") + 1] if "version" in words else ""
        parts = [int(p) for p in text.split("-")[0].split(".")[:3]]
        while len(parts) < 3:
            parts.append(0)
        version = parts[0] * 1_000_000 + parts[1] * 1000 + parts[2]
    except (OSError, ValueError, subprocess.SubprocessError):
        version = 0
    _version_cache[binary] = version
    return version


def _opt(value: str) -> str:
    """Escape a value for QEMU's option syntax (commas are doubled)."""
    return value.replace(",", ",,")


def build_command(defn: DomainDef, binary: str, monitor_fd: int, kvm: bool) -> list[str]:
    """The QEMU command line: paused (-S), no graphics, QMP on ``monitor_fd``, one drive per disk.

    Raises VirError CONFIG_UNSUPPORTED for a disk bus other than virtio.
    """
    cmd = [
        binary,
        "-name",
        f"guest={_opt(defn.name)},debug-threads=on",
        "-uuid",
        defn.uuid,
        "-machine",
        f"pc,accel={'kvm' if kvm else 'tcg'},usb=off",
        "-m",
        f"size={max(1, defn.memory_kib // 1024)}M",
        "-smp",
        str(defn.vcpus),
        "-no-user-config",
        "-nodefaults",
        "-display",
        "none",
        "-chardev",
        f"socket,id=charmonitor,fd={monitor_fd},server=on,wait=off",
        "-mon",
        "chardev=charmonitor,id=monitor,mode=control",
        "-S",
    ]
    for disk in defn.disks:
        if disk.bus != "virtio":
            raise VirError.report(
                ErrorNumber.CONFIG_UNSUPPORTED,
                ErrorDomain.QEMU,
                f"disk bus '{disk.bus}' is not supported by minivirt's qemu driver",
            )
        drive = f"file={_opt(disk.source)},format={disk.format},if=none,id={drive_id(disk)}"
        if disk.readonly:
            drive += ",readonly=on"
        if disk.copy_on_read is not None:
            drive += f",copy-on-read={disk.copy_on_read}"
        cmd += ["-drive", drive]
        cmd += ["-device", f"virtio-blk-pci,drive={drive_id(disk)},id={disk_alias(disk)}"]
    return cmd


@contextlib.contextmanager
def _short_path(path: str) -> Iterator[str]:
    """``path`` itself, or an alias through /proc/self/fd when it is too long for sun_path."""
    if len(path.encode()) <= _SUN_PATH_MAX:
        yield path
        return
    dirfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{dirfd}/{os.path.basename(path)}"
    finally:
        os.close(dirfd)


def listen_unix(path: str) -> socket.socket:
    """A listening unix socket bound at ``path`` (a stale socket file is replaced)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _short_path(path) as short:
            sock.bind(short)
        sock.listen(4)
    except OSError:
        sock.close()
        raise
    return sock


def connect_unix(path: str) -> socket.socket:
    """A unix socket connected to ``path`` (blocking; long paths are handled)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _short_path(path) as short:
            sock.connect(short)
    except OSError:
        sock.close()
        raise
    return sock


def spawn(
    cmd: list[str],
    log_path: str,
    pass_fd: int,
    user: tuple[int, int, tuple[int, ...]] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start QEMU in its own session with stdout/stderr appended to ``log_path``.

    ``user`` (uid, gid, supplementary groups) runs QEMU as that user; None
    as the caller.  Returns the process and the log offset where QEMU's own
    output starts.
    Raises VirError OPERATION_FAILED when the binary cannot be executed.
    """
    with open(log_path, "ab") as log:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        log.write(f"{stamp}+0000: starting up\n{shlex.join(cmd)}\n".encode())
        log.flush()
        offset = log.tell()
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(pass_fd,),
                start_new_session=True,
                user=None if user is None else user[0],
                group=None if user is None else user[1],
                extra_groups=None if user is None else list(user[2]),
            )
        except OSError as exc:
            raise VirError.report(
                ErrorNumber.OPERATION_FAILED,
                ErrorDomain.QEMU,
                f"failed to execute {cmd[0]}: {exc.strerror}",
            ) from exc
    return proc, offset


def kill_process(proc: subprocess.Popen[bytes] | None, pid: int, graceful: bool = False) -> bool:
    """SIGTERM, then SIGKILL after a grace period (unless ``graceful``); reap our children.

    Returns True when the process is gone.
    """
    if proc is not None:
        if proc.poll() is not None:
            return True
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5.0)
            return True
        except subprocess.TimeoutExpired:
            if graceful:
                return False
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        return True
    if pid <= 0:
        return True
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        for _ in range(100):  # not our child: wait up to 5 s for it to go
            if not pid_alive(pid):
                return True
            time.sleep(0.05)
        if graceful:
            return False
    return not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """True while a process ``pid`` exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def log_tail(log_path: str, offset: int, limit: int = 2048) -> str:
    """What QEMU wrote to its log since ``offset`` (at most ``limit`` bytes), stripped."""
    try:
        with open(log_path, "rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(offset, size - limit))
            return log.read().decode(errors="replace").strip()
    except OSError:
        return ""


def write_status(path: str, status: Mapping[str, object]) -> None:
    """Write a running domain's status file atomically (JSON)."""
    tmp = f"{path}.new"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(status, out, indent=1, sort_keys=True)
    os.replace(tmp, path)


def read_status(path: str) -> dict[str, object] | None:
    """A status file's content, or None when it is absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as src:
            data = json.load(src)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remove_status(path: str) -> None:
    """Delete a status file if present."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def image_chain(path: str, fmt: str | None = None) -> tuple[BlockChainEntry, ...]:
    """The backing chain of an image (top first) from ``qemu-img info -U --backing-chain``.

    Returns () when the image cannot be read (inactive domains' XML then shows
    no backing information); raises nothing.
    """
    cmd = ["qemu-img", "info", "-U", "--backing-chain", "--output=json"]
    if fmt:
        cmd += ["-f", fmt]
    try:
        result = subprocess.run(
            [*cmd, path], capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            return ()
        data = json.loads(result.stdout)
        return chain_from_qemu_img(data if isinstance(data, list) else [data])
    except (OSError, ValueError, subprocess.SubprocessError, VirError):
        return ()
