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

typedef struct {
    const char *name;
    int bits;          /* payload bits per element */
    double bytes;      /* payload plus block scales, per element */
    bool packed;       /* sub-byte: two elements per byte, unpacked before use without native FP4 */
    const int *chain;
} wformat_info;

/* Bytes per element, with the scale layouts real checkpoints use:
 *  fp8   FP32 scale per 128x128 block (DeepSeek-V3's weight_block_size [128, 128]);
 *  int8  FP16 scale per group of 128 along the input dimension (group-wise W8A8/W8A16;
 *        a per-channel scale would be smaller still, so this errs on the heavy side);
 *  nvfp4 FP8 (E4M3) scale per 16 elements (the per-tensor FP32 scale is negligible);
 *  mxfp4 E8M0 (one byte) scale per 32 elements, as OCP MX and gpt-oss ship;
 *  int4  FP16 scale plus a 4-bit zero point per group of 128 (GPTQ/AWQ style). */
static const wformat_info wformats[SIM_WF_COUNT] = {
    [SIM_WF_FP32] = {"fp32", 32, 4.0, false, chain_fp32},
    [SIM_WF_BF16] = {"bf16", 16, 2.0, false, chain_bf16},
    [SIM_WF_FP8] = {"fp8", 8, 1.0 + 4.0 / (128.0 * 128.0), false, chain_fp8},
    [SIM_WF_INT8] = {"int8", 8, 1.0 + 2.0 / 128.0, false, chain_int8},
    [SIM_WF_NVFP4] = {"nvfp4", 4, 0.5 + 1.0 / 16.0, true, chain_fp4},
    [SIM_WF_MXFP4] = {"mxfp4", 4, 0.5 + 1.0 / 32.0, true, chain_fp4},
    [SIM_WF_INT4] = {"int4", 4, 0.5 + 2.0 / 128.0 + 0.5 / 128.0, true, chain_int4},
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
    return "fp32, bf16, fp8, int8, nvfp4, mxfp4, int4";
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
