"""The data a collective produces, computed with numpy in a fixed order.

Reductions accumulate in rank order (rank 0 first) in the element type, whatever the algorithm, so a
result does not depend on the algorithm chosen and integer sums wrap as on hardware (A21). BF16 is
reduced in float32 and rounded to nearest even; FP8 and FP32R cannot be reduced (``nrta_cc_prepare``
refuses them for all-reduce and reduce-scatter) but can be gathered, exchanged and permuted.
"""

from __future__ import annotations

import numpy as np

from neuronsim.nrt import nrt_dtype_t, nrt_op_type_t

__all__ = ["ELEMENT", "REDUCIBLE", "collective_outputs"]

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


def collective_outputs(operation: str, inputs: list[bytes], dtype: int, op: int) -> list[bytes]:
    """Each rank's output bytes, from each rank's input bytes (rank order)."""
    n = len(inputs)
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
        return [inputs[(r - 1) % n] for r in range(n)]
    raise ValueError(f"unknown collective {operation!r}")
