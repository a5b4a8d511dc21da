"""The backing-chain check a start makes before QEMU runs (libvirt's qemuDomainDetermineDiskChain).

Owns: walking each disk's chain of images on disk — reading the backing file
name and format out of qcow2 and qed headers, resolving relative names against
the image's directory — and the errors libvirt 9.0 gives, before any QEMU is
started, for a chain that cannot work:

* a missing image: ``SYSTEM_ERROR`` (38), domain ``STORAGE`` (18), "Cannot
  access storage file '<path>' (as uid:<uid>, gid:<gid>): <strerror>", or for
  a missing backing file "Cannot access backing file '<backing>' of storage
  file '<image>' (as uid:…, gid:…): <strerror>"; for a raw disk libvirt says
  "Cannot access storage file '<path>': <strerror>" (no uid/gid); ``int1`` is
  the errno;
* a qcow2/qed disk that is a directory: ``SYSTEM_ERROR`` (38), ``STORAGE``,
  "cannot read header '<path>': Is a directory" (``int1`` EISDIR);
* a backing file that is a directory: ``CONFIG_UNSUPPORTED`` (67), domain
  ``QEMU`` (10), "unsupported configuration: storage type 'dir' requires use
  of storage format 'fat'";
* an image backed by itself, a cycle of any length, or a chain deeper than
  libvirt's 200 images: ``INTERNAL_ERROR`` (1), ``STORAGE``, "internal error:
  backing store for <path> is self-referential or too deeply nested", naming
  the image found at depth 200 (libvirt counts, it does not remember).

Must not: write anything, start anything, or judge what QEMU itself reports
(a raw directory, a bad qcow2 body): those stay QEMU's errors at start.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterable
from typing import Final

from minivirt.conf import DiskDef
from minivirt.public import ErrorDomain, ErrorLevel, ErrorNumber, VirError

__all__ = ["MAX_CHAIN_DEPTH", "check_disks", "read_backing"]

#: libvirt's VIR_STORAGE_MAX_CHAIN_DEPTH: the image at this depth is reported.
MAX_CHAIN_DEPTH: Final = 200

_QCOW2_MAGIC: Final = b"QFI\xfb"
_QED_MAGIC: Final = b"QED\x00"
_QCOW2_EXT_BACKING_FORMAT: Final = 0xE2792ACA
_HEADER_READ: Final = 64 * 1024
_MAX_NAME: Final = 4096


def _system_error(domain: ErrorDomain, text: str, err: int) -> VirError:
    message = f"{text}: {os.strerror(err)}"
    return VirError(
        ErrorNumber.SYSTEM_ERROR, domain, message, ErrorLevel.ERROR, "%s", message, None, err
    )


def _who() -> str:
    return f"(as uid:{os.getuid()}, gid:{os.getgid()})"


def _qcow2_backing(head: bytes) -> tuple[int, int, str | None]:
    """(offset, size, format) of the backing name in a qcow2 header."""
    version, offset, size = struct.unpack_from(">IQI", head, 4)
    fmt = None
    if version >= 3 and len(head) >= 104:
        ext = struct.unpack_from(">I", head, 100)[0]  # header_length
    else:
        ext = 72
    while ext + 8 <= len(head):
        kind, length = struct.unpack_from(">II", head, ext)
        if kind == 0:
            break
        if kind == _QCOW2_EXT_BACKING_FORMAT:
            fmt = head[ext + 8 : ext + 8 + length].decode("utf-8", "replace")
        ext += 8 + (length + 7) // 8 * 8
    return offset, size, fmt


def read_backing(path: str, fmt: str) -> tuple[str, str | None] | None:
    """The backing file name (as written in the header) and format of one image, or None.

    Raises OSError when the image cannot be opened or read.  Images of other
    formats than qcow2/qed, and headers that do not carry the format's magic,
    have no backing file as far as this check goes (QEMU judges them).
    """
    if fmt not in ("qcow2", "qed"):
        return None
    with open(path, "rb") as f:
        head = f.read(_HEADER_READ)
    if fmt == "qcow2" and head[:4] == _QCOW2_MAGIC and len(head) >= 72:
        offset, size, backing_fmt = _qcow2_backing(head)
    elif fmt == "qed" and head[:4] == _QED_MAGIC and len(head) >= 64:
        offset, size = struct.unpack_from("<II", head, 56)
        backing_fmt = None
    else:
        return None
    if not offset or not size or size > _MAX_NAME:
        return None
    if offset + size <= len(head):
        raw = head[offset : offset + size]
    else:
        with open(path, "rb") as f:
            f.seek(offset)
            raw = f.read(size)
    return raw.decode("utf-8", "replace"), backing_fmt


def _check_chain(disk: DiskDef) -> None:
    path, fmt, parent = disk.source, disk.format, None
    depth = 0
    while True:
        if depth >= MAX_CHAIN_DEPTH:
            raise VirError.report(
                ErrorNumber.INTERNAL_ERROR,
                ErrorDomain.STORAGE,
                f"backing store for {path} is self-referential or too deeply nested",
            )
        try:
            is_dir = os.path.isdir(path)
            os.stat(path)
        except OSError as exc:
            err = exc.errno or errno.ENOENT
            if parent is not None:
                text = f"Cannot access backing file '{path}' of storage file '{parent}' {_who()}"
            elif fmt == "raw":
                text = f"Cannot access storage file '{path}'"
            else:
                text = f"Cannot access storage file '{path}' {_who()}"
            raise _system_error(ErrorDomain.STORAGE, text, err) from exc
        if is_dir:
            if parent is not None:
                raise VirError.report(
                    ErrorNumber.CONFIG_UNSUPPORTED,
                    ErrorDomain.QEMU,
                    "storage type 'dir' requires use of storage format 'fat'",
                )
            if fmt in ("qcow2", "qed"):
                raise _system_error(
                    ErrorDomain.STORAGE, f"cannot read header '{path}'", errno.EISDIR
                )
            return
        try:
            backing = read_backing(path, fmt)
        except OSError as exc:
            err = exc.errno or errno.EIO
            raise _system_error(ErrorDomain.STORAGE, f"cannot read header '{path}'", err) from exc
        if backing is None:
            return
        name, backing_fmt = backing
        if "://" in name or name.startswith("json:"):
            return  # a network or json: backing store: QEMU's business
        if not backing_fmt:
            return  # an unprobed backing format: QEMU decides (libvirt would not probe either)
        parent, path = path, os.path.join(os.path.dirname(path), name)
        fmt = backing_fmt
        depth += 1


def check_disks(disks: Iterable[DiskDef]) -> None:
    """Mirrors qemuDomainDetermineDiskChain at start: every disk's chain, in order.

    Raises SYSTEM_ERROR / INTERNAL_ERROR (STORAGE) or CONFIG_UNSUPPORTED
    (QEMU) as the module docstring lists; returns None when every chain is
    readable to its end.
    """
    for disk in disks:
        if disk.device == "disk":
            _check_chain(disk)
