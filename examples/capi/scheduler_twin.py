"""examples/capi/scheduler.c written against the Python mirror, call for call, printing the same lines.

    python examples/capi/scheduler_twin.py        (NEURONSIM_INSTANCE and NEURONSIM_SEED as for the C one)

tests/test_capi.py runs both and checks that they print the same sequence ids, statuses and times.
"""

from __future__ import annotations

import os

import numpy as np

from neuronsim import Simulator
from neuronsim.capi.bridge import neff_from_bytes
from neuronsim.nrt import (
    NRT_FRAMEWORK_TYPE_NO_FW,
    NRT_QUEUE_FULL,
    NRT_SUCCESS,
    NRT_TENSOR_PLACEMENT_DEVICE,
    NRTA_XU_COMPUTE,
    Ref,
    status_as_str,
)

EXECUTIONS = 20
NEFF = (b'{"name": "scale", "inputs": {"x": {"shape": [1024], "dtype": "float32"}},'
        b' "outputs": {"y": {"shape": [1024], "dtype": "float32"}}, "cost": {"duration": "100 us"}}')


def main() -> list[str]:
    sim = Simulator(os.environ.get("NEURONSIM_INSTANCE", "trn1.32xlarge"), seed=int(os.environ.get("NEURONSIM_SEED", "0")))
    rt = sim.runtime({k: v for k, v in os.environ.items() if k.startswith("NEURON_RT_")})
    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)

    def show(what: str, status: int) -> None:
        say(f"{what}: {status_as_str(status)} t={sim.now_ns}")

    def wait_polling(seq: int) -> None:
        done = Ref(False)
        while rt.nrta_is_completed(seq, done) == NRT_SUCCESS and not done.value:
            pass

    show("nrt_init", rt.nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", ""))
    model = Ref()
    show("nrt_load", rt.nrt_load(neff_from_bytes(NEFF), 0, -1, model))
    x, y = Ref(), Ref()
    show("allocate x", rt.nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "x", x))
    show("allocate y", rt.nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "y", y))
    inputs, outputs = Ref(), Ref()
    rt.nrt_allocate_tensor_set(inputs)
    rt.nrt_allocate_tensor_set(outputs)
    rt.nrt_add_tensor_to_tensor_set(inputs.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outputs.value, "y", y.value)

    host = (0.5 * np.arange(1024, dtype=np.float32) - 7.0).astype(np.float32)
    back = np.zeros(1024, dtype=np.float32)
    write_ret, read_ret, write_seq, read_seq = Ref(), Ref(), Ref(0), Ref(0)
    show("nrta_tensor_write", rt.nrta_tensor_write(x.value, host, 0, host.nbytes, 0, 0, write_ret, write_seq))
    wait_polling(write_seq.value)
    say(f"write seq=0x{write_seq.value:x} ret={status_as_str(write_ret.value)} t={sim.now_ns}")
    show("nrta_tensor_read", rt.nrta_tensor_read(back, x.value, 0, back.nbytes, 0, 0, read_ret, read_seq))
    wait_polling(read_seq.value)
    equal = "equal" if host.tobytes() == back.tobytes() else "DIFFER"
    say(f"read seq=0x{read_seq.value:x} ret={status_as_str(read_ret.value)} bytes {equal} t={sim.now_ns}")

    rets = [Ref() for _ in range(EXECUTIONS)]
    seqs = [Ref(0) for _ in range(EXECUTIONS)]
    oldest = retries = 0
    for i in range(EXECUTIONS):
        while (status := rt.nrta_execute_schedule(model.value, inputs.value, outputs.value, 0, rets[i],
                                                  seqs[i])) == NRT_QUEUE_FULL:
            retries += 1
            wait_polling(seqs[oldest].value)
            oldest += 1
        say(f"execute {i}: {status_as_str(status)} seq=0x{seqs[i].value:x} t={sim.now_ns}")
    say(f"queue-full retries: {retries}")

    efd = sim.eventfd()
    show("register eventfd", rt.nrta_event_register_seq_id_completion(seqs[-1].value, efd.fd))
    count = efd.read()
    say(f"eventfd read 8 bytes, count {count} t={sim.now_ns}")
    efd.close()
    ok = sum(1 for r in rets if r.value == NRT_SUCCESS)
    say(f"executions completed with NRT_SUCCESS: {ok} of {EXECUTIONS}")
    last = Ref(0)
    show("nrta_get_sequence", rt.nrta_get_sequence(0, NRTA_XU_COMPUTE, 0, last))
    say(f"last compute seq=0x{last.value:x}")

    ret, seq = Ref(), Ref()
    show("write to a NULL tensor", rt.nrta_tensor_write(None, host, 0, 16, 0, 0, ret, seq))
    show("write on queue 99", rt.nrta_tensor_write(x.value, host, 0, 16, 0, 99, ret, seq))
    show("write past the end", rt.nrta_tensor_write(x.value, host, 4000, 200, 0, 0, ret, seq))
    show("execute with a NULL status", rt.nrta_execute_schedule(model.value, inputs.value, outputs.value, 0, None, seq))
    show("execute on queue 1", rt.nrta_execute_schedule(model.value, inputs.value, outputs.value, 1, ret, seq))
    show("unknown tensor name", rt.nrt_get_tensor_from_tensor_set(inputs.value, "nope", Ref()))
    show("is_completed of a bad seq", rt.nrta_is_completed(0xDEADBEEF, Ref()))
    show("a model that is not one", rt.nrta_execute_schedule(x.value, inputs.value, outputs.value, 0, ret, seq))
    show("load garbage", rt.nrt_load(None, 0, -1, model))

    rt.nrt_destroy_tensor_set(inputs)
    rt.nrt_destroy_tensor_set(outputs)
    rt.nrt_tensor_free(x)
    rt.nrt_tensor_free(y)
    cleared = x.value is None and y.value is None and inputs.value is None
    say(f"freed: {'pointers cleared' if cleared else 'NOT CLEARED'}")
    rt.nrt_unload(model.value)
    rt.nrt_close()
    say(f"closed t={sim.now_ns}")
    return lines


if __name__ == "__main__":
    import sys

    sys.stdout.write("\n".join(main()) + "\n")
