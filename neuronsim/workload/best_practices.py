"""The seed's three best practices, measured (``neuronsim best-practices``, benchmarks/bench_best_practices.py).

* **(a) asynchronous execution**: a host step of ``H`` per request and a device time of ``D``;
  synchronous ``nrt_execute`` against implicit async at depths 1-8 and the explicit ``nrta_*`` API:
  NeuronCore utilisation and throughput.
* **(b) isolated proxy threads**: one rank on each of two instances all-reducing a small buffer while
  application threads keep CPUs busy; proxy threads sharing those CPUs against proxies on CPUs of their
  own (``NEURON_RT_LOW_LATENCY_TASKS_CPU_AFFINITY``): collective latency p50 / p99.
* **(c) NUMA placement**: host memory on the device's NUMA node against the other node: the time of a
  64 MiB write and the throughput of the ``neuronsim run`` pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neuronsim.nrt import (
    NRT_CC_ALLREDUCE,
    NRT_DTYPE_FLOAT32,
    NRT_FRAMEWORK_TYPE_NO_FW,
    NRT_OP_ADD,
    NRT_QUEUE_FULL,
    NRT_SUCCESS,
    Ref,
    nrt_cc_comm_t,
)
from neuronsim.runtime.neff import Neff

__all__ = ["execution_modes", "proxy_isolation", "numa_placement", "render", "ModeRow"]


@dataclass
class ModeRow:
    mode: str
    utilisation: float
    throughput_per_s: float


def _utilisation(history: list[Any]) -> tuple[float, int]:
    runs = [r for r in history if r.kind == "execute"]
    busy = sum(r.end_ns - r.start_ns for r in runs)
    span = runs[-1].end_ns - runs[0].start_ns
    return busy / span, span


def execution_loop(instance: str, mode: str, depth: int, host_ns: int, device_ns: int, n: int = 40) -> ModeRow:
    """``n`` requests, each after ``host_ns`` of host work; mode ``sync``, ``implicit`` or ``explicit``."""
    from neuronsim.simulator import Simulator

    env = {"NEURON_RT_VISIBLE_CORES": "0"}
    if mode == "implicit":
        env["NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS"] = str(depth)
    sim = Simulator(instance, record=True)
    rt = sim.runtime(env=env)
    rt.nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    neff = Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=device_ns)
    model, x, y, ins, outs = Ref(), Ref(), Ref(), Ref(), Ref()
    rt.nrt_load(neff, 0, -1, model)
    rt.nrt_tensor_allocate(0, 0, 16, "x", x)
    rt.nrt_tensor_allocate(0, 0, 16, "y", y)
    rt.nrt_allocate_tensor_set(ins)
    rt.nrt_allocate_tensor_set(outs)
    rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
    in_flight: list[int] = []
    for _ in range(n):
        sim.run_for_ns(host_ns)  # the host's own work per request
        while True:
            if mode == "explicit":
                if len(in_flight) >= depth:  # the application keeps `depth` requests in flight
                    done = Ref(False)
                    rt.nrta_is_completed(in_flight[0], done)
                    if done.value:
                        in_flight.pop(0)
                    else:
                        sim.run_for_ns(1_000)
                        continue
                seq = Ref()
                status = rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, Ref(), seq)
                if status == NRT_SUCCESS:
                    in_flight.append(seq.value)
            else:
                status = rt.nrt_execute(model.value, ins.value, outs.value)
            if status != NRT_QUEUE_FULL:
                break
            sim.run_for_ns(1_000)
    sim.run_until_idle()
    util, span = _utilisation(rt.history)
    label = mode if mode == "sync" else f"{mode} depth {depth}"
    return ModeRow(label, util, n / (span / 1e9))


def execution_modes(instance: str = "trn1.32xlarge", host_ns: int = 600_000, device_ns: int = 1_000_000,
                    n: int = 40) -> list[ModeRow]:
    """(a): synchronous, implicit async at depths 1-8, explicit async at depths 1-8."""
    rows = [execution_loop(instance, "sync", 1, host_ns, device_ns, n)]
    rows += [execution_loop(instance, "implicit", d, host_ns, device_ns, n) for d in (1, 2, 4, 8)]
    rows += [execution_loop(instance, "explicit", d, host_ns, device_ns, n) for d in (1, 2, 4, 8)]
    return rows


def collective_latencies(instance: str, isolate: bool, iterations: int = 30, quantum_ns: int = 1_000_000,
                         busy_cpus: int | None = None) -> list[int]:
    """(b): one rank on each of two instances all-reducing 1 KiB, ``iterations`` times, while a busy
    application thread holds each CPU of device 0's affinity (all but 4 reserved for proxies when
    ``isolate``); the sorted collective latencies in ns."""
    from neuronsim.simulator import Simulator

    sim = Simulator(f"2x {instance}", cpu_quantum_ns=quantum_ns)
    device_cpus = list(sim.topology.spec.devices[0].cpus)
    proxy_cpus = device_cpus[-4:]
    app_cpus = [c for c in device_cpus if not isolate or c not in proxy_cpus]
    if busy_cpus is not None:
        app_cpus = app_cpus[:busy_cpus]
    env = {"NEURON_RT_VISIBLE_CORES": "0"}
    if isolate:
        env["NEURON_RT_LOW_LATENCY_TASKS_CPU_AFFINITY"] = ",".join(map(str, proxy_cpus))

    def busy(thread: Any) -> Any:
        while True:
            yield from thread.compute(quantum_ns)

    rts = []
    for node in (0, 1):
        rt = sim.runtime(env=env, instance=node)
        rt.nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "")
        rt.nrt_cc_global_comm_init(0, node, 2)
        rts.append(rt)
        for cpu in app_cpus:
            sim.spawn(busy, rt, cpus=str(cpu))
    tensors = []
    for rt in rts:
        i, o = Ref(), Ref()
        rt.nrt_tensor_allocate(0, 0, 1024, "i", i)
        rt.nrt_tensor_allocate(0, 0, 1024, "o", o)
        tensors.append((i.value, o.value))
    sim.run_for_ns(quantum_ns // 3)  # start mid-slice
    for _ in range(iterations):
        rets = []
        for node, rt in enumerate(rts):
            ctx, ret = Ref(), Ref()
            rt.nrta_cc_prepare(nrt_cc_comm_t([0, 1], node, 2, vnc=0), [tensors[node][0]], [tensors[node][1]],
                               NRT_DTYPE_FLOAT32, NRT_OP_ADD, NRT_CC_ALLREDUCE, ctx)
            rt.nrta_cc_schedule(ctx, 0, ret, Ref())
            rets.append(ret)
        while any(r.value is None for r in rets):
            sim.run_for_ns(10_000)
        sim.run_for_ns(137_000)  # drift against the schedulers' slices
    return sorted(r.duration_ns for r in sim.collectives.records)


def _percentile(values: list[int], q: float) -> int:
    return values[min(len(values) - 1, int(len(values) * q))]


def proxy_isolation(instance: str = "trn1.32xlarge", iterations: int = 30) -> list[tuple[str, int, int]]:
    """(b): (configuration, p50 ns, p99 ns) for shared and isolated proxy threads."""
    out = []
    for isolate in (False, True):
        latencies = collective_latencies(instance, isolate, iterations)
        out.append(("isolated proxy CPUs" if isolate else "proxies share busy CPUs",
                    _percentile(latencies, 0.5), _percentile(latencies, 0.99)))
    return out


def numa_placement(instance: str = "trn1.32xlarge") -> list[tuple[str, int, float]]:
    """(c): (placement, 64 MiB write time ns, pipeline executions per second) for local and remote memory."""
    from neuronsim.workload.builtin_pipeline import run_demo
    from neuronsim.simulator import Simulator

    out = []
    local = max(Simulator(instance).topology.spec.devices[0].numa_node, 0)
    nodes = [n.id for n in Simulator(instance).topology.spec.host.numa_nodes]
    remote = next((n for n in nodes if n != local), local)
    for label, node in (("NUMA-local host memory", local), ("remote NUMA host memory", remote)):
        sim = Simulator(instance, record=True, timing_only=True)
        rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0"}, numa_node=node)
        rt.nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "")
        t, seq = Ref(), Ref()
        rt.nrt_tensor_allocate(0, 0, 64 << 20, "t", t)
        rt.nrta_tensor_write(t.value, None, 0, 64 << 20, 0, 0, Ref(), seq)
        sim.run_until_idle()
        request = rt.request(seq.value)
        pipeline = run_demo(instance, cores=1, iterations=20, depth=2, size_bytes=4 << 20, duration_ns=200_000,
                            numa_node=node)
        out.append((label, request.end_ns - request.start_ns,
                    pipeline["executions"] / (pipeline["elapsed_ns"] / 1e9)))
    return out


def render(instance: str, which: str = "all") -> str:
    """The three tables as text."""
    lines = [f"best practices on {instance}"]
    if which in ("all", "a"):
        lines += ["", "(a) asynchronous execution: device 1 ms, host step 0.6 ms per request",
                  f"{'mode':<22}{'NC utilisation':>16}{'executions/s':>14}"]
        for row in execution_modes(instance):
            lines.append(f"{row.mode:<22}{row.utilisation * 100:>15.1f}%{row.throughput_per_s:>14.1f}")
    if which in ("all", "b"):
        lines += ["", f"(b) proxy threads: 1 KiB all-reduce across 2 x {instance}, busy application threads",
                  f"{'configuration':<26}{'p50 (us)':>12}{'p99 (us)':>12}"]
        for label, p50, p99 in proxy_isolation(instance):
            lines.append(f"{label:<26}{p50 / 1000:>12.1f}{p99 / 1000:>12.1f}")
    if which in ("all", "c"):
        lines += ["", "(c) NUMA placement of host memory",
                  f"{'placement':<26}{'64 MiB write (us)':>18}{'pipeline exec/s':>17}"]
        for label, write_ns, rate in numa_placement(instance):
            lines.append(f"{label:<26}{write_ns / 1000:>18.1f}{rate:>17.1f}")
    return "\n".join(lines) + "\n"
