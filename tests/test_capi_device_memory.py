"""Device memory from C (issues #18 item 2, #19 item 4): a compiled NEFF's loads fill a core until
nrt_load returns NRT_RESOURCE with the runtime's report on stderr; nrt_close frees what the process
held and its old tensor pointers are refused after a new nrt_init; addresses are the allocator's."""

from __future__ import annotations

import shutil

import pytest

from tests.test_capi import flags, run_source  # noqa: F401 - the fixture builds libnrt.so once

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "nrt/nrt.h"

int main(int argc, char **argv) {
    (void)argc;
    FILE *f = fopen(getenv("NEFF_PATH"), "rb");
    static char neff[1 << 16];
    size_t size = fread(neff, 1, sizeof neff, f);
    fclose(f);
    (void)argv;
    nrt_model_t *model = NULL;
    nrt_tensor_t *old = NULL, *t = NULL;
    printf("%d\n", nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", ""));
    for (int i = 0; i < 4; i++)  /* 4 GiB of I/O each on a 16 GiB core */
        printf("%d\n", nrt_load(neff, size, 0, -1, &model));
    printf("%d\n", nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 3ull << 30, "old", &old));
    nrt_close();
    printf("%d\n", nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", ""));
    printf("%d\n", nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 10ull << 30, "new", &t));
    char buf[16] = {0};
    printf("%d\n", nrt_tensor_write(old, buf, 0, sizeof buf));
    nrt_tensor_device_allocation_info_t info;
    int status = nrt_tensor_get_device_allocation_info(t, &info);
    printf("%d %#llx %d\n", status, (unsigned long long)info.physical_address, info.hbm_index);
    nrt_close();
    printf("done\n");
    return 0;
}
"""


def test_loads_fill_a_core_and_nrt_close_frees_it_from_c(flags, tmp_path):  # noqa: F811
    from neuronsim.runtime.neff_file import write_neff

    neff = tmp_path / "io.neff"
    write_neff({"x": ((2**29,), "float32")}, {"y": ((2**29,), "float32")}, mac_count=1, path=neff)
    result = run_source(PROGRAM, "device_memory", tmp_path, flags, NEURONSIM_INSTANCE="inf2.xlarge",
                        NEFF_PATH=str(neff), NEURON_RT_VISIBLE_CORES="0")
    # init; three loads fit, the fourth is NRT_RESOURCE (4); a 3 GiB tensor still fits (15.89 - 12 GiB)
    # after close and a new init: 10 GiB fit again, the old pointer is NRT_INVALID (2), and the new
    # tensor sits after the firmware carve-out and micro-code (112 MiB) on stack 0
    assert result.stdout.split("\n") == ["0", "0", "0", "0", "4", "0", "0", "0", "2", "0 0x7000000 0", "done", ""]
    assert ("TDRV:log_dev_mem Failed to allocate 4.000GB (alignment: none, usage: model io) on ND 0:NC 0"
            in result.stderr)
