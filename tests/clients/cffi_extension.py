"""A Python extension module that calls libnrt (built with cffi in API mode against the prefix's headers
and linked with -lnrt, as an extension written in C would be), imported into this Python process: it
loads a NEFF file and reports its tensors. argv: the build folder, the prefix."""

import os
import sys

import cffi

folder, prefix = sys.argv[1], sys.argv[2]
ffi = cffi.FFI()
ffi.cdef("""
typedef struct { char name[256]; int usage; size_t size; int dtype; uint32_t *shape; uint32_t ndim; } info_t;
int client_run(const char *neff, size_t size, char *report, size_t report_size);
""")
ffi.set_source("_nrt_client", r"""
#include <stdio.h>
#include <string.h>
#include <nrt/nrt.h>
#include <nrt/nrt_experimental.h>
typedef nrt_tensor_info_t info_t;
int client_run(const char *neff, size_t size, char *report, size_t report_size) {
    NRT_STATUS s = nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "");
    if (s != NRT_SUCCESS) return s;
    nrt_model_t *model = NULL;
    if ((s = nrt_load(neff, size, 0, -1, &model)) != NRT_SUCCESS) return s;
    nrt_tensor_info_array_t *info = NULL;
    if ((s = nrt_get_model_tensor_info(model, &info)) != NRT_SUCCESS) return s;
    size_t used = 0;
    for (uint64_t i = 0; i < info->tensor_count; i++)
        used += snprintf(report + used, report_size - used, "%s:%zu ", info->tensor_array[i].name,
                         info->tensor_array[i].size);
    nrt_free_model_tensor_info(info);
    nrt_unload(model);
    nrt_close();
    return 0;
}
""", include_dirs=[os.path.join(prefix, "include")], library_dirs=[os.path.join(prefix, "lib")],
    runtime_library_dirs=[os.path.join(prefix, "lib")], libraries=["nrt"])
ffi.compile(tmpdir=folder, verbose=False)
sys.path.insert(0, folder)
before = list(sys.path)
import _nrt_client  # noqa: E402

data = open(os.environ["NEFF"], "rb").read()
report = _nrt_client.ffi.new("char[512]")
status = _nrt_client.lib.client_run(data, len(data), report, 512)
print("status", status, "tensors", _nrt_client.ffi.string(report).decode().strip())
print("sys.path changed:", [p for p in sys.path if p not in before])
