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

/* Storage formats for weights and the KV cache.
 *
 * After the serving-stack formats come llama.cpp's GGUF tensor types (ggml/src/ggml-common.h
 * block layouts), and then the GGUF file types that are only recipes (Q4_K_M: Q4_K tensors with
 * some at Q6_K; sim/model/gguf.h). A GGUF name given as a precision means the file type of that
 * name as llama-quantize makes it: "q4_0" is the Q4_0 file (its output tensor at Q6_K), "q4_k"
 * is llama-quantize's alias for Q4_K_M. As a tensor type (bytes, dequantization rate) the same
 * name is the block layout alone. */
typedef enum {
    SIM_WF_FP32, SIM_WF_BF16, SIM_WF_FP8, SIM_WF_INT8, SIM_WF_NVFP4, SIM_WF_MXFP4, SIM_WF_INT4, SIM_WF_INT4_G32,
    /* GGUF tensor types */
    SIM_WF_Q4_0, SIM_WF_Q4_1, SIM_WF_Q5_0, SIM_WF_Q5_1, SIM_WF_Q8_0,
    SIM_WF_Q2_K, SIM_WF_Q3_K, SIM_WF_Q4_K, SIM_WF_Q5_K, SIM_WF_Q6_K,
    SIM_WF_IQ2_XXS, SIM_WF_IQ2_XS, SIM_WF_IQ2_S, SIM_WF_IQ3_XXS, SIM_WF_IQ3_S, SIM_WF_IQ4_NL, SIM_WF_IQ4_XS,
    /* GGUF file types that are recipes only (no tensor has this type) */
    SIM_WF_Q3_K_S, SIM_WF_Q3_K_M, SIM_WF_Q3_K_L, SIM_WF_Q4_K_S, SIM_WF_Q4_K_M, SIM_WF_Q5_K_S, SIM_WF_Q5_K_M,
    SIM_WF_MXFP4_MOE,
    SIM_WF_COUNT
} sim_wformat;

const char *sim_dtype_name(sim_dtype t);
int sim_dtype_parse(const char *name, sim_dtype *out);           /* 0 or -1 */

const char *sim_wformat_name(sim_wformat f);
int sim_wformat_parse(const char *name, sim_wformat *out);       /* 0 or -1 */
/* Names accepted by sim_wformat_parse, comma-separated, for error messages. */
const char *sim_wformat_names(void);

/* Bytes per stored element, block scales included (NVFP4: FP8 scale per 16; MXFP4: E8M0
 * scale per 32; INT4: FP16 scale + 4-bit zero per group of 128; INT4_G32: symmetric, BF16
 * scale per 32 (Kimi K2 Thinking's compressed-tensors experts); FP8: FP32 scale per
 * 128x128 block, as DeepSeek-V3 ships; GGUF types: block bytes / block elements). A recipe-only
 * file type answers its default tensor type's bytes (Q4_K_M: Q4_K's); the real mix of a file
 * is sim/model/gguf.h's. */
double sim_wformat_bytes(sim_wformat f);
/* Bits of the payload alone, without scales. */
int sim_wformat_bits(sim_wformat f);
/* True for formats that must be unpacked before a matrix unit can use them. */
bool sim_wformat_is_packed(sim_wformat f);

/* A GGUF name (tensor type or file type): --precision resolves it through llama.cpp's recipe. */
bool sim_wformat_is_gguf(sim_wformat f);
/* A GGUF file type that is a recipe only (q4_k_m, ...): no tensor, KV cache or payload is
 * stored in it, so it is refused where one storage type is meant. */
bool sim_wformat_is_recipe(sim_wformat f);
/* Elements per block of a GGUF tensor type (32 or 256; a tensor's row length must be a
 * multiple); 1 for the others. */
int sim_wformat_block(sim_wformat f);

/* Compute types that can consume this weight format, best first, terminated by -1.
 * E.g. NVFP4: FP4, FP8, BF16, FP16, FP32 (W4A16 falls back to 16-bit math). */
const int *sim_wformat_compute_chain(sim_wformat f);

#endif
