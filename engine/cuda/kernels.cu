// kernels.cu: the CUDA backend's kernels: router top-k, the permutation (counts, scan,
// scatter, gather) kept on the device, the memory-bound expert kernel, SwiGLU, combine.
#include "kernels.h"
#include "topk_rule.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <math.h>

#define WARPS 8                      // warps per block of the expert kernel
#define FULL 0xffffffffu

static inline int launched(void) { return (int)cudaGetLastError(); }
static inline cudaStream_t S(void *s) { return (cudaStream_t)s; }
static inline unsigned blocks(long n, int per) { return (unsigned)((n + per - 1) / per); }

// --- weights: 16 bytes at a time, widened to FP32 ---

template <int WT> struct wfmt;
template <> struct wfmt<EK_F32> { enum { VEC = 4 }; };
template <> struct wfmt<EK_BF16> { enum { VEC = 8 }; };
template <> struct wfmt<EK_I8> { enum { VEC = 16 }; };
template <> struct wfmt<EK_FP8> { enum { VEC = 16 }; };

__device__ __forceinline__ void widen(uint32_t u, float *f, int wt)
{
    if (wt == EK_F32) {
        f[0] = __uint_as_float(u);
    } else if (wt == EK_BF16) {
        f[0] = __uint_as_float(u << 16);
        f[1] = __uint_as_float(u & 0xffff0000u);
    } else if (wt == EK_I8) {
        f[0] = (float)(int8_t)(u & 0xff);
        f[1] = (float)(int8_t)((u >> 8) & 0xff);
        f[2] = (float)(int8_t)((u >> 16) & 0xff);
        f[3] = (float)(int8_t)(u >> 24);
    } else {
        __half2_raw lo = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(u & 0xffff), __NV_E4M3);
        __half2_raw hi = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(u >> 16), __NV_E4M3);
        float2 a = __half22float2(__half2(lo)), b = __half22float2(__half2(hi));
        f[0] = a.x, f[1] = a.y, f[2] = b.x, f[3] = b.y;
    }
}

template <int WT>
__device__ __forceinline__ void widen16(uint4 q, float *f)
{
    constexpr int per = wfmt<WT>::VEC / 4;   // values per 32-bit word
    widen(q.x, f, WT);
    widen(q.y, f + per, WT);
    widen(q.z, f + 2 * per, WT);
    widen(q.w, f + 3 * per, WT);
}

template <int WT>
__device__ __forceinline__ float load1(const void *w, long long i)
{
    if (WT == EK_F32)
        return ((const float *)w)[i];
    if (WT == EK_BF16)
        return __uint_as_float((uint32_t)((const uint16_t *)w)[i] << 16);
    if (WT == EK_I8)
        return (float)((const int8_t *)w)[i];
    __half_raw h = __nv_cvt_fp8_to_halfraw(((const __nv_fp8_storage_t *)w)[i], __NV_E4M3);
    return __half2float(__half(h));
}

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(FULL, v, o);
    return v;
}

__device__ __forceinline__ float silu(float g) { return g / (1.0f + __expf(-g)); }

// --- the memory-bound expert kernel ---
//
// Why this shape: with a few tokens per expert, Y = X W^T is a stream over W, and the time is
// the bytes of W over HBM bandwidth. Each warp owns two weight rows (gate f and up F + f, so
// SwiGLU happens in registers and the gate/up output never reaches memory; or two adjacent
// down rows) and reads them once, 16 bytes per lane per load, coalesced across the warp, two
// loads per row in flight. The expert's tokens are applied to each loaded vector from
// registers (X is small and stays in L1/L2), in chunks of 8, 4, 2, 1 so that no FMAs are spent
// on absent tokens. A persistent grid walks (active expert, tile) pairs read from device
// memory, so an idle expert costs nothing and the host never needs the per-expert counts.

