"""Session-wide: count the tests that started a real QEMU, and report it.

At start-up a tiny ``qemu-system-x86_64`` wrapper is put first on ``PATH``
(the qemu driver finds its emulator through ``PATH``, in this process and in
every daemon a test starts).  The wrapper appends one line to a log each time
it launches a virtual machine (a command line with ``-name``; version probes
are not counted), then ``exec``s the real binary, so QEMU runs unchanged with
the same pid.  A test that made the log grow started real QEMU.

The terminal summary says how many; with ``MINIVIRT_CHECK_SUMMARY=FILE`` the
figures are also written to FILE as JSON for ``tools/check_summary.py``
(``make check``'s last line).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator

import pytest

__all__: list[str] = []

EMULATOR = "qemu-system-x86_64"


class QemuCounter:
    def __init__(self) -> None:
        self.real = shutil.which(EMULATOR)
        self.dir = tempfile.mkdtemp(prefix="minivirt-qemu-count-")
        self.log = os.path.join(self.dir, "starts.log")
        self.tests: list[str] = []
        open(self.log, "w").close()
        # QEMU may run as an unprivileged user (the DAC tests): it must reach the wrapper
        # and append to the log.
        os.chmod(self.dir, 0o755)
        os.chmod(self.log, 0o666)
        if self.real is None:
            return  # no QEMU here: the real-QEMU tests fail on their own
        wrapper = os.path.join(self.dir, EMULATOR)
        with open(wrapper, "w") as out:
            out.write(
                "#!/bin/sh\n"
                "# counts virtual machines started by the tests (tests/conftest.py)\n"
                'for arg in "$@"; do\n'
                f'  if [ "$arg" = -name ]; then echo "$$" >> {shlex.quote(self.log)}; break; fi\n'
                "done\n"
                f'exec {shlex.quote(self.real)} "$@"\n'
            )
        os.chmod(wrapper, 0o755)
        os.environ["PATH"] = self.dir + os.pathsep + os.environ.get("PATH", "")

    def starts(self) -> int:
        with open(self.log) as src:
            return sum(1 for _ in src)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


_KEY = pytest.StashKey[QemuCounter]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = QemuCounter()


def pytest_unconfigure(config: pytest.Config) -> None:
    counter = config.stash.get(_KEY, None)
    if counter is not None:
        counter.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    counter = item.config.stash[_KEY]
    before = counter.starts()
    yield
    if counter.starts() > before:
        counter.tests.append(item.nodeid)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    counter = config.stash[_KEY]
    stats = terminalreporter.stats
    figures = {name: len(stats.get(name, [])) for name in ("passed", "failed", "skipped", "error")}
    figures["qemu_tests"] = len(counter.tests)
    figures["qemu_starts"] = counter.starts()
    terminalreporter.write_line(
        f"real QEMU: {figures['qemu_tests']} tests started {figures['qemu_starts']} "
        f"QEMU virtual machines ({EMULATOR} -> {counter.real})"
    )
    target = os.environ.get("MINIVIRT_CHECK_SUMMARY")
    if target:
        with open(target, "w") as out:
            json.dump(figures, out)
