"""Real time a client spends per eventfd wait on libnrt: a blocking read the library interposes (linked)
against waits only the library's watcher thread sees (epoll_wait; libc's read under dlopen(RTLD_LOCAL)).
Each request is one execution (2e9 MACs: about 44 us on a trn1 core) of a NEFF file neuronsim's writer made; simulated times are equal
in all three (printed), real times differ by how each wait is noticed.

    python benchmarks/bench_eventfd_waits.py [REQUESTS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neuronsim.capi.build import install_prefix
from neuronsim.runtime.neff_file import write_neff

PROGRAM = r"""
#include <dlfcn.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <nrt/nrt.h>
#include <nrt/nrt_async.h>

#define SYM(name) typeof(&name) p_##name = (typeof(&name))dlsym(lib, #name)

int main(int argc, char **argv) {
    int requests = atoi(argv[1]), mode = atoi(argv[2]); /* 0 read, 1 epoll (both linked), 2 read (RTLD_LOCAL) */
    void *lib = dlopen(getenv("LIBNRT"), RTLD_NOW | (mode == 2 ? RTLD_LOCAL : RTLD_GLOBAL));
    SYM(nrt_init); SYM(nrt_load); SYM(nrt_tensor_allocate); SYM(nrt_allocate_tensor_set);
    SYM(nrt_add_tensor_to_tensor_set); SYM(nrta_execute_schedule); SYM(nrta_event_register_seq_id_completion);
    uint64_t (*now)(void) = (uint64_t (*)(void))dlsym(lib, "neuronsim_now_ns");
    p_nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "");
    FILE *f = fopen(getenv("NEFF"), "rb");
    static char neff[1 << 16];
    size_t size = fread(neff, 1, sizeof neff, f);
    fclose(f);
    nrt_model_t *model = NULL;
    p_nrt_load(neff, size, 0, -1, &model);
    nrt_tensor_t *x = NULL, *y = NULL;
    p_nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 1024, "x", &x);
    p_nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 1024, "y", &y);
    nrt_tensor_set_t *in = NULL, *out = NULL;
    p_nrt_allocate_tensor_set(&in);
    p_nrt_allocate_tensor_set(&out);
    p_nrt_add_tensor_to_tensor_set(in, "x", x);
    p_nrt_add_tensor_to_tensor_set(out, "y", y);
    for (int i = 0; i < requests; i++) {
        NRT_STATUS ret;
        nrta_seq_t seq;
        p_nrta_execute_schedule(model, in, out, 0, &ret, &seq);
        int fd = eventfd(0, 0);
        p_nrta_event_register_seq_id_completion(seq, fd);
        uint64_t count;
        if (mode == 1) {
            int ep = epoll_create1(0);
            struct epoll_event want = {.events = EPOLLIN, .data.fd = fd}, got;
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &want);
            epoll_wait(ep, &got, 1, -1);
            close(ep);
        }
        if (read(fd, &count, sizeof count) != sizeof count) return 1;
        close(fd);
    }
    printf("%" PRIu64 "\n", now());
    return 0;
}
"""


def main(requests: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        root = install_prefix(Path(work) / "neuron")
        neff = Path(work) / "step.neff"
        write_neff({"x": ((256,), "float32")}, {"y": ((256,), "float32")}, name="step.neff", mac_count=2_000_000_000,
                   traffic=1024, path=neff)
        source = Path(work) / "waits.c"
        source.write_text(PROGRAM)
        binary = Path(work) / "waits"
        subprocess.run(["cc", f"-I{root / 'include'}", str(source), "-ldl", "-o", str(binary)], check=True)
        linked = Path(work) / "waits_linked"  # libnrt a dependency of the program: its read is interposed
        subprocess.run(["cc", f"-I{root / 'include'}", str(source), "-Wl,--no-as-needed", f"-L{root / 'lib'}", "-lnrt",
                        f"-Wl,-rpath,{root / 'lib'}", "-ldl", "-o", str(linked)], check=True)
        env = dict(os.environ, LIBNRT=str(root / "lib" / "libnrt.so.1"), NEFF=str(neff),
                   NEURONSIM_INSTANCE="trn1.2xlarge")
        print(f"{requests} requests, one eventfd wait each")
        print(f"{'wait':<32} {'real ms/wait':>12} {'simulated end ns':>17}")
        for program, mode, label in ((linked, 0, "read, linked (interposed)"), (linked, 1, "epoll_wait, linked (watcher)"),
                                     (binary, 2, "read under RTLD_LOCAL (watcher)")):
            subprocess.run([str(program), "1", str(mode)], env=env, check=True, capture_output=True)  # warm caches
            times = []
            for count in (requests // 10, requests):  # the difference leaves out start-up
                start = time.perf_counter()
                done = subprocess.run([str(program), str(count), str(mode)], env=env, check=True,
                                      capture_output=True, text=True)
                times.append(time.perf_counter() - start)
            per = (times[1] - times[0]) / (requests - requests // 10) * 1000
            print(f"{label:<32} {per:>12.3f} {done.stdout.strip():>17}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