template <int WT, int PAIR, int MB>
__device__ __forceinline__ void ffn_chunk(const ek_ffn &a, int e, int r0, int r1, int u, int row, int lane)
{
    constexpr int VEC = wfmt<WT>::VEC;
    const int K = a.K;
    const size_t esz = WT == EK_F32 ? 4 : WT == EK_BF16 ? 2 : 1;
    const char *wb = (const char *)a.w + (size_t)e * (size_t)a.w_stride * esz;
    const void *w0 = wb + (size_t)r0 * K * esz, *w1 = wb + (size_t)r1 * K * esz;
    const float *x = a.x + (size_t)row * K;
    float acc0[MB], acc1[MB];
#pragma unroll
    for (int j = 0; j < MB; j++)
        acc0[j] = acc1[j] = 0.f;
    if ((K * esz) % 16 == 0) {
        const uint4 *q0 = (const uint4 *)w0, *q1 = (const uint4 *)w1;
        const int nv = K / VEC;
        for (int v = lane; v < nv; v += 64) {
            // both iterations' loads first: four 16-byte loads in flight per lane
            const int v2 = v + 32;
            uint4 a0 = __ldg(q0 + v), a1 = __ldg(q1 + v), b0 = make_uint4(0, 0, 0, 0), b1 = b0;
            if (v2 < nv)
                b0 = __ldg(q0 + v2), b1 = __ldg(q1 + v2);
            float f0[VEC], f1[VEC];
            widen16<WT>(a0, f0);
            widen16<WT>(a1, f1);
#pragma unroll
            for (int j = 0; j < MB; j++) {
                const float4 *xv = (const float4 *)(x + (size_t)j * K + (size_t)v * VEC);
#pragma unroll
                for (int q = 0; q < VEC / 4; q++) {
                    float4 t = __ldg(xv + q);
                    acc0[j] += f0[4 * q] * t.x + f0[4 * q + 1] * t.y + f0[4 * q + 2] * t.z + f0[4 * q + 3] * t.w;
                    acc1[j] += f1[4 * q] * t.x + f1[4 * q + 1] * t.y + f1[4 * q + 2] * t.z + f1[4 * q + 3] * t.w;
                }
            }
            if (v2 < nv) {
                widen16<WT>(b0, f0);
                widen16<WT>(b1, f1);
#pragma unroll
                for (int j = 0; j < MB; j++) {
                    const float4 *xv = (const float4 *)(x + (size_t)j * K + (size_t)v2 * VEC);
#pragma unroll
                    for (int q = 0; q < VEC / 4; q++) {
                        float4 t = __ldg(xv + q);
                        acc0[j] += f0[4 * q] * t.x + f0[4 * q + 1] * t.y + f0[4 * q + 2] * t.z + f0[4 * q + 3] * t.w;
                        acc1[j] += f1[4 * q] * t.x + f1[4 * q + 1] * t.y + f1[4 * q + 2] * t.z + f1[4 * q + 3] * t.w;
                    }
                }
            }
        }
    } else {
        // rows not 16-byte aligned (odd hidden sizes): one element per lane per step
        for (int k = lane; k < K; k += 32) {
            const float g = load1<WT>(w0, k), h = load1<WT>(w1, k);
#pragma unroll
            for (int j = 0; j < MB; j++) {
                const float t = x[(size_t)j * K + k];
                acc0[j] += g * t;
                acc1[j] += h * t;
            }
        }
    }
    float s0 = 1.f, s1 = 1.f;
    if (WT == EK_I8 || WT == EK_FP8) {
        s0 = a.scale[(size_t)e * a.rows + r0];
        s1 = a.scale[(size_t)e * a.rows + r1];
    }
#pragma unroll
    for (int j = 0; j < MB; j++) {
        const float g = warp_sum(acc0[j]) * s0, h = warp_sum(acc1[j]) * s1;
        if (lane == j) {
            if (PAIR) {
                a.out[(size_t)(row + j) * (a.rows / 2) + u] = silu(g) * h;
            } else {
                a.out[(size_t)(row + j) * a.rows + r0] = g;
                if (r1 != r0)
                    a.out[(size_t)(row + j) * a.rows + r1] = h;
            }
        }
    }
}

