"""Building ``libnrt.so``: the Neuron Runtime's C ABI over the simulator, with cffi's embedding mode.

The library exports the C functions of neuronsim's headers (``include/nrt/*.h``, the real ones' names
and signatures); each is a thin C entry point into :mod:`neuronsim.capi.bridge`, which calls the Python
mirror. Python starts inside the process on the first call; its ``sys.path`` is the one of the
interpreter that built the library, so the library finds this neuronsim and its dependencies. Two
libc functions are interposed, ``read`` and ``close``: a ``read`` of an eventfd registered with
``nrta_event_register_*`` first runs the simulation until the eventfd is signalled (an eventfd-style
wait, as on hardware), every other ``read`` goes straight to libc.

:func:`library_dir` builds the library on first use into a cache folder (``NEURONSIM_CAPI_DIR``, else
``~/.cache/neuronsim/capi/<key>``, a folder per API generation; the key changes with neuronsim's sources
and the interpreter).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["include_dir", "include_dirs", "library_dir", "build", "cdef", "exported", "APIS"]

HERE = Path(__file__).parent


def include_dir() -> Path:
    """The folder to put on the include path: it holds ``nrt/nrt.h`` and the others."""
    return HERE / "include"


def include_dirs(api: str = "3.0") -> list[Path]:
    """The include path for API generation ``api``: 2.28's ``nrt/nrt_async.h`` comes first."""
    return [HERE / "include-2.28", include_dir()] if api == "2.28" else [include_dir()]


