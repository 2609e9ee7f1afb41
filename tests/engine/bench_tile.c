/* bench_tile.c: the small-batch kernel (eng_k_nt_small) by itself, at the kernel level in force
 * (MOESIM_CPU_KERNELS), for the figures engine/README.md gives beside the layer bench:
 *   bench_tile l2 DTYPE      one thread, 64 packed rows x 2048 (in L2), 1-4 tokens: what the
 *                            tile computes when memory is not the limit
 *   bench_tile stream DTYPE  all threads, 96 packed 1536 x 2048 matrices (the layer's w13
 *                            shape), 1, 2 and 4 tokens: the tile reading from DRAM
 *   bench_tile hash          a hash of the outputs over K, M and the three formats: equal
 *                            across MOESIM_CPU_KERNELS values that compute the same sums
 *   bench_tile read          all threads, a plain sum over 1 GiB, each thread its slice: what
 *                            one sequential stream per core reads, with no kernel around it
 * DTYPE: fp32, bf16 or int8. Weights per GB/s: the bytes stored (INT8: 1 per weight). */
#include "../../engine/kernels_cpu.h"
#include "../../engine/weights.h"

#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dtype_of(const char *s, eng_dtype *dt)
{
    static const char *const names[ENG_DTYPE_COUNT] = { "fp32", "bf16", "int8" };
    for (int i = 0; i < ENG_DTYPE_COUNT; i++)
        if (s && !strcmp(s, names[i]))
            return *dt = (eng_dtype)i, 0;
    return -1;
}

static int weights(eng_weights *w, int experts, eng_dtype dt)
{
    eng_config c = { 2048, 768, experts, 2, 0, 0, ENG_SOFTMAX, dt };
    sim_err err = { 0, "" };
    if (eng_weights_init(w, &c, 1, 0, 7, &err) != SIM_OK) {
        fprintf(stderr, "bench_tile: %s\n", err.msg);
        return -1;
    }
    /* packed into one huge-page block, as the CPU backend holds them */
    if (eng_weights_gather(w, 1, &err) != SIM_OK) {
        fprintf(stderr, "bench_tile: %s\n", err.msg);
        eng_weights_free(w);
        return -1;
    }
    return 0;
}

static double bytes_per(eng_dtype dt)
{
    return dt == ENG_FP32 ? 4 : dt == ENG_BF16 ? 2 : 1;
}

static int l2(eng_dtype dt)
{
    eng_weights w;
    if (weights(&w, 2, dt))
        return 1;
    float x[4 * 2048], y[4 * 64];
    eng_fill_input(x, 4, 2048, 1, 1);
    const int rows = 64;
    const long reps = 20000;
    for (int M = 1; M <= 4; M++) {
        double t0 = omp_get_wtime();
        for (long r = 0; r < reps; r++)
            eng_k_nt_small(M, rows, x, 2048, &w.w13[0], 0, y, rows);
        double t = omp_get_wtime() - t0;
        printf("%s %s l2, 1 thread, %d tokens: %.1f GB/s of weights\n", eng_k_isa_name(), eng_dtype_name(dt), M,
               reps * rows * 2048.0 * bytes_per(dt) / t * 1e-9);
    }
    eng_weights_free(&w);
    return 0;
}

static int stream(eng_dtype dt)
{
    const int E = 96, N = 1536;
    eng_weights w;
    if (weights(&w, E, dt))
        return 1;
    float x[4 * 2048];
    eng_fill_input(x, 4, 2048, 1, 1);
    const double bytes = (double)E * eng_mat_bytes(&w.w13[0]);
    for (int M = 1; M <= 4; M *= 2) {
        double best = 1e30;
        for (int r = 0; r < 8; r++) {
            double t0 = omp_get_wtime();
            #pragma omp parallel
            {
                float *y = malloc(sizeof(float) * 4 * (size_t)N);
                #pragma omp for schedule(dynamic, 1)
                for (int e = 0; e < E; e++)
                    if (y)
                        eng_k_nt_small(M, N, x, 2048, &w.w13[e], 0, y, N);
                free(y);
            }
            double t = omp_get_wtime() - t0;
            best = t < best ? t : best;
        }
        printf("%s %s stream, %d threads, %d tokens: %.1f GB/s of weights (best of 8)\n", eng_k_isa_name(),
               eng_dtype_name(dt), omp_get_max_threads(), M, bytes / best * 1e-9);
    }
    eng_weights_free(&w);
    return 0;
}

