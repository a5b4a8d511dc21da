"""Bad disk chains on real QEMU: libvirt 9.0's errors at start, before QEMU runs.

Each definition is accepted (as libvirt accepts it); the start fails with the
code, domain and text libvirt gives, the domain stays shut off (reason
failed), no QEMU process or status file is left, and no image changes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess

import pytest

from minivirt.public import DomainShutoffReason, DomainState, ErrorDomain, ErrorNumber, VirError

WHO = f"(as uid:{os.getuid()}, gid:{os.getgid()})"


def tree_digest(directory: str) -> dict[str, str]:
    out = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
        else:
            out[name] = "dir"
    return out


def rebase(image: str, backing: str) -> None:
    subprocess.run(
        ["qemu-img", "rebase", "-q", "-u", "-f", "qcow2", "-b", backing, "-F", "qcow2", image],
        check=True,
    )


def broken_cases(images):
    missing = images.path("missing.qcow2")
    self_backed = images.base("self.qcow2", 16, data=[])
    rebase(self_backed, self_backed)
    a = images.base("a.qcow2", 16, data=[])
    b = images.base("b.qcow2", 16, data=[])
    rebase(a, b)
    rebase(b, a)
    folder = images.path("folder.qcow2")
    os.mkdir(folder)
    loop = "is self-referential or too deeply nested"
    return {
        "missing": (
            missing,
            ErrorNumber.SYSTEM_ERROR,
            ErrorDomain.STORAGE,
            f"Cannot access storage file '{missing}' {WHO}: No such file or directory",
            errno.ENOENT,
        ),
        "self": (
            self_backed,
            ErrorNumber.INTERNAL_ERROR,
            ErrorDomain.STORAGE,
            f"internal error: backing store for {self_backed} {loop}",
            -1,
        ),
        "cycle": (
            a,
            ErrorNumber.INTERNAL_ERROR,
            ErrorDomain.STORAGE,
            f"internal error: backing store for {a} {loop}",
            -1,
        ),
        "dir": (
            folder,
            ErrorNumber.SYSTEM_ERROR,
            ErrorDomain.STORAGE,
            f"cannot read header '{folder}': Is a directory",
            errno.EISDIR,
        ),
    }


@pytest.mark.parametrize("case", ["missing", "self", "cycle", "dir"])
def test_bad_chain_fails_start_like_libvirt(case, qemu_driver, qemu_root, images, domain_yaml):
    source, code, domain, message, int1 = broken_cases(images)[case]
    before = tree_digest(images.dir)
    ref = qemu_driver.domain_define_xml(domain_yaml(f"bad-{case}", [("vda", source)]), 0)
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_create(ref, 0)
    err = exc.value
    assert (err.code, err.domain, err.message, err.int1) == (code, domain, message, int1)
    assert qemu_driver.domain_get_state(ref, 0) == (DomainState.SHUTOFF, DomainShutoffReason.FAILED)
    assert tree_digest(images.dir) == before
    run_dir = os.path.join(qemu_root, "run", "qemu")
    statuses = os.listdir(run_dir) if os.path.isdir(run_dir) else []
    assert not [n for n in statuses if n.endswith(".json")]
    log = os.path.join(qemu_root, "log", "qemu", f"bad-{case}.log")
    assert not os.path.exists(log)  # QEMU never ran


def test_good_chain_still_starts(qemu_driver, images, domain_yaml):
    chain = images.chain(16)
    ref = qemu_driver.domain_define_xml(domain_yaml("good", [("vda", chain.top)]), 0)
    running = qemu_driver.domain_create(ref, 0)
    assert qemu_driver.domain_get_state(running, 0)[0] == DomainState.RUNNING
