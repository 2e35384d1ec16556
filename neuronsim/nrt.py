"""The Neuron Runtime's C constants, enums and macros with their exact names and values.

``from neuronsim import nrt`` gives the names a C program sees through ``nrt/nrt.h``,
``nrt/nrt_async.h`` and ``nrt/nrt_status.h``: ``nrt.NRT_SUCCESS``, ``nrt.NRTA_XU_COMPUTE``,
``nrt.NRTA_SEQ_GET_SEQ_NUM(seq)``... Every enum is an ``IntEnum`` equal to the C value, and its
members are also exported at module level under their C names. ``nrt.Ref`` stands in for a C
out-pointer: the mirror writes ``ref.value`` as C would write ``*ptr``.

Values are from reference/nrt-api.md §1-§3 (SDK 2.28 headers, 3.0 docs). This module has no
dependencies inside neuronsim.

These are the 3.0 API's constants (SDK >= 2.29): ``nrta_xu_t`` is the 3.0 execution-unit enum. A
program written for SDK 2.28 uses :mod:`neuronsim.nrt_2_28` instead, whose ``nrta_xu_t`` is the 2.28
enum; each runtime has its generation's module as ``rt.nrt`` and refuses the other's enum members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Generic

from typing_extensions import TypeVar

#: The type a ``Ref`` holds; a bare ``nrt.Ref()`` holds ``Any``, as an untyped C out-pointer would.
T = TypeVar("T", default=Any)
API = "3.0"  # the API generation these constants belong to (neuronsim.nrt_2_28 has the 2.28 ones)


class NRT_STATUS(IntEnum):  # noqa: N801 - the C name
    """``nrt_status.h``: note the gaps at 8 and 12, as in C."""

    NRT_SUCCESS = 0
    NRT_FAILURE = 1
    NRT_INVALID = 2
    NRT_INVALID_HANDLE = 3
    NRT_RESOURCE = 4
    NRT_TIMEOUT = 5
    NRT_HW_ERROR = 6
    NRT_QUEUE_FULL = 7
    NRT_LOAD_NOT_ENOUGH_NC = 9
    NRT_UNSUPPORTED_NEFF_VERSION = 10
    NRT_FAIL_HOST_MEM_ALLOC = 11
    NRT_UNINITIALIZED = 13
    NRT_CLOSED = 14
    NRT_QUEUE_EMPTY = 15
    NRT_EXEC_UNIT_UNRECOVERABLE = 101
    NRT_EXEC_BAD_INPUT = 1002
    NRT_EXEC_COMPLETED_WITH_NUM_ERR = 1003
    NRT_EXEC_COMPLETED_WITH_ERR = 1004
    NRT_EXEC_NC_BUSY = 1005
    NRT_EXEC_OOB = 1006
    NRT_COLL_PENDING = 1100
    NRT_EXEC_HW_ERR_COLLECTIVES = 1200
    NRT_EXEC_HW_ERR_HBM_UE = 1201
    NRT_EXEC_HW_ERR_NC_UE = 1202
    NRT_EXEC_HW_ERR_DMA_ABORT = 1203
    NRT_EXEC_SW_NQ_OVERFLOW = 1204
    NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE = 1205
    NRT_NETWORK_PROXY_FAILURE = 1206


class nrta_xu_t(IntEnum):  # noqa: N801 - the C name
    """Execution-unit types of the 3.0 API (SDK >= 2.29)."""

    NRTA_XU_TENSOR_OP = 0
    NRTA_XU_COMPUTE = 1
    NRTA_XU_COLLECTIVES = 2
    NRTA_XU_TYPE_NUM = 3


class nrta_xu_t_2_28(IntEnum):  # noqa: N801 - the C name of the Gen-1 (SDK 2.28) enum
    """Execution-unit types of the 2.28 (Gen-1, error-tracker) API; not exported at module level."""

    NRTA_XU_TENSOR_READ = 0
    NRTA_XU_TENSOR_WRITE = 1
    NRTA_XU_TENSOR_OP = 2
    NRTA_XU_COMPUTE = 3
    NRTA_XU_COLLECTIVES = 4
    NRTA_XU_TYPE_NUM = 5


class nrt_tensor_placement_t(IntEnum):  # noqa: N801
    NRT_TENSOR_PLACEMENT_DEVICE = 0
    NRT_TENSOR_PLACEMENT_HOST = 1
    NRT_TENSOR_PLACEMENT_VIRTUAL = 2


class nrt_framework_type_t(IntEnum):  # noqa: N801
    NRT_FRAMEWORK_TYPE_INVALID = 0
    NRT_FRAMEWORK_TYPE_NO_FW = 1
    NRT_FRAMEWORK_TYPE_TENSORFLOW = 2
    NRT_FRAMEWORK_TYPE_PYTORCH = 3
    NRT_FRAMEWORK_TYPE_MXNET = 4
    NRT_FRAMEWORK_TYPE_PRECHECK = 5


class nrt_instance_family_t(IntEnum):  # noqa: N801 - an anonymous enum in nrt.h
    NRT_INSTANCE_UNKNOWN = 0
    NRT_INSTANCE_INF1 = 1
    NRT_INSTANCE_TRN1 = 2
    NRT_INSTANCE_TRN1N = 3
    NRT_INSTANCE_INF2 = 4
    NRT_INSTANCE_TRN2 = 5
    NRT_INSTANCE_TRN2N = 6
    NRT_INSTANCE_INF2E = 7
    NRT_INSTANCE_TRN2P = 8
    NRT_INSTANCE_TRN2U = 9
    NRT_INSTANCE_TRN2E = 10
    NRT_INSTANCE_TRN2EU = 11
    NRT_INSTANCE_TRN2AC = 12
    NRT_INSTANCE_TRN2UAC = 13
    NRT_INSTANCE_TRN3 = 14
    NRT_INSTANCE_TRN3PDS98 = 15


class nrt_instance_size_t(IntEnum):  # noqa: N801 - an anonymous enum in nrt.h
    NRT_INSTANCE_SIZE_1XL = 0
    NRT_INSTANCE_SIZE_2XL = 1
    NRT_INSTANCE_SIZE_4XL = 2
    NRT_INSTANCE_SIZE_6XL = 3
    NRT_INSTANCE_SIZE_8XL = 4
    NRT_INSTANCE_SIZE_24XL = 5
    NRT_INSTANCE_SIZE_32XL = 6
    NRT_INSTANCE_SIZE_48XL = 7
    NRT_INSTANCE_SIZE_3XL = 8
    NRT_INSTANCE_SIZE_UNKNOWN = 9
    # NRT_INSTANCE_SIZE_NUM = NRT_INSTANCE_SIZE_UNKNOWN (an alias in C; exported below)


class nrt_op_type_t(IntEnum):  # noqa: N801
    NRT_OP_ADD = 0x0
    NRT_OP_FMA = 0x1
    NRT_OP_MAX = 0x2
    NRT_OP_MIN = 0x3
    NRT_OP_INVALID = 0xF


class nrt_dtype_t(IntEnum):  # noqa: N801 - hardware codes, as in the header (not the stale guide)
    NRT_DTYPE_UNKNOWN = 0x0
    NRT_DTYPE_FP8_E3 = 0xD
    NRT_DTYPE_FP8_E4 = 0xE
    NRT_DTYPE_FP8_E5 = 0xF
    NRT_DTYPE_FLOAT16 = 0x7
    NRT_DTYPE_BFLOAT16 = 0x6
    NRT_DTYPE_FLOAT32 = 0xA
    NRT_DTYPE_FP32R = 0xB
    NRT_DTYPE_UINT8 = 0x3
    NRT_DTYPE_UINT16 = 0x5
    NRT_DTYPE_UINT32 = 0x9
    NRT_DTYPE_UINT64 = 0x1
    NRT_DTYPE_INT8 = 0x2
    NRT_DTYPE_INT16 = 0x4
    NRT_DTYPE_INT32 = 0x8
    NRT_DTYPE_INT64 = 0xC
    # NRT_DTYPE_INVALID = 0x0 is an alias of UNKNOWN in C (exported below)


class nrt_cc_op_type_t(IntEnum):  # noqa: N801
    NRT_CC_ALLGATHER = 0
    NRT_CC_ALLREDUCE = 1
    NRT_CC_REDUCESCATTER = 2
    # neuronsim extensions: all-to-all and permute exist in nccom-test but not in the public header
    NRT_CC_ALLTOALL = 3
    NRT_CC_PERMUTE = 4
    # neuronsim extensions: nccom-test's variable-size operations (counts and displacements per rank)
    NRT_CC_ALLGATHERV = 5
    NRT_CC_ALLTOALLV = 6


class nrt_tensor_usage_t(IntEnum):  # noqa: N801
    NRT_TENSOR_USAGE_INPUT = 0
    NRT_TENSOR_USAGE_OUTPUT = 1


_EXPORTED_ENUMS = (
    NRT_STATUS,
    nrta_xu_t,
    nrt_tensor_placement_t,
    nrt_framework_type_t,
    nrt_instance_family_t,
    nrt_instance_size_t,
    nrt_op_type_t,
    nrt_dtype_t,
    nrt_cc_op_type_t,
    nrt_tensor_usage_t,
)
# Every member of the exported enums under its C name, as a C program sees it. Written out (not made
# through globals()) so that type checkers and IDEs see them; tests/test_typing.py checks the list is
# complete.
NRT_SUCCESS = NRT_STATUS.NRT_SUCCESS
NRT_FAILURE = NRT_STATUS.NRT_FAILURE
NRT_INVALID = NRT_STATUS.NRT_INVALID
NRT_INVALID_HANDLE = NRT_STATUS.NRT_INVALID_HANDLE
NRT_RESOURCE = NRT_STATUS.NRT_RESOURCE
NRT_TIMEOUT = NRT_STATUS.NRT_TIMEOUT
NRT_HW_ERROR = NRT_STATUS.NRT_HW_ERROR
NRT_QUEUE_FULL = NRT_STATUS.NRT_QUEUE_FULL
NRT_LOAD_NOT_ENOUGH_NC = NRT_STATUS.NRT_LOAD_NOT_ENOUGH_NC
NRT_UNSUPPORTED_NEFF_VERSION = NRT_STATUS.NRT_UNSUPPORTED_NEFF_VERSION
NRT_FAIL_HOST_MEM_ALLOC = NRT_STATUS.NRT_FAIL_HOST_MEM_ALLOC
NRT_UNINITIALIZED = NRT_STATUS.NRT_UNINITIALIZED
NRT_CLOSED = NRT_STATUS.NRT_CLOSED
NRT_QUEUE_EMPTY = NRT_STATUS.NRT_QUEUE_EMPTY
NRT_EXEC_UNIT_UNRECOVERABLE = NRT_STATUS.NRT_EXEC_UNIT_UNRECOVERABLE
NRT_EXEC_BAD_INPUT = NRT_STATUS.NRT_EXEC_BAD_INPUT
NRT_EXEC_COMPLETED_WITH_NUM_ERR = NRT_STATUS.NRT_EXEC_COMPLETED_WITH_NUM_ERR
NRT_EXEC_COMPLETED_WITH_ERR = NRT_STATUS.NRT_EXEC_COMPLETED_WITH_ERR
NRT_EXEC_NC_BUSY = NRT_STATUS.NRT_EXEC_NC_BUSY
NRT_EXEC_OOB = NRT_STATUS.NRT_EXEC_OOB
NRT_COLL_PENDING = NRT_STATUS.NRT_COLL_PENDING
NRT_EXEC_HW_ERR_COLLECTIVES = NRT_STATUS.NRT_EXEC_HW_ERR_COLLECTIVES
NRT_EXEC_HW_ERR_HBM_UE = NRT_STATUS.NRT_EXEC_HW_ERR_HBM_UE
NRT_EXEC_HW_ERR_NC_UE = NRT_STATUS.NRT_EXEC_HW_ERR_NC_UE
NRT_EXEC_HW_ERR_DMA_ABORT = NRT_STATUS.NRT_EXEC_HW_ERR_DMA_ABORT
NRT_EXEC_SW_NQ_OVERFLOW = NRT_STATUS.NRT_EXEC_SW_NQ_OVERFLOW
NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE = NRT_STATUS.NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE
NRT_NETWORK_PROXY_FAILURE = NRT_STATUS.NRT_NETWORK_PROXY_FAILURE
NRTA_XU_TENSOR_OP = nrta_xu_t.NRTA_XU_TENSOR_OP
NRTA_XU_COMPUTE = nrta_xu_t.NRTA_XU_COMPUTE
NRTA_XU_COLLECTIVES = nrta_xu_t.NRTA_XU_COLLECTIVES
NRTA_XU_TYPE_NUM = nrta_xu_t.NRTA_XU_TYPE_NUM
NRT_TENSOR_PLACEMENT_DEVICE = nrt_tensor_placement_t.NRT_TENSOR_PLACEMENT_DEVICE
NRT_TENSOR_PLACEMENT_HOST = nrt_tensor_placement_t.NRT_TENSOR_PLACEMENT_HOST
NRT_TENSOR_PLACEMENT_VIRTUAL = nrt_tensor_placement_t.NRT_TENSOR_PLACEMENT_VIRTUAL
NRT_FRAMEWORK_TYPE_INVALID = nrt_framework_type_t.NRT_FRAMEWORK_TYPE_INVALID
NRT_FRAMEWORK_TYPE_NO_FW = nrt_framework_type_t.NRT_FRAMEWORK_TYPE_NO_FW
NRT_FRAMEWORK_TYPE_TENSORFLOW = nrt_framework_type_t.NRT_FRAMEWORK_TYPE_TENSORFLOW
NRT_FRAMEWORK_TYPE_PYTORCH = nrt_framework_type_t.NRT_FRAMEWORK_TYPE_PYTORCH
NRT_FRAMEWORK_TYPE_MXNET = nrt_framework_type_t.NRT_FRAMEWORK_TYPE_MXNET
NRT_FRAMEWORK_TYPE_PRECHECK = nrt_framework_type_t.NRT_FRAMEWORK_TYPE_PRECHECK
NRT_INSTANCE_UNKNOWN = nrt_instance_family_t.NRT_INSTANCE_UNKNOWN
NRT_INSTANCE_INF1 = nrt_instance_family_t.NRT_INSTANCE_INF1
NRT_INSTANCE_TRN1 = nrt_instance_family_t.NRT_INSTANCE_TRN1
NRT_INSTANCE_TRN1N = nrt_instance_family_t.NRT_INSTANCE_TRN1N
NRT_INSTANCE_INF2 = nrt_instance_family_t.NRT_INSTANCE_INF2
NRT_INSTANCE_TRN2 = nrt_instance_family_t.NRT_INSTANCE_TRN2
NRT_INSTANCE_TRN2N = nrt_instance_family_t.NRT_INSTANCE_TRN2N
NRT_INSTANCE_INF2E = nrt_instance_family_t.NRT_INSTANCE_INF2E
NRT_INSTANCE_TRN2P = nrt_instance_family_t.NRT_INSTANCE_TRN2P
NRT_INSTANCE_TRN2U = nrt_instance_family_t.NRT_INSTANCE_TRN2U
NRT_INSTANCE_TRN2E = nrt_instance_family_t.NRT_INSTANCE_TRN2E
NRT_INSTANCE_TRN2EU = nrt_instance_family_t.NRT_INSTANCE_TRN2EU
NRT_INSTANCE_TRN2AC = nrt_instance_family_t.NRT_INSTANCE_TRN2AC
NRT_INSTANCE_TRN2UAC = nrt_instance_family_t.NRT_INSTANCE_TRN2UAC
NRT_INSTANCE_TRN3 = nrt_instance_family_t.NRT_INSTANCE_TRN3
NRT_INSTANCE_TRN3PDS98 = nrt_instance_family_t.NRT_INSTANCE_TRN3PDS98
NRT_INSTANCE_SIZE_1XL = nrt_instance_size_t.NRT_INSTANCE_SIZE_1XL
NRT_INSTANCE_SIZE_2XL = nrt_instance_size_t.NRT_INSTANCE_SIZE_2XL
NRT_INSTANCE_SIZE_4XL = nrt_instance_size_t.NRT_INSTANCE_SIZE_4XL
NRT_INSTANCE_SIZE_6XL = nrt_instance_size_t.NRT_INSTANCE_SIZE_6XL
NRT_INSTANCE_SIZE_8XL = nrt_instance_size_t.NRT_INSTANCE_SIZE_8XL
NRT_INSTANCE_SIZE_24XL = nrt_instance_size_t.NRT_INSTANCE_SIZE_24XL
NRT_INSTANCE_SIZE_32XL = nrt_instance_size_t.NRT_INSTANCE_SIZE_32XL
NRT_INSTANCE_SIZE_48XL = nrt_instance_size_t.NRT_INSTANCE_SIZE_48XL
NRT_INSTANCE_SIZE_3XL = nrt_instance_size_t.NRT_INSTANCE_SIZE_3XL
NRT_INSTANCE_SIZE_UNKNOWN = nrt_instance_size_t.NRT_INSTANCE_SIZE_UNKNOWN
NRT_OP_ADD = nrt_op_type_t.NRT_OP_ADD
NRT_OP_FMA = nrt_op_type_t.NRT_OP_FMA
NRT_OP_MAX = nrt_op_type_t.NRT_OP_MAX
NRT_OP_MIN = nrt_op_type_t.NRT_OP_MIN
NRT_OP_INVALID = nrt_op_type_t.NRT_OP_INVALID
NRT_DTYPE_UNKNOWN = nrt_dtype_t.NRT_DTYPE_UNKNOWN
NRT_DTYPE_FP8_E3 = nrt_dtype_t.NRT_DTYPE_FP8_E3
NRT_DTYPE_FP8_E4 = nrt_dtype_t.NRT_DTYPE_FP8_E4
NRT_DTYPE_FP8_E5 = nrt_dtype_t.NRT_DTYPE_FP8_E5
NRT_DTYPE_FLOAT16 = nrt_dtype_t.NRT_DTYPE_FLOAT16
NRT_DTYPE_BFLOAT16 = nrt_dtype_t.NRT_DTYPE_BFLOAT16
NRT_DTYPE_FLOAT32 = nrt_dtype_t.NRT_DTYPE_FLOAT32
NRT_DTYPE_FP32R = nrt_dtype_t.NRT_DTYPE_FP32R
NRT_DTYPE_UINT8 = nrt_dtype_t.NRT_DTYPE_UINT8
NRT_DTYPE_UINT16 = nrt_dtype_t.NRT_DTYPE_UINT16
NRT_DTYPE_UINT32 = nrt_dtype_t.NRT_DTYPE_UINT32
NRT_DTYPE_UINT64 = nrt_dtype_t.NRT_DTYPE_UINT64
NRT_DTYPE_INT8 = nrt_dtype_t.NRT_DTYPE_INT8
NRT_DTYPE_INT16 = nrt_dtype_t.NRT_DTYPE_INT16
NRT_DTYPE_INT32 = nrt_dtype_t.NRT_DTYPE_INT32
NRT_DTYPE_INT64 = nrt_dtype_t.NRT_DTYPE_INT64
NRT_CC_ALLGATHER = nrt_cc_op_type_t.NRT_CC_ALLGATHER
NRT_CC_ALLREDUCE = nrt_cc_op_type_t.NRT_CC_ALLREDUCE
NRT_CC_REDUCESCATTER = nrt_cc_op_type_t.NRT_CC_REDUCESCATTER
NRT_CC_ALLTOALL = nrt_cc_op_type_t.NRT_CC_ALLTOALL
NRT_CC_PERMUTE = nrt_cc_op_type_t.NRT_CC_PERMUTE
NRT_CC_ALLGATHERV = nrt_cc_op_type_t.NRT_CC_ALLGATHERV
NRT_CC_ALLTOALLV = nrt_cc_op_type_t.NRT_CC_ALLTOALLV
NRT_TENSOR_USAGE_INPUT = nrt_tensor_usage_t.NRT_TENSOR_USAGE_INPUT
NRT_TENSOR_USAGE_OUTPUT = nrt_tensor_usage_t.NRT_TENSOR_USAGE_OUTPUT

NRT_INSTANCE_SIZE_NUM = nrt_instance_size_t.NRT_INSTANCE_SIZE_UNKNOWN
NRT_DTYPE_INVALID = nrt_dtype_t.NRT_DTYPE_UNKNOWN

NRT_MAJOR_VERSION = 2
NRT_MINOR_VERSION = 0
NRT_TENSOR_NAME_MAX = 256

NRTA_SEQ_NUM_MAX = (1 << 48) - 1
NRTA_SEQ_NUM_MASK = NRTA_SEQ_NUM_MAX


def NRTA_SEQ_GET_SEQ_NUM(seq_id: int) -> int:  # noqa: N802 - the C macro
    """``(seq_id & NRTA_SEQ_NUM_MASK)``: the 48-bit per-queue counter."""
    return int(seq_id) & NRTA_SEQ_NUM_MASK


def NRTA_SEQ_GET_XU_ID(seq_id: int) -> int:  # noqa: N802 - the C macro
    """``(seq_id >> 48)``: the 16-bit execution-unit id."""
    return (int(seq_id) >> 48) & 0xFFFF


@dataclass
class nrt_cc_comm_t:  # noqa: N801 - the C struct
    """``typedef struct nrt_cc_comm { uint32_t *replica_group; uint32_t rank; uint32_t rank_n;
    uint32_t ctx_device_id; uint32_t ctx_device_count; uint32_t vnc; } nrt_cc_comm_t;``

    ``replica_group`` lists the global device ids (from ``nrt_cc_global_comm_init``) of the group's
    ranks in rank order; ``None`` means the whole world.
    """

    replica_group: list[int] | None
    rank: int
    rank_n: int
    ctx_device_id: int = 0
    ctx_device_count: int = 0
    vnc: int = 0


@dataclass
class nrt_tensor_list_t:  # noqa: N801 - the C struct
    """``typedef struct nrt_tensor_list { nrt_tensor_t **tensors; size_t num_tensors; } nrt_tensor_list_t;``"""

    tensors: list[Any] = field(default_factory=list)
    num_tensors: int = -1

    def __post_init__(self) -> None:
        if self.num_tensors < 0:
            self.num_tensors = len(self.tensors)


@dataclass
class nrt_tensor_batch_op_t:  # noqa: N801 - the C struct (ndl/neuron_driver_shared_tensor_batch_op.h)
    """``{ uint64_t offset; uint64_t size; void *buffer; }``"""

    offset: int
    size: int
    buffer: Any


@dataclass
class nrt_tensor_batch_t:  # noqa: N801 - the C struct
    """``{ const nrt_tensor_t *tensor; const nrt_tensor_batch_op_t *ops; uint32_t num_ops; }``"""

    tensor: Any
    ops: list[nrt_tensor_batch_op_t] = field(default_factory=list)
    num_ops: int = -1

    def __post_init__(self) -> None:
        if self.num_ops < 0:
            self.num_ops = len(self.ops)


class Ref(Generic[T]):
    """An out-parameter cell, standing in for a C pointer: ``ref.value`` is ``*ptr``.

    A fresh ``Ref()`` holds ``None``; ``Ref(x)`` starts with ``x`` (an in/out pointer).
    """

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Ref({self.value!r})"


def status_label(status: int) -> str:
    """``"NRT_QUEUE_FULL(7)"`` for a known status, ``"NRT_STATUS(42)"`` otherwise."""
    try:
        return f"{NRT_STATUS(status).name}({int(status)})"
    except ValueError:
        return f"NRT_STATUS({int(status)})"


def status_as_str(status: int) -> str:
    """What ``nrt_get_status_as_str`` returns: the enumerator's name, e.g. ``"NRT_QUEUE_FULL"``
    (the real strings are not published; docs/assumptions.md A19). Unknown values give
    ``"NRT_STATUS_UNKNOWN"``."""
    try:
        return NRT_STATUS(int(status)).name
    except (ValueError, TypeError, OverflowError):  # not a number, NaN, or an infinity
        return "NRT_STATUS_UNKNOWN"
