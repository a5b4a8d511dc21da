"""Domain lifecycle in the qemu driver with real QEMU processes."""

from __future__ import annotations

import json
import os

import pytest

from minivirt.public import (
    DomainEventDefinedDetailType,
    DomainEventID,
    DomainEventType,
    DomainShutoffReason,
    DomainState,
    ErrorDomain,
    ErrorNumber,
    LifecycleEvent,
    VirError,
)
from minivirt.qemu import open_driver

from .conftest import embed_uri


def expect(exc, code, message, domain=ErrorDomain.QEMU):
    assert (exc.value.code, exc.value.domain, exc.value.message) == (code, domain, message)


def lifecycle(recorder):
    return [(e.event, e.detail) for e in recorder.events if isinstance(e, LifecycleEvent)]


def test_define_start_destroy_undefine(qemu_driver, qemu_root, images, domain_yaml, recorder):
    chain = images.chain(16)
    qemu_driver.connect_domain_event_register_any(None, DomainEventID.LIFECYCLE, recorder)
    ref = qemu_driver.domain_define_xml(domain_yaml("life", [("vda", chain.top)]), 0)
    assert ref.id == -1
    assert os.path.exists(os.path.join(qemu_root, "etc", "qemu", "life.xml"))
    assert qemu_driver.domain_get_state(ref, 0) == (
        DomainState.SHUTOFF,
        DomainShutoffReason.UNKNOWN,
    )
    running = qemu_driver.domain_create(ref, 0)
    assert running.id >= 1 and qemu_driver.lookup_by_id(running.id) == running
    info = qemu_driver.domain_get_info(running)
    assert (info.state, info.max_mem, info.nr_virt_cpu) == (DomainState.RUNNING, 65536, 1)
    status_path = os.path.join(qemu_root, "run", "qemu", "life.json")
    with open(status_path) as src:
        status = json.load(src)
    assert status["id"] == running.id and status["jobs"] == {}
    assert os.path.exists(status["monitor"])
    assert "-drive" in open(os.path.join(qemu_root, "log", "qemu", "life.log")).read()
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_create(ref, 0)
    expect(
        exc,
        ErrorNumber.OPERATION_INVALID,
        "Requested operation is not valid: domain is already running",
    )
    qemu_driver.domain_destroy(running, 0)
    assert not os.path.exists(status_path)
    assert qemu_driver.domain_get_state(ref, 0) == (
        DomainState.SHUTOFF,
        DomainShutoffReason.DESTROYED,
    )
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_destroy(ref, 0)
    expect(
        exc,
        ErrorNumber.OPERATION_INVALID,
        "Requested operation is not valid: domain is not running",
        ErrorDomain.DOMAIN,
    )
    qemu_driver.domain_undefine(ref, 0)
    with pytest.raises(VirError) as exc:
        qemu_driver.lookup_by_name("life")
    expect(exc, ErrorNumber.NO_DOMAIN, "Domain not found: no domain with matching name 'life'")
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_create(ref, 0)
    expect(
        exc,
        ErrorNumber.NO_DOMAIN,
        f"Domain not found: no domain with matching uuid '{ref.uuid}' (life)",
    )
    assert recorder.wait_for(lambda evs: len(lifecycle(recorder)) >= 4)
    assert lifecycle(recorder) == [
        (DomainEventType.DEFINED, DomainEventDefinedDetailType.ADDED),
        (DomainEventType.STARTED, 0),
        (DomainEventType.STOPPED, 1),
        (DomainEventType.UNDEFINED, 0),
    ]


def test_definitions_persist_and_states_are_shared(qemu_root, event_loop, domain_yaml):
    first = open_driver(embed_uri(qemu_root))
    second = open_driver(embed_uri(qemu_root))
    try:
        ref = first.domain_define_xml(domain_yaml("keep"), 0)
        assert second.lookup_by_uuid(ref.uuid) == ref
        assert first.state is second.state
    finally:
        first.close()
        second.close()
    third = open_driver(embed_uri(qemu_root))
    try:
        assert third.lookup_by_name("keep") == ref
        assert "<name>keep</name>" in third.domain_get_xml_desc(ref, 0)
    finally:
        third.close()


