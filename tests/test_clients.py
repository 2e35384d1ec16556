"""Client code as real users write it, built and run against neuronsim's /opt/aws/neuron-style prefix
(``neuronsim capi-config --prefix``), each loading a NEFF file neuronsim's writer made: the Developer
Guide flow in C, a ctypes runner, a dlopen(RTLD_LOCAL) client, a cffi extension module, eventfd waiters
with a blocking read and with epoll; the same against the real NEFFs of ../shared/neffs when present.
A process whose Python differs gets NRT_FAILURE from every call and one line saying why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuronsim.runtime.neff_file import write_neff
from tests.test_capi import compile_c, run

HERE = Path(__file__).parent / "clients"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "neffs"
pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
KERNELS = "KERNELS = {'affine.neff': lambda x: {'y': x * 2 + 1}}\n"


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    pytest.importorskip("cffi")
    from neuronsim.cli import main

    root = tmp_path_factory.mktemp("neuron")
    assert main(["capi-config", "--prefix", str(root)]) == 0
    return root


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("neffs")
    neff = folder / "affine.neff"
    # 2e9 MACs: about 44 us on a trn1 core, far longer than the calls between, so every wait blocks
    write_neff({"x": ((256,), "float32")}, {"y": ((256,), "float32")}, name="affine.neff", mac_count=2 * 10**9,
               traffic=2048, path=neff)
    kernels = folder / "kernels.py"
    kernels.write_text(KERNELS)
    return neff, kernels


def build(prefix: Path, source: str, out: Path, *extra: str) -> Path:
    flags = ([f"-I{prefix / 'include'}", *extra], ["-L" + str(prefix / "lib"), "-lnrt", f"-Wl,-rpath,{prefix / 'lib'}"])
    return compile_c(HERE / source, out, flags)


def test_the_prefix_is_an_opt_aws_neuron_tree_and_capi_config_prints_both_flag_sets(prefix, capsys):
    from neuronsim.cli import main

    for header in ("nrt.h", "nrt_async.h", "nrt_status.h", "nrt_experimental.h", "nrt_profile.h", "nrt_sys_trace.h",
                   "nrt_version.h", "nrt_async_sendrecv.h"):
        assert (prefix / "include" / "nrt" / header).is_file()
    assert (prefix / "include" / "ndl" / "neuron_driver_shared_tensor_batch_op.h").is_file()
    assert os.readlink(prefix / "lib" / "libnrt.so") == "libnrt.so.1" and (prefix / "lib" / "libnrt.so.1").is_file()
    assert main(["capi-config", "--cflags", "--libs"]) == 0
    words = capsys.readouterr().out.split()
    assert words[0].startswith("-I") and words[1].startswith("-L") and words[2] == "-lnrt"


def test_the_developer_guide_flow_in_c(prefix, files, tmp_path):
    neff, kernels = files
    binary = build(prefix, "dev_guide.c", tmp_path / "dev_guide")
    result = run(binary, NEFF=str(neff), CHECK="affine", NEURONSIM_INSTANCE="trn1.2xlarge",
                 NEURONSIM_KERNELS=str(kernels))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "runtime 2.31", "model on vnc 0 (4 bytes of info)", "input x 1024 bytes dtype 10 shape 256",
        "va holds the bytes written", "output y 1024 bytes dtype 10 shape 256", "y[3] = 4", "outputs checked"]
    # without a kernel the outputs are zeros, and the log says so once
    zero = run(binary, NEFF=str(neff), CHECK="zero", NEURONSIM_INSTANCE="trn1.2xlarge")
    assert zero.returncode == 0 and "outputs checked" in zero.stdout
    assert zero.stderr.count("has no kernel attached: its outputs are zero-filled") == 1


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/neffs is not present")
def test_the_developer_guide_flow_on_the_real_small_neff(prefix, tmp_path):
    kernels = tmp_path / "matmul.py"
    kernels.write_text("import numpy as np\n"
                       "def kernel_for(neff):\n"
                       "    return lambda x, y: {'output0': (x.astype(np.float32) @ y.astype(np.float32))"
                       ".astype(np.float16)}\n")
    binary = build(prefix, "dev_guide.c", tmp_path / "dev_guide")
    result = run(binary, NEFF=str(REAL / "matmul_small.neff"), CHECK="matmul", NEURONSIM_INSTANCE="trn2.48xlarge",
                 NEURONSIM_KERNELS=str(kernels))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[2:6] == ["input x 65536 bytes dtype 7 shape 128 256", "va holds the bytes written",
                          "input y 65536 bytes dtype 7 shape 256 128", "va holds the bytes written"]
    x = (0x3C00 + (np.arange(128 * 256) % 7) * 0x100).astype(np.uint16).view(np.float16).reshape(128, 256)
    y = (0x3C00 + (np.arange(256 * 128) % 7) * 0x100).astype(np.uint16).view(np.float16).reshape(256, 128)
    expected = (x.astype(np.float32) @ y.astype(np.float32)).astype(np.float16)[0, 0]
    assert lines[-2:] == [f"output0[0] = {float(expected):g}", "outputs checked"]
    refused = run(binary, NEFF=str(REAL / "matmul_large.neff"), CHECK="zero", NEURONSIM_INSTANCE="trn1.2xlarge")
    assert refused.returncode == 1 and "FAIL nrt_load" in refused.stdout and "NRT_INVALID" in refused.stdout
    assert "compiled for cayman (NeuronCore-v3), this instance has NeuronCore-v2" in refused.stderr


@pytest.mark.parametrize("wait", ["read", "epoll"])
def test_eventfd_waiters_see_every_completion_in_the_per_request_loop(prefix, files, tmp_path, wait):
    neff, _ = files
    extra = ["-DWAIT_EPOLL"] if wait == "epoll" else []
    binary = build(prefix, "eventfd_waiter.c", tmp_path / f"waiter_{wait}", *extra)
    result = run(binary, NEFF=str(neff), NEURONSIM_INSTANCE="trn1.2xlarge")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    requests = [line for line in lines if line.startswith("request")]
    assert len(requests) == 4
    # every request: accepted, registered, its eventfd counted 1, NRT_SUCCESS, deregistered; the same fd number
    assert {line.split(" t=")[0].split(":")[1] for line in requests} == {
        f" schedule 0 register 0 fd {requests[0].split('fd ')[1].split()[0]} count 1 ret 0 deregister 0"}
    times = [int(line.rsplit("t=", 1)[1]) for line in requests]
    # each wait covered a whole execution of about 44 us: the wait blocked and simulated time went on meanwhile
    assert all(b - a > 40_000 for a, b in zip(times, times[1:], strict=False))
    assert lines[-5:] == ["regular file as eventfd: 2", "stdout as eventfd: 2", "UINT64_MAX write: 2",
                          "UINT64_MAX read: 2", "UINT64_MAX async write: 2"]  # NRT_INVALID, not NRT_FAILURE
    assert "is not an eventfd" in result.stderr and "unexpected" not in result.stderr
    again = run(binary, NEFF=str(neff), NEURONSIM_INSTANCE="trn1.2xlarge")
    assert again.stdout == result.stdout  # deterministic simulated times


def test_a_dlopen_rtld_local_client_waits_on_eventfds_with_libcs_read(prefix, files, tmp_path):
    neff, kernels = files
    source = HERE / "dlopen_local.c"
    binary = tmp_path / "dlopen_local"
    subprocess.run(["cc", "-Wall", "-Werror", f"-I{prefix / 'include'}", str(source), "-ldl", "-o", str(binary)],
                   check=True, capture_output=True, text=True)
    env = dict(NEFF=str(neff), LIBNRT=str(prefix / "lib" / "libnrt.so.1"), NEURONSIM_INSTANCE="trn1.2xlarge",
               NEURONSIM_KERNELS=str(kernels))
    result = run(binary, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ["global nrt_init visible: no", "init 0", "load 0"]
    requests = [line for line in lines if line.startswith("request")]
    assert [line.split(" t=")[0] for line in requests] == [f"request {i}: read 8 count 1 ret 0" for i in range(3)]
    assert lines[-1] == "y[5] = 11"
    assert run(binary, **env).stdout == result.stdout  # the watcher advances time only while the host blocks


def test_a_ctypes_runner(prefix, files):
    neff, kernels = files
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEURONSIM_", "NEURON_RT_"))}
    env.update(NEFF=str(neff), LIBNRT=str(prefix / "lib" / "libnrt.so.1"), NEURONSIM_INSTANCE="trn1.2xlarge",
               NEURONSIM_KERNELS=str(kernels))
    result = subprocess.run([sys.executable, str(HERE / "ctypes_runner.py")], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["sys.path changed: []", "input x 1024 bytes shape [256]", "output y 1024 bytes shape [256]",
                         "y: checked"]
    requests = lines[4:]
    assert [line.split(" t=")[0].split(" fd ")[0] for line in requests] == [f"request {i}:" for i in range(3)]
    assert all(" count 1 ret 0 " in line for line in requests)
    assert len({line.split(" fd ")[1].split()[0] for line in requests}) == 1  # the same fd number each time


def test_a_cffi_extension_module_calls_the_library(prefix, files, tmp_path):
    neff, _ = files
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEURONSIM_", "NEURON_RT_"))}
    env.update(NEFF=str(neff), NEURONSIM_INSTANCE="trn1.2xlarge")
    result = subprocess.run([sys.executable, str(HERE / "cffi_extension.py"), str(tmp_path), str(prefix)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["status 0 tensors x:1024 y:1024", "sys.path changed: []"]


FOREIGN = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <nrt/nrt.h>
const char *Py_GetVersion(void) { return "3.99.1 (another interpreter)"; }
int main(int argc, char **argv) {
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    typeof(&nrt_init) init = (typeof(&nrt_init))dlsym(lib, "nrt_init");
    typeof(&nrt_get_total_vnc_count) total = (typeof(&nrt_get_total_vnc_count))dlsym(lib, "nrt_get_total_vnc_count");
    typeof(&nrt_tensor_get_va) va = (typeof(&nrt_tensor_get_va))dlsym(lib, "nrt_tensor_get_va");
    uint32_t n = 77;
    int a = init(NRT_FRAMEWORK_TYPE_NO_FW, "", "");
    int b = total(&n);
    printf("%d %d %u %s\n", a, b, n, va(NULL) == NULL ? "NULL" : "pointer");
    return 0;
}
"""


