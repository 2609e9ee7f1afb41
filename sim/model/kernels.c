/* kernels.c: loading a kernel table (hwmodels/kernels/DEVICE.json) into roofline shares, and
 * the lookup that interpolates them in log-shape. See kernels.h for the share and
 * hwmodels/kernels/SCHEMA.md for the file. */
#include "model/kernels.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/jsonfile.h"

#define SCHEMA_ID "moesim-kernels/1"

/* Beyond a series' first or last point a measured share stands for shapes within this factor. */
#define EDGE_FACTOR 1.25
/* A series stands for shapes whose family (weight size n x k, FLOPs per KV byte, EP size)
 * is within this factor of its own. Small GEMMs are dominated by fixed costs (a 15 MB FP4
 * GEMM at 16 rows takes ~20 us on B200, ten times its bytes at full bandwidth), so their
 * share of the roofline must not be carried to a weight several times larger. */
#define FAMILY_FACTOR 2.0

static const char *const op_names[SIM_KOP_COUNT] = {"gemm",        "grouped_gemm", "attn_decode",
                                                    "attn_prefill", "all_to_all",   "all_reduce"};

const char *sim_kernel_op_name(sim_kernel_op op)
{
    return (int)op >= 0 && op < SIM_KOP_COUNT ? op_names[op] : "?";
}

/* Bytes of one element of a compute type as a kernel streams it (FP4 without its scales). */
static double dtype_bytes(sim_dtype t)
{
    switch (t) {
    case SIM_DT_FP32:
    case SIM_DT_TF32:
        return 4;
    case SIM_DT_BF16:
    case SIM_DT_FP16:
        return 2;
    case SIM_DT_FP8:
    case SIM_DT_INT8:
        return 1;
    case SIM_DT_FP4:
    default:
        return 0.5;
    }
}

/* ---- row fields ------------------------------------------------------------------------ */

typedef struct row_ctx {
    const cJSON *o;
    const char *file;
    char path[48];            /* "rows[12]" */
} row_ctx;

static int bad(const row_ctx *r, const char *field, const char *expected, sim_err *err)
{
    return sim_fail(err, SIM_EINPUT, "%s: %s.%s: %s", r->file, r->path, field, expected);
}

/* A positive finite number (required, or left at *out when absent and optional). */
static int num(const row_ctx *r, const char *key, bool required, double *out, sim_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->o, key);
    if (!v) {
        if (required)
            return bad(r, key, "is missing (expected a positive number)", err);
        return SIM_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble <= 0 || v->valuedouble > 1e15)
        return bad(r, key, "must be a positive number (at most 1e15)", err);
    *out = v->valuedouble;
    return SIM_OK;
}

static int str(const row_ctx *r, const char *key, bool required, char *out, size_t cap, sim_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->o, key);
    if (!v) {
        if (required)
            return bad(r, key, "is missing (expected a string)", err);
        return SIM_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return bad(r, key, "must be a non-empty string", err);
    snprintf(out, cap, "%s", v->valuestring);
    return SIM_OK;
}

/* A string field that must be one of `names` (n of them); *index gets its position. */
static int choice(const row_ctx *r, const char *key, const char *const *names, int n, int *index, sim_err *err)
{
    char s[32] = "", expected[200];
    int len = snprintf(expected, sizeof expected, "must be one of:");
    for (int i = 0; i < n; i++)
        len += snprintf(expected + len, sizeof expected - (size_t)len, " %s", names[i]);
    int rc = str(r, key, true, s, sizeof s, err);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *index = i;
            return SIM_OK;
        }
    return bad(r, key, expected, err);
}

static int dtype_field(const row_ctx *r, bool required, sim_dtype *out, sim_err *err)
{
    const char *names[SIM_DT_COUNT];
    for (int t = 0; t < SIM_DT_COUNT; t++)
        names[t] = sim_dtype_name((sim_dtype)t);
    int i = (int)SIM_DT_BF16;
    if (!required && !cJSON_GetObjectItemCaseSensitive(r->o, "dtype")) {
        *out = SIM_DT_BF16;
        return SIM_OK;
    }
    int rc = choice(r, "dtype", names, SIM_DT_COUNT, &i, err);
    *out = (sim_dtype)i;
    return rc;
}

/* ---- rows by operation ---------------------------------------------------------------- */

/* The achieved FLOP/s and B/s of a row from what it publishes (tflops, gbps or both) and the
 * FLOPs and bytes of its shape; the share against the device's peaks. */
static int fill_share(const row_ctx *r, sim_kernel_row *row, const sim_kernel_peaks *pk, sim_err *err)
{
    double tflops = NAN, gbps = NAN;
    int rc;
    if ((rc = num(r, "tflops", false, &tflops, err)) || (rc = num(r, "gbps", false, &gbps, err)))
        return rc;
    if (isnan(tflops) && isnan(gbps))
        return bad(r, "tflops", "is missing (a row needs 'tflops' or 'gbps')", err);
    double peak = pk->flops[row->dtype];
    if (peak <= 0)
        return bad(r, "dtype", "names a type this device has no peak for (its hwmodel lists none)", err);
    double t = !isnan(tflops) ? row->flops / (tflops * 1e12) : row->bytes / (gbps * 1e9);
    double fps = !isnan(tflops) ? tflops * 1e12 : row->flops / t;
    double bps = !isnan(gbps) ? gbps * 1e9 : row->bytes / t;
    if (fps > peak * 1.0001) {
        char msg[160];
        snprintf(msg, sizeof msg, "%.4g TFLOP/s exceeds the device's %s peak of %.4g TFLOP/s", fps / 1e12,
                 sim_dtype_name(row->dtype), peak / 1e12);
        return bad(r, isnan(tflops) ? "gbps" : "tflops", msg, err);
    }
    if (bps > pk->mem_Bps * 1.0001) {
        char msg[160];
        snprintf(msg, sizeof msg, "%.4g GB/s exceeds the device's memory bandwidth of %.4g GB/s", bps / 1e9,
                 pk->mem_Bps / 1e9);
        return bad(r, isnan(gbps) ? "tflops" : "gbps", msg, err);
    }
    double cs = fps / peak, ms = bps / pk->mem_Bps;
    row->share = cs > ms ? cs : ms;
    row->memory_bound = ms > cs;
    return SIM_OK;
}

