"""The ``nrta`` contract as a hypothesis state machine that users subclass to test their own wrapper.

Subclass :class:`NrtaContract`, override :meth:`make_wrapper` (and, if your wrapper's API differs from
the adapter protocol, :meth:`schedule`, :meth:`poll`, :meth:`wait` and :meth:`sequence_ids`), and
expose ``TestMyWrapper = MyContract.TestCase``. Hypothesis then drives random interleavings of:

* **schedule**: a request through your wrapper on a random core;
* **poll**: a random request's completion;
* **wait**: a random request, which must end with a status;
* **advance**: simulated time;
* **fault**: a non-fatal failure injected into a core (``NRT_EXEC_COMPLETED_WITH_ERR`` and friends).

and checks, after every step and at the end: no cross-queue hazards (your wrapper orders its data);
the execution-unit invariants (consecutive sequence numbers, in-order completion, capacity,
exactly-once completion with a status); a finished request's status reflects every device request it
made (no lost errors, no lost completions); every request finishes.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from neuronsim.facade import NeuronRuntime
from neuronsim.invariants import check_invariants
from neuronsim.nrt import NRT_STATUS
from neuronsim.runtime.neff import Neff
from neuronsim.simulator import Simulator

__all__ = ["NrtaContract", "ReferenceWrapper"]

NON_FATAL = ("NRT_EXEC_COMPLETED_WITH_ERR", "NRT_EXEC_BAD_INPUT", "NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE",
             "NRT_EXEC_COMPLETED_WITH_NUM_ERR")


class ReferenceWrapper:
    """A minimal correct wrapper (the default): each request writes its own input, waits for it,
    executes, and on ``wait`` reads the output; statuses are checked at every stage."""

    def __init__(self, sim: Simulator, cores: int) -> None:
        self.rt: NeuronRuntime = sim.open(visible_cores=f"0-{cores - 1}")
        neff = Neff({"x": ((256,), "float32")}, {"y": ((256,), "float32")}, duration_ns=20_000,
                    kernel=lambda x: {"y": x * 2})
        self.models = [self.rt.load(neff, core) for core in range(cores)]

    def schedule(self, core: int) -> dict[str, Any]:
        model = self.models[core]
        inputs, outputs = self.rt.allocate_io(model)
        write = self.rt.write(inputs["x"], bytes(1024))
        status = write.wait()
        run = self.rt.execute(model, inputs, outputs) if status == NRT_STATUS.NRT_SUCCESS else None
        return {"futures": [write] + ([run] if run else []), "outputs": outputs, "status": status}

    def poll(self, handle: dict[str, Any]) -> bool:
        return all(f.done() for f in handle["futures"])

    def wait(self, handle: dict[str, Any]) -> int:
        if "final" in handle:
            return handle["final"]
        status = handle["status"]
        for future in handle["futures"]:
            status = future.wait() if status == NRT_STATUS.NRT_SUCCESS else status
        if status == NRT_STATUS.NRT_SUCCESS:
            read = self.rt.read(handle["outputs"]["y"])
            handle["futures"].append(read)
            status = read.wait()
        handle["final"] = int(status)
        return handle["final"]

    def sequence_ids(self, handle: dict[str, Any]) -> list[int]:
        return [f.seq for f in handle["futures"]]


class NrtaContract(RuleBasedStateMachine):
    """Subclass and override :meth:`make_wrapper`; see the module docstring."""

    instance = "trn1.2xlarge"
    lnc: int | None = None
    cores = 2
    seed = 0
    inject_faults = True

    def __init__(self) -> None:
        super().__init__()
        self.sim = Simulator(self.instance, lnc=self.lnc, seed=self.seed, record=True, detect_races=True)
        self.wrapper = self.make_wrapper(self.sim)
        self.handles: list[Any] = []
        self.statuses: dict[int, int] = {}

    # -- hooks ----------------------------------------------------------------------------------------

    def make_wrapper(self, sim: Simulator) -> Any:
        """Your wrapper around the runtime of ``sim`` (default: :class:`ReferenceWrapper`)."""
        return ReferenceWrapper(sim, self.cores)

    def schedule(self, core: int) -> Any:
        """Submit one request on ``core`` through the wrapper; a handle, or None if it refused."""
        return self.wrapper.schedule(core)

    def poll(self, handle: Any) -> bool:
        return self.wrapper.poll(handle)

    def wait(self, handle: Any) -> int:
        """Block until the request is finished; its final ``NRT_STATUS``."""
        return self.wrapper.wait(handle)

    def sequence_ids(self, handle: Any) -> list[int]:
        """The sequence ids of every device request the handle made."""
        return self.wrapper.sequence_ids(handle)

    # -- rules ------------------------------------------------------------------------------------------

    @rule(core=st.integers(0, 7))
    def schedule_request(self, core: int) -> None:
        handle = self.schedule(core % self.cores)
        if handle is not None:
            self.handles.append(handle)

    @precondition(lambda self: self.handles)
    @rule(i=st.integers(0, 10**6))
    def poll_request(self, i: int) -> None:
        self.poll(self.handles[i % len(self.handles)])

    @precondition(lambda self: self.handles)
    @rule(i=st.integers(0, 10**6))
    def wait_request(self, i: int) -> None:
        index = i % len(self.handles)
        self._finish(index)

    @rule(ns=st.integers(0, 200_000))
    def advance(self, ns: int) -> None:
        self.sim.run_for_ns(ns)

    @precondition(lambda self: self.inject_faults)
    @rule(core=st.integers(0, 7), status=st.sampled_from(NON_FATAL))
    def fault(self, core: int, status: str) -> None:
        global_core = self.wrapper_core_id(core % self.cores)
        self.sim.add_fault({"target": "core", "core": global_core, "status": status, "fatal": False})

    def wrapper_core_id(self, core: int) -> int:
        """The instance's id of the wrapper's core ``core`` (its in-process index by default)."""
        return core

    # -- checks -----------------------------------------------------------------------------------------

    def _finish(self, index: int) -> None:
        handle = self.handles[index]
        status = int(self.wait(handle))
        assert status in NRT_STATUS.__members__.values(), f"wait returned {status!r}, not an NRT_STATUS"
        assert self.poll(handle), "a finished request must poll as done"
        by_seq = {req.seq_id: req for rt in self.sim.runtimes for req in rt.history}
        underlying = [by_seq.get(seq) for seq in self.sequence_ids(handle)]
        failed = [r for r in underlying if r is not None and r.status != NRT_STATUS.NRT_SUCCESS]
        if failed:
            assert status != NRT_STATUS.NRT_SUCCESS, (
                f"lost error: device request {failed[0].seq_id:#x} failed with {failed[0].status.name} but the "
                "wrapper reported NRT_SUCCESS")
        else:
            assert status == NRT_STATUS.NRT_SUCCESS, f"every device request succeeded but wait returned {status}"
        self.statuses[index] = status

    @invariant()
    def no_hazards_and_no_broken_invariants(self) -> None:
        assert self.sim.hazards == [], "\n".join(str(h) for h in self.sim.hazards)
        violations = check_invariants(self.sim, in_flight_ok=True)
        assert violations == [], "\n".join(str(v) for v in violations)

    def teardown(self) -> None:
        for index in range(len(self.handles)):
            self._finish(index)
        self.sim.run_until_idle()
        violations = check_invariants(self.sim)
        assert violations == [], "\n".join(str(v) for v in violations)
