/* test_jsonfile.c: the JSON policy of results: a figure that cannot be computed is written
 * as null, never 0; reading a required field that is missing or mistyped fails loudly. */
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
    jf_add_num(o, "nan", NAN);
    jf_add_num(o, "inf", INFINITY);
    jf_add_num(o, "zero", 0);
    jf_add_num(o, "x", 1.25);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "nan")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "inf")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "zero")));
    assert_true(jf_get_num(o, "x") == 1.25);
    assert_true(jf_get_num(o, "zero") == 0);
    assert_true(isnan(jf_get_num(o, "nan"))); /* null reads as "not computed", not as 0 */
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(text, "{\"nan\":null,\"inf\":null,\"zero\":0,\"x\":1.25}");
    free(text);
    cJSON_Delete(o);
}

/* Run f in a child; true when it died of SIGABRT. */
static bool aborts(void (*f)(const cJSON *), const cJSON *o)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        f(o);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void read_missing_num(const cJSON *o) { (void)jf_get_num(o, "absent"); }
static void read_mistyped_num(const cJSON *o) { (void)jf_get_num(o, "s"); }
static void read_missing_str(const cJSON *o) { (void)jf_get_str(o, "absent"); }
static void read_mistyped_str(const cJSON *o) { (void)jf_get_str(o, "x"); }
static void read_present(const cJSON *o) { (void)jf_get_num(o, "x"); (void)jf_get_str(o, "s"); }

static void missing_field_fails_loudly(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    jf_add_num(o, "x", 2);
    cJSON_AddStringToObject(o, "s", "text");
    assert_true(aborts(read_missing_num, o));
    assert_true(aborts(read_mistyped_num, o));
    assert_true(aborts(read_missing_str, o));
    assert_true(aborts(read_mistyped_str, o));
    assert_false(aborts(read_present, o));
    assert_string_equal(jf_get_str(o, "s"), "text");
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(non_finite_is_null),
        cmocka_unit_test(missing_field_fails_loudly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