TYPES = r"""
typedef enum {
    NRT_SUCCESS = 0, NRT_FAILURE = 1, NRT_INVALID = 2, NRT_INVALID_HANDLE = 3, NRT_RESOURCE = 4, NRT_TIMEOUT = 5,
    NRT_HW_ERROR = 6, NRT_QUEUE_FULL = 7, NRT_LOAD_NOT_ENOUGH_NC = 9, NRT_UNSUPPORTED_NEFF_VERSION = 10,
    NRT_FAIL_HOST_MEM_ALLOC = 11, NRT_UNINITIALIZED = 13, NRT_CLOSED = 14, NRT_QUEUE_EMPTY = 15,
    NRT_EXEC_UNIT_UNRECOVERABLE = 101, NRT_EXEC_BAD_INPUT = 1002, NRT_EXEC_COMPLETED_WITH_NUM_ERR = 1003,
    NRT_EXEC_COMPLETED_WITH_ERR = 1004, NRT_EXEC_NC_BUSY = 1005, NRT_EXEC_OOB = 1006, NRT_COLL_PENDING = 1100,
    NRT_EXEC_HW_ERR_COLLECTIVES = 1200, NRT_EXEC_HW_ERR_HBM_UE = 1201, NRT_EXEC_HW_ERR_NC_UE = 1202,
    NRT_EXEC_HW_ERR_DMA_ABORT = 1203, NRT_EXEC_SW_NQ_OVERFLOW = 1204, NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE = 1205,
    NRT_NETWORK_PROXY_FAILURE = 1206
} NRT_STATUS;
typedef struct nrt_model nrt_model_t;
typedef struct nrt_tensor nrt_tensor_t;
typedef struct nrt_cc_context nrt_cc_context_t;
typedef void nrt_tensor_set_t;
typedef enum { NRT_TENSOR_PLACEMENT_DEVICE, NRT_TENSOR_PLACEMENT_HOST, NRT_TENSOR_PLACEMENT_VIRTUAL }
    nrt_tensor_placement_t;
typedef enum { NRT_FRAMEWORK_TYPE_INVALID = 0, NRT_FRAMEWORK_TYPE_NO_FW = 1, NRT_FRAMEWORK_TYPE_TENSORFLOW,
               NRT_FRAMEWORK_TYPE_PYTORCH, NRT_FRAMEWORK_TYPE_MXNET, NRT_FRAMEWORK_TYPE_PRECHECK }
    nrt_framework_type_t;
typedef enum nrt_op_type { NRT_OP_ADD = 0, NRT_OP_FMA = 1, NRT_OP_MAX = 2, NRT_OP_MIN = 3, NRT_OP_INVALID = 15 }
    nrt_op_type_t;
typedef enum nrt_dtype { NRT_DTYPE_UNKNOWN = 0, NRT_DTYPE_FP8_E3 = 13, NRT_DTYPE_FP8_E4 = 14, NRT_DTYPE_FP8_E5 = 15,
    NRT_DTYPE_FLOAT16 = 7, NRT_DTYPE_BFLOAT16 = 6, NRT_DTYPE_FLOAT32 = 10, NRT_DTYPE_FP32R = 11, NRT_DTYPE_UINT8 = 3,
    NRT_DTYPE_UINT16 = 5, NRT_DTYPE_UINT32 = 9, NRT_DTYPE_UINT64 = 1, NRT_DTYPE_INT8 = 2, NRT_DTYPE_INT16 = 4,
    NRT_DTYPE_INT32 = 8, NRT_DTYPE_INT64 = 12 } nrt_dtype_t;
typedef enum nrt_cc_op_type { NRT_CC_ALLGATHER, NRT_CC_ALLREDUCE, NRT_CC_REDUCESCATTER } nrt_cc_op_type_t;
typedef struct nrt_instance_info { uint32_t family; uint32_t size; char arch_name[16]; char device_revision[8]; }
    nrt_instance_info_t;
typedef struct nrt_tensor_device_allocation_info { uint64_t physical_address; size_t size; int hbm_index; }
    nrt_tensor_device_allocation_info_t;
typedef struct nrt_cc_comm { uint32_t *replica_group; uint32_t rank; uint32_t rank_n; uint32_t ctx_device_id;
                             uint32_t ctx_device_count; uint32_t vnc; } nrt_cc_comm_t;
typedef struct nrt_tensor_list { nrt_tensor_t **tensors; size_t num_tensors; } nrt_tensor_list_t;
typedef struct nrt_version { uint64_t rt_major; uint64_t rt_minor; uint64_t rt_patch; uint64_t rt_maintenance;
                             char rt_detail[128]; char git_hash[64]; } nrt_version_t;
typedef uint64_t nrta_seq_t;
typedef struct nrt_tensor_batch_op { uint64_t offset; uint64_t size; void *buffer; } nrt_tensor_batch_op_t;
typedef struct nrt_tensor_batch { const nrt_tensor_t *tensor; const nrt_tensor_batch_op_t *ops; uint32_t num_ops; }
    nrt_tensor_batch_t;
typedef enum nrt_tensor_usage { NRT_TENSOR_USAGE_INPUT = 0, NRT_TENSOR_USAGE_OUTPUT } nrt_tensor_usage_t;
typedef struct nrt_tensor_info { char name[256]; nrt_tensor_usage_t usage; size_t size; nrt_dtype_t dtype;
                                 uint32_t *shape; uint32_t ndim; } nrt_tensor_info_t;
typedef struct nrt_tensor_info_array { uint64_t tensor_count; nrt_tensor_info_t tensor_array[]; }
    nrt_tensor_info_array_t;
typedef void (*NRT_ASYNC_EXEC_STATUS_CALLBACK)(void *params, uint32_t model_id, uint32_t vnc, uint64_t job_id,
                                               NRT_STATUS status);
"""

TYPES_3_0 = r"""
typedef enum { NRTA_XU_TENSOR_OP = 0, NRTA_XU_COMPUTE, NRTA_XU_COLLECTIVES, NRTA_XU_TYPE_NUM } nrta_xu_t;
"""

TYPES_2_28 = r"""
typedef enum { NRTA_XU_TENSOR_READ = 0, NRTA_XU_TENSOR_WRITE, NRTA_XU_TENSOR_OP, NRTA_XU_COMPUTE,
               NRTA_XU_COLLECTIVES, NRTA_XU_TYPE_NUM } nrta_xu_t;
typedef struct nrta_error { nrta_seq_t seq_id; uint64_t error_code; } nrta_error_t;
typedef struct nrta_error_tracker nrta_error_tracker_t;
"""

