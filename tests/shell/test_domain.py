"""Domain commands golden tests: list, define, undefine, start, destroy, domstate, dominfo, domblklist."""

from __future__ import annotations

from minivirt import testdrv

UUID = testdrv.TEST_DOMAIN_UUID


def test_list(sh):
    r = sh("list")
    assert (r.rc, r.out, r.err) == (
        0,
        " Id   Name   State\n----------------------\n 1    test   running\n\n",
        "",
    )


def test_list_all_with_inactive(sh, host, domain_file):
    assert sh("define", domain_file("a-much-longer-name")).rc == 0
    assert sh("define", domain_file("Beta")).rc == 0
    r = sh("list", "--all")
    assert r.out == (
        " Id   Name                 State\n" + "-" * 37 + "\n"
        " 1    test                 running\n"
        " -    a-much-longer-name   shut off\n"
        " -    Beta                 shut off\n"
        "\n"
    )
    assert sh("list", "--inactive").out.count("shut off") == 2
    assert sh("list").out.count("\n") == 4


def test_list_names_ids_uuids(sh, host, domain_file):
    assert sh("define", domain_file("off")).rc == 0
    assert sh("list", "--all", "--name").out == "test\noff\n\n"
    assert sh("list", "--all", "--id").out == "1\n\n"
    assert sh("list", "--uuid").out == f"{UUID}\n\n"
    r = sh("list", "--table", "--name")
    assert (r.rc, r.err) == (1, "error: Options --table and --name are mutually exclusive\n")


def test_define_start_destroy_undefine(sh, host, domain_file):
    path = domain_file("golden2")
    r = sh("define", path)
    assert (r.rc, r.out, r.err) == (0, f"Domain 'golden2' defined from {path}\n\n", "")
    assert sh("domstate", "golden2").out == "shut off\n\n"
    r = sh("start", "golden2")
    assert (r.rc, r.out, r.err) == (0, "Domain 'golden2' started\n\n", "")
    assert sh("domstate", "golden2", "--reason").out == "running (booted)\n\n"
    r = sh("start", "golden2")
    assert (r.rc, r.err) == (1, "error: Domain is already active\n")
    r = sh("destroy", "golden2")
    assert (r.rc, r.out, r.err) == (0, "Domain 'golden2' destroyed\n\n", "")
    assert sh("domstate", "golden2", "--reason").out == "shut off (destroyed)\n\n"
    r = sh("destroy", "golden2")
    assert (r.rc, r.err) == (
        1,
        "error: Failed to destroy domain 'golden2'\n"
        "error: Requested operation is not valid: domain is not running\n",
    )
    r = sh("undefine", "golden2")
    assert (r.rc, r.out, r.err) == (0, "Domain 'golden2' has been undefined\n\n", "")
    assert sh("domstate", "golden2").err == "error: failed to get domain 'golden2'\n"


def test_define_xml(sh, host, tmp_path):
    path = tmp_path / "x.xml"
    path.write_text(
        "<domain type='qemu'><name>fromxml</name><memory unit='KiB'>65536</memory>"
        "<devices><disk type='file' device='disk'><source file='/guest/x.qcow2'/>"
        "<target dev='vdb' bus='virtio'/></disk></devices></domain>"
    )
    r = sh("define", str(path))
    assert (r.rc, r.out) == (0, f"Domain 'fromxml' defined from {path}\n\n")
    assert sh("domblklist", "fromxml").out == (
        " Target   Source\n" + "-" * 26 + "\n vdb      /guest/x.qcow2\n\n"
    )


def test_define_missing_file(sh, tmp_path):
    path = tmp_path / "nosuch.yaml"
    r = sh("define", str(path))
    assert (r.rc, r.out, r.err) == (
        1,
        "\n",
        f"error: Failed to open file '{path}': No such file or directory\n",
    )


def test_define_bad_document(sh, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\n")
    r = sh("define", str(path))
    assert r.rc == 1
    first, second, rest = r.err.split("\n")
    assert first == f"error: Failed to define domain from {path}"
    assert second.startswith("error: XML error: ") and rest == ""


def test_start_looks_up_by_name_or_uuid_only(sh):
    r = sh("start", "1")
    assert (r.rc, r.err) == (1, "error: failed to get domain '1'\n")
    assert sh("start", UUID).err == "error: Domain is already active\n"


def test_domstate_by_id_uuid_name(sh):
    for ref in ("1", UUID, "test", UUID.upper()):
        r = sh("domstate", ref)
        if ref == UUID.upper():
            assert r.out == "running\n\n"
        else:
            assert (r.rc, r.out, r.err) == (0, "running\n\n", "")


def test_dominfo(sh):
    r = sh("dominfo", "test")
    assert r.rc == 0 and r.err == ""
    lines = r.out.split("\n")
    assert lines[:6] == [
        "Id:             1",
        "Name:           test",
        f"UUID:           {UUID}",
        "OS Type:        hvm",
        "State:          running",
        "CPU(s):         2",
    ]
    assert "Persistent:     yes" in lines
    assert lines[-3:] == ["Managed save:   no", "", ""]


def test_dominfo_inactive(sh, host, domain_file):
    assert sh("define", domain_file("off")).rc == 0
    lines = sh("dominfo", "off").out.split("\n")
    assert lines[0] == "Id:             -"
    assert "State:          shut off" in lines
    assert "Max memory:     65536 KiB" in lines


def test_domblklist(sh):
    assert sh("domblklist", "test").out == (
        " Target   Source\n" + "-" * 29 + "\n vda      /guest/diskimage1\n\n"
    )
    assert sh("domblklist", "test", "--details").out == (
        " Type   Device   Target   Source\n"
        "---------------------------------------------\n"
        " file   disk     vda      /guest/diskimage1\n\n"
    )
    assert sh("-q", "domblklist", "test").out == " vda   /guest/diskimage1\n"


def test_failed_to_get_domain(sh):
    for cmd in ("dominfo", "domstate", "domblklist", "destroy", "undefine"):
        r = sh(cmd, "nosuch")
        assert (r.rc, r.out, r.err) == (1, "\n", "error: failed to get domain 'nosuch'\n")


def test_uri_and_version(sh):
    assert sh("uri").out == "test:///default\n\n"
    assert sh("version").out == (
        "Compiled against library: libvirt 9.0.0\n"
        "Using library: libvirt 9.0.0\n"
        "Using API: TEST 9.0.0\n"
        "Running hypervisor: TEST 0.0.2\n\n"
    )