static int gemm_row(const row_ctx *r, sim_kernel_row *row, const sim_kernel_peaks *pk, sim_err *err)
{
    static const char *const keys[] = {"op", "dtype", "format", "layout", "groups", "m", "n", "k", "tflops", "gbps",
                                       "library_kernel", "source", "note", NULL};
    double m = 0, n = 0, k = 0, groups = 1;
    int rc;
    if ((rc = sim_json_check_keys(r->o, keys, r->file, r->path, err)) || (rc = dtype_field(r, true, &row->dtype, err)) ||
        (rc = num(r, "m", true, &m, err)) || (rc = num(r, "n", true, &n, err)) || (rc = num(r, "k", true, &k, err)) ||
        (rc = num(r, "groups", row->op == SIM_KOP_GROUPED_GEMM, &groups, err)) ||
        (rc = str(r, "format", false, row->format, sizeof row->format, err)))
        return rc;
    if (cJSON_GetObjectItemCaseSensitive(r->o, "layout")) {
        static const char *const layouts[] = {"contiguous", "masked", "fused-moe"};
        int layout = 0;
        if ((rc = choice(r, "layout", layouts, 3, &layout, err)))
            return rc;
        if (layout == 2 && row->op != SIM_KOP_GROUPED_GEMM)
            return bad(r, "layout", "fused-moe is a grouped_gemm layout (a whole MoE module)", err);
        row->fused_moe = layout == 2;
    }
    double a = dtype_bytes(row->dtype);
    row->x = m;
    row->family = n * k;
    row->flops = 2 * groups * m * n * k;
    row->bytes = groups * (m * k * a + n * k * a + m * n * 2.0); /* inputs and weights in the type, BF16 out */
    return fill_share(r, row, pk, err);
}

static int attn_row(const row_ctx *r, sim_kernel_row *row, const sim_kernel_peaks *pk, sim_err *err)
{
    static const char *const keys[] = {"op", "kind", "dtype", "batch", "context", "seqlen", "heads", "kv_heads",
                                       "head_dim", "head_dim_v", "q_len", "causal", "tflops", "gbps",
                                       "library_kernel", "source", "note", NULL};
    static const char *const kinds[] = {"mha", "gqa", "mla"};
    bool decode = row->op == SIM_KOP_ATTN_DECODE;
    int kind = 0, rc;
    double batch = 0, ctx = 0, heads = 0, kvh = 0, hd = 0, hdv = 0, q_len = 1;
    if ((rc = sim_json_check_keys(r->o, keys, r->file, r->path, err)) ||
        (rc = choice(r, "kind", kinds, 3, &kind, err)) || (rc = dtype_field(r, true, &row->dtype, err)) ||
        (rc = num(r, "batch", true, &batch, err)) || (rc = num(r, decode ? "context" : "seqlen", true, &ctx, err)) ||
        (rc = num(r, "heads", true, &heads, err)) || (rc = num(r, "head_dim", true, &hd, err)) ||
        (rc = num(r, "kv_heads", false, &kvh, err)) || (rc = num(r, "head_dim_v", false, &hdv, err)) ||
        (rc = num(r, "q_len", false, &q_len, err)))
        return rc;
    if (cJSON_GetObjectItemCaseSensitive(r->o, decode ? "seqlen" : "context"))
        return bad(r, decode ? "seqlen" : "context",
                   decode ? "belongs to attn_prefill (decode rows give 'context')"
                          : "belongs to attn_decode (prefill rows give 'seqlen')", err);
    bool causal = true;
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(r->o, "causal");
    if (cv && !cJSON_IsBool(cv))
        return bad(r, "causal", "must be true or false", err);
    if (cv)
        causal = cJSON_IsTrue(cv);
    row->variant = kind;
    if (kvh <= 0) /* MLA decodes on one shared latent row; it prefills up-projected, K and V per head */
        kvh = kind == SIM_KATTN_MLA && decode ? 1 : heads;
    if (hdv <= 0)
        hdv = hd;
    double kvb = dtype_bytes(row->dtype);
    if (decode) {
        /* MLA: one latent row of head_dim per token shared by all heads (values are its first
         * head_dim_v); GQA/MHA: K and V rows per KV head. */
        double kv_row = kind == SIM_KATTN_MLA ? hd * kvb : kvh * (hd + hdv) * kvb;
        row->bytes = batch * ctx * kv_row;
        row->flops = 2 * batch * q_len * heads * ctx * (hd + hdv);
        row->x = batch * ctx;
        row->family = row->flops / row->bytes;
    } else {
        double keys_per_query = causal ? ctx / 2 : ctx;
        row->flops = 2 * batch * ctx * heads * keys_per_query * (hd + hdv);
        row->bytes = batch * ctx * (heads * (hd + hdv) + kvh * (hd + hdv)) * 2.0;
        row->x = keys_per_query;
        row->family = hd;
        if (cJSON_GetObjectItemCaseSensitive(r->o, "gbps"))
            return bad(r, "gbps", "prefill attention rows give 'tflops'", err);
    }
    return fill_share(r, row, pk, err);
}

