"""Where the optional compiled flow network lives, and whether to use it (see :mod:`neuronsim.hw.accel`).

Kept apart from the build command so that importing ``neuronsim.hw`` reads only this (stdlib only)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

__all__ = ["MODULES", "build_dir", "built", "enabled"]

HW = Path(__file__).resolve().parent
MODULES = ("fluid.py", "filling.py", "flows.py", "channel.py", "xu.py")  # compiled, from neuronsim/hw (each its own
# extension): the flow model (channels and flows, the max-min solve, the network; channel.py re-exports them)
# and the execution units


def _digest() -> str:
    h = hashlib.sha256()
    for name in MODULES:
        h.update(name.encode() + b"\0" + (HW / name).read_bytes())
    try:
        from importlib.metadata import version
        h.update(version("mypy").encode())
    except Exception:  # noqa: BLE001 - no mypy: no build can match, the digest only names a directory
        h.update(b"no mypy")
    return h.hexdigest()[:16]


def build_dir() -> Path:
    """The directory a build of the current sources has (or would have) its ``neuronsim/hw`` in."""
    root = Path(os.environ.get("NEURONSIM_ACCEL_DIR") or Path.home() / ".cache" / "neuronsim" / "accel")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return root / f"{tag}-{_digest()}" / "neuronsim" / "hw"


def built(where: Path) -> bool:
    return all(any(where.glob(Path(name).stem + ".*.so")) or any(where.glob(Path(name).stem + ".*.pyd"))
               for name in MODULES)


def enabled() -> Path | None:
    """The build to use: ``NEURONSIM_ACCEL=1`` and a build of the current sources, else ``None``."""
    if os.environ.get("NEURONSIM_ACCEL") != "1":
        return None
    where = build_dir()
    return where if built(where) else None
