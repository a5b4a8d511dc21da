"""A one-shot ``minivirsh`` over qemu+tcp imports only the client path (issue 14).

No timing here (performance is measured by ``make bench``): the guard is what
the process imports, read from ``python -X importtime`` of the real command
against a real minivirtd.  The client path is shell -> core -> remote client
driver; the daemon, the drivers, asyncio, qemu.qmp, yaml, lark, the event loop
and ``logging`` have no business in it.  Nor have ``typing`` (and with it
``re``, ``warnings`` and ``contextlib``, which Python 3.11's typing imports):
the path's modules import typing's names under ``if TYPE_CHECKING:`` only, so
a ``from typing import ...`` run at import time anywhere on the path fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.daemon.daemon_process import DaemonProcess

FORBIDDEN = (
    "typing",
    "re",
    "warnings",
    "contextlib",
    "asyncio",
    "qemu",
    "yaml",
    "lark",
    "logging",
    "encodings.idna",
    "signal",
    "dataclasses",
    "inspect",
    "urllib.parse",
    "ipaddress",
    "xml",
    "json",  # only qemu-monitor-command needs it, and imports it when run
    "minivirt.qemu",
    "minivirt.testdrv",
    "minivirt.conf",
    "minivirt.events",
    "minivirt.bindings",
    "minivirt.daemon",
    "minivirt.remote.dispatch",
    "minivirt.remote.protocol.server_stubs",
    "minivirt.remote.protocol.spec",
    "minivirt.remote.tls",
)


@pytest.fixture
def daemon(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    d = DaemonProcess(tmp_path, uri=f"qemu:///embed?root={root}")
    yield d
    d.stop()


#: What the ``minivirsh`` console script runs (``python -m`` would add runpy's imports,
#: contextlib and warnings among them, which the installed program does not have).
PROGRAM = "from minivirt.shell.entry import run; run()"


def imported_modules(*argv: str, rc: int = 0) -> tuple[set[str], str]:
    env = dict(os.environ)
    env.pop("MINIVIRT_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROGRAM, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == rc, result.stderr[-2000:]
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return modules, result.stdout


def forbidden_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules for bad in FORBIDDEN if m == bad or m.startswith(bad + "."))


@pytest.mark.parametrize(
    ("command", "rc"), [(["list", "--all"], 0), (["domstate", "nosuch"], 1), (["domstate", "1"], 1)]
)
def test_one_shot_over_tcp_imports_only_the_client_path(daemon, command, rc):
    modules, out = imported_modules("-c", daemon.url("qemu", "/system"), *command, rc=rc)
    if not rc:
        assert out.startswith(" Id   Name   State")
    assert "minivirt.remote.client" in modules  # the guard sees the real client path
    assert "minivirt.core" in modules
    assert forbidden_in(modules) == []


def test_guard_can_fail():
    # The same reading on a process that does import what is forbidden.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import asyncio, logging, typing"],
        capture_output=True,
        text=True,
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()}
    assert {"asyncio", "logging", "typing", "re"} <= set(forbidden_in(modules))
