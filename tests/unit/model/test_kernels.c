/* test_kernels.c: kernel tables (sim/model/kernels.c): every shipped table loads against its
 * hwmodel and each row answers its own shape with its own share; a row's published time comes
 * back from the step model's GEMM costing; interpolation is exact at rows and monotone between
 * them; shares are held only where the physics allows; a device with no table costs on its
 * curves; malformed rows are refused with the file, row and field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/hw.h"
#include "model/kernels.h"
#include "model/registry.h"
#include "step/comm.h"
#include "step/step.h"

#ifndef MOESIM_SOURCE_DIR
#define MOESIM_SOURCE_DIR "."
#endif

static const char *home(void)
{
    const char *h = getenv("MOESIM_HOME");
    return h && *h ? h : MOESIM_SOURCE_DIR;
}

/* |got - want| <= tol, with both figures in the message */
#define assert_double_equal(got, want, tol) assert_near_(got, want, tol, __LINE__)
static void assert_near_(double got, double want, double tol, int line)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("line %d: got %.12g, want %.12g (tolerance %g)", line, got, want, tol);
}

static sim_hw hw;              /* big (it holds a table): kept off the stack */
static sim_kernel_table table;

static void load_hw(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/hwmodels/%s.json", home(), name);
    sim_err err = {0};
    if (sim_hw_load(&hw, path, &err))
        fail_msg("%s: %s", name, err.msg);
}

static sim_kernel_peaks peaks_of(const sim_hw *h)
{
    sim_kernel_peaks pk = {.mem_Bps = h->tiers[0].bandwidth_Bps, .scale_up_Bps = h->scale_up.bandwidth_Bps,
                           .scale_out_Bps = h->scale_out.bandwidth_Bps};
    memcpy(pk.flops, h->peak_flops, sizeof pk.flops);
    return pk;
}

/* The H800 hwmodel with the test fixture as its table. */
static void load_fixture(void)
{
    load_hw("h800");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/unit/model/fixtures/kernels/h800.json", home());
    sim_kernel_peaks pk = peaks_of(&hw);
    sim_err err = {0};
    if (sim_kernel_table_load(&hw.kernels, path, "h800", &pk, &err))
        fail_msg("%s", err.msg);
}

static sim_kernel_query query_of(const sim_kernel_row *r)
{
    return (sim_kernel_query){.op = r->op, .dtype = r->dtype, .variant = r->variant, .link = r->link, .x = r->x,
                              .family = r->family};
}

static void every_row_answers_its_own_shape(const sim_kernel_table *t)
{
    for (int i = 0; i < t->n_rows; i++) {
        const sim_kernel_row *r = &t->rows[i];
        if (!isfinite(r->share))
            continue; /* a latency-only collective */
        sim_kernel_query q = query_of(r);
        sim_kernel_hit hit;
        if (!sim_kernel_lookup(t, &q, &hit))
            fail_msg("%s row %d (%s) does not answer its own shape", t->path, r->index, sim_kernel_op_name(r->op));
        /* the fastest series of the row's family answers: never slower than the row itself,
         * and the row's own share when its series is the only one of that family */
        /* rows of the series at the same coordinate answer their mean */
        double sum = 0;
        int n = 0;
        for (int j = 0; j < t->n_rows; j++)
            if (t->rows[j].op == r->op && t->rows[j].dtype == r->dtype && t->rows[j].variant == r->variant &&
                t->rows[j].link == r->link && t->rows[j].source == r->source && !strcmp(t->rows[j].format, r->format) &&
                fabs(t->rows[j].family - r->family) <= 1e-9 * r->family && fabs(t->rows[j].x - r->x) <= 1e-9 * r->x) {
                sum += t->rows[j].share;
                n++;
            }
        double own = sum / n;
        if (hit.share < own - 1e-12)
            fail_msg("%s row %d: its shape answers %.6g, below its series' %.6g", t->path, r->index, hit.share, own);
        bool alone = true;
        for (int j = 0; j < t->n_rows; j++)
            alone = alone && !(t->rows[j].op == r->op && t->rows[j].dtype == r->dtype && t->rows[j].variant == r->variant &&
                               t->rows[j].link == r->link && fabs(t->rows[j].family - r->family) <= 1e-9 * r->family &&
                               (t->rows[j].source != r->source || strcmp(t->rows[j].format, r->format) != 0));
        if (alone)
            assert_double_equal(hit.share, own, 1e-12);
        /* a share of the link, except NCCL's bus bandwidth (up to twice it with SHARP) and
         * DeepEP's count (copies that stay on the node count too: SIM_KCOUNT_DEEPEP_*) */
        double cap = r->op == SIM_KOP_ALL_REDUCE ? 2.0001 : r->count != SIM_KCOUNT_LINK ? INFINITY : 1.0001;
        assert_true(hit.share > 0 && hit.share <= cap);
    }
}

static void shipped_tables_load(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/hwmodels/kernels", home());
    DIR *d = opendir(dir);
    if (!d)
        skip(); /* no tables shipped yet */
    int loaded = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(n - 5), e->d_name);
        load_hw(name); /* loads the table beside it, checking every row against the device */
        if (hw.kernels.n_rows == 0)
            fail_msg("%s: the table loaded no rows", name);
        every_row_answers_its_own_shape(&hw.kernels);
        loaded++;
    }
    closedir(d);
    if (loaded == 0)
        skip(); /* no table shipped yet */
}

