/* test_jsonfile.c: the JSON policy: a figure that cannot be computed is written as null,
 * never 0; reading a required field that is missing, null or mistyped is an error naming
 * the file and the field, never 0 or a value left over from before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/jsonfile.h"

static void non_finite_is_null(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    sim_json_add_num(o, "nan", NAN);
    sim_json_add_num(o, "inf", INFINITY);
    sim_json_add_num(o, "zero", 0);
    sim_json_add_num(o, "x", 1.25);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "nan")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "inf")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "zero")));
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(text, "{\"nan\":null,\"inf\":null,\"zero\":0,\"x\":1.25}");
    free(text);
    cJSON_Delete(o);
}

static void required_fields_fail_by_name(void **state)
{
    (void)state;
    sim_err err = { 0 };
    cJSON *o = sim_json_parse("{\"x\": 2, \"s\": \"text\", \"n\": null, \"i\": 1.5}", "card.json", &err);
    assert_non_null(o);
    double v = -1;
    int k = -1;
    char str[16] = "previous";
    assert_int_equal(sim_json_num(o, "x", &v, "card.json", "a", &err), SIM_OK);
    assert_true(v == 2);
    assert_int_equal(sim_json_num(o, "absent", &v, "card.json", "a", &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "card.json: field 'a.absent' is missing"));
    /* null is not "absent": a required field that is null names itself, and nothing is read */
    assert_int_equal(sim_json_num(o, "n", &v, "card.json", "a", &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "field 'a.n' must be a number (got null)"));
    assert_int_equal(sim_json_int(o, "n", &k, "card.json", "", &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "field 'n' must be an integer (got null)"));
    assert_int_equal(sim_json_str(o, "n", str, sizeof str, "card.json", "", &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "field 'n' must be a string (got null)"));
    assert_string_equal(str, "previous");
    assert_int_equal(sim_json_int(o, "i", &k, "card.json", "", &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "field 'i' must be an integer"));
    assert_int_equal(sim_json_str(o, "x", str, sizeof str, "card.json", "", &err), SIM_EINPUT);
    /* optional fields: absent or null keep the default */
    v = 7;
    assert_int_equal(sim_json_num_opt(o, "n", &v, "card.json", "", &err), SIM_OK);
    assert_true(v == 7);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(non_finite_is_null),
        cmocka_unit_test(required_fields_fail_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
