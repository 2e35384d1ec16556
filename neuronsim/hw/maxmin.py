"""The flow network's model for one batch of flows known in advance, solved over arrays (numpy).

:class:`~neuronsim.hw.flows.FlowNetwork` runs the max-min fair fluid model (docs/assumptions.md A9) flow by
flow, in Python, as flows start and end at simulated times nobody knows in advance. The analytical
collective path (A54) knows a whole step in advance: every flow's start, path, size and cap. This module
costs such a batch with the same model and the same rounding, but over arrays: flows that start or end
their bytes at one instant are processed together, and each instant's max-min rates are found by
progressive filling over every channel at once (one array operation per level, not per flow).

Same model (A134): the same rates (progressive filling with the same saturation tolerance, 1e-9 of a
channel's bandwidth), the same projection of a flow's delivery (``ceil(t + d - d * 1e-12 - 1e-6)``) and
the same treatment of a flow alone on its channels from start to end (``setup + max ceil(bytes / bw)``,
at least 1 ns). What can differ is float rounding: the flow network re-solves only the flows connected to
a start or an end and leaves a flow's projection alone while its rate holds; here every flow in progress
is re-solved at every instant. Results agree with the flow network's to the nanosecond except where an
instant lands within float error of a whole ns beyond the slacks (``tests/test_maxmin.py`` compares them
on random batches).

Entry point: :func:`batch_ends`.
"""

from __future__ import annotations

from math import ceil, inf

import numpy as np

from neuronsim.hw.fluid import _FULL as FULL
from neuronsim.hw.fluid import _SLACK, TIME_SLACK_NS
from neuronsim.units import TRANSFER_SLACK

__all__ = ["batch_ends"]