double sim_kernel_deepep_bytes(sim_kernel_count count, double tokens, double copies, double hidden, sim_dtype dt)
{
    double per = dt == SIM_DT_FP8 ? hidden + hidden / 128 * 4 : hidden * dtype_bytes(dt);
    if (dt == SIM_DT_FP8 && count == SIM_KCOUNT_DEEPEP_SELECTIONS)
        per += 16; /* num_fp8_bytes = hidden + hidden / 128 * 4 + 16 */
    return tokens * copies * per;
}

double sim_kernel_deepep_nodes(int experts, int top_k, int nodes, int topk_groups)
{
    if (nodes < 1 || experts < nodes || top_k < 1 || top_k > experts)
        return NAN;
    /* p[d]: probability that the first i uniform picks (without replacement) touched d nodes;
     * pick i+1 opens a new node with probability (experts - d m) / (experts - i). */
    enum { MAX_TOPK = 64 };
    double m = (double)experts / nodes, p[MAX_TOPK + 1] = { 0 };
    if (top_k > MAX_TOPK)
        return NAN;
    p[0] = 1;
    for (int i = 0; i < top_k; i++)
        for (int d = i + 1 < nodes ? i + 1 : nodes; d >= 0; d--) { /* downwards: p[d - 1] is still pick i's */
            double stay = d * m - i > 0 ? p[d] * (d * m - i) / (experts - i) : 0;
            double open = d > 0 ? p[d - 1] * (experts - (d - 1) * m) / (experts - i) : 0;
            p[d] = stay + open;
        }
    double e = 0;
    for (int d = 1; d <= nodes && d <= top_k; d++)
        e += p[d] * (d < topk_groups ? d : topk_groups);
    return e;
}

/* An RDMA row read by DeepEP's byte count (`byte_count: "deepep"`): the published time of one
 * call at the row's shape, and its share as DeepEP's bytes over that time against the NIC. The
 * normal kernels publish GB/s: time = DeepEP's bytes / GB/s. The low-latency kernels publish
 * a latency (the time itself) and GB/s derived from it; the two must agree within the
 * rounding and the test's 10 masked selections (3%). */
static int deepep_row(const row_ctx *r, sim_kernel_row *row, const sim_kernel_peaks *pk, double gbps, double lat,
                      double ep, double tokens, double hidden, double top_k, sim_err *err)
{
    int rc;
    if (row->dtype != SIM_DT_FP8 && row->dtype != SIM_DT_BF16)
        return bad(r, "dtype", "must be fp8 or bf16 for byte_count 'deepep' (the types its tests count)", err);
    double bytes;
    if (row->variant % 2 == 0) { /* normal: a token once per node it reaches, its own included */
        double rpn = 0, experts = 0, groups = 0;
        if ((rc = num(r, "ranks_per_node", true, &rpn, err)) || (rc = num(r, "experts", true, &experts, err)) ||
            (rc = num(r, "topk_groups", true, &groups, err)))
            return rc;
        double nodes = ep / rpn;
        if (nodes != floor(nodes) || nodes < 2)
            return bad(r, "ranks_per_node", "must divide 'ep' into 2 or more nodes (an internode row)", err);
        if (fmod(experts, nodes) != 0 || top_k > experts)
            return bad(r, "experts", "must divide evenly over the nodes and be at least 'top_k'", err);
        if (isnan(gbps))
            return bad(r, "gbps", "is missing (DeepEP's normal kernels publish GB/s in its byte count)", err);
        double copies = sim_kernel_deepep_nodes((int)experts, (int)top_k, (int)nodes, (int)groups);
        row->count = SIM_KCOUNT_DEEPEP_NODES;
        bytes = sim_kernel_deepep_bytes(row->count, tokens, copies, hidden, row->dtype);
        row->time_s = bytes / (gbps * 1e9);
    } else { /* low latency: a token once per selected expert */
        if (isnan(lat))
            return bad(r, "latency_us", "is missing (DeepEP's low-latency kernels publish the latency)", err);
        row->count = SIM_KCOUNT_DEEPEP_SELECTIONS;
        bytes = sim_kernel_deepep_bytes(row->count, tokens, top_k, hidden, row->dtype);
        row->time_s = lat * 1e-6;
        if (!isnan(gbps) && fabs(bytes / row->time_s / (gbps * 1e9) - 1) > 0.03) {
            char msg[200];
            snprintf(msg, sizeof msg, "%.4g GB/s disagrees with DeepEP's bytes over 'latency_us' (%.4g GB/s) by more than 3%%",
                     gbps, bytes / row->time_s / 1e9);
            return bad(r, "gbps", msg, err);
        }
    }
    double bw = pk->scale_out_Bps, bps = bytes / row->time_s;
    /* DeepEP's bytes include copies that stay on the node (NVLink) and, in low-latency mode,
     * on the rank; what leaves the GPU goes through NVLink or the NIC. */
    if (bw <= 0 || bps > (bw + pk->scale_up_Bps) * 1.0001) {
        char msg[200];
        snprintf(msg, sizeof msg, "%.4g GB/s (DeepEP's count) exceeds the device's scale-up and scale-out bandwidth together",
                 bps / 1e9);
        return bad(r, isnan(gbps) ? "latency_us" : "gbps", msg, err);
    }
    row->share = bps / bw;
    return SIM_OK;
}

