/* cal_run.c: the measurement plans, and each step run as a `moe-engine bench` subprocess
 * (posix_spawn, no shell: paths with spaces are safe), its table and messages kept beside
 * its JSON so a failure can be shown whole. */
#include "cal_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Quick: three real MoE layers in BF16 (the native precision of each), and Qwen3's also in
 * INT8, FP32 and INT4_G32, so every weight format the CPU engine runs gets its own fitted curve
 * (INT4_G32: its unpacking rate on top of the curve its compute type runs on) (a
 * format calibration did not measure keeps its prior and says so); decode to prefill
 * sizes on both sides of the engine's kernel switch (8 rows per expert: Qwen3 reaches 16 rows
 * per expert at 256 tokens and 32 at 512); the triad and the GEMM sweep ride on the first.
 * Qwen3-30B-A3B: 128 experts of 2048 x 768, top-8. gpt-oss-20b: 32 experts of 2880 x 2880,
 * top-4, five times the weights per expert, so the fit sees what is fixed per expert and what
 * grows with its size. DeepSeek-V2-Lite: 64 experts of 2048 x 1408, top-6, and 2 shared
 * experts; as the last shape it is held out whole, so its error is a prediction for a shape
 * the fit never saw.
 *
 * Every layer is measured in two rounds, the second in the opposite order, and each point
 * keeps its faster round (cal_set_merge_rounds): on a shared machine a slow spell then has to
 * last over both rounds to bias a point, and cannot fall on one shape only. About 80 s on two
 * cores. */
static const cal_step quick_plan[] = {
    { "qwen3-30b-a3b MoE layer, bf16, with triad and GEMM sweep", "qwen3-30b-a3b", NULL, "bf16",
      "1,2,4,8,16,32,64,128,256,512", 3, true, 1 },
    { "qwen3-30b-a3b MoE layer, int8", "qwen3-30b-a3b", NULL, "int8", "1,4,16,64,256", 3, false, 1 },
    { "qwen3-30b-a3b MoE layer, fp32", "qwen3-30b-a3b", NULL, "fp32", "1,4,16,64,256", 3, false, 1 },
    { "qwen3-30b-a3b MoE layer, int4_g32", "qwen3-30b-a3b", NULL, "int4_g32", "1,4,16,64,256", 3, false, 1 },
    { "gpt-oss-20b MoE layer, bf16", "gpt-oss-20b", NULL, "bf16", "1,4,16,64,256", 3, false, 1 },
    { "deepseek-v2-lite MoE layer, bf16", "deepseek-v2-lite", NULL, "bf16", "1,4,16,64,256", 3, false, 1 },
    { "deepseek-v2-lite MoE layer, bf16 (round 2)", "deepseek-v2-lite", NULL, "bf16", "1,4,16,64,256", 3, false, 1 },
    { "gpt-oss-20b MoE layer, bf16 (round 2)", "gpt-oss-20b", NULL, "bf16", "1,4,16,64,256", 3, false, 1 },
    { "qwen3-30b-a3b MoE layer, int4_g32 (round 2)", "qwen3-30b-a3b", NULL, "int4_g32", "1,4,16,64,256", 3, false, 1 },
    { "qwen3-30b-a3b MoE layer, fp32 (round 2)", "qwen3-30b-a3b", NULL, "fp32", "1,4,16,64,256", 3, false, 1 },
    { "qwen3-30b-a3b MoE layer, int8 (round 2)", "qwen3-30b-a3b", NULL, "int8", "1,4,16,64,256", 3, false, 1 },
    { "qwen3-30b-a3b MoE layer, bf16 (round 2)", "qwen3-30b-a3b", NULL, "bf16", "1,2,4,8,16,32,64,128,256,512", 3,
      false, 1 },
};

/* Full: more token counts, FP32 experts too, a third shape, each in two rounds, and the
 * all-to-all over two MPI ranks. A few minutes on two cores. */
