/*
 * neuronsim's ndl/neuron_driver_shared_tensor_batch_op.h: the batch operation nrt.h's batched tensor
 * reads and writes take, with the names, types and include guard of the driver's shared header
 * (shared/reference/nrt-api.md section 2), written for neuronsim.
 */
#ifndef NEURON_DRIVER_SHARED_TENSOR_BATCH_OP_H
#define NEURON_DRIVER_SHARED_TENSOR_BATCH_OP_H

#include <stdint.h>

typedef uint64_t nrt_tensor_batch_offset_t;
typedef uint64_t nrt_tensor_batch_size_t;

typedef struct nrt_tensor_batch_op {
    nrt_tensor_batch_offset_t offset;
    nrt_tensor_batch_size_t size;
    void *buffer;
} nrt_tensor_batch_op_t;

#endif
