"""The mirror's calling convention: every ``nrt_*`` / ``nrta_*`` method returns an ``NRT_STATUS``.

``_mirror`` wraps a method: the state check (``NRT_UNINITIALIZED`` / ``NRT_CLOSED``), the call's host
cost in direct mode (A5, A10), and argument errors turned into statuses; ``_Status`` lets a helper
return a status from deep inside a call; ``_ref``, ``_int`` and ``_host_buffer`` check C-style arguments.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from neuronsim.nrt import NRT_STATUS, Ref

__all__ = ["_Status", "_mirror", "_ref", "_int", "_host_buffer", "S"]

log = logging.getLogger("neuronsim.runtime")
S = NRT_STATUS


class _Status(Exception):
    """Raised inside a mirror method to return ``status``."""

    def __init__(self, status: NRT_STATUS) -> None:
        self.status = status


def _mirror(cost: str | None, *, needs_init: bool = True) -> Callable:
    """Wrap a mirror method: state check, host cost, argument errors -> statuses."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if needs_init and self._state != "open":
                return S.NRT_CLOSED if self._state == "closed" else S.NRT_UNINITIALIZED
            if cost is not None:
                spend = self._cost_table[cost]
                if spend:
                    self._advance_to(self._env._now + spend)  # noqa: SLF001 - hot path
            try:
                return fn(self, *args, **kwargs)
            except _Status as exc:
                return exc.status
            except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError) as exc:
                log.debug("%s: bad argument: %s", fn.__name__, exc)
                return S.NRT_INVALID

        wrapper.cost_kind = cost  # type: ignore[attr-defined] - which call cost it spends (process mode reads it)
        return wrapper

    return decorate


def _ref(cell: Any) -> Ref:
    if not isinstance(cell, Ref):
        raise _Status(S.NRT_INVALID)  # a NULL (or non-pointer) out-parameter
    return cell


def _int(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _Status(S.NRT_INVALID)
    return int(value)


def _host_buffer(buf: Any, size: int, writable: bool) -> memoryview:
    try:
        view = memoryview(buf)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
    except TypeError:
        raise _Status(S.NRT_INVALID) from None
    if view.nbytes < size or (writable and view.readonly):
        raise _Status(S.NRT_INVALID)
    return view


