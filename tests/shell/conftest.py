"""Fixtures for the shell's golden tests: run minivirsh in-process on test:///default.

``run(*argv)`` calls ``minivirt.shell.main.main`` with string buffers and
returns ``Result(rc, out, err)``.  ``host`` keeps one test:///default
connection open so that the simulated host (and its jobs) lives across
several runs; ``frozen`` does the same with the test driver's clock stopped,
so job progress is exactly what the test says.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from minivirt import core, testdrv
from minivirt.shell.main import main

URI = "test:///default"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclasses.dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str


Runner = Callable[..., Result]


def _run(*argv: str, stdin: str | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), out, err, io.StringIO(stdin) if stdin is not None else None)
    return Result(rc, out.getvalue(), err.getvalue())


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test: its own cache dir (history), no default URI from the environment."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MINIVIRT_DEFAULT_URI", raising=False)
    yield
    assert testdrv.shared_hypervisor() is None, "a test left a test:///default connection open"


@pytest.fixture
def run() -> Runner:
    """``run("-c", URI, "list")`` -> Result."""
    return _run


@pytest.fixture
def sh(run) -> Runner:
    """``sh("list", "--all")``: run with ``-c test:///default``."""

    def go(*argv: str, stdin: str | None = None) -> Result:
        return _run("-c", URI, *argv, stdin=stdin)

    return go


@pytest.fixture
def host() -> Iterator[core.Connection]:
    """A test:///default connection held open for the whole test (state persists)."""
    conn = core.open(URI)
    try:
        yield conn
    finally:
        conn.close()


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def frozen() -> Iterator[tuple[core.Connection, FrozenClock]]:
    """Like ``host`` but the simulated host's clock only moves when the test moves it."""
    clock = FrozenClock()
    testdrv.set_clock(clock)
    try:
        conn = core.open(URI)
    finally:
        testdrv.set_clock(None)
    try:
        yield conn, clock
    finally:
        conn.close()


@pytest.fixture
def domain_file(tmp_path) -> Callable[..., str]:
    """Write a YAML definition and return its path: ``domain_file("off", disks=[...])``."""

    def make(name: str, source: str = "/guest/other.qcow2") -> str:
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            f"name: '{name}'\nmemory: 64\ndisks:\n  - {{target: vda, source: {source}}}\n"
        )
        return str(path)

    return make


def subprocess_run(
    *argv: str, env: dict[str, str] | None = None, **kw
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m minivirt.shell ARGV`` in a real process (bytes in, bytes out)."""
    full_env = dict(os.environ)
    full_env.pop("MINIVIRT_DEFAULT_URI", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "minivirt.shell", *argv],
        capture_output=True,
        env=full_env,
        cwd=ROOT,
        timeout=60,
        check=False,
        **kw,
    )