static const cal_step full_plan[] = {
    { "qwen3-30b-a3b MoE layer, bf16, with triad and GEMM sweep", "qwen3-30b-a3b", NULL, "bf16",
      "1,2,4,8,16,32,64,128,256,512", 5, true, 1 },
    { "qwen3-30b-a3b MoE layer, fp32", "qwen3-30b-a3b", NULL, "fp32", "1,2,4,8,16,32,64,128,256", 3, false, 1 },
    { "qwen3-30b-a3b MoE layer, int4_g32", "qwen3-30b-a3b", NULL, "int4_g32", "1,2,4,8,16,32,64,128,256", 3, false,
      1 },
    { "gpt-oss-20b MoE layer, bf16", "gpt-oss-20b", NULL, "bf16", "1,2,4,8,16,32,64,128,256", 3, false, 1 },
    { "deepseek-v2-lite MoE layer, bf16", "deepseek-v2-lite", NULL, "bf16", "1,2,4,8,16,32,64,128,256", 3, false, 1 },
    { "deepseek-v2-lite MoE layer, bf16 (round 2)", "deepseek-v2-lite", NULL, "bf16", "1,2,4,8,16,32,64,128,256", 3,
      false, 1 },
    { "gpt-oss-20b MoE layer, bf16 (round 2)", "gpt-oss-20b", NULL, "bf16", "1,2,4,8,16,32,64,128,256", 3, false, 1 },
    { "qwen3-30b-a3b MoE layer, int4_g32 (round 2)", "qwen3-30b-a3b", NULL, "int4_g32", "1,2,4,8,16,32,64,128,256", 3,
      false, 1 },
    { "qwen3-30b-a3b MoE layer, fp32 (round 2)", "qwen3-30b-a3b", NULL, "fp32", "1,2,4,8,16,32,64,128,256", 3, false,
      1 },
    { "qwen3-30b-a3b MoE layer, bf16 (round 2)", "qwen3-30b-a3b", NULL, "bf16", "1,2,4,8,16,32,64,128,256,512", 5,
      false, 1 },
    { "all-to-all over 2 MPI ranks", NULL, "--hidden 2048 --ffn 256 --experts 8 --top-k 8", "bf16",
      "1,4,16,64,256,1024", 5, false, 2 },
};

const cal_step *cal_plan(bool quick, int *n)
{
    *n = quick ? (int)(sizeof quick_plan / sizeof quick_plan[0]) : (int)(sizeof full_plan / sizeof full_plan[0]);
    return quick ? quick_plan : full_plan;
}

void cal_plan_describe(const cal_step *plan, int n, const char *backend, FILE *f)
{
    for (int i = 0; i < n; i++)
        fprintf(f, "  %d. %s: --backend %s %s%s --dtype %s --tokens %s --reps %d%s%s\n", i + 1, plan[i].what, backend,
                plan[i].model ? "--model " : "", plan[i].model ? plan[i].model : plan[i].sizes, plan[i].dtype,
                plan[i].tokens, plan[i].reps, plan[i].primitives ? "" : " --no-primitives",
                plan[i].ranks > 1 ? " (under mpirun)" : "");
}

int cal_engine_path(char *out, size_t cap, sim_err *err)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return sim_fail(err, SIM_EFAIL, "cannot find this program's folder (/proc/self/exe: %s)", strerror(errno));
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    if (snprintf(out, cap, "%s/moe-engine", self) >= (int)cap)
        return sim_fail(err, SIM_EFAIL, "%s/moe-engine: path too long", self);
    if (access(out, X_OK) != 0)
        return sim_fail(err, SIM_EFAIL, "%s: the engine is not there (build it: make %s)", out,
                        strstr(self, "san") ? "SAN=1 build" : "bin/moe-engine");
    return SIM_OK;
}

static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char full[PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", d, prog);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

/* Split `s` on spaces into argv (modifies s). */
static int split_words(char *s, char **argv, int at, int cap)
{
    for (char *save = NULL, *w = strtok_r(s, " ", &save); w && at < cap - 1; w = strtok_r(NULL, " ", &save))
        argv[at++] = w;
    return at;
}

/* The last non-empty line of a file, for an error message. */
static void last_line(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(out, cap, "%s", line);
    }
    fclose(f);
}

/* The engine now running: an interrupt or a kill of moesim reaches it too, so an interrupted
 * calibration leaves no engine behind (and, having written nothing yet, no file). */
static volatile pid_t running_child;
/* A temporary measurement folder and the files a plan may write there, removed on a signal
 * (unlink and rmdir are async-signal-safe; the paths are built before any engine starts). */
#define MAX_STEPS 16
static char cleanup_dir[512], cleanup_files[3 * MAX_STEPS][600];

