/* precision.h: number formats. Weight formats carry their block scales in bytes per
 * parameter; each weight format names the compute data types it can run in, best first,
 * so the step model computes at the peak of the type the device really has. */
#ifndef MOESIM_PRECISION_H
#define MOESIM_PRECISION_H

#include <stdbool.h>

/* Compute data types: the peaks a hwmodel lists (compute.tflops.<name>). */
typedef enum {
    DT_FP32, DT_TF32, DT_BF16, DT_FP16, DT_FP8, DT_INT8, DT_FP4, DT_COUNT
} sim_dtype;

/* Storage formats for weights and the KV cache. */
typedef enum {
    WF_FP32, WF_BF16, WF_FP8, WF_INT8, WF_NVFP4, WF_MXFP4, WF_INT4, WF_COUNT
} sim_wformat;

const char *sim_dtype_name(sim_dtype t);
int sim_dtype_parse(const char *name, sim_dtype *out);           /* 0 or -1 */

const char *sim_wformat_name(sim_wformat f);
int sim_wformat_parse(const char *name, sim_wformat *out);       /* 0 or -1 */
/* Names accepted by sim_wformat_parse, comma-separated, for error messages. */
const char *sim_wformat_names(void);

/* Bytes per stored element, block scales included (NVFP4: FP8 scale per 16; MXFP4: E8M0
 * scale per 32; INT4: FP16 scale + 4-bit zero per group of 128; FP8: FP32 scale per
 * 128x128 block, as DeepSeek-V3 ships). */
double sim_wformat_bytes(sim_wformat f);
/* Bits of the payload alone, without scales. */
int sim_wformat_bits(sim_wformat f);
/* True for formats that must be unpacked before a matrix unit can use them. */
bool sim_wformat_is_packed(sim_wformat f);

/* Compute types that can consume this weight format, best first, terminated by -1.
 * E.g. NVFP4: FP4, FP8, BF16, FP16, FP32 (W4A16 falls back to 16-bit math). */
const int *sim_wformat_compute_chain(sim_wformat f);

#endif
