"""Produce docs/guide/qmp-transcript.md: a block pull's QMP exchange from minivirt's debug log.

Runs a small pull on a real QEMU under ``qemu:///embed`` with
``MINIVIRT_DEBUG=1`` (in a child process, so the environment variable takes
effect before minivirt configures logging) and keeps the entry-point and QMP
lines of the log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys, threading
import minivirt.wiring  # registers the drivers with core
import minivirt.core as core
from minivirt.public import DomainEventID
root, top = sys.argv[1], sys.argv[2]
core.event_register_default_impl()
done = threading.Event()
with core.EventLoopThread():
    conn = core.open(f"qemu:///embed?root={root}")
    dom = conn.define_xml(
        "name: transcript\nmemory: 64\ndisks:\n"
        f"  - target: vda\n    source: {top}\n    format: qcow2\n"
    )
    dom.create()
    conn.domain_event_register_any(
        dom, DomainEventID.BLOCK_JOB, lambda c, d, disk, t, s, o: done.set()
    )
    dom.block_pull("vda", 0, 0)
    dom.get_block_job_info("vda")
    done.wait(30)
    dom.destroy()
    dom.undefine()
    conn.close()
"""

KEEP = re.compile(r"(virDomain\w+|QEMU_MONITOR_\w+)")


def _shorten(line: str, limit: int = 400) -> str:
    return line if len(line) <= limit else line[:limit] + " …(cut)"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="minivirt-transcript-") as tmp:
        base, top = Path(tmp, "base.qcow2"), Path(tmp, "top.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "16M"], check=True)
        subprocess.run(
            ["qemu-io", "-f", "qcow2", "-c", "write -q -P 0x5a 0 8M", str(base)], check=True
        )
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top)],
            check=True,
        )
        env = dict(os.environ, MINIVIRT_DEBUG="1")
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(Path(tmp, "state")), str(top)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        lines = [ln for ln in proc.stderr.splitlines() if KEEP.search(ln)]
        lines = [ln.replace(tmp, "/tmp/T") for ln in lines]
    # drop the wall-clock prefix: keep "name : message"
    body = "\n".join(_shorten(re.sub(r"^\S+ \S+: \d+: ", "", ln)) for ln in lines)
    text = textwrap.dedent(
        """\
        # A block pull's QMP exchange

        Produced by `python -m tools.transcript`: a pull of a 16 MiB overlay on a
        real QEMU (`qemu:///embed`), run with `MINIVIRT_DEBUG=1` (minivirt's
        `LIBVIRT_DEBUG`). Kept: the entry points' debug lines and the monitor's
        `QEMU_MONITOR_SEND_MSG` / `QEMU_MONITOR_RECV_REPLY` / `QEMU_MONITOR_RECV_EVENT`
        lines (named after libvirt's trace points; replies over 400 characters are
        cut). Read it top to bottom: the command-set probe at start
        (`query-commands`: modern `block-stream` or the 2011 `block_stream`), the
        backing chain read with `query-block`, `cont` (QEMU starts paused), the
        entry point `virDomainBlockPull` becoming `block-stream`, the
        `query-block-jobs` of the info call, and QEMU's `BLOCK_JOB_COMPLETED`,
        which the driver turns into the domain events BLOCK_JOB (source path)
        and BLOCK_JOB_2 (target name). The `qmp_capabilities` handshake is done
        inside `qemu.qmp` and does not appear.

        ```
        """
    )
    out = ROOT / "docs" / "guide" / "qmp-transcript.md"
    out.write_text(text + body + "\n```\n")
    print(f"wrote {out.relative_to(ROOT)} ({len(lines)} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
