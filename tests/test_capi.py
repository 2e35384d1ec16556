"""The C ABI: the example C program, built against neuronsim's headers and libnrt.so, prints what the
same program written against the Python mirror prints; bad arguments get the mirror's statuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from neuronsim.cli import main

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "capi"
pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")


@pytest.fixture(scope="module")
def flags(tmp_path_factory):
    pytest.importorskip("cffi")
    folder = tmp_path_factory.mktemp("capi")
    old = os.environ.get("NEURONSIM_CAPI_DIR")
    os.environ["NEURONSIM_CAPI_DIR"] = str(folder)
    try:
        from neuronsim.capi.build import build, include_dir

        build(folder)
        yield [f"-I{include_dir()}"], ["-L" + str(folder), "-lnrt", f"-Wl,-rpath,{folder}"]
    finally:
        if old is None:
            os.environ.pop("NEURONSIM_CAPI_DIR", None)
        else:
            os.environ["NEURONSIM_CAPI_DIR"] = old


def compile_c(source: Path, out: Path, flags) -> Path:
    cflags, libs = flags
    subprocess.run(["cc", "-Wall", "-Werror", *cflags, str(source), *libs, "-o", str(out)], check=True,
                   capture_output=True, text=True)
    return out


def run_source(text: str, name: str, tmp_path: Path, flags, **env) -> subprocess.CompletedProcess:
    """Write a C program, build it against neuronsim and run it on trn1.2xlarge (or ``env``'s instance);
    it must exit 0."""
    source = tmp_path / f"{name}.c"
    source.write_text(text)
    result = run(compile_c(source, tmp_path / name, flags), **{"NEURONSIM_INSTANCE": "trn1.2xlarge", **env})
    assert result.returncode == 0, result.stderr
    return result


def run(binary: Path, **env) -> subprocess.CompletedProcess:
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("NEURONSIM_", "NEURON_RT_"))}
    variables.update(env)
    return subprocess.run([str(binary)], capture_output=True, text=True, timeout=120, env=variables)


def declared_functions(folders: list[Path]) -> set[str]:
    """Every function the headers under ``folders`` declare (the first folder's copy of a header wins), read
    with a regular expression of its own (not the library builder's parser)."""
    import re

    texts = {}
    for folder in folders:
        for header in folder.rglob("*.h"):
            texts.setdefault(header.relative_to(folder), header.read_text())
    names = set()
    for text in texts.values():
        text = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
        names |= set(re.findall(r"^[A-Za-z_][\w \*]*?\b((?:nrt|nrta|neuronsim)\w*)\s*\(", text, flags=re.M))
    return names


def exported_symbols(library: Path) -> set[str]:
    out = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.split()[-2:-1] == ["T"]}


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs nm")
def test_every_function_the_headers_declare_is_exported(flags, tmp_path):
    from neuronsim.capi.build import build, exported, include_dirs

    folder = Path(flags[1][0][2:])
    declared = declared_functions(include_dirs("3.0"))
    assert {"nrt_tensor_get_va", "nrt_profile_start", "nrt_sys_trace_fetch_events", "nrt_async_sendrecv_init",
            "nrt_get_version", "nrt_get_dmabuf_fd", "nrt_set_pool_eng_ucode"} <= declared and len(declared) > 120
    symbols = exported_symbols(folder / "libnrt.so")
    assert declared <= symbols, sorted(declared - symbols)
    assert set(exported("3.0")) == declared
    old = build(tmp_path / "lib228", api="2.28").parent
    declared_228 = declared_functions(include_dirs("2.28"))
    assert "nrta_error_tracker_create" in declared_228 and "nrta_event_register_xu_completion" not in declared_228
    assert declared_228 <= exported_symbols(old / "libnrt.so")


def test_the_how_to_lists_every_exported_function_and_what_it_does():
    """An entry point is simulated when some module of ``neuronsim.capi`` defines it (the bridge and the
    modules it installs from, e.g. ``tracing_entry_points``); the how-to says which are."""
    import neuronsim.capi
    from neuronsim.capi.build import exported

    page = (ROOT / "docs" / "howto" / "link-c-code.md").read_text()
    rows = {line.split("`")[1]: line.rsplit("|", 2)[1].strip() for line in page.splitlines()
            if line.startswith("| `")}
    assert set(rows) == set(exported("3.0")) | set(exported("2.28"))
    package = Path(neuronsim.capi.__file__).parent
    modules = sorted(package.rglob("*.py"))
    assert {"bridge.py", "tracing_entry_points.py"} <= {m.name for m in modules}
    source = "\n".join(module.read_text() for module in modules)
    for name, what in rows.items():
        simulated = f"def {name}(" in source
        assert what.startswith("simulated") == simulated, (name, what)
        assert simulated or what.endswith("(not supported)"), (name, what)


def test_the_library_is_libnrt_so_1_with_libnrt_so_beside_it(flags):
    folder = Path(flags[1][0][2:])
    assert (folder / "libnrt.so").is_symlink() and os.readlink(folder / "libnrt.so") == "libnrt.so.1"
    dynamic = subprocess.run(["objdump", "-p", str(folder / "libnrt.so.1")], capture_output=True, text=True).stdout
    assert "SONAME               libnrt.so.1" in dynamic


def test_capi_config_prints_the_flags(flags, capsys):
    assert main(["capi-config", "--cflags"]) == 0
    include = capsys.readouterr().out.strip()
    assert include.startswith("-I") and (Path(include[2:]) / "nrt" / "nrt_async.h").is_file()
    assert main(["capi-config", "--libs"]) == 0
    libs = capsys.readouterr().out.split()
    folder = Path(libs[0][2:])
    assert libs[1] == "-lnrt" and (folder / "libnrt.so").is_file() and folder.name == "3.0"
    assert main(["capi-config", "--cflags", "--api", "2.28"]) == 0
    first = capsys.readouterr().out.split()[0]
    assert (Path(first[2:]) / "nrt" / "nrt_async.h").read_text().count("nrta_error_tracker_create") == 1


def test_the_c_example_matches_its_python_twin(flags, tmp_path):
    binary = compile_c(EXAMPLE / "scheduler.c", tmp_path / "scheduler", flags)
    result = run(binary, NEURONSIM_INSTANCE="trn1.2xlarge", NEURONSIM_SEED="0")
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, str(EXAMPLE))
    try:
        os.environ["NEURONSIM_INSTANCE"] = "trn1.2xlarge"
        import scheduler_twin

        expected = scheduler_twin.main()
    finally:
        sys.path.remove(str(EXAMPLE))
        os.environ.pop("NEURONSIM_INSTANCE", None)
    lines = result.stdout.splitlines()
    assert lines == expected
    # what the lines say: the round trip's bytes, queue-full retries, the eventfd wait, the bad arguments
    assert "read seq=0x2 ret=NRT_SUCCESS bytes equal t=2015200" in lines
    assert "queue-full retries: 12" in lines and "execute 19: NRT_SUCCESS seq=0x1000000000014 t=3219200" in lines
    assert "eventfd read 8 bytes, count 1 t=4017200" in lines  # 20 executions of 100 us after the first started
    assert [line.split(":")[1].split()[0] for line in lines if line.startswith(("write to", "write on", "unknown"))] \
        == ["NRT_INVALID", "NRT_INVALID", "NRT_FAILURE"]


BAD = r"""
#include <stdio.h>
#include <stdbool.h>
#include "nrt/nrt.h"
#include "nrt/nrt_async.h"
int main(void) {
    printf("%d\n", nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, NULL, NULL));
    printf("%d\n", nrt_load(NULL, 0, 0, -1, NULL));
    printf("%d\n", nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 64, "t", NULL));
    nrt_tensor_t *t = NULL;
    printf("%d\n", nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 7, 64, "t", &t));
    printf("%d\n", nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 64, NULL, &t));
    printf("%d\n", nrta_tensor_read(NULL, t, 0, 64, 0, 0, NULL, NULL));
    printf("%d\n", nrta_is_completed(1, NULL));
    printf("%d\n", nrta_get_sequence(0, (nrta_xu_t)9, 0, NULL));
    printf("%d\n", nrta_cc_prepare(NULL, NULL, NULL, NRT_DTYPE_FLOAT32, NRT_OP_ADD, NRT_CC_ALLREDUCE, NULL));
    printf("%d\n", nrta_cc_schedule(NULL, 0, NULL, NULL));
    printf("%d\n", nrta_event_register_seq_id_completion(1, -5));
    printf("%d\n", nrt_add_tensor_to_tensor_set(NULL, "x", t));
    printf("%zu\n", nrt_tensor_get_size((nrt_tensor_t *)0x1234));
    nrt_tensor_free(NULL);
    nrt_destroy_tensor_set(NULL);
    nrt_close();
    printf("%d\n", nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 64, "t", &t));
    printf("done\n");
    return 0;
}
"""


def test_bad_arguments_from_c_get_the_mirrors_statuses(flags, tmp_path):
    from neuronsim import Simulator
    from neuronsim.nrt import Ref, nrta_xu_t

    result = run_source(BAD, "bad", tmp_path, flags)
    rt = Simulator("trn1.2xlarge").runtime()
    t = Ref()
    expected = [rt.nrt_init(1, None, None), rt.nrt_load(None, 0, -1, None),
                rt.nrt_tensor_allocate(0, 0, 64, "t", None), rt.nrt_tensor_allocate(0, 7, 64, "t", t),
                rt.nrt_tensor_allocate(0, 0, 64, "", t), rt.nrta_tensor_read(None, t.value, 0, 64, 0, 0, None, None),
                rt.nrta_is_completed(1, None), rt.nrta_get_sequence(0, 9, 0, None),
                rt.nrta_cc_prepare(None, None, None, 10, 0, 1, None), rt.nrta_cc_schedule(None, 0, None, None),
                rt.nrta_event_register_seq_id_completion(1, -5), rt.nrt_add_tensor_to_tensor_set(None, "x", t.value)]
    assert nrta_xu_t.NRTA_XU_TYPE_NUM < 9
    rt.nrt_close()
    after_close = rt.nrt_tensor_allocate(0, 0, 64, "t", t)
    assert result.stdout.split() == [str(int(s)) for s in expected] + ["0", str(int(after_close)), "done"]
    assert int(expected[1]) == 2 and int(after_close) == 14  # NRT_INVALID; NRT_CLOSED after nrt_close


NULLS = r"""
#include <stdio.h>
#include "nrt/nrt.h"
#include "nrt/nrt_async.h"
int main(void) {
    nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, NULL, NULL);
    nrt_tensor_set_t *set = NULL;
    nrt_allocate_tensor_set(&set);
    printf("%d\n", nrt_get_visible_nc_count(NULL));
    printf("%d\n", nrt_allocate_tensor_set(NULL));
    printf("%d\n", nrt_get_tensor_from_tensor_set(set, "x", NULL));
    nrt_instance_info_t info;
    printf("%d\n", nrt_get_instance_info(&info, 3));
    printf("%d\n", nrt_tensor_write((nrt_tensor_t *)0xdeadbeef, &info, 0, 1));
    nrt_tensor_t *never = NULL;
    nrt_tensor_free(&never);             /* cleanup of a tensor never allocated: a no-op, as free(NULL) */
    nrt_destroy_tensor_set(&set);
    nrt_destroy_tensor_set(&set);        /* already destroyed: set is NULL now */
    nrt_close();
    printf("done\n");
    return 0;
}
"""


def test_null_out_parameters_and_stray_handles_from_c_say_which_in_the_log(flags, tmp_path):
    """A NULL out-parameter is NRT_INVALID with the runtime's ERROR line naming it (it had none); a pointer the
    library never handed out is shown by its address, not called NULL; freeing NULL logs nothing (A136)."""
    result = run_source(NULLS, "nulls", tmp_path, flags)
    assert result.stdout.split() == ["2", "2", "2", "2", "2", "done"]
    lines = [line.split("ERROR  ", 1)[1] for line in result.stderr.splitlines() if "ERROR  " in line]
    assert lines == [
        "NRT:nrt_get_visible_nc_count: vnc_count is NULL -> NRT_INVALID",
        "NRT:nrt_allocate_tensor_set: result is NULL -> NRT_INVALID",
        "NRT:nrt_get_tensor_from_tensor_set: tensor is NULL -> NRT_INVALID",
        "NRT:nrt_get_instance_info: instance_info_len 3 is less than sizeof(nrt_instance_info_t), 32 -> NRT_INVALID",
        "NRT:nrt_tensor_write: tensor is 0xdeadbeef (a handle this process never gave out), not an nrt_tensor_t "
        "-> NRT_INVALID",
    ], result.stderr


def test_trace_and_runtime_variables(flags, tmp_path):
    from neuronsim import Simulator

    binary = compile_c(EXAMPLE / "scheduler.c", tmp_path / "scheduler", flags)
    trace = tmp_path / "trace.json"
    result = run(binary, NEURONSIM_INSTANCE="trn1.2xlarge", NEURONSIM_TRACE=str(trace))
    assert result.returncode == 0, result.stderr
    events = json.loads(trace.read_text())["traceEvents"]
    from neuronsim.trace.check import flow_problems

    assert flow_problems({"traceEvents": events}) == []  # every arrow binds to a slice, as Perfetto binds it
    assert sum(1 for e in events if e["ph"] == "s") >= 20  # at least the 20 executions' arrows
    names = [e["name"] for e in events if e["ph"] == "X"]
    assert sum(1 for n in names if n.startswith("execute scale.neff")) == 20
    # the runtime's own variables are read at nrt_init, as the real runtime reads them
    refused = run(binary, NEURONSIM_INSTANCE="trn1.2xlarge", NEURON_RT_VISIBLE_CORES="0-5")
    status = Simulator("trn1.2xlarge").runtime({"NEURON_RT_VISIBLE_CORES": "0-5"}).nrt_init(1, "", "")
    assert status != 0
    assert refused.stdout.splitlines()[0].startswith(f"nrt_init: {status.name} ")


GEN1 = r"""
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "nrt/nrt.h"
#include "nrt/nrt_async.h"
#include "nrt/neuronsim.h"

static const char NEFF[] = "{inputs: {x: 4 KiB}, outputs: {y: 4 KiB}, cost: {duration: 50 us}}";

int main(void) {
    nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "");
    nrt_model_t *model = NULL;
    nrt_tensor_t *x = NULL, *y = NULL;
    nrt_tensor_set_t *in = NULL, *out = NULL;
    nrt_load(NEFF, sizeof NEFF - 1, 0, -1, &model);
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "x", &x);
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "y", &y);
    nrt_allocate_tensor_set(&in);
    nrt_allocate_tensor_set(&out);
    nrt_add_tensor_to_tensor_set(in, "x", x);
    nrt_add_tensor_to_tensor_set(out, "y", y);
    nrta_error_tracker_t *tracker = NULL;
    printf("tracker %d\n", nrta_error_tracker_create(0, &tracker));
    char data[4096], back[4096];
    for (int i = 0; i < 4096; i++) data[i] = (char)(i * 7);
    nrta_seq_t seq = 0;
    NRT_STATUS s = nrta_tensor_write(x, data, 0, 4096, 0, tracker, &seq);
    printf("write %d seq=0x%" PRIx64 "\n", s, seq);
    int fd = -1;
    printf("handle %d\n", nrta_get_completion_handle(seq, &fd));
    struct pollfd p = {fd, POLLIN, 0};
    int ready = poll(&p, 1, -1);
    printf("poll %d revents %d t=%" PRIu64 "\n", ready, (p.revents & POLLIN) != 0, neuronsim_now_ns());
    close(fd);
    s = nrta_tensor_read(back, x, 0, 4096, 0, tracker, &seq);
    printf("read %d seq=0x%" PRIx64 "\n", s, seq);
    nrta_seq_t last = 0;
    for (int i = 0; i < 3; i++) {
        s = nrta_execute_schedule(model, in, out, 0, tracker, &last);
        printf("execute %d seq=0x%" PRIx64 "\n", s, last);
    }
    printf("handle %d\n", nrta_get_completion_handle(last, &fd));
    p.fd = fd;
    ready = poll(&p, 1, -1);
    printf("poll %d t=%" PRIu64 "\n", ready, neuronsim_now_ns());
    close(fd);
    printf("bytes %s\n", memcmp(data, back, sizeof data) == 0 ? "equal" : "DIFFER");
    const nrta_error_t *errors = NULL;
    size_t count = 0;
    s = nrta_error_tracker_get_list(tracker, &errors, &count);
    printf("get_list %d count %zu\n", s, count);
    for (size_t i = 0; i < count; i++)
        printf("error seq=0x%" PRIx64 " code=%" PRIu64 "\n", errors[i].seq_id, errors[i].error_code);
    s = nrta_error_tracker_get_list(tracker, &errors, &count);
    printf("get_list again %d count %zu\n", s, count);
    printf("bad tracker %d\n", nrta_tensor_write(x, data, 0, 16, 0, (nrta_error_tracker_t *)x, &seq));
    nrta_error_tracker_destroy(tracker);
    nrt_close();
    return 0;
}
"""


def gen1_twin(faults) -> list[str]:
    from neuronsim import Simulator
    from neuronsim.capi.bridge import neff_from_bytes
    from neuronsim.nrt import Ref

    sim = Simulator("trn1.2xlarge", faults=faults)
    rt = sim.runtime(api="2.28")
    lines = []
    rt.nrt_init(1, "", "")
    model, x, y, ins, outs, tracker = Ref(), Ref(), Ref(), Ref(), Ref(), Ref()
    rt.nrt_load(neff_from_bytes(b"{inputs: {x: 4 KiB}, outputs: {y: 4 KiB}, cost: {duration: 50 us}}"), 0, -1, model)
    rt.nrt_tensor_allocate(0, 0, 4096, "x", x)
    rt.nrt_tensor_allocate(0, 0, 4096, "y", y)
    rt.nrt_allocate_tensor_set(ins)
    rt.nrt_allocate_tensor_set(outs)
    rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
    lines.append(f"tracker {int(rt.nrta_error_tracker_create(0, tracker))}")
    data = bytes((i * 7) & 0xFF for i in range(4096))
    back = bytearray(4096)
    seq = Ref(0)
    lines.append(f"write {int(rt.nrta_tensor_write(x.value, data, 0, 4096, 0, tracker.value, seq))} seq=0x{seq.value:x}")
    handle = Ref()
    lines.append(f"handle {int(rt.nrta_get_completion_handle(seq.value, handle))}")
    handle.value.poll(None)
    lines.append(f"poll 1 revents 1 t={sim.now_ns}")
    lines.append(f"read {int(rt.nrta_tensor_read(back, x.value, 0, 4096, 0, tracker.value, seq))} seq=0x{seq.value:x}")
    last = Ref(0)
    for _ in range(3):
        lines.append(f"execute {int(rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, tracker.value, last))}"
                     f" seq=0x{last.value:x}")
    lines.append(f"handle {int(rt.nrta_get_completion_handle(last.value, handle))}")
    handle.value.poll(None)
    lines.append(f"poll 1 t={sim.now_ns}")
    lines.append(f"bytes {'equal' if bytes(back) == data else 'DIFFER'}")
    errors, count = Ref(), Ref()
    lines.append(f"get_list {int(rt.nrta_error_tracker_get_list(tracker.value, errors, count))} count {count.value}")
    lines += [f"error seq=0x{e.seq_id:x} code={e.error_code}" for e in errors.value]
    lines.append(f"get_list again {int(rt.nrta_error_tracker_get_list(tracker.value, errors, count))} count {count.value}")
    lines.append(f"bad tracker {int(rt.nrta_tensor_write(x.value, data, 0, 16, 0, x.value, seq))}")
    return lines


def test_the_2_28_generation_from_c(tmp_path):
    pytest.importorskip("cffi")
    from neuronsim.capi.build import build, include_dirs

    folder = build(tmp_path / "lib228", api="2.28").parent
    source = tmp_path / "gen1.c"
    source.write_text(GEN1)
    cflags = [f"-I{p}" for p in include_dirs("2.28")]
    binary = compile_c(source, tmp_path / "gen1", (cflags, [f"-L{folder}", "-lnrt", f"-Wl,-rpath,{folder}"]))
    plan = tmp_path / "faults.yaml"
    plan.write_text("- {target: xu, core: 0, xu: compute, nth: 2, status: NRT_EXEC_BAD_INPUT}\n")
    result = run(binary, NEURONSIM_INSTANCE="trn1.2xlarge", NEURONSIM_FAULTS=str(plan))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == gen1_twin(str(plan))
    assert "write 0 seq=0x1000000000001" in lines  # Gen-1: the TENSOR_WRITE unit (type 1) of core 0
    assert "error seq=0x3000000000002 code=1002" in lines and "get_list again 0 count 0" in lines


MORE = r"""
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "nrt/nrt.h"
#include "nrt/nrt_experimental.h"
#include "nrt/neuronsim.h"

static const char NEFF[] = "name: mlp\ninputs: {x: {shape: [2, 8], dtype: float32}}\n"
                           "outputs: {y: {shape: [2, 4], dtype: bfloat16}}\ncost: {duration: 200 us}\n";
static int calls = 0;
static uint64_t last_job = 0;

static void on_done(void *params, uint32_t model_id, uint32_t vnc, uint64_t job_id, NRT_STATUS status) {
    calls += 1;
    last_job = job_id;
    *(int *)params += status == NRT_SUCCESS;
    printf("callback job %" PRIu64 " vnc %u status %d t=%" PRIu64 "\n", job_id, vnc, status, neuronsim_now_ns());
}

int main(void) {
    nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "");
    nrt_model_t *model = NULL;
    nrt_load(NEFF, sizeof NEFF - 1, 0, -1, &model);
    nrt_tensor_info_array_t *info = NULL;
    printf("tensor info %d\n", nrt_get_model_tensor_info(model, &info));
    for (uint64_t i = 0; i < info->tensor_count; i++) {
        nrt_tensor_info_t *t = &info->tensor_array[i];
        printf("  %s usage %d size %zu dtype %d ndim %u shape %u x %u\n", t->name, t->usage, t->size, t->dtype,
               t->ndim, t->shape[0], t->shape[1]);
    }
    printf("free info %d\n", nrt_free_model_tensor_info(info));
    nrt_tensor_t *x = NULL, *y = NULL;
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 64, "x", &x);
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "y", &y);
    unsigned char a[32], b[32], back_a[32], back_b[32];
    for (int i = 0; i < 32; i++) { a[i] = (unsigned char)i; b[i] = (unsigned char)(200 - i); }
    nrt_tensor_batch_op_t wops[2] = {{0, 32, a}, {32, 32, b}};
    nrt_tensor_batch_op_t rops[2] = {{0, 32, back_a}, {32, 32, back_b}};
    nrt_tensor_batch_t wbatch = {x, wops, 2}, rbatch = {x, rops, 2};
    printf("write batch %d\n", nrt_tensor_write_batch(&wbatch, 1, false));
    printf("read batch %d\n", nrt_tensor_read_batch(&rbatch, 1, false));
    printf("batch bytes %s\n", memcmp(a, back_a, 32) == 0 && memcmp(b, back_b, 32) == 0 ? "equal" : "DIFFER");
    nrt_tensor_set_t *in = NULL, *out = NULL;
    nrt_allocate_tensor_set(&in);
    nrt_allocate_tensor_set(&out);
    nrt_add_tensor_to_tensor_set(in, "x", x);
    nrt_add_tensor_to_tensor_set(out, "y", y);
    int ok = 0;
    printf("register %d\n", nrt_register_async_exec_callback(on_done, &ok));
    for (int i = 0; i < 6; i++) {
        NRT_STATUS s;
        while ((s = nrt_execute(model, in, out)) == NRT_QUEUE_FULL) nrt_async_drain_queued_execs(0);
        printf("nrt_execute %d: %d t=%" PRIu64 "\n", i, s, neuronsim_now_ns());
    }
    printf("drain %d t=%" PRIu64 "\n", nrt_async_drain_queued_execs(0), neuronsim_now_ns());
    printf("callbacks %d ok %d last job %" PRIu64 "\n", calls, ok, last_job);
    nrt_close();
    return 0;
}
"""


def test_implicit_async_callbacks_batches_and_tensor_info_from_c(flags, tmp_path):
    result = run_source(MORE, "more", tmp_path, flags, NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS="4")
    lines = result.stdout.splitlines()
    assert lines[:4] == ["tensor info 0", "  x usage 0 size 64 dtype 10 ndim 2 shape 2 x 8",
                         "  y usage 1 size 16 dtype 6 ndim 2 shape 2 x 4", "free info 0"]
    assert "batch bytes equal" in lines and "register 0" in lines
    assert "callbacks 6 ok 6 last job 6" in lines
    executes = [line for line in lines if line.startswith("nrt_execute")]
    assert [line.split(":")[1].split()[0] for line in executes] == ["0"] * 6
    callbacks = [line for line in lines if line.startswith("callback job")]
    assert [int(line.split()[2]) for line in callbacks] == [1, 2, 3, 4, 5, 6]
    times = [int(line.rsplit("t=", 1)[1]) for line in callbacks]
    # four back to back; the fifth call found the queue full (4 in flight), drained it, and its 2 us
    # schedule cost came after the fourth finished
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [200_000] * 3 + [202_000, 200_000]


COLLECTIVES = r"""
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include "nrt/nrt.h"
#include "nrt/nrt_async.h"
#include "nrt/neuronsim.h"

static const char NEFF[] = "name: tp\ninputs: {x: {shape: [4], dtype: float32}}\n"
                           "outputs: {y: {shape: [4], dtype: float32}, g: {shape: [8], dtype: float32}}\n"
                           "cost: {duration: 50 us}\n"
                           "collectives:\n- {operation: allreduce, input: x, output: y, reduce: max}\n"
                           "- {operation: allgather, input: y, output: g}\n";
static const char BAD[] = "inputs: {x: {shape: [4], dtype: float32}}\noutputs: {y: {shape: [4], dtype: float32}}\n"
                          "cost: {duration: 1 us}\ncollectives: [{operation: allreduce, input: nope}]\n";

int main(void) {
    nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "");
    nrt_model_t *bad = NULL;
    printf("bad collective %d\n", nrt_load_collectives(BAD, sizeof BAD - 1, 0, -1, 0, 2, &bad));
    printf("wrong rank count %d\n", nrt_load_collectives(NEFF, sizeof NEFF - 1, 0, -1, 0, 4, &bad));
    nrt_tensor_t *g[2];
    nrta_seq_t seqs[2];
    NRT_STATUS rets[2];
    for (int r = 0; r < 2; r++) {
        nrt_model_t *model = NULL;
        printf("load rank %d: %d\n", r, nrt_load_collectives(NEFF, sizeof NEFF - 1, r, -1, r, 2, &model));
        nrt_tensor_t *x = NULL, *y = NULL;
        nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, r, 16, "x", &x);
        nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, r, 16, "y", &y);
        nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, r, 32, "g", &g[r]);
        float values[4] = {r + 1.0f, -r, 10.0f * r, 3.0f};
        nrt_tensor_write(x, values, 0, sizeof values);
        nrt_tensor_set_t *in = NULL, *out = NULL;
        nrt_allocate_tensor_set(&in);
        nrt_allocate_tensor_set(&out);
        nrt_add_tensor_to_tensor_set(in, "x", x);
        nrt_add_tensor_to_tensor_set(out, "y", y);
        nrt_add_tensor_to_tensor_set(out, "g", g[r]);
        printf("schedule rank %d: %d\n", r, nrta_execute_schedule(model, in, out, 0, &rets[r], &seqs[r]));
    }
    for (int r = 0; r < 2; r++) {
        bool done = false;
        while (nrta_is_completed(seqs[r], &done) == NRT_SUCCESS && !done) {
        }
        float back[8];
        nrt_tensor_read(g[r], back, 0, sizeof back);
        printf("rank %d: %d g =", r, rets[r]);
        for (int i = 0; i < 8; i++) printf(" %g", back[i]);
        printf("\n");
    }
    nrt_close();
    return 0;
}
"""


def test_nrt_load_collectives_from_c_runs_the_neffs_collectives_on_its_tensors(flags, tmp_path):
    result = run_source(COLLECTIVES, "tp", tmp_path, flags)
    assert result.stdout.splitlines() == [
        "bad collective 2", "wrong rank count 2",  # NRT_INVALID: no tensor 'nope'; g holds 2 ranks' y, not 4
        "load rank 0: 0", "schedule rank 0: 0", "load rank 1: 0", "schedule rank 1: 0",
        "rank 0: 0 g = 2 0 10 3 2 0 10 3", "rank 1: 0 g = 2 0 10 3 2 0 10 3"]
    assert "nrt_load_collectives: not a NEFF description" in result.stderr and "'nope'" in result.stderr


TRACES = r"""
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nrt/nrt.h"
#include "nrt/nrt_experimental.h"
#include "nrt/nrt_profile.h"
#include "nrt/nrt_sys_trace.h"
#include "nrt/nrt_async_sendrecv.h"
#include "nrt/neuronsim.h"

static const char NEFF[] = "name: step\ninputs: {x: 1 KiB}\noutputs: {y: 1 KiB}\ncost: {duration: 40 us}\n";

int main(int argc, char **argv) {
    nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "");
    nrt_model_t *model = NULL;
    nrt_load(NEFF, sizeof NEFF - 1, 1, -1, &model);
    nrt_tensor_t *x = NULL, *y = NULL;
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 1, 1024, "x", &x);
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 1, 1024, "y", &y);
    nrt_tensor_set_t *in = NULL, *out = NULL;
    nrt_allocate_tensor_set(&in);
    nrt_allocate_tensor_set(&out);
    nrt_add_tensor_to_tensor_set(in, "x", x);
    nrt_add_tensor_to_tensor_set(out, "y", y);
    /* device memory through its address */
    unsigned char *va = nrt_tensor_get_va(x);
    char text[] = "written through nrt_memcpy_to_device";
    printf("memcpy %d\n", nrt_memcpy_to_device(va + 10, text, sizeof text));
    char back[sizeof text];
    nrt_tensor_read(x, back, 10, sizeof back);
    printf("read back: %s\n", back);
    printf("memcpy elsewhere %d\n", nrt_memcpy_to_device(back, text, sizeof text));
    /* a system trace of core 1 and a profile of the model */
    nrt_sys_trace_config_t *config = NULL;
    printf("config %d\n", nrt_sys_trace_config_allocate(&config));
    nrt_sys_trace_config_set_capture_enabled_for_nc(config, 1, true);
    printf("start %d\n", nrt_sys_trace_start(config));
    nrt_sys_trace_config_free(config);
    printf("profile %d\n", nrt_profile_start(model, argv[1]));
    for (int i = 0; i < 3; i++) nrt_execute(model, in, out);
    printf("profile stop %d\n", nrt_profile_stop(argv[1]));
    nrt_sys_trace_fetch_options_t *options = NULL;
    nrt_sys_trace_fetch_options_allocate(&options);
    nrt_sys_trace_fetch_options_set_nc_idx(options, 1);
    char *events = NULL;
    size_t written = 0;
    printf("fetch %d\n", nrt_sys_trace_fetch_events(&events, &written, options));
    printf("%s\n", events);
    nrt_sys_trace_buffer_free(events);
    printf("fetch again %d\n", nrt_sys_trace_fetch_events(&events, &written, options));
    printf("%s\n", events);
    nrt_sys_trace_buffer_free(events);
    nrt_sys_trace_fetch_options_free(options);
    printf("stop %d\n", nrt_sys_trace_stop());
    /* declared, not simulated: exported, a status, a log line once */
    int num = -7;
    printf("sendrecv %d %d\n", nrt_async_sendrecv_get_max_num_pending_request(&num), num);
    printf("sendrecv again %d\n", nrt_async_sendrecv_init(0));
    printf("dmabuf %d\n", nrt_get_dmabuf_fd(0, 0, &num));
    printf("barrier %d %d\n", nrt_barrier(0, 0, 1), nrt_barrier(0, 0, 2));
    nrt_close();
    return 0;
}
"""


def test_device_addresses_profiles_system_traces_and_unsimulated_calls_from_c(flags, tmp_path):
    source = tmp_path / "traces.c"
    source.write_text(TRACES)
    binary = compile_c(source, tmp_path / "traces", flags)
    profile = tmp_path / "profile.json"
    result = subprocess.run([str(binary), str(profile)], capture_output=True, text=True, timeout=120,
                            env={**{k: v for k, v in os.environ.items() if not k.startswith("NEURON")},
                                 "NEURONSIM_INSTANCE": "trn1.2xlarge"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:8] == ["memcpy 0", "read back: written through nrt_memcpy_to_device", "memcpy elsewhere 2",
                         "config 0", "start 0", "profile 0", "profile stop 0", "fetch 0"]
    events = json.loads(lines[8])["events"]
    assert [(e["event_type"], e["phase"], e["tracking_id"], e["nc_idx"]) for e in events] == [
        ("nc_exec_running", phase, k, 1) for k in (1, 2, 3) for phase in ("start", "stop")]
    durations = [b["data"]["nc_timestamp_ns"] - a["data"]["nc_timestamp_ns"] for a, b in
                 zip(events[::2], events[1::2], strict=True)]
    assert durations == [40_000] * 3  # the description's 40 us, in simulated nanoseconds
    assert lines[9:11] == ["fetch again 0", '{"events": []}']  # a fetch drains
    assert lines[11:] == ["stop 0", "sendrecv 1 -7", "sendrecv again 1", "dmabuf 1", "barrier 0 1"]
    trace = json.loads(profile.read_text())["traceEvents"]
    assert [(e["name"], e["dur"]) for e in trace] == [("execute step.neff", 40.0)] * 3
    for name in ("nrt_async_sendrecv_get_max_num_pending_request", "nrt_async_sendrecv_init", "nrt_get_dmabuf_fd",
                 "nrt_barrier"):
        assert result.stderr.count(f"NRT: {name} is not simulated by neuronsim") == 1
