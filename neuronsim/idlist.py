"""Id lists: parsing and formatting of ``"0-31,64-95"``-style lists of integer ids.

The same syntax serves CPU sets (``taskset --cpu-list``, neuron-ls CPU AFFINITY) and
NeuronCore lists (``NEURON_RT_VISIBLE_CORES``). No dependencies.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["IdListError", "MAX_ID", "parse_id_list", "format_id_list", "is_contiguous"]

MAX_ID = 65_535
"""The largest id a list may name (docs/assumptions.md A110): above every CPU, NeuronCore and device id
of any instance or cluster neuronsim models (Linux's own CPU limit is 8,192), and low enough that a
list is never more than 65,536 ids long."""


class IdListError(ValueError):
    """A malformed id list."""


def parse_id_list(text: str, max_id: int = MAX_ID) -> tuple[int, ...]:
    """Parse ``"3"``, ``"3-6"``, ``"3,4,5"`` or ``"0-31,64-95"`` into a tuple of ids in written order.

    Raises:
        IdListError: on empty items, negative ids, reversed ranges, duplicate ids or an id above
            ``max_id`` (checked before any range is expanded, so ``0-999999999`` costs nothing).
    """
    if not isinstance(text, str) or not text.strip():
        raise IdListError(f"{text!r} is not an id list (expected e.g. '0-3' or '0,2,4')")
    ids: list[int] = []
    for item in text.split(","):
        item = item.strip()
        lo_text, sep, hi_text = item.partition("-")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if sep else lo
        except ValueError:
            raise IdListError(f"{_short(item)} in {_short(text)} is not an id or an id range") from None
        if lo < 0 or hi < lo:
            raise IdListError(f"range {item!r} in {text!r} is empty or negative")
        if hi > max_id:
            raise IdListError(f"id {hi} in {_short(text)} is above {max_id:,}, the largest id neuronsim accepts")
        ids.extend(range(lo, hi + 1))
    if len(set(ids)) != len(ids):
        raise IdListError(f"{text!r} names an id more than once")
    return tuple(ids)


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:50]) + f"... ({len(text):,} characters)"


def is_contiguous(ids: tuple[int, ...] | list[int]) -> bool:
    """True when the ids, sorted, form one unbroken run (``3,4,5``, not ``3,5,6``)."""
    ordered = sorted(ids)
    return all(b == a + 1 for a, b in zip(ordered, ordered[1:], strict=False))


def format_id_list(ids: Iterable[int]) -> str:
    """Format ids as ranges in ascending order: ``(0, 1, 2, 5)`` -> ``"0-2,5"``."""
    ordered = sorted(ids)
    if not ordered:
        return ""
    parts: list[str] = []
    start = prev = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if value is not None:
            start = prev = value
    return ",".join(parts)
