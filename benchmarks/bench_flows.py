"""Cost of the flow model per transfer with 1, 10, 100 and 1,000 flows in progress at once.

    python benchmarks/bench_flows.py [--transfers N]

Each run keeps ``k`` transfers in flight on a SimPy-driven :class:`~neuronsim.hw.channel.FlowNetwork`
(closed loop: a transfer's end starts the next one), ``N`` transfers in all, with seeded random sizes
(4 KiB - 4 MiB) so that ends are spread out:

* **shared**: every transfer crosses one PCIe-like channel (16 B/ns) they all share, plus one of 16 DMA
  engines (17 B/ns) and one of 2 HBM stacks (410 B/ns): one connected component of ``k`` flows, whose
  every start and end re-solves the rates of all of them (the worst case);
* **apart**: every transfer has channels of its own (``k`` disjoint paths): no flow shares a channel, the
  lazy path of the model (no solve, one event per transfer).

Prints CPU microseconds per transfer (``time.process_time``: time spent waiting for a core on a shared
machine does not count) beside raw SimPy timeouts per CPU second in the same process (the machine's
speed), the SimPy events and re-solves per transfer.
"""

from __future__ import annotations

import argparse
import random
import time

import simpy
from rawsimpy import engine_build, raw_simpy_timeouts_per_s

from neuronsim.hw.channel import Channel, FlowNetwork


def run(k: int, transfers: int, shared: bool, seed: int = 0) -> tuple[float, float, float, int]:
    """(CPU us per transfer, events per transfer, solves per transfer, simulated ns)."""
    env = simpy.Environment()
    net = FlowNetwork(env)
    rng = random.Random(seed)
    if shared:
        pcie = Channel("pcie", 16.0)
        engines = [Channel(f"dma{i}", 17.0) for i in range(16)]
        stacks = [Channel(f"hbm{i}", 410.0) for i in range(2)]
        paths = [[(engines[i % 16], 1), (pcie, 1), (stacks[i % 2], 1)] for i in range(k)]
    else:
        paths = [[(Channel(f"dma{i}", 17.0), 1), (Channel(f"pcie{i}", 16.0), 1), (Channel(f"hbm{i}", 410.0), 1)]
                 for i in range(k)]
    started = [0]

    def launch(lane: int) -> None:
        if started[0] >= transfers:
            return
        started[0] += 1
        size = rng.randrange(4 << 10, 4 << 20)
        net.start(int(env.now), [(ch, size) for ch, _ in paths[lane]], 1300, 1000,
                  lambda _f, lane=lane: launch(lane), size=size)

    begin = time.process_time()
    for lane in range(k):
        launch(lane)
    env.run()
    cpu = time.process_time() - begin
    return cpu / transfers * 1e6, net.events / transfers, net.solves / transfers, int(env.now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=20_000)
    args = parser.parse_args()
    raw = raw_simpy_timeouts_per_s(1_000_000, time.process_time)
    print(f"raw SimPy timeouts per CPU second: {raw:12,.0f}  ({1e6 / raw:.2f} us each)")
    print(f"engine: {engine_build()}")
    print("in flight  paths  CPU us/transfer  (raw timeouts)  events/transfer  solves/transfer")
    for k in (1, 10, 100, 1000):
        for shared in (True, False):
            n = args.transfers if k < 1000 or not shared else args.transfers // 4
            us, events, solves, _ = run(k, n, shared)
            print(f"{k:>9}  {'shared' if shared else 'apart':6} {us:15.2f}  {us * raw / 1e6:14.1f}  {events:15.2f}  "
                  f"{solves:15.2f}")
    after = raw_simpy_timeouts_per_s(1_000_000, time.process_time)
    print(f"raw SimPy timeouts per CPU second after: {after:12,.0f}")


if __name__ == "__main__":
    main()