def batch_ends(start: np.ndarray, arrive: np.ndarray, size: np.ndarray, cap: np.ndarray, latency: np.ndarray,
               ptr: np.ndarray, chan: np.ndarray, load: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """When each flow of a batch ends (whole ns), the batch alone on its channels.

    Flows are given in the order a flow network would have been given them (its start order); flow ``i``
    starts at ``start[i]`` (int ns), moves bytes from ``arrive[i]`` (after its setup; ``> start[i]``), has
    ``size[i]`` bytes of its own (> 0), takes at most ``cap[i]`` bytes per ns (``inf``: no cap) and ends
    ``latency[i]`` ns after its last byte. Its path is entries ``ptr[i]:ptr[i + 1]`` of ``chan`` (channel
    indices into ``bw``, bytes per ns; each channel once per flow) and ``load`` (bytes the channel carries
    per byte of the flow). Returns the ends as an int64 array (``FlowNetwork(None)`` started with the same
    flows, then ``run()``: the same ends, see the module docstring).
    """
    n = len(size)
    counts = np.diff(ptr)
    flow_of = np.repeat(np.arange(n), counts)
    nbytes = load * size[flow_of]  # bytes on each channel
    solo = _solo(start, arrive, size, cap, counts, flow_of, chan, nbytes, bw, ptr)
    end = np.zeros(n, dtype=np.int64)
    # alone on its channels from start to end: its end is known when it starts (as the flow network's)
    idx = np.flatnonzero(solo)
    if idx.size:
        lo = np.maximum.reduceat(nbytes / bw[chan], ptr[:-1])[idx]
        ser = np.maximum(np.ceil(lo * _SLACK), 1.0)
        c = cap[idx]
        capped = c != inf
        ser = np.where(capped, np.maximum(ser, np.maximum(np.ceil(size[idx] / np.where(capped, c, 1.0) * _SLACK),
                                                          1.0)), ser)
        end[idx] = arrive[idx] + ser.astype(np.int64) + latency[idx]
    shared = np.flatnonzero(~solo)
    if shared.size:
        end[shared] = _events(shared, arrive, size, cap, latency, ptr, counts, chan, load, bw)
    return end


def _solo(start: np.ndarray, arrive: np.ndarray, size: np.ndarray, cap: np.ndarray, counts: np.ndarray,
          flow_of: np.ndarray, chan: np.ndarray, nbytes: np.ndarray, bw: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Which flows the flow network keeps alone on their channels (rounded as one transfer alone)."""
    n = len(size)
    per_chan = np.bincount(chan, minlength=len(bw))
    multi = per_chan[chan] > 1  # entries on a channel that another flow of the batch crosses too
    alone = np.bincount(flow_of, weights=multi, minlength=n) == 0
    if alone.all() or not multi.any():
        return alone
    # a flow sharing a channel with a flow that starts at the same instant is shared for certain (the later
    # of the two finds the earlier in progress or to come); one that shares channels only with flows that
    # start at other instants depends on the order of events: replay the flow network's starts
    key = chan.astype(np.int64) * (int(start.max()) + 1) + start[flow_of]
    sure = np.bincount(flow_of, weights=_repeated(key), minlength=n) > 0
    if (alone | sure).all():
        return alone
    return _replay(start, arrive, size, cap, ptr, chan, nbytes, bw)


def _repeated(key: np.ndarray) -> np.ndarray:
    """Whether each element's value occurs more than once (sorting; np.unique's first call imports numpy.ma)."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    same = ordered[1:] == ordered[:-1]
    out = np.zeros(len(key), dtype=bool)
    out[order[1:][same]] = True
    out[order[:-1][same]] = True
    return out


def _replay(start: np.ndarray, arrive: np.ndarray, size: np.ndarray, cap: np.ndarray, ptr: np.ndarray,
            chan: np.ndarray, nbytes: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """The flow network's starts, flow by flow (``FlowNetwork.start`` / ``_join`` / ``_materialise``
    offline, where nothing advances between starts): which flows stay alone on their channels."""
    n = len(size)
    registered = [False] * len(bw)  # a shared flow was registered on the channel (never undone offline)
    holder = [-1] * len(bw)  # the flow alone on the channel, if any
    finish = [inf] * n
    alone = [False] * n
    ptr_l, chan_l = ptr.tolist(), chan.tolist()
    bw_l, nbytes_l, size_l, cap_l = bw.tolist(), nbytes.tolist(), size.tolist(), cap.tolist()
    start_l, arrive_l = start.tolist(), arrive.tolist()
    for f in range(n):
        now = start_l[f]
        chans = chan_l[ptr_l[f]:ptr_l[f + 1]]
        solo = True
        for c in chans:
            if registered[c]:
                solo = False
                break
            g = holder[c]
            if g >= 0 and finish[g] > now:
                solo = False
                break
        if solo:
            longest = max(nbytes_l[e] / bw_l[chan_l[e]] for e in range(ptr_l[f], ptr_l[f + 1]))
            ser = ceil(longest * _SLACK) or 1
            rate = size_l[f] / longest
            c_ = cap_l[f]
            if c_ != inf:
                ser = max(ser, ceil(size_l[f] / c_ * _SLACK) or 1)
                rate = min(rate, c_)
            deliver = arrive_l[f] + ser
            t = arrive_l[f] + size_l[f] / rate
            finish[f] = t if t < deliver else float(deliver)
            alone[f] = True
            for c in chans:
                holder[c] = f
            continue
        for c in chans:
            g = holder[c]
            if g >= 0:
                if alone[g] and finish[g] > now:  # materialised: shared from its arrival
                    alone[g] = False
                    for c2 in chan_l[ptr_l[g]:ptr_l[g + 1]]:
                        if holder[c2] == g:
                            holder[c2] = -1
                        registered[c2] = True
                holder[c] = -1
        for c in chans:
            registered[c] = True
    return np.array(alone, dtype=bool)


def _gather(ptr: np.ndarray, counts: np.ndarray, flows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The entries of ``flows`` (in their order), and each entry's position in ``flows``."""
    lengths = counts[flows]
    total = int(lengths.sum())
    pos = np.repeat(np.arange(len(flows)), lengths)
    offsets = np.cumsum(lengths) - lengths
    entries = np.arange(total) - offsets[pos] + ptr[flows][pos]
    return entries, pos


def _rates(flows: np.ndarray, cap: np.ndarray, ptr: np.ndarray, counts: np.ndarray, chan: np.ndarray,
           load: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """Max-min fair rates of ``flows`` (progressive filling, as ``FlowNetwork._solve``; weights 1)."""
    entries, pos = _gather(ptr, counts, flows)
    ch = chan[entries]
    a = load[entries]
    nchan = len(bw)
    dem = np.bincount(ch, weights=a, minlength=nchan)
    nact = np.bincount(ch, minlength=nchan)
    res = bw.copy()
    k = len(flows)
    rate = np.zeros(k)
    unfixed = np.ones(k, dtype=bool)
    fcap = cap[flows]
    has_cap = fcap != inf
    level = 0.0
    left = k
    open_ = np.flatnonzero(nact)
    while left:
        step = float((res[open_] / dem[open_]).min()) if open_.size else inf
        rising_capped = has_cap & unfixed
        any_capped = bool(rising_capped.any())
        if any_capped:
            v = float((fcap[rising_capped] - level).min())
            if v < step:
                step = v
        if step == inf:  # pragma: no cover - every flow crosses a channel
            raise RuntimeError("progressive filling made no progress")
        if step < 0.0:
            step = 0.0
        level += step
        res[open_] -= step * dem[open_]
        full = np.zeros(nchan, dtype=bool)
        full[open_[res[open_] <= bw[open_] * FULL]] = True
        fix_e = full[ch] & unfixed[pos]
        fix = np.zeros(k, dtype=bool)
        fix[pos[fix_e]] = True
        if any_capped:
            fix |= rising_capped & (fcap <= level * (1 + FULL))
        fixed = np.flatnonzero(fix)
        if not fixed.size:
            continue
        rate[fixed] = np.minimum(level, fcap[fixed])
        unfixed[fixed] = False
        left -= fixed.size
        gone = fix[pos]
        ch_gone = ch[gone]
        nact -= np.bincount(ch_gone, minlength=nchan)
        dem -= np.bincount(ch_gone, weights=a[gone], minlength=nchan)
        dem[nact == 0] = 0.0
        open_ = np.flatnonzero(nact)
    return rate


def _events(flows: np.ndarray, arrive: np.ndarray, size: np.ndarray, cap: np.ndarray, latency: np.ndarray,
            ptr: np.ndarray, counts: np.ndarray, chan: np.ndarray, load: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """Ends of the shared ``flows`` (in start order): instant by instant, ends of bytes before arrivals, then
    the rates of every flow in progress and the projections of those whose rate changed."""
    k = len(flows)
    arr = arrive[flows].astype(np.float64)
    sz = size[flows]
    lat = latency[flows]
    order = np.argsort(arr, kind="stable")
    arr_sorted = arr[order]
    nxt = 0
    rem = np.zeros(k)
    rate = np.zeros(k)
    t0 = np.zeros(k)
    finish = np.full(k, inf)
    deliver = np.zeros(k, dtype=np.int64)
    end = np.zeros(k, dtype=np.int64)
    active = np.zeros(0, dtype=np.int64)  # positions in flows, in start order
    while nxt < k or active.size:
        t = float(arr_sorted[nxt]) if nxt < k else inf
        if active.size:
            tf = float(finish[active].min())
            if tf < t:
                t = tf
        if active.size:
            ending = finish[active] == t
            if ending.any():
                done = active[ending]
                end[done] = deliver[done] + lat[done]
                active = active[~ending]
        stop = nxt
        while stop < k and arr_sorted[stop] == t:
            stop += 1
        new = order[nxt:stop]
        nxt = stop
        if active.size:  # settle: bytes moved since each flow's last projection
            elapsed = t - t0[active]
            moved = rem[active] - rate[active] * elapsed
            rem[active] = np.where(elapsed > 0, np.maximum(moved, 0.0), rem[active])
            t0[active] = t
        if new.size:
            rem[new] = sz[new]
            t0[new] = t
            rate[new] = 0.0
            active = np.sort(np.concatenate((active, new)))
        if not active.size:
            continue
        new_rate = _rates(flows[active], cap, ptr, counts, chan, load, bw)
        changed = new_rate != rate[active]
        if not changed.any():
            continue
        idx = active[changed]
        r = new_rate[changed]
        rate[idx] = r
        rm = rem[idx]
        d = np.where(rm > sz[idx] * 1e-12, rm / r, 0.0)
        dl = np.ceil(t + d - d * TRANSFER_SLACK - TIME_SLACK_NS)
        fin = t + d
        finish[idx] = np.where(fin < dl, fin, dl)
        deliver[idx] = dl.astype(np.int64)
    return end
