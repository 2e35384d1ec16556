"""What to tell a user who lacks an optional extra: the install commands that work (docs/howto/install.md).

neuronsim is not on the public package index, so ``pip install "neuronsim[plots]"`` fails; the extras are
installed from a checkout (``pip install ".[plots]"``), a built wheel or a git URL.
"""

from __future__ import annotations

__all__ = ["EXTRAS", "install_hint"]

EXTRAS = ("plots", "sweep", "capi", "test", "typecheck", "all")


def install_hint(extra: str) -> str:
    """``the plots extra (pip install ".[plots]" in a checkout, or the wheel with [plots]; docs/howto/install.md)``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    return (f'the {extra} extra (pip install ".[{extra}]" in a checkout, or the wheel with [{extra}]; '
            "docs/howto/install.md)")
