"""Per-process settings the runtime reads at nrt_init (issue #18 item 4): the logical NeuronCore size,
numerical-error reporting, and what happens to every other NEURON_RT_* variable."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import neuronsim
from neuronsim import nrt
from tests.helpers import model_with_io, schedule_execute, tensor

DOCS = Path(__file__).resolve().parent.parent / "docs"
DEV = nrt.NRT_TENSOR_PLACEMENT_DEVICE


def init(sim, **env):
    rt = sim.runtime(env=env)
    return rt, rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")


def count(call) -> int:
    cell = nrt.Ref()
    assert call(cell) == nrt.NRT_SUCCESS
    return cell.value


# -- NEURON_LOGICAL_NC_CONFIG / NEURON_RT_VIRTUAL_CORE_SIZE --------------------------------------------

@pytest.mark.parametrize("name", ["NEURON_LOGICAL_NC_CONFIG", "NEURON_RT_VIRTUAL_CORE_SIZE"])
def test_lnc1_on_trn2_gives_the_process_8_cores_per_device(name):
    sim = neuronsim.Simulator("trn2.48xlarge")  # built at the chip's default, LNC=2
    rt = sim.runtime(env={name: "1"})
    assert count(rt.nrt_get_total_vnc_count) == 128  # before nrt_init, from the environment
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    assert rt.lnc == 1 and count(rt.nrt_get_visible_vnc_count) == 128
    assert rt.visible_cores[:9] == tuple(range(9))
    # two neighbouring LNC=1 cores share an HBM stack (device-memory.rst)
    stacks = []
    for vnc in range(4):
        info = nrt.Ref()
        assert rt.nrt_tensor_get_device_allocation_info(tensor(rt, 64, vnc), info) == nrt.NRT_SUCCESS
        stacks.append(info.value["hbm_index"])
    assert stacks == [0, 0, 1, 1]
    other, status = init(sim)
    assert status == nrt.NRT_RESOURCE  # every physical core is held by the LNC=1 process
    assert count(other.nrt_get_total_vnc_count) == 64


def test_processes_of_both_sizes_share_an_instance_by_physical_core():
    sim = neuronsim.Simulator("trn2.48xlarge", record=True)
    small, status = init(sim, NEURON_LOGICAL_NC_CONFIG="1", NEURON_RT_VISIBLE_CORES="0-7")  # device 0
    assert status == nrt.NRT_SUCCESS
    assert init(sim, NEURON_RT_VISIBLE_CORES="2")[1] == nrt.NRT_RESOURCE  # device 0, physical 4-5
    big, status = init(sim, NEURON_RT_VISIBLE_CORES="4-7")  # device 1
    assert status == nrt.NRT_SUCCESS and big.lnc == 2
    # an LNC=1 core has one physical core's TensorE: a compute-bound execution takes twice as long
    flops = int(sim.topology.spec.chip.compute.bf16_flops_per_ns * 2 * 1_000)
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")},
                          cost=neuronsim.Roofline(flops=flops, hbm_bytes=0))
    took = []
    for rt in (big, small):
        model, ins, outs = model_with_io(rt, neff)
        status, ret, seq = schedule_execute(rt, model, ins, outs)
        sim.run_until_idle()
        took.append(rt.request(seq.value).end_ns - rt.request(seq.value).start_ns)
    assert took == [1_000, 2_000]
    assert small.nrt_close() == nrt.NRT_SUCCESS
    assert init(sim, NEURON_RT_VISIBLE_CORES="2")[1] == nrt.NRT_SUCCESS  # physical 4-5 are free again


@pytest.mark.parametrize(("preset", "env", "status"), [
    ("trn2.48xlarge", {"NEURON_LOGICAL_NC_CONFIG": "3"}, nrt.NRT_INVALID),
    ("trn2.48xlarge", {"NEURON_RT_VIRTUAL_CORE_SIZE": "two"}, nrt.NRT_INVALID),
    ("trn2.48xlarge", {"NEURON_LOGICAL_NC_CONFIG": "1", "NEURON_RT_VIRTUAL_CORE_SIZE": "2"}, nrt.NRT_INVALID),
    ("trn2.48xlarge", {"NEURON_LOGICAL_NC_CONFIG": "2", "NEURON_RT_VIRTUAL_CORE_SIZE": "2"}, nrt.NRT_SUCCESS),
    ("trn1.32xlarge", {"NEURON_LOGICAL_NC_CONFIG": "2"}, nrt.NRT_INVALID),  # "not applicable to Trn1/Inf2"
    ("trn1.32xlarge", {"NEURON_LOGICAL_NC_CONFIG": "1"}, nrt.NRT_SUCCESS),  # "(effectively 1)"
    ("inf2.xlarge", {"NEURON_RT_VIRTUAL_CORE_SIZE": "1"}, nrt.NRT_SUCCESS),
])
def test_lnc_values(preset, env, status):
    assert init(neuronsim.Simulator(preset), **env)[1] == status


def test_a_bad_lnc_says_why(caplog):
    init(neuronsim.Simulator("trn1.2xlarge"), NEURON_LOGICAL_NC_CONFIG="2")
    assert "NRT:nrt_init LNC=2 is not supported on trn1.2xlarge (its cores are not grouped)" in caplog.text


# -- NEURON_FAIL_ON_NAN -------------------------------------------------------------------------------------

NAN_NEFF = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=1_000,
                          kernel=lambda x: {"y": np.where(x < 0, np.nan, np.sqrt(np.abs(x)))})  # a real sqrt


@pytest.mark.parametrize(("env", "status"), [
    ({}, nrt.NRT_SUCCESS),  # reporting is "disabled by default due to a HW bug"
    ({"NEURON_FAIL_ON_NAN": "1"}, nrt.NRT_EXEC_COMPLETED_WITH_NUM_ERR),
    ({"NEURON_RT_NUMERICAL_ERRORS_VERBOSITY": "critical"}, nrt.NRT_EXEC_COMPLETED_WITH_NUM_ERR),
    ({"NEURON_FAIL_ON_NAN": "0"}, nrt.NRT_SUCCESS),
])
def test_an_execution_that_produces_nan(env, status):
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt, ok = init(sim, **env)
    assert ok == nrt.NRT_SUCCESS
    model, ins, outs = model_with_io(rt, NAN_NEFF)
    x, y = nrt.Ref(), nrt.Ref()
    rt.nrt_get_tensor_from_tensor_set(ins, "x", x)
    rt.nrt_get_tensor_from_tensor_set(outs, "y", y)
    rt.nrt_tensor_write(x.value, np.array([4, -1, 9, 16], np.float32).tobytes(), 0, 16)
    _, ret, _ = schedule_execute(rt, model, ins, outs)
    sim.run_until_idle()
    assert ret.value == status
    assert rt.nrt_execute(model, ins, outs) == status  # the blocking call too
    got = bytearray(16)
    rt.nrt_tensor_read(y.value, got, 0, 16)
    assert np.array_equal(np.frombuffer(got, np.float32), [2, np.nan, 3, 4], equal_nan=True)
    # a finite result is a success either way
    rt.nrt_tensor_write(x.value, np.ones(4, np.float32).tobytes(), 0, 16)
    assert rt.nrt_execute(model, ins, outs) == nrt.NRT_SUCCESS


def test_a_bfloat16_nan_is_seen():
    neff = neuronsim.Neff(inputs={"x": ((2,), "bfloat16")}, outputs={"y": ((2,), "bfloat16")}, duration_ns=10,
                          kernel=lambda x: {"y": np.array([0x3F80, 0x7FC1], np.uint16)})  # 1.0 and a NaN
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt, _ = init(sim, NEURON_FAIL_ON_NAN="1")
    model, ins, outs = model_with_io(rt, neff)
    assert rt.nrt_execute(model, ins, outs) == nrt.NRT_EXEC_COMPLETED_WITH_NUM_ERR


# -- every other variable -------------------------------------------------------------------------------------

# every NEURON_RT_* variable reference/nrt-api.md §4 names
REFERENCE_VARIABLES = """
NEURON_RT_ALLOW_LEGACY_NEFF NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS NEURON_RT_ASYNC_SENDRECV_BOOTSTRAP_PORT
NEURON_RT_ASYNC_SENDRECV_EXPERIMENTAL_ENABLED NEURON_RT_CONTIGUOUS_SCRATCHPAD NEURON_RT_DBG_CC_DMA_PACKET_SIZE
NEURON_RT_DBG_DMA_PACKETIZATION_SIZE NEURON_RT_DBG_DUMP_INPUTS_ON_ERR NEURON_RT_DEBUG_MEMLOG_MAX_SIZE
NEURON_RT_DEBUG_STREAM_BUFFER_SIZE NEURON_RT_ENABLE_DEVICE_MEMORY_OOM_LOG NEURON_RT_ENABLE_DGE_NOTIFICATIONS
NEURON_RT_EXEC_TIMEOUT NEURON_RT_GPSIMD_STDOUT_QUEUE_SIZE_BYTES NEURON_RT_INSPECT_DEVICE_PROFILE
NEURON_RT_INSPECT_ENABLE NEURON_RT_INSPECT_EVENT_FILTER_NC NEURON_RT_INSPECT_EVENT_FILTER_TYPE NEURON_RT_INSPECT_ON_FAIL
NEURON_RT_INSPECT_OUTPUT_DIR NEURON_RT_INSPECT_SYSTEM_PROFILE NEURON_RT_INSPECT_SYS_TRACE_MAX_EVENTS_PER_NC
NEURON_RT_LOG_LEVEL NEURON_RT_LOG_LOCATION NEURON_RT_LOW_LATENCY_TASKS_CPU_AFFINITY
NEURON_RT_MULTI_INSTANCE_SHARED_WEIGHTS NEURON_RT_NUMERICAL_ERRORS_VERBOSITY NEURON_RT_NUM_CORES
NEURON_RT_ONE_THREAD_PER_CORE NEURON_RT_RANKS_PER_NETWORK_PROXY NEURON_RT_RESET_CORES NEURON_RT_ROOT_COMM_ID
NEURON_RT_STOCHASTIC_ROUNDING_EN NEURON_RT_STOCHASTIC_ROUNDING_SEED NEURON_RT_ULTRASERVER_MODE NEURON_RT_VALIDATE_HASH
NEURON_RT_VIRTUAL_CORE_SIZE NEURON_RT_VISIBLE_CORES
""".split()
HONOURED = {"NEURON_RT_ALLOW_LEGACY_NEFF", "NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS", "NEURON_RT_EXEC_TIMEOUT",
            "NEURON_RT_LOW_LATENCY_TASKS_CPU_AFFINITY", "NEURON_RT_NUMERICAL_ERRORS_VERBOSITY", "NEURON_RT_NUM_CORES",
            "NEURON_RT_VIRTUAL_CORE_SIZE", "NEURON_RT_VISIBLE_CORES", "NEURON_RT_LOG_LEVEL"}


def environment_table() -> dict[str, str]:
    text = (DOCS / "reference" / "environment.md").read_text()
    rows = re.findall(r"^\| `([A-Z0-9_]+)[^|]*\| (honoured|not modelled)", text, flags=re.M)
    return dict(rows)


def test_every_reference_variable_is_honoured_or_listed_as_not_modelled():
    table = environment_table()
    missing = [v for v in REFERENCE_VARIABLES if v not in table]
    assert not missing, f"docs/reference/environment.md does not list {missing}"
    assert {v for v, how in table.items() if how == "honoured" and v.startswith("NEURON_RT_")} == HONOURED


def test_an_unknown_log_level_does_not_refuse_nrt_init_and_the_page_says_so(caplog):
    """The page's rule is that a bad value of an honoured variable makes nrt_init return NRT_INVALID; the log
    level is the exception (A80): an ERROR line, the level stays ERROR, nrt_init succeeds. Its row says so."""
    rt, status = init(neuronsim.Simulator("trn1.2xlarge"), NEURON_RT_LOG_LEVEL="VERBOSE")
    assert status == nrt.NRT_SUCCESS
    assert "NEURON_RT_LOG_LEVEL='VERBOSE' is not one of ERROR, WARNING" in caplog.text
    text = (DOCS / "reference" / "environment.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| `NEURON_RT_LOG_LEVEL`")]
    assert "an unknown value is an ERROR line, not a refused `nrt_init`" in row


def test_not_modelled_and_unknown_variables_are_ignored():
    env = {v: "1" for v, how in environment_table().items() if how == "not modelled"}
    env["NEURON_RT_NO_SUCH_SETTING"] = "whatever"
    rt, status = init(neuronsim.Simulator("trn1.2xlarge"), **env)
    assert status == nrt.NRT_SUCCESS
    assert count(rt.nrt_get_visible_vnc_count) == 2
