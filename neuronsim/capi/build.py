"""Building ``libnrt.so``: the Neuron Runtime's C ABI over the simulator, with cffi's embedding mode.

The library exports the C functions of neuronsim's headers (``include/nrt/*.h``, the real ones' names
and signatures) that :mod:`neuronsim.capi.bridge` implements (``EXPORTED``); each is a thin C entry
point into the bridge, which calls the Python mirror. cffi reads the declarations from the headers
themselves (:func:`cdef`), and the generated C includes them, so the library cannot drift from them. Python starts inside the process on the first call; its ``sys.path`` is the one of the
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
import re
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


HEADERS = ("nrt/nrt_status.h", "nrt/nrt.h", "nrt/nrt_async.h", "nrt/nrt_experimental.h", "nrt/neuronsim.h")
APIS = ("3.0", "2.28")

# The C functions the library implements (the bridge defines each); the headers declare more, which
# are not exported, so code calling them fails to link rather than getting a made-up answer.
EXPORTED = frozenset("""
nrt_get_status_as_str nrt_get_instance_info nrt_init nrt_close nrt_load nrt_load_collectives nrt_unload nrt_get_model_nc_count
nrt_get_model_vnc_count nrt_get_total_nc_count nrt_get_total_vnc_count nrt_get_visible_nc_count
nrt_get_visible_vnc_count nrt_allocate_tensor_set nrt_destroy_tensor_set nrt_add_tensor_to_tensor_set
nrt_get_tensor_from_tensor_set nrt_execute nrt_execute_repeat nrt_build_global_comm nrt_tensor_allocate
nrt_tensor_free nrt_tensor_read nrt_tensor_write nrt_tensor_copy nrt_tensor_get_size nrt_tensor_memset
nrt_tensor_allocate_slice nrt_tensor_get_device_allocation_info nrt_cc_global_comm_init nrt_cc_create_stream
nrt_get_version nrt_tensor_read_batch nrt_tensor_write_batch nrt_get_model_tensor_info nrt_free_model_tensor_info
nrt_register_async_exec_callback nrt_async_drain_queued_execs
nrta_tensor_write nrta_tensor_read nrta_tensor_copy nrta_execute_schedule nrta_cc_prepare nrta_cc_schedule
nrta_is_completed nrta_get_sequence nrta_event_register_seq_id_completion nrta_event_register_xu_completion
nrta_get_completion_handle nrta_error_tracker_create nrta_error_tracker_destroy nrta_error_tracker_get_list
neuronsim_now_ns
""".split())

# entry points the interposed libc functions call (not in any header)
INTERNAL = """
int neuronsim_wait_fds(int *fds, int count, int64_t timeout_ms);
void neuronsim_consumed(int fd);
"""

_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_CONSTANT = re.compile(r"^#define\s+(\w+)\s+(\d+)\s*$")
_NAME = re.compile(r"(\w+)\s*\($")


def _declarations(text: str) -> list[str]:
    """The C declarations of a header: comments, the C++ guards and preprocessor lines dropped (integer
    ``#define`` constants kept, cffi reads them), split at the top-level semicolons."""
    lines, skipping = [], False
    for line in _COMMENTS.sub("", text).splitlines():
        stripped = line.strip()
        if stripped.startswith("#ifdef __cplusplus"):
            skipping = True
        elif skipping:
            skipping = not stripped.startswith("#endif")
        elif _CONSTANT.match(stripped):
            lines.append(stripped)
        elif stripped and not stripped.startswith(("#", "static_assert")):
            lines.append(stripped)
    out, current, depth = [], "", 0
    for line in lines:
        if line.startswith("#define"):
            out.append(line)
            continue
        for char in line + " ":
            current += char
            depth += {"{": 1, "}": -1}.get(char, 0)
            if char == ";" and depth == 0:
                out.append(" ".join(current.split()))
                current = ""
    return out


def _function_name(declaration: str) -> str | None:
    """The name a prototype declares (None for a typedef, a struct, an enum or a constant)."""
    if declaration.startswith(("typedef", "#", "struct", "enum")):
        return None
    match = _NAME.search(declaration.split("(")[0] + "(")
    return match.group(1) if match else None


def cdef(api: str) -> tuple[str, str]:
    """``(types, functions)``: the headers of API generation ``api`` as cffi reads them, the functions
    being the exported prototypes, as the headers declare them."""
    types, functions = [], []
    for header in HEADERS:
        path = next(folder / header for folder in include_dirs(api) if (folder / header).is_file())
        for declaration in _declarations(path.read_text(encoding="utf-8")):
            name = _function_name(declaration)
            if name is None:
                types.append(declaration)
            elif name in EXPORTED:
                functions.append(declaration)
    return "\n".join(types) + "\n", "\n".join(functions) + "\n" + INTERNAL


def exported(api: str = "3.0") -> tuple[str, ...]:
    """The C functions the library exports for ``api`` (its entry points, neuronsim's own included)."""
    return tuple(name for line in cdef(api)[1].splitlines() if (name := _function_name(line)))


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
        name = _function_name(line)
        if name is None:
            continue
        head = line.split("(")[0]
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
    ffi.cdef(types)
    ffi.embedding_api(functions)
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
