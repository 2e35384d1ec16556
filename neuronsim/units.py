"""Units: integer nanoseconds, integer bytes, bandwidth in bytes per nanosecond.

The bottom layer of neuronsim; it imports nothing from the package. Every quantity that
crosses a layer boundary is in one of three canonical units:

* time: ``int`` nanoseconds (the SimPy clock itself, no scaling);
* size: ``int`` bytes;
* bandwidth: ``float`` bytes per nanosecond, which is numerically equal to decimal GB/s.

Human units appear only at the edges: YAML files and the command line accept strings such
as ``"32 GiB"``, ``"1.5 us"``, ``"820 GB/s"`` or ``"100 Gbps"``; reports format them back.
Decimal prefixes are powers of ten (GB = 10**9 bytes) and binary prefixes powers of two
(GiB = 2**30 bytes), exactly. An unknown unit is an error, never a guess.
"""

from __future__ import annotations

import math
import re
from decimal import Context, Decimal, InvalidOperation
from typing import Final

__all__ = [
    "NS",
    "US",
    "MS",
    "S",
    "KiB",
    "MiB",
    "GiB",
    "TiB",
    "KB",
    "MB",
    "GB",
    "TB",
    "UnitError",
    "MAX_BYTES",
    "MAX_NS",
    "MIN_BANDWIDTH",
    "MAX_BANDWIDTH",
    "parse_bytes",
    "parse_time_ns",
    "parse_duration",
    "parse_bandwidth",
    "transfer_time_ns",
    "TRANSFER_SLACK",
    "format_bytes",
    "format_ns",
]

NS: Final = 1
US: Final = 1_000
MS: Final = 1_000_000
S: Final = 1_000_000_000

KiB: Final = 1 << 10
MiB: Final = 1 << 20
GiB: Final = 1 << 30
TiB: Final = 1 << 40
KB: Final = 10**3
MB: Final = 10**6
GB: Final = 10**9
TB: Final = 10**12


TRANSFER_SLACK: Final = 1e-12  # relative slack absorbing float error in transfer_time_ns

# the ranges a quantity may take (docs/assumptions.md A111): what the C ABI's types hold
MAX_BYTES: Final = 2**64 - 1
"""The largest size: a ``uint64_t`` / ``size_t`` (16 EiB)."""
MAX_NS: Final = 2**63 - 1
"""The longest time: ``int64_t`` nanoseconds (292 years), what numpy and C timestamps hold."""
MIN_BANDWIDTH: Final = 1e-9
"""The lowest bandwidth, in bytes per ns: 1 byte per second."""
MAX_BANDWIDTH: Final = 1e9
"""The highest bandwidth, in bytes per ns: 10**18 bytes (an exabyte) per second."""
_EXACT = Context(prec=120)  # exact for every number _split lets through (at most 40 digits either side)


class UnitError(ValueError):
    """A quantity string that cannot be parsed: unknown unit, bad number, or not exact."""


_BYTE_UNITS: Final[dict[str, int]] = {
    "B": 1,
    "kB": KB,
    "KB": KB,
    "MB": MB,
    "GB": GB,
    "TB": TB,
    "KiB": KiB,
    "MiB": MiB,
    "GiB": GiB,
    "TiB": TiB,
}
_TIME_UNITS: Final[dict[str, int]] = {"ns": NS, "us": US, "µs": US, "ms": MS, "s": S}
# bandwidth units as (numerator bytes, per seconds); bits are bytes / 8
_BW_UNITS: Final[dict[str, Decimal]] = {
    "B/ns": Decimal(1),
    "B/s": Decimal(1) / Decimal(S),
    "kB/s": Decimal(KB) / Decimal(S),
    "KB/s": Decimal(KB) / Decimal(S),
    "MB/s": Decimal(MB) / Decimal(S),
    "GB/s": Decimal(GB) / Decimal(S),
    "TB/s": Decimal(TB) / Decimal(S),
    "KiB/s": Decimal(KiB) / Decimal(S),
    "MiB/s": Decimal(MiB) / Decimal(S),
    "GiB/s": Decimal(GiB) / Decimal(S),
    "TiB/s": Decimal(TiB) / Decimal(S),
    "Mbps": Decimal(MB) / Decimal(8 * S),
    "Gbps": Decimal(GB) / Decimal(8 * S),
    "Tbps": Decimal(TB) / Decimal(8 * S),
    "Mbit/s": Decimal(MB) / Decimal(8 * S),
    "Gbit/s": Decimal(GB) / Decimal(8 * S),
    "Tbit/s": Decimal(TB) / Decimal(8 * S),
}

_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-zµ/]+)\s*$")


def _split(text: str, kind: str, units: dict) -> tuple[Decimal, str]:
    match = _QUANTITY.match(text)
    if match is None:
        raise UnitError(f"{_short(text)} is not a {kind} (expected a number and a unit, e.g. {_example(kind)})")
    number, unit = match.groups()
    if unit not in units:
        known = ", ".join(units)
        raise UnitError(f"unknown {kind} unit {_short(unit)} in {_short(text)} (known units: {known})")
    try:
        value = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise UnitError(f"bad number in {_short(text)}") from exc
    if value and not -40 <= value.adjusted() <= 40:
        size = "large" if value.adjusted() > 0 else "small"
        raise UnitError(f"{_short(text)} is too {size} a {kind} (its exponent is {value.adjusted():+,})")
    return value, unit


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:30]) + f"... ({len(text):,} characters)"


def _example(kind: str) -> str:
    return {"size": '"32 GiB"', "time": '"1.5 us"', "bandwidth": '"820 GB/s"'}[kind]


