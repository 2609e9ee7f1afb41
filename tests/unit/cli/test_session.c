/* test_session.c: a deployment built from a session's cards stays valid while the session
 * loads many more (entries are never evicted, moved or reused), and a name asked again is
 * not read again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jsonfile.h"
#include "cli/session.h"
#include "deploy/deploy.h"
#include "model/registry.h"
#include "serve/serving.h"

#define OTHER_CARDS 50

/* Write OTHER_CARDS copies of a shipped card, each under its own name, into a new temporary
 * folder (dir, cap PATH_MAX); paths[i] gets each file. */
static void write_copies(char *dir, char paths[][PATH_MAX])
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, PATH_MAX, "%s/moesim-session-XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/scenarios/models/deepseek-v2-lite.json", sim_home());
    sim_err err = { 0 };
    cJSON *card = sim_json_load(src, &err);
    assert_non_null(card);
    for (int i = 0; i < OTHER_CARDS; i++) {
        char name[64];
        snprintf(name, sizeof name, "session-copy-%02d", i);
        cJSON_ReplaceItemInObjectCaseSensitive(card, "name", cJSON_CreateString(name));
        snprintf(paths[i], PATH_MAX, "%s/%s.json", dir, name);
        assert_int_equal(sim_json_save(paths[i], card, &err), SIM_OK);
    }
    cJSON_Delete(card);
}

static void remove_copies(const char *dir, char paths[][PATH_MAX])
{
    for (int i = 0; i < OTHER_CARDS; i++)
        unlink(paths[i]);
    rmdir(dir);
}

static void eval_deploy(const sim_deploy *d, sim_eval *out)
{
    sim_serve_opts o;
    sim_serve_defaults(&o);
    o.concurrency = 16;
    sim_err err = { 0 };
    assert_int_equal(sim_serve_eval(d, &o, out, &err), SIM_OK);
}

static void held_deployment_survives_other_loads(void **state)
{
    (void)state;
    sim_session *s = sim_session_alloc();
    assert_non_null(s);
    sim_err err = { 0 };
    const sim_model *m = sim_session_model(s, "qwen3-30b-a3b", &err);
    const sim_hw *hw = sim_session_hw(s, "h200", &err);
    assert_non_null(m);
    assert_non_null(hw);
    sim_deploy d;
    sim_deploy_defaults(&d, m, hw);
    char name[64];
    snprintf(name, sizeof name, "%s", m->name);
    int layers = m->layers, experts = m->ffn.experts;
    sim_eval before, after;
    eval_deploy(&d, &before);
    assert_true(before.fits);
    assert_int_equal(sim_session_loads(s), 2);

    static char paths[OTHER_CARDS][PATH_MAX];
    char dir[PATH_MAX];
    write_copies(dir, paths);
    for (int i = 0; i < OTHER_CARDS; i++) {
        const sim_model *other = sim_session_model(s, paths[i], &err);
        assert_non_null(other);
        char want[64];
        snprintf(want, sizeof want, "session-copy-%02d", i);
        assert_string_equal(other->name, want);
        assert_ptr_not_equal(other, m);
    }
    assert_int_equal(sim_session_loads(s), 2 + OTHER_CARDS);

    /* the held deployment still reads its own card, and evaluates as before */
    assert_ptr_equal(d.model, m);
    assert_string_equal(d.model->name, name);
    assert_int_equal(d.model->layers, layers);
    assert_int_equal(d.model->ffn.experts, experts);
    assert_string_equal(d.model->name, "qwen3-30b-a3b");
    assert_int_not_equal(d.model->layers, sim_session_model(s, paths[0], &err)->layers);
    eval_deploy(&d, &after);
    assert_true(after.fits == before.fits);
    assert_memory_equal(&after.ttft_s, &before.ttft_s, sizeof before.ttft_s);
    assert_memory_equal(&after.tpot_s, &before.tpot_s, sizeof before.tpot_s);
    assert_memory_equal(&after.output_tps, &before.output_tps, sizeof before.output_tps);
    assert_memory_equal(&after.usd_per_mtok_output, &before.usd_per_mtok_output, sizeof before.usd_per_mtok_output);
    assert_memory_equal(&after.mem.total_bytes, &before.mem.total_bytes, sizeof before.mem.total_bytes);
    assert_memory_equal(&after.decode.time_s, &before.decode.time_s, sizeof before.decode.time_s);

    remove_copies(dir, paths);
    sim_session_free(s);
}

static void repeated_name_is_loaded_once(void **state)
{
    (void)state;
    sim_session *s = sim_session_alloc();
    assert_non_null(s);
    sim_err err = { 0 };
    const sim_model *a = sim_session_model(s, "mixtral-8x7b", &err);
    const sim_hw *h = sim_session_hw(s, "h100-sxm", &err);
    assert_non_null(a);
    assert_non_null(h);
    assert_int_equal(sim_session_loads(s), 2);
    for (int i = 0; i < 5; i++) {
        assert_ptr_equal(sim_session_model(s, "mixtral-8x7b", &err), a);
        assert_ptr_equal(sim_session_hw(s, "h100-sxm", &err), h);
    }
    assert_int_equal(sim_session_loads(s), 2);
    /* a failed load is an attempted read (a cache miss) and disturbs nothing loaded */
    assert_null(sim_session_model(s, "no-such-model", &err));
    assert_int_equal(err.code, SIM_EINPUT);
    assert_int_equal(sim_session_loads(s), 3);
    assert_ptr_equal(sim_session_model(s, "mixtral-8x7b", &err), a);
    assert_int_equal(sim_session_loads(s), 3);
    sim_session_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(held_deployment_survives_other_loads),
        cmocka_unit_test(repeated_name_is_loaded_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
