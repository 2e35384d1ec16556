from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuronsim.units import (
    GiB,
    UnitError,
    format_bytes,
    parse_bandwidth,
    parse_bytes,
    parse_time_ns,
    transfer_time_ns,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("32 GiB", 32 * 2**30), ("96 GB", 96 * 10**9), ("4 KiB", 4096), ("1.5 MiB", 1572864), ("0 B", 0),
     ("16GiB", 16 * 2**30), ("2 TB", 2 * 10**12), (1024, 1024)],
)
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.5 us", 1500), ("10ms", 10_000_000), ("30 s", 30 * 10**9), ("500 ns", 500), ("2 µs", 2000), (7, 7)],
)
def test_parse_time(text, expected):
    assert parse_time_ns(text) == expected
    assert isinstance(parse_time_ns(text), int)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("820 GB/s", 820.0), ("384 GiB/s", 384 * 2**30 / 1e9), ("100 Gbps", 12.5), ("200 Gbit/s", 25.0),
     ("2.9 TB/s", 2900.0), ("17 B/ns", 17.0), (23, 23.0)],
)
def test_parse_bandwidth(text, expected):
    assert parse_bandwidth(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("parser", "text", "fragment"),
    [(parse_bytes, "32 GiBs", "unknown size unit 'GiBs'"), (parse_bytes, "12", "not a size"),
     (parse_bytes, "1.5 B", "not a whole number of bytes"), (parse_time_ns, "3 min", "unknown time unit"),
     (parse_time_ns, "0.5 ns", "whole number of nanoseconds"), (parse_bandwidth, "10 GB", "unknown bandwidth unit"),
     (parse_bandwidth, "0 GB/s", "must be a finite number > 0"), (parse_bytes, -1, ">= 0"),
     (parse_bytes, True, "not a size")],
)
def test_bad_units(parser, text, fragment):
    with pytest.raises(UnitError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parser(text)


def test_gb_is_decimal_and_gib_binary_exactly():
    assert parse_bytes("1 GB") == 1_000_000_000
    assert parse_bytes("1 GiB") == 1_073_741_824 == GiB


def test_transfer_time_exact_and_rounded_up():
    assert transfer_time_ns(8200, 820.0) == 10
    assert transfer_time_ns(8201, 820.0) == 11
    assert transfer_time_ns(1, 1000.0) == 1
    assert transfer_time_ns(0, 1.0) == 0


@given(st.integers(1, 10**12), st.floats(0.001, 10_000, allow_nan=False))
def test_transfer_time_covers_the_bytes(size, bw):
    t = transfer_time_ns(size, bw)
    assert isinstance(t, int) and t >= 1
    assert t * bw >= size * (1 - 1e-9)
    assert (t - 1) * bw < size * (1 + 1e-9)


def test_format_bytes():
    assert format_bytes(96 * GiB) == "96 GiB"
    assert format_bytes(1536) == "1.50 KiB"
