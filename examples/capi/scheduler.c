/*
 * A host scheduling loop written against the Neuron Runtime's C API, run against neuronsim's libnrt.
 *
 *   cc $(neuronsim capi-config --cflags) scheduler.c $(neuronsim capi-config --libs) -o scheduler
 *   NEURONSIM_INSTANCE=trn1.2xlarge ./scheduler
 *
 * It writes a tensor and reads it back (bytes checked), schedules 20 executions with queue-full retry
 * and a polling wait, waits for the last with an eventfd, and shows the statuses bad arguments get.
 * Every line ends with the simulated time (neuronsim_now_ns, neuronsim's one addition).
 * tests/test_capi.py runs it beside the same program written against the Python mirror.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nrt/nrt.h"
#include "nrt/nrt_async.h"
#include "nrt/nrt_status.h"
#include "nrt/neuronsim.h"

#define EXECUTIONS 20

/* nrt_load takes a NEFF description (JSON or YAML) in place of NEFF bytes */
static const char NEFF[] =
    "{\"name\": \"scale\", \"inputs\": {\"x\": {\"shape\": [1024], \"dtype\": \"float32\"}},"
    " \"outputs\": {\"y\": {\"shape\": [1024], \"dtype\": \"float32\"}}, \"cost\": {\"duration\": \"100 us\"}}";

static void show(const char *what, NRT_STATUS status) {
    printf("%s: %s t=%" PRIu64 "\n", what, nrt_get_status_as_str(status), neuronsim_now_ns());
}

/* a polling wait: ask until the request is done */
static void wait_polling(nrta_seq_t seq) {
    bool done = false;
    while (nrta_is_completed(seq, &done) == NRT_SUCCESS && !done) {
    }
}

int main(void) {
    show("nrt_init", nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", ""));
    nrt_model_t *model = NULL;
    show("nrt_load", nrt_load(NEFF, sizeof NEFF - 1, 0, -1, &model));
    nrt_tensor_t *x = NULL, *y = NULL;
    show("allocate x", nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "x", &x));
    show("allocate y", nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "y", &y));
    nrt_tensor_set_t *inputs = NULL, *outputs = NULL;
    nrt_allocate_tensor_set(&inputs);
    nrt_allocate_tensor_set(&outputs);
    nrt_add_tensor_to_tensor_set(inputs, "x", x);
    nrt_add_tensor_to_tensor_set(outputs, "y", y);

    /* a tensor round trip */
    float host[1024], back[1024];
    for (int i = 0; i < 1024; i++) host[i] = 0.5f * (float)i - 7.0f;
    memset(back, 0, sizeof back);
    NRT_STATUS write_ret = NRT_FAILURE, read_ret = NRT_FAILURE;
    nrta_seq_t write_seq = 0, read_seq = 0;
    show("nrta_tensor_write", nrta_tensor_write(x, host, 0, sizeof host, 0, 0, &write_ret, &write_seq));
    wait_polling(write_seq);
    printf("write seq=0x%" PRIx64 " ret=%s t=%" PRIu64 "\n", write_seq, nrt_get_status_as_str(write_ret),
           neuronsim_now_ns());
    show("nrta_tensor_read", nrta_tensor_read(back, x, 0, sizeof back, 0, 0, &read_ret, &read_seq));
    wait_polling(read_seq);
    printf("read seq=0x%" PRIx64 " ret=%s bytes %s t=%" PRIu64 "\n", read_seq, nrt_get_status_as_str(read_ret),
           memcmp(host, back, sizeof host) == 0 ? "equal" : "DIFFER", neuronsim_now_ns());

    /* a scheduling loop with queue-full retry */
    NRT_STATUS rets[EXECUTIONS];
    nrta_seq_t seqs[EXECUTIONS];
    int oldest = 0, retries = 0;
    for (int i = 0; i < EXECUTIONS; i++) {
        NRT_STATUS status;
        while ((status = nrta_execute_schedule(model, inputs, outputs, 0, &rets[i], &seqs[i])) == NRT_QUEUE_FULL) {
            retries++;
            wait_polling(seqs[oldest++]); /* wait for the oldest in flight, then retry */
        }
        printf("execute %d: %s seq=0x%" PRIx64 " t=%" PRIu64 "\n", i, nrt_get_status_as_str(status), seqs[i],
               neuronsim_now_ns());
    }
    printf("queue-full retries: %d\n", retries);

    /* an eventfd-style wait for the last one */
    int efd = eventfd(0, 0);
    show("register eventfd", nrta_event_register_seq_id_completion(seqs[EXECUTIONS - 1], efd));
    uint64_t count = 0;
    ssize_t n = read(efd, &count, sizeof count);
    printf("eventfd read %zd bytes, count %" PRIu64 " t=%" PRIu64 "\n", n, count, neuronsim_now_ns());
    close(efd);
    int ok = 0;
    for (int i = 0; i < EXECUTIONS; i++) ok += rets[i] == NRT_SUCCESS;
    printf("executions completed with NRT_SUCCESS: %d of %d\n", ok, EXECUTIONS);
    nrta_seq_t last = 0;
    show("nrta_get_sequence", nrta_get_sequence(0, NRTA_XU_COMPUTE, 0, &last));
    printf("last compute seq=0x%" PRIx64 "\n", last);

    /* bad arguments get statuses, never a crash */
    NRT_STATUS ret;
    nrta_seq_t seq;
    bool done;
    nrt_tensor_t *missing = NULL;
    show("write to a NULL tensor", nrta_tensor_write(NULL, host, 0, 16, 0, 0, &ret, &seq));
    show("write on queue 99", nrta_tensor_write(x, host, 0, 16, 0, 99, &ret, &seq));
    show("write past the end", nrta_tensor_write(x, host, 4000, 200, 0, 0, &ret, &seq));
    show("execute with a NULL status", nrta_execute_schedule(model, inputs, outputs, 0, NULL, &seq));
    show("execute on queue 1", nrta_execute_schedule(model, inputs, outputs, 1, &ret, &seq));
    show("unknown tensor name", nrt_get_tensor_from_tensor_set(inputs, "nope", &missing));
    show("is_completed of a bad seq", nrta_is_completed(0xdeadbeefULL, &done));
    show("a model that is not one", nrta_execute_schedule((nrt_model_t *)x, inputs, outputs, 0, &ret, &seq));
    show("load garbage", nrt_load("not a neff {", 12, 0, -1, &model));

    nrt_destroy_tensor_set(&inputs);
    nrt_destroy_tensor_set(&outputs);
    nrt_tensor_free(&x);
    nrt_tensor_free(&y);
    printf("freed: %s\n", x == NULL && y == NULL && inputs == NULL ? "pointers cleared" : "NOT CLEARED");
    nrt_unload(model);
    nrt_close();
    printf("closed t=%" PRIu64 "\n", neuronsim_now_ns());
    return 0;
}