static int a2a_row(const row_ctx *r, sim_kernel_row *row, const sim_kernel_peaks *pk, sim_err *err)
{
    static const char *const keys[] = {"op", "phase", "mode", "transport", "ep", "tokens", "hidden", "top_k",
                                       "dtype", "gbps", "latency_us", "byte_count", "ranks_per_node", "experts",
                                       "topk_groups", "library_kernel", "source", "note", NULL};
    static const char *const phases[] = {"dispatch", "combine"};
    static const char *const modes[] = {"normal", "low_latency"};
    static const char *const links[] = {"nvlink", "rdma", "xgmi", "pcie"};
    static const char *const counts[] = {"link", "deepep"};
    int phase = 0, mode = 0, link = 0, count = 0, rc;
    double ep = 0, tokens = 0, hidden = 0, top_k = 0, gbps = NAN, lat = NAN;
    if ((rc = sim_json_check_keys(r->o, keys, r->file, r->path, err)) ||
        (rc = choice(r, "phase", phases, 2, &phase, err)) || (rc = choice(r, "mode", modes, 2, &mode, err)) ||
        (rc = choice(r, "transport", links, 4, &link, err)) || (rc = num(r, "ep", true, &ep, err)) ||
        (rc = num(r, "tokens", true, &tokens, err)) || (rc = num(r, "hidden", true, &hidden, err)) ||
        (rc = num(r, "top_k", true, &top_k, err)) || (rc = dtype_field(r, false, &row->dtype, err)) ||
        (rc = num(r, "gbps", false, &gbps, err)) || (rc = num(r, "latency_us", false, &lat, err)))
        return rc;
    if (cJSON_GetObjectItemCaseSensitive(r->o, "byte_count") &&
        (rc = choice(r, "byte_count", counts, 2, &count, err)))
        return rc;
    if (isnan(gbps) && isnan(lat))
        return bad(r, "gbps", "is missing (an all_to_all row needs 'gbps' or 'latency_us')", err);
    row->variant = phase * 2 + mode;
    row->link = (sim_kernel_link)link;
    row->x = tokens;
    row->family = ep;
    row->share = NAN; /* a latency-only row carries no bandwidth share */
    if (count == 1) {
        if (link != SIM_KLINK_RDMA)
            return bad(r, "byte_count", "'deepep' is read for transport 'rdma' only (internode kernels)", err);
        return deepep_row(r, row, pk, gbps, lat, ep, tokens, hidden, top_k, err);
    }
    /* Over RDMA the libraries count bytes per destination with the local node included
     * (DeepEP's tests count a token once per node it reaches, its own among them; MORI the
     * same way), so their GB/s can exceed the NIC: 58 GB/s at EP32 on a 50 GB/s CX7. A row
     * is read over RDMA only with the byte count named (`byte_count: "deepep"`); others are
     * kept as published but not read. */
    double bw = pk->scale_up_Bps;
    if (!isnan(gbps) && link != SIM_KLINK_RDMA) {
        if (bw <= 0 || gbps * 1e9 > bw * 1.0001) {
            char msg[160];
            snprintf(msg, sizeof msg, "%.4g GB/s exceeds the device's %s bandwidth of %.4g GB/s per direction", gbps,
                     "scale-up", bw / 1e9);
            return bad(r, "gbps", msg, err);
        }
        row->share = gbps * 1e9 / bw;
    }
    return SIM_OK;
}

static int allreduce_row(const row_ctx *r, sim_kernel_row *row, const sim_kernel_peaks *pk, sim_err *err)
{
    static const char *const keys[] = {"op", "transport", "ranks", "bytes", "busbw_gbps", "algbw_gbps",
                                       "library_kernel", "source", "note", NULL};
    static const char *const links[] = {"nvlink", "rdma", "xgmi", "pcie"};
    int link = 0, rc;
    double ranks = 0, bytes = 0, busbw = 0, algbw = 0;
    if ((rc = sim_json_check_keys(r->o, keys, r->file, r->path, err)) ||
        (rc = choice(r, "transport", links, 4, &link, err)) || (rc = num(r, "ranks", true, &ranks, err)) ||
        (rc = num(r, "bytes", true, &bytes, err)) || (rc = num(r, "busbw_gbps", true, &busbw, err)) ||
        (rc = num(r, "algbw_gbps", false, &algbw, err)))
        return rc;
    row->dtype = SIM_DT_BF16;
    row->link = (sim_kernel_link)link;
    row->x = bytes;
    row->family = ranks;
    double bw = link == SIM_KLINK_RDMA ? pk->scale_out_Bps : pk->scale_up_Bps;
    /* NCCL's bus bandwidth counts bytes as a ring would move them (2(n-1)/n of the message);
     * with NVLink SHARP the switch reduces, each byte crosses a link once, and the bus
     * bandwidth can exceed the link's rate, up to twice it. */
    if (bw <= 0 || busbw * 1e9 > 2 * bw * 1.0001) {
        char msg[160];
        snprintf(msg, sizeof msg, "%.4g GB/s exceeds twice the device's link bandwidth of %.4g GB/s per direction",
                 busbw, bw / 1e9);
        return bad(r, "busbw_gbps", msg, err);
    }
    row->share = busbw * 1e9 / bw;
    return SIM_OK;
}

static void build_series(sim_kernel_table *t);

/* ---- the file ------------------------------------------------------------------------- */

