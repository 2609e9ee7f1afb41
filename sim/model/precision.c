/* precision.c: names, sizes (block scales included) and compute fallbacks of the number
 * formats the simulator knows. One table per enum keeps every fact about a format in one row. */
#include "model/precision.h"

#include <stddef.h>
#include <strings.h>

static const char *const dtype_names[SIM_DT_COUNT] = {
    [SIM_DT_FP32] = "fp32", [SIM_DT_TF32] = "tf32", [SIM_DT_BF16] = "bf16", [SIM_DT_FP16] = "fp16",
    [SIM_DT_FP8] = "fp8",   [SIM_DT_INT8] = "int8", [SIM_DT_FP4] = "fp4",
};

/* Compute chains, best first, -1 terminated. A format falls back to wider math when the device
 * lacks the narrow type: W8A8 drops to W8A16, FP4 to FP8 and then to 16-bit. INT4 has no
 * 4-bit integer matrix path in the peaks a hwmodel lists, so it is W4A16 from the start. */
static const int chain_fp32[] = {SIM_DT_FP32, -1};
static const int chain_bf16[] = {SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP32, -1};
static const int chain_fp8[] = {SIM_DT_FP8, SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP32, -1};
static const int chain_int8[] = {SIM_DT_INT8, SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP32, -1};
static const int chain_fp4[] = {SIM_DT_FP4, SIM_DT_FP8, SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP32, -1};
static const int chain_int4[] = {SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP32, -1};
/* GGUF types: llama.cpp quantizes the activations to 8-bit blocks (q8_0/q8_1/q8_K) and takes
 * integer dot products against the unpacked weights (CPU ggml_vec_dot_<type>_q8_K: AVX2
 * maddubs, NEON SDOT; CUDA MMVQ/MMQ: dp4a and int8 MMA), so INT8 first; backends without an
 * integer path dequantize to half (Metal simdgroup matrices, cuBLAS after a to-FP16 copy). */
static const int chain_gguf[] = {SIM_DT_INT8, SIM_DT_FP16, SIM_DT_BF16, SIM_DT_FP32, -1};

typedef struct {
    const char *name;
    int bits;          /* payload bits per element */
    double bytes;      /* payload plus block scales, per element */
    bool packed;       /* sub-byte: two elements per byte, unpacked before use without native FP4 */
    const int *chain;
    bool gguf;         /* a llama.cpp name: --precision applies its recipe (sim/model/gguf.h) */
    bool recipe;       /* a GGUF file type only: no tensor is stored in it */
    int block;         /* GGUF elements per block (row lengths must be multiples); 1 otherwise */
} wformat_info;

/* GGUF block bytes / block elements, from the block structs of ggml/src/ggml-common.h (QK_K =
 * 256, ggml_half = 2 bytes); the struct each follows is named. The comment in ggml-common.h
 * states the same bits per weight for the K-quants and IQ types. */
#define GG(bytes, elems) ((double)(bytes) / (elems))
#define GGUF_TYPE(name, bits, bytes, elems, packed) {name, bits, GG(bytes, elems), packed, chain_gguf, true, false, elems}
#define GGUF_FILE(name, bits, bytes, elems) {name, bits, GG(bytes, elems), true, chain_gguf, true, true, elems}

/* Bytes per element, with the scale layouts real checkpoints use:
 *  fp8   FP32 scale per 128x128 block (DeepSeek-V3's weight_block_size [128, 128]);
 *  int8  FP16 scale per group of 128 along the input dimension (group-wise W8A8/W8A16;
 *        a per-channel scale would be smaller still, so this errs on the heavy side);
 *  nvfp4 FP8 (E4M3) scale per 16 elements (the per-tensor FP32 scale is negligible);
 *  mxfp4 E8M0 (one byte) scale per 32 elements, as OCP MX and gpt-oss ship;
 *  int4  FP16 scale plus a 4-bit zero point per group of 128 (GPTQ/AWQ style);
 *  int4_g32  symmetric 4-bit integers (no zero point) with a BF16 scale per group of 32 along
 *        the input dimension: 4 + 16/32 = 4.5 bits, 0.5625 bytes a weight. This is the layout of
 *        Kimi K2 Thinking's routed experts: config.json quantization_config compressed-tensors,
 *        format pack-quantized, weights {num_bits 4, type int, strategy group, group_size 32,
 *        symmetric true} (tests/unit/model/test_hf_import.c quotes the block), the per-group
 *        weight_scale kept in the checkpoint's dtype (torch_dtype bfloat16); the same W4A16
 *        kernels run it (vLLM's compressed-tensors WNA16 path and Marlin take group sizes 32, 64
 *        and 128), so it shares int4's compute chain and unpacking work. */
