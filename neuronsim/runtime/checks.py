"""Checks of C-style arguments, and the refusal they make: a runtime operation refuses a bad argument
by raising ``_Status(status, reason)`` (:func:`_refuse`); the mirror call that made it
(:mod:`neuronsim.api.mirror`) logs ``"<call>: <reason> -> <STATUS>"`` and returns the status.

``_ref``, ``_int``, ``_enum`` and ``_host_buffer`` check C-style arguments and name the argument in the
reason they give.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NoReturn, TypeVar

import numpy as np

from neuronsim.nrt import NRT_STATUS, Ref

__all__ = ["ForeignHandle", "_Status", "_refuse", "_ref", "_int", "_enum", "_host_buffer", "_show", "S"]

S = NRT_STATUS
E = TypeVar("E", bound=IntEnum)


class _Status(Exception):
    """Raised inside a mirror method to return ``status``; ``reason`` says why (it is logged)."""

    def __init__(self, status: NRT_STATUS, reason: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _refuse(reason: str, status: NRT_STATUS = S.NRT_INVALID) -> NoReturn:
    """Refuse the current call with ``status`` because of ``reason`` (logged as the call's error)."""
    raise _Status(status, reason)


def _ref(cell: Any, what: str = "out-parameter") -> Ref:
    if not isinstance(cell, Ref):
        _refuse(f"{what} is {_show(cell)}, not an nrt.Ref (a NULL or non-pointer out-parameter)")
    return cell


def _int(value: Any, what: str = "argument") -> int:
    if type(value) is int:
        return value
    if isinstance(value, Ref):
        _refuse(f"{what} is {_show(value)}: pass its .value")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        _refuse(f"{what} is {_show(value)}, not an integer")
    return int(value)


def _enum(value: Any, enum: type[E], what: str) -> E:
    """``value`` as a member of the C enum ``enum`` (a member or its integer value)."""
    number = _int(value, what)
    try:
        return enum(number)
    except ValueError:
        _refuse(f"{what} {number} is not a {enum.__name__} value "
                f"({', '.join(f'{m.name}={int(m)}' for m in enum)})")


def _host_buffer(buf: Any, size: int, writable: bool, what: str = "buf") -> memoryview:
    if isinstance(buf, Ref):
        _refuse(f"{what} is {_show(buf)}: pass its .value")
    try:
        view = memoryview(buf)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
    except (TypeError, ValueError):
        _refuse(f"{what} is {_show(buf)}, not a C-contiguous buffer (bytes, bytearray, numpy array)")
    if view.nbytes < size:
        _refuse(f"{what} holds {view.nbytes} bytes, fewer than size {size}")
    if writable and view.readonly:
        _refuse(f"{what} is read-only ({type(buf).__name__}) and the call writes into it")
    return view


class ForeignHandle:
    """A non-NULL C pointer passed where a runtime object's handle goes that the C library never handed out (a
    stray or corrupted pointer): it reaches the mirror as this, which every check refuses, and the log line
    shows its address instead of calling it NULL."""

    __slots__ = ("address",)

    def __init__(self, address: int) -> None:
        self.address = address


def _show(value: Any) -> str:
    """A short description of an argument for a log line."""
    if value is None:
        return "NULL (None)"
    if type(value) is ForeignHandle:
        return f"{value.address:#x} (a handle this process never gave out)"
    if isinstance(value, (int, float, str, bytes)) and not isinstance(value, bool):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, list):
        return f"a Python list of {len(value)} items"
    return f"a {type(value).__name__}"