static int parse_sources(const cJSON *root, sim_kernel_table *t, const char *file, sim_err *err)
{
    static const char *const keys[] = {"title", "url", "date", "library", "note", NULL};
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "sources");
    if (!cJSON_IsObject(s) || !s->child)
        return sim_fail(err, SIM_EINPUT, "%s: field 'sources' %s (expected an object of named sources)", file,
                        s ? "must be a non-empty object" : "is missing");
    for (const cJSON *it = s->child; it; it = it->next) {
        if (t->n_sources >= SIM_KT_MAX_SOURCES)
            return sim_fail(err, SIM_EINPUT, "%s: more than %d sources", file, SIM_KT_MAX_SOURCES);
        sim_kernel_source *src = &t->sources[t->n_sources];
        row_ctx r = {.o = it, .file = file};
        snprintf(r.path, sizeof r.path, "sources.%.30s", it->string);
        if (!cJSON_IsObject(it))
            return bad(&r, "title", "the source must be an object", err);
        if (strlen(it->string) >= sizeof src->key)
            return bad(&r, "title", "the source's key is too long (at most 47 characters)", err);
        snprintf(src->key, sizeof src->key, "%s", it->string);
        int rc;
        if ((rc = sim_json_check_keys(it, keys, file, r.path, err)) ||
            (rc = str(&r, "title", true, src->title, sizeof src->title, err)) ||
            (rc = str(&r, "url", true, src->url, sizeof src->url, err)) ||
            (rc = str(&r, "date", true, src->date, sizeof src->date, err)) ||
            (rc = str(&r, "library", true, src->library, sizeof src->library, err)))
            return rc;
        const cJSON *note = cJSON_GetObjectItemCaseSensitive(it, "note");
        if (note && !cJSON_IsString(note))
            return bad(&r, "note", "must be a string", err);
        t->n_sources++;
    }
    return SIM_OK;
}

static int parse_row(const cJSON *o, int i, sim_kernel_table *t, const char *file, const sim_kernel_peaks *pk,
                     sim_err *err)
{
    row_ctx r = {.o = o, .file = file};
    snprintf(r.path, sizeof r.path, "rows[%d]", i);
    if (!cJSON_IsObject(o))
        return sim_fail(err, SIM_EINPUT, "%s: %s must be an object", file, r.path);
    sim_kernel_row *row = &t->rows[t->n_rows];
    memset(row, 0, sizeof *row);
    row->index = i;
    int op = 0, rc;
    char key[48] = "";
    if ((rc = choice(&r, "op", op_names, SIM_KOP_COUNT, &op, err)) || (rc = str(&r, "source", true, key, sizeof key, err)))
        return rc;
    row->source = -1;
    for (int s = 0; s < t->n_sources; s++)
        if (strcmp(t->sources[s].key, key) == 0)
            row->source = s;
    if (row->source < 0)
        return bad(&r, "source", "names no key of 'sources'", err);
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(o, "note");
    if (note && !cJSON_IsString(note))
        return bad(&r, "note", "must be a string", err);
    row->op = (sim_kernel_op)op;
    switch (row->op) {
    case SIM_KOP_GEMM:
    case SIM_KOP_GROUPED_GEMM:
        rc = gemm_row(&r, row, pk, err);
        break;
    case SIM_KOP_ATTN_DECODE:
    case SIM_KOP_ATTN_PREFILL:
        rc = attn_row(&r, row, pk, err);
        break;
    case SIM_KOP_ALL_TO_ALL:
        rc = a2a_row(&r, row, pk, err);
        break;
    default:
        rc = allreduce_row(&r, row, pk, err);
        break;
    }
    if (rc == SIM_OK)
        t->n_rows++;
    return rc;
}

static int parse_table(const cJSON *root, sim_kernel_table *t, const char *file, const char *device,
                       const sim_kernel_peaks *pk, bool nested, sim_err *err);

/* The rows of another device's table for the operations listed, when the two are one die
 * (an H800 is an H100 with its NVLink and FP64 cut): `include: [{device, ops, why}]`. The
 * rows are judged against this device's peaks; their sources are named DEVICE/KEY and say
 * where they were measured. An included table's own includes are not followed. */