static void forward_and_die(int sig)
{
    if (running_child > 0)
        kill(running_child, sig);
    if (cleanup_dir[0]) {
        for (int i = 0; i < 3 * MAX_STEPS; i++)
            if (cleanup_files[i][0])
                unlink(cleanup_files[i]);
        rmdir(cleanup_dir);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Run argv with stdout and stderr to files; returns the exit status, or -1 if it could not start. */
static int spawn_wait(char **argv, const char *out_path, const char *err_path, bool search)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = search ? posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ)
                    : posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    running_child = pid;
    void (*old_int)(int) = signal(SIGINT, forward_and_die), (*old_term)(int) = signal(SIGTERM, forward_and_die);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            status = -1;
            break;
        }
    running_child = 0;
    signal(SIGINT, old_int);
    signal(SIGTERM, old_term);
    if (status == -1)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int cal_run_plan(const cal_step *plan, int n, const char *backend, const char *dir, bool temporary, char *files,
                 size_t cap, sim_err *err)
{
    char engine[PATH_MAX];
    int rc = cal_engine_path(engine, sizeof engine, err);
    if (rc)
        return rc;
    if (n > MAX_STEPS)
        return sim_fail(err, SIM_EFAIL, "plan of %d steps: at most %d", n, MAX_STEPS);
    memset(cleanup_files, 0, sizeof cleanup_files);
    cleanup_dir[0] = '\0';
    if (temporary) {
        snprintf(cleanup_dir, sizeof cleanup_dir, "%s", dir);
        for (int i = 0; i < n; i++)
            for (int e = 0; e < 3; e++)
                snprintf(cleanup_files[3 * i + e], sizeof cleanup_files[0], "%s/step%d-bench.%s", dir, i + 1,
                         e == 0 ? "json" : e == 1 ? "txt" : "err");
    }
    files[0] = '\0';
    double t_all = now_s();
    for (int i = 0; i < n; i++) {
        const cal_step *s = &plan[i];
        char json[PATH_MAX], out[PATH_MAX], errf[PATH_MAX], sizes[256] = "", reps[16], np[16];
        snprintf(json, sizeof json, "%s/step%d-bench.json", dir, i + 1);
        snprintf(out, sizeof out, "%s/step%d-bench.txt", dir, i + 1);
        snprintf(errf, sizeof errf, "%s/step%d-bench.err", dir, i + 1);
        snprintf(reps, sizeof reps, "%d", s->reps);
        snprintf(np, sizeof np, "%d", s->ranks);
        char *argv[48];
        int a = 0;
        if (s->ranks > 1) {
            if (!on_path("mpirun")) {
                fprintf(stderr, "calibrate: [%d/%d] %s: skipped (no mpirun on PATH; no collectives fitted)\n", i + 1, n,
                        s->what);
                continue;
            }
            /* as root in CI; ranks may outnumber cores; one thread per rank */
            static char *mpi[] = { "mpirun", "--allow-run-as-root", "--oversubscribe", "-x", "OMP_NUM_THREADS=1", NULL };
            for (char **m = mpi; *m; m++)
                argv[a++] = *m;
#ifdef __SANITIZE_ADDRESS__
            /* OpenMPI's own allocations are never freed before exit */
            argv[a++] = "-x";
            argv[a++] = "ASAN_OPTIONS=detect_leaks=0";
#endif
            argv[a++] = "-np";
            argv[a++] = np;
        }
        argv[a++] = engine;
        argv[a++] = "bench";
        argv[a++] = "--backend";
        argv[a++] = (char *)backend;
        if (s->model) {
            argv[a++] = "--model";
            argv[a++] = (char *)s->model;
        } else {
            snprintf(sizes, sizeof sizes, "%s", s->sizes);
            a = split_words(sizes, argv, a, 40);
        }
        argv[a++] = "--dtype";
        argv[a++] = (char *)s->dtype;
        argv[a++] = "--tokens";
        argv[a++] = (char *)s->tokens;
        argv[a++] = "--reps";
        argv[a++] = reps;
        argv[a++] = "--warmup";
        argv[a++] = "1";
        if (!s->primitives && s->ranks == 1)
            argv[a++] = "--no-primitives";
        argv[a++] = "--json";
        argv[a++] = json;
        argv[a] = NULL;

        fprintf(stderr, "calibrate: [%d/%d] %s ...\n", i + 1, n, s->what);
        double t0 = now_s();
        int st = spawn_wait(argv, out, errf, s->ranks > 1);
        if (st != 0) {
            char last[512];
            last_line(errf, last, sizeof last);
            if (s->ranks > 1) {
                fprintf(stderr, "calibrate: [%d/%d] %s: skipped (mpirun %s%s%s; see %s)\n", i + 1, n, s->what,
                        st < 0 ? "could not start" : "failed", last[0] ? ": " : "", last, errf);
                continue;
            }
            if (st < 0)
                return sim_fail(err, SIM_EFAIL, "could not start %s: %s", engine, strerror(errno));
            return sim_fail(err, st == 2 ? SIM_EINPUT : SIM_EFAIL, "moe-engine failed (exit %d) on step %d (%s): %s", st,
                            i + 1, s->what, last[0] ? last : "no message");
        }
        fprintf(stderr, "calibrate: [%d/%d] done in %.1f s\n", i + 1, n, now_s() - t0);
        size_t len = strlen(files);
        if (len + strlen(json) + 2 > cap)
            return sim_fail(err, SIM_EFAIL, "%s: folder path too long", dir);
        snprintf(files + len, cap - len, "%s%s", len ? "," : "", json);
    }
    fprintf(stderr, "calibrate: measurements took %.1f s\n", now_s() - t_all);
    return SIM_OK;
}
