"""The mirror's boundary: a bad argument is a logged status, anything else surfaces with its traceback.

Issue #18 item 7 (errors are never masked), issue #21 items 2 (NRT_INVALID says why, NEURON_RT_LOG_LEVEL)
and 4 (one API generation, one set of constants).
"""

from __future__ import annotations

import logging
import traceback

import numpy as np
import pytest

import neuronsim
from neuronsim import nrt, nrt_2_28
from neuronsim.runtime import requests
from neuronsim.runtime.log import LOGGER, TRACE

NEFF = neuronsim.Neff({"x": ((4,), "float32")}, {"y": ((4,), "float32")}, duration_ns=10_000,
                      kernel=lambda x: {"y": x + 1})


def opened(api: str = "3.0", env: dict | None = None, instance: str = "trn1.2xlarge"):
    sim = neuronsim.Simulator(instance)
    rt = sim.runtime(api=api, env=env)
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    model, x, y, ins, outs = (nrt.Ref() for _ in range(5))
    assert rt.nrt_load(NEFF, 0, -1, model) == nrt.NRT_SUCCESS
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "x", x)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "y", y)
    rt.nrt_allocate_tensor_set(ins)
    rt.nrt_allocate_tensor_set(outs)
    rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
    return sim, rt, model.value, x, ins.value, outs.value


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "neuronsim.runtime"]


# -- #18.7: errors that are not the caller's argument are never a status ----------------------------

def test_a_bug_in_a_host_thread_surfaces_from_the_blocking_call_with_its_traceback():
    sim, rt, model, _, ins, outs = opened()

    def buggy_thread(thread):
        yield thread.sleep(5_000)  # after the call's 2 us host cost, during the 10 us execution
        len(None)  # the user's bug, while the direct-mode nrt_execute below runs the simulation

    sim.spawn(buggy_thread, rt, name="worker")
    with pytest.raises(TypeError, match="object of type 'NoneType' has no len") as info:
        rt.nrt_execute(model, ins, outs)
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "nrt_execute" in frames and "_wait_for" in frames  # raised out of the blocking wait
    cause = [frame.name for frame in traceback.extract_tb(info.value.__cause__.__traceback__)]
    assert cause[-1] == "buggy_thread"  # SimPy chains the thread's own exception, with its traceback


def test_an_exception_in_the_async_exec_callback_surfaces():
    sim, rt, model, _, ins, outs = opened(env={"NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "2"})

    def callback(params, model_id, vnc, job_id, status):
        raise KeyError("the user's callback")

    assert rt.nrt_register_async_exec_callback(callback, None) == nrt.NRT_SUCCESS
    assert rt.nrt_execute(model, ins, outs) == nrt.NRT_SUCCESS
    with pytest.raises(KeyError, match="the user's callback"):
        rt.nrt_async_drain_queued_execs(0)


def test_an_internal_error_is_a_traceback_not_nrt_invalid(monkeypatch):
    sim, rt, model, x, _, _ = opened()

    def broken(*args, **kwargs):
        raise IndexError("a neuronsim bug")

    monkeypatch.setattr(requests.WriteRequest, "__init__", broken)
    with pytest.raises(IndexError, match="a neuronsim bug"):
        rt.nrta_tensor_write(x.value, bytes(16), 0, 16, 0, 0, nrt.Ref(), nrt.Ref())


def test_a_wrong_argument_count_is_a_type_error_as_for_any_python_function():
    sim, rt, _, x, _, _ = opened()
    with pytest.raises(TypeError, match=r"^nrta_tensor_write\(\): missing a required argument: 'req_sequence'$"):
        rt.nrta_tensor_write(x.value, bytes(16), 0, 16, 0, 0, nrt.Ref())
    with pytest.raises(TypeError, match=r"^nrt_tensor_free\(\): too many positional arguments$"):
        rt.nrt_tensor_free(x, x)
    closed = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "1"})  # before nrt_init too: the count comes first
    with pytest.raises(TypeError, match=r"^nrt_init\(\): missing a required argument: 'fal_version'$"):
        closed.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "")


