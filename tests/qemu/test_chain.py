"""The backing-chain check before start (qemu/chain.py) on real images made by qemu-img.

Expected codes, domains and texts are what libvirt 9.0's qemu driver reports
at start for the same images (reproduced with a private libvirtd and
python3-libvirt): its storage file checks in virStorageSourceGetMetadata.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess

import pytest

from minivirt.conf import DiskDef
from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.qemu.chain import MAX_CHAIN_DEPTH, check_disks, read_backing

WHO = f"(as uid:{os.getuid()}, gid:{os.getgid()})"


def qimg(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def image(path, backing=None, fmt="qcow2", backing_fmt="qcow2"):
    qimg("create", "-q", "-f", fmt, str(path), "16M")
    if backing is not None:
        qimg("rebase", "-u", "-f", fmt, "-b", str(backing), "-F", backing_fmt, str(path))
    return str(path)


def digest(directory) -> dict[str, str]:
    return {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
        for name in sorted(os.listdir(directory))
        if (directory / name).is_file()
    }


def failure(path, fmt="qcow2") -> VirError:
    with pytest.raises(VirError) as exc:
        check_disks([DiskDef("vda", path, fmt)])
    return exc.value


def test_good_chain_passes_and_reads_backing(tmp_path):
    base = image(tmp_path / "base.qcow2")
    raw = tmp_path / "raw.img"
    raw.write_bytes(b"\0" * 65536)
    mid = image(tmp_path / "mid.qcow2", base)
    top = tmp_path / "top.qcow2"
    qimg("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", str(top))
    assert read_backing(str(top), "qcow2") == ("mid.qcow2", "qcow2")
    assert read_backing(mid, "qcow2") == (base, "qcow2")
    assert read_backing(base, "qcow2") is None
    assert read_backing(str(raw), "raw") is None
    check_disks([DiskDef("vda", str(top)), DiskDef("vdb", str(raw), "raw")])
    on_raw = image(tmp_path / "onraw.qcow2", raw, backing_fmt="raw")
    check_disks([DiskDef("vda", on_raw)])


def test_missing_disk(tmp_path):
    path = str(tmp_path / "nope.qcow2")
    err = failure(path)
    assert (err.code, err.domain, err.int1) == (ErrorNumber.SYSTEM_ERROR, ErrorDomain.STORAGE, 2)
    assert err.message == f"Cannot access storage file '{path}' {WHO}: No such file or directory"
    assert err.str1 == "%s"


def test_missing_raw_disk_has_no_uid(tmp_path):
    path = str(tmp_path / "nope.img")
    err = failure(path, "raw")
    assert (err.code, err.domain) == (ErrorNumber.SYSTEM_ERROR, ErrorDomain.STORAGE)
    assert err.message == f"Cannot access storage file '{path}': No such file or directory"


def test_missing_backing_file(tmp_path):
    gone = str(tmp_path / "gone.qcow2")
    top = tmp_path / "orphan.qcow2"
    qimg("create", "-q", "-f", "qcow2", "-u", "-b", gone, "-F", "qcow2", str(top), "16M")
    err = failure(str(top))
    assert (err.code, err.domain, err.int1) == (ErrorNumber.SYSTEM_ERROR, ErrorDomain.STORAGE, 2)
    assert err.message == (
        f"Cannot access backing file '{gone}' of storage file '{top}' {WHO}: "
        "No such file or directory"
    )


def test_self_backed_image(tmp_path):
    path = image(tmp_path / "self.qcow2")
    image_self = path
    qimg("rebase", "-u", "-f", "qcow2", "-b", image_self, "-F", "qcow2", path)
    before = digest(tmp_path)
    err = failure(path)
    assert (err.code, err.domain) == (ErrorNumber.INTERNAL_ERROR, ErrorDomain.STORAGE)
    assert err.message == (
        f"internal error: backing store for {path} is self-referential or too deeply nested"
    )
    assert err.str1 == "internal error: %s"
    assert digest(tmp_path) == before


@pytest.mark.parametrize(("length", "top_first"), [(2, True), (3, True), (2, False)])
def test_cycles_name_the_image_at_depth_200(tmp_path, length, top_first):
    names = [str(tmp_path / f"c{i}.qcow2") for i in range(length)]
    for name in names:
        image(name)
    for i, name in enumerate(names):
        qimg("rebase", "-u", "-f", "qcow2", "-b", names[(i + 1) % length], "-F", "qcow2", name)
    walk = names if top_first else [image(tmp_path / "top.qcow2", names[0]), *names]
    if top_first:
        expected = names[MAX_CHAIN_DEPTH % length]
    else:  # top, then the cycle from c0: depth d >= 1 is names[(d - 1) % length]
        expected = names[(MAX_CHAIN_DEPTH - 1) % length]
    err = failure(walk[0])
    assert err.code == ErrorNumber.INTERNAL_ERROR and err.domain == ErrorDomain.STORAGE
    assert err.message == (
        f"internal error: backing store for {expected} is self-referential or too deeply nested"
    )


def test_libvirt_reproductions(tmp_path):
    # The rows libvirt 9.0 gave: a cycle a->b->a names a; top->a->b->a names b;
    # x->y->z->x names z.
    a, b = str(tmp_path / "a.qcow2"), str(tmp_path / "b.qcow2")
    image(a), image(b)
    qimg("rebase", "-u", "-f", "qcow2", "-b", b, "-F", "qcow2", a)
    qimg("rebase", "-u", "-f", "qcow2", "-b", a, "-F", "qcow2", b)
    assert f"for {a} is" in failure(a).message
    top = image(tmp_path / "top.qcow2", a)
    assert f"for {b} is" in failure(top).message


def test_directory_as_disk(tmp_path):
    d = tmp_path / "dir.d"
    d.mkdir()
    err = failure(str(d))
    assert (err.code, err.domain, err.int1) == (
        ErrorNumber.SYSTEM_ERROR,
        ErrorDomain.STORAGE,
        errno.EISDIR,
    )
    assert err.message == f"cannot read header '{d}': Is a directory"
    check_disks([DiskDef("vda", str(d), "raw")])  # raw: QEMU's own error at start


def test_directory_as_backing_file(tmp_path):
    d = tmp_path / "dir.d"
    d.mkdir()
    top = tmp_path / "top.qcow2"
    qimg("create", "-q", "-f", "qcow2", "-u", "-b", str(d), "-F", "qcow2", str(top), "16M")
    err = failure(str(top))
    assert (err.code, err.domain) == (ErrorNumber.CONFIG_UNSUPPORTED, ErrorDomain.QEMU)
    assert err.message == (
        "unsupported configuration: storage type 'dir' requires use of storage format 'fat'"
    )


def test_first_broken_disk_wins(tmp_path):
    good = image(tmp_path / "good.qcow2")
    with pytest.raises(VirError) as exc:
        check_disks(
            [DiskDef("vda", good), DiskDef("vdb", str(tmp_path / "x")), DiskDef("vdc", "/nope")]
        )
    err = exc.value
    assert f"'{tmp_path / 'x'}'" in err.message
