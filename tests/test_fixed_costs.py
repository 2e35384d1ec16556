"""Fixed costs: the validated-spec cache (A120) and the long-run collector settings (A121)."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest

import neuronsim
from neuronsim.errors import ConfigError
from neuronsim.gctune import LONG_RUN_THRESHOLD, long_run_gc
from neuronsim.topology import load_spec, preset_path


def test_a_preset_spec_is_shared_between_loads() -> None:
    first = load_spec("trn2.48xlarge")
    assert load_spec("trn2.48xlarge") is first
    assert neuronsim.Simulator("trn2.48xlarge").topology.spec is first
    assert load_spec("2x trn1.32xlarge") is load_spec("2x trn1.32xlarge")


def test_an_edited_user_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = preset_path("trn1.2xlarge").read_text()
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    stat = path.stat()
    first = load_spec(path)
    assert load_spec(path) is first
    edited = text.replace("name: trn1.2xlarge", "name: mine-edited", 1)
    assert edited != text
    path.write_text(edited)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: the content decides
    second = load_spec(path)
    assert second is not first and second.name == "mine-edited"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="mine.yaml"):
        load_spec(path)
    with pytest.raises(ConfigError, match="mine.yaml"):  # an error is never cached
        load_spec(path)
    path.unlink()
    with pytest.raises(ConfigError, match="file not found"):
        load_spec(path)


def test_a_relative_path_is_resolved_in_the_working_directory(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    text = preset_path("trn1.2xlarge").read_text()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.yaml").write_text(text.replace("name: trn1.2xlarge", f"name: from-{name}", 1))
    monkeypatch.chdir(tmp_path / "a")
    assert load_spec("x.yaml").name == "from-a"
    monkeypatch.chdir(tmp_path / "b")
    assert load_spec("x.yaml").name == "from-b"


def test_long_run_gc_sets_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    with long_run_gc():
        assert gc.get_threshold() == LONG_RUN_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), long_run_gc():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with long_run_gc(enabled=False):
        assert gc.get_threshold() == before


EXAMPLE = Path(__file__).parents[1] / "examples" / "workloads" / "llm-decode.yaml"


def run_bytes(tmp_path: Path, tag: str, **switches: bool) -> tuple[str, bytes, int]:
    """The decode example's rendered summary and trace file bytes, with the fast paths switched."""
    from neuronsim.hw.host import HostCPUs
    from neuronsim.trace.timeline import write_timeline
    from neuronsim.workload.metrics import render, summary
    from neuronsim.workload.runner import run_workload
    from neuronsim.workload.spec import load_workload

    spec = load_workload(EXAMPLE, ["threads.0.iterations=3"])
    saved = HostCPUs.fast_path
    HostCPUs.fast_path = switches.get("host", True)
    try:
        with long_run_gc(enabled=switches.get("gc", True)):
            run = run_workload(spec, records=True)
    finally:
        HostCPUs.fast_path = saved
    trace = tmp_path / f"{tag}.json"
    write_timeline(run, trace)
    return render(summary(run)), trace.read_bytes(), run.events


def test_collector_settings_change_no_result(tmp_path: Path) -> None:
    assert run_bytes(tmp_path, "plain", gc=False) == run_bytes(tmp_path, "tuned", gc=True)


def test_the_host_fast_path_changes_no_result_and_saves_events(tmp_path: Path) -> None:
    slow_summary, slow_trace, slow_events = run_bytes(tmp_path, "slow", host=False)
    fast_summary, fast_trace, fast_events = run_bytes(tmp_path, "fast", host=True)
    assert fast_summary == slow_summary
    assert fast_trace == slow_trace
    assert fast_events < slow_events


