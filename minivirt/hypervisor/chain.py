"""Backing chains as the shared rules read them: the base lookup, relative names, pulls.

This module owns :class:`ChainImage` (one image of a disk's chain, top
first), libvirt's lookup of a rebase base below the top image
(virStorageSourceChainLookup: its errors are the storage code's,
``VIR_FROM_STORAGE``, whatever the driver), the base's name relative to the
top for RELATIVE, and the chain a completed pull leaves.  Pure: file-system
questions (symbolic links) are the caller's, passed in as ``same_file``.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Callable, Sequence

from minivirt.public import ErrorDomain, ErrorNumber, VirError

__all__ = ["ChainImage", "find_base", "pulled_chain", "relative_backing"]


@dataclasses.dataclass(frozen=True, slots=True)
class ChainImage:
    """One image of a disk's backing chain: path, format and its backing as recorded in it."""

    path: str
    format: str
    backing_name: str | None


def _index_name(name: str) -> tuple[str, int] | None:
    """``vda[3]`` -> ('vda', 3) (virStorageFileParseBackingStoreStr), else None."""
    if not name.endswith("]") or "[" not in name:
        return None
    target, _, index = name[:-1].partition("[")
    if not target or not index.isdigit():
        return None
    return target, int(index)


def _storage_error(detail: str) -> VirError:
    return VirError.report(ErrorNumber.INVALID_ARG, ErrorDomain.STORAGE, detail)


def find_base(
    chain: Sequence[ChainImage],
    name: str,
    target: str,
    same_file: Callable[[str, str], bool] | None = None,
    top_index: int = 1,
) -> int:
    """virStorageSourceChainLookup below the top: the index in ``chain`` (top = 0) of ``name``.

    ``name`` is ``<target>[<index>]`` with libvirt's storage index (the
    ``index`` attributes of the live XML; ``top_index`` is the top image's,
    see ``minivirt.conf.top_storage_index``), a path as recorded in the image
    above, an absolute path, or a path relative to the image above;
    ``same_file`` may add a file-system comparison (symbolic links).  INVALID_ARG
    (VIR_FROM_STORAGE) "requested target '%s' does not match target '%s'",
    "could not find backing store index '%u' in chain for '%s'", "could not find
    image '%s' beneath '%s' in chain for '%s'".
    """
    indexed = _index_name(name)
    if indexed is not None and indexed[1] != 0:
        wanted, index = indexed
        if wanted != target:
            raise _storage_error(f"requested target '{wanted}' does not match target '{target}'")
        if 0 < index - top_index < len(chain):
            return index - top_index
        raise _storage_error(
            f"could not find backing store index '{index}' in chain for '{target}'"
        )
    for i in range(1, len(chain)):
        above, image = chain[i - 1], chain[i]
        if name in (image.path, above.backing_name):
            return i
        joined = (
            name if name.startswith("/") else posixpath.join(posixpath.dirname(above.path), name)
        )
        if posixpath.normpath(joined) == posixpath.normpath(image.path):
            return i
        if same_file is not None and same_file(joined, image.path):
            return i
    top = chain[0].path if chain else ""
    raise _storage_error(f"could not find image '{name}' beneath '{top}' in chain for '{target}'")


def relative_backing(chain: Sequence[ChainImage], base_index: int, domain: ErrorDomain) -> str:
    """The base's name relative to the top image, through the names recorded in the chain.

    OPERATION_INVALID "can't keep relative backing relationship" when a link
    between the top and the base was recorded as an absolute path.
    """
    rel = ""
    for i in range(base_index):
        recorded = chain[i].backing_name
        if not recorded or recorded.startswith("/"):
            raise VirError.report(
                ErrorNumber.OPERATION_INVALID,
                domain,
                "can't keep relative backing relationship",
            )
        rel = posixpath.join(posixpath.dirname(rel), recorded)
    return rel


def pulled_chain(chain: Sequence[ChainImage], base_index: int | None) -> tuple[ChainImage, ...]:
    """The chain after a completed pull: the top now backed by the base, or standing alone."""
    if not chain:
        return ()
    if base_index:
        top = dataclasses.replace(chain[0], backing_name=chain[base_index].path)
        return (top, *chain[base_index:])
    return (dataclasses.replace(chain[0], backing_name=None),)
