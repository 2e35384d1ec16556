/* Completion waits as clients write them: per request, make an eventfd, register it (for that request, or for
   every completion on the compute queue), wait for it (a
   blocking read, or epoll_wait with -DWAIT_EPOLL), deregister it with fd -1 (every other request) and
   close it; the next request gets the same descriptor number back. Then descriptors that are not
   eventfds, and sizes no buffer has. Prints simulated times: the same on every run. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <nrt/nrt.h>
#include <nrt/nrt_async.h>
#include <nrt/neuronsim.h>

static void *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = malloc(*size);
    if (fread(data, 1, *size, f) != *size) { free(data); data = NULL; }
    fclose(f);
    return data;
}

static int wait_for(int fd) {
    uint64_t count = 0;
#ifdef WAIT_EPOLL
    int ep = epoll_create1(0);
    struct epoll_event want = {.events = EPOLLIN, .data.fd = fd}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &want);
    int n = epoll_wait(ep, &got, 1, -1);
    close(ep);
    if (n != 1 || got.data.fd != fd) return -1;
#endif
    if (read(fd, &count, sizeof count) != sizeof count) return -1;
    return (int)count;
}

int main(void) {
    nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "");
    size_t size = 0;
    void *neff = read_file(getenv("NEFF"), &size);
    nrt_model_t *model = NULL;
    printf("load %d\n", nrt_load(neff, size, 0, -1, &model));
    nrt_tensor_t *x = NULL, *y = NULL;
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 1024, "x", &x);
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 1024, "y", &y);
    nrt_tensor_set_t *in = NULL, *out = NULL;
    nrt_allocate_tensor_set(&in);
    nrt_allocate_tensor_set(&out);
    nrt_add_tensor_to_tensor_set(in, "x", x);
    nrt_add_tensor_to_tensor_set(out, "y", y);
    for (int i = 0; i < 4; i++) {
        NRT_STATUS ret = NRT_FAILURE, s, r;
        nrta_seq_t seq = 0;
        int fd = eventfd(0, 0);
        if (i % 2) { /* every completion on the queue from now on: register, then schedule */
            r = nrta_event_register_xu_completion(0, NRTA_XU_COMPUTE, 0, fd);
            s = nrta_execute_schedule(model, in, out, 0, &ret, &seq);
        } else { /* this request's completion */
            s = nrta_execute_schedule(model, in, out, 0, &ret, &seq);
            r = nrta_event_register_seq_id_completion(seq, fd);
        }
        int count = wait_for(fd);
        NRT_STATUS d = i % 2 ? nrta_event_register_xu_completion(0, NRTA_XU_COMPUTE, 0, -1)
                             : nrta_event_register_seq_id_completion(seq, -1);
        printf("request %d: schedule %d register %d fd %d count %d ret %d deregister %d t=%" PRIu64 "\n", i, s, r, fd,
               count, ret, d, neuronsim_now_ns());
        close(fd);
    }
    nrta_seq_t seq = 0;
    NRT_STATUS ret;
    nrta_execute_schedule(model, in, out, 0, &ret, &seq);
    int file = open(getenv("NEFF"), O_RDONLY);
    printf("regular file as eventfd: %d\n", nrta_event_register_seq_id_completion(seq, file));
    printf("stdout as eventfd: %d\n", nrta_event_register_seq_id_completion(seq, 1));
    close(file);
    char buf[16];
    printf("UINT64_MAX write: %d\n", nrt_tensor_write(x, buf, 0, UINT64_MAX));
    printf("UINT64_MAX read: %d\n", nrt_tensor_read(x, buf, 0, UINT64_MAX));
    printf("UINT64_MAX async write: %d\n", nrta_tensor_write(x, buf, 0, UINT64_MAX, 0, 0, &ret, &seq));
    nrt_close();
    return 0;
}
