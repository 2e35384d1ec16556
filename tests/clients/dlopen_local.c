/* A client that loads libnrt at run time with dlopen(RTLD_LOCAL), as Rust's libloading and libfabric do:
   its own read() is libc's (the library cannot interpose it), so a blocking read of a registered eventfd
   is seen by the library's watcher. Loads a NEFF file, executes it, waits on an eventfd. */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <nrt/nrt.h>
#include <nrt/nrt_async.h>

#define SYM(name) typeof(&name) p_##name = (typeof(&name))dlsym(lib, #name)

int main(void) {
    void *lib = dlopen(getenv("LIBNRT"), RTLD_NOW | RTLD_LOCAL);
    if (!lib) { printf("dlopen: %s\n", dlerror()); return 1; }
    printf("global nrt_init visible: %s\n", dlsym(RTLD_DEFAULT, "nrt_init") ? "yes" : "no");
    SYM(nrt_init); SYM(nrt_load); SYM(nrt_tensor_allocate); SYM(nrt_allocate_tensor_set);
    SYM(nrt_add_tensor_to_tensor_set); SYM(nrta_execute_schedule); SYM(nrta_event_register_seq_id_completion);
    SYM(nrt_tensor_write); SYM(nrt_tensor_read); SYM(nrt_close);
    uint64_t (*now)(void) = (uint64_t (*)(void))dlsym(lib, "neuronsim_now_ns");
    printf("init %d\n", p_nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", ""));
    FILE *f = fopen(getenv("NEFF"), "rb");
    static char neff[1 << 20];
    size_t size = fread(neff, 1, sizeof neff, f);
    fclose(f);
    nrt_model_t *model = NULL;
    printf("load %d\n", p_nrt_load(neff, size, 0, -1, &model));
    nrt_tensor_t *x = NULL, *y = NULL;
    p_nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 1024, "x", &x);
    p_nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 1024, "y", &y);
    nrt_tensor_set_t *in = NULL, *out = NULL;
    p_nrt_allocate_tensor_set(&in);
    p_nrt_allocate_tensor_set(&out);
    p_nrt_add_tensor_to_tensor_set(in, "x", x);
    p_nrt_add_tensor_to_tensor_set(out, "y", y);
    float values[256];
    for (int i = 0; i < 256; i++) values[i] = (float)i;
    p_nrt_tensor_write(x, values, 0, sizeof values);
    for (int i = 0; i < 3; i++) {
        NRT_STATUS ret = NRT_FAILURE;
        nrta_seq_t seq = 0;
        p_nrta_execute_schedule(model, in, out, 0, &ret, &seq);
        int fd = eventfd(0, 0);
        p_nrta_event_register_seq_id_completion(seq, fd);
        uint64_t count = 0;
        ssize_t n = read(fd, &count, sizeof count); /* libc's read: blocks until the watcher runs the simulation */
        printf("request %d: read %zd count %" PRIu64 " ret %d t=%" PRIu64 "\n", i, n, count, ret, now());
        close(fd);
    }
    float back[256];
    p_nrt_tensor_read(y, back, 0, sizeof back);
    printf("y[5] = %g\n", back[5]);
    p_nrt_close();
    return 0;
}
