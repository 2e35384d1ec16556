"""The path of one request through the package, measured with ``sys.setprofile``.

Two requests of docs/explanation/architecture.md: a 2-rank all-reduce scheduled with
``nrta_cc_schedule`` (both ranks' schedule calls, then the simulation run until both complete) and one
``nrta_execute_schedule`` run to its completion. For each it prints the neuronsim files, functions and
calls the request passes through, and the sequence of layers (consecutive calls in one layer shown
once; the layers are those of tests/test_layers.py).

    python benchmarks/request_path.py
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import neuronsim
from neuronsim import nrt

ROOT = Path(neuronsim.__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests"))
from test_layers import layer_of, module_of  # noqa: E402


class PathRecorder:
    """Every call into a neuronsim function while it is active: (file, function) in call order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event != "call":
            return
        filename = frame.f_code.co_filename
        if filename.startswith(str(ROOT)):
            self.calls.append((filename, frame.f_code.co_name))

    def run(self, fn: Callable[[], Any]) -> Any:
        sys.setprofile(self._profile)
        try:
            return fn()
        finally:
            sys.setprofile(None)

    def report(self, title: str) -> str:
        files = Counter(Path(f).resolve().relative_to(ROOT.parent).as_posix() for f, _ in self.calls)
        functions = {(f, name) for f, name in self.calls}
        layers: list[str] = []
        for f, _ in self.calls:
            layer = layer_of(module_of(Path(f).resolve().relative_to(ROOT.parent)))
            if not layers or layers[-1] != layer:
                layers.append(layer)
        lines = [f"{title}: {len(files)} files, {len(functions)} functions, {len(self.calls)} calls",
                 "  layers in call order: " + " -> ".join(layers)]
        lines += [f"  {calls:5d}  {name}" for name, calls in sorted(files.items())]
        return "\n".join(lines)


def allreduce_path() -> PathRecorder:
    """Two ranks (nc0, nc1 of one process), 4 KiB float32 all-reduce, from the schedule calls to completion."""
    sim = neuronsim.Simulator("trn1.32xlarge", seed=0)
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0-1"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    n = 4096
    ctxs: list[nrt.Ref[Any]] = []
    rets: list[nrt.Ref[Any]] = [nrt.Ref(), nrt.Ref()]
    seqs: list[nrt.Ref[Any]] = [nrt.Ref(), nrt.Ref()]
    for r in range(2):
        assert rt.nrt_cc_global_comm_init(r, r, 2) == nrt.NRT_SUCCESS
        i: nrt.Ref[Any] = nrt.Ref()
        o: nrt.Ref[Any] = nrt.Ref()
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, r, n, f"in{r}", i)
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, r, n, f"out{r}", o)
        rt.nrta_tensor_write(i.value, np.full(n // 4, r + 1, np.float32), 0, n, r, 0, nrt.Ref(), nrt.Ref())
        ctx: nrt.Ref[Any] = nrt.Ref()
        comm = nrt.nrt_cc_comm_t([0, 1], r, 2, vnc=r)
        assert rt.nrta_cc_prepare(comm, [i.value], [o.value], nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD,
                                  nrt.NRT_CC_ALLREDUCE, ctx) == nrt.NRT_SUCCESS
        ctxs.append(ctx)
    sim.run_until_idle()

    def schedule_and_run() -> None:
        for r in range(2):
            assert rt.nrta_cc_schedule(ctxs[r], 0, rets[r], seqs[r]) == nrt.NRT_SUCCESS
        sim.run_until_idle()

    recorder = PathRecorder()
    recorder.run(schedule_and_run)
    assert [ret.value for ret in rets] == [nrt.NRT_SUCCESS, nrt.NRT_SUCCESS]
    return recorder


def execute_path() -> PathRecorder:
    """One 50 us execution (inputs already written) from ``nrta_execute_schedule`` to completion."""
    sim = neuronsim.Simulator("trn1.32xlarge", seed=0)
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((1024,), "float32")}, outputs={"y": ((1024,), "float32")},
                          duration_ns=50_000)
    model: nrt.Ref[Any] = nrt.Ref()
    assert rt.nrt_load(neff, 0, -1, model) == nrt.NRT_SUCCESS
    sets = []
    for name in ("x", "y"):
        t: nrt.Ref[Any] = nrt.Ref()
        s: nrt.Ref[Any] = nrt.Ref()
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, name, t)
        rt.nrt_allocate_tensor_set(s)
        rt.nrt_add_tensor_to_tensor_set(s.value, name, t.value)
        sets.append(s.value)
    ret: nrt.Ref[Any] = nrt.Ref()
    seq: nrt.Ref[Any] = nrt.Ref()

    def schedule_and_run() -> None:
        assert rt.nrta_execute_schedule(model.value, sets[0], sets[1], 0, ret, seq) == nrt.NRT_SUCCESS
        sim.run_until_idle()

    recorder = PathRecorder()
    recorder.run(schedule_and_run)
    assert ret.value == nrt.NRT_SUCCESS
    return recorder


def main() -> None:
    print(allreduce_path().report("nrta_cc_schedule, 2-rank all-reduce of 4 KiB"))
    print()
    print(execute_path().report("nrta_execute_schedule, one 50 us execution"))


if __name__ == "__main__":
    main()
