/* registry.c: shipped-name lookup, listing and close-name suggestions. */
#include "model/registry.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <ctype.h>

#include "base/jsonfile.h"

#ifndef MOESIM_SOURCE_DIR
#define MOESIM_SOURCE_DIR "."
#endif

#define MAX_LISTED 256

const char *sim_home(void)
{
    const char *h = getenv("MOESIM_HOME");
    return h && *h ? h : MOESIM_SOURCE_DIR;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* List NAME for every NAME.json in dir (schema docs and hidden files skipped). */
static int list_dir(const char *dir, char names[][64], int cap)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || len - 5 >= 64 || e->d_name[0] == '.' || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (n < cap) {
            memcpy(names[n], e->d_name, len - 5);
            names[n][len - 5] = '\0';
        }
        n++;
    }
    closedir(dh);
    qsort(names, n < cap ? n : cap, 64, cmp_names);
    return n;
}

int sim_registry_list_models(char names[][64], int cap)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/scenarios/models", sim_home());
    return list_dir(dir, names, cap);
}

int sim_registry_list_hw(char names[][64], int cap)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/hwmodels", sim_home());
    return list_dir(dir, names, cap);
}

int sim_registry_list_calibrated(char names[][64], int cap)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/hwmodels/calibrated", sim_home());
    int n = list_dir(dir, names, cap);
    for (int i = 0; i < n && i < cap; i++) {
        char base[64];
        snprintf(base, sizeof base, "%s", names[i]);
        if (snprintf(names[i], 64, "calibrated/%s", base) >= 64)
            names[i][0] = '\0'; /* a name too long to address; skipped by callers */
    }
    return n;
}

int sim_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return (int)(la > lb ? la : lb);
    int row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

/* "unknown model 'x'; did you mean: a, b, c? (moesim models lists all)" */
static int unknown_name(const char *what, const char *name, char names[][64], int n, const char *list_cmd,
                        sim_err *err)
{
    char close[512] = "";
    size_t used = 0;
    int shown = 0;
    /* Suggest names within a third of their length in edits, or that contain the query. */
    for (int pass = 0; pass < 2 && shown < 4; pass++) {
        for (int i = 0; i < n && shown < 4; i++) {
            int d = sim_edit_distance(name, names[i]);
            int limit = (int)strlen(names[i]) / 3 + 1;
            bool hit = pass == 0 ? d <= limit : (strcasestr(names[i], name) != NULL && d > limit);
            if (!hit)
                continue;
            used += snprintf(close + used, sizeof close - used, "%s%s", shown ? ", " : "", names[i]);
            if (used >= sizeof close)
                break;
            shown++;
        }
    }
    if (shown)
        return sim_fail(err, SIM_EINPUT, "unknown %s '%s'; did you mean: %s? ('%s' lists all)", what, name, close,
                        list_cmd);
    return sim_fail(err, SIM_EINPUT, "unknown %s '%s' ('%s' lists all)", what, name, list_cmd);
}

static bool looks_like_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 5 && strcmp(s + n - 5, ".json") == 0);
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Find a model whose card lists `name` among its aliases. */
static bool find_alias(const char *dir, const char *name, char names[][64], int n, char *path, size_t cap)
{
    for (int i = 0; i < n; i++) {
        snprintf(path, cap, "%s/%s.json", dir, names[i]);
        sim_err ignore;
        cJSON *j = sim_json_load(path, &ignore);
        if (!j)
            continue;
        const cJSON *aliases = cJSON_GetObjectItemCaseSensitive(j, "aliases");
        bool hit = false;
        const cJSON *a;
        cJSON_ArrayForEach(a, aliases) if (cJSON_IsString(a) && strcasecmp(a->valuestring, name) == 0) hit = true;
        cJSON_Delete(j);
        if (hit)
            return true;
    }
    return false;
}

int sim_registry_model(const char *name, sim_model *out, sim_err *err)
{
    if (looks_like_path(name))
        return sim_model_load(out, name, err);
    char dir[PATH_MAX - 128], path[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/scenarios/models", sim_home()) >= (int)sizeof dir ||
        snprintf(path, sizeof path, "%s/%s.json", dir, name) >= (int)sizeof path)
        return sim_fail(err, SIM_EINPUT, "model name '%.64s...' is too long", name);
    if (file_exists(path))
        return sim_model_load(out, path, err);
    char(*names)[64] = malloc(MAX_LISTED * sizeof *names);
    if (!names)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int n = sim_registry_list_models(names, MAX_LISTED);
    if (n > MAX_LISTED)
        n = MAX_LISTED;
    int rc = find_alias(dir, name, names, n, path, sizeof path) ? sim_model_load(out, path, err)
                                                                 : unknown_name("model", name, names, n, "moesim models", err);
    free(names);
    return rc;
}

/* A hwmodel may take its efficiencies from another (efficiency_from), which may do the same:
 * the chain is followed this deep, which also stops a cycle. */
#define MAX_TRANSFER_DEPTH 4

static int load_hw(const char *name, sim_hw *out, int depth, sim_err *err);

/* The resolver hw.c calls for efficiency_from: ctx is the depth of the file naming it. */
static int resolve_transfer(void *ctx, const char *name, sim_hw *out, sim_err *err)
{
    int depth = *(const int *)ctx + 1;
    if (depth > MAX_TRANSFER_DEPTH)
        return sim_fail(err, SIM_EINPUT, "'%s' starts a chain of more than %d transfers (a cycle?)", name,
                        MAX_TRANSFER_DEPTH);
    return load_hw(name, out, depth, err);
}

static int load_file(const char *path, sim_hw *out, int depth, sim_err *err)
{
    const sim_hw_resolver resolver = { resolve_transfer, &depth };
    return sim_hw_load_with(out, path, &resolver, err);
}

static int load_hw(const char *name, sim_hw *out, int depth, sim_err *err)
{
    char path[PATH_MAX];
    if (file_exists(name))
        return load_file(name, out, depth, err);
    /* "calibrated/NAME" finds hwmodels/calibrated/NAME.json */
    if (snprintf(path, sizeof path, "%s/hwmodels/%s.json", sim_home(), name) < (int)sizeof path && file_exists(path))
        return load_file(path, out, depth, err);
    if (looks_like_path(name))
        return load_file(name, out, depth, err); /* reports that it cannot be opened */
    char(*names)[64] = malloc(MAX_LISTED * sizeof *names);
    if (!names)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int n = sim_registry_list_hw(names, MAX_LISTED);
    if (n > MAX_LISTED)
        n = MAX_LISTED;
    /* a hwmodel that lists the name among its aliases (rpi5.json answers to rpi5-16gb) */
    char dir[PATH_MAX - 128];
    snprintf(dir, sizeof dir, "%s/hwmodels", sim_home());
    int rc = find_alias(dir, name, names, n, path, sizeof path) ? load_file(path, out, depth, err)
                                                                 : unknown_name("hardware", name, names, n, "moesim hw", err);
    free(names);
    return rc;
}

int sim_registry_hw(const char *name, sim_hw *out, sim_err *err)
{
    return load_hw(name, out, 0, err);
}