static void fixture_rows_reproduce_their_figures(void **state)
{
    (void)state;
    load_fixture();
    assert_int_equal(hw.kernels.n_rows, 8);
    assert_int_equal(hw.kernels.n_sources, 2);
    every_row_answers_its_own_shape(&hw.kernels);

    /* Contiguous 4 x 8192 rows, 4096 x 7168, 1297 TFLOP/s: compute-bound, so the share is
     * 1297 / 1979 and the GEMM time of one group is 2 m n k / 1297 TFLOP/s. */
    const sim_kernel_row *r = &hw.kernels.rows[0];
    assert_false(r->memory_bound);
    assert_double_equal(r->share, 1297.0 / 1979.0, 1e-12);
    double tc, tm;
    double t = sim_gemm_time(&hw, SIM_DT_FP8, 8192, 4096, 7168, 1.0, true, &tc, &tm);
    double published = 2.0 * 8192 * 4096 * 7168 / 1297e12;
    assert_double_equal(tc, published, published * 1e-9);
    assert_double_equal(t, published + hw.eff.kernel_overhead_s, published * 1e-9);

    /* Masked 4 x 256 rows: 932 TFLOP/s and 2064 GB/s; 2064 / 3350 of the bandwidth is the larger share. */
    r = &hw.kernels.rows[2];
    assert_true(r->memory_bound);
    assert_double_equal(r->share, 2064.0 / 3350.0, 1e-12);

    /* Dense M=64 at 2668 GB/s: memory-bound; its time for the step model's own byte count is
     * those bytes at 2668 GB/s (the fixture's bytes and the step's differ only in activations). */
    t = sim_gemm_time(&hw, SIM_DT_FP8, 64, 7168, 16384, 1.0, false, &tc, &tm);
    double bytes = 7168.0 * 16384 + 64.0 * (7168 + 16384) * 2;
    assert_double_equal(tm, bytes / 2668e9, bytes / 2668e9 * 1e-9);
    assert_true(tm > tc);
}

static void interpolation_is_exact_at_rows_and_monotone_between(void **state)
{
    (void)state;
    load_fixture();
    /* dense fp8 series at n x k = 7168 x 16384: m = 64 (memory-bound share 0.796) and m = 4096 */
    sim_kernel_query q = {.op = SIM_KOP_GEMM, .dtype = SIM_DT_FP8, .family = 7168.0 * 16384};
    sim_kernel_hit lo, hi, h;
    q.x = 64;
    assert_true(sim_kernel_lookup(&hw.kernels, &q, &lo));
    q.x = 4096;
    assert_true(sim_kernel_lookup(&hw.kernels, &q, &hi));
    assert_double_equal(hi.share, 1200.0 / 1979.0, 1e-12);
    double prev = lo.share;
    bool rising = hi.share > lo.share;
    for (double m = 64; m <= 4096; m *= 1.07) {
        q.x = m;
        assert_true(sim_kernel_lookup(&hw.kernels, &q, &h));
        assert_true(rising ? h.share >= prev - 1e-12 : h.share <= prev + 1e-12);
        assert_true(h.share >= fmin(lo.share, hi.share) - 1e-12 && h.share <= fmax(lo.share, hi.share) + 1e-12);
        assert_false(h.held);
        prev = h.share;
    }
    /* halfway in log m is the mean of the two shares */
    q.x = sqrt(64.0 * 4096.0);
    assert_true(sim_kernel_lookup(&hw.kernels, &q, &h));
    assert_double_equal(h.share, 0.5 * (lo.share + hi.share), 1e-12);
}

/* Where a kernel's work grows with x (attention's KV rows), its time between two rows is
 * affine in x, so it never falls as the batch grows: GB200's MLA decode rows rise 29x in share
 * from batch 1 to batch 64 at context 4096 (0.0213 -> 0.0469 ms), and shares linear in log x
 * had made 4 sequences take less than 2. Exact at the rows; the time rises in between. */
static void attention_time_rises_between_rows(void **state)
{
    (void)state;
    load_hw("gb200-nvl72");
    const sim_kernel_row *lo = NULL, *hi = NULL;
    for (int i = 0; i < hw.kernels.n_rows; i++) {
        const sim_kernel_row *r = &hw.kernels.rows[i];
        if (r->op == SIM_KOP_ATTN_DECODE && r->variant == SIM_KATTN_MLA && r->dtype == SIM_DT_FP8 &&
            (r->x == 4096.0 || r->x == 64.0 * 4096))
            *(r->x == 4096.0 ? &lo : &hi) = r;
    }
    assert_non_null(lo);
    assert_non_null(hi);
    sim_kernel_query q = {.op = SIM_KOP_ATTN_DECODE, .dtype = SIM_DT_FP8, .variant = SIM_KATTN_MLA,
                          .family = lo->family};
    sim_kernel_hit h;
    double t0 = lo->x / lo->share, t1 = hi->x / hi->share, prev = 0;
    for (double x = lo->x; x <= hi->x * (1 + 1e-12); x *= 1.05) {
        q.x = x;
        assert_true(sim_kernel_lookup(&hw.kernels, &q, &h));
        double t = x / h.share;
        assert_true(t >= prev * (1 - 1e-12));
        /* the alpha-beta line through the two rows */
        assert_double_equal(t, t0 + (t1 - t0) * (x - lo->x) / (hi->x - lo->x), 1e-9 * t1);
        prev = t;
    }
}