template <int WT, int PAIR>
__global__ void __launch_bounds__(WARPS * 32) k_ffn_small(ek_ffn a, int units, int tiles)
{
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int nact = a.act ? *a.nact : 1;
    const long work = (long)nact * tiles;
    for (long wi = blockIdx.x; wi < work; wi += gridDim.x) {
        const int e = a.act ? a.act[wi / tiles] : 0;
        const int u = (int)(wi % tiles) * WARPS + warp;
        if (u >= units)
            continue;
        const int r0 = PAIR ? u : 2 * u;
        const int r1 = PAIR ? a.rows / 2 + u : (2 * u + 1 < a.rows ? 2 * u + 1 : 2 * u);
        const int m0 = a.off ? a.off[e] : 0, m = a.off ? a.off[e + 1] - m0 : a.m;
        for (int c = 0; c < m;) {
            const int rem = m - c;
            if (rem >= 8)
                ffn_chunk<WT, PAIR, 8>(a, e, r0, r1, u, m0 + c, lane), c += 8;
            else if (rem >= 4)
                ffn_chunk<WT, PAIR, 4>(a, e, r0, r1, u, m0 + c, lane), c += 4;
            else if (rem >= 2)
                ffn_chunk<WT, PAIR, 2>(a, e, r0, r1, u, m0 + c, lane), c += 2;
            else
                ffn_chunk<WT, PAIR, 1>(a, e, r0, r1, u, m0 + c, lane), c += 1;
        }
    }
}

template <int WT>
static void launch_ffn(const ek_ffn *a, int grid, cudaStream_t s)
{
    const int units = a->pair ? a->rows / 2 : (a->rows + 1) / 2, tiles = (units + WARPS - 1) / WARPS;
    if (a->pair)
        k_ffn_small<WT, 1><<<grid, WARPS * 32, 0, s>>>(*a, units, tiles);
    else
        k_ffn_small<WT, 0><<<grid, WARPS * 32, 0, s>>>(*a, units, tiles);
}

extern "C" int ek_ffn_small(const ek_ffn *a, int grid, void *stream)
{
    if (grid <= 0 || a->rows <= 0)
        return 0;
    switch (a->wt) {
    case EK_F32: launch_ffn<EK_F32>(a, grid, S(stream)); break;
    case EK_BF16: launch_ffn<EK_BF16>(a, grid, S(stream)); break;
    case EK_I8: launch_ffn<EK_I8>(a, grid, S(stream)); break;
    default: launch_ffn<EK_FP8>(a, grid, S(stream)); break;
    }
    return launched();
}

// --- router top-k ---
//
// One warp per token. Softmax and sigmoid are monotone in the logit, so the top-k is taken on
// the logits directly and only the k chosen are exponentiated. The rule (order, ties, experts
// already taken, weights) is topk_rule.h's, which tests/gpu/test_topk.c checks on the host,
// including tokens with fewer than k finite logits. The logits are only read.

__global__ void k_topk(const float *logits, int T, int E, int k, int sigmoid, int *ids, float *wts)
{
    const int t = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (t >= T)
        return;
    const float *l = logits + (size_t)t * E;
    int *id = ids + (size_t)t * k;
    for (int j = 0; j < k; j++) {
        float bv = 0.f;
        int bi = -1;
        for (int e = lane; e < E; e += 32)
            if (!ek_topk_taken(id, j, e) && ek_topk_better(l[e], e, bv, bi))
                bv = l[e], bi = e;
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(FULL, bv, o);
            const int oi = __shfl_xor_sync(FULL, bi, o);
            if (oi >= 0 && ek_topk_better(ov, oi, bv, bi))
                bv = ov, bi = oi;
        }
        if (lane == 0) {
            id[j] = bi;                  // k <= E: some expert is always left, bi >= 0
            wts[(size_t)t * k + j] = bv;
        }
        __syncwarp();                    // orders lane 0's id[j] before the next pass reads it
    }
    if (lane == 0)
        ek_topk_weights(wts + (size_t)t * k, k, sigmoid);
}