def test_a_process_whose_python_differs_gets_nrt_failure_and_one_line_why(prefix, tmp_path):
    source = tmp_path / "foreign.c"
    source.write_text(FOREIGN)
    binary = tmp_path / "foreign"
    subprocess.run(["cc", "-Wall", "-rdynamic", f"-I{prefix / 'include'}", str(source), "-ldl", "-o", str(binary)],
                   check=True, capture_output=True, text=True)
    result = subprocess.run([str(binary), str(prefix / "lib" / "libnrt.so.1")], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split() == ["1", "1", "77", "NULL"]  # NRT_FAILURE, out-parameter untouched
    lines = result.stderr.splitlines()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert len(lines) == 1 and "this process runs Python 3.99.1 but libnrt was built with Python " + version in lines[0]


def test_a_python_without_neuronsim_or_cffi_loads_the_library_with_ctypes(prefix, files, tmp_path):
    """A Python process of the same version but another environment (a bare virtual environment: no cffi,
    no numpy, no neuronsim): the library appends only the folders it needs to sys.path."""
    neff, kernels = files
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEURONSIM_", "NEURON_RT_", "VIRTUAL_ENV"))}
    env.update(NEFF=str(neff), LIBNRT=str(prefix / "lib" / "libnrt.so.1"), NEURONSIM_INSTANCE="trn1.2xlarge",
               NEURONSIM_KERNELS=str(kernels))
    result = subprocess.run([str(bare / "bin" / "python"), str(HERE / "ctypes_runner.py")], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    added = eval(lines[0].split(":", 1)[1])  # noqa: S307 - the runner printed a list of strings
    import _cffi_backend

    import neuronsim

    needed = {str(Path(_cffi_backend.__file__).resolve().parent), str(Path(neuronsim.__file__).resolve().parents[1])}
    assert needed <= set(added) and all("site-packages" in p or p in needed or "__editable__" in p for p in added)
    assert lines[3] == "y: checked" and all(" count 1 ret 0 " in line for line in lines[4:])