FUNCTIONS = r"""
const char *nrt_get_status_as_str(NRT_STATUS status);
NRT_STATUS nrt_get_instance_info(nrt_instance_info_t *info, size_t instance_info_len);
NRT_STATUS nrt_init(nrt_framework_type_t framework, const char *fw_version, const char *fal_version);
void nrt_close();
NRT_STATUS nrt_load(const void *neff_bytes, size_t size, int32_t vnc, int32_t vnc_count, nrt_model_t **model);
NRT_STATUS nrt_unload(nrt_model_t *model);
NRT_STATUS nrt_get_model_nc_count(const nrt_model_t *model, uint32_t *vnc_count);
NRT_STATUS nrt_get_model_vnc_count(const nrt_model_t *model, uint32_t *vnc_count);
NRT_STATUS nrt_get_total_nc_count(uint32_t *vnc_count);
NRT_STATUS nrt_get_total_vnc_count(uint32_t *vnc_count);
NRT_STATUS nrt_get_visible_nc_count(uint32_t *vnc_count);
NRT_STATUS nrt_get_visible_vnc_count(uint32_t *vnc_count);
NRT_STATUS nrt_allocate_tensor_set(nrt_tensor_set_t **result);
void nrt_destroy_tensor_set(nrt_tensor_set_t **tensor_set);
NRT_STATUS nrt_add_tensor_to_tensor_set(nrt_tensor_set_t *tensor_set, const char *tensor_name, nrt_tensor_t *tensor);
NRT_STATUS nrt_get_tensor_from_tensor_set(nrt_tensor_set_t *tensor_set, const char *tensor_name, nrt_tensor_t **tensor);
NRT_STATUS nrt_execute(nrt_model_t *model, const nrt_tensor_set_t *input_set, nrt_tensor_set_t *output_set);
NRT_STATUS nrt_execute_repeat(nrt_model_t *model, const nrt_tensor_set_t *input_set, nrt_tensor_set_t *output_set,
                              int repeat_count);
NRT_STATUS nrt_build_global_comm(int32_t vnc, uint32_t g_device_id, uint32_t g_device_count);
NRT_STATUS nrt_tensor_allocate(nrt_tensor_placement_t tensor_placement, int vnc, size_t size, const char *name,
                               nrt_tensor_t **tensor);
void nrt_tensor_free(nrt_tensor_t **tensor);
NRT_STATUS nrt_tensor_read(const nrt_tensor_t *tensor, void *buf, size_t offset, size_t size);
NRT_STATUS nrt_tensor_write(nrt_tensor_t *tensor, const void *buf, size_t offset, size_t size);
NRT_STATUS nrt_tensor_copy(const nrt_tensor_t *src, size_t src_offset, nrt_tensor_t *dst, size_t dst_offset,
                           size_t size);
size_t nrt_tensor_get_size(const nrt_tensor_t *tensor);
NRT_STATUS nrt_tensor_memset(nrt_tensor_t *tensor, uint64_t offset, int value, size_t size);
NRT_STATUS nrt_tensor_allocate_slice(const nrt_tensor_t *tensor_source, size_t offset, size_t size, const char *name,
                                     nrt_tensor_t **tensor_slice);
NRT_STATUS nrt_tensor_get_device_allocation_info(const nrt_tensor_t *tensor,
                                                 nrt_tensor_device_allocation_info_t *alloc_info);
NRT_STATUS nrt_cc_global_comm_init(uint32_t vnc, uint32_t g_device_id, uint32_t g_device_count);
NRT_STATUS nrt_cc_create_stream(uint32_t stream_id);
NRT_STATUS nrt_get_version(nrt_version_t *ver, size_t size);
NRT_STATUS nrt_tensor_read_batch(const nrt_tensor_batch_t *batches, uint64_t num_batches, bool unsafe);
NRT_STATUS nrt_tensor_write_batch(const nrt_tensor_batch_t *batches, uint64_t num_batches, bool unsafe);
NRT_STATUS nrt_get_model_tensor_info(nrt_model_t *model, nrt_tensor_info_array_t **tensor_info);
NRT_STATUS nrt_free_model_tensor_info(nrt_tensor_info_array_t *tensor_info);
NRT_STATUS nrt_register_async_exec_callback(NRT_ASYNC_EXEC_STATUS_CALLBACK callback, void *params);
NRT_STATUS nrt_async_drain_queued_execs(int32_t vnc);
uint64_t neuronsim_now_ns(void);
int neuronsim_wait_fds(int *fds, int count, int64_t timeout_ms);
void neuronsim_consumed(int fd);
"""

