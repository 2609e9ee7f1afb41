/* des_requests.h: the serving requests the DES path comparisons run (test_des_fast.c,
 * test_des_stretch.c): one session for every case, and a request of a model, device and format
 * at a rate with lognormal prompt and output lengths and fixed SLOs. Included by those tests
 * only (static functions: one copy per test program); needs cmocka, cli/request.h and
 * cli/serve_request.h first. */
#ifndef MOESIM_TEST_DES_REQUESTS_H
#define MOESIM_TEST_DES_REQUESTS_H

static sim_session *test_session(void)
{
    static sim_session *s;
    if (!s)
        s = sim_session_alloc();
    return s;
}

static sim_request req(const char *model, const char *hw, const char *precision, double rate, int requests,
                       double isl, double osl)
{
    sim_request r;
    sim_request_defaults(&r);
    sim_err err = { 0 };
    assert_int_equal(sim_request_set_text(&r, "model", model, &err), 0);
    assert_int_equal(sim_request_set_text(&r, "hw", hw, &err), 0);
    if (precision)
        assert_int_equal(sim_request_set_text(&r, "precision", precision, &err), 0);
    assert_int_equal(sim_request_set_text(&r, "isl_dist", "lognormal", &err), 0);
    assert_int_equal(sim_request_set_text(&r, "osl_dist", "lognormal", &err), 0);
    r.rate = rate;
    r.requests = requests;
    r.isl = isl;
    r.osl = osl;
    r.slo_ttft_s = 2;
    r.slo_tpot_s = 0.05;
    return r;
}

/* Speculative decoding (MTP) cases: the lazy decoders and the decode-only stretches follow
 * each sequence's exact credit (des_internal.h, credit_frac), and walk where the block size
 * times the acceptance's denominator passes CREDIT_CELLS_MAX. k = 1, 2, 3 draft tokens;
 * acceptance 1.875, 2.5, 2.75, 1 (every draft rejected), k + 1 (every draft accepted), 1.015625
 * and 2.0625 (denominators 64 and 16), DeepSeek-R1's card (1.92, 2.58, 2.82: 48/25, 129/50, 141/50;
 * 2.58 also with 60k-token prompts one at a time: stretches past the 800-step crossing period),
 * 1.23456 (no fraction of denominator <= 1000: rounded to 247/200), 2.999 (the largest
 * denominator, 1000) and 1.001 with 128-token blocks (walked); one rank and
 * attention DP8; KV pressure with preemptions; xPyD pools; pipeline stages with 32-token
 * blocks and small CUDA graphs; 1-token blocks (a step crosses several at once) and 64-token
 * ones; an overload with prefix hits (admissions every iteration, a full KV cache). */
typedef struct mtp_case {
    const char *name;
    sim_request r;
    long min_iterations;
    bool preempts;  /* the case is meant to preempt */
    bool stretches; /* the decoders are lazy: stretches must happen */
} mtp_case;

enum { N_MTP_CASES = 19 };

static void mtp_spec(sim_request *r, int k, double a)
{
    r->spec_tokens = k;
    r->spec_accept = a;
    r->spec_accept_given = true;
}