extern "C" int ek_topk(const float *logits, int T, int E, int k, int sigmoid, int *ids, float *wts, void *stream)
{
    if (T <= 0)
        return 0;
    k_topk<<<blocks(T, 4), 128, 0, S(stream)>>>(logits, T, E, k, sigmoid, ids, wts);
    return launched();
}

// --- permutation: counts, exclusive scan, scatter, gather (no host round-trip) ---

__global__ void k_count(const int *ids, long n, int *cnt)
{
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        atomicAdd(&cnt[ids[i]], 1);
}

extern "C" int ek_count(const int *ids, long n, int E, int *cnt, void *stream)
{
    cudaError_t e = cudaMemsetAsync(cnt, 0, sizeof(int) * (size_t)E, S(stream));
    if (e != cudaSuccess || n <= 0)
        return (int)e;
    k_count<<<blocks(n < (1L << 20) ? n : (1L << 20), 256), 256, 0, S(stream)>>>(ids, n, cnt);
    return launched();
}

// Expert counts are at most a few hundred entries: one block loads them into shared memory in
// parallel and one thread scans (a few hundred adds beat a multi-pass scan's extra syncs).
#define SCAN_MAX 8192
__global__ void k_offsets(const int *cnt, int n, int *off, int *act, int *nact)
{
    __shared__ int s[SCAN_MAX + 1];
    const int big = n > SCAN_MAX;
    if (!big)
        for (int i = threadIdx.x; i < n; i += blockDim.x)
            s[i] = cnt[i];
    __syncthreads();
    if (threadIdx.x == 0) {
        int run = 0, na = 0;
        for (int i = 0; i < n; i++) {
            const int c = big ? cnt[i] : s[i];
            off[i] = run;
            run += c;
            if (act && c > 0)
                act[na++] = i;
        }
        off[n] = run;
        if (nact)
            *nact = na;
    }
}

extern "C" int ek_offsets(const int *cnt, int n, int *off, int *act, int *nact, void *stream)
{
    k_offsets<<<1, 256, 0, S(stream)>>>(cnt, n, off, act, nact);
    return launched();
}

__global__ void k_scatter(const int *ids, long n, const int *off, int *cursor, int *slot)
{
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        const int e = ids[i];
        slot[i] = off[e] + atomicAdd(&cursor[e], 1);
    }
}

extern "C" int ek_scatter(const int *ids, long n, int E, const int *off, int *cursor, int *slot, void *stream)
{
    cudaError_t e = cudaMemsetAsync(cursor, 0, sizeof(int) * (size_t)E, S(stream));
    if (e != cudaSuccess || n <= 0)
        return (int)e;
    k_scatter<<<blocks(n < (1L << 20) ? n : (1L << 20), 256), 256, 0, S(stream)>>>(ids, n, off, cursor, slot);
    return launched();
}

// Row copies: one block per row, float4 when the row allows it.
__device__ __forceinline__ void copy_row(float *dst, const float *src, int d)
{
    if ((d & 3) == 0) {
        const float4 *s4 = (const float4 *)src;
        float4 *d4 = (float4 *)dst;
        for (int i = threadIdx.x; i < d / 4; i += blockDim.x)
            d4[i] = s4[i];
    } else {
        for (int i = threadIdx.x; i < d; i += blockDim.x)
            dst[i] = src[i];
    }
}

__global__ void k_gather(const float *x, int d, const int *slot, long n, int k, float *xs)
{
    for (long i = blockIdx.x; i < n; i += gridDim.x)
        copy_row(xs + (size_t)slot[i] * d, x + (size_t)(i / k) * d, d);
}

