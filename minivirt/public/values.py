"""The base of minivirt's small frozen values: ``FrozenValue`` (slots, eq, hash, repr, pickle).

Owns the behaviour a frozen, slotted dataclass would give, written once as a
plain base class: every one-shot ``minivirsh`` builds these classes at import,
and the ``dataclasses`` machinery (its import and the code it generates per
class) cost more than the rest of the client's values together.  A subclass
lists its fields in ``_fields`` (all of them, parents' first), its own in
``__slots__``, and writes a typed ``__init__`` that sets them through
:func:`init_fields`.  Values compare equal when of the same class with equal
fields; assigning or deleting a field raises ``AttributeError``.

Must not hold logic beyond that.
"""

from __future__ import annotations

__all__ = ["FrozenValue", "init_fields"]

_set = object.__setattr__


def init_fields(value: FrozenValue, *values: object) -> None:
    """Set ``value``'s fields (in ``_fields`` order) once, from its ``__init__``."""
    for name, item in zip(value._fields, values, strict=True):
        _set(value, name, item)


class FrozenValue:
    """Frozen, slotted value: equality, hash and repr over ``_fields``."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field '{name}'")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field '{name}'")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, FrozenValue)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self) -> tuple[type[FrozenValue], tuple[object, ...]]:
        return (type(self), self._values())
