"""The DAC security driver: QEMU as a dedicated user, images lent to it (libvirt's security_dac.c).

This module owns, for a system driver (``qemu:///system``, and
``qemu:///system?root=DIR``):

* the configuration libvirt keeps in ``qemu.conf``: ``user``, ``group``
  (names or ``+UID``/``+GID``; default ``minivirt-qemu``, created as a system
  user and group when missing), ``dynamic_ownership`` (default 1);
* who QEMU runs as (uid, gid, supplementary groups) and whether it may use
  ``/dev/kvm``;
* lending a domain's images to that user at start (``chown``) and giving
  them back at stop — previous owner *and* mode restored — and giving back
  at once the images a completed pull dropped from a disk's chain, so the
  QEMU user can no longer open the old template (unless its mode lets
  everyone read it: DAC, like libvirt's, restores the owner, it never
  tightens a mode).

libvirt 9 remembers the original owner in extended attributes of each image
(``trusted.libvirt.security.dac`` with a reference count).  minivirt keeps
the same facts in one JSON record, ``<config dir>/security/dac.json``,
written atomically after every change: the record survives a daemon restart
(an image lent to a QEMU that went away meanwhile is given back when the
driver starts again), works on file systems without ``trusted.*`` xattrs
(tmpfs in containers) and needs no privilege to read.  An image shared by
several running domains is counted once per domain and given back when the
last one lets it go.

Session and embed drivers run QEMU as the calling user and change no owner,
as libvirt's session driver.  It must not speak QMP nor hold domain state
beyond the record.

Errors: SYSTEM_ERROR (38) from error domain SECURITY (24) "unable to set
user and group to '%d:%d' on '%s': <strerror>" when an image cannot be given
to the QEMU user (libvirt's text; as libvirt, EPERM, EROFS and EOPNOTSUPP
are tolerated: the file stays as it is), CONFIG_UNSUPPORTED / INTERNAL_ERROR
for a bad ``qemu.conf`` or a user that cannot be found or created.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import grp
import json
import logging
import os
import pwd
import re
import stat
import subprocess
import threading
from collections.abc import Iterable
from typing import Final

from minivirt.conf import DomainDef
from minivirt.public import ErrorDomain, ErrorNumber, VirError
from minivirt.qemu import process
from minivirt.qemu.paths import StateRoots

__all__ = [
    "DEFAULT_USER",
    "DacConfig",
    "DacDriver",
    "QemuIdentity",
    "identity_for",
    "image_paths",
    "load_config",
    "may_open",
]

_log = logging.getLogger(__name__)

#: The QEMU user (and group) of a system driver when qemu.conf names none.
DEFAULT_USER: Final[str] = "minivirt-qemu"
#: chown errors libvirt's DAC driver logs and ignores (the file keeps its owner).
_TOLERATED: Final = frozenset({errno.EPERM, errno.EROFS, errno.EOPNOTSUPP, errno.EINVAL})
_LINE: Final = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\"[^\"]*\"|[0-9]+)\s*(#.*)?")


@dataclasses.dataclass(frozen=True, slots=True)
class DacConfig:
    """What ``qemu.conf`` says: user and group names, dynamic ownership."""

    user: str = DEFAULT_USER
    group: str = DEFAULT_USER
    dynamic_ownership: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class QemuIdentity:
    """Who QEMU runs as: uid, gid and supplementary groups (all None: the caller)."""

    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] = ()


def _conf_error(path: str, detail: str) -> VirError:
    return VirError.report(ErrorNumber.CONF_SYNTAX, ErrorDomain.CONF, f"{path}: {detail}")


def load_config(path: str) -> DacConfig:
    """Read ``user``, ``group`` and ``dynamic_ownership`` from a qemu.conf (absent: defaults).

    Other keys are ignored.  Raises VirError CONF_SYNTAX (domain CONF) for a
    line that is not ``key = "string"`` or ``key = number``.
    """
    values: dict[str, str | int] = {}
    try:
        with open(path, encoding="utf-8") as src:
            lines = src.read().splitlines()
    except FileNotFoundError:
        lines = []
    except OSError as exc:
        raise _conf_error(path, exc.strerror or str(exc)) from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise _conf_error(path, f'line {number}: expected key = "value" or key = number')
        raw = match.group(2)
        values[match.group(1)] = raw[1:-1] if raw.startswith('"') else int(raw)
    user = str(values.get("user", DEFAULT_USER))
    group = str(values.get("group", user if "user" in values else DEFAULT_USER))
    return DacConfig(user, group, bool(values.get("dynamic_ownership", 1)))


def _lookup_uid(name: str) -> int | None:
    if name.startswith("+") and name[1:].isdigit():
        return int(name[1:])
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _lookup_gid(name: str) -> int | None:
    if name.startswith("+") and name[1:].isdigit():
        return int(name[1:])
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _create_account(config: DacConfig) -> None:
    """Create the configured system group and user (as a distribution's package does)."""
    commands = []
    if _lookup_gid(config.group) is None and not config.group.startswith("+"):
        commands.append(["groupadd", "--system", config.group])
    if _lookup_uid(config.user) is None and not config.user.startswith("+"):
        commands.append(
            [
                *("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"),
                *("--shell", "/usr/sbin/nologin", "--gid", config.group, config.user),
            ]
        )
    for cmd in commands:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 and done.returncode != 9:  # 9: created meanwhile
            raise VirError.report(
                ErrorNumber.INTERNAL_ERROR,
                ErrorDomain.SECURITY,
                f"cannot create QEMU account '{cmd[-1]}': {done.stderr.strip()}",
            )


def identity_for(config: DacConfig) -> QemuIdentity:
    """The uid/gid/groups of the configured user, creating it when missing (as root).

    Raises INTERNAL_ERROR (domain SECURITY) when it does not exist and cannot
    be created.
    """
    uid, gid = _lookup_uid(config.user), _lookup_gid(config.group)
    if (uid is None or gid is None) and os.geteuid() == 0:
        _create_account(config)
        uid, gid = _lookup_uid(config.user), _lookup_gid(config.group)
    if uid is None or gid is None:
        missing = config.user if uid is None else config.group
        raise VirError.report(
            ErrorNumber.INTERNAL_ERROR,
            ErrorDomain.SECURITY,
            f"Failed to find user or group record for '{missing}'",
        )
    try:
        groups = tuple(g for g in os.getgrouplist(pwd.getpwuid(uid).pw_name, gid) if g != gid)
    except KeyError:
        groups = ()
    return QemuIdentity(uid, gid, groups)


def image_paths(defn: DomainDef) -> list[str]:
    """Every image QEMU opens for ``defn``: each disk's whole backing chain, top first."""
    paths: list[str] = []
    for disk in defn.disks:
        chain = process.image_chain(disk.source, disk.format)
        paths += [entry.path for entry in chain] if chain else [disk.source]
    return paths


def may_open(path: str, ident: QemuIdentity, mode: int = os.R_OK | os.W_OK) -> bool:
    """Whether ``ident`` may open ``path`` with ``mode`` by its permission bits alone."""
    if ident.uid is None or ident.uid == 0:
        return os.access(path, mode)
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_uid == ident.uid:
        bits = (st.st_mode >> 6) & 7
    elif st.st_gid == ident.gid or st.st_gid in ident.groups:
        bits = (st.st_mode >> 3) & 7
    else:
        bits = st.st_mode & 7
    want = (4 if mode & os.R_OK else 0) | (2 if mode & os.W_OK else 0)
    return bits & want == want


class DacDriver:
    """One driver state's DAC security manager and its durable record of lent images."""

    def __init__(self, roots: StateRoots) -> None:
        self.enabled = False
        self.identity = QemuIdentity()
        self.config = DacConfig()
        if roots.kind == "system" and roots.conf_file:
            self.config = load_config(roots.conf_file)
            self.identity = identity_for(self.config)
            self.enabled = self.config.dynamic_ownership
        self._dir = os.path.join(roots.config_dir, "security")
        self._path = os.path.join(self._dir, "dac.json")
        self._lock = threading.Lock()
        self._images: dict[str, dict[str, int]] = {}
        self._domains: dict[str, list[str]] = {}
        self._load()

    # -- the record ---------------------------------------------------------

    def _load(self) -> None:
        try:
            with open(self._path, encoding="utf-8") as src:
                data = json.load(src)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            _log.warning("ignoring unreadable DAC record %s: %s", self._path, exc)
            return
        self._images = {str(k): dict(v) for k, v in dict(data.get("images", {})).items()}
        self._domains = {str(k): list(v) for k, v in dict(data.get("domains", {})).items()}

    def _save(self) -> None:
        os.makedirs(self._dir, mode=0o700, exist_ok=True)
        tmp = f"{self._path}.new"
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump({"images": self._images, "domains": self._domains}, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self._path)

    def lent(self, uuid: str) -> list[str]:
        """The images currently lent to the QEMU user for domain ``uuid``."""
        with self._lock:
            return list(self._domains.get(uuid, ()))

    def original(self, path: str) -> tuple[int, int, int] | None:
        """The remembered (uid, gid, mode) of a lent image, or None."""
        with self._lock:
            rec = self._images.get(path)
            return None if rec is None else (rec["uid"], rec["gid"], rec["mode"])

    # -- lending and giving back -----------------------------------------------

    def _chown(self, path: str, uid: int, gid: int) -> None:
        try:
            os.chown(path, uid, gid)
        except OSError as exc:
            if exc.errno in _TOLERATED:
                _log.info("not setting user and group to '%d:%d' on '%s': %s", uid, gid, path, exc)
                return
            raise VirError.report(
                ErrorNumber.SYSTEM_ERROR,
                ErrorDomain.SECURITY,
                f"unable to set user and group to '{uid}:{gid}' on '{path}': {exc.strerror}",
            ) from exc

    def _lend(self, path: str) -> None:
        rec = self._images.get(path)
        if rec is None:
            try:
                st = os.stat(path)
            except OSError as exc:
                uid, gid = self.identity.uid, self.identity.gid
                raise VirError.report(
                    ErrorNumber.SYSTEM_ERROR,
                    ErrorDomain.SECURITY,
                    f"unable to set user and group to '{uid}:{gid}' on '{path}': {exc.strerror}",
                ) from exc
            assert self.identity.uid is not None and self.identity.gid is not None
            self._chown(path, self.identity.uid, self.identity.gid)
            rec = {"uid": st.st_uid, "gid": st.st_gid, "mode": stat.S_IMODE(st.st_mode), "refs": 0}
            self._images[path] = rec
        rec["refs"] += 1

    def _give_back(self, path: str) -> None:
        rec = self._images.get(path)
        if rec is None:
            return
        rec["refs"] -= 1
        if rec["refs"] > 0:
            return
        del self._images[path]
        try:
            os.chown(path, rec["uid"], rec["gid"])
            os.chmod(path, rec["mode"])
        except OSError as exc:
            _log.warning("Unable to restore label on '%s': %s", path, exc)

    def set_domain(self, uuid: str, paths: Iterable[str]) -> None:
        """Lend every image of a starting domain to the QEMU user (virSecurityDACSetAllLabel).

        All or nothing: on failure what this call changed is given back and
        the error raised (SYSTEM_ERROR, domain SECURITY).
        """
        if not self.enabled:
            return
        with self._lock:
            held = self._domains.setdefault(uuid, [])
            done: list[str] = []
            try:
                for path in dict.fromkeys(paths):
                    if path in held:
                        continue
                    self._lend(path)
                    held.append(path)
                    done.append(path)
            except VirError:
                for path in reversed(done):
                    held.remove(path)
                    self._give_back(path)
                if not held:
                    del self._domains[uuid]
                self._save()
                raise
            self._save()

    def release(
        self, uuid: str, paths: Iterable[str] | None = None, save: bool = True
    ) -> list[str]:
        """Give back ``paths`` (all the domain's images when None); returns those given back.

        virSecurityDACRestoreAllLabel at stop; after a pull, the images it
        dropped from a chain.  Never raises: a file that cannot be restored
        is logged, as libvirt does.  ``save=False`` leaves the record to a
        later :meth:`save` (the owners are restored now either way).
        """
        with self._lock:
            held = self._domains.get(uuid)
            if not held:
                return []
            wanted = list(held) if paths is None else [p for p in dict.fromkeys(paths) if p in held]
            for path in wanted:
                held.remove(path)
                self._give_back(path)
            if not held:
                del self._domains[uuid]
            if save:
                with contextlib.suppress(OSError):
                    self._save()
            return wanted

    def save(self) -> None:
        """Write the record now (after ``release(..., save=False)``); never raises."""
        with self._lock, contextlib.suppress(OSError):
            self._save()

    def release_orphans(self, active: Iterable[str]) -> None:
        """Give back the images of domains no longer running (e.g. QEMU died while we were down)."""
        keep = set(active)
        for uuid in [u for u in self.lent_domains() if u not in keep]:
            given = self.release(uuid)
            _log.info("gave back %d image(s) of stopped domain %s", len(given), uuid)

    def lent_domains(self) -> list[str]:
        """The domains holding images in the record."""
        with self._lock:
            return list(self._domains)

    # -- QEMU's process -----------------------------------------------------------

    def spawn_user(self) -> tuple[int, int, tuple[int, ...]] | None:
        """(uid, gid, groups) to run QEMU as, or None for the calling user."""
        ident = self.identity
        if ident.uid is None or ident.gid is None:
            return None
        return ident.uid, ident.gid, ident.groups

    def kvm_allowed(self) -> bool:
        """Whether QEMU, run as the configured user, may open /dev/kvm."""
        return may_open("/dev/kvm", self.identity)