def _exact_int(value: Decimal, text: str, what: str, limit: int) -> int:
    if value != value.to_integral_value(context=_EXACT):
        raise UnitError(f"{_short(text)} is not a whole number of {what}")
    return _at_most(int(value), limit, text, what)


def _at_most(value: int, limit: int, text: object, what: str) -> int:
    if value > limit:
        shown = _short(text) if isinstance(text, str) else (str(text) if len(str(text)) <= 40 else "an integer of "
                                                             f"{len(str(text)):,} digits")
        raise UnitError(f"{shown} is more than {limit:,} {what} (2**{limit.bit_length()} - 1), the most neuronsim "
                        "accepts")
    return value


def _parse_whole(value: str | int, noun: str, kind: str, units: dict, what: str, limit: int) -> int:
    """A whole number of the base unit from an ``int`` (already in it) or a number and a unit: parse_bytes and
    parse_time_ns (``noun`` names the quantity in messages, ``kind`` selects :func:`_split`'s example)."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a {noun}")
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"{noun} {value} must be >= 0")
        return _at_most(value, limit, value, what)
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not a {noun}")
    number, unit = _split(value, kind, units)
    return _exact_int(_EXACT.multiply(number, Decimal(units[unit])), value, what, limit)


def parse_bytes(value: str | int) -> int:
    """Parse a size: an ``int`` number of bytes or a string such as ``"32 GiB"`` or ``"96 GB"``.

    Raises:
        UnitError: on an unknown unit, a negative size, a fractional byte count or more than
            :data:`MAX_BYTES`.
    """
    return _parse_whole(value, "size", "size", _BYTE_UNITS, "bytes", MAX_BYTES)


def parse_time_ns(value: str | int) -> int:
    """Parse a duration into integer nanoseconds: ``int`` ns or ``"1.5 us"``, ``"30 s"``, ``"10ms"``.

    Raises:
        UnitError: on an unknown unit, a negative duration, a fractional nanosecond count or more
            than :data:`MAX_NS`.
    """
    return _parse_whole(value, "duration", "time", _TIME_UNITS, "nanoseconds", MAX_NS)


def parse_duration(value: str | int | float) -> int:
    """Parse a duration that must carry its unit (``"30 us"``) into integer nanoseconds.

    The rule for times whose field or option name does not say the unit (a workload's ``compute``,
    ``sleep``, ``duration``, ``until``; ``--until``): a bare number is refused, never read as
    nanoseconds (zero, the same in every unit, may be bare). Fields whose names end in ``_ns`` take bare
    nanoseconds (:func:`parse_time_ns`).

    Raises:
        UnitError: on a bare non-zero number (``30`` or ``"30"``: "30 has no unit: write 30 ns, 30 us, 30 ms or
            30 s"), and as :func:`parse_time_ns` does.
    """
    bare: str | int | float
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        bare = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\s*", value):
        bare = value.strip()
    else:
        return parse_time_ns(value)
    if float(bare) != 0:  # zero is zero in any unit
        raise UnitError(f"{bare} has no unit: write {bare} ns, {bare} us, {bare} ms or {bare} s")
    return parse_time_ns(0)


def parse_bandwidth(value: str | float | int) -> float:
    """Parse a bandwidth into bytes per nanosecond (numerically decimal GB/s).

    Accepts a number (already bytes/ns) or a string: ``"820 GB/s"`` -> 820.0,
    ``"384 GiB/s"`` -> 412.316860416, ``"100 Gbps"`` -> 12.5.

    Raises:
        UnitError: on an unknown unit or a bandwidth outside :data:`MIN_BANDWIDTH` ..
            :data:`MAX_BANDWIDTH`.
    """
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a bandwidth")
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        number, unit = _split(value, "bandwidth", _BW_UNITS)
        result = float(_EXACT.multiply(number, _BW_UNITS[unit]))
    else:
        raise UnitError(f"{value!r} is not a bandwidth")
    if not result > 0 or math.isinf(result):
        raise UnitError(f"bandwidth {value!r} must be a finite number > 0")
    if not MIN_BANDWIDTH <= result <= MAX_BANDWIDTH:
        raise UnitError(f"bandwidth {value!r} is outside 1 B/s .. 10**18 B/s (1e-09 .. 1e+09 bytes per ns), "
                        "the range neuronsim accepts")
    return result


def transfer_time_ns(size_bytes: int, bandwidth_bytes_per_ns: float) -> int:
    """Serialisation time of ``size_bytes`` at ``bandwidth_bytes_per_ns``, rounded up to whole ns.

    Any non-empty transfer costs at least 1 ns; an empty one costs 0. A relative slack of
    1e-12 absorbs float error so that exact quotients (8200 B at 820 B/ns) stay exact.
    """
    if size_bytes <= 0:
        return 0
    quotient = size_bytes / bandwidth_bytes_per_ns
    return max(1, math.ceil(quotient * (1 - TRANSFER_SLACK)))


def format_bytes(size_bytes: int) -> str:
    """Format a size with the largest binary unit that divides it evenly, else two decimals."""
    for unit, scale in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size_bytes >= scale:
            if size_bytes % scale == 0:
                return f"{size_bytes // scale} {unit}"
            return f"{size_bytes / scale:.2f} {unit}"
    return f"{size_bytes} B"


def format_ns(duration_ns: int) -> str:
    """Format a duration in the largest unit that keeps it >= 1 (``1.500 us``, ``12.000 ms``)."""
    for unit, scale in (("s", S), ("ms", MS), ("us", US)):
        if abs(duration_ns) >= scale:
            return f"{duration_ns / scale:.3f} {unit}"
    return f"{duration_ns} ns"
