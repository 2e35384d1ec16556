"""Building ``libnrt.so.1``: the Neuron Runtime's C ABI over the simulator, with cffi's embedding mode.

The library (SONAME ``libnrt.so.1``, with ``libnrt.so`` beside it) exports every C function neuronsim's
headers declare (``include/nrt/*.h``, the real ones' names, types and argument order). Each exported
function is a small C wrapper (:func:`wrappers`): it checks that the library can run in this process,
then calls its cffi entry point ``_nsim_<name>``, which :mod:`neuronsim.capi.bridge` implements over the
Python mirror (or answers "not simulated"). cffi reads the declarations from the headers themselves
(:func:`declarations`), and the generated C includes them, so the library cannot drift from them.

Python starts inside the process on the first call, or the process's own Python is used; a Python of
another version already running in the process makes every call return ``NRT_FAILURE`` with one line
saying why, and the library's libpython is made global at load, so it works under
``dlopen(RTLD_LOCAL)``. The bridge is imported with the process's ``sys.path`` when it can be, else
neuronsim's folder and site-packages are appended. Three libc functions are interposed, ``read``,
``poll`` and ``close``: a blocking ``read`` of a registered eventfd first runs the simulation until it
is signalled; every other call goes straight to libc (waits the library cannot interpose are seen by
the bridge's watcher thread).

:func:`library_dir` builds the library on first use into a cache folder (``NEURONSIM_CAPI_DIR``, else
``~/.cache/neuronsim/capi/<key>``, a folder per API generation; the key changes with neuronsim's sources
and the interpreter); :func:`install_prefix` lays out an ``/opt/aws/neuron``-style tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["include_dir", "include_dirs", "library_dir", "build", "cdef", "exported", "declarations", "install_prefix",
           "APIS", "SONAME"]

HERE = Path(__file__).parent


def include_dir() -> Path:
    """The folder to put on the include path: it holds ``nrt/nrt.h`` and the others."""
    return HERE / "include"


def include_dirs(api: str = "3.0") -> list[Path]:
    """The include path for API generation ``api``: 2.28's ``nrt/nrt_async.h`` comes first."""
    return [HERE / "include-2.28", include_dir()] if api == "2.28" else [include_dir()]


HEADERS = ("nrt/nrt_status.h", "ndl/neuron_driver_shared_tensor_batch_op.h", "nrt/nrt_version.h", "nrt/nrt.h",
           "nrt/nrt_async.h", "nrt/nrt_experimental.h", "nrt/nrt_profile.h", "nrt/nrt_sys_trace.h",
           "nrt/nrt_async_sendrecv.h", "nrt/neuronsim.h")
APIS = ("3.0", "2.28")
SONAME = "libnrt.so.1"
PREFIX = "_nsim_"  # the cffi entry point behind each exported C function (the C wrapper checks the library can run)

