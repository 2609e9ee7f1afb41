/* test_transport_host.c (under mpirun): the host-memory transport moves exactly what the MPI
 * transport moves, for uneven blocks, empty blocks and a rank that sends nothing, through its
 * staging copies (a counting copy hook stands in for the GPU's). No GPU needed. */
#include "../../engine/cuda/transport_host.h"
#include "../../engine/weights.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t hooked;

static int counting_copy(void *ctx, void *dst, const void *src, size_t bytes, int to_host, sim_err *err)
{
    (void)ctx, (void)to_host, (void)err;
    memcpy(dst, src, bytes);
    hooked += bytes;
    return SIM_OK;
}

/* bytes rank `from` sends to rank `to` in round r: uneven, often zero */
static size_t blk(int from, int to, int r)
{
    size_t v = (size_t)(eng_mix((uint64_t)(from * 131 + to * 17 + r * 7919)) % 5000);
    return (r % 3 == 0 && from == 1) || v % 4 == 0 ? 0 : v;
}

static int fail(const char *what, int rank)
{
    fprintf(stderr, "FAIL (rank %d): %s\n", rank, what);
    return 1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    sim_err err = { 0, "" };
    eng_transport *h = NULL, *m = NULL;
    if (eng_transport_host(&h, &err) || eng_transport_mpi(&m, &err)) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const int n = h->size, me = h->rank;
    int bad = 0;
    eng_transport_host_set_copy(h, counting_copy, NULL);
    size_t *sb = calloc((size_t)n, sizeof *sb), *rb = calloc((size_t)n, sizeof *rb);
    for (int r = 0; r < 12 && !bad; r++) {
        size_t st = 0, rt = 0;
        for (int p = 0; p < n; p++) {
            sb[p] = blk(me, p, r), rb[p] = blk(p, me, r);
            st += sb[p], rt += rb[p];
        }
        unsigned char *s = malloc(st + 1), *a = malloc(rt + 1), *b = malloc(rt + 1);
        for (size_t i = 0; i < st; i++)
            s[i] = (unsigned char)eng_mix(i * 31 + (size_t)me * 1000003 + (size_t)r);
        memset(a, 0xaa, rt + 1), memset(b, 0x55, rt + 1);
        size_t before = hooked;
        if (h->ops->alltoallv(h, s, sb, a, rb, &err) || m->ops->alltoallv(m, s, sb, b, rb, &err))
            bad = fail(err.msg, me);
        else if (memcmp(a, b, rt))
            bad = fail("host transport delivered different bytes than MPI_Alltoallv", me);
        else if (hooked - before != st + rt)
            bad = fail("the staging copies did not carry every byte", me);
        free(s), free(a), free(b);
    }
    /* the small collectives: counts exchange, agreement and maximum */
    int64_t out[64], in[64];
    for (int p = 0; p < n && p < 64; p++)
        out[p] = me * 100 + p;
    if (!bad && h->ops->exchange(h, out, in, sizeof(int64_t), &err) == SIM_OK) {
        for (int p = 0; p < n && p < 64; p++)
            if (in[p] != p * 100 + me)
                bad = fail("exchange", me);
    }
    if (!bad && h->ops->agree(h, me == n - 1 ? SIM_EFAIL : SIM_OK) != SIM_EFAIL)
        bad = fail("agree does not see another rank's failure", me);
    double v = me;
    if (!bad && (h->ops->max(h, &v, 1, &err) || v != n - 1))
        bad = fail("max", me);
    if (!bad && eng_transport_host_staged(h) == 0 && n > 1)
        bad = fail("nothing staged", me);
    int all = bad;
    MPI_Allreduce(&bad, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (me == 0 && !all)
        printf("ok: host transport matches MPI_Alltoallv on %d ranks (12 rounds, uneven and empty blocks)\n", n);
    free(sb), free(rb);
    eng_transport_destroy(h);
    eng_transport_destroy(m);
    MPI_Finalize();
    return all;
}
