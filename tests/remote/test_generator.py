"""The generator: committed output up to date, deterministic, golden, lark-free at run time."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from minivirt.remote.protocol.__main__ import HERE, SPEC, generate, main
from minivirt.remote.protocol.emit import emit_all
from minivirt.remote.protocol.spec import parse

GOLDEN = pathlib.Path(__file__).with_name("golden")
SMALL_SPEC = (GOLDEN / "small.x").read_text()


def test_committed_output_is_up_to_date():
    assert main(["--check"]) == 0


def test_check_detects_drift(tmp_path):
    for name, text in generate().items():
        (tmp_path / name).write_text(text)
    assert main(["--check", "--out", str(tmp_path)]) == 0
    victim = tmp_path / "procedures.py"
    victim.write_text(victim.read_text() + "\n# edited by hand\n")
    assert main(["--check", "--out", str(tmp_path)]) == 1
    (tmp_path / "messages.py").unlink()
    assert main(["--check", "--out", str(tmp_path)]) == 1


def test_generation_writes_missing_files(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(generate())
    for name in generate():
        assert (tmp_path / name).read_text() == (HERE / name).read_text()


def test_spec_error_exits_2_with_position(tmp_path, capsys):
    bad = tmp_path / "bad.x"
    bad.write_text("struct s {\n  missing_t x;\n};\n")
    assert main(["--spec", str(bad), "--out", str(tmp_path)]) == 2
    assert f"{bad}:2:13: undefined type 'missing_t'" in capsys.readouterr().err


def test_output_is_deterministic_and_carries_the_spec_hash():
    import hashlib

    first, second = emit_all(parse(SMALL_SPEC), SMALL_SPEC), emit_all(parse(SMALL_SPEC), SMALL_SPEC)
    assert first == second
    digest = hashlib.sha256(SMALL_SPEC.encode()).hexdigest()
    assert all(digest in text for text in first.values())
    committed = (HERE / "messages.py").read_text()
    assert hashlib.sha256(SPEC.read_text().encode()).hexdigest() in committed


@pytest.mark.parametrize(
    "name", ["messages.py", "procedures.py", "client_stubs.py", "server_stubs.py"]
)
def test_golden_output_for_a_small_spec(name):
    out = emit_all(parse(SMALL_SPEC, "small.x"), SMALL_SPEC)
    assert out[name] == (GOLDEN / f"small_{name}.txt").read_text()


def test_runtime_imports_neither_lark_nor_asyncio():
    code = (
        "import sys, minivirt.remote, minivirt.remote.client, minivirt.remote.codec;"
        "bad = [m for m in ('lark', 'asyncio', 'minivirt.core') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_limits_are_referenced_by_name():
    # A bound the spec writes as a constant stays that constant in the generated code,
    # so the number lives in one place: its definition.
    messages = (HERE / "messages.py").read_text()
    assert "enc_str(self.name, REMOTE_STRING_MAX, 'remote_nonnull_domain.name')" in messages
    assert "dec_bytes(f[1], VIR_UUID_BUFLEN, True, 'remote_nonnull_domain.uuid')" in messages
    assert messages.count("4194304") == 1  # REMOTE_STRING_MAX: Final = 4194304
    assert "enc_list(self.domains, REMOTE_DOMAIN_LIST_MAX, " in messages


def test_committed_output_is_the_emitters_text_byte_for_byte():
    # No formatter between the emitters and the files: the drift check needs no tool.
    for name, text in emit_all(parse(SPEC.read_text(), str(SPEC)), SPEC.read_text()).items():
        assert (HERE / name).read_text() == text
