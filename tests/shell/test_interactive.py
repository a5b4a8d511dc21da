"""The interactive shell through a pseudo-terminal: prompt, completion, history, recovery."""

from __future__ import annotations

import os
import sys

import pexpect
import pytest

from tests.shell.conftest import ROOT, URI

PROMPT = "minivirsh # "


@pytest.fixture
def shell(tmp_path):
    children = []

    def spawn(*argv: str) -> pexpect.spawn:
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), TERM="dumb")
        env.pop("MINIVIRT_DEFAULT_URI", None)
        env.pop("INPUTRC", None)
        child = pexpect.spawn(
            sys.executable,
            ["-m", "minivirt.shell", *argv],
            cwd=ROOT,
            env=env,
            encoding="utf-8",
            timeout=20,
            dimensions=(24, 200),
        )
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.close(force=True)


def test_prompt_error_recovery_and_quit(shell, tmp_path):
    child = shell("-c", URI)
    child.expect_exact("Welcome to minivirsh, the virtualization interactive terminal.")
    child.expect_exact(PROMPT)
    child.sendline("nosuch")
    child.expect_exact("error: unknown command: 'nosuch'")
    child.expect_exact(PROMPT)
    child.sendline("blockjob test vda --abort")
    child.expect_exact("error: invalid argument: disk vda does not have an active block job")
    child.expect_exact(PROMPT)
    child.sendline("blockjob test vda")
    child.expect_exact("No current block job for vda")
    child.expect_exact(PROMPT)
    child.sendline("quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    history = (tmp_path / "cache" / "minivirsh" / "history").read_text()
    assert "blockjob test vda --abort" in history and "nosuch" in history


def test_tab_completion(shell):
    child = shell("-c", URI)
    child.expect_exact(PROMPT)
    child.send("blockp\t")
    child.expect_exact("blockpull ")
    child.send("\x15")  # kill the line
    child.send("blockjob test vda --ra\t")
    child.expect_exact("--raw")
    child.send("\r")
    child.expect_exact(PROMPT)  # the raw info of no job prints nothing
    child.send("blockjob test vda --b\t\t")
    child.expect("--bandwidth +--bytes")
    child.send("\x15exit\r")
    child.expect(pexpect.EOF)


def test_connect_and_lazy_connection(shell):
    child = shell()
    child.expect_exact(PROMPT)
    child.sendline("connect nosuch:///x")
    child.expect_exact("error: failed to connect to the hypervisor")
    child.expect_exact(PROMPT)
    child.sendline(f"connect {URI}")
    child.expect_exact(PROMPT)
    child.sendline("uri")
    child.expect_exact("test:///default")
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)


def test_read_only_prompt(shell):
    child = shell("-r", "-c", URI)
    child.expect_exact("minivirsh > ")
    child.sendline("blockpull test vda")
    child.expect_exact("error: operation forbidden: read only access prevents virDomainBlockPull")
    child.expect_exact("minivirsh > ")
    child.sendline("exit")
    child.expect(pexpect.EOF)


def test_non_tty_input(run):
    r = run("-q", "-c", URI, stdin="domstate test\nnosuch\ndomstate 1\n")
    assert r.rc == 0
    assert r.out == "minivirsh # running\nminivirsh # minivirsh # running\nminivirsh # \n"
    assert r.err == "error: unknown command: 'nosuch'\n"
