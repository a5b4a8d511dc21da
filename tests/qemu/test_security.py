"""The DAC security driver's configuration, identity and durable record (no QEMU)."""

from __future__ import annotations

import os
import stat

import pytest

from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.qemu import security
from minivirt.qemu.paths import roots_for_uri
from tests.qemu.test_driver import URI


class SystemURI(URI):
    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.path = "/system"


def test_qemu_conf(tmp_path):
    conf = tmp_path / "qemu.conf"
    assert security.load_config(str(conf)) == security.DacConfig(
        "minivirt-qemu", "minivirt-qemu", True
    )
    conf.write_text(
        '# comment\nuser = "+0"   # root\ngroup = "+0"\ndynamic_ownership = 0\nsecurity_driver = "none"\n'
    )
    assert security.load_config(str(conf)) == security.DacConfig("+0", "+0", False)
    conf.write_text('user = "qemu-user"\n')
    assert security.load_config(str(conf)).group == "qemu-user"
    conf.write_text("user = unquoted\n")
    with pytest.raises(VirError) as exc:
        security.load_config(str(conf))
    assert (exc.value.code, exc.value.domain) == (ErrorNumber.CONF_SYNTAX, ErrorDomain.CONF)
    assert "line 1" in exc.value.message


def test_session_and_embed_run_qemu_as_the_caller(tmp_path):
    dac = security.DacDriver(roots_for_uri(URI(str(tmp_path))))
    assert not dac.enabled and dac.spawn_user() is None
    dac.set_domain("u", [str(tmp_path)])  # a no-op
    assert dac.lent("u") == []


def test_system_root_layout(tmp_path):
    roots = roots_for_uri(SystemURI(str(tmp_path)))
    assert roots.kind == "system" and roots.uri == f"qemu:///system?root={tmp_path}"
    assert roots.conf_file == str(tmp_path / "etc" / "qemu.conf")


@pytest.mark.skipif(os.geteuid() != 0, reason="changes owners")
def test_shared_template_is_counted_and_the_record_survives(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "qemu.conf").write_text('user = "+4242"\ngroup = "+4343"\n')
    template, top_a, top_b = (tmp_path / n for n in ("t", "a", "b"))
    for path in (template, top_a, top_b):
        path.write_bytes(b"x")
        path.chmod(0o604)
    roots = roots_for_uri(SystemURI(str(tmp_path)))
    dac = security.DacDriver(roots)
    assert dac.enabled and dac.spawn_user() == (4242, 4343, ())
    dac.set_domain("A", [str(top_a), str(template)])
    dac.set_domain("B", [str(top_b), str(template)])
    assert os.stat(template).st_uid == 4242 and os.stat(top_b).st_gid == 4343
    # a second driver (a restarted daemon) reads the same record
    again = security.DacDriver(roots)
    assert again.lent("A") == [str(top_a), str(template)]
    assert again.original(str(template)) == (0, 0, 0o604)
    assert again.release("A") == [str(top_a), str(template)]
    assert os.stat(top_a).st_uid == 0
    assert os.stat(template).st_uid == 4242  # B still uses it
    again.release_orphans(active=[])
    assert os.stat(template).st_uid == 0 and stat.S_IMODE(os.stat(template).st_mode) == 0o604
    assert security.DacDriver(roots).lent_domains() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="changes owners")
def test_a_failed_lend_changes_nothing(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "qemu.conf").write_text('user = "+4242"\ngroup = "+4242"\n')
    good = tmp_path / "good"
    good.write_bytes(b"x")
    dac = security.DacDriver(roots_for_uri(SystemURI(str(tmp_path))))
    with pytest.raises(VirError) as exc:
        dac.set_domain("A", [str(good), str(tmp_path / "missing")])
    assert (exc.value.code, exc.value.domain) == (ErrorNumber.SYSTEM_ERROR, ErrorDomain.SECURITY)
    assert exc.value.message == (
        f"unable to set user and group to '4242:4242' on '{tmp_path / 'missing'}': "
        "No such file or directory"
    )
    assert os.stat(good).st_uid == 0 and dac.lent_domains() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="creates a system account")
def test_a_missing_account_is_created(tmp_path):
    import grp
    import pwd
    import subprocess
    import uuid

    name = f"mvq-{uuid.uuid4().hex[:8]}"
    try:
        ident = security.identity_for(security.DacConfig(name, name))
        entry = pwd.getpwnam(name)
        assert (ident.uid, ident.gid) == (entry.pw_uid, grp.getgrnam(name).gr_gid)
        assert entry.pw_shell == "/usr/sbin/nologin" and ident.uid < 1000  # a system account
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)
        subprocess.run(["groupdel", name], capture_output=True, check=False)


def test_an_unknown_account_without_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(VirError) as exc:
        security.identity_for(security.DacConfig("no-such-user-here", "no-such-user-here"))
    assert (exc.value.code, exc.value.domain) == (ErrorNumber.INTERNAL_ERROR, ErrorDomain.SECURITY)
    assert exc.value.message == (
        "internal error: Failed to find user or group record for 'no-such-user-here'"
    )