def test_define_clashes(qemu_driver, domain_yaml):
    ref = qemu_driver.domain_define_xml(domain_yaml("one"), 0)
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_define_xml(domain_yaml("one"), 0)
    expect(
        exc,
        ErrorNumber.OPERATION_FAILED,
        f"operation failed: domain 'one' already exists with uuid {ref.uuid}",
        ErrorDomain.DOMAIN,  # virdomainobjlist.c, shared conf code (checked on libvirt 9.0)
    )
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_define_xml(f"name: two\nuuid: {ref.uuid}\nmemory: 64\n", 0)
    expect(
        exc,
        ErrorNumber.OPERATION_FAILED,
        f"operation failed: domain 'one' is already defined with uuid {ref.uuid}",
        ErrorDomain.DOMAIN,
    )
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_define_xml("name: [", 0)
    assert exc.value.code == ErrorNumber.XML_ERROR
    assert [r.name for r in qemu_driver.list_all_domains(0)] == ["one"]


def test_start_failure_reports_qemu_message(qemu_driver, images, domain_yaml, tmp_path):
    # A raw disk that is a directory passes libvirt's chain check; QEMU refuses it.
    folder = tmp_path / "folder.img"
    folder.mkdir()
    ref = qemu_driver.domain_define_xml(domain_yaml("broken", [("vda", str(folder))], "raw"), 0)
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_create(ref, 0)
    assert exc.value.code == ErrorNumber.INTERNAL_ERROR
    assert exc.value.message.startswith(
        "internal error: process exited while connecting to monitor: "
    )
    assert "folder.img" in exc.value.message
    assert qemu_driver.domain_get_state(ref, 0) == (DomainState.SHUTOFF, DomainShutoffReason.FAILED)


def test_list_filters_and_flags(qemu_driver, images, domain_yaml):
    a = qemu_driver.domain_define_xml(domain_yaml("a"), 0)
    b = qemu_driver.domain_create(qemu_driver.domain_define_xml(domain_yaml("b"), 0), 0)
    assert {r.name for r in qemu_driver.list_all_domains(0)} == {"a", "b"}
    assert qemu_driver.list_all_domains(1) == [b]
    assert qemu_driver.list_all_domains(2) == [a]
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_create(a, 4)
    expect(
        exc,
        ErrorNumber.INVALID_ARG,
        "unsupported flags (0x4) in function qemuDomainCreateWithFlags",
    )
    qemu_driver.domain_undefine(b, 0)  # running: becomes transient
    assert qemu_driver.list_all_domains(8) == [b]
    qemu_driver.domain_destroy(b, 0)
    assert [r.name for r in qemu_driver.list_all_domains(0)] == ["a"]


def test_uri_handling(tmp_path):
    from .conftest import SimpleURI

    assert open_driver(SimpleURI("test", None, "", "/default", {})) is None
    assert open_driver(SimpleURI("qemu", "tcp", "host", "/system", {})) is None
    with pytest.raises(VirError) as exc:
        open_driver(SimpleURI("qemu", None, "", "/embed", {}))
    expect(exc, ErrorNumber.INVALID_ARG, "invalid argument: URI must be qemu:///embed?root=dir")
    with pytest.raises(VirError) as exc:
        open_driver(SimpleURI("qemu", None, "", "/bogus", {}))
    expect(
        exc,
        ErrorNumber.INTERNAL_ERROR,
        "internal error: unexpected QEMU URI path '/bogus', try qemu:///session",
    )


def test_session_uses_xdg_dirs(tmp_path, monkeypatch, event_loop):
    from .conftest import SimpleURI

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    conn = open_driver(SimpleURI("qemu", None, "", "/session", {}))
    try:
        conn.domain_define_xml("name: sess\nmemory: 64\n", 0)
        assert os.path.exists(tmp_path / "config" / "minivirt" / "qemu" / "sess.xml")
        assert os.path.isdir(tmp_path / "runtime" / "minivirt" / "qemu")
        assert conn.get_uri() == "qemu:///session"
    finally:
        conn.close()


def test_unsupported_bus_changes_nothing(qemu_driver, qemu_root, images):
    chain = images.chain(16)
    doc = f"name: sata\nmemory: 64\ndisks:\n  - {{target: sda, source: '{chain.top}', bus: sata}}\n"
    ref = qemu_driver.domain_define_xml(doc, 0)
    with pytest.raises(VirError) as exc:
        qemu_driver.domain_create(ref, 0)
    expect(
        exc,
        ErrorNumber.CONFIG_UNSUPPORTED,
        "unsupported configuration: disk bus 'sata' is not supported by minivirt's qemu driver",
    )
    assert qemu_driver.domain_get_state(ref, 0) == (
        DomainState.SHUTOFF,
        DomainShutoffReason.UNKNOWN,
    )
    assert os.listdir(os.path.join(qemu_root, "run", "qemu")) == []