# -- #21.2: NRT_INVALID says why --------------------------------------------------------------------

@pytest.mark.parametrize(("call", "expected"), [
    (lambda rt, x: rt.nrta_tensor_write(x.value, bytes(16), 0, 16, 0, 3, nrt.Ref(), nrt.Ref()),
     "nrta_tensor_write: queue 3 out of range 0..1 (tensor_op queues) -> NRT_INVALID"),
    (lambda rt, x: rt.nrta_tensor_write(x.value, [0] * 16, 0, 16, 0, 0, nrt.Ref(), nrt.Ref()),
     "nrta_tensor_write: buf is a Python list of 16 items, not a C-contiguous buffer (bytes, bytearray, numpy "
     "array) -> NRT_INVALID"),
    (lambda rt, x: rt.nrta_tensor_write(x, bytes(16), 0, 16, 0, 0, nrt.Ref(), nrt.Ref()),
     "nrta_tensor_write: tensor is a Ref: pass its .value -> NRT_INVALID"),
    (lambda rt, x: rt.nrta_tensor_read(bytes(16), x.value, 0, 16, 0, 0, nrt.Ref(), nrt.Ref()),
     "nrta_tensor_read: buf is read-only (bytes) and the call writes into it -> NRT_INVALID"),
    (lambda rt, x: rt.nrta_tensor_write(x.value, bytes(16), 8, 16, 0, 0, nrt.Ref(), nrt.Ref()),
     "nrta_tensor_write: offset 8 + size 16 is outside tensor 'x' of 16 bytes -> NRT_INVALID"),
    (lambda rt, x: rt.nrta_tensor_write(x.value, bytes(16), 0, 16, 5, 0, nrt.Ref(), nrt.Ref()),
     "nrta_tensor_write: lnc_idx 5 out of range 0..1 (this process's logical cores) -> NRT_INVALID"),
    (lambda rt, x: rt.nrta_tensor_write(x.value, bytes(16), 0, 16, 0, 0, None, nrt.Ref()),
     "nrta_tensor_write: ret is NULL (None), not an nrt.Ref (a NULL or non-pointer out-parameter) -> NRT_INVALID"),
    (lambda rt, x: rt.nrta_is_completed(0x5, nrt.Ref()),
     "nrta_is_completed: seq 0x5: nc0/xu.tensor_op.0 has accepted only 0 requests -> NRT_INVALID"),
    (lambda rt, x: rt.nrt_tensor_allocate(7, 0, 16, "t", nrt.Ref()),
     "nrt_tensor_allocate: tensor_placement 7 is not a nrt_tensor_placement_t value (NRT_TENSOR_PLACEMENT_DEVICE=0,"
     " NRT_TENSOR_PLACEMENT_HOST=1, NRT_TENSOR_PLACEMENT_VIRTUAL=2) -> NRT_INVALID"),
])
def test_a_refused_call_logs_the_call_the_argument_and_the_reason(caplog, call, expected):
    sim, rt, _, x, _, _ = opened()
    caplog.clear()
    assert call(rt, x) == nrt.NRT_INVALID
    assert messages(caplog) == [expected]
    record = caplog.records[-1]
    assert record.levelno == logging.ERROR and record.nrt_status == nrt.NRT_INVALID
    assert record.nrt_call == expected.split(":")[0]


def test_without_logging_configured_the_error_goes_to_stderr_as_the_runtime_console(monkeypatch, capsys):
    sim, rt, _, x, _, _ = opened()
    monkeypatch.setattr(LOGGER, "propagate", False)  # no handler anywhere: as in a plain script
    sim.run_for_ns(1_234)
    now = sim.now_ns + 2_000  # the call's host cost is spent before it is refused
    assert rt.nrta_tensor_write(x.value, bytes(16), 0, 16, 0, 3, nrt.Ref(), nrt.Ref()) == nrt.NRT_INVALID
    assert capsys.readouterr().err == (f"{now} ns ERROR  NRT:nrta_tensor_write: queue 3 out of range 0..1 "
                                       "(tensor_op queues) -> NRT_INVALID\n")