extern "C" int ek_gather(const float *x, int d, const int *slot, long n, int k, float *xs, void *stream)
{
    if (n <= 0)
        return 0;
    k_gather<<<(unsigned)(n < 65535 ? n : 65535), 128, 0, S(stream)>>>(x, d, slot, n, k, xs);
    return launched();
}

__global__ void k_regroup(const float *src, float *dst, int d, const int *seg)
{
    const int s0 = seg[3 * blockIdx.x], d0 = seg[3 * blockIdx.x + 1], n = seg[3 * blockIdx.x + 2];
    for (int r = 0; r < n; r++)
        copy_row(dst + (size_t)(d0 + r) * d, src + (size_t)(s0 + r) * d, d);
}

extern "C" int ek_regroup(const float *src, float *dst, int d, const int *seg, int nseg, void *stream)
{
    if (nseg <= 0)
        return 0;
    k_regroup<<<nseg, 256, 0, S(stream)>>>(src, dst, d, seg);
    return launched();
}

// --- combine, SwiGLU, conversions ---

__global__ void k_combine(const float *ye, int d, const int *slot, const float *wts, int k, float *y, int acc)
{
    const int t = blockIdx.x;
    float *yt = y + (size_t)t * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float s = acc ? yt[i] : 0.f;
        for (int j = 0; j < k; j++)
            s += wts[(size_t)t * k + j] * ye[(size_t)slot[(size_t)t * k + j] * d + i];
        yt[i] = s;
    }
}

extern "C" int ek_combine(const float *ye, int d, const int *slot, const float *wts, int T, int k, float *y,
                          int accumulate, void *stream)
{
    if (T <= 0)
        return 0;
    k_combine<<<T, 128, 0, S(stream)>>>(ye, d, slot, wts, k, y, accumulate);
    return launched();
}

template <typename GU>
__global__ void k_swiglu(const GU *gu, long rows, int F, float *h, __nv_bfloat16 *hb)
{
    const long n = rows * F;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        const long r = i / F, f = i % F;
        const float v = silu((float)gu[r * 2 * F + f]) * (float)gu[r * 2 * F + F + f];
        if (hb)
            hb[i] = __float2bfloat16_rn(v);
        else
            h[i] = v;
    }
}

extern "C" int ek_swiglu(const float *gu, long rows, int F, void *h, int h_bf16, void *stream)
{
    const long n = rows * F;
    if (n <= 0)
        return 0;
    k_swiglu<float><<<blocks(n < (1L << 22) ? n : (1L << 22), 256), 256, 0, S(stream)>>>(
        gu, rows, F, h_bf16 ? NULL : (float *)h, h_bf16 ? (__nv_bfloat16 *)h : NULL);
    return launched();
}

extern "C" int ek_swiglu_bf16(const uint16_t *gu, long rows, int F, uint16_t *h, void *stream)
{
    const long n = rows * F;
    if (n <= 0)
        return 0;
    k_swiglu<__nv_bfloat16><<<blocks(n < (1L << 22) ? n : (1L << 22), 256), 256, 0, S(stream)>>>(
        (const __nv_bfloat16 *)gu, rows, F, NULL, (__nv_bfloat16 *)h);
    return launched();
}

__global__ void k_to_f32(const __nv_bfloat16 *x, long n, float *o)
{
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        o[i] = __bfloat162float(x[i]);
}

extern "C" int ek_bf16_to_f32(const uint16_t *x, long n, float *out, void *stream)
{
    if (n <= 0)
        return 0;
    k_to_f32<<<blocks(n < (1L << 22) ? n : (1L << 22), 256), 256, 0, S(stream)>>>((const __nv_bfloat16 *)x, n, out);
    return launched();
}

__global__ void k_to_bf16(const float *x, long n, __nv_bfloat16 *o)
{
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        o[i] = __float2bfloat16_rn(x[i]);
}

extern "C" int ek_to_bf16(const float *x, long n, uint16_t *out, void *stream)
{
    if (n <= 0)
        return 0;
    k_to_bf16<<<blocks(n < (1L << 22) ? n : (1L << 22), 256), 256, 0, S(stream)>>>(x, n, (__nv_bfloat16 *)out);
    return launched();
}

