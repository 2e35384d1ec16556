/*
 * neuronsim's own additions for C programs run against the simulator (not part of libnrt).
 */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The simulated time, in nanoseconds. */
uint64_t neuronsim_now_ns(void);

#ifdef __cplusplus
}
#endif