ASYNC_3_0 = r"""
NRT_STATUS nrta_tensor_write(nrt_tensor_t *tensor, const void *buf, uint64_t offset, uint64_t size, int lnc_idx,
                             int queue, NRT_STATUS *exec_ret, nrta_seq_t *req_sequence);
NRT_STATUS nrta_tensor_read(void *buf, nrt_tensor_t *tensor, uint64_t offset, uint64_t size, int lnc_idx, int queue,
                            NRT_STATUS *exec_ret, nrta_seq_t *req_sequence);
NRT_STATUS nrta_tensor_copy(nrt_tensor_t *src, uint64_t src_offset, nrt_tensor_t *dst, uint64_t dst_offset,
                            uint64_t size, int lnc_idx, int queue, NRT_STATUS *exec_ret, nrta_seq_t *req_sequence);
NRT_STATUS nrta_execute_schedule(nrt_model_t *model, const nrt_tensor_set_t *input, nrt_tensor_set_t *output,
                                 int queue, NRT_STATUS *ret, nrta_seq_t *req_sequence);
NRT_STATUS nrta_cc_prepare(nrt_cc_comm_t *comm, nrt_tensor_list_t *input, nrt_tensor_list_t *output,
                           nrt_dtype_t dtype, nrt_op_type_t op, nrt_cc_op_type_t cc_op, nrt_cc_context_t **cc_ctx);
NRT_STATUS nrta_cc_schedule(nrt_cc_context_t **cc_ctx, int queue, NRT_STATUS *ret, nrta_seq_t *req_sequence);
NRT_STATUS nrta_is_completed(nrta_seq_t seq, bool *is_completed);
NRT_STATUS nrta_get_sequence(uint32_t lnc, nrta_xu_t xu, int queue, nrta_seq_t *seq);
NRT_STATUS nrta_event_register_seq_id_completion(nrta_seq_t seq, int fd);
NRT_STATUS nrta_event_register_xu_completion(int lnc, nrta_xu_t xu, int queue, int fd);
"""