static int hash(void)
{
    static const int Ks[] = { 7, 40, 100, 768, 2048, 3000 };
    uint64_t h = 1469598103934665603u;
    for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++)
        for (int dt = 0; dt < ENG_DTYPE_COUNT; dt++)
            for (int M = 1; M <= 8; M++) {
                const int K = Ks[a];
                eng_config c = { K, 8, 1, 1, 0, 0, ENG_SOFTMAX, (eng_dtype)dt };
                eng_weights w;
                sim_err err = { 0, "" };
                float *x = malloc(sizeof(float) * (size_t)M * K), y[8 * 16];
                if (!x || eng_weights_init(&w, &c, 1, 0, 3 + a, &err) != SIM_OK) {
                    fprintf(stderr, "bench_tile: %s\n", x ? err.msg : "out of memory");
                    free(x);
                    return 1;
                }
                if (M % 2)
                    eng_mat_pack(&w.w13[0], &err);
                eng_fill_input(x, M, K, 1, a + M);
                for (int i = 0; i < M * K; i += 13)
                    x[i] *= i % 3 ? 1e-3f : 50.0f;
                eng_k_nt_small(M, 16, x, K, &w.w13[0], 0, y, 16);
                for (int i = 0; i < M * 16; i++) {
                    uint32_t u;
                    memcpy(&u, &y[i], sizeof u);
                    h = (h ^ u) * 1099511628211u;
                }
                free(x);
                eng_weights_free(&w);
            }
    printf("%s outputs hash %016llx\n", eng_k_isa_name(), (unsigned long long)h);
    return 0;
}

/* The read alone: each thread sums its slice of 1 GiB, no software prefetch; best of 8. */
static int plain_read(void)
{
    const size_t n = ((size_t)1 << 30) / sizeof(uint64_t);
    uint64_t *buf = malloc(n * sizeof *buf), sink = 0;
    if (!buf) {
        fprintf(stderr, "bench_tile: out of memory for 1 GiB\n");
        return 1;
    }
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        buf[i] = i;
    double best = 1e30;
    for (int r = 0; r < 8; r++) {
        double t0 = omp_get_wtime();
        #pragma omp parallel reduction(+ : sink)
        {
            const size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
            const size_t lo = n * id / nt / 4 * 4, hi = id + 1 == nt ? n : n * (id + 1) / nt / 4 * 4;
            uint64_t part;
            eng_k_read_sum(buf + lo, hi - lo, &part);   /* at the widest level the CPU has */
            sink += part;
        }
        double t = omp_get_wtime() - t0;
        best = t < best ? t : best;
    }
    printf("plain read, %d threads: %.1f GB/s (best of 8; checksum %llu)\n", omp_get_max_threads(),
           (double)n * sizeof *buf / best * 1e-9, (unsigned long long)sink);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    eng_dtype dt = ENG_BF16;
    const char *mode = argc > 1 ? argv[1] : "";
    char msg[160];
    if (eng_k_isa_check(msg, sizeof msg) != 0) {
        fprintf(stderr, "bench_tile: %s\n", msg);
        return 2;
    }
    if (!strcmp(mode, "hash"))
        return hash();
    if (!strcmp(mode, "read"))
        return plain_read();
    if ((strcmp(mode, "l2") && strcmp(mode, "stream")) || dtype_of(argc > 2 ? argv[2] : NULL, &dt)) {
        fprintf(stderr, "usage: bench_tile l2|stream fp32|bf16|int8, or bench_tile hash|read\n");
        return 2;
    }
    return !strcmp(mode, "l2") ? l2(dt) : stream(dt);
}
