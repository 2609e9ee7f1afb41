/* outdir.c: writing beneath a scenario's output folder without following symbolic links
 * (see outdir.h). */
#include "lua/outdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lout_make_dirs(const char *dir)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int lout_open(const char *dir)
{
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

const char *lout_check_name(const char *name)
{
    if (!*name || name[0] == '/' || strstr(name, ".."))
        return "a file name inside the output folder expected (no absolute path, no '..')";
    if (strlen(name) >= PATH_MAX - 64)
        return "file name too long";
    const char *last = strrchr(name, '/');
    last = last ? last + 1 : name;
    if (!*last || strcmp(last, ".") == 0)
        return "a file name expected, not a folder";
    return NULL;
}

/* Open the folder that holds `name` (creating missing ones) without following links; *base
 * points at the last component of `buf`, a copy of name. A descriptor the caller closes, or
 * -1 with err filled. */
static int open_parent(int dirfd, const char *name, char *buf, size_t cap, const char **base, sim_err *err)
{
    const char *why = lout_check_name(name);
    if (why)
        return sim_fail(err, SIM_EINPUT, "'%s': %s", name, why), -1;
    snprintf(buf, cap, "%s", name);
    int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return sim_fail(err, SIM_EFAIL, "'%s': %s", name, strerror(errno)), -1;
    char *part = buf, *slash;
    while ((slash = strchr(part, '/')) != NULL) {
        *slash = '\0';
        if (*part && strcmp(part, ".") != 0) {
            if (mkdirat(cur, part, 0755) != 0 && errno != EEXIST) {
                sim_fail(err, SIM_EFAIL, "'%s': cannot create folder '%s': %s", name, part, strerror(errno));
                close(cur);
                return -1;
            }
            int next = openat(cur, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int e = errno;
            close(cur);
            if (next < 0) {
                if (e == ELOOP || e == ENOTDIR)
                    return sim_fail(err, SIM_EINPUT, "'%s': '%s' is a symbolic link or not a folder; refusing to write through it", name, part), -1;
                return sim_fail(err, SIM_EFAIL, "'%s': cannot open folder '%s': %s", name, part, strerror(e)), -1;
            }
            cur = next;
        }
        part = slash + 1;
    }
    *base = part;
    struct stat st;
    if (fstatat(cur, part, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
        close(cur);
        return sim_fail(err, SIM_EINPUT, "'%s' exists and is %s; refusing to write over it", name,
                        S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a folder" : "not a plain file"), -1;
    }
    return cur;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* What goes into the file: a buffer, or the contents of another file. */
typedef struct source {
    const void *data;
    size_t len;
    int fd; /* >= 0: copy from here instead */
} source;

static int emit(int fd, const source *src)
{
    if (src->fd < 0)
        return write_all(fd, src->data, src->len);
    char chunk[65536];
    for (;;) {
        ssize_t n = read(src->fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (write_all(fd, chunk, (size_t)n) != 0)
            return -1;
    }
}

static int write_source(int dirfd, const char *name, const source *src, sim_err *err)
{
    char buf[PATH_MAX], tmp[PATH_MAX];
    const char *base = NULL;
    int dir = open_parent(dirfd, name, buf, sizeof buf, &base, err);
    if (dir < 0)
        return err->code ? err->code : SIM_EFAIL;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", base, (long)getpid());
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(dir, tmp, flags, 0644);
    if (fd < 0 && errno == EEXIST && unlinkat(dir, tmp, 0) == 0) /* left by a crashed run: remove the entry itself */
        fd = openat(dir, tmp, flags, 0644);
    if (fd < 0) {
        int e = errno;
        close(dir);
        return sim_fail(err, SIM_EFAIL, "'%s': cannot create: %s", name, strerror(e));
    }
    int rc = emit(fd, src);
    int e = errno;
    if (rc == 0 && (fsync(fd) != 0 || close(fd) != 0)) {
        rc = -1;
        e = errno;
    } else if (rc != 0) {
        close(fd);
    }
    if (rc == 0 && renameat(dir, tmp, dir, base) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0)
        unlinkat(dir, tmp, 0);
    close(dir);
    if (rc != 0)
        return sim_fail(err, SIM_EFAIL, "'%s': write failed: %s", name, strerror(e));
    return SIM_OK;
}

int lout_write(int dirfd, const char *name, const void *data, size_t len, sim_err *err)
{
    source src = { data, len, -1 };
    return write_source(dirfd, name, &src, err);
}

int lout_copy(int dirfd, const char *name, const char *src_path, sim_err *err)
{
    source src = { NULL, 0, open(src_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) };
    if (src.fd < 0)
        return sim_fail(err, SIM_EFAIL, "'%s': cannot read %s: %s", name, src_path, strerror(errno));
    int rc = write_source(dirfd, name, &src, err);
    close(src.fd);
    return rc;
}
