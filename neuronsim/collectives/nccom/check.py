"""``--check``: each rank's input filled, the golden outputs computed independently of the simulator,
the comparison; and the per-rank input and output sizes of an operation."""

from __future__ import annotations

import numpy as np

from neuronsim.collectives.data import VariableCounts
from neuronsim.collectives.nccom.options import _REDUCING

__all__ = ["expected_outputs"]


def _io_sizes(operation: str, size: int, ranks: int, counts: VariableCounts | None, itemsize: int) -> tuple[int, int]:
    """(input bytes, output bytes) per rank for a message of ``size`` (rank 0's, for the v-variants)."""
    if counts is not None:
        in_elements = max([d + c for c, d in zip(counts.send_counts, counts.send_displs, strict=True)] + [0])
        out_elements = max([d + c for c, d in zip(counts.recv_counts, counts.recv_displs, strict=True)] + [0])
        return in_elements * itemsize, out_elements * itemsize
    if operation == "allgather":
        return size // ranks, size
    if operation == "reducescatter":
        return size, size // ranks
    return size, size


def _round_size(operation: str, size: int, itemsize: int, ranks: int) -> int:
    unit = itemsize * ranks if operation in ("allgather", "reducescatter", "alltoall") else itemsize
    return max(size - size % unit, unit)


def _fill(mode: str, element: np.dtype, dtype: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """A rank's input for --check: ones, or pseudo-random values whose sums are exact in the type (floats
    as small integers, A96; fp32 as uniform [0, 1), compared with a tolerance)."""
    if mode == "all_ones":
        one = {"bf16": 0x3F80, "fp8": 0x38, "fp8e4": 0x38, "fp8e5": 0x3C}.get(dtype, 1)
        return np.full(count, one, dtype=element)
    if dtype == "fp32":
        return rng.random(count, dtype=np.float32)
    if dtype == "fp16":
        return rng.integers(0, 4, count).astype(np.float16)
    if dtype == "bf16":
        return (rng.integers(0, 4, count).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    if element.kind in "iu" and dtype not in ("fp8", "fp8e4", "fp8e5"):
        info = np.iinfo(element)
        return rng.integers(info.min, info.max, count, dtype=element, endpoint=True)
    return rng.integers(0, 256, count, dtype=np.uint8)  # fp8: any byte; only moved, never reduced


def _as_values(arrays: list[np.ndarray], dtype: str) -> list[np.ndarray]:
    if dtype == "bf16":
        return [(a.astype(np.uint32) << 16).view(np.float32).astype(np.float64) for a in arrays]
    if dtype in ("fp32", "fp16"):
        return [a.astype(np.float64) for a in arrays]
    return arrays


def expected_outputs(operation: str, inputs: list[np.ndarray], dtype: str, counts: list[VariableCounts] | None,
                     pairs: tuple[tuple[int, int], ...] | None, out_elements: list[int]) -> list[np.ndarray]:
    """The golden output of every rank of a group (``out_elements`` each), computed here independently of
    the simulator (sums in float64 for floating types, wrapping in the element type for integers)."""
    n = len(inputs)
    element = inputs[0].dtype
    if operation in _REDUCING:
        values = _as_values(inputs, dtype)
        total = np.sum(np.stack(values), axis=0, dtype=values[0].dtype)
        if operation == "allreduce":
            return [total] * n
        chunk = total.size // n
        return [total[r * chunk:(r + 1) * chunk] for r in range(n)]
    if operation == "allgather":
        return [np.concatenate(inputs)] * n
    if operation == "alltoall":
        chunk = inputs[0].size // n
        return [np.concatenate([inputs[j][r * chunk:(r + 1) * chunk] for j in range(n)]) for r in range(n)]
    if operation in ("permute", "sendrecv"):
        table = pairs if pairs is not None else tuple((r, (r + 1) % n) for r in range(n))
        outs = [np.zeros(out_elements[r], dtype=element) for r in range(n)]
        for src, dst in table:
            outs[dst] = inputs[src].copy()
        return outs
    assert counts is not None
    outs = [np.zeros(out_elements[r], dtype=element) for r in range(n)]
    for dst in range(n):
        for src in range(n):
            k = 0 if operation == "allgatherv" else dst
            c, d = counts[src].send_counts[k], counts[src].send_displs[k]
            at = counts[dst].recv_displs[src]
            outs[dst][at:at + c] = inputs[src][d:d + c]
    return outs


def _compare(got: np.ndarray, want: np.ndarray, dtype: str, reduced: bool, ranks: int) -> int:
    """Index of the first element where ``got`` misses ``want`` (-1: none). Reduced floating-point
    results are compared with a tolerance, as nccom-test does; everything else bit for bit."""
    if reduced and dtype in ("fp32", "fp16", "bf16"):
        values = _as_values([got], dtype)[0]
        bad = ~np.isclose(values, want, rtol=1e-5 * ranks, atol=1e-6 * ranks)
    else:
        bad = got.view(np.uint8) != want.astype(got.dtype).view(np.uint8)
        if got.itemsize > 1:
            bad = bad.reshape(-1, got.itemsize).any(axis=1)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else -1
