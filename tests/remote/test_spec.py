"""The spec grammar and its validation pass: accepted specs, rejected ones with positions."""

from __future__ import annotations

import pytest

from minivirt.remote.protocol.spec import SpecError, parse

GOOD = """
const MAX = 16;
typedef string name_t<MAX>;
typedef name_t *opt_name;
enum color { RED = 0, GREEN = 1 };
struct remote_thing_args {
    name_t name;
    opt_name alias;
    opaque uuid[MAX];
    opaque blob<>;
    int ids<MAX>;
    unsigned hyper size;
    unsigned char small;
    bool flag;
    color c;
};
struct remote_thing_ret { int found; };
enum remote_procedure {
    @generate: none
    @readonly: allowed
    @priority: high
    REMOTE_PROC_THING = 7
};
"""


def test_good_spec_builds_tables():
    spec = parse(GOOD, "good.x")
    assert spec.constants["MAX"] == 16
    assert spec.constants["GREEN"] == 1
    (proc,) = spec.procedures
    assert proc.name == "THING"
    assert proc.number == 7
    assert proc.args == "remote_thing_args"
    assert proc.ret == "remote_thing_ret"
    assert proc.msg is None
    assert proc.readonly_allowed and proc.priority_high
    assert proc.api == "virThing"


def test_the_real_spec_parses():
    from minivirt.remote.protocol.__main__ import SPEC
    from minivirt.remote.protocol.spec import parse_file

    spec = parse_file(SPEC)
    numbers = {p.name: p.number for p in spec.procedures}
    assert numbers["DOMAIN_BLOCK_JOB_ABORT"] == 237
    assert numbers["DOMAIN_GET_BLOCK_JOB_INFO"] == 238
    assert numbers["DOMAIN_BLOCK_JOB_SET_SPEED"] == 239
    assert numbers["DOMAIN_BLOCK_PULL"] == 240
    assert numbers["DOMAIN_EVENT_BLOCK_JOB"] == 241
    assert numbers["DOMAIN_BLOCK_REBASE"] == 266
    assert numbers["DOMAIN_EVENTS_REGISTER_ANY"] == 167
    assert numbers["DOMAIN_EVENTS_DEREGISTER_ANY"] == 168
    assert numbers["DOMAIN_EVENT_BLOCK_JOB_2"] == 339
    assert spec.constants["REMOTE_PROGRAM"] == 0x20008086
    assert spec.constants["REMOTE_MESSAGE_MAX"] == 33554432
    keys = [p.key for p in spec.procedures]
    assert keys == sorted(keys)  # append-only order, the qemu program's section last
    assert numbers["QEMU_DOMAIN_MONITOR_COMMAND"] == 1
    assert spec.constants["QEMU_PROGRAM"] == 0x20008087


# (spec text, line, column, message fragment)
REJECT = [
    ("const A = 1;\nconst A = 2;\n", 2, 7, "duplicate name 'A'"),
    ("struct s {\n  nosuch x;\n};\n", 2, 10, "undefined type 'nosuch'"),
    ("struct s {\n  int x<LIMIT>;\n};\n", 2, 9, "undefined constant 'LIMIT'"),
    ("struct s {\n  int x;\n  int x;\n};\n", 3, 7, "duplicate field 'x'"),
    ("enum e { A = 1, B = 1 };\n", 1, 21, "duplicate value 1"),
    ("struct s { int x; }\n", 1, 19, "syntax error"),
    ("const = 3;\n", 1, 7, "syntax error"),
    ("struct s { int x; };\n#\n", 2, 1, "syntax error"),
    (
        "enum remote_procedure {\n  @generate: sometimes\n  REMOTE_PROC_X = 1\n};\n",
        2,
        3,
        "invalid value 'sometimes'",
    ),
    (
        "enum remote_procedure {\n  @generate: none\n  @colour: red\n  REMOTE_PROC_X = 1\n};\n",
        3,
        3,
        "unknown annotation '@colour'",
    ),
    ("enum remote_procedure {\n  REMOTE_PROC_X = 1\n};\n", 2, 3, "lacks @generate"),
    ("enum remote_procedure {\n  @generate: none\n  PROC_X = 1\n};\n", 3, 3, "must start with"),
    ("enum e {\n  @generate: none\n  X = 1\n};\n", 2, 3, "annotations only in"),
    (
        "enum remote_procedure {\n  @generate: none\n  REMOTE_PROC_A = 1,\n"
        "  @generate: none\n  REMOTE_PROC_B = 1\n};\n",
        5,
        19,
        "duplicate value 1",
    ),
]


@pytest.mark.parametrize(("text", "line", "column", "fragment"), REJECT)
def test_rejects_with_position(text, line, column, fragment):
    with pytest.raises(SpecError) as info:
        parse(text, "bad.x")
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert fragment in str(err)
    assert str(err).startswith(f"bad.x:{line}:{column}: ")
