"""The optional compiled flow network (neuronsim.hw.accel) gives what the pure-Python one gives.

Builds ``neuronsim/hw``'s flow model (``channel.py`` and the modules it re-exports) and ``xu.py`` with mypyc
(once per source digest, cached; about 15 s) when mypyc and a C compiler are installed, else skips. Runs one program in two processes, ``NEURONSIM_ACCEL=0`` and ``=1``,
and compares everything it prints: flow ends and channel busy times under contention (caps, weights, a
cancel, a bandwidth change), an analytical collective, and the decode example's summary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = r"""
import json, random
import simpy
import neuronsim.hw.channel as ch
from neuronsim.hw.channel import Channel, FlowNetwork
out = {"compiled": ch.__file__.endswith((".so", ".pyd"))}

env = simpy.Environment()
net = FlowNetwork(env)
rng = random.Random(1)
pcie = Channel("pcie", 16.0)
engines = [Channel(f"dma{i}", 17.0) for i in range(4)]
stacks = [Channel(f"hbm{i}", 410.0) for i in range(2)]
for c in [pcie] + engines + stacks:
    c.log = []
ends = []

def launch(lane, left):
    if left == 0:
        return
    size = rng.randrange(1, 1 << 20)
    net.start(int(env.now), [(engines[lane % 4], size), (pcie, size), (stacks[lane % 2], 2 * size)], 1300, 1000,
              lambda f, lane=lane, left=left: (ends.append((f.seq, f.end_ns)), launch(lane, left - 1)), size=size,
              weight=1.0 + lane % 3, cap=(8.0 if lane == 5 else float("inf")))

for lane in range(12):
    launch(lane, 30)
victim = net.start(0, [(stacks[0], 1 << 22)], 0, 0, None, not_before=5000)
env.run(until=20_000)
net.cancel(victim)
pcie.bandwidth_bytes_per_ns = 8.0
env.run()
out["flows"] = ends
out["busy"] = [c.busy_ns for c in [pcie] + engines + stacks]
out["logs"] = [c.log for c in [pcie] + engines + stacks]

from neuronsim.simulator import Simulator
from neuronsim.collectives.engine import analytical_ns
sim = Simulator("trn2.48xlarge")
cores = sim.systems[0].cores[:64]
step_ns = sim.topology.spec.chip.cc.step_latency_ns
out["analytical"] = [analytical_ns(sim.collectives.fabric, cores, sim.collectives.plan_for(cores, "allreduce", size)[1],
                                   step_ns) for size in (1 << 10, 8 << 20, 1 << 30)]

from neuronsim.workload.metrics import render, summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload
spec = load_workload("examples/workloads/llm-decode.yaml", ["threads.0.iterations=4"])
out["decode"] = render(summary(run_workload(spec)))
print(json.dumps(out))
"""


def _run(accel: str, build_root: Path) -> dict:
    env = dict(os.environ, NEURONSIM_ACCEL=accel, NEURONSIM_ACCEL_DIR=str(build_root))
    done = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True, timeout=600)
    return json.loads(done.stdout.splitlines()[-1])


def test_the_compiled_flow_network_gives_the_same_results(tmp_path_factory):
    pytest.importorskip("mypyc")
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    from neuronsim.hw import accel

    root = Path(os.environ.get("NEURONSIM_ACCEL_DIR") or Path.home() / ".cache" / "neuronsim" / "accel")
    accel.build()  # a mypyc error here is a change to the flow model or xu.py that the compiled build rejects
    pure, compiled = _run("0", root), _run("1", root)
    assert pure.pop("compiled") is False and compiled.pop("compiled") is True
    assert compiled == pure
    assert len(pure["flows"]) == 12 * 30 and "llm decode" in pure["decode"]
