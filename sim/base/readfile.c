/* readfile.c: bounded whole-file reads (see readfile.h). Reads in doubling chunks up to the
 * limit plus one byte, so a device or pipe without a size is bounded too. */
#include "base/readfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *sim_read_file(const char *path, long max_bytes, const char *what, size_t *len_out, sim_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sim_fail(err, SIM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        sim_fail(err, SIM_EINPUT, "%s: is a folder, not a file", path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0, limit = (size_t)max_bytes;
    char *buf = malloc(cap);
    bool too_big = false;
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len > limit) {
            too_big = true;
            break;
        }
        if (len + 1 < cap) /* a short read: end of file or an error (ferror below) */
            break;
        size_t next = cap * 2 > limit + 2 ? limit + 2 : cap * 2;
        char *bigger = realloc(buf, next);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap = next;
    }
    int read_failed = ferror(f);
    fclose(f);
    if (!buf) {
        sim_fail(err, SIM_EFAIL, "%s: out of memory reading the file", path);
        return NULL;
    }
    if (too_big) {
        free(buf);
        sim_fail(err, SIM_EINPUT, "%s: larger than %ld MiB, the most a %s may be", path, max_bytes >> 20, what);
        return NULL;
    }
    if (read_failed) {
        free(buf);
        sim_fail(err, SIM_EFAIL, "%s: read error", path);
        return NULL;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}
