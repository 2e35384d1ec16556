"""A ctypes NEFF runner, as clients write one: libnrt.so.1 loaded with ctypes (RTLD_LOCAL), a NEFF file
loaded, its tensors allocated from the model's tensor info, one execution, the outputs read; then a
completion waited for with a blocking os.read on an eventfd, request after request. Prints what it saw,
and whether loading the library changed sys.path."""

import ctypes
import os
import struct
import sys

before = list(sys.path)
lib = ctypes.CDLL(os.environ["LIBNRT"])
NRT_SUCCESS = 0


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 256), ("usage", ctypes.c_int), ("size", ctypes.c_size_t),
                ("dtype", ctypes.c_int), ("shape", ctypes.POINTER(ctypes.c_uint32)), ("ndim", ctypes.c_uint32)]


class TensorInfoArray(ctypes.Structure):
    _fields_ = [("tensor_count", ctypes.c_uint64), ("tensor_array", TensorInfo * 0)]


def check(status, what):
    if status != NRT_SUCCESS:
        raise SystemExit(f"{what}: {lib.nrt_get_status_as_str(status)} ({status})")


lib.nrt_get_status_as_str.restype = ctypes.c_char_p
lib.neuronsim_now_ns.restype = ctypes.c_uint64
check(lib.nrt_init(1, b"", b""), "nrt_init")
print("sys.path changed:", [p for p in sys.path if p not in before])
data = open(os.environ["NEFF"], "rb").read()
model = ctypes.c_void_p()
check(lib.nrt_load(data, ctypes.c_size_t(len(data)), 0, -1, ctypes.byref(model)), "nrt_load")
info = ctypes.POINTER(TensorInfoArray)()
check(lib.nrt_get_model_tensor_info(model, ctypes.byref(info)), "nrt_get_model_tensor_info")
count = info.contents.tensor_count
entries = ctypes.cast(ctypes.addressof(info.contents) + TensorInfoArray.tensor_array.offset,
                      ctypes.POINTER(TensorInfo * count)).contents
inputs, outputs = ctypes.c_void_p(), ctypes.c_void_p()
check(lib.nrt_allocate_tensor_set(ctypes.byref(inputs)), "set")
check(lib.nrt_allocate_tensor_set(ctypes.byref(outputs)), "set")
tensors = {}
for entry in entries:
    name = entry.name.decode()
    shape = [entry.shape[d] for d in range(entry.ndim)]
    print(f"{'input' if entry.usage == 0 else 'output'} {name} {entry.size} bytes shape {shape}")
    t = ctypes.c_void_p()
    check(lib.nrt_tensor_allocate(0, 0, ctypes.c_size_t(entry.size), name.encode(), ctypes.byref(t)), "allocate")
    check(lib.nrt_add_tensor_to_tensor_set(inputs if entry.usage == 0 else outputs, name.encode(), t), "add")
    tensors[name] = (t, entry.size, entry.usage)
for t, size, usage in tensors.values():
    if usage == 0:
        values = struct.pack(f"<{size // 4}f", *[k * 0.5 for k in range(size // 4)])
        check(lib.nrt_tensor_write(t, values, ctypes.c_size_t(0), ctypes.c_size_t(size)), "write")
check(lib.nrt_execute(model, inputs, outputs), "nrt_execute")
for name, (t, size, usage) in tensors.items():
    if usage == 1:
        back = ctypes.create_string_buffer(size)
        check(lib.nrt_tensor_read(t, back, ctypes.c_size_t(0), ctypes.c_size_t(size)), "read")
        got = struct.unpack(f"<{size // 4}f", back.raw)
        print(f"{name}: {'checked' if all(v == k * 0.5 * 2 + 1 for k, v in enumerate(got)) else 'WRONG'}")
for i in range(3):  # the per-request eventfd loop, waited on with a blocking os.read
    ret, seq = ctypes.c_int(-1), ctypes.c_uint64()
    check(lib.nrta_execute_schedule(model, inputs, outputs, 0, ctypes.byref(ret), ctypes.byref(seq)), "schedule")
    fd = os.eventfd(0)
    check(lib.nrta_event_register_seq_id_completion(seq, fd), "register")
    value = int.from_bytes(os.read(fd, 8), sys.byteorder)
    check(lib.nrta_event_register_seq_id_completion(seq, -1), "deregister")
    os.close(fd)
    print(f"request {i}: fd {fd} count {value} ret {ret.value} t={lib.neuronsim_now_ns()}")
lib.nrt_close()