template <int WT>
__global__ void k_widen(const void *w, const float *scale, int rows, int K, __nv_bfloat16 *o)
{
    const long n = (long)rows * K;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        float v = load1<WT>(w, i);
        if (WT == EK_I8 || WT == EK_FP8)
            v *= scale[i / K];
        o[i] = __float2bfloat16_rn(v);
    }
}

extern "C" int ek_widen_bf16(ek_wtype wt, const void *w, const float *scale, int rows, int K, uint16_t *out,
                             void *stream)
{
    const long n = (long)rows * K;
    if (n <= 0)
        return 0;
    const unsigned g = blocks(n < (1L << 22) ? n : (1L << 22), 256);
    __nv_bfloat16 *o = (__nv_bfloat16 *)out;
    switch (wt) {
    case EK_F32: k_widen<EK_F32><<<g, 256, 0, S(stream)>>>(w, scale, rows, K, o); break;
    case EK_BF16: k_widen<EK_BF16><<<g, 256, 0, S(stream)>>>(w, scale, rows, K, o); break;
    case EK_I8: k_widen<EK_I8><<<g, 256, 0, S(stream)>>>(w, scale, rows, K, o); break;
    default: k_widen<EK_FP8><<<g, 256, 0, S(stream)>>>(w, scale, rows, K, o); break;
    }
    return launched();
}

// Bandwidth yardstick: the same access pattern as the expert kernel (16-byte loads, four in
// flight per thread), nothing else, so its rate is what streaming weights can reach.
__global__ void k_read(const uint4 *p, size_t n, float *sink)
{
    uint32_t acc = 0;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        uint4 a = __ldg(p + i), b = __ldg(p + i + stride), c = __ldg(p + i + 2 * stride), d = __ldg(p + i + 3 * stride);
        acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
    }
    for (; i < n; i += stride) {
        uint4 a = __ldg(p + i);
        acc ^= a.x ^ a.y ^ a.z ^ a.w;
    }
    if (acc == 0x9e3779b9u)      // practically never: keeps the loads alive
        *sink = (float)acc;
}

extern "C" int ek_read(const void *buf, size_t bytes, float *sink, int grid, void *stream)
{
    if (bytes < 16 || grid <= 0)
        return 0;
    k_read<<<grid, 512, 0, S(stream)>>>((const uint4 *)buf, bytes / 16, sink);
    return launched();
}

// Seeded random fill for the yardsticks (no cuRAND: a splitmix64 hash of seed and index, so a
// run is repeatable). Tensor cores switch fewer bits on all-zero operands: a GEMM of zeros
// runs 10-15% faster than one of random values on Hopper (issue 19), so every timed operand
// holds random values. kind 0: random 32-bit words; kind 1: BF16 uniform in [-1, 1).
__device__ __forceinline__ uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

__global__ void k_fill(uint32_t *w, size_t n, int kind, uint64_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const uint64_t h = mix64(seed ^ mix64(i));
        if (kind == 0) {
            w[i] = (uint32_t)h;
        } else {
            // two BF16 values per word: 24 random bits each, scaled to [-1, 1)
            const float a = (float)(h & 0xffffff) * (2.0f / 16777216.0f) - 1.0f;
            const float b = (float)((h >> 32) & 0xffffff) * (2.0f / 16777216.0f) - 1.0f;
            const __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
            w[i] = *(const uint32_t *)&v;
        }
    }
}

extern "C" int ek_fill_random(void *buf, size_t bytes, int kind, uint64_t seed, void *stream)
{
    const size_t n = bytes / 4;
    if (n == 0)
        return 0;
    k_fill<<<blocks((long)(n < ((size_t)1 << 22) ? n : ((size_t)1 << 22)), 256), 256, 0, S(stream)>>>((uint32_t *)buf, n, kind, seed);
    return launched();
}