def test_core_allocation_failure_logs_the_runtime_line_then_the_refusal(caplog):
    sim = neuronsim.Simulator("trn1.2xlarge")
    first = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "1"})
    assert first.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    caplog.clear()
    second = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "1"})
    assert second.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_RESOURCE
    assert messages(caplog) == [
        "NRT:nrt_allocate_neuron_cores NeuronCore(s) not available - Requested:nc1-nc1 Available:1",
        "nrt_init: cores nc1-nc1 are held by another runtime process -> NRT_RESOURCE"]


def test_neuron_rt_log_level_quiet_says_nothing(caplog):
    sim, rt, _, x, _, _ = opened(env={"NEURON_RT_LOG_LEVEL": "QUIET"})
    caplog.clear()
    assert rt.nrta_tensor_write(x.value, bytes(16), 0, 16, 0, 3, nrt.Ref(), nrt.Ref()) == nrt.NRT_INVALID
    assert messages(caplog) == []


@pytest.mark.parametrize(("level", "expected"), [
    ("ERROR", []),
    ("WARNING", []),
    ("INFO", ["nrt_init: API 3.0, logical cores nc0-nc1 of instance 0"]),
    ("debug", ["nrt_init: API 3.0, logical cores nc0-nc1 of instance 0",
               "nc0/xu.compute.0 is full (1 in flight) -> NRT_QUEUE_FULL"]),
    ("TRACE", ["nrt_init: API 3.0, logical cores nc0-nc1 of instance 0",
               "nc0/xu.compute.0 accepted ExecuteRequest as 0x1000000000001",
               "nc0/xu.compute.0 is full (1 in flight) -> NRT_QUEUE_FULL"]),
])
def test_neuron_rt_log_level_info_debug_and_trace_add_their_lines(caplog, level, expected):
    caplog.set_level(1)
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.runtime(env={"NEURON_RT_LOG_LEVEL": level})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    model, x, y, ins, outs = (nrt.Ref() for _ in range(5))
    rt.nrt_load(NEFF, 0, -1, model)
    for name, cell in (("x", x), ("y", y)):
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, name, cell)
    rt.nrt_allocate_tensor_set(ins)
    rt.nrt_allocate_tensor_set(outs)
    rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
    rt.execution_unit(0, nrt.NRTA_XU_COMPUTE, 0).capacity = 1
    assert rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, nrt.Ref(), nrt.Ref()) == nrt.NRT_SUCCESS
    assert rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, nrt.Ref(), nrt.Ref()) == \
        nrt.NRT_QUEUE_FULL
    assert messages(caplog) == expected
    assert [r.levelno for r in caplog.records] == [{"nrt_init": logging.INFO, "accepted": TRACE}.get(
        m.split(":")[0] if m.startswith("nrt_init") else "accepted" if "accepted" in m else "", logging.DEBUG)
        for m in expected]


def test_the_nrt_component_level_wins_and_an_unknown_level_is_an_error_line(caplog):
    sim, rt, _, x, _, _ = opened(env={"NEURON_RT_LOG_LEVEL": "INFO", "NEURON_RT_LOG_LEVEL_NRT": "QUIET"})
    assert rt.nrta_tensor_write(x.value, bytes(16), 0, 16, 0, 3, nrt.Ref(), nrt.Ref()) == nrt.NRT_INVALID
    assert messages(caplog) == []
    caplog.clear()
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.runtime(env={"NEURON_RT_LOG_LEVEL": "VERBOSE"})
    assert messages(caplog) == ["NEURON_RT_LOG_LEVEL='VERBOSE' is not one of ERROR, WARNING, INFO, DEBUG, TRACE, "
                                "QUIET: the level stays ERROR"]
    assert rt._log.level == logging.ERROR  # noqa: SLF001