static void shares_are_held_only_where_physics_allows(void **state)
{
    (void)state;
    load_fixture();
    sim_kernel_query q = {.op = SIM_KOP_GEMM, .dtype = SIM_DT_FP8, .family = 7168.0 * 16384};
    sim_kernel_hit h;
    /* below a memory-bound first row: its bandwidth share is held */
    q.x = 4;
    assert_true(sim_kernel_lookup(&hw.kernels, &q, &h));
    assert_true(h.held);
    assert_double_equal(h.share, hw.kernels.rows[3].share, 1e-12);
    /* above a compute-bound last row: held too */
    q.x = 65536;
    assert_true(sim_kernel_lookup(&hw.kernels, &q, &h));
    assert_true(h.held);
    /* within 25% beyond an edge: covered, not held */
    q.x = 4096 * 1.2;
    assert_true(sim_kernel_lookup(&hw.kernels, &q, &h));
    assert_false(h.held);
    /* grouped fp8 at 4096 x 7168: the masked row (256 rows) and the contiguous one (8192 rows)
     * are one series, so 2048 rows interpolates between them */
    sim_kernel_query g = {.op = SIM_KOP_GROUPED_GEMM, .dtype = SIM_DT_FP8, .family = 4096.0 * 7168, .x = 2048};
    assert_true(sim_kernel_lookup(&hw.kernels, &g, &h));
    assert_false(h.held);
    assert_true(h.share > fmin(hw.kernels.rows[0].share, hw.kernels.rows[2].share) &&
                h.share < fmax(hw.kernels.rows[0].share, hw.kernels.rows[2].share));
    /* the down projection's series (one compute-bound row at 4096 rows of 7168 x 2048): far
     * below it nothing of that family covers, so the nearest covering family answers */
    g.family = 7168.0 * 2048;
    g.x = 8;
    assert_true(sim_kernel_lookup(&hw.kernels, &g, &h));
    assert_true(h.held);
    assert_double_equal(h.share, hw.kernels.rows[2].share, 1e-12); /* the masked row, held below */
    /* a collective: above its largest message its share is held (a lower bound: the fixed
     * cost weighs less as the message grows), below its smallest it is not */
    const sim_kernel_row *a2a = NULL;
    for (int i = 0; i < hw.kernels.n_rows; i++)
        if (hw.kernels.rows[i].op == SIM_KOP_ALL_TO_ALL)
            a2a = &hw.kernels.rows[i];
    assert_non_null(a2a);
    sim_kernel_query c = query_of(a2a);
    c.x = a2a->x * 4;
    assert_true(sim_kernel_lookup(&hw.kernels, &c, &h));
    assert_true(h.held);
    assert_double_equal(h.share, a2a->share, 1e-12);
    c.x = a2a->x / 4;
    assert_false(sim_kernel_lookup(&hw.kernels, &c, &h));
    /* a type with no rows, or an op with none, is not covered */
    sim_kernel_query none = {.op = SIM_KOP_GEMM, .dtype = SIM_DT_BF16, .family = 1e7, .x = 64};
    assert_false(sim_kernel_lookup(&hw.kernels, &none, &h));
    none.op = SIM_KOP_ATTN_PREFILL;
    assert_false(sim_kernel_lookup(&hw.kernels, &none, &h));
}

static void a_device_without_a_table_uses_its_curves(void **state)
{
    (void)state;
    load_hw("rpi5");
    assert_string_equal(hw.kernels.path, "");
    assert_int_equal(hw.kernels.n_rows, 0);
    double tc;
    sim_gemm_time(&hw, SIM_DT_FP32, 128, 1024, 1024, 4.0, false, &tc, NULL);
    double eta = sim_curve_at(hw.eff.gemm[SIM_DT_FP32], 128);
    assert_double_equal(tc, 2.0 * 128 * 1024 * 1024 / (hw.peak_flops[SIM_DT_FP32] * eta), 1e-15);
}

/* The step model names a measured basis where the table covers the shape, and the curves
 * elsewhere: DeepSeek-V3's expert GEMMs in FP8 on the fixture's H800 rest on DeepGEMM. */