ASYNC_2_28 = r"""
NRT_STATUS nrta_tensor_write(nrt_tensor_t *tensor, const void *buf, uint64_t offset, uint64_t size, int queue,
                             nrta_error_tracker_t *err, nrta_seq_t *req_sequence);
NRT_STATUS nrta_tensor_read(void *buf, nrt_tensor_t *tensor, uint64_t offset, uint64_t size, int queue,
                            nrta_error_tracker_t *err, nrta_seq_t *req_sequence);
NRT_STATUS nrta_tensor_copy(nrt_tensor_t *src, uint64_t src_offset, nrt_tensor_t *dst, uint64_t dst_offset,
                            uint64_t size, int queue, nrta_error_tracker_t *err, nrta_seq_t *req_sequence);
NRT_STATUS nrta_execute_schedule(nrt_model_t *model, const nrt_tensor_set_t *input, nrt_tensor_set_t *output,
                                 int queue, nrta_error_tracker_t *err, nrta_seq_t *req_sequence);
NRT_STATUS nrta_cc_prepare(nrt_cc_comm_t *comm, nrt_tensor_list_t *input, nrt_tensor_list_t *output,
                           nrt_dtype_t dtype, nrt_op_type_t op, nrt_cc_op_type_t cc_op, nrt_cc_context_t **cc_ctx);
NRT_STATUS nrta_cc_schedule(nrt_cc_context_t **cc_ctx, int queue, nrta_error_tracker_t *err,
                            nrta_seq_t *req_sequence);
NRT_STATUS nrta_is_completed(nrta_seq_t seq, bool *is_completed);
NRT_STATUS nrta_get_sequence(uint32_t lnc, nrta_xu_t xu, int queue, nrta_seq_t *seq);
NRT_STATUS nrta_get_completion_handle(nrta_seq_t seq, int *fd);
NRT_STATUS nrta_error_tracker_create(uint32_t lnc_idx, nrta_error_tracker_t **error_tracker);
void nrta_error_tracker_destroy(nrta_error_tracker_t *error_tracker);
NRT_STATUS nrta_error_tracker_get_list(nrta_error_tracker_t *error_tracker, const nrta_error_t **list,
                                       size_t *error_count);
"""

APIS = ("3.0", "2.28")


def cdef(api: str) -> tuple[str, str]:
    """``(types, functions)`` of the library for API generation ``api``."""
    if api == "2.28":
        return TYPES + TYPES_2_28, FUNCTIONS + ASYNC_2_28
    return TYPES + TYPES_3_0, FUNCTIONS + ASYNC_3_0


def exported(api: str = "3.0") -> tuple[str, ...]:
    """The C functions the library exports for ``api``."""
    return tuple(line.split("(")[0].split()[-1].lstrip("*") for line in cdef(api)[1].splitlines()
                 if "(" in line and not line.startswith(" "))

# C: the headers (so the compiler checks the signatures above against them), and the interposed
# read() / close() that make an eventfd-style wait advance simulated time.
SOURCE = r"""
#include <dlfcn.h>  /* RTLD_NEXT: Python.h, included first, defines _GNU_SOURCE */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include "nrt/nrt.h"
#include "nrt/nrt_async.h"
#include "nrt/nrt_experimental.h"
#include "nrt/neuronsim.h"

#define NEURONSIM_MAX_FD 65536
static volatile unsigned char neuronsim_sim_fd[NEURONSIM_MAX_FD];

static int neuronsim_is_sim_fd(int fd) {
    return fd >= 0 && fd < NEURONSIM_MAX_FD && neuronsim_sim_fd[fd];
}

void neuronsim_mark_fd(int fd, int on) {
    if (fd >= 0 && fd < NEURONSIM_MAX_FD) neuronsim_sim_fd[fd] = (unsigned char)(on != 0);
}

int neuronsim_wait_fds(int *fds, int count, int64_t timeout_ms);
void neuronsim_consumed(int fd);

/* a blocking read of a simulated eventfd runs the simulation until it is signalled */
ssize_t read(int fd, void *buf, size_t count) {
    static ssize_t (*real_read)(int, void *, size_t) = 0;
    if (!real_read) real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    if (!neuronsim_is_sim_fd(fd)) return real_read(fd, buf, count);
    if (!(fcntl(fd, F_GETFL) & O_NONBLOCK) && neuronsim_wait_fds(&fd, 1, -1) != 0) {
        errno = EDEADLK; /* nothing left in the simulation can ever signal it */
        return -1;
    }
    ssize_t got = real_read(fd, buf, count);
    if (got > 0) neuronsim_consumed(fd);
    return got;
}

/* poll() on simulated eventfds waits in simulated time (its timeout in simulated milliseconds) */
int poll(struct pollfd *fds, nfds_t nfds, int timeout) {
    static int (*real_poll)(struct pollfd *, nfds_t, int) = 0;
    if (!real_poll) real_poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
    int sim[64];
    int count = 0;
    for (nfds_t i = 0; i < nfds && count < 64; i++)
        if (neuronsim_is_sim_fd(fds[i].fd) && (fds[i].events & POLLIN)) sim[count++] = fds[i].fd;
    if (count == 0 || (nfds_t)count != nfds) return real_poll(fds, nfds, timeout);
    if (timeout != 0 && neuronsim_wait_fds(sim, count, timeout) != 0) {
        errno = EDEADLK;
        return -1;
    }
    return real_poll(fds, nfds, 0);
}

int close(int fd) {
    static int (*real_close)(int) = 0;
    if (!real_close) real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    neuronsim_mark_fd(fd, 0);
    return real_close(fd);
}
"""