def test_a_level_set_on_the_neuronsim_logger_also_filters(caplog):
    sim, rt, _, x, _, _ = opened()
    caplog.clear()
    logging.getLogger("neuronsim").setLevel(logging.CRITICAL)
    try:
        assert rt.nrta_tensor_write(x.value, bytes(16), 0, 16, 0, 3, nrt.Ref(), nrt.Ref()) == nrt.NRT_INVALID
    finally:
        logging.getLogger("neuronsim").setLevel(logging.NOTSET)
    assert messages(caplog) == []


# -- #21.4: one API generation, one set of constants ------------------------------------------------

def test_the_2_28_runtime_refuses_a_3_0_enum_member_and_says_which_to_use(caplog):
    sim, rt, model, _, ins, outs = opened(api="2.28")
    assert rt.nrt is nrt_2_28
    seq = nrt.Ref()
    assert rt.nrta_execute_schedule(model, ins, outs, 0, None, seq) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    caplog.clear()
    last = nrt.Ref()
    assert rt.nrta_get_sequence(0, nrt.NRTA_XU_COMPUTE, 0, last) == nrt.NRT_INVALID
    assert last.value is None
    assert messages(caplog) == ["nrta_get_sequence: xu NRTA_XU_COMPUTE is the 3.0 API's value 1 (here 1 is "
                                "NRTA_XU_TENSOR_WRITE); this runtime speaks 2.28: use rt.nrt.NRTA_XU_COMPUTE (3) "
                                "-> NRT_INVALID"]
    assert rt.nrta_get_sequence(0, rt.nrt.NRTA_XU_COMPUTE, 0, last) == nrt.NRT_SUCCESS
    assert last.value == seq.value
    assert rt.nrta_get_sequence(0, 3, 0, last) == nrt.NRT_SUCCESS  # a plain int is what C passes


def test_the_3_0_runtime_refuses_a_2_28_enum_member():
    sim, rt, model, _, ins, outs = opened()
    assert rt.nrt is nrt
    assert rt.nrta_get_sequence(0, nrt_2_28.NRTA_XU_TENSOR_READ, 0, nrt.Ref()) == nrt.NRT_INVALID
    assert rt.nrta_event_register_xu_completion(0, nrt_2_28.NRTA_XU_COMPUTE, 0, -1) == nrt.NRT_INVALID
    assert rt.nrta_get_sequence(0, nrt.NRTA_XU_COMPUTE, 0, nrt.Ref()) == nrt.NRT_SUCCESS


def test_each_generation_module_has_its_own_xu_enum_and_the_same_rest():
    assert (nrt_2_28.NRTA_XU_TENSOR_READ, nrt_2_28.NRTA_XU_TENSOR_WRITE, nrt_2_28.NRTA_XU_TENSOR_OP,
            nrt_2_28.NRTA_XU_COMPUTE, nrt_2_28.NRTA_XU_COLLECTIVES, nrt_2_28.NRTA_XU_TYPE_NUM) == (0, 1, 2, 3, 4, 5)
    assert (nrt.NRTA_XU_TENSOR_OP, nrt.NRTA_XU_COMPUTE, nrt.NRTA_XU_COLLECTIVES) == (0, 1, 2)
    assert nrt_2_28.NRT_QUEUE_FULL is nrt.NRT_QUEUE_FULL and nrt_2_28.Ref is nrt.Ref
    assert (nrt.API, nrt_2_28.API) == ("3.0", "2.28")
    assert not hasattr(nrt_2_28, "NRTA_XU_TENSOR_READ_3_0") and nrt_2_28.nrta_xu_t.__name__ == "nrta_xu_t_2_28"