# entry points the library's own C calls (not in any header)
INTERNAL = """
int neuronsim_wait_fds(int *fds, int count, int64_t timeout_ms);
void neuronsim_consumed(int fd);
void neuronsim_closed(int fd);
int neuronsim_ping(void);
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


def _split(declaration: str) -> tuple[str, str, list[str], list[str]]:
    """``(return type, name, parameters, argument names)`` of a prototype."""
    head, rest = declaration.split("(", 1)
    name = _function_name(declaration) or ""
    kind = head[: head.rindex(name)].strip()
    inner = rest[: rest.rindex(")")].strip()
    params = [] if inner in ("", "void") else [p.strip() for p in inner.split(",")]
    names = [re.findall(r"(\w+)\s*(?:\[\s*\])?$", p)[0] for p in params]
    return kind, name, params, names


def declarations(api: str) -> tuple[list[str], list[str]]:
    """``(types, prototypes)`` the headers of API generation ``api`` declare, in header order."""
    types: list[str] = []
    functions: list[str] = []
    for header in HEADERS:
        path = next(folder / header for folder in include_dirs(api) if (folder / header).is_file())
        for declaration in _declarations(path.read_text(encoding="utf-8")):
            (types if _function_name(declaration) is None else functions).append(declaration)
    return types, functions


def cdef(api: str) -> tuple[str, str]:
    """``(types, entry points)`` for cffi: the headers' types, and one ``_nsim_<name>`` entry point per
    declared function (the exported C function of that name calls it)."""
    types, functions = declarations(api)
    entries = []
    for declaration in functions:
        kind, name, params, _ = _split(declaration)
        entries.append(f"{kind} {PREFIX}{name}({', '.join(params) or 'void'});")
    internal = [line.replace(" neuronsim_", f" {PREFIX}neuronsim_") for line in INTERNAL.strip().splitlines()]
    return "\n".join(types) + "\n", "\n".join(entries + internal) + "\n"


def exported(api: str = "3.0") -> tuple[str, ...]:
    """The C functions the library exports for ``api``: every function its headers declare."""
    return tuple(_split(d)[1] for d in declarations(api)[1])


def _fallback(kind: str) -> str:
    """What a function of return type ``kind`` returns when the library cannot run."""
    if kind == "NRT_STATUS":
        return "NRT_FAILURE"
    if kind == "void":
        return ""
    if kind == "const char *":
        return "neuronsim_unusable_text"
    return "NULL" if "*" in kind else "0"


def wrappers(api: str) -> str:
    """The exported C functions: each checks that the library can run in this process, then calls its
    ``_nsim_`` entry point; if it cannot, it returns NRT_FAILURE (or its type's nothing)."""
    out = []
    for declaration in declarations(api)[1]:
        kind, name, params, names = _split(declaration)
        fallback = _fallback(kind)
        call = f"{PREFIX}{name}({', '.join(names)})"
        body = (f"if (!neuronsim_start()) return; {call};" if kind == "void"
                else f"if (!neuronsim_start()) return {fallback}; return {call};")
        out.append(f"{kind} {name}({', '.join(params) or 'void'}) {{ {body} }}")
    return "\n".join(out) + "\n"


SOURCE = r"""
#include <dlfcn.h>  /* RTLD_NEXT, RTLD_DEFAULT, dladdr: Python.h, included first, defines _GNU_SOURCE */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "nrt/nrt.h"
#include "nrt/nrt_async.h"
#include "nrt/nrt_experimental.h"
#include "nrt/nrt_profile.h"
#include "nrt/nrt_sys_trace.h"
#include "nrt/nrt_async_sendrecv.h"
#include "nrt/neuronsim.h"

/*PROTOTYPES*/

#define NEURONSIM_MAX_FD 65536
static volatile unsigned char neuronsim_sim_fd[NEURONSIM_MAX_FD];

static int neuronsim_is_sim_fd(int fd) {
    return fd >= 0 && fd < NEURONSIM_MAX_FD && neuronsim_sim_fd[fd];
}

void neuronsim_mark_fd(int fd, int on) {
    if (fd >= 0 && fd < NEURONSIM_MAX_FD) neuronsim_sim_fd[fd] = (unsigned char)(on != 0);
}

/* Whether the library can run in this process: 0 not yet known, 1 yes, 2 no (neuronsim_why says why). */
static volatile int neuronsim_state = 0;
static char neuronsim_why[512];
static const char neuronsim_unusable_text[] = "neuronsim: libnrt cannot run in this process (see its log line)";

/* On load: a Python already running in the process must be the one the library was built with (its
   C API is what the library calls); then that libpython's symbols are made global, so the extension
   modules the simulator imports find them even when the library was dlopen()ed with RTLD_LOCAL. */
__attribute__((constructor)) static void neuronsim_loaded(void) {
    const char *(*running)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
    if (running) {
        const char *version = running();
        if (strncmp(version, NEURONSIM_PY_MM, strlen(NEURONSIM_PY_MM)) != 0) {
            snprintf(neuronsim_why, sizeof neuronsim_why,
                     "this process runs Python %.*s but libnrt was built with Python %s (build it with this "
                     "interpreter: neuronsim capi-config --libs)", (int)strcspn(version, " "), version, PY_VERSION);
            return;
        }
    }
    Dl_info info;
    if (dladdr((void *)&Py_GetVersion, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

/* Before cffi starts its side: Python running (started here if the process has none, as cffi would),
   and cffi's own module importable, else cffi's folder appended to sys.path (a Python process whose
   environment lacks cffi, a C process whose default sys.path lacks it). */
static void neuronsim_prepare_python(void) {
    if (!Py_IsInitialized()) {
        Py_InitializeEx(0);
        PyEval_SaveThread(); /* release the GIL, as cffi does after starting Python */
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *backend = PyImport_ImportModule("_cffi_backend");
    if (backend) {
        Py_DECREF(backend);
    } else {
        PyErr_Clear();
        PyObject *path = PySys_GetObject("path"); /* borrowed */
        PyObject *folder = PyUnicode_FromString(NEURONSIM_CFFI_DIR);
        if (path && folder && PyList_Check(path)) PyList_Append(path, folder);
        Py_XDECREF(folder);
    }
    PyGILState_Release(gil);
}

static pthread_once_t neuronsim_prepared = PTHREAD_ONCE_INIT;

static int neuronsim_start(void) {
    if (neuronsim_state == 1) return 1;
    if (neuronsim_state == 2) return 0;
    if (!neuronsim_why[0]) {
        pthread_once(&neuronsim_prepared, neuronsim_prepare_python);
        if (_nsim_neuronsim_ping() == 0x6e73) {  /* the Python side answered: it started */
            neuronsim_state = 1;
            return 1;
        }
        snprintf(neuronsim_why, sizeof neuronsim_why, "its Python side did not start (the lines above say why)");
    }
    fprintf(stderr, "neuronsim: libnrt cannot run in this process: %s; every call returns NRT_FAILURE\n",
            neuronsim_why);
    neuronsim_state = 2;
    return 0;
}

/* a blocking read of a simulated eventfd runs the simulation until it is signalled */
ssize_t read(int fd, void *buf, size_t count) {
    static ssize_t (*real_read)(int, void *, size_t) = 0;
    if (!real_read) real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    if (!neuronsim_is_sim_fd(fd)) return real_read(fd, buf, count);
    if (!(fcntl(fd, F_GETFL) & O_NONBLOCK) && _nsim_neuronsim_wait_fds(&fd, 1, -1) != 0) {
        errno = EDEADLK; /* nothing left in the simulation can ever signal it */
        return -1;
    }
    ssize_t got = real_read(fd, buf, count);
    if (got > 0) _nsim_neuronsim_consumed(fd);
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
    if (timeout != 0 && _nsim_neuronsim_wait_fds(sim, count, timeout) != 0) {
        errno = EDEADLK;
        return -1;
    }
    return real_poll(fds, nfds, 0);
}

/* closing a simulated eventfd tells the simulator, so the number's next eventfd is a new one */
int close(int fd) {
    static int (*real_close)(int) = 0;
    if (!real_close) real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    if (neuronsim_is_sim_fd(fd)) {
        neuronsim_mark_fd(fd, 0);
        _nsim_neuronsim_closed(fd);
    }
    return real_close(fd);
}
"""


def _init_code(paths: list[str], sites: list[str], api: str) -> str:
    """The embedded interpreter's start: import the bridge with the process's own ``sys.path`` if it can,
    else with neuronsim's folders appended (never prepended: the host's own modules keep priority)."""
    return (
        "import sys\n"
        "from _neuronsim_nrt import ffi, lib\n"
        "def _neuronsim_start():\n"
        "    try:\n"
        "        from neuronsim.capi.bridge import install\n"
        "    except ImportError:\n"
        "        for _name in [m for m in sys.modules if m == 'neuronsim' or m.startswith('neuronsim.')]:\n"
        "            del sys.modules[_name]\n"
        "        import site\n"
        f"        sys.path.extend(p for p in {paths!r} if p not in sys.path)\n"
        f"        for folder in {sites!r}:\n"
        "            site.addsitedir(folder)\n"
        "        from neuronsim.capi.bridge import install\n"
        f"    install(ffi, lib, {api!r})\n"
        "try:\n"
        "    _neuronsim_start()\n"
        "except Exception as exc:\n"
        "    sys.stderr.write(f'neuronsim: libnrt cannot start its Python side: {type(exc).__name__}: {exc}\\n')\n"
        "del _neuronsim_start\n"
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
    """Compile ``libnrt.so.1`` (SONAME ``libnrt.so.1``) for API generation ``api`` into ``target_dir``,
    with ``libnrt.so`` beside it (a symbolic link); returns the path of ``libnrt.so``."""
    import site

    import cffi

    import neuronsim

    if api not in APIS:
        raise ValueError(f"api must be one of {APIS}, not {api!r}")
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    types, entries = cdef(api)
    ffi = cffi.FFI()
    ffi.cdef(types)
    ffi.embedding_api(entries)
    ffi.cdef("void neuronsim_mark_fd(int fd, int on);")
    version = f"{sys.version_info.major}.{sys.version_info.minor}."
    import _cffi_backend

    cffi_dir = str(Path(_cffi_backend.__file__).resolve().parent)
    source = f'#define NEURONSIM_PY_MM "{version}"\n#define NEURONSIM_CFFI_DIR {json.dumps(cffi_dir)}\n' + SOURCE.replace("/*PROTOTYPES*/", entries) + wrappers(api)
    ffi.set_source("_neuronsim_nrt", source, include_dirs=[str(p) for p in include_dirs(api)], libraries=["dl"],
                   extra_link_args=[f"-Wl,-soname,{SONAME}"])
    root = str(Path(neuronsim.__file__).resolve().parents[1])  # an editable install's source tree too
    paths = [root]  # and the site folders (their .pth files too): what neuronsim and its dependencies need
    sites = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    ffi.embedding_init_code(_init_code(paths, sites, api))
    with tempfile.TemporaryDirectory() as work:
        built = ffi.compile(tmpdir=work, target="libnrt.*", verbose=False)
        final = target / SONAME
        os.replace(built, final)
    link = target / "libnrt.so"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(SONAME)
    return link


def library_dir(api: str = "3.0") -> Path:
    """The folder holding ``libnrt.so`` for ``api``, built there first if it is not yet
    (``NEURONSIM_CAPI_DIR/<api>``, else ``~/.cache/neuronsim/capi/<key>/<api>``)."""
    base = os.environ.get("NEURONSIM_CAPI_DIR")
    folder = (Path(base) if base else Path.home() / ".cache" / "neuronsim" / "capi" / _key()) / api
    if not (folder / "libnrt.so").is_file():
        build(folder, api)
    return folder


def install_prefix(prefix: str | Path, api: str = "3.0") -> Path:
    """Lay out an ``/opt/aws/neuron``-style tree at ``prefix``: ``include/nrt/*.h``, ``include/ndl/*.h``
    and ``lib/libnrt.so.1`` with ``lib/libnrt.so`` beside it, so build systems that take
    ``NEURON_ROOT`` (or ``-I$NEURON_ROOT/include -L$NEURON_ROOT/lib``) build against neuronsim unchanged."""
    root = Path(prefix)
    include = root / "include"
    for folder in reversed(include_dirs(api)):  # 2.28's nrt_async.h last, over the 3.0 one
        for header in sorted(folder.rglob("*.h")):
            dest = include / header.relative_to(folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(header, dest)
    build(root / "lib", api)
    return root
