"""Running a workload: host threads in process mode driving the API, and what they leave behind.

Each thread of a :class:`~neuronsim.workload.spec.WorkloadSpec` becomes a process-mode thread
(:mod:`neuronsim.threads`) on its CPUs. Its lanes are the logical cores it drives. An *iteration* runs
the program once: on every lane (``dispatch: all``; host steps once, when every lane has reached them)
or on the next lane in turn (``round_robin``). The thread is an event loop, as an async serving loop
is: it schedules every step whose ``after`` steps have completed, in program order per lane and in
iteration order per step, keeps at most ``in_flight`` of its requests on any one queue and at most
``in_flight`` iterations open per lane (each open iteration has its own input and output buffers),
and otherwise sleeps (using no CPU) until one of its requests completes or the next iteration arrives.
Every schedule call spends its host cost as CPU time on the thread's CPUs. In ``sync`` style each step
is a blocking call (``nrt_execute``, ``nrt_tensor_write``, ``nrt_tensor_read``) that holds the thread
until it completes; in ``implicit_async`` style ``nrt_execute`` returns at once (the runtime's implicit
async mode, ``NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS = in_flight``) and a blocking tensor call
first waits for the pending executions that use its tensor.

The run is timing-only (no tensor bytes) and recorded: :class:`WorkloadRun` keeps every request and
iteration, which the summary, the metrics and the trace are computed from after the run.

This module sets a run up and drives the clock; each thread's loop is
:class:`neuronsim.workload.thread_runner.ThreadRunner`, and what the run keeps is in
:mod:`neuronsim.workload.record` (``WorkloadRun`` and ``CallRecord`` are re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neuronsim.errors import ConfigError, ConfigIssue
from neuronsim.idlist import parse_id_list
from neuronsim.nrt import NRT_STATUS, Ref
from neuronsim.runtime.neff import Neff
from neuronsim.runtime.neff_description import neff_from_description
from neuronsim.sim.faults import FaultPlan
from neuronsim.threads import IterationRecord
from neuronsim.topology.spec import ExecutionSpec, InstanceSpec
from neuronsim.workload.models import architecture_neff
from neuronsim.workload.record import COMPACT_EVERY, CallRecord, ChannelMeters, RequestStats, WorkloadRun
from neuronsim.workload.spec import ArchitectureSpec, WorkloadSpec
from neuronsim.workload.thread_runner import ThreadRunner

if TYPE_CHECKING:
    from neuronsim.simulator import Simulator

__all__ = ["run_workload", "WorkloadRun", "IterationRecord", "CallRecord", "neff_from_spec", "load_python_workload"]

S = NRT_STATUS
_ARRIVALS_KEY = 0xA7  # the arrival streams' key under the simulator's seed


def neff_from_spec(name: str, spec: Any, execution: ExecutionSpec | None = None) -> Neff:
    """The :class:`~neuronsim.runtime.neff.Neff` of a workload model (a :class:`ModelSpec`, a
    :class:`NeffDescription` with the collectives it issues, or an :class:`ArchitectureSpec` costed with
    the chip's ``execution`` terms)."""
    if isinstance(spec, ArchitectureSpec):
        return architecture_neff(name, spec, execution)
    return neff_from_description(name, spec)  # a cost validated to have a duration or flops


def _check(rt: Any, status: int, what: str, source: str) -> None:
    """A set-up call of the workload that failed is the file's mistake: its status and the reason the runtime
    refused it with (logged at ERROR, kept whatever the level)."""
    reason = rt._log.take_reason(status)  # noqa: SLF001 - this call's refusal, or none
    if status != S.NRT_SUCCESS:
        raise ConfigError(source, f"{what} failed: {NRT_STATUS(status).name}" + (f" ({reason})" if reason else ""))


def run_workload(workload: WorkloadSpec | Callable[[Simulator], Any], *, instance: str | None = None,
                 lnc: int | None = None, seed: int | None = None, until_ns: int | None = None,
                 source: str = "workload", progress: Callable[[int, int, str], None] | None = None,
                 records: bool = False, trace: str | Path | None = None) -> WorkloadRun:
    """Simulate a workload; returns the :class:`WorkloadRun` the summary and trace are built from.

    Args:
        workload: a validated spec, or a Python function ``fn(sim)`` that creates runtimes and spawns
            process-mode threads on the simulator it is given (its requests are all recorded).
        instance, lnc, seed, until_ns: override the workload's own (``--instance`` and so on).
        source: the file name errors are reported against.
        progress: called as ``progress(done, total, unit)`` as the run goes on: simulated time (``"ns"``)
            on a run with an end time, else completed iterations (``"iterations"``) when all threads
            have a count, else simulated time up to the longest thread ``duration``.
        records: keep every request (``run.requests``), API call (``run.calls``) and channel interval
            (``Channel.log``), as a trace or plots need; otherwise requests and channel logs are folded
            into running totals as the run goes (A116) and the run's memory does not grow with them
            (a Python workload's requests are kept by its runtimes until the run ends).
        trace: a workload file's run writes its timeline to this file as it goes
            (:mod:`neuronsim.trace.stream`, A118; ``.gz``: gzip-compressed). Not for a Python workload:
            give it ``records=True`` and write :func:`neuronsim.trace.timeline.write_timeline` after.
    """
    from neuronsim.simulator import Simulator

    spec = workload if isinstance(workload, WorkloadSpec) else None
    name = instance or (spec.instance if spec else None)
    if name is None:
        raise ConfigError(source, "no instance: give --instance or an instance field", field="instance")
    seed = seed if seed is not None else (spec.seed if spec else 0)
    lnc = lnc if lnc is not None else (spec.lnc if spec else None)
    until_ns = until_ns if until_ns is not None else (spec.until if spec else None)
    faults = list(spec.faults) if spec and spec.faults else None
    try:
        sim = Simulator(name, lnc=lnc, seed=seed, timing_only=True, record=records or spec is None,
                        faults=FaultPlan(faults=tuple(faults)) if faults else None,
                        runtime=spec.runtime if spec else None)
    except ConfigError as exc:
        if instance is None and Path(exc.source) == Path(name):  # the workload's instance does not load: name the file
            raise ConfigError(source, [ConfigIssue("instance", issue.render(exc.source).removeprefix(f"{name}: "))
                                       for issue in exc.issues]) from None
        if faults and exc.source == "faults":  # a fault of the workload's plan names what does not exist
            raise ConfigError(source, [ConfigIssue(("faults" if i.field.startswith("[") else "") + i.field, i.reason)
                                       for i in exc.issues]) from None
        if exc.source == "Simulator":  # a bad runtime override: the workload file's field
            raise ConfigError(source, exc.issues) from None
        raise
    channels = [c for system in sim.systems for c in system.channels()] + [link.channel for link in sim.z_links.values()]
    # the logs are folded into running totals as the run goes, unless every interval is wanted or a
    # bandwidth changes during the run (A116)
    meters = ChannelMeters(channels, fold=not records and not any(f.degrade for f in faults or ()))
    if spec is None:
        start = sim.now_ns
        workload(sim)  # type: ignore[operator]
        run = WorkloadRun(None, sim, start, start, until_ns)
    else:
        run = _start(spec, sim, until_ns, source)
    run.meters = meters
    run.records = records
    meters.start(run.start_ns)
    stats = RequestStats()
    stats.start(run.start_ns)
    if spec is not None:
        run.stats = stats  # its threads' requests are counted as they go
    if trace is not None:
        if spec is None:
            raise ValueError("a Python workload's trace is written after the run: records=True, then write_timeline")
        from neuronsim.trace.stream import TraceStream

        run.stream = stream = TraceStream(run, trace)
        stats.on_fold = stream.request
        meters.on_fold = stream.intervals
    try:
        run.events = _advance(sim, until_ns, progress, run)
    except BaseException:
        if run.stream is not None:
            run.stream.abort()
        raise
    run.end_ns = sim.now_ns if until_ns is None else min(sim.now_ns, run.start_ns + until_ns)
    run.threads = list(sim.threads)
    if spec is None:  # a Python workload's requests: every request of its runtimes, kept until now
        run.requests = [r for rt in sim.runtimes for r in rt.history]
        for request in run.requests:
            stats.add(request)
        run.stats = stats
        if not records:
            run.requests = []
        # iterations a Python workload marked with thread.iteration()
        run.iterations = sorted((r for t in sim.threads for r in t.iterations), key=lambda r: (r.arrival_ns, r.thread))
    stats.finish(run.end_ns)
    if run.stream is not None:
        run.stream.finish()
    _report_hangs(run)
    return run


def _report_hangs(run: WorkloadRun) -> None:
    """Errors for what a run leaves undone: collectives that timed out waiting for peers and, on a run that
    ended by itself (no ``until``), the iterations that never finished and the collectives still waiting."""
    sim = run.sim
    for timeout in sim.collectives.timeouts:
        run.errors.append(f"collective timeout: {timeout}")
    if run.until_ns is not None:
        return
    for record in run.iterations:
        if record.done_ns < 0:
            run.errors.append(f"{record.thread}: iteration {record.index} (cores {list(record.lanes)}) never finished")
    for line in sim.collectives.stalled():
        run.errors.append(f"hang: {line}")


PROGRESS_EVERY = 20_000  # events between progress reports on a run without an end time


def _advance(sim: Simulator, until_ns: int | None, progress: Callable[[int, int, str], None] | None,
             run: WorkloadRun) -> int:
    """Run to the end (or for ``until_ns``); returns how many SimPy events were processed. Progress is
    reported over simulated time when the run has an end time, else over iterations when their number
    is known, else over simulated time up to the longest thread ``duration`` (the bar stays full while
    the iterations that arrived before it finish)."""
    env = sim.env
    end = float("inf") if until_ns is None else sim.now_ns + until_ns
    chunk = max(1, until_ns // 50) if until_ns is not None else 0
    spec = run.spec
    counts = [t.iterations for t in spec.threads if t.iterations is not None] if spec is not None else []
    total = sum(counts) if spec is not None and len(counts) == len(spec.threads) else None
    # threads that run for a duration (and no end time): progress over the longest duration
    horizon = max((t.duration for t in spec.threads if t.duration is not None), default=0) \
        if spec is not None and until_ns is None and not total else 0
    with sim.context.run_ahead.up_to(end):  # nothing but the events acts before the end (A135)
        events = _steps(sim, end, chunk, total, horizon, until_ns, progress, run)
    if until_ns is not None and end > env._now:  # noqa: SLF001
        env._now = end  # noqa: SLF001 - nothing is due before the end
    return events


def _steps(sim: Simulator, end: float, chunk: int, total: int | None, horizon: int, until_ns: int | None,
           progress: Callable[[int, int, str], None] | None, run: WorkloadRun) -> int:
    """``_advance``'s loop: process the events due up to ``end``, in chunks between compactions and
    progress reports; returns how many."""
    env = sim.env
    queue, step = env._queue, env.step  # noqa: SLF001 - Simulator.advance_to's loop, counting events
    events = 0
    meters, stats = run.meters, run.stats
    run_ahead = sim.context.run_ahead
    while queue and queue[0][0] <= end:
        if chunk:
            limit = min(end, queue[0][0] + chunk)
            # a thread runs ahead no further than this chunk: the compaction after it sees the clock it would
            # without run-ahead, so a streamed trace writes its events in the same order (A135, A118)
            run_ahead.until_ns = limit
            for _ in range(COMPACT_EVERY):
                if not queue or queue[0][0] > limit:
                    break
                step()
                events += 1
        else:
            for _ in range(PROGRESS_EVERY):
                if not queue:
                    break
                step()
                events += 1
        if meters is not None:
            meters.compact(sim.now_ns)  # fold what can no longer change (A116)
        if stats is not None:
            stats.compact()
            if run.stream is not None:
                now = sim.now_ns
                run.stream.depths(lambda unit: stats.horizon(unit, now))
        if progress is None:
            continue
        if until_ns is not None:
            progress(min(until_ns, int(env.now) - (int(end) - until_ns)), until_ns, "ns")
        elif total:
            progress(run.completed, total, "iterations")
        elif horizon:
            progress(min(horizon, int(env.now) - run.start_ns), horizon, "ns")
    return events


def _check_placement(spec: WorkloadSpec, sim: Simulator, source: str) -> None:
    total = len(sim.topology.logical_cores)
    vcpus = sim.topology.spec.host.vcpus
    instances = sim.topology.num_instances
    for i, thread in enumerate(spec.threads):
        if thread.instance >= instances:
            raise ConfigError(source, f"instance {thread.instance} does not exist: {sim.topology.name} has "
                              f"{instances} (0-{instances - 1})", field=f"threads[{i}].instance")
        bad = [c for c in thread.core_list if c >= total]
        if bad:
            raise ConfigError(source, f"core {bad[0]} does not exist: {sim.topology.name} has {total} logical cores "
                              f"at LNC={sim.topology.lnc} (0-{total - 1})", field=f"threads[{i}].cores")
        if thread.cpus is not None and any(c >= vcpus for c in parse_id_list(thread.cpus)):
            raise ConfigError(source, f"CPU list {thread.cpus!r} is outside the host's {vcpus} vCPUs",
                              field=f"threads[{i}].cpus")
        queues = sim.topology.spec.runtime.queues
        for k, step in enumerate(thread.program):
            if step.kind not in ("write", "read", "collective") or thread.style != "nrta":
                continue
            kind = "collectives" if step.kind == "collective" else "tensor_op"
            count = getattr(queues, kind)
            if step.queue >= count:
                raise ConfigError(source, f"queue {step.queue} does not exist: the runtime has {count} "
                                  f"{kind.replace('_', ' ')} queue{'s' if count != 1 else ''} per logical core "
                                  f"(0-{count - 1})", field=f"threads[{i}].program[{k}].queue")


def collective_groups(spec: WorkloadSpec, offsets: dict[int, int]) -> dict[tuple[int, int], list[int]]:
    """``(thread, step) -> the global ids of the collective's ranks``: a step's own thread's lanes, or, for
    a named ``group``, the lanes of every thread that has a step of that group, in thread order (a
    thread's lane ``c`` on instance ``i`` is global id ``offsets[i] + c``)."""
    named: dict[str, list[int]] = {}
    members: dict[tuple[int, int], str | None] = {}
    for t, thread in enumerate(spec.threads):
        ids = [offsets[thread.instance] + c for c in thread.core_list]
        for k, step in enumerate(thread.program):
            if step.collective is not None:
                group = step.collective.group
                members[(t, k)] = group
                if group is not None and not set(ids) <= set(named.get(group, [])):
                    named.setdefault(group, []).extend(i for i in ids if i not in named.get(group, []))
    return {key: (named[g] if g is not None else [offsets[spec.threads[key[0]].instance] + c
                                                   for c in spec.threads[key[0]].core_list])
            for key, g in members.items()}


def _start(spec: WorkloadSpec, sim: Simulator, until_ns: int | None, source: str) -> WorkloadRun:
    _check_placement(spec, sim, source)
    instances = sorted({t.instance for t in spec.threads})
    top = {i: max(c for t in spec.threads if t.instance == i for c in t.core_list) for i in instances}
    offsets, world = {}, 0
    for i in instances:  # global ids, instance-major: the collective world of every process
        offsets[i], world = world, world + top[i] + 1
    groups = collective_groups(spec, offsets)
    sim.collectives.fidelity = spec.collectives.fidelity
    sim.collectives.algorithm = spec.collectives.algorithm
    execution = sim.topology.spec.chip.execution if isinstance(sim.topology.spec, InstanceSpec) else \
        sim.topology.spec.instance.chip.execution
    neffs = {name: neff_from_spec(name, m, execution) for name, m in spec.models.items()}
    placed = {}
    for i in instances:
        env = dict(spec.env)
        env["NEURON_RT_VISIBLE_CORES"] = f"0-{top[i]}"
        if spec.threads[0].style == "implicit_async":
            env["NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS"] = str(max(t.in_flight for t in spec.threads))
        rt = sim.runtime(env, instance=i)
        _check(rt, rt.nrt_init(1, "", ""), "nrt_init", source)
        if groups:
            for core in range(top[i] + 1):
                _check(rt, rt.nrt_cc_global_comm_init(core, offsets[i] + core, world), "nrt_cc_global_comm_init", source)
        placed[i] = (rt, *_allocate(spec, rt, i, neffs, groups, source))
    start = sim.now_ns
    run = WorkloadRun(spec, sim, start, start, until_ns)
    streams = sim.seed_sequence.spawn(_ARRIVALS_KEY + len(spec.threads))[_ARRIVALS_KEY:]
    stop = start + until_ns if until_ns is not None else None
    vcpus = sim.topology.spec.host.vcpus
    for t, thread in enumerate(spec.threads):
        name = thread.name or f"thread{t}"
        rt, models, buffers, sets = placed[thread.instance]
        mine = {k: ids for (owner, k), ids in groups.items() if owner == t}
        runner = ThreadRunner(run, rt, thread, name, models, buffers, sets, stop, np.random.default_rng(streams[t]),
                               mine, offsets[thread.instance], t)
        sim.spawn(runner.body, rt, cpus=thread.cpus or f"0-{vcpus - 1}", name=name)
    return run


def _allocate(spec: WorkloadSpec, rt: Any, instance: int, neffs: dict[str, Neff],
              groups: dict[tuple[int, int], list[int]], source: str) -> tuple[dict, dict, dict]:
    """Load the models and allocate the buffers of the threads on ``instance``: ``(models, buffers, sets)``."""
    here = [(t, thread) for t, thread in enumerate(spec.threads) if thread.instance == instance]
    used = sorted({c for _, thread in here for c in thread.core_list})
    models: dict[tuple[str, int], Any] = {}
    buffers: dict[tuple[int, int], dict[str, Any]] = {}
    sets: dict[tuple[int, int, str], tuple[Any, Any]] = {}
    slots = {c: max(thread.in_flight for _, thread in here if c in thread.core_list) for c in used}
    for _, thread in here:
        for step in thread.program:
            if step.execute is not None:
                neff = neffs[step.execute]
                ranks = len(thread.core_list) if neff.collectives else 0
                for rank, core in enumerate(thread.core_list):
                    if (step.execute, core) not in models:
                        out = Ref()
                        if ranks:  # one copy per core, rank r of the thread's cores: their collectives meet
                            status = rt.nrt_load_collectives(neff, core, -1, rank, ranks, out)
                        else:
                            status = rt.nrt_load(neff, core, -1, out)
                        _check(rt, status, f"nrt_load({step.execute})", source)
                        models[(step.execute, core)] = out.value
    for core in used:
        for slot in range(slots[core]):
            tensors: dict[str, Any] = {}
            for model_name, model in spec.models.items():
                for tensor_name, decl in list(model.inputs.items()) + list(model.outputs.items()):
                    out = Ref()
                    status = rt.nrt_tensor_allocate(0, core, decl.size_bytes, f"{model_name}.{tensor_name}[{slot}]",
                                                    out)
                    _check(rt, status, f"allocating {model_name}.{tensor_name} on core {core}", source)
                    tensors[f"{model_name}.{tensor_name}"] = out.value
                for io in ("inputs", "outputs"):
                    ref = Ref()
                    rt.nrt_allocate_tensor_set(ref)
                    for tensor_name in getattr(model, io):
                        rt.nrt_add_tensor_to_tensor_set(ref.value, tensor_name, tensors[f"{model_name}.{tensor_name}"])
                    tensors[f"{model_name}:{io}"] = ref.value
                sets[(core, slot, model_name)] = (tensors[f"{model_name}:inputs"], tensors[f"{model_name}:outputs"])
            buffers[(core, slot)] = tensors
    for t, thread in here:
        for k, step in enumerate(thread.program):
            cc = step.collective
            if cc is None:
                continue
            n = len(groups[(t, k)])
            in_size, out_size = {"allgather": (cc.size // n, cc.size), "reducescatter": (cc.size, cc.size // n)}.get(
                cc.op, (cc.size, cc.size))
            for core in thread.core_list:
                for slot in range(slots[core]):
                    pair = []
                    for what, nbytes in (("in", in_size), ("out", out_size)):
                        out = Ref()
                        _check(rt, rt.nrt_tensor_allocate(0, core, nbytes, f"t{t}.cc{k}.{what}[{slot}]", out),
                               f"allocating the collective's {what}put on core {core}", source)
                        pair.append(out.value)
                    buffers[(core, slot)][f"t{t}.cc{k}"] = tuple(pair)
    return models, buffers, sets


def load_python_workload(ref: str) -> Callable[[Simulator], Any]:
    """``path/to/file.py:function`` -> the function (a Python workload for :func:`run_workload`).

    The file is imported, so its top-level code runs (as ``python file.py`` would run it): run only
    files you trust. Then ``function`` must be a function of it; nothing else of it runs here.

    Raises:
        ConfigError: naming the file: not ``FILE.py:FUNCTION``, not found, its import raised (the
            exception's type and message), or no function of that name.
    """
    import importlib.util

    path, sep, func = ref.rpartition(":")
    if not sep or not path.endswith(".py") or not func.isidentifier():
        raise ConfigError(ref, "a Python workload is FILE.py:FUNCTION")
    if not Path(path).is_file():
        raise ConfigError(path, "file not found")
    module_spec = importlib.util.spec_from_file_location(f"_neuronsim_workload_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    try:
        module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - a user file's error, reported against it
        raise ConfigError(path, f"cannot import: {type(exc).__name__}: {exc}") from None
    if not hasattr(module, func):
        known = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == module.__name__)
        raise ConfigError(path, f"has no function {func!r}" + (f" (it has: {', '.join(known)})" if known else ""),
                          field=func)
    fn = getattr(module, func)
    if not callable(fn):
        kind = type(fn).__name__
        raise ConfigError(path, f"{func!r} is not a function ({'an' if kind[0] in 'aeiou' else 'a'} {kind})",
                          field=func)
    return fn
