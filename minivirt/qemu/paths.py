"""Where the qemu driver keeps its state, for each URI it serves.

This module owns the mapping ``qemu:///session`` / ``qemu:///embed?root=DIR``
/ ``qemu:///system`` (and ``qemu:///system?root=DIR``, the system driver with
all its state under DIR, for tests and demos) → configuration, runtime and
log directories and the driver's configuration file, and the
decision to decline URIs that are not this driver's (remote ones, other
schemes).  It creates no directory and starts nothing.
"""

from __future__ import annotations

import dataclasses
import os

from minivirt.public import ConnectURI, ErrorDomain, ErrorNumber, VirError

__all__ = ["StateRoots", "roots_for_uri"]


@dataclasses.dataclass(frozen=True, slots=True)
class StateRoots:
    """One driver state's directories; ``uri`` is the canonical URI it answers to."""

    uri: str
    kind: str
    config_dir: str
    run_dir: str
    log_dir: str
    #: The driver's configuration file (libvirt's qemu.conf); "" when the
    #: driver reads none (session and embed: QEMU runs as the calling user).
    conf_file: str = ""

    @property
    def key(self) -> str:
        """Connections with the same key share one driver state in the process."""
        return self.config_dir


def _session_roots() -> StateRoots:
    home = os.path.expanduser("~")
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    run_dir = (
        os.path.join(runtime, "minivirt", "qemu")
        if runtime
        else os.path.join(cache_home, "minivirt", "qemu", "run")
    )
    return StateRoots(
        uri="qemu:///session",
        kind="session",
        config_dir=os.path.join(config_home, "minivirt", "qemu"),
        run_dir=run_dir,
        log_dir=os.path.join(cache_home, "minivirt", "qemu", "log"),
    )


def _embed_roots(root: str) -> StateRoots:
    root = os.path.abspath(root)
    return StateRoots(
        uri=f"qemu:///embed?root={root}",
        kind="embed",
        config_dir=os.path.join(root, "etc", "qemu"),
        run_dir=os.path.join(root, "run", "qemu"),
        log_dir=os.path.join(root, "log", "qemu"),
    )


def _system_roots(root: str | None) -> StateRoots:
    if root:
        root = os.path.abspath(root)
        return StateRoots(
            uri=f"qemu:///system?root={root}",
            kind="system",
            config_dir=os.path.join(root, "lib", "qemu"),
            run_dir=os.path.join(root, "run", "qemu"),
            log_dir=os.path.join(root, "log", "qemu"),
            conf_file=os.path.join(root, "etc", "qemu.conf"),
        )
    return StateRoots(
        uri="qemu:///system",
        kind="system",
        config_dir="/var/lib/minivirt/qemu",
        run_dir="/run/minivirt/qemu",
        log_dir="/var/log/minivirt/qemu",
        conf_file="/etc/minivirt/qemu.conf",
    )


def roots_for_uri(uri: ConnectURI) -> StateRoots | None:
    """The state directories for ``uri``, or None when this driver does not serve it.

    Declines other schemes, any transport and any host (those are remote).
    Raises VirError INVALID_ARG "URI must be qemu:///embed?root=dir" for an
    embed URI without ``root``, and INTERNAL_ERROR "unexpected QEMU URI path
    '%s', try qemu:///session" for an unknown path.
    """
    if uri.scheme != "qemu" or uri.transport or uri.host:
        return None
    path = uri.path or "/"
    if path == "/session":
        return _session_roots()
    if path == "/system":
        return _system_roots(uri.query.get("root"))
    if path == "/embed":
        root = uri.query.get("root")
        if not root:
            raise VirError.report(
                ErrorNumber.INVALID_ARG, ErrorDomain.QEMU, "URI must be qemu:///embed?root=dir"
            )
        return _embed_roots(root)
    raise VirError.report(
        ErrorNumber.INTERNAL_ERROR,
        ErrorDomain.QEMU,
        f"unexpected QEMU URI path '{path}', try qemu:///session",
    )
