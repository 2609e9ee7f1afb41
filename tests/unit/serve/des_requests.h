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

#endif