static void mtp_cases(mtp_case *c)
{
    int n = 0;
    sim_request r = req("deepseek-v3", "h200", "fp8", 2, 300, 1024, 1024);
    r.gpus = 8;
    mtp_spec(&r, 1, 1.875);
    c[n++] = (mtp_case){ "DeepSeek-V3 FP8, 8x H200 TP8, MTP 1 at 1.875", r, 2000, false, true };
    r = req("deepseek-v3", "h200", "fp8", 8, 1500, 1024, 512);
    r.gpus = 8;
    r.dp = 8;
    mtp_spec(&r, 2, 2.5);
    c[n++] = (mtp_case){ "DeepSeek-V3 FP8, 8x H200 DP8 + EP8, MTP 2 at 2.5", r, 1000, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 2, 200, 1024, 512);
    mtp_spec(&r, 3, 1);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, MTP 3 at 1", r, 1000, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 2, 200, 1024, 512);
    mtp_spec(&r, 3, 4);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, MTP 3 at 4", r, 500, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 2, 200, 1024, 512);
    mtp_spec(&r, 2, 2.58);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, MTP 2 at 2.58", r, 500, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 30, 60, 8000, 3000);
    mtp_spec(&r, 2, 1.875);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, KV pressure, MTP 2 at 1.875", r, 2000, true, true };
    r = req("glm-4.5-air", "h200", "fp8", 6, 500, 2048, 512);
    r.prefill_gpus = 1;
    r.prefill_instances = 2;
    r.decode_instances = 2;
    mtp_spec(&r, 1, 1.875);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, 2P2D on H200, MTP 1 at 1.875", r, 1000, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 3, 400, 1024, 512);
    r.gpus = 2;
    r.pp = 2;
    r.block_size = 32;
    r.block_size_given = true;
    r.cuda_graph_max = 64;
    r.cuda_graph_max_given = true;
    mtp_spec(&r, 3, 2.75);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, 2x H200 PP2, 32-token blocks, MTP 3 at 2.75", r, 1000, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 2, 150, 512, 512);
    r.block_size = 1;
    r.block_size_given = true;
    mtp_spec(&r, 3, 2.75);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, 1-token blocks, MTP 3 at 2.75", r, 1000, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 100, 1500, 1024, 256);
    r.prefix_hit = 0.5;
    mtp_spec(&r, 2, 2.75);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, overloaded, 50% prefix hits, MTP 2 at 2.75", r, 1000, true, true };
    /* 65/64, with a crossing period (4096 steps) past the closed form's */
    r = req("glm-4.5-air", "h200", "fp8", 2, 200, 1024, 1024);
    r.block_size = 64;
    r.block_size_given = true;
    mtp_spec(&r, 1, 1.015625);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, 64-token blocks, MTP 1 at 1.015625", r, 1000, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 2, 200, 1024, 1024);
    mtp_spec(&r, 2, 2.0625);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, MTP 2 at 2.0625", r, 1000, false, true };
    /* DeepSeek-R1's card (models/deepseek-r1: 1.92, 2.58, 2.82 tokens a step for 1, 2, 3 drafts) */
    r = req("deepseek-r1", "h200", "fp8", 2, 300, 1024, 1024);
    r.gpus = 8;
    mtp_spec(&r, 1, 1.92);
    c[n++] = (mtp_case){ "DeepSeek-R1 FP8, 8x H200 TP8, MTP 1 at 1.92", r, 2000, false, true };
    r = req("deepseek-r1", "h200", "fp8", 8, 1500, 1024, 512);
    r.gpus = 8;
    r.dp = 8;
    mtp_spec(&r, 2, 2.58);
    c[n++] = (mtp_case){ "DeepSeek-R1 FP8, 8x H200 DP8 + EP8, MTP 2 at 2.58", r, 1000, false, true };
    /* one request at a time, 60k-token prompts (the memo's context bucket spans thousands of
     * tokens) and a span of 10,000 s (arrival-span bins of ~20 s): stretches past the crossings'
     * period (800 steps at 2.58), the closed form of stretch_blocks */
    r = req("deepseek-r1", "h200", "fp8", 0.001, 10, 60000, 4096);
    r.gpus = 8;
    mtp_spec(&r, 2, 2.58);
    c[n++] = (mtp_case){ "DeepSeek-R1 FP8, 8x H200 TP8, isl 60000 at 0.001 req/s, MTP 2 at 2.58", r, 2000, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 30, 60, 8000, 3000);
    mtp_spec(&r, 3, 2.82);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, KV pressure, MTP 3 at 2.82", r, 2000, true, true };
    r = req("glm-4.5-air", "h200", "fp8", 2, 200, 1024, 1024);
    mtp_spec(&r, 1, 1.23456);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, MTP 1 at 1.23456 (rounded: 247/200)", r, 1000, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 2, 200, 1024, 1024);
    mtp_spec(&r, 2, 2.999);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, MTP 2 at 2.999 (den 1000)", r, 1000, false, true };
    r = req("glm-4.5-air", "h200", "fp8", 2, 200, 1024, 1024);
    r.block_size = 128;
    r.block_size_given = true;
    mtp_spec(&r, 1, 1.001);
    c[n++] = (mtp_case){ "GLM-4.5-Air FP8, H200, 128-token blocks, MTP 1 at 1.001 (walked)", r, 1000, false, false };
    assert_int_equal(n, N_MTP_CASES);
}

#endif