static void the_step_names_its_basis(void **state)
{
    (void)state;
    load_fixture();
    static sim_model m;
    sim_err err = {0};
    if (sim_registry_model("deepseek-v3", &m, &err))
        fail_msg("%s", err.msg);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.expert_fmt = d.shared_fmt = d.dense_fmt = SIM_WF_FP8;
    sim_memfit fit;
    memset(&fit, 0, sizeof fit);
    fit.fits = true;
    fit.expert_frac[0] = fit.other_frac[0] = 1;
    sim_step_result r;
    if (sim_moe_layer_eval(&d, &fit, 2048, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.basis[SIM_LK_EXPERTS], SIM_BASIS_MEASURED);
    assert_string_equal(sim_step_basis_key(&r, d.hw, SIM_LK_EXPERTS), "deepgemm-readme");
    assert_true(r.basis_held[SIM_LK_EXPERTS]); /* 64 rows per expert: below the masked row's 256, memory-bound */
    assert_int_equal(r.basis[SIM_LK_ROUTER], SIM_BASIS_PRIOR);

    /* EP8 prefill over NVLink at 4096 tokens per rank: the fixture has DeepEP's normal-mode
     * dispatch row but no combine row, so the exchange is partly measured */
    sim_deploy ep8 = d;
    ep8.ep = 8, ep8.dp = 8, ep8.gpus = 8;
    if (sim_moe_layer_eval(&ep8, &fit, 8 * 4096, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.basis[SIM_LK_EP_COMM], SIM_BASIS_MIXED);
    assert_string_equal(sim_step_basis_key(&r, ep8.hw, SIM_LK_EP_COMM), "deepgemm-readme");

    /* a TP all-reduce of the fixture's 8 MiB over 8 ranks takes the buffer's 2(n-1)/n at the
     * measured 150 GB/s bus bandwidth; 1 MiB, far below the row, stays on the prior */
    sim_kernel_hit ar;
    double t_ar = sim_comm_allreduce_hit_s(&hw, 8, 8388608, &ar);
    assert_double_equal(t_ar, 2.0 * 7 / 8 * 8388608 / 150e9, 1e-15);
    assert_true(ar.share > 0);
    assert_double_equal(sim_comm_allreduce_hit_s(&hw, 8, 1048576, &ar), sim_comm_allreduce_s(&hw, 8, 1048576), 1e-15);
    assert_true(ar.share == 0);

    /* the same layer without the table: the curves, and another time */
    double measured = r.by_kind_s[SIM_LK_EXPERTS];
    memset(&hw.kernels, 0, sizeof hw.kernels);
    if (sim_moe_layer_eval(&d, &fit, 2048, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.basis[SIM_LK_EXPERTS], SIM_BASIS_PRIOR);
    assert_true(fabs(r.by_kind_s[SIM_LK_EXPERTS] - measured) > 1e-3 * measured);
}

/* MLA prefill reads the `mla` attn_prefill rows (the up-projected context kernel): DeepSeek-V3
 * on the shipped B200 table at 4 prompts of 4096 tokens, whose 2048 keys per query is the
 * x of its 4 x 4096 row, costs the attention core at that row's share. */
static void mla_prefill_reads_the_mla_rows(void **state)
{
    (void)state;
    load_hw("b200");
    int row = -1;
    for (int i = 0; i < hw.kernels.n_rows; i++)
        if (hw.kernels.rows[i].op == SIM_KOP_ATTN_PREFILL && hw.kernels.rows[i].variant == SIM_KATTN_MLA &&
            hw.kernels.rows[i].dtype == SIM_DT_BF16 && fabs(hw.kernels.rows[i].x - 2048) < 1e-9)
            row = i;
    if (row < 0)
        skip(); /* the shipped table has no MLA context row at 2048 keys per query */
    static sim_model m;
    sim_err err = {0};
    if (sim_registry_model("deepseek-v3", &m, &err))
        fail_msg("%s", err.msg);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.expert_fmt = d.shared_fmt = d.dense_fmt = SIM_WF_FP8;
    sim_memfit fit;
    memset(&fit, 0, sizeof fit);
    fit.fits = true;
    fit.expert_frac[0] = fit.other_frac[0] = 1;
    sim_step_shape s = {.prefill_tokens = 4 * 4096, .prefill_ctx = 2048, .prefill_seqs = 4};
    sim_step_result r;
    if (sim_step_eval(&d, &fit, &s, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.basis[SIM_LK_ATTN_CORE], SIM_BASIS_MEASURED);
    const char *key = sim_step_basis_key(&r, d.hw, SIM_LK_ATTN_CORE);
    assert_non_null(key);
    assert_string_equal(hw.kernels.sources[hw.kernels.rows[row].source].key, key);
    assert_false(r.basis_held[SIM_LK_ATTN_CORE]);

    /* without the table the same step is on the prior, and takes another time */
    double measured = r.by_kind_s[SIM_LK_ATTN_CORE];
    memset(&hw.kernels, 0, sizeof hw.kernels);
    if (sim_step_eval(&d, &fit, &s, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.basis[SIM_LK_ATTN_CORE], SIM_BASIS_PRIOR);
    assert_true(fabs(r.by_kind_s[SIM_LK_ATTN_CORE] - measured) > 1e-3 * measured);
}

/* Decode asks the low-latency all-to-all rows and, where none covers, the normal ones: the
 * shipped GB200 table's TensorRT-LLM NVLink alltoall (one kernel for both phases, recorded as
 * normal) answers a DeepSeek-V3 decode step at EP16, which no low-latency row reaches. */
static void decode_falls_back_to_normal_a2a_rows(void **state)
{
    (void)state;
    load_hw("gb200-nvl72");
    static sim_model m;
    sim_err err = {0};
    if (sim_registry_model("deepseek-v3", &m, &err))
        fail_msg("%s", err.msg);
    sim_kernel_query ll = {.op = SIM_KOP_ALL_TO_ALL, .link = SIM_KLINK_NVLINK, .variant = 0 * 2 + 1, .x = 64, .family = 16};
    sim_kernel_query normal = ll;
    normal.variant = 0 * 2 + 0;
    sim_kernel_hit h;
    if (sim_kernel_lookup(&hw.kernels, &ll, &h) || !sim_kernel_lookup(&hw.kernels, &normal, &h))
        skip(); /* the shipped table no longer has this shape */
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.expert_fmt = d.shared_fmt = d.dense_fmt = SIM_WF_NVFP4;
    d.ep = 16, d.dp = 16, d.gpus = 16;
    sim_memfit fit;
    memset(&fit, 0, sizeof fit);
    fit.fits = true;
    fit.expert_frac[0] = fit.other_frac[0] = 1;
    sim_step_shape s = {.decode_seqs = 64, .decode_ctx = 2048};
    sim_step_result r;
    if (sim_step_eval(&d, &fit, &s, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.basis[SIM_LK_EP_COMM], SIM_BASIS_MEASURED);
    assert_string_equal(sim_step_basis_key(&r, d.hw, SIM_LK_EP_COMM), hw.kernels.sources[h.source].key);
}

/* BF16 attention reads FP16 rows where the device's peaks for the two are equal: MI300X's
 * only MLA decode figures (AITER's assembly kernel) were published in FP16. */
static void bf16_attention_reads_fp16_rows_at_equal_peaks(void **state)
{
    (void)state;
    load_hw("mi300x");
    assert_true(hw.peak_flops[SIM_DT_FP16] == hw.peak_flops[SIM_DT_BF16]);
    int row = -1;
    for (int i = 0; i < hw.kernels.n_rows; i++)
        if (hw.kernels.rows[i].op == SIM_KOP_ATTN_DECODE && hw.kernels.rows[i].variant == SIM_KATTN_MLA &&
            hw.kernels.rows[i].dtype == SIM_DT_FP16 && fabs(hw.kernels.rows[i].x - 64.0 * 4096) < 1e-6)
            row = i;
    if (row < 0)
        skip(); /* the shipped table no longer has this shape */
    static sim_model m;
    sim_err err = {0};
    if (sim_registry_model("deepseek-v3", &m, &err))
        fail_msg("%s", err.msg);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.expert_fmt = d.shared_fmt = d.dense_fmt = SIM_WF_FP8;
    d.kv_fmt = SIM_WF_BF16;
    d.ep = 8, d.dp = 8, d.gpus = 8;
    sim_memfit fit;
    memset(&fit, 0, sizeof fit);
    fit.fits = true;
    fit.expert_frac[0] = fit.other_frac[0] = 1;
    sim_step_shape s = {.decode_seqs = 64, .decode_ctx = 4096};
    sim_step_result r;
    if (sim_step_eval(&d, &fit, &s, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.basis[SIM_LK_ATTN_CORE], SIM_BASIS_MEASURED);
    assert_string_equal(sim_step_basis_key(&r, d.hw, SIM_LK_ATTN_CORE),
                        hw.kernels.sources[hw.kernels.rows[row].source].key);
}

/* aiconfigurator's fused-MoE rows time a whole MoE module (top-k, permutation, both GEMMs,
 * activation, finalize): on that basis the router keeps only its norm and gate GEMM, so it
 * must cost less than the same layer's router on the curves, where it pays the top-k, the
 * permutation of top_k copies of every token and the combine itself. */
static void a_fused_moe_row_holds_the_routing(void **state)
{
    (void)state;
    load_hw("b200");
    static sim_model m;
    sim_err err = {0};
    if (sim_registry_model("deepseek-v3", &m, &err))
        fail_msg("%s", err.msg);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.expert_fmt = d.shared_fmt = d.dense_fmt = SIM_WF_FP8;
    d.ep = d.dp = d.gpus = 8;
    sim_memfit fit;
    memset(&fit, 0, sizeof fit);
    fit.fits = true;
    fit.expert_frac[0] = fit.other_frac[0] = 1;
    sim_step_result r;
    if (sim_moe_layer_eval(&d, &fit, 8 * 512, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.basis[SIM_LK_EXPERTS], SIM_BASIS_MEASURED);
    assert_string_equal(sim_step_basis_key(&r, d.hw, SIM_LK_EXPERTS), "aic-moe");
    double router_fused = r.by_kind_s[SIM_LK_ROUTER];

    sim_kernel_query q = {.op = SIM_KOP_GROUPED_GEMM, .dtype = SIM_DT_FP8, .x = 16, .family = 2.0 * 2048 * 7168};
    sim_kernel_hit hit;
    assert_true(sim_kernel_lookup(&hw.kernels, &q, &hit));
    assert_true(hit.fused_moe);

    memset(&hw.kernels, 0, sizeof hw.kernels);
    if (sim_moe_layer_eval(&d, &fit, 8 * 512, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.basis[SIM_LK_EXPERTS], SIM_BASIS_PRIOR);
    /* 512 tokens x 8 copies x 7168 x 4 bytes = 117 MB more on the curves: far above the gate */
    assert_true(r.by_kind_s[SIM_LK_ROUTER] > 2 * router_fused);
}

/* ---- bad tables ---------------------------------------------------------------------- */

static char tmp_path[256];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmp_path, sizeof tmp_path, "/tmp/moesim_test_kernels_%d.json", (int)getpid());
    return 0;
}

static int teardown_tmp(void **state)
{
    (void)state;
    unlink(tmp_path);
    return 0;
}

/* C(n, k) as a double (n up to a few hundred, k small) */
static double choose(double n, double k)
{
    return k < 0 || k > n ? 0 : exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1));
}

/* Expected distinct nodes of DeepEP's internode test, by inclusion-exclusion (independent of
 * the loader's recurrence): P(D = d) = C(n, d) sum_j (-1)^j C(d, j) C((d - j) m, k) / C(E, k),
 * and the test's group limit takes min(g, D). */
static double nodes_by_inclusion_exclusion(int E, int k, int n, int g)
{
    double m = (double)E / n, e = 0;
    for (int d = 1; d <= n; d++) {
        double onto = 0;
        for (int j = 0; j <= d; j++)
            onto += (j % 2 ? -1 : 1) * choose(d, j) * choose((d - j) * m, k);
        e += (d < g ? d : g) * choose(n, d) * onto / choose(E, k);
    }
    return e;
}

/* DeepEP's internode rows (the shipped H800 table, read by DeepEP's byte count): at each
 * row's shape, DeepEP's bytes over the row's share of the NIC give back the published time:
 * the latency of a low-latency row, DeepEP's bytes / GB/s of a normal one. */
static void deepep_rdma_rows_give_back_their_published_time(void **state)
{
    (void)state;
    /* the node count against an independent formula; EP16 and EP32 pick among all nodes (the
     * uniform closed form), EP64 among the best 4 of 8 */
    for (int n = 2; n <= 8; n *= 2) /* the rows span 2-8 nodes (the alternating sum loses digits beyond) */
        assert_double_equal(sim_kernel_deepep_nodes(256, 8, n, n < 4 ? n : 4), nodes_by_inclusion_exclusion(256, 8, n, n < 4 ? n : 4),
                            1e-9);
    assert_double_equal(sim_kernel_deepep_nodes(256, 8, 2, 2), 2 * (1 - choose(128, 8) / choose(256, 8)), 1e-12);
    assert_double_equal(sim_kernel_deepep_nodes(256, 8, 4, 4), 4 * (1 - choose(192, 8) / choose(256, 8)), 1e-12);
    assert_true(sim_kernel_deepep_nodes(256, 8, 8, 4) < 4 && sim_kernel_deepep_nodes(256, 8, 8, 4) > 3.9);

    load_hw("h800");
    const sim_kernel_table *t = &hw.kernels;
    double bw = hw.scale_out.bandwidth_Bps;
    int normal = 0, low_latency = 0;
    for (int i = 0; i < t->n_rows; i++) {
        const sim_kernel_row *r = &t->rows[i];
        if (r->op != SIM_KOP_ALL_TO_ALL || r->link != SIM_KLINK_RDMA || r->count == SIM_KCOUNT_LINK)
            continue;
        bool fp8 = r->dtype == SIM_DT_FP8;
        double h = 7168, per, want;
        sim_kernel_hit hit;
        sim_kernel_query q = query_of(r);
        assert_true(sim_kernel_lookup(t, &q, &hit));
        assert_int_equal(hit.count, r->count);
        if (r->count == SIM_KCOUNT_DEEPEP_NODES) { /* 4096 tokens, 8 ranks per node, top-4 node groups */
            int nodes = (int)r->family / 8;
            per = fp8 ? h * (1 + 4.0 / 128) : 2 * h;
            double bytes = 4096 * nodes_by_inclusion_exclusion(256, 8, nodes, nodes < 4 ? nodes : 4) * per;
            double gbps = (int)r->family == 16 ? 43 : (int)r->family == 32 ? (fp8 ? 58 : 57) : (fp8 ? 51 : 50);
            want = bytes / (gbps * 1e9);
            assert_double_equal(bytes / (hit.share * bw), want, 1e-9 * want);
            normal++;
        } else { /* 128 tokens x top-8 selections */
            per = fp8 ? h + h / 128 * 4 + 16 : 2 * h;
            double bytes = 128 * 8 * per;
            want = r->time_s;
            assert_double_equal(bytes / (hit.share * bw), want, 1e-9 * want);
            /* the published latencies, dispatch and combine, by EP */
            static const int eps[] = {16, 32, 64, 128, 256};
            static const double lat_d[] = {118, 155, 173, 192, 194}, lat_c[] = {195, 273, 314, 369, 360};
            bool found = false;
            for (int e = 0; e < 5; e++)
                if ((int)r->family == eps[e]) {
                    assert_double_equal(want, (fp8 ? lat_d[e] : lat_c[e]) * 1e-6, 1e-15);
                    found = true;
                }
            assert_true(found);
            low_latency++;
        }
        assert_double_equal(r->time_s, want, 1e-9 * want);
    }
    assert_int_equal(normal, 6);      /* EP16, 32, 64 x dispatch, combine */
    assert_int_equal(low_latency, 10); /* EP16 ... 256 x both (EP8 is one node: NVLink, not read) */

    /* the step model at a row's shape: DeepSeek-V3 (hidden 7168, top-8 of 256) at EP32 on
     * H800s, 4096 tokens per rank, uniform routing (so a token reaches the nodes DeepEP's
     * test routes it to: all 4 node groups allowed), prefill (the normal kernels): the
     * exchange takes the published dispatch time plus the published combine time */
    static sim_model m;
    sim_err err = {0};
    if (sim_registry_model("deepseek-v3", &m, &err))
        fail_msg("%s", err.msg);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, &hw);
    d.expert_fmt = d.dense_fmt = SIM_WF_FP8;
    d.dispatch_fmt = SIM_WF_FP8;
    d.ep = 32, d.dp = 32, d.gpus = 32, d.tp = 1;
    d.skew = 0, d.redundant_experts = 0, d.eplb = false;
    sim_memfit fit;
    memset(&fit, 0, sizeof fit);
    fit.fits = true;
    fit.expert_frac[0] = fit.other_frac[0] = 1;
    sim_step_result res;
    if (sim_moe_layer_eval(&d, &fit, 32 * 4096, &res, &err))
        fail_msg("%s", err.msg);
    double nodes = 4 * (1 - choose(192, 8) / choose(256, 8));
    double published = 4096 * nodes * 7168 * (1 + 4.0 / 128) / 58e9 + 4096 * nodes * 7168 * 2 / 57e9;
    assert_double_equal(res.by_kind_s[SIM_LK_EP_COMM], published, 1e-9 * published);
    assert_int_equal(res.basis[SIM_LK_EP_COMM], SIM_BASIS_MEASURED);
    assert_string_equal(sim_step_basis_key(&res, d.hw, SIM_LK_EP_COMM), "deepep-v1");

    /* the H100 takes the H800's RDMA rows (same NIC), not its NVLink ones */
    load_hw("h100-sxm");
    bool rdma = false, h800_nvlink = false;
    for (int i = 0; i < hw.kernels.n_rows; i++) {
        const sim_kernel_row *r = &hw.kernels.rows[i];
        bool from_h800 = strncmp(hw.kernels.sources[r->source].key, "h800/", 5) == 0;
        rdma = rdma || (r->op == SIM_KOP_ALL_TO_ALL && from_h800 && r->link == SIM_KLINK_RDMA);
        h800_nvlink = h800_nvlink || (r->op == SIM_KOP_ALL_TO_ALL && from_h800 && r->link != SIM_KLINK_RDMA);
    }
    assert_true(rdma);
    assert_false(h800_nvlink);
}

/* Load `rows` (the text of the rows array) in a table with one source `s`; expect a refusal
 * whose message holds each of the NULL-terminated `needles`. */
static void expect_refused(const char *rows, ...)
{
    FILE *f = fopen(tmp_path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"schema\": \"moesim-kernels/1\", \"device\": \"h800\", \"sources\": {\"s\": {\"title\": \"t\", "
            "\"url\": \"u\", \"date\": \"2025\", \"library\": \"l\"}}, \"rows\": [%s]}",
            rows);
    fclose(f);
    load_hw("h800");
    sim_kernel_peaks pk = peaks_of(&hw);
    sim_err err = {0};
    int rc = sim_kernel_table_load(&table, tmp_path, "h800", &pk, &err);
    if (rc != SIM_EINPUT)
        fail_msg("accepted: %s", rows);
    assert_non_null(strstr(err.msg, tmp_path));
    va_list ap;
    va_start(ap, rows);
    for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
        if (!strstr(err.msg, n))
            fail_msg("message '%s' lacks '%s'", err.msg, n);
    va_end(ap);
    assert_int_equal(table.n_rows, 0); /* nothing half-loaded */
}

#define GOOD_GEMM "{\"op\": \"gemm\", \"dtype\": \"fp8\", \"m\": 64, \"n\": 4096, \"k\": 4096, \"tflops\": 100, \"source\": \"s\"}"

static void malformed_rows_are_named(void **state)
{
    (void)state;
    expect_refused(GOOD_GEMM ", {\"op\": \"gemm\", \"dtype\": \"fp8\", \"m\": 64, \"n\": 4096, \"k\": 4096, "
                   "\"tflops\": 100, \"source\": \"s\", \"speed\": 3}",
                   "rows[1]", "speed", NULL);
    expect_refused("{\"op\": \"gemm\", \"dtype\": \"fp8\", \"m\": 64, \"n\": 4096, \"k\": 4096, \"tflops\": 100}",
                   "rows[0].source", "missing", NULL);
    expect_refused("{\"op\": \"gemm\", \"dtype\": \"fp8\", \"m\": 64, \"n\": 4096, \"k\": 4096, \"tflops\": 100, "
                   "\"source\": \"nowhere\"}",
                   "rows[0].source", "sources", NULL);
    expect_refused("{\"op\": \"gemm\", \"dtype\": \"fp8\", \"m\": 64, \"n\": 4096, \"k\": 4096, \"tflops\": 2500, "
                   "\"source\": \"s\"}",
                   "rows[0].tflops", "exceeds", "peak", NULL);
    expect_refused("{\"op\": \"gemm\", \"dtype\": \"fp4\", \"m\": 64, \"n\": 4096, \"k\": 4096, \"tflops\": 100, "
                   "\"source\": \"s\"}",
                   "rows[0].dtype", "no peak", NULL);
    expect_refused("{\"op\": \"gemm\", \"dtype\": \"fp8\", \"m\": 64, \"n\": 4096, \"k\": 4096, \"source\": \"s\"}",
                   "rows[0].tflops", "gbps", NULL);
    expect_refused("{\"op\": \"gemm\", \"dtype\": \"fp8\", \"m\": -1, \"n\": 4096, \"k\": 4096, \"tflops\": 10, "
                   "\"source\": \"s\"}",
                   "rows[0].m", "positive", NULL);
    expect_refused("{\"op\": \"conv\", \"source\": \"s\"}", "rows[0].op", "grouped_gemm", NULL);
    expect_refused("{\"op\": \"gemm\", \"dtype\": \"fp8\", \"layout\": \"fused-moe\", \"m\": 64, \"n\": 4096, "
                   "\"k\": 4096, \"tflops\": 100, \"source\": \"s\"}",
                   "rows[0].layout", "grouped_gemm", NULL);
    expect_refused("{\"op\": \"grouped_gemm\", \"dtype\": \"fp8\", \"layout\": \"ragged\", \"groups\": 4, "
                   "\"m\": 64, \"n\": 4096, \"k\": 4096, \"tflops\": 100, \"source\": \"s\"}",
                   "rows[0].layout", "fused-moe", NULL);
    expect_refused("{\"op\": \"grouped_gemm\", \"dtype\": \"fp8\", \"m\": 64, \"n\": 4096, \"k\": 4096, "
                   "\"tflops\": 10, \"source\": \"s\"}",
                   "rows[0].groups", NULL);
    expect_refused("{\"op\": \"all_to_all\", \"phase\": \"dispatch\", \"mode\": \"normal\", \"transport\": \"nvlink\", "
                   "\"ep\": 8, \"tokens\": 4096, \"hidden\": 7168, \"top_k\": 8, \"gbps\": 900, \"source\": \"s\"}",
                   "rows[0].gbps", "exceeds", NULL);
    /* DeepEP's count: over RDMA only, its fields required, latency and GB/s consistent */
    expect_refused("{\"op\": \"all_to_all\", \"phase\": \"dispatch\", \"mode\": \"normal\", \"transport\": \"nvlink\", "
                   "\"ep\": 8, \"tokens\": 4096, \"hidden\": 7168, \"top_k\": 8, \"gbps\": 150, \"byte_count\": \"deepep\", "
                   "\"source\": \"s\"}",
                   "rows[0].byte_count", "rdma", NULL);
    expect_refused("{\"op\": \"all_to_all\", \"phase\": \"dispatch\", \"mode\": \"normal\", \"transport\": \"rdma\", "
                   "\"ep\": 32, \"tokens\": 4096, \"hidden\": 7168, \"top_k\": 8, \"dtype\": \"fp8\", \"gbps\": 58, "
                   "\"byte_count\": \"deepep\", \"experts\": 256, \"topk_groups\": 4, \"source\": \"s\"}",
                   "rows[0].ranks_per_node", "missing", NULL);
    expect_refused("{\"op\": \"all_to_all\", \"phase\": \"dispatch\", \"mode\": \"normal\", \"transport\": \"rdma\", "
                   "\"ep\": 32, \"tokens\": 4096, \"hidden\": 7168, \"top_k\": 8, \"dtype\": \"fp8\", \"gbps\": 58, "
                   "\"byte_count\": \"deepep\", \"ranks_per_node\": 32, \"experts\": 256, \"topk_groups\": 4, "
                   "\"source\": \"s\"}",
                   "rows[0].ranks_per_node", "2 or more nodes", NULL);
    expect_refused("{\"op\": \"all_to_all\", \"phase\": \"dispatch\", \"mode\": \"low_latency\", \"transport\": \"rdma\", "
                   "\"ep\": 64, \"tokens\": 128, \"hidden\": 7168, \"top_k\": 8, \"dtype\": \"fp8\", \"gbps\": 43, "
                   "\"byte_count\": \"deepep\", \"source\": \"s\"}",
                   "rows[0].latency_us", "missing", NULL);
    expect_refused("{\"op\": \"all_to_all\", \"phase\": \"dispatch\", \"mode\": \"low_latency\", \"transport\": \"rdma\", "
                   "\"ep\": 64, \"tokens\": 128, \"hidden\": 7168, \"top_k\": 8, \"dtype\": \"fp8\", \"gbps\": 60, "
                   "\"latency_us\": 173, \"byte_count\": \"deepep\", \"source\": \"s\"}",
                   "rows[0].gbps", "disagrees", NULL);
    expect_refused("{\"op\": \"all_to_all\", \"phase\": \"dispatch\", \"mode\": \"low_latency\", \"transport\": \"rdma\", "
                   "\"ep\": 64, \"tokens\": 128, \"hidden\": 7168, \"top_k\": 8, \"dtype\": \"fp8\", "
                   "\"latency_us\": 173, \"byte_count\": \"mori\", \"source\": \"s\"}",
                   "rows[0].byte_count", "deepep", NULL);
    expect_refused("{\"op\": \"attn_decode\", \"kind\": \"mla\", \"dtype\": \"bf16\", \"batch\": 64, \"seqlen\": 4096, "
                   "\"heads\": 128, \"head_dim\": 576, \"tflops\": 100, \"source\": \"s\"}",
                   "rows[0].context", NULL);
}

static void bad_headers_are_named(void **state)
{
    (void)state;
    FILE *f = fopen(tmp_path, "w");
    assert_non_null(f);
    fputs("{\"schema\": \"moesim-kernels/1\", \"device\": \"h100-sxm\", \"sources\": {\"s\": {\"title\": \"t\", "
          "\"url\": \"u\", \"date\": \"2025\", \"library\": \"l\"}}, \"rows\": []}",
          f);
    fclose(f);
    load_hw("h800");
    sim_kernel_peaks pk = peaks_of(&hw);
    sim_err err = {0};
    assert_int_equal(sim_kernel_table_load(&table, tmp_path, "h800", &pk, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "device"));
    f = fopen(tmp_path, "w");
    fputs("{\"schema\": \"moesim-kernels/1\", \"device\": \"h800\", \"sources\": {\"s\": {\"title\": \"t\", "
          "\"url\": \"u\", \"library\": \"l\"}}, \"rows\": []}",
          f);
    fclose(f);
    assert_int_equal(sim_kernel_table_load(&table, tmp_path, "h800", &pk, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "sources.s.date"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_tables_load),
        cmocka_unit_test(mla_prefill_reads_the_mla_rows),
        cmocka_unit_test(decode_falls_back_to_normal_a2a_rows),
        cmocka_unit_test(deepep_rdma_rows_give_back_their_published_time),
        cmocka_unit_test(bf16_attention_reads_fp16_rows_at_equal_peaks),
        cmocka_unit_test(fixture_rows_reproduce_their_figures),
        cmocka_unit_test(interpolation_is_exact_at_rows_and_monotone_between),
        cmocka_unit_test(attention_time_rises_between_rows),
        cmocka_unit_test(shares_are_held_only_where_physics_allows),
        cmocka_unit_test(a_device_without_a_table_uses_its_curves),
        cmocka_unit_test(the_step_names_its_basis),
        cmocka_unit_test(a_fused_moe_row_holds_the_routing),
        cmocka_unit_test_setup_teardown(malformed_rows_are_named, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(bad_headers_are_named, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
