"""The images of a scenario run, made the same way for both sides, and their inspection.

Owns creating the template (qcow2 with known data) and the overlay on it,
optionally a template with a damaged cluster (so a pull fails with an I/O
error), and reading back the chain and data after the domain stopped:
``qemu-img info --backing-chain`` and ``qemu-img compare``.

Must not: normalise paths (``normalise`` does) or start any domain.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["inspect", "make_images"]

#: Template size and the data written into it: (offset, length, byte pattern).
#: 64 MiB of data: a pull limited to 1 MiB/s runs about a minute, long enough
#: for the rows that need a running job even on a loaded machine; an
#: unlimited one takes well under a second.
SIZE = "64M"
DATA = tuple((i << 24, 1 << 24, pattern) for i, pattern in enumerate((0xAB, 0xCD, 0x5A, 0x3C)))
#: The guest offset whose cluster a broken template cannot read.
BROKEN_AT = 28 << 20


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=True)


def make_images(directory: Path, broken: bool = False) -> None:
    """``base.qcow2`` (template with DATA) and ``top.qcow2`` (empty overlay on it).

    ``broken`` damages the L2 entry of the cluster at BROKEN_AT in the template
    (an unaligned offset), so reading it fails with EIO: a pull then FAILS.
    """
    directory.mkdir(parents=True, exist_ok=True)
    base, top = directory / "base.qcow2", directory / "top.qcow2"
    for path in (base, top):
        path.unlink(missing_ok=True)
    _run("qemu-img", "create", "-q", "-f", "qcow2", str(base), SIZE)
    cmds = []
    for off, length, pattern in DATA:
        cmds += ["-c", f"write -P {pattern} {off} {length}"]
    _run("qemu-io", "-f", "qcow2", *cmds, str(base))
    if broken:
        _damage_cluster(base, BROKEN_AT)
    _run("qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top))


def _damage_cluster(path: Path, guest_offset: int) -> None:
    """Point the L2 entry of ``guest_offset`` at an unaligned host offset."""
    with open(path, "r+b") as f:
        header = f.read(104)
        cluster_bits = struct.unpack(">I", header[20:24])[0]
        l1_offset = struct.unpack(">Q", header[40:48])[0]
        cluster = 1 << cluster_bits
        l2_entries = cluster // 8
        l1_index, l2_index = divmod(guest_offset // cluster, l2_entries)
        f.seek(l1_offset + 8 * l1_index)
        l2_table = struct.unpack(">Q", f.read(8))[0] & 0x00FFFFFFFFFFFE00
        f.seek(l2_table + 8 * l2_index)
        entry = struct.unpack(">Q", f.read(8))[0]
        f.seek(l2_table + 8 * l2_index)
        f.write(struct.pack(">Q", entry ^ 0x200))


def inspect(directory: Path) -> dict[str, Any]:
    """The overlay's chain (``qemu-img info --backing-chain``) and data vs the template."""
    top, base = directory / "top.qcow2", directory / "base.qcow2"
    info = subprocess.run(
        ["qemu-img", "info", "-U", "--backing-chain", "--output=json", str(top)],
        capture_output=True,
        text=True,
    )
    chain: Any = info.stderr.strip()
    if info.returncode == 0:
        chain = [
            {k: v for k, v in layer.items() if k in _CHAIN_KEYS}
            for layer in json.loads(info.stdout)
        ]
    compare = subprocess.run(
        ["qemu-img", "compare", "-U", str(top), str(base)], capture_output=True, text=True
    )
    return {"chain": chain, "compare": [compare.returncode, compare.stdout.strip()]}


#: The fields of ``qemu-img info`` that describe the chain and content; the
#: on-disk allocation (actual-size) depends on when a cancelled job stopped.
_CHAIN_KEYS = (
    "filename",
    "format",
    "virtual-size",
    "backing-filename",
    "full-backing-filename",
    "backing-filename-format",
    "cluster-size",
    "dirty-flag",
    "corrupt",
)