static const wformat_info wformats[SIM_WF_COUNT] = {
    [SIM_WF_FP32] = {"fp32", 32, 4.0, false, chain_fp32, false, false, 1},
    [SIM_WF_BF16] = {"bf16", 16, 2.0, false, chain_bf16, false, false, 1},
    [SIM_WF_FP8] = {"fp8", 8, 1.0 + 4.0 / (128.0 * 128.0), false, chain_fp8, false, false, 1},
    [SIM_WF_INT8] = {"int8", 8, 1.0 + 2.0 / 128.0, false, chain_int8, false, false, 1},
    [SIM_WF_NVFP4] = {"nvfp4", 4, 0.5 + 1.0 / 16.0, true, chain_fp4, false, false, 1},
    [SIM_WF_MXFP4] = {"mxfp4", 4, 0.5 + 1.0 / 32.0, true, chain_fp4, false, false, 1},
    [SIM_WF_INT4] = {"int4", 4, 0.5 + 2.0 / 128.0 + 0.5 / 128.0, true, chain_int4, false, false, 1},
    [SIM_WF_INT4_G32] = {"int4_g32", 4, 0.5 + 2.0 / 32.0, true, chain_int4, false, false, 1},
    /* legacy 32-element blocks */
    [SIM_WF_Q4_0] = GGUF_TYPE("q4_0", 4, 2 + 16, 32, true),          /* block_q4_0: d, qs[16]: 4.5 bpw */
    [SIM_WF_Q4_1] = GGUF_TYPE("q4_1", 4, 2 + 2 + 16, 32, true),      /* block_q4_1: d, m, qs[16]: 5.0 */
    [SIM_WF_Q5_0] = GGUF_TYPE("q5_0", 5, 2 + 4 + 16, 32, true),      /* block_q5_0: d, qh[4], qs[16]: 5.5 */
    [SIM_WF_Q5_1] = GGUF_TYPE("q5_1", 5, 2 + 2 + 4 + 16, 32, true),  /* block_q5_1: 6.0 */
    [SIM_WF_Q8_0] = GGUF_TYPE("q8_0", 8, 2 + 32, 32, false),         /* block_q8_0: d, qs[32]: 8.5 */
    /* K-quants, 256-element super-blocks */
    [SIM_WF_Q2_K] = GGUF_TYPE("q2_k", 2, 16 + 64 + 4, 256, true),    /* scales[16], qs[64], d, dmin: 2.625 */
    [SIM_WF_Q3_K] = GGUF_TYPE("q3_k", 3, 32 + 64 + 12 + 2, 256, true), /* hmask[32], qs[64], scales[12], d: 3.4375 */
    [SIM_WF_Q4_K] = GGUF_TYPE("q4_k", 4, 4 + 12 + 128, 256, true),   /* d, dmin, scales[12], qs[128]: 4.5 */
    [SIM_WF_Q5_K] = GGUF_TYPE("q5_k", 5, 4 + 12 + 32 + 128, 256, true), /* + qh[32]: 5.5 */
    [SIM_WF_Q6_K] = GGUF_TYPE("q6_k", 6, 128 + 64 + 16 + 2, 256, true), /* ql[128], qh[64], scales[16], d: 6.5625 */
    /* i-quants */
    [SIM_WF_IQ2_XXS] = GGUF_TYPE("iq2_xxs", 2, 2 + 64, 256, true),   /* d, qs[32] uint16: 2.0625 */
    [SIM_WF_IQ2_XS] = GGUF_TYPE("iq2_xs", 2, 2 + 64 + 8, 256, true), /* + scales[8]: 2.3125 */
    [SIM_WF_IQ2_S] = GGUF_TYPE("iq2_s", 2, 2 + 64 + 8 + 8, 256, true), /* d, qs[64], qh[8], scales[8]: 2.5625 */
    [SIM_WF_IQ3_XXS] = GGUF_TYPE("iq3_xxs", 3, 2 + 96, 256, true),   /* d, qs[96]: 3.0625 */
    [SIM_WF_IQ3_S] = GGUF_TYPE("iq3_s", 3, 2 + 64 + 8 + 32 + 4, 256, true), /* d, qs, qh, signs, scales: 3.4375 */
    [SIM_WF_IQ4_NL] = GGUF_TYPE("iq4_nl", 4, 2 + 16, 32, true),      /* block_iq4_nl: d, qs[16]: 4.5 */
    [SIM_WF_IQ4_XS] = GGUF_TYPE("iq4_xs", 4, 2 + 2 + 4 + 128, 256, true), /* d, scales_h, scales_l[4], qs[128]: 4.25 */
    /* file types that are recipes over the types above (llama-quantize's names); bytes of the default type */
    [SIM_WF_Q3_K_S] = GGUF_FILE("q3_k_s", 3, 110, 256),
    [SIM_WF_Q3_K_M] = GGUF_FILE("q3_k_m", 3, 110, 256),
    [SIM_WF_Q3_K_L] = GGUF_FILE("q3_k_l", 3, 110, 256),
    [SIM_WF_Q4_K_S] = GGUF_FILE("q4_k_s", 4, 144, 256),
    [SIM_WF_Q4_K_M] = GGUF_FILE("q4_k_m", 4, 144, 256),
    [SIM_WF_Q5_K_S] = GGUF_FILE("q5_k_s", 5, 176, 256),
    [SIM_WF_Q5_K_M] = GGUF_FILE("q5_k_m", 5, 176, 256),
    [SIM_WF_MXFP4_MOE] = GGUF_FILE("mxfp4_moe", 4, 17, 32),          /* block_mxfp4: e, qs[16]: 4.25 */
};