def test_junk_never_raises_anything_but_a_type_error_for_the_count():
    """A sweep of every mirror method with junk in each argument position: a status every time."""
    sim, rt, model, x, ins, outs = opened()
    junk = [None, -1, 2**70, 3.5, "x", [1, 2], np.zeros(3), nrt.Ref(), object(), nrt.Ref(x.value)]
    import inspect

    for name in sorted(n for n in dir(rt) if n.startswith(("nrt_", "nrta_"))):
        method = getattr(rt, name)
        arity = sum(1 for p in inspect.signature(method).parameters.values()
                    if p.kind is p.POSITIONAL_OR_KEYWORD)  # the C arguments (not neuronsim's keyword-only extensions)
        for position in range(arity):
            for value in junk:
                args = [0] * arity
                args[position] = value
                result = method(*args)
                assert result is None or isinstance(result, (int, str)), (name, position, value)


# -- #18.7 through the C library: an error that is not the caller's is NRT_FAILURE with its traceback --

USER_BUG_FROM_C = r"""
#include <stdio.h>
#include <string.h>
#include "nrt/nrt.h"

static const char NEFF[] = "{inputs: {x: 4 KiB}, outputs: {y: 4 KiB}, cost: {duration: 50 us}}";

int main(void) {
    printf("%d\n", (int)nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", ""));
    nrt_model_t *model = NULL;
    printf("%d\n", (int)nrt_load(NEFF, strlen(NEFF), 0, -1, &model));
    nrt_close();
    return 0;
}
"""


def test_from_c_a_user_error_is_nrt_failure_with_the_traceback_on_stderr(tmp_path):
    import os
    import shutil

    pytest.importorskip("cffi")
    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler")
    from neuronsim.capi.build import build, include_dir
    from tests.test_capi import run_source

    folder = tmp_path / "lib"
    folder.mkdir()
    old = os.environ.get("NEURONSIM_CAPI_DIR")
    os.environ["NEURONSIM_CAPI_DIR"] = str(folder)
    try:
        build(folder)
        flags = ([f"-I{include_dir()}"], ["-L" + str(folder), "-lnrt", f"-Wl,-rpath,{folder}"])
        kernels = tmp_path / "user_kernels.py"
        kernels.write_text("KERNELS = {}\nraise RuntimeError('a bug in the user kernel module')\n")
        result = run_source(USER_BUG_FROM_C, "user_bug", tmp_path, flags, NEURONSIM_KERNELS=str(kernels))
    finally:
        if old is None:
            os.environ.pop("NEURONSIM_CAPI_DIR", None)
        else:
            os.environ["NEURONSIM_CAPI_DIR"] = old
    assert result.stdout.split() == ["0", "1"]  # nrt_init NRT_SUCCESS, nrt_load NRT_FAILURE
    err = result.stderr
    assert "neuronsim: nrt_load: an error that is not the caller's (NRT_FAILURE):\nTraceback (most recent call last):" \
        in err
    assert "user_kernels.py\", line 2, in <module>" in err
    assert err.rstrip().endswith("RuntimeError: a bug in the user kernel module")


@pytest.mark.parametrize(("visible", "reason"), [
    ("0-5", "NEURON_RT_VISIBLE_CORES='0-5': core 5 out of range 0..1"),
    ("0,2", "NEURON_RT_VISIBLE_CORES='0,2': the resulting range must be contiguous"),
])
def test_a_refused_environment_names_the_variable_and_why(caplog, visible, reason):
    sim = neuronsim.Simulator("trn1.32xlarge" if visible == "0,2" else "trn1.2xlarge")
    assert sim.runtime(env={"NEURON_RT_VISIBLE_CORES": visible}).nrt_init(1, "", "") == nrt.NRT_INVALID
    assert messages(caplog) == [f"nrt_init: {reason} -> NRT_INVALID"]