static int parse_includes(const cJSON *root, sim_kernel_table *t, const char *file, const sim_kernel_peaks *pk,
                          sim_err *err)
{
    static const char *const keys[] = {"device", "ops", "transports", "why", NULL};
    static const char *const links[] = {"nvlink", "rdma", "xgmi", "pcie"};
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(root, "include");
    if (!inc)
        return SIM_OK;
    if (!cJSON_IsArray(inc))
        return sim_fail(err, SIM_EINPUT, "%s: field 'include' must be an array of {device, ops, why}", file);
    int i = 0;
    for (const cJSON *e = inc->child; e; e = e->next, i++) {
        char path[48], dev[64] = "", why[8] = "";
        snprintf(path, sizeof path, "include[%d]", i);
        row_ctx r = {.o = e, .file = file};
        snprintf(r.path, sizeof r.path, "%s", path);
        int rc;
        if (!cJSON_IsObject(e))
            return sim_fail(err, SIM_EINPUT, "%s: %s must be an object {device, ops, why}", file, path);
        if ((rc = sim_json_check_keys(e, keys, file, path, err)) || (rc = str(&r, "device", true, dev, sizeof dev, err)) ||
            (rc = str(&r, "why", true, why, sizeof why, err)))
            return rc;
        const cJSON *ops = cJSON_GetObjectItemCaseSensitive(e, "ops");
        bool want[SIM_KOP_COUNT] = { false };
        if (!cJSON_IsArray(ops) || !ops->child)
            return bad(&r, "ops", "must be a non-empty array of operation names", err);
        for (const cJSON *o = ops->child; o; o = o->next) {
            int k = -1;
            for (int j = 0; j < SIM_KOP_COUNT; j++)
                if (cJSON_IsString(o) && strcmp(o->valuestring, op_names[j]) == 0)
                    k = j;
            if (k < 0)
                return bad(&r, "ops", "names an unknown operation (gemm, grouped_gemm, attn_decode, attn_prefill, "
                                      "all_to_all, all_reduce)", err);
            want[k] = true;
        }
        /* transports: the collectives only over these links (two devices may share a NIC and
         * not a scale-up link: the H100 takes the H800's RDMA rows, not its cut NVLink's);
         * absent = every link */
        bool link_ok[4] = { true, true, true, true };
        const cJSON *trs = cJSON_GetObjectItemCaseSensitive(e, "transports");
        if (trs) {
            if (!cJSON_IsArray(trs) || !trs->child)
                return bad(&r, "transports", "must be a non-empty array of nvlink, rdma, xgmi, pcie", err);
            memset(link_ok, 0, sizeof link_ok);
            for (const cJSON *o = trs->child; o; o = o->next) {
                int k = -1;
                for (int j = 0; j < 4; j++)
                    if (cJSON_IsString(o) && strcmp(o->valuestring, links[j]) == 0)
                        k = j;
                if (k < 0)
                    return bad(&r, "transports", "names an unknown transport (nvlink, rdma, xgmi, pcie)", err);
                link_ok[k] = true;
            }
        }
        const char *slash = strrchr(file, '/');
        char other[600];
        snprintf(other, sizeof other, "%.*s%s.json", slash ? (int)(slash - file) + 1 : 0, file, dev);
        static sim_kernel_table inc_table; /* big: kept off the stack; nested includes are not followed */
        memset(&inc_table, 0, sizeof inc_table);
        cJSON *oroot = sim_json_load(other, err);
        if (!oroot)
            return sim_wrap(err, "%s: %s.device '%s'", file, path, dev);
        rc = parse_table(oroot, &inc_table, other, dev, pk, true, err);
        cJSON_Delete(oroot);
        if (rc)
            return rc;
        int base = t->n_sources;
        for (int s = 0; s < inc_table.n_sources; s++) {
            if (t->n_sources >= SIM_KT_MAX_SOURCES)
                return sim_fail(err, SIM_EINPUT, "%s: more than %d sources with its includes", file, SIM_KT_MAX_SOURCES);
            sim_kernel_source *d = &t->sources[t->n_sources++];
            *d = inc_table.sources[s];
            snprintf(d->key, sizeof d->key, "%.20s/%.26s", dev, inc_table.sources[s].key);
            size_t n = strlen(d->title);
            snprintf(d->title + n, sizeof d->title - n, " (measured on %s)", dev);
        }
        for (int j = 0; j < inc_table.n_rows; j++) {
            const sim_kernel_row *ir = &inc_table.rows[j];
            bool collective = ir->op == SIM_KOP_ALL_TO_ALL || ir->op == SIM_KOP_ALL_REDUCE;
            if (!want[ir->op] || (collective && !link_ok[ir->link]))
                continue;
            if (t->n_rows >= SIM_KT_MAX_ROWS)
                return sim_fail(err, SIM_EINPUT, "%s: more than %d rows with its includes", file, SIM_KT_MAX_ROWS);
            t->rows[t->n_rows] = inc_table.rows[j];
            t->rows[t->n_rows].source += base;
            t->n_rows++;
        }
    }
    return SIM_OK;
}

static int parse_table(const cJSON *root, sim_kernel_table *t, const char *file, const char *device,
                       const sim_kernel_peaks *pk, bool nested, sim_err *err)
{
    static const char *const keys[] = {"schema", "device", "sources", "rows", "include", "note", NULL};
    if (!cJSON_IsObject(root))
        return sim_fail(err, SIM_EINPUT, "%s: the top level must be an object (a kernel table, schema %s)", file,
                        SCHEMA_ID);
    int rc;
    char schema[32] = "";
    if ((rc = sim_json_check_keys(root, keys, file, "", err)) ||
        (rc = sim_json_str(root, "schema", schema, sizeof schema, file, "", err)) ||
        (rc = sim_json_str(root, "device", t->device, sizeof t->device, file, "", err)))
        return rc;
    if (strcmp(schema, SCHEMA_ID) != 0)
        return sim_fail(err, SIM_EINPUT, "%s: field 'schema' is '%s' (expected '%s')", file, schema, SCHEMA_ID);
    if (device && strcmp(t->device, device) != 0)
        return sim_fail(err, SIM_EINPUT, "%s: field 'device' is '%s' (expected '%s', the hwmodel it measures)", file,
                        t->device, device);
    if ((rc = parse_sources(root, t, file, err)))
        return rc;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(root, "rows");
    if (!cJSON_IsArray(rows))
        return sim_fail(err, SIM_EINPUT, "%s: field 'rows' %s (expected an array of measurements)", file,
                        rows ? "must be an array" : "is missing");
    int i = 0;
    for (const cJSON *o = rows->child; o; o = o->next, i++) {
        if (t->n_rows >= SIM_KT_MAX_ROWS)
            return sim_fail(err, SIM_EINPUT, "%s: more than %d rows", file, SIM_KT_MAX_ROWS);
        if ((rc = parse_row(o, i, t, file, pk, err)))
            return rc;
    }
    return nested ? SIM_OK : parse_includes(root, t, file, pk, err);
}

int sim_kernel_table_load(sim_kernel_table *t, const char *file, const char *device, const sim_kernel_peaks *peaks,
                          sim_err *err)
{
    memset(t, 0, sizeof *t);
    cJSON *root = sim_json_load(file, err);
    if (!root)
        return err->code;
    int rc = parse_table(root, t, file, device, peaks, false, err);
    cJSON_Delete(root);
    if (rc) {
        memset(t, 0, sizeof *t);
        return rc;
    }
    build_series(t);
    snprintf(t->path, sizeof t->path, "%s", file);
    return SIM_OK;
}

