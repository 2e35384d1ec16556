/* The Neuron Runtime Developer Guide's flow, as a client writes it: load a NEFF file from disk, read its
   tensor info, allocate and name its tensors, write the inputs, execute, read the outputs, check them.
   The NEFF's path is in $NEFF; $CHECK says what to check: "affine" (y = 2x + 1) or "matmul". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nrt/nrt.h>
#include <nrt/nrt_experimental.h>
#include <nrt/nrt_status.h>
#include <nrt/nrt_version.h>

#define CHECK(call)                                                                                     \
    do {                                                                                                \
        NRT_STATUS s_ = (call);                                                                         \
        if (s_ != NRT_SUCCESS) {                                                                        \
            printf("FAIL %s: %s (%d)\n", #call, nrt_get_status_as_str(s_), s_);                         \
            return 1;                                                                                   \
        }                                                                                               \
    } while (0)

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

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { exp = 127 - 15 + 1; while (!(man & 0x400)) { man <<= 1; exp--; } man &= 0x3ff; bits = sign | exp << 23 | man << 13; }
    } else if (exp == 31) bits = sign | 0xff << 23 | man << 13;
    else bits = sign | (exp - 15 + 127) << 23 | man << 13;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int main(void) {
    const char *path = getenv("NEFF"), *check = getenv("CHECK");
    nrt_version_t version;
    CHECK(nrt_get_version(&version, sizeof version));
    printf("runtime %d.%d\n", (int)version.rt_major, (int)version.rt_minor);
    CHECK(nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", ""));
    size_t size = 0;
    void *neff = read_file(path, &size);
    if (!neff) { printf("FAIL cannot read %s\n", path); return 1; }
    nrt_model_t *model = NULL;
    CHECK(nrt_load(neff, size, -1, -1, &model));
    free(neff);
    nrt_model_info_t minfo;
    size_t got = 0;
    CHECK(nrt_get_model_info(model, &minfo, sizeof minfo, &got));
    printf("model on vnc %u (%zu bytes of info)\n", minfo.vnc, got);

    nrt_tensor_info_array_t *info = NULL;
    CHECK(nrt_get_model_tensor_info(model, &info));
    nrt_tensor_set_t *inputs = NULL, *outputs = NULL;
    CHECK(nrt_allocate_tensor_set(&inputs));
    CHECK(nrt_allocate_tensor_set(&outputs));
    nrt_tensor_t *tensors[16] = {0};
    for (uint64_t i = 0; i < info->tensor_count; i++) {
        nrt_tensor_info_t *t = &info->tensor_array[i];
        printf("%s %s %zu bytes dtype %d shape", t->usage == NRT_TENSOR_USAGE_INPUT ? "input" : "output", t->name,
               t->size, t->dtype);
        for (uint32_t d = 0; d < t->ndim; d++) printf(" %u", t->shape[d]);
        printf("\n");
        CHECK(nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, (int)minfo.vnc, t->size, t->name, &tensors[i]));
        CHECK(nrt_add_tensor_to_tensor_set(t->usage == NRT_TENSOR_USAGE_INPUT ? inputs : outputs, t->name, tensors[i]));
        if (t->usage == NRT_TENSOR_USAGE_INPUT) {
            unsigned char *data = malloc(t->size);
            if (t->dtype == NRT_DTYPE_FLOAT32) {
                for (size_t k = 0; k < t->size / 4; k++) ((float *)data)[k] = (float)k * 0.5f;
            } else {
                for (size_t k = 0; k < t->size / 2; k++) ((uint16_t *)data)[k] = (uint16_t)(0x3c00 + (k % 7) * 0x100);
            }
            CHECK(nrt_tensor_write(tensors[i], data, 0, t->size));
            /* the tensor's bytes through its address too */
            void *va = nrt_tensor_get_va(tensors[i]);
            printf("va %s\n", va && memcmp(va, data, t->size) == 0 ? "holds the bytes written" : "WRONG");
            free(data);
        }
    }
    CHECK(nrt_execute(model, inputs, outputs));
    int failures = 0;
    for (uint64_t i = 0; i < info->tensor_count; i++) {
        nrt_tensor_info_t *t = &info->tensor_array[i];
        if (t->usage != NRT_TENSOR_USAGE_OUTPUT) continue;
        unsigned char *out = malloc(t->size);
        CHECK(nrt_tensor_read(tensors[i], out, 0, t->size));
        if (strcmp(check, "affine") == 0) {
            for (size_t k = 0; k < t->size / 4; k++)
                if (((float *)out)[k] != (float)k * 0.5f * 2 + 1) failures++;
            printf("%s[3] = %g\n", t->name, ((float *)out)[3]);
        } else if (strcmp(check, "matmul") == 0) { /* x (128x256) and y (256x128) of 1..7 cycles: spot check */
            printf("%s[0] = %g\n", t->name, half_to_float(((uint16_t *)out)[0]));
            if (half_to_float(((uint16_t *)out)[0]) == 0.0f) failures++;
        } else {
            for (size_t k = 0; k < t->size; k++) failures += out[k] != 0;
        }
        free(out);
    }
    printf("%s\n", failures ? "outputs WRONG" : "outputs checked");
    for (uint64_t i = 0; i < info->tensor_count; i++) nrt_tensor_free(&tensors[i]);
    nrt_destroy_tensor_set(&inputs);
    nrt_destroy_tensor_set(&outputs);
    CHECK(nrt_free_model_tensor_info(info));
    CHECK(nrt_unload(model));
    nrt_close();
    return failures != 0;
}
