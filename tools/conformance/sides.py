"""The two sides of a conformance run: real libvirt and minivirt, each with its daemon.

Owns starting and stopping each side's daemon (a private libvirtd through
``tools.libvirtd``; a ``minivirtd`` serving ``qemu:///embed`` with all state in
a scratch directory), its URIs per transport, and running one virsh command
line or one python call sequence against it, returning the raw outcome.
Images are made per scenario run by ``tools.conformance.images``.

Must not: compare or normalise outcomes (``compare`` and ``normalise`` do), or
leave a daemon or QEMU behind (``stop`` kills by pid).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.libvirtd import PrivateLibvirtd, kill_pids, system_python, terminate

__all__ = ["Outcome", "Side", "libvirt_side", "minivirt_side"]

_REPO = Path(__file__).resolve().parents[2]
_PYCALLS = Path(__file__).with_name("pycalls.py")


@dataclass
class Outcome:
    """What one row produced on one side, before normalisation."""

    stdout: str = ""
    stderr: str = ""
    status: int = 0
    python: dict[str, Any] | None = None


class Side:
    """One implementation under test: how to start it, reach it and run rows on it."""

    def __init__(self, name: str, virsh: list[str], python: list[str], module: str) -> None:
        self.name = name
        self.tag = name[:2]
        self.root: Path | None = None
        self.virsh = virsh
        self.python = python
        self.module = module
        self.uris: dict[str, str] = {}
        self.env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        self.env.pop("LIBVIRT_DEFAULT_URI", None)
        self.env.pop("MINIVIRT_DEFAULT_URI", None)

    def start(self, scratch: Path) -> None:
        raise NotImplementedError

    def qemu_pids(self) -> list[int]:
        """QEMUs of this side: their command line names an image under ``<root>/<tag>``.

        Images of both sides live in the run's scratch root, each side under
        its own tag (``li``, ``mi``); the daemons under ``<tag>-daemon``.
        """
        if self.root is None:
            return []
        mark = str(self.root / self.tag).encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if mark in cmdline and b"qemu-system" in cmdline.split(b"\0", 1)[0]:
                pids.append(int(entry.name))
        return pids

    def kill_qemus(self, pids: list[int]) -> None:
        """SIGKILL ``pids`` and this side's QEMUs still alive."""
        kill_pids(pids + self.qemu_pids())

    def stop(self) -> None:
        raise NotImplementedError

    def run_virsh(self, transport: str, line: str, cwd: Path) -> Outcome:
        argv = [*self.virsh, "-c", self.uris[transport], *shlex.split(line)]
        proc = subprocess.run(argv, capture_output=True, cwd=cwd, env=self.env, timeout=120)
        return Outcome(
            proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"),
            proc.returncode,
        )

    def run_python(
        self, transport: str, calls: list[list[Any]], readonly: bool, cwd: Path
    ) -> Outcome:
        request = {
            "module": self.module,
            "uri": self.uris[transport],
            "readonly": readonly,
            "calls": calls,
        }
        proc = subprocess.run(
            [*self.python, str(_PYCALLS)],
            input=json.dumps(request).encode(),
            capture_output=True,
            cwd=cwd,
            env=self.env,
            timeout=120,
        )
        stderr = proc.stderr.decode("utf-8", "replace")
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            result = {"crash": proc.stdout.decode("utf-8", "replace") + stderr}
        return Outcome("", "", proc.returncode, result)


class _Libvirt(Side):
    def __init__(self) -> None:
        super().__init__("libvirt", ["/usr/bin/virsh"], [system_python()], "libvirt")
        self.daemon: PrivateLibvirtd | None = None

    def start(self, scratch: Path) -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        self.root = scratch.parent
        self.daemon = PrivateLibvirtd(scratch)
        self.daemon.start()
        self.uris = {"tcp": self.daemon.tcp_uri, "unix": self.daemon.unix_uri}

    def stop(self) -> None:
        qemus = self.qemu_pids()
        if self.daemon is not None:
            self.daemon.stop()
        self.kill_qemus(qemus)


class _Minivirt(Side):
    def __init__(self) -> None:
        venv = _REPO / ".venv" / "bin"
        super().__init__(
            "minivirt", [str(venv / "minivirsh")], [str(venv / "python")], "minivirt.bindings"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.state: Path | None = None

    def start(self, scratch: Path) -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        self.root = scratch.parent
        state = scratch / "state"
        state.mkdir(exist_ok=True)
        self.state = state
        sock = scratch / "minivirt-sock"
        log = open(scratch / "minivirtd.log", "wb")
        self.proc = subprocess.Popen(
            [
                str(_REPO / ".venv" / "bin" / "minivirtd"),
                "--listen",
                "127.0.0.1:0",
                "--unix",
                str(sock),
                "--uri",
                f"qemu:///embed?root={state}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=self.env,
            start_new_session=True,
        )
        log.close()
        assert self.proc.stdout is not None
        # "minivirtd listening on 127.0.0.1:PORT" once both listeners are up
        line = self.proc.stdout.readline().decode(errors="replace")
        if not line.startswith("minivirtd listening on "):
            self.stop()
            raise RuntimeError(
                "minivirtd did not start: " + (scratch / "minivirtd.log").read_text()
            )
        port = int(line.rsplit(":", 1)[1])
        self.uris = {
            "tcp": f"qemu+tcp://127.0.0.1:{port}/system",
            "unix": f"qemu+unix:///system?socket={sock}",
        }

    def stop(self) -> None:
        qemus = self.qemu_pids()
        terminate(self.proc)
        self.kill_qemus(qemus)


def libvirt_side() -> Side:
    """The reference: Debian's libvirtd 9.0, virsh and libvirt-python."""
    return _Libvirt()


def minivirt_side() -> Side:
    """The implementation under test: minivirtd, minivirsh and minivirt.bindings."""
    return _Minivirt()