def host_log(fast: bool, quantum_ns: int) -> tuple[list[tuple[int, str, int]], list[int]]:
    """Threads contending for CPUs (sleeps and computes that meet at the same instants, slices cut by
    the quantum, a thread spawned mid-run): every resumption's (time, thread, step) in order."""
    from neuronsim.hw.host import HostCPUs

    saved = HostCPUs.fast_path
    HostCPUs.fast_path = fast
    try:
        sim = neuronsim.Simulator("trn1.2xlarge", cpu_quantum_ns=quantum_ns)
        rt = sim.runtime()
        log: list[tuple[int, str, int]] = []

        def body(name: str, works: list[int], sleeps: list[int]) -> Any:
            def run(thread: Any) -> Any:
                for step, (work, pause) in enumerate(zip(works, sleeps, strict=True)):
                    yield from thread.compute(work)
                    log.append((sim.now_ns, name, step))
                    if pause:
                        yield thread.sleep(pause)
                    log.append((sim.now_ns, name, -step))
                    if name == "a" and step == 3:
                        sim.spawn(body("late", [100, 100, 50], [0, 0, 0]), rt, cpus="0")
            return run

        sim.spawn(body("a", [100, 250, 100, 100, 40, 300], [50, 0, 100, 0, 60, 0]), rt, cpus="0")
        sim.spawn(body("b", [150, 100, 100, 100, 100, 10], [0, 100, 0, 50, 0, 0]), rt, cpus="0-1")
        sim.spawn(body("c", [300, 5, 5, 5, 500, 5], [0, 0, 0, 345, 0, 0]), rt, cpus="1")
        sim.spawn(body("d", [100, 100, 100, 100, 100, 100], [100, 100, 100, 100, 100, 100]), rt, cpus="2")
        sim.run_until_idle()
        return log, list(sim.hosts[0].busy_ns)
    finally:
        HostCPUs.fast_path = saved


@pytest.mark.parametrize("quantum_ns", [1, 60, 100, 1_000_000])
def test_the_host_fast_path_keeps_the_order_of_contending_threads(quantum_ns: int) -> None:
    slow = host_log(False, quantum_ns)
    assert host_log(True, quantum_ns) == slow
    assert len(slow[0]) == 2 * (6 * 4 + 3)


def driven_log(fast: bool) -> list[tuple[int, list[int]]]:
    """A thread computing in 300 ns slices while the caller drives the clock with ``advance_to``: what the
    caller sees at each time it asked for."""
    from neuronsim.hw.host import HostCPUs

    saved = HostCPUs.fast_path
    HostCPUs.fast_path = fast
    try:
        sim = neuronsim.Simulator("trn1.2xlarge")
        rt = sim.runtime()
        log: list[int] = []

        def body(thread: Any) -> Any:
            for _ in range(12):
                yield from thread.compute(300)
                log.append(sim.now_ns)

        sim.spawn(body, rt, cpus="0")
        seen = []
        for t in (250, 700, 900, 1000, 2000, 2100, 5000):
            sim.advance_to(t)
            seen.append((sim.now_ns, list(log)))
        return seen
    finally:
        HostCPUs.fast_path = saved


def test_a_thread_runs_ahead_no_further_than_the_caller_drives_the_clock() -> None:
    """A135: a thread's slice may advance the clock itself, but never past the time ``advance_to`` was
    asked for: the caller sees exactly the slices that ended by then."""
    seen = driven_log(True)
    assert seen == driven_log(False)
    assert seen[1] == (700, [300, 600])
    assert seen[3] == (1000, [300, 600, 900])
    assert seen[-1] == (5000, [300 * k for k in range(1, 13)])


SERVER = Path(__file__).parents[1] / "examples" / "workloads" / "inference-server.yaml"


@pytest.mark.parametrize("until_ns", [None, 7_000_000])
def test_threads_running_ahead_change_no_result_of_a_run_with_an_end(tmp_path: Path, until_ns: int | None) -> None:
    """Four server threads on shared CPUs, Poisson arrivals, a run cut at ``until_ns``: the same summary and
    trace with the host fast path (and its run-ahead, A135) as without, and fewer events."""
    from neuronsim.hw.host import HostCPUs
    from neuronsim.trace.timeline import write_timeline
    from neuronsim.workload.metrics import render, summary
    from neuronsim.workload.runner import run_workload
    from neuronsim.workload.spec import load_workload

    spec = load_workload(SERVER, [f"threads.{t}.iterations=60" for t in range(4)])
    out = []
    for fast in (False, True):
        saved = HostCPUs.fast_path
        HostCPUs.fast_path = fast
        try:
            run = run_workload(spec, until_ns=until_ns, records=True)
        finally:
            HostCPUs.fast_path = saved
        trace = tmp_path / f"{fast}.json"
        write_timeline(run, trace)
        out.append((render(summary(run)), trace.read_bytes(), run.sim.now_ns, run.events))
    (slow_text, slow_trace, slow_now, slow_events), (fast_text, fast_trace, fast_now, fast_events) = out
    assert fast_text == slow_text and fast_trace == slow_trace and fast_now == slow_now
    assert fast_events < slow_events
