"""The data a collective produces, computed with numpy in a fixed order.

Reductions accumulate in rank order (rank 0 first) in the element type, whatever the algorithm, so a
result does not depend on the algorithm chosen and integer sums wrap as on hardware (A21). BF16 is
reduced in float32 and rounded to nearest even; FP8 and FP32R cannot be reduced (``nrta_cc_prepare``
refuses them for all-reduce and reduce-scatter) but can be gathered, exchanged and permuted.

The variable-size operations (``allgatherv``, ``alltoallv``; neuronsim extensions of ``nrt_cc_op_type_t``
that nccom-test runs) take each rank's :class:`VariableCounts`: element counts and displacements, as
nccom-test's ``--variable-size-op-metadata`` gives them. A permute may name its ``(source, target)`` rank
pairs (nccom-test's ``--custom-src-target-pairs``); without them rank ``r`` sends to ``r + 1`` (mod n). An
output byte no receive region covers keeps what the output tensor held; a permute target that no pair
names receives zeros (XLA's collective-permute).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuronsim.nrt import nrt_dtype_t, nrt_op_type_t

__all__ = ["ELEMENT", "REDUCIBLE", "VARIABLE", "VariableCounts", "check_counts", "check_pairs", "counts_agree",
           "transfer_matrix", "collective_outputs"]

VARIABLE = ("allgatherv", "alltoallv")

D = nrt_dtype_t
ELEMENT: dict[int, tuple[int, np.dtype]] = {
    D.NRT_DTYPE_FLOAT32: (4, np.dtype(np.float32)), D.NRT_DTYPE_FLOAT16: (2, np.dtype(np.float16)),
    D.NRT_DTYPE_BFLOAT16: (2, np.dtype(np.uint16)), D.NRT_DTYPE_FP32R: (4, np.dtype(np.uint32)),
    D.NRT_DTYPE_FP8_E3: (1, np.dtype(np.uint8)), D.NRT_DTYPE_FP8_E4: (1, np.dtype(np.uint8)),
    D.NRT_DTYPE_FP8_E5: (1, np.dtype(np.uint8)),
    D.NRT_DTYPE_INT8: (1, np.dtype(np.int8)), D.NRT_DTYPE_INT16: (2, np.dtype(np.int16)),
    D.NRT_DTYPE_INT32: (4, np.dtype(np.int32)), D.NRT_DTYPE_INT64: (8, np.dtype(np.int64)),
    D.NRT_DTYPE_UINT8: (1, np.dtype(np.uint8)), D.NRT_DTYPE_UINT16: (2, np.dtype(np.uint16)),
    D.NRT_DTYPE_UINT32: (4, np.dtype(np.uint32)), D.NRT_DTYPE_UINT64: (8, np.dtype(np.uint64)),
}
REDUCIBLE = frozenset(ELEMENT) - {D.NRT_DTYPE_FP8_E3, D.NRT_DTYPE_FP8_E4, D.NRT_DTYPE_FP8_E5, D.NRT_DTYPE_FP32R}


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(values: np.ndarray) -> np.ndarray:
    bits = values.astype(np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    return ((bits + rounding) >> 16).astype(np.uint16)


def _reduce(arrays: list[np.ndarray], dtype: int, op: int) -> np.ndarray:
    bf16 = dtype == D.NRT_DTYPE_BFLOAT16
    values = [_bf16_to_f32(a) if bf16 else a for a in arrays]
    acc = values[0].copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for v in values[1:]:
            if op == nrt_op_type_t.NRT_OP_ADD:
                acc += v
            elif op == nrt_op_type_t.NRT_OP_MAX:
                np.maximum(acc, v, out=acc)
            else:
                np.minimum(acc, v, out=acc)
    return _f32_to_bf16(acc) if bf16 else acc


@dataclass(frozen=True, init=False)
class VariableCounts:
    """One rank's layout for a variable-size collective, in elements of the collective's data type.

    ``send_counts[j]`` elements starting at element ``send_displs[j]`` of the input go to rank ``j``;
    ``recv_counts[i]`` elements from rank ``i`` land at element ``recv_displs[i]`` of the output.
    All-to-all-v: four lists of the group's size. All-gather-v: one send count and displacement (the
    same block goes to every rank), receive lists of the group's size. nccom-test's
    ``--variable-size-op-metadata`` fields, with the same names.
    """

    send_counts: tuple[int, ...]
    send_displs: tuple[int, ...]
    recv_counts: tuple[int, ...]
    recv_displs: tuple[int, ...]

    def __init__(self, send_counts: Sequence[int], send_displs: Sequence[int], recv_counts: Sequence[int],
                 recv_displs: Sequence[int]) -> None:
        """Each argument a list or tuple of integers; kept as tuples (``TypeError`` otherwise)."""
        for name, value in (("send_counts", send_counts), ("send_displs", send_displs),
                            ("recv_counts", recv_counts), ("recv_displs", recv_displs)):
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                               for v in value):
                raise TypeError(f"VariableCounts.{name} must be a list of integers, not {value!r}")
            object.__setattr__(self, name, tuple(int(v) for v in value))


def _regions(counts: tuple[int, ...], displs: tuple[int, ...], what: str, limit: int, disjoint: bool) -> None:
    spans = sorted((d, d + c) for c, d in zip(counts, displs, strict=True) if c)
    for c, d in zip(counts, displs, strict=True):
        if c < 0 or d < 0:
            raise ValueError(f"{what}: negative count or displacement ({c}, {d})")
        if d + c > limit:
            raise ValueError(f"{what}: elements {d}..{d + c - 1} lie beyond the tensor's {limit} elements")
    if disjoint:
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if start < end:
                raise ValueError(f"{what}: receive regions overlap at element {start}")


def check_counts(operation: str, counts: Any, rank: int, n: int, in_elements: int, out_elements: int) -> None:
    """Raise ``ValueError`` (the reason) unless ``counts`` fit ``operation`` for ``rank`` of ``n`` and its
    input and output tensors (``in_elements`` / ``out_elements``)."""
    if not isinstance(counts, VariableCounts):
        raise ValueError(f"{operation} needs the rank's VariableCounts, not {counts!r}")
    sends = 1 if operation == "allgatherv" else n
    for name, value, length in (("send_counts", counts.send_counts, sends), ("send_displs", counts.send_displs, sends),
                                ("recv_counts", counts.recv_counts, n), ("recv_displs", counts.recv_displs, n)):
        if len(value) != length:
            raise ValueError(f"{operation}: {name} has {len(value)} entries, the group needs {length}")
    _regions(counts.send_counts, counts.send_displs, f"{operation} send", in_elements, False)
    _regions(counts.recv_counts, counts.recv_displs, f"{operation} receive", out_elements, True)
    if operation == "allgatherv" and counts.recv_counts[rank] != counts.send_counts[0]:
        raise ValueError(f"allgatherv: rank {rank} sends {counts.send_counts[0]} elements but its "
                         f"recv_counts[{rank}] is {counts.recv_counts[rank]}")


def check_pairs(pairs: Any, n: int) -> tuple[tuple[int, int], ...]:
    """A permute's ``(source, target)`` rank pairs, checked: ranks in ``0..n-1``, each a source at most
    once and a target at most once. Raises ``ValueError`` with the reason."""
    if not isinstance(pairs, (list, tuple)):
        raise ValueError(f"pairs must be a list of (source, target) ranks, not a {type(pairs).__name__}")
    out = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
            raise ValueError(f"permute pair {pair!r} is not a (source, target) pair of ranks")
        src, dst = int(pair[0]), int(pair[1])
        if not (0 <= src < n and 0 <= dst < n):
            raise ValueError(f"permute pair {[src, dst]} names a rank outside 0..{n - 1}")
        out.append((src, dst))
    for index, what in ((0, "source"), (1, "target")):
        seen = [p[index] for p in out]
        if len(set(seen)) != len(seen):
            twice = next(r for r in seen if seen.count(r) > 1)
            raise ValueError(f"permute pairs name rank {twice} as a {what} more than once")
    return tuple(out)


def counts_agree(operation: str, layouts: list[VariableCounts]) -> bool:
    """Whether the ranks' layouts describe one collective: every rank receives from ``i`` what ``i``
    sends it."""
    n = len(layouts)
    for i, a in enumerate(layouts):
        for j, b in enumerate(layouts):
            sent = a.send_counts[0] if operation == "allgatherv" else a.send_counts[j]
            if b.recv_counts[i] != sent:
                return False
    return True


def transfer_matrix(operation: str, n: int, itemsize: int, layouts: list[VariableCounts] | None = None,
                    pairs: tuple[tuple[int, int], ...] | None = None, size: int = 0) -> list[list[int]]:
    """Bytes each rank sends each other rank (``[src][dst]``, zero on the diagonal) for the operations
    that write directly: the variable-size ones and a permute over named pairs."""
    matrix = [[0] * n for _ in range(n)]
    if operation in VARIABLE:
        for i, layout in enumerate(layouts or []):
            for j in range(n):
                if i != j:
                    count = layout.send_counts[0] if operation == "allgatherv" else layout.send_counts[j]
                    matrix[i][j] = count * itemsize
    elif pairs is not None:
        for src, dst in pairs:
            if src != dst:
                matrix[src][dst] = size
    return matrix


def collective_outputs(operation: str, inputs: list[bytes], dtype: int, op: int,
                       layouts: list[VariableCounts] | None = None, pairs: tuple[tuple[int, int], ...] | None = None,
                       bases: list[bytes] | None = None) -> list[bytes]:
    """Each rank's output bytes, from each rank's input bytes (rank order).

    ``layouts`` (variable-size operations) and ``pairs`` (a permute) as in the module docstring;
    ``bases`` are the output tensors' bytes before the collective (what uncovered bytes keep)."""
    n = len(inputs)
    if operation in VARIABLE:
        itemsize, _ = ELEMENT[dtype]
        assert layouts is not None and bases is not None
        outputs = [bytearray(b) for b in bases]
        for j, layout in enumerate(layouts):
            for i in range(n):
                sent = layouts[i]
                c, d = (sent.send_counts[0], sent.send_displs[0]) if operation == "allgatherv" \
                    else (sent.send_counts[j], sent.send_displs[j])
                block = inputs[i][d * itemsize:(d + c) * itemsize]
                at = layout.recv_displs[i] * itemsize
                outputs[j][at:at + len(block)] = block
        return [bytes(o) for o in outputs]
    _, element = ELEMENT[dtype]
    arrays = [np.frombuffer(b, dtype=element) for b in inputs]
    if operation == "allreduce":
        result = _reduce(arrays, dtype, op).tobytes()
        return [result] * n
    if operation == "allgather":
        result = b"".join(inputs)
        return [result] * n
    if operation == "reducescatter":
        reduced = _reduce(arrays, dtype, op)
        chunk = reduced.size // n
        return [reduced[r * chunk:(r + 1) * chunk].tobytes() for r in range(n)]
    if operation == "alltoall":
        chunk = len(inputs[0]) // n
        return [b"".join(inputs[j][r * chunk:(r + 1) * chunk] for j in range(n)) for r in range(n)]
    if operation == "permute":
        if pairs is None:
            return [inputs[(r - 1) % n] for r in range(n)]
        permuted = [bytes(len(b)) for b in inputs]
        for src, dst in pairs:
            permuted[dst] = inputs[src]
        return permuted
    raise ValueError(f"unknown collective {operation!r}")
