/* fuzz_file.h: the loaders read files (cards, hwmodels, measurements), so a fuzz input is
 * written to one temporary file per process, rewritten in place for each input. */
#ifndef MOESIM_FUZZ_FILE_H
#define MOESIM_FUZZ_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The path of a file holding exactly data[0..size); the same path every call. Aborts when
 * the file cannot be written: the harness, not the code under test, failed. */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[64];
    static int fd = -1;
    if (fd < 0) {
        snprintf(path, sizeof path, "/tmp/moesim-fuzz-XXXXXX%s", suffix);
        fd = mkstemps(path, (int)strlen(suffix));
        if (fd < 0) {
            perror("fuzz_file: mkstemps");
            abort();
        }
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
        perror("fuzz_file: write");
        abort();
    }
    return path;
}

/* A NUL-terminated copy of the input; the caller frees it. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t)
        abort();
    memcpy(t, data, size);
    t[size] = '\0';
    return t;
}

/* Split a NUL-terminated copy of the input into at most `max` arguments at NUL or newline
 * bytes (the command line fuzz targets); returns the count. The caller frees `text`. */
static inline int fuzz_args(char *text, size_t size, char **argv, int max)
{
    int argc = 0;
    for (char *p = text, *end = text + size; p < end && argc < max;) {
        argv[argc++] = p;
        while (p < end && *p && *p != '\n')
            p++;
        *p++ = '\0';
    }
    return argc;
}

#endif
