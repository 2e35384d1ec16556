"""Argument types the subcommands share: a logical NeuronCore config, a whole number."""

from __future__ import annotations

import argparse

__all__ = ["lnc", "whole_number"]


def lnc(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"LNC must be 1 or 2, not {text!r}") from None


def whole_number(text: str) -> int:
    """A whole number; ``1e9`` is accepted as 1000000000 (then bounded by the run's limits)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not value.is_integer() or abs(value) > 1e15:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    return int(value)
