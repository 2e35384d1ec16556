"""Small helpers for the text neuronsim prints."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``"1 device"``, ``"2 devices"``, ``"0 devices"``: the count and the word, agreeing in number.

    ``many`` is the plural when it is not ``singular + "s"`` (``plural(n, "NeuronLink link")``)."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"
