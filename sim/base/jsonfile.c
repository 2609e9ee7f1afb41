/* jsonfile.c: JSON loading with file:line:column errors, typed field access, atomic writes. */
#include "base/jsonfile.h"
#include "base/readfile.h"
#include "base/tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cJSON *sim_json_parse(const char *text, const char *name, sim_err *err)
{
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithOpts(text, &end, 1);
    if (json)
        return json;
    /* cJSON reports where it stopped; turn that into a line and a column. */
    int line = 1, col = 1;
    const char *stop = end ? end : text;
    for (const char *p = text; *p && p < stop; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char near[24] = "";
    if (*stop) {
        snprintf(near, sizeof near, "%.16s", stop);
        for (char *q = near; *q; q++)
            if (*q == '\n' || *q == '\r')
                *q = ' ';
    }
    sim_fail(err, SIM_EINPUT, "%s:%d:%d: malformed JSON%s%s%s", name, line, col,
             *near ? " near '" : " (unexpected end of input)", near, *near ? "'" : "");
    return NULL;
}

cJSON *sim_json_load(const char *path, sim_err *err)
{
    char *text = sim_read_file(path, SIM_MAX_JSON_BYTES, "JSON input", NULL, err);
    if (!text)
        return NULL;
    cJSON *json = sim_json_parse(text, path, err);
    free(text);
    return json;
}

static int missing(const char *file, const char *path, const char *key, const char *want, sim_err *err)
{
    return sim_fail(err, SIM_EINPUT, "%s: field '%s%s%s' is missing (expected %s)", file,
                    path && *path ? path : "", path && *path ? "." : "", key, want);
}

static int mistyped(const char *file, const char *path, const char *key, const char *want, sim_err *err)
{
    return sim_fail(err, SIM_EINPUT, "%s: field '%s%s%s' must be %s", file,
                    path && *path ? path : "", path && *path ? "." : "", key, want);
}

int sim_json_num_opt(const cJSON *obj, const char *key, double *out, const char *file, const char *path, sim_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it))
        return SIM_OK;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return mistyped(file, path, key, "a number", err);
    *out = it->valuedouble;
    return SIM_OK;
}

/* A required field that is present but null: an error of its own, never "absent". */
static int required_null(const cJSON *obj, const char *key, const char *file, const char *path, const char *want,
                         sim_err *err)
{
    if (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, key)))
        return SIM_OK;
    char w[64];
    snprintf(w, sizeof w, "%s (got null)", want);
    return mistyped(file, path, key, w, err);
}

int sim_json_num(const cJSON *obj, const char *key, double *out, const char *file, const char *path, sim_err *err)
{
    if (!cJSON_GetObjectItemCaseSensitive(obj, key))
        return missing(file, path, key, "a number", err);
    if (required_null(obj, key, file, path, "a number", err))
        return err->code;
    return sim_json_num_opt(obj, key, out, file, path, err);
}

int sim_json_int_opt(const cJSON *obj, const char *key, int *out, const char *file, const char *path, sim_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it))
        return SIM_OK;
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v) || v < INT_MIN || v > INT_MAX)
        return mistyped(file, path, key, "an integer", err);
    *out = (int)v;
    return SIM_OK;
}

int sim_json_int(const cJSON *obj, const char *key, int *out, const char *file, const char *path, sim_err *err)
{
    if (!cJSON_GetObjectItemCaseSensitive(obj, key))
        return missing(file, path, key, "an integer", err);
    if (required_null(obj, key, file, path, "an integer", err))
        return err->code;
    return sim_json_int_opt(obj, key, out, file, path, err);
}

int sim_json_str_opt(const cJSON *obj, const char *key, char *out, size_t cap, const char *file, const char *path,
               sim_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it))
        return SIM_OK;
    if (!cJSON_IsString(it))
        return mistyped(file, path, key, "a string", err);
    if (strlen(it->valuestring) >= cap)
        return mistyped(file, path, key, "a shorter string", err);
    strcpy(out, it->valuestring);
    return SIM_OK;
}

int sim_json_str(const cJSON *obj, const char *key, char *out, size_t cap, const char *file, const char *path,
           sim_err *err)
{
    if (!cJSON_GetObjectItemCaseSensitive(obj, key))
        return missing(file, path, key, "a string", err);
    if (required_null(obj, key, file, path, "a string", err))
        return err->code;
    return sim_json_str_opt(obj, key, out, cap, file, path, err);
}

int sim_json_bool_opt(const cJSON *obj, const char *key, bool *out, const char *file, const char *path, sim_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it))
        return SIM_OK;
    if (!cJSON_IsBool(it))
        return mistyped(file, path, key, "true or false", err);
    *out = cJSON_IsTrue(it);
    return SIM_OK;
}

const cJSON *sim_json_obj(const cJSON *obj, const char *key, const char *file, const char *path, sim_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) {
        missing(file, path, key, "an object", err);
        return NULL;
    }
    if (!cJSON_IsObject(it)) {
        mistyped(file, path, key, "an object", err);
        return NULL;
    }
    return it;
}

void sim_json_add_num(cJSON *obj, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

int sim_json_write_atomic(const char *path, const char *text, sim_err *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return sim_fail(err, SIM_EINPUT, "%s: path too long", path);
    sim_tmp_remember(tmp); /* an interrupt from here on removes it */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        sim_tmp_forget(tmp);
        return sim_fail(err, SIM_EFAIL, "%s: cannot create: %s", tmp, strerror(errno));
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            sim_tmp_forget(tmp);
            return sim_fail(err, SIM_EFAIL, "%s: write failed: %s", path, strerror(e));
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        sim_tmp_forget(tmp);
        return sim_fail(err, SIM_EFAIL, "%s: write failed: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        sim_tmp_forget(tmp);
        return sim_fail(err, SIM_EFAIL, "%s: cannot rename into place: %s", path, strerror(e));
    }
    sim_tmp_forget(tmp);
    return SIM_OK;
}

int sim_json_save(const char *path, const cJSON *json, sim_err *err)
{
    char *text = cJSON_Print(json);
    if (!text)
        return sim_fail(err, SIM_EFAIL, "%s: out of memory formatting JSON", path);
    size_t n = strlen(text);
    char *with_nl = realloc(text, n + 2);
    if (!with_nl) {
        free(text);
        return sim_fail(err, SIM_EFAIL, "%s: out of memory formatting JSON", path);
    }
    with_nl[n] = '\n';
    with_nl[n + 1] = '\0';
    int rc = sim_json_write_atomic(path, with_nl, err);
    free(with_nl);
    return rc;
}

/* Rejects any member of `obj` not in `allowed` (NULL-terminated), and duplicated members,
 * which cJSON would otherwise resolve silently to the first. */
int sim_json_check_keys(const cJSON *obj, const char *const *allowed, const char *file, const char *path,
                      sim_err *err)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(it->string, *a) == 0;
        char where[256];
        snprintf(where, sizeof where, "%s%s%s", path && *path ? path : "", path && *path ? "." : "", it->string);
        if (!known) {
            char list[512] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
            return sim_fail(err, SIM_EINPUT, "%s: unknown field '%s' (expected one of: %s)", file, where, list);
        }
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return sim_fail(err, SIM_EINPUT, "%s: field '%s' appears twice", file, where);
    }
    return SIM_OK;
}

