"""The qemu program (libvirt's qemu_protocol.x) beside the remote program on one stream."""

from __future__ import annotations

import struct

import pytest

from minivirt.remote.codec import Codec, RemoteProtocolError, Role
from minivirt.remote.protocol import messages as m
from minivirt.remote.protocol.procedures import PROCEDURES, Procedure
from minivirt.remote.protocol.spec import SpecError, parse

KEY = Procedure.QEMU_DOMAIN_MONITOR_COMMAND
DOM = m.RemoteNonnullDomain("guest", bytes(range(16)), 3)


def test_numbers_are_libvirts():
    assert m.QEMU_PROGRAM == 0x20008087 and m.QEMU_PROTOCOL_VERSION == 1
    assert KEY == 0x20008087 << 32 | 1
    info = PROCEDURES[KEY]
    assert (info.api, info.readonly_allowed) == ("virDomainQemuMonitorCommand", False)
    assert info.args is m.QemuDomainMonitorCommandArgs
    assert info.ret is m.QemuDomainMonitorCommandRet


def test_call_and_reply_carry_the_qemu_program_on_the_wire():
    client, server = Codec(Role.CLIENT), Codec(Role.SERVER)
    frame = client.call(KEY, 7, m.QemuDomainMonitorCommandArgs(DOM, "info status", 1))
    _, program, version, proc, mtype, serial, status = struct.unpack_from(">IIIiIII", frame)
    assert (program, version, proc, mtype, serial, status) == (0x20008087, 1, 1, 0, 7, 0)
    server.receive_data(frame)
    msg = server.next_message()
    assert msg.procedure == KEY and msg.body.cmd == "info status" and msg.body.flags == 1
    reply = server.reply(KEY, 7, m.QemuDomainMonitorCommandRet("VM status: running\r\n"))
    assert struct.unpack_from(">IIIi", reply)[1:] == (0x20008087, 1, 1)
    client.receive_data(reply)
    back = client.next_message()
    assert (back.procedure, back.body.result) == (KEY, "VM status: running\r\n")
    # procedure 1 of the remote program is still CONNECT_OPEN
    assert Procedure.CONNECT_OPEN == 1 and PROCEDURES[1].name == "CONNECT_OPEN"


def test_unknown_program_and_procedure_are_refused():
    server = Codec(Role.SERVER)
    body = b"\xc0"
    for program, proc, text in [
        (0x20008088, 1, "cannot find program 0x20008088 version 1"),
        (0x20008087, 2, "unknown procedure: 2"),
    ]:
        server.receive_data(
            struct.pack(">IIIiIII", 28 + len(body), program, 1, proc, 0, 9, 0) + body
        )
        with pytest.raises(RemoteProtocolError) as exc:
            server.next_message()
        assert text in exc.value.message
    assert not server.broken


def test_a_program_section_needs_its_program_constant():
    spec = (
        "struct remote_nonnull_domain { int id; };\n"
        "enum qemu_procedure {\n    @generate: none\n    QEMU_PROC_X = 1\n};\n"
    )
    with pytest.raises(SpecError) as exc:
        parse(spec, "s.x")
    assert "'qemu_procedure' needs const QEMU_PROGRAM" in str(exc.value)