/* ---- lookup ---------------------------------------------------------------------------- */

static bool same(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

/* Whether a row (or series, by its first row) answers a query's operation and kind. */
static bool matches(const sim_kernel_row *r, const sim_kernel_query *q)
{
    if (r->op != q->op || !isfinite(r->share))
        return false;
    switch (q->op) {
    case SIM_KOP_GEMM:
    case SIM_KOP_GROUPED_GEMM:
        return r->dtype == q->dtype;
    case SIM_KOP_ATTN_DECODE:
    case SIM_KOP_ATTN_PREFILL:
        return r->dtype == q->dtype && r->variant == q->variant;
    case SIM_KOP_ALL_TO_ALL:
        return r->variant == q->variant && r->link == q->link;
    default:
        return r->link == q->link;
    }
}

/* Rows of one series: one operation and kind, one family, one source, one stated format. */
static bool same_series(const sim_kernel_row *a, const sim_kernel_row *b)
{
    return a->op == b->op && a->dtype == b->dtype && a->variant == b->variant && a->link == b->link &&
           same(a->family, b->family) && a->source == b->source && strcmp(a->format, b->format) == 0 &&
           a->fused_moe == b->fused_moe && a->count == b->count;
}

/* The points of the series that starts at row i: each distinct x of its rows, smallest first,
 * with the mean share of the rows at that x (two shapes can meet at one coordinate: batch 16
 * x context 16384 and batch 64 x 4096 are both 262,144 KV rows). */
static void add_points(sim_kernel_table *t, int i, bool *done, int *points, sim_kernel_series *s)
{
    const sim_kernel_row *r = &t->rows[i];
    for (;;) { /* the smallest x of the series not yet taken */
        int lo = -1;
        for (int j = i; j < t->n_rows; j++)
            if (!done[j] && isfinite(t->rows[j].share) && same_series(&t->rows[j], r) &&
                (lo < 0 || t->rows[j].x < t->rows[lo].x))
                lo = j;
        if (lo < 0)
            break;
        double x = t->rows[lo].x, sum = 0;
        int n = 0, mem = 0;
        for (int j = i; j < t->n_rows; j++)
            if (!done[j] && isfinite(t->rows[j].share) && same_series(&t->rows[j], r) && same(t->rows[j].x, x)) {
                sum += t->rows[j].share;
                mem += t->rows[j].memory_bound;
                n++;
                done[j] = true;
            }
        t->point_x[*points] = x;
        t->point_log_step[*points] = s->n > 0 ? log(x / t->point_x[*points - 1]) : 0;
        t->point_share[*points] = sum / n;
        t->point_memory_bound[*points] = 2 * mem > n;
        (*points)++;
        s->n++;
    }
}

static void build_series(sim_kernel_table *t)
{
    bool done[SIM_KT_MAX_ROWS] = { false };
    int points = 0;
    t->n_series = 0;
    for (int op = 0; op < SIM_KOP_COUNT; op++) {
        t->op_first[op] = t->n_series;
        for (int i = 0; i < t->n_rows; i++) {
            const sim_kernel_row *r = &t->rows[i];
            if (done[i] || !isfinite(r->share) || (int)r->op != op)
                continue;
            sim_kernel_series *s = &t->series[t->n_series++];
            s->row = i;
            s->first = points;
            s->n = 0;
            s->log_family = log(r->family);
            add_points(t, i, done, &points, s);
        }
        t->op_series[op] = t->n_series - t->op_first[op];
    }
}

/* The share of series `s` at x, if it covers x. */
static bool series_at(const sim_kernel_table *t, const sim_kernel_series *s, const sim_kernel_query *q,
                      sim_kernel_hit *hit)
{
    const double *x = t->point_x + s->first, *sh = t->point_share + s->first;
    const bool *mb = t->point_memory_bound + s->first;
    int n = s->n;
    hit->source = t->rows[s->row].source; /* one series, one source, one scope */
    hit->fused_moe = t->rows[s->row].fused_moe;
    hit->count = t->rows[s->row].count;
    hit->held = false;
    int hi = 0;
    while (hi < n && x[hi] < q->x && !same(x[hi], q->x))
        hi++;
    if (hi < n && same(x[hi], q->x)) {
        hit->share = sh[hi];
        return true;
    }
    if (hi > 0 && hi < n) {
        double w = log(q->x / x[hi - 1]) / t->point_log_step[s->first + hi];
        hit->share = sh[hi - 1] + w * (sh[hi] - sh[hi - 1]);
        /* Where the work grows with x at both points (attention's KV rows, a collective's
         * bytes, a compute-bound GEMM's rows), time ∝ x / share, and a share linear in log x
         * can make the time fall as x grows: MLA decode on GB200 took less at 4 sequences than
         * at 2, its share rising 29x between batch 1 and 64. There the time is affine in x
         * between the two measurements instead (a fixed cost and a cost per unit, the
         * alpha-beta model), so it rises wherever the measured times rise. A memory-bound
         * GEMM point streams the same weights whatever its rows: its time is not x / share,
         * and the share stays linear in log x. */
        bool gemm = q->op == SIM_KOP_GEMM || q->op == SIM_KOP_GROUPED_GEMM;
        if (!gemm || (!mb[hi - 1] && !mb[hi])) {
            double t0 = x[hi - 1] / sh[hi - 1], t1 = x[hi] / sh[hi];
            hit->share = q->x / (t0 + (t1 - t0) * (q->x - x[hi - 1]) / (x[hi] - x[hi - 1]));
        }
        return true;
    }
    bool below = hi == 0;
    int edge = below ? 0 : n - 1;
    bool near = below ? q->x * EDGE_FACTOR >= x[edge] : q->x <= x[edge] * EDGE_FACTOR;
    /* A memory-bound kernel's bandwidth share does not rise as its rows fall (the weights it
     * streams stay the same), and a compute-bound one's does not fall as they grow. */
    bool held = below ? mb[edge] : !mb[edge];
    /* A collective's share of its link rises with the message toward the link's rate
     * (alpha + bytes / beta: the fixed part weighs less as the bytes grow), so above its
     * largest measured message the share there is a lower bound and is held; below its
     * smallest it would be an overestimate and is not. */
    if (q->op == SIM_KOP_ALL_TO_ALL || q->op == SIM_KOP_ALL_REDUCE)
        held = !below;
    if (!near && !held)
        return false;
    hit->share = sh[edge];
    hit->held = !near;
    return true;
}

static bool preferred(const sim_kernel_table *t, const sim_kernel_row *r, const char *const *prefer)
{
    const char *lib = t->sources[r->source].library;
    for (const char *const *p = prefer; *p; p++)
        if (strncmp(lib, *p, strlen(*p)) == 0)
            return true;
    return false;
}

/* One pass over the series; `prefer` non-NULL: only those of the preferred libraries. */
static bool lookup_among(const sim_kernel_table *t, const sim_kernel_query *q, const char *const *prefer,
                         sim_kernel_hit *hit)
{
    if (!t || t->n_series == 0 || !(q->x > 0))
        return false;
    if ((int)q->op < 0 || q->op >= SIM_KOP_COUNT)
        return false;
    bool found = false;
    double best = INFINITY, max_dist = log(FAMILY_FACTOR) + 1e-12, log_q = q->family > 0 ? log(q->family) : 0;
    for (int i = t->op_first[q->op]; i < t->op_first[q->op] + t->op_series[q->op]; i++) {
        const sim_kernel_series *s = &t->series[i];
        const sim_kernel_row *r = &t->rows[s->row];
        if (!matches(r, q) || (prefer && !preferred(t, r, prefer)))
            continue;
        double dist = q->family > 0 ? fabs(s->log_family - log_q) : 0;
        sim_kernel_hit h;
        if (dist > max_dist || dist > best + 1e-12 || !series_at(t, s, q, &h))
            continue;
        if (!found || dist < best - 1e-12 || h.share > hit->share) {
            best = fmin(best, dist);
            *hit = h;
            found = true;
        }
    }
    return found;
}

bool sim_kernel_lookup(const sim_kernel_table *t, const sim_kernel_query *q, sim_kernel_hit *hit)
{
    if (!t || t->n_rows == 0 || !(q->x > 0))
        return false;
    if (q->prefer && lookup_among(t, q, q->prefer, hit))
        return true;
    return lookup_among(t, q, NULL, hit);
}

/* lookup_among's filter without x: the series it would try, in its order, with their distance. */
static int candidates_among(const sim_kernel_table *t, const sim_kernel_query *q, const char *const *prefer,
                            int *idx, double *dist, bool *overflow)
{
    int n = 0;
    if (!t || t->n_series == 0 || (int)q->op < 0 || q->op >= SIM_KOP_COUNT)
        return 0;
    double max_dist = log(FAMILY_FACTOR) + 1e-12, log_q = q->family > 0 ? log(q->family) : 0;
    for (int i = t->op_first[q->op]; i < t->op_first[q->op] + t->op_series[q->op]; i++) {
        const sim_kernel_series *s = &t->series[i];
        const sim_kernel_row *r = &t->rows[s->row];
        if (!matches(r, q) || (prefer && !preferred(t, r, prefer)))
            continue;
        double d = q->family > 0 ? fabs(s->log_family - log_q) : 0;
        if (d > max_dist)
            continue;
        if (n == SIM_KC_MAX) {
            *overflow = true;
            return n;
        }
        idx[n] = i;
        dist[n++] = d;
    }
    return n;
}

void sim_kernel_candidates(const sim_kernel_table *t, const sim_kernel_query *q, sim_kernel_cands *c)
{
    c->overflow = false;
    c->n_pref = q->prefer ? candidates_among(t, q, q->prefer, c->idx, c->dist, &c->overflow) : 0;
    c->n_all = candidates_among(t, q, NULL, c->idx + c->n_pref, c->dist + c->n_pref, &c->overflow);
}

/* lookup_among over candidates: the same tests in the same order, less the ones that do not
 * depend on x. */
static bool lookup_listed(const sim_kernel_table *t, const sim_kernel_query *q, const int *idx, const double *dist,
                          int n, sim_kernel_hit *hit)
{
    bool found = false;
    double best = INFINITY;
    for (int j = 0; j < n; j++) {
        sim_kernel_hit h;
        if (dist[j] > best + 1e-12 || !series_at(t, &t->series[idx[j]], q, &h))
            continue;
        if (!found || dist[j] < best - 1e-12 || h.share > hit->share) {
            best = fmin(best, dist[j]);
            *hit = h;
            found = true;
        }
    }
    return found;
}

bool sim_kernel_lookup_cands(const sim_kernel_table *t, const sim_kernel_query *q, const sim_kernel_cands *c,
                             sim_kernel_hit *hit)
{
    if (!t || t->n_rows == 0 || !(q->x > 0))
        return false;
    if (c->overflow)
        return sim_kernel_lookup(t, q, hit);
    if (q->prefer && lookup_listed(t, q, c->idx, c->dist, c->n_pref, hit))
        return true;
    return lookup_listed(t, q, c->idx + c->n_pref, c->dist + c->n_pref, c->n_all, hit);
}
