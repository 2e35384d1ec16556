"""Small builders shared by the engine tests."""

from __future__ import annotations

import neuronsim
from neuronsim import nrt


def open_runtime(preset: str = "trn1.32xlarge", env: dict | None = None, **kwargs):
    kwargs.setdefault("record", True)
    sim = neuronsim.Simulator(preset, **kwargs)
    rt = sim.runtime(env=env or {"NEURON_RT_VISIBLE_CORES": "0-1"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    return sim, rt


def tensor(rt, size: int, vnc: int = 0, name: str = "t", placement=nrt.NRT_TENSOR_PLACEMENT_DEVICE):
    out = nrt.Ref()
    assert rt.nrt_tensor_allocate(placement, vnc, size, name, out) == nrt.NRT_SUCCESS
    return out.value


def tensor_set(rt, **tensors):
    out = nrt.Ref()
    assert rt.nrt_allocate_tensor_set(out) == nrt.NRT_SUCCESS
    for name, t in tensors.items():
        assert rt.nrt_add_tensor_to_tensor_set(out.value, name, t) == nrt.NRT_SUCCESS
    return out.value


def load(rt, neff, vnc: int = 0):
    model = nrt.Ref()
    assert rt.nrt_load(neff, vnc, -1, model) == nrt.NRT_SUCCESS
    return model.value


def model_with_io(rt, neff, vnc: int = 0):
    """Load ``neff`` and allocate its input and output tensors; returns (model, inputs set, outputs set)."""
    model = load(rt, neff, vnc)
    ins = tensor_set(rt, **{t.name: tensor(rt, t.size_bytes, vnc, t.name) for t in neff.inputs})
    outs = tensor_set(rt, **{t.name: tensor(rt, t.size_bytes, vnc, t.name) for t in neff.outputs})
    return model, ins, outs


def schedule_execute(rt, model, ins, outs):
    ret, seq = nrt.Ref(), nrt.Ref()
    status = rt.nrta_execute_schedule(model, ins, outs, 0, ret, seq)
    return status, ret, seq


def assert_page_shows_benchmark(marker: str, script: str, page: str = "docs/validation.md") -> None:
    """``page`` holds, after ``<!-- {marker}: benchmarks/{script} -->``, a text block equal to what the
    benchmark's ``main([])`` prints."""
    import contextlib
    import io
    import re
    import runpy
    from pathlib import Path

    root = Path(__file__).parents[1]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        module = runpy.run_path(str(root / "benchmarks" / script), run_name=script.removesuffix(".py"))
        assert module["main"]([]) == 0
    text = (root / page).read_text()
    shown = re.search(rf"<!-- {marker}: benchmarks/{re.escape(script)} -->\n```text\n(.*?)```", text, re.S)
    assert shown is not None, f"{page} has no {marker} block"
    assert shown.group(1) == buffer.getvalue()
