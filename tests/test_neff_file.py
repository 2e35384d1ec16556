"""Compiled NEFF files: the reader against neuronsim's own writer (any signature), every way a file can be
bad (the runtime's statuses and a log line, never an exception), kernels attached by NEURONSIM_KERNELS, and
the two real compiled NEFFs of ../shared/neffs when they are present."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.nrt import NRT_STATUS as S
from neuronsim.runtime.neff import Roofline
from neuronsim.runtime.neff_file import NeffError, read_neff, write_neff
from tests.helpers import open_runtime, tensor, tensor_set

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "neffs"
MATMUL = {"x": ((4, 8), "float32"), "w": ((8, 2), "float32")}


def load(rt, data) -> tuple[S, object]:
    out = nrt.Ref()
    return rt.nrt_load(data, 0, -1, out), out.value


def test_the_writer_and_the_reader_agree_on_the_signature_cores_target_and_cost():
    data = write_neff(MATMUL, {"y": ((4, 2), "float32")}, name="mm.neff", target="trn1", cores=1, subgraphs=2,
                      mac_count=64, traffic=4096, uuid="00112233445566778899aabbccddeeff")
    assert len(data) > 1024 and struct.unpack_from("<QQ", data, 0) == (2, 1024)
    neff = read_neff(data, validate_hash=True)
    assert [(t.name, t.shape, t.dtype, t.size_bytes) for t in neff.inputs] == [("x", (4, 8), "float32", 128),
                                                                               ("w", (8, 2), "float32", 64)]
    assert [(t.name, t.shape, t.size_bytes) for t in neff.outputs] == [("y", (4, 2), 32)]  # listed twice, one
    assert (neff.name, neff.uuid, neff.target, neff.cores, neff.subgraphs) == \
        ("mm.neff", "00112233445566778899aabbccddeeff", "trn1", 1, 2)
    assert neff.cost == Roofline(128, 4096, "fp32")  # 2 flops per MAC, the Traffic bytes
    # the inputs read from the arg_nodes when the signature metadata is absent, fp16 at the BF16 rate
    bare = read_neff(write_neff({"a": ((3,), "float16")}, {"b": ((3,), "int32")}, signature=False, mac_count=5))
    assert [(t.name, t.dtype) for t in bare.inputs] == [("a", "float16")] and bare.cost == Roofline(10, None, "bf16")


def test_a_neff_file_loads_in_the_mirror_and_the_facade_and_runs_its_roofline(caplog):
    data = write_neff(MATMUL, {"y": ((4, 2), "float32")}, mac_count=10**9, traffic=10**6)
    sim, rt = open_runtime("trn1.2xlarge")
    status, model = load(rt, data)
    assert status == S.NRT_SUCCESS
    info = nrt.Ref()
    assert rt.nrt_get_model_tensor_info(model, info) == S.NRT_SUCCESS
    assert [(i.name, i.size, i.dtype, i.shape) for i in info.value.tensor_array] == [
        ("x", 128, int(nrt.NRT_DTYPE_FLOAT32), (4, 8)), ("w", 64, int(nrt.NRT_DTYPE_FLOAT32), (8, 2)),
        ("y", 32, int(nrt.NRT_DTYPE_FLOAT32), (4, 2))]
    again = nrt.Ref()
    assert rt.nrt_load(bytearray(data), 1, -1, again) == S.NRT_SUCCESS and again.value.neff is model.neff

    def duration(neff_or_bytes) -> int:
        s = neuronsim.Simulator("trn1.2xlarge")
        with s.open() as runtime:
            m = runtime.load(neff_or_bytes, 0)
            ins, outs = runtime.allocate_io(m)
            start = s.now_ns
            runtime.execute(m, ins, outs).result()
            return s.now_ns - start

    twin = neuronsim.Neff(MATMUL, {"y": ((4, 2), "float32")}, cost=Roofline(2 * 10**9, 10**6, "fp32"))
    assert duration(data) == duration(twin) > 2 * 10**9 // 100_000  # the compiler's MACs at the FP32 peak


def test_outputs_are_zero_filled_with_one_log_line_per_model_without_a_kernel(caplog):
    data = write_neff({"x": ((4,), "float32")}, {"y": ((4,), "float32")}, mac_count=4, name="zero.neff")
    sim = neuronsim.Simulator("trn1.2xlarge")
    with caplog.at_level(logging.WARNING), sim.open() as runtime:
        model = runtime.load(data, 0)
        ins, outs = runtime.allocate_io(model)
        runtime.write(outs["y"], np.full(4, 7, np.float32).tobytes()).result()
        runtime.write(ins["x"], np.arange(4, dtype=np.float32).tobytes()).result()
        for _ in range(3):
            runtime.execute(model, ins, outs).result()
        assert bytes(runtime.read(outs["y"]).result()) == bytes(16)
    lines = [r.getMessage() for r in caplog.records if "zero-filled" in r.getMessage()]
    assert len(lines) == 1 and "zero.neff" in lines[0] and "NEURONSIM_KERNELS" in lines[0]


def test_neuronsim_kernels_attaches_a_numpy_kernel_by_uuid_or_name(tmp_path):
    module = tmp_path / "my_kernels.py"
    module.write_text("KERNELS = {\n"
                      "    '00112233-4455-6677-8899-aabbccddeeff': lambda x, w: {'y': x @ w},\n"
                      "    'double.neff': lambda x: {'y': x * 2},\n}\n")
    by_uuid = write_neff(MATMUL, {"y": ((4, 2), "float32")}, uuid="00112233445566778899aabbccddeeff", mac_count=64)
    by_name = write_neff({"x": ((4,), "float32")}, {"y": ((4,), "float32")}, name="double.neff", mac_count=4)
    sim = neuronsim.Simulator("trn1.2xlarge")
    with sim.open(env={"NEURONSIM_KERNELS": str(module)}) as runtime:
        x = np.arange(32, dtype=np.float32).reshape(4, 8)
        w = np.ones((8, 2), np.float32)
        model = runtime.load(by_uuid, 0)
        ins, outs = runtime.allocate_io(model)
        runtime.write(ins["x"], x.tobytes()).result()
        runtime.write(ins["w"], w.tobytes()).result()
        runtime.execute(model, ins, outs).result()
        assert np.array_equal(np.frombuffer(bytes(runtime.read(outs["y"]).result()), np.float32).reshape(4, 2), x @ w)
        model = runtime.load(by_name, 1)
        ins, outs = runtime.allocate_io(model)
        runtime.write(ins["x"], np.arange(4, dtype=np.float32).tobytes()).result()
        runtime.execute(model, ins, outs).result()
        assert np.frombuffer(bytes(runtime.read(outs["y"]).result()), np.float32).tolist() == [0, 2, 4, 6]
    import sys

    assert str(tmp_path) not in sys.path  # a kernel file is imported without touching sys.path


def _bad(data: bytes, env: dict | None = None, preset: str = "trn1.2xlarge") -> tuple[S, str]:
    sim, rt = open_runtime(preset, env=env)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("neuronsim")
    logger.addHandler(handler)
    try:
        status, model = load(rt, data)
    finally:
        logger.removeHandler(handler)
    assert model is None or status == S.NRT_SUCCESS
    return status, "\n".join(records)


GOOD = write_neff({"x": ((64,), "float16")}, {"y": ((64,), "float16")}, mac_count=64, name="good.neff")


@pytest.mark.parametrize(("data", "status", "says"), [
    (GOOD[:100], S.NRT_INVALID, "truncated: 100 bytes, shorter than the 1024-byte NEFF header"),
    (GOOD[:1024 + 20], S.NRT_INVALID, "truncated: the header gives a"),
    (GOOD[:1024] + b"\x00" * (len(GOOD) - 1024), S.NRT_INVALID, "payload is not gzip data"),
    (GOOD[:1024] + bytes(b ^ 0x55 for b in GOOD[1024:]), S.NRT_INVALID, "payload is not gzip data"),
    (struct.pack("<Q", 7) + GOOD[8:], S.NRT_UNSUPPORTED_NEFF_VERSION, "packaging version 7 is not supported"),
    (GOOD[:24] + struct.pack("<Q", 9) + GOOD[32:], S.NRT_UNSUPPORTED_NEFF_VERSION, "NEFF version 9.0"),
    (GOOD[:16] + struct.pack("<Q", 10**12) + GOOD[24:], S.NRT_INVALID, "gives a 1000000000000-byte payload"),
    (b"\xff\xfe\x00\x01" * 300, S.NRT_INVALID, "neither a compiled NEFF"),
    (b"- just a list\n", S.NRT_INVALID, "nor a compiled NEFF"),
    (b"{inputs: {x: 4 KiB}}", S.NRT_INVALID, "not a NEFF description"),
])
def test_bad_neff_bytes_get_the_runtimes_status_and_a_log_line(data, status, says):
    got, logged = _bad(data)
    assert got == status
    assert says in logged


def test_a_hash_mismatch_is_refused_when_the_runtime_validates_hashes():
    tampered = bytearray(GOOD)
    tampered[172] ^= 0xFF
    assert _bad(bytes(tampered))[0] == S.NRT_SUCCESS  # NEURON_RT_VALIDATE_HASH defaults to FALSE
    status, logged = _bad(bytes(tampered), {"NEURON_RT_VALIDATE_HASH": "1"})
    assert status == S.NRT_INVALID and "payload hash mismatch (md5" in logged
    sha = write_neff({"x": ((4,), "int8")}, {"y": ((4,), "int8")}, packaging_version=1)
    assert _bad(sha, {"NEURON_RT_VALIDATE_HASH": "true"})[0] == S.NRT_SUCCESS


def test_a_neff_for_another_chip_or_more_cores_is_refused():
    trn2 = write_neff({"x": ((4,), "float16")}, {"y": ((4,), "float16")}, target="cayman", mac_count=4)
    status, logged = _bad(trn2)
    assert status == S.NRT_INVALID and "compiled for cayman (NeuronCore-v3), this instance has NeuronCore-v2" in logged
    trn1 = write_neff({"x": ((4,), "float16")}, {"y": ((4,), "float16")}, target="trn1", mac_count=4)
    assert _bad(trn1, preset="trn2.48xlarge")[0] == S.NRT_INVALID
    assert _bad(trn1, {"NEURON_RT_ALLOW_LEGACY_NEFF": "1"}, preset="trn2.48xlarge")[0] == S.NRT_SUCCESS
    unknown = write_neff({"x": ((4,), "float16")}, {"y": ((4,), "float16")}, target="tonga2")
    assert _bad(unknown)[0] == S.NRT_INVALID
    wide = write_neff({"x": ((4,), "float16")}, {"y": ((4,), "float16")}, cores=4, mac_count=4)
    status, logged = _bad(wide)
    assert status == S.NRT_LOAD_NOT_ENOUGH_NC and "needs 4 NeuronCores from nc0, 2 are visible" in logged


def test_a_neff_without_hlo_stats_falls_back_to_its_io_traffic_and_says_so(caplog):
    data = write_neff({"x": ((1024,), "float32")}, {"y": ((1024,), "float32")})
    with caplog.at_level(logging.WARNING):
        neff = read_neff(data, source="plain.neff")
    assert neff.cost == Roofline(0, None, "fp32")
    assert any("plain.neff" in r.getMessage() and "records no MAC count" in r.getMessage() for r in caplog.records)


@given(cut=st.integers(0, len(GOOD)), flips=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(1, 255)),
                                                      max_size=4))
def test_any_damaged_neff_gets_a_status_never_an_exception(cut, flips):
    data = bytearray(GOOD[:cut] if cut < len(GOOD) else GOOD)
    for where, mask in flips:
        if where < len(data):
            data[where] ^= mask
    try:
        neff = read_neff(bytes(data), validate_hash=True)
    except NeffError as exc:
        assert exc.status in (S.NRT_INVALID, S.NRT_UNSUPPORTED_NEFF_VERSION)
        assert str(exc)
    else:
        assert neff.outputs


needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/neffs is not present")


@needs_real
@pytest.mark.parametrize(("file", "shapes", "out"), [
    ("matmul_small.neff", [(128, 256), (256, 128)], (128, 128)),
    ("matmul_large.neff", [(128, 32768), (32768, 65536)], (128, 65536)),
])
def test_the_real_neffs_signature_and_cost(file, shapes, out):
    data = (REAL / file).read_bytes()
    neff = read_neff(data, source=file)
    assert [(t.name, t.shape, t.dtype) for t in neff.inputs] == [("x", shapes[0], "float16"),
                                                                   ("y", shapes[1], "float16")]
    assert [(t.name, t.shape, t.dtype) for t in neff.outputs] == [("output0", out, "float16")]  # listed twice
    assert (neff.target, neff.cores, neff.subgraphs) == ("cayman", 1, 2)
    m, k = shapes[0]
    assert neff.cost.flops == 2 * m * k * shapes[1][1]  # hlo_stats' HloMacCount is the matmul's m*k*n
    sim, rt = open_runtime("trn2.48xlarge")
    status, model = load(rt, data)
    assert status == S.NRT_SUCCESS
    assert _bad(data)[0] == S.NRT_INVALID  # compiled for Trainium2: refused on trn1


@needs_real
def test_the_small_real_neff_executes_with_a_kernel(tmp_path):
    module = tmp_path / "k.py"
    module.write_text("import numpy as np\n"
                      "def kernel_for(neff):\n"
                      "    return (lambda x, y: {'output0': (x.astype(np.float32) @ y.astype(np.float32))"
                      ".astype(np.float16)}) if neff.name == 'file.neff' else None\n")
    data = (REAL / "matmul_small.neff").read_bytes()
    sim, rt = open_runtime("trn2.48xlarge", env={"NEURON_RT_VISIBLE_CORES": "0", "NEURONSIM_KERNELS": str(module)})
    status, model = load(rt, data)
    assert status == S.NRT_SUCCESS
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 256)).astype(np.float16)
    y = rng.standard_normal((256, 128)).astype(np.float16)
    tx, ty, to = tensor(rt, x.nbytes), tensor(rt, y.nbytes), tensor(rt, 128 * 128 * 2)
    assert rt.nrt_tensor_write(tx, x.tobytes(), 0, x.nbytes) == S.NRT_SUCCESS
    assert rt.nrt_tensor_write(ty, y.tobytes(), 0, y.nbytes) == S.NRT_SUCCESS
    assert rt.nrt_execute(model, tensor_set(rt, x=tx, y=ty), tensor_set(rt, output0=to)) == S.NRT_SUCCESS
    back = bytearray(128 * 128 * 2)
    assert rt.nrt_tensor_read(to, back, 0, len(back)) == S.NRT_SUCCESS
    expected = (x.astype(np.float32) @ y.astype(np.float32)).astype(np.float16)
    assert np.array_equal(np.frombuffer(bytes(back), np.float16).reshape(128, 128), expected)


def test_bytes_that_are_neither_a_neff_nor_a_description_are_refused_in_one_line():
    """What nrt_load logs for a file that is not a NEFF: one line with the reason, not the YAML parser's
    diagram or pydantic's multi-line text with links."""
    from neuronsim.runtime.neff_file import NeffError, neff_from_bytes

    cases = {
        b"a: [1, 2\nb: 3\n": "not a compiled NEFF (no NEFF header) nor a NEFF description (YAML/JSON): expected ',' "
                             "or ']', but got ':' at line 2, column 2",
        b"\x00\x01abc": "not a compiled NEFF (no NEFF header) nor a NEFF description (YAML/JSON): unacceptable "
                        "character #x0000: special characters are not allowed",
        b'{"inputs": {}, "outputs": {}}': "not a NEFF description: cost: Field required",
    }
    for data, message in cases.items():
        with pytest.raises(NeffError) as info:
            neff_from_bytes(data)
        assert str(info.value) == message and "\n" not in str(info.value)
