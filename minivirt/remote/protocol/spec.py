"""The protocol spec's syntax tree, its parser (lark) and its validation pass.

Owns: the frozen dataclasses a parsed ``remote_protocol.x`` becomes, the lark
Transformer building them, and the checks over an explicit symbol table
(unique names and numbers, every type and constant defined before use,
annotations known).  Errors are :class:`SpecError` naming file, line and
column.  Must not: emit code (``emit``), be imported at run time (it imports
lark, which only the generator needs).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import Final

import lark

__all__ = [
    "ANNOTATION_VALUES",
    "Annotation",
    "Const",
    "Decl",
    "Enum",
    "EnumMember",
    "PROGRAMS",
    "Procedure",
    "Spec",
    "SpecError",
    "Struct",
    "Typedef",
    "parse",
    "parse_file",
]

GRAMMAR_PATH: Final = pathlib.Path(__file__).with_name("remote_protocol.lark")
PROCEDURE_ENUM: Final = "remote_procedure"
PROCEDURE_PREFIX: Final = "REMOTE_PROC_"

#: The programs a spec may describe, as libvirt's ``remote_protocol.x`` and
#: ``qemu_protocol.x``: the procedure enum of each, its member prefix, the
#: prefix of its structs and the constant holding its program number.  The
#: first is the main program; the others are sections of the same file.
PROGRAMS: Final[tuple[tuple[str, str, str, str], ...]] = (
    (PROCEDURE_ENUM, PROCEDURE_PREFIX, "remote_", "REMOTE_PROGRAM"),
    ("qemu_procedure", "QEMU_PROC_", "qemu_", "QEMU_PROGRAM"),
)
_PROCEDURE_ENUMS: Final = frozenset(p[0] for p in PROGRAMS)

#: Known annotation keys and their allowed values (None: any identifier).
ANNOTATION_VALUES: Final[dict[str, frozenset[str] | None]] = {
    "generate": frozenset({"both", "client", "server", "none"}),
    "readonly": frozenset({"allowed", "denied"}),
    "priority": frozenset({"high", "low"}),
    "api": None,
    "client": None,
    "server": None,
    "rename": None,
}

PRIMITIVES: Final = frozenset(
    {"int", "uint", "hyper", "uhyper", "short", "ushort", "char", "uchar", "bool"}
)


class SpecError(Exception):
    """A spec that does not parse or does not validate: ``file:line:column: text``."""

    def __init__(self, filename: str, line: int, column: int, text: str) -> None:
        super().__init__(f"{filename}:{line}:{column}: {text}")
        self.filename = filename
        self.line = line
        self.column = column
        self.text = text


@dataclasses.dataclass(frozen=True, slots=True)
class Pos:
    line: int
    column: int


@dataclasses.dataclass(frozen=True, slots=True)
class Value:
    """A number literal (``ref`` None) or a reference to a constant."""

    number: int | None
    ref: str | None
    pos: Pos


@dataclasses.dataclass(frozen=True, slots=True)
class Decl:
    """One declaration: ``kind`` is plain/optional/fixed_array/var_array/string/
    fixed_opaque/var_opaque; ``base`` the element type name (a primitive or a
    defined name), None for string and opaque."""

    name: str
    kind: str
    base: str | None
    bound: Value | None
    pos: Pos


@dataclasses.dataclass(frozen=True, slots=True)
class Const:
    name: str
    value: Value
    pos: Pos


@dataclasses.dataclass(frozen=True, slots=True)
class Typedef:
    decl: Decl
    pos: Pos

    @property
    def name(self) -> str:
        return self.decl.name


@dataclasses.dataclass(frozen=True, slots=True)
class Annotation:
    key: str
    value: str
    pos: Pos


@dataclasses.dataclass(frozen=True, slots=True)
class EnumMember:
    name: str
    value: Value
    annotations: tuple[Annotation, ...]
    pos: Pos


@dataclasses.dataclass(frozen=True, slots=True)
class Enum:
    name: str
    members: tuple[EnumMember, ...]
    pos: Pos


@dataclasses.dataclass(frozen=True, slots=True)
class Struct:
    name: str
    fields: tuple[Decl, ...]
    pos: Pos


Definition = Const | Typedef | Enum | Struct


@dataclasses.dataclass(frozen=True, slots=True)
class Procedure:
    """One member of a procedure enum, its annotations resolved.

    ``key`` names the procedure in the generated tables: its number for the
    main program, ``program << 32 | number`` for another program's section
    (whose ``name`` then starts with the program's prefix, e.g. ``QEMU_``).
    """

    name: str  # without REMOTE_PROC_ (QEMU_PROC_ becomes QEMU_)
    number: int
    key: int
    generate: str
    readonly_allowed: bool
    priority_high: bool
    api: str
    client: str | None
    server: str | None
    renames: tuple[tuple[str, str], ...]
    args: str | None
    ret: str | None
    msg: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """A validated spec: definitions in file order plus resolved tables."""

    filename: str
    definitions: tuple[Definition, ...]
    constants: dict[str, int]
    types: dict[str, Typedef | Enum | Struct]
    procedures: tuple[Procedure, ...]

    def bound(self, value: Value | None) -> int | None:
        if value is None:
            return None
        if value.number is not None:
            return value.number
        assert value.ref is not None
        return self.constants[value.ref]


def _pos(meta: object) -> Pos:
    return Pos(getattr(meta, "line", 0), getattr(meta, "column", 0))


def _tpos(token: lark.Token) -> Pos:
    return Pos(token.line or 0, token.column or 0)


class _Builder(lark.Transformer[lark.Token, tuple[Definition, ...]]):
    """Parse tree → definitions (frozen dataclasses)."""

    def start(self, items: list[Definition]) -> tuple[Definition, ...]:
        return tuple(items)

    def number(self, items: list[lark.Token]) -> Value:
        return Value(int(items[0], 0), None, _tpos(items[0]))

    def constant_ref(self, items: list[lark.Token]) -> Value:
        return Value(None, str(items[0]), _tpos(items[0]))

    @lark.v_args(meta=True)
    def const_def(self, meta: object, items: list[object]) -> Const:
        name, value = items
        assert isinstance(name, lark.Token) and isinstance(value, Value)
        return Const(str(name), value, _tpos(name))

    @lark.v_args(meta=True)
    def typedef_def(self, meta: object, items: list[Decl]) -> Typedef:
        return Typedef(items[0], _pos(meta))

    @lark.v_args(meta=True)
    def enum_def(self, meta: object, items: list[object]) -> Enum:
        name = items[0]
        assert isinstance(name, lark.Token)
        members = tuple(m for m in items[1:] if isinstance(m, EnumMember))
        return Enum(str(name), members, _tpos(name))

    def enum_member(self, items: list[object]) -> EnumMember:
        annotations: list[Annotation] = []
        for token in items[:-2]:
            assert isinstance(token, lark.Token)
            key, _, text = str(token)[1:].partition(":")
            annotations.append(Annotation(key.strip(), text.strip(), _tpos(token)))
        name, value = items[-2], items[-1]
        assert isinstance(name, lark.Token) and isinstance(value, Value)
        return EnumMember(str(name), value, tuple(annotations), _tpos(name))

    @lark.v_args(meta=True)
    def struct_def(self, meta: object, items: list[object]) -> Struct:
        name = items[0]
        assert isinstance(name, lark.Token)
        fields = tuple(f for f in items[1:] if isinstance(f, Decl))
        return Struct(str(name), fields, _tpos(name))

    def field(self, items: list[Decl]) -> Decl:
        return items[0]

    def _decl(self, kind: str, base: str | None, name: lark.Token, bound: object) -> Decl:
        assert bound is None or isinstance(bound, Value)
        return Decl(str(name), kind, base, bound, _tpos(name))

    def plain_decl(self, items: list[object]) -> Decl:
        return self._decl("plain", str(items[0]), items[1], None)  # type: ignore[arg-type]

    def optional_decl(self, items: list[object]) -> Decl:
        return self._decl("optional", str(items[0]), items[1], None)  # type: ignore[arg-type]

    def fixed_array_decl(self, items: list[object]) -> Decl:
        return self._decl("fixed_array", str(items[0]), items[1], items[2])  # type: ignore[arg-type]

    def var_array_decl(self, items: list[object]) -> Decl:
        return self._decl("var_array", str(items[0]), items[1], items[2])  # type: ignore[arg-type]

    def string_decl(self, items: list[object]) -> Decl:
        return self._decl("string", None, items[0], items[1])  # type: ignore[arg-type]

    def fixed_opaque_decl(self, items: list[object]) -> Decl:
        return self._decl("fixed_opaque", None, items[0], items[1])  # type: ignore[arg-type]

    def var_opaque_decl(self, items: list[object]) -> Decl:
        return self._decl("var_opaque", None, items[0], items[1])  # type: ignore[arg-type]

    def named_type(self, items: list[lark.Token]) -> str:
        return str(items[0])

    def int_type(self, _: object) -> str:
        return "int"

    def uint_type(self, _: object) -> str:
        return "uint"

    def hyper_type(self, _: object) -> str:
        return "hyper"

    def uhyper_type(self, _: object) -> str:
        return "uhyper"

    def short_type(self, _: object) -> str:
        return "short"

    def ushort_type(self, _: object) -> str:
        return "ushort"

    def char_type(self, _: object) -> str:
        return "char"

    def uchar_type(self, _: object) -> str:
        return "uchar"

    def bool_type(self, _: object) -> str:
        return "bool"


_PARSER: lark.Lark | None = None


def _parser() -> lark.Lark:
    global _PARSER
    if _PARSER is None:
        _PARSER = lark.Lark(
            GRAMMAR_PATH.read_text(),
            parser="lalr",
            propagate_positions=True,
            maybe_placeholders=True,
        )
    return _PARSER


def parse(text: str, filename: str = "<spec>") -> Spec:
    """Parse and validate spec ``text``; raise :class:`SpecError` with a position."""
    try:
        tree = _parser().parse(text)
    except lark.UnexpectedInput as exc:
        detail = str(exc).strip().splitlines()[0]
        raise SpecError(filename, exc.line, exc.column, f"syntax error: {detail}") from exc
    try:
        definitions = _Builder().transform(tree)
    except lark.exceptions.VisitError as exc:  # a bad number literal and the like
        raise SpecError(filename, 0, 0, f"invalid spec: {exc.orig_exc}") from exc
    return _Validator(filename).run(definitions)


def parse_file(path: pathlib.Path) -> Spec:
    """Parse and validate the spec file at ``path``."""
    return parse(path.read_text(), str(path))


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Validator:
    """The validation pass over an explicit symbol table."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.constants: dict[str, int] = {}
        self.types: dict[str, Typedef | Enum | Struct] = {}
        self.names: set[str] = set()

    def fail(self, pos: Pos, text: str) -> SpecError:
        return SpecError(self.filename, pos.line, pos.column, text)

    def declare(self, name: str, pos: Pos) -> None:
        if name in self.names:
            raise self.fail(pos, f"duplicate name '{name}'")
        self.names.add(name)

    def value(self, value: Value) -> int:
        if value.number is not None:
            return value.number
        assert value.ref is not None
        if value.ref not in self.constants:
            raise self.fail(value.pos, f"undefined constant '{value.ref}'")
        return self.constants[value.ref]

    def check_decl(self, decl: Decl) -> None:
        if decl.base is not None and decl.base not in PRIMITIVES and decl.base not in self.types:
            raise self.fail(decl.pos, f"undefined type '{decl.base}' for '{decl.name}'")
        if decl.bound is not None and self.value(decl.bound) < 0:
            raise self.fail(decl.bound.pos, f"negative bound for '{decl.name}'")
        if decl.kind in ("fixed_array", "fixed_opaque") and decl.bound is None:
            raise self.fail(decl.pos, f"fixed size missing for '{decl.name}'")

    def run(self, definitions: tuple[Definition, ...]) -> Spec:
        for item in definitions:
            if isinstance(item, Const):
                self.declare(item.name, item.pos)
                self.constants[item.name] = self.value(item.value)
            elif isinstance(item, Typedef):
                self.check_decl(item.decl)
                self.declare(item.name, item.decl.pos)
                self.types[item.name] = item
            elif isinstance(item, Enum):
                self.declare(item.name, item.pos)
                self.enum(item)
                self.types[item.name] = item
            else:
                self.declare(item.name, item.pos)
                seen: set[str] = set()
                if not item.fields:
                    raise self.fail(item.pos, f"struct '{item.name}' has no fields")
                for decl in item.fields:
                    if decl.name in seen:
                        raise self.fail(decl.pos, f"duplicate field '{decl.name}' in '{item.name}'")
                    seen.add(decl.name)
                    self.check_decl(decl)
                self.types[item.name] = item
        procedures = self.procedures()
        return Spec(self.filename, definitions, self.constants, self.types, procedures)

    def enum(self, item: Enum) -> None:
        numbers: dict[int, str] = {}
        for member in item.members:
            self.declare(member.name, member.pos)
            number = self.value(member.value)
            if number in numbers:
                raise self.fail(
                    member.value.pos,
                    f"duplicate value {number} in '{item.name}' ({numbers[number]})",
                )
            numbers[number] = member.name
            self.constants[member.name] = number
            if member.annotations and item.name not in _PROCEDURE_ENUMS:
                raise self.fail(member.annotations[0].pos, "annotations only in " + PROCEDURE_ENUM)
            keys: set[str] = set()
            for ann in member.annotations:
                if ann.key not in ANNOTATION_VALUES:
                    raise self.fail(ann.pos, f"unknown annotation '@{ann.key}'")
                if ann.key in keys and ann.key != "rename":
                    raise self.fail(ann.pos, f"duplicate annotation '@{ann.key}'")
                keys.add(ann.key)
                allowed = ANNOTATION_VALUES[ann.key]
                if allowed is not None and ann.value not in allowed:
                    raise self.fail(ann.pos, f"invalid value '{ann.value}' for '@{ann.key}'")

    def procedures(self) -> tuple[Procedure, ...]:
        result: list[Procedure] = []
        for enum_name, prefix, struct_prefix, program_const in PROGRAMS:
            item = self.types.get(enum_name)
            if not isinstance(item, Enum):
                continue
            main = enum_name == PROCEDURE_ENUM
            program = 0
            if not main:
                if program_const not in self.constants:
                    raise self.fail(item.pos, f"'{enum_name}' needs const {program_const}")
                program = self.constants[program_const]
            for member in item.members:
                result.append(self.procedure(member, prefix, struct_prefix, main, program))
        return tuple(result)

    def procedure(
        self, member: EnumMember, prefix: str, struct_prefix: str, main: bool, program: int
    ) -> Procedure:
        if not member.name.startswith(prefix):
            raise self.fail(member.pos, f"procedure name must start with {prefix}")
        number = self.value(member.value)
        if number <= 0:
            raise self.fail(member.value.pos, "procedure numbers start at 1")
        ann = {a.key: a.value for a in member.annotations}
        renames = []
        for a in member.annotations:
            if a.key == "rename":
                old, sep, new = a.value.partition("=")
                if not sep or not _IDENT.match(old) or not _IDENT.match(new):
                    raise self.fail(a.pos, "@rename takes field=param")
                renames.append((old, new))
        bare = member.name[len(prefix) :]
        name = bare if main else struct_prefix.upper() + bare
        base = struct_prefix + bare.lower()
        structs = [
            n if isinstance(self.types.get(n), Struct) else None
            for n in (base + "_args", base + "_ret", base + "_msg")
        ]
        generate = ann.get("generate")
        if generate is None:
            raise self.fail(member.pos, f"'{member.name}' lacks @generate")
        return Procedure(
            name=name,
            number=number,
            key=number if main else program << 32 | number,
            generate=generate,
            readonly_allowed=ann.get("readonly") == "allowed",
            priority_high=ann.get("priority") == "high",
            api=ann.get("api") or "vir" + "".join(w.capitalize() for w in name.split("_")),
            client=ann.get("client"),
            server=ann.get("server"),
            renames=tuple(renames),
            args=structs[0],
            ret=structs[1],
            msg=structs[2],
        )