def _fallbacks(api: str) -> dict[str, str]:
    """What each entry point returns if Python's side cannot start: NRT_FAILURE, or its type's nothing."""
    out = {}
    for line in cdef(api)[1].splitlines():
        if "(" not in line or line.startswith(" "):
            continue
        head = line.split("(")[0]
        name = head.split()[-1].lstrip("*")
        kind = head[: head.rindex(name)].strip()
        out[name] = {"NRT_STATUS": "1", "void": "None", "const char *": "ffi.NULL", "int": "1"}.get(kind, "0")
    return out


def _init_code(paths: list[str], sites: list[str], api: str) -> str:
    fallbacks = ", ".join(f"{name!r}: {value}" for name, value in _fallbacks(api).items())
    return (
        "import sys\n"
        f"sys.path[:0] = [p for p in {paths!r} if p not in sys.path]\n"
        "from _neuronsim_nrt import ffi, lib\n"
        "try:\n"
        "    import site\n"
        f"    for folder in {sites!r}:\n"
        "        site.addsitedir(folder)\n"
        "    from neuronsim.capi.bridge import install\n"
        f"    install(ffi, lib, {api!r})\n"
        "except Exception as exc:\n"
        "    sys.stderr.write(f'neuronsim: libnrt cannot start its Python side: {type(exc).__name__}: {exc}\\n')\n"
        f"    for _name, _value in {{{fallbacks}}}.items():\n"
        "        ffi.def_extern(name=_name)((lambda v: lambda *args: v)(_value))\n"
    )


def _key() -> str:
    digest = hashlib.sha256()
    digest.update(sys.executable.encode())
    digest.update(repr(sys.path).encode())
    for path in sorted(HERE.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".h"):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(target_dir: str | Path, api: str = "3.0") -> Path:
    """Compile ``libnrt.so`` for API generation ``api`` into ``target_dir``; returns its path."""
    import site

    import cffi

    import neuronsim

    if api not in APIS:
        raise ValueError(f"api must be one of {APIS}, not {api!r}")
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    types, functions = cdef(api)
    ffi = cffi.FFI()
    ffi.embedding_api(types + functions)
    ffi.cdef("void neuronsim_mark_fd(int fd, int on);")
    ffi.set_source("_neuronsim_nrt", SOURCE, include_dirs=[str(p) for p in include_dirs(api)], libraries=["dl"])
    root = str(Path(neuronsim.__file__).resolve().parents[1])  # an editable install's source tree too
    paths = [root] + [p for p in sys.path if p and Path(p).is_dir()]
    sites = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    ffi.embedding_init_code(_init_code(paths, sites, api))
    with tempfile.TemporaryDirectory() as work:
        built = ffi.compile(tmpdir=work, target="libnrt.*", verbose=False)
        final = target / Path(built).name
        os.replace(built, final)
    return final


def library_dir(api: str = "3.0") -> Path:
    """The folder holding ``libnrt.so`` for ``api``, built there first if it is not yet
    (``NEURONSIM_CAPI_DIR/<api>``, else ``~/.cache/neuronsim/capi/<key>/<api>``)."""
    base = os.environ.get("NEURONSIM_CAPI_DIR")
    folder = (Path(base) if base else Path.home() / ".cache" / "neuronsim" / "capi" / _key()) / api
    if not (folder / "libnrt.so").is_file():
        build(folder, api)
    return folder