static bool valid_dtype(sim_dtype t)
{
    return (int)t >= 0 && t < SIM_DT_COUNT;
}

static bool valid_wformat(sim_wformat f)
{
    return (int)f >= 0 && f < SIM_WF_COUNT;
}

const char *sim_dtype_name(sim_dtype t)
{
    return valid_dtype(t) ? dtype_names[t] : "?";
}

/* Names are matched case-insensitively ("BF16" from a user is fine) but strictly: "fp16" is
 * a compute type, not a weight format, and is not taken as a synonym for bf16. */
int sim_dtype_parse(const char *name, sim_dtype *out)
{
    for (int t = 0; name && t < SIM_DT_COUNT; t++) {
        if (strcasecmp(name, dtype_names[t]) == 0) {
            *out = (sim_dtype)t;
            return 0;
        }
    }
    return -1;
}

const char *sim_wformat_name(sim_wformat f)
{
    return valid_wformat(f) ? wformats[f].name : "?";
}

int sim_wformat_parse(const char *name, sim_wformat *out)
{
    for (int f = 0; name && f < SIM_WF_COUNT; f++) {
        if (strcasecmp(name, wformats[f].name) == 0) {
            *out = (sim_wformat)f;
            return 0;
        }
    }
    return -1;
}

const char *sim_wformat_names(void)
{
    return "fp32, bf16, fp8, int8, nvfp4, mxfp4, int4, int4_g32; GGUF file types q2_k, q3_k_s, q3_k_m, q3_k_l, q4_0, q4_1, "
           "q4_k_s, q4_k_m, q5_0, q5_1, q5_k_s, q5_k_m, q6_k, q8_0, iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, "
           "iq4_nl, iq4_xs, mxfp4_moe (q3_k, q4_k, q5_k: the _m files)";
}

bool sim_wformat_is_gguf(sim_wformat f)
{
    return valid_wformat(f) && wformats[f].gguf;
}

bool sim_wformat_is_recipe(sim_wformat f)
{
    return valid_wformat(f) && wformats[f].recipe;
}

int sim_wformat_block(sim_wformat f)
{
    return valid_wformat(f) && wformats[f].gguf ? wformats[f].block : 1;
}

double sim_wformat_bytes(sim_wformat f)
{
    return valid_wformat(f) ? wformats[f].bytes : 0.0;
}

int sim_wformat_bits(sim_wformat f)
{
    return valid_wformat(f) ? wformats[f].bits : 0;
}

bool sim_wformat_is_packed(sim_wformat f)
{
    return valid_wformat(f) && wformats[f].packed;
}

const int *sim_wformat_compute_chain(sim_wformat f)
{
    static const int empty[] = {-1};
    return valid_wformat(f) ? wformats[f].chain : empty;
}
