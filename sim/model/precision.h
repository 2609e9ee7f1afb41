/* precision.h: number formats. Weight formats carry their block scales in bytes per
 * parameter; each weight format names the compute data types it can run in, best first,
 * so the step model computes at the peak of the type the device really has. */
#ifndef MOESIM_PRECISION_H
#define MOESIM_PRECISION_H

#include <stdbool.h>

/* Compute data types: the peaks a hwmodel lists (compute.tflops.<name>). */
typedef enum {
    SIM_DT_FP32, SIM_DT_TF32, SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP8, SIM_DT_INT8, SIM_DT_FP4, SIM_DT_COUNT
} sim_dtype;

/* Storage formats for weights and the KV cache. */
typedef enum {
    SIM_WF_FP32, SIM_WF_BF16, SIM_WF_FP8, SIM_WF_INT8, SIM_WF_NVFP4, SIM_WF_MXFP4, SIM_WF_INT4, SIM_WF_COUNT
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
