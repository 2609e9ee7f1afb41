/* cal_detect.c: hardware detection from /proc, /sys and nvidia-smi, and the choice of a
 * base hwmodel. The CPU's peak is cores x clock x FLOP per cycle, where FLOP per cycle
 * follows from the vector flags: 2 FMA pipes x lanes x 2 (a fused multiply-add is 2 FLOP). */
#include "cal_detect.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "model/hw.h"
#include "model/registry.h"

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, strlen(s + i) + 1);
}

static bool has_flag(const char *flags, const char *f)
{
    size_t n = strlen(f);
    for (const char *p = flags; (p = strstr(p, f)); p += n)
        if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0' || p[n] == '\n'))
            return true;
    return false;
}

/* The flags that decide the vector width and dot-product instructions. */
static const char *const vector_flags[] = {
    "sse2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16",
    "asimd", "asimddp", "bf16", "sve", "i8mm", NULL,
};

static void read_cpuinfo(cal_host *h)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[8192], all_flags[8192] = "";
    double mhz = 0, bogo = 0;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *key = line, *val = colon + 1;
        trim(key);
        trim(val);
        if (!h->cpu[0] && (!strcmp(key, "model name") || !strcmp(key, "Model")))
            snprintf(h->cpu, sizeof h->cpu, "%s", val);
        else if (!h->vendor[0] && (!strcmp(key, "vendor_id") || !strcmp(key, "CPU implementer")))
            snprintf(h->vendor, sizeof h->vendor, "%s", val);
        else if (!h->family && !strcmp(key, "cpu family"))
            h->family = atoi(val);
        else if (!h->model_id && !strcmp(key, "model"))
            h->model_id = atoi(val);
        else if (!mhz && !strcmp(key, "cpu MHz"))
            mhz = atof(val);
        else if (!bogo && !strcasecmp(key, "bogomips"))
            bogo = atof(val);
        else if (!all_flags[0] && (!strcmp(key, "flags") || !strcmp(key, "Features")))
            snprintf(all_flags, sizeof all_flags, "%s", val);
    }
    fclose(f);
    for (const char *const *v = vector_flags; *v; v++)
        if (has_flag(all_flags, *v))
            snprintf(h->flags + strlen(h->flags), sizeof h->flags - strlen(h->flags), "%s%s", h->flags[0] ? " " : "", *v);
    if (mhz > 0) {
        h->ghz = mhz / 1000;
        snprintf(h->ghz_from, sizeof h->ghz_from, "/proc/cpuinfo 'cpu MHz' %.0f", mhz);
    } else if (bogo > 0 && strstr(h->arch, "86")) {
        h->ghz = bogo / 2000; /* x86 BogoMIPS is twice the clock in MHz */
        snprintf(h->ghz_from, sizeof h->ghz_from, "/proc/cpuinfo BogoMIPS %.0f / 2", bogo);
    }
}

static void read_max_freq(cal_host *h)
{
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
    long khz = 0;
    if (f) {
        if (fscanf(f, "%ld", &khz) != 1)
            khz = 0;
        fclose(f);
    }
    if (khz > 0) {
        h->ghz = khz / 1e6;
        snprintf(h->ghz_from, sizeof h->ghz_from, "cpufreq cpuinfo_max_freq %ld kHz", khz);
    }
}

static void read_meminfo(cal_host *h)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return;
    char line[256];
    long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %ld kB", &kb) == 1)
            break;
    fclose(f);
    h->mem_bytes = kb * 1024.0;
}

void cal_detect_host(cal_host *h)
{
    memset(h, 0, sizeof *h);
    struct utsname u;
    snprintf(h->arch, sizeof h->arch, "%s", uname(&u) == 0 ? u.machine : "unknown");
    read_cpuinfo(h);
    read_max_freq(h);
    read_meminfo(h);
    if (!h->cpu[0])
        snprintf(h->cpu, sizeof h->cpu, "unknown %s CPU", h->arch);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    h->cores = n > 0 ? (int)n : 1;
    if (h->ghz <= 0) {
        h->ghz = 1.0;
        snprintf(h->ghz_from, sizeof h->ghz_from, "clock unknown: 1 GHz assumed");
    }
    /* vector width: lanes of FP32 in one FMA, two FMA pipes per core (every x86 core since
     * Haswell/Zen and the Arm cores of the shipped models have two) */
    h->fma_pipes = 2;
    bool amd_256 = strstr(h->vendor, "AMD") && h->family > 0 && h->family < 26;
    if (has_flag(h->flags, "avx512f"))
        h->fp32_lanes = amd_256 ? 8 : 16; /* Zen 4 runs AVX-512 on 256-bit datapaths */
    else if (has_flag(h->flags, "avx2") || has_flag(h->flags, "fma") || has_flag(h->flags, "avx"))
        h->fp32_lanes = 8;
    else
        h->fp32_lanes = 4; /* SSE2 or NEON (asimd): 128-bit */
    h->has_bf16_dot = has_flag(h->flags, "avx512_bf16") || has_flag(h->flags, "amx_bf16") || has_flag(h->flags, "bf16");
    h->has_int8_dot = has_flag(h->flags, "avx512_vnni") || has_flag(h->flags, "avx_vnni") || has_flag(h->flags, "asimddp");
    /* The peaks stay the hardware's under MOESIM_GENERIC or MOESIM_CPU_KERNELS (the engine's
     * narrower kernel level): the fitted efficiencies are shares of the hardware, and the
     * engine's larger batches run OpenBLAS, which those switches do not narrow. (Peaks of the
     * narrow level made every 256- and 512-token point predict 76-82% slow: a plain x86-64
     * FP32 peak a quarter of what OpenBLAS reached.) */
}

void cal_cpu_peaks(const cal_host *h, double peak[SIM_DT_COUNT], char *source, size_t cap)
{
    for (int t = 0; t < SIM_DT_COUNT; t++)
        peak[t] = 0;
    int per_cycle = h->fma_pipes * h->fp32_lanes * 2;
    double fp32 = h->cores * h->ghz * 1e9 * per_cycle;
    peak[SIM_DT_FP32] = fp32;
    int n = snprintf(source, cap,
                     "Derived by moesim calibrate from the host: FP32 %.4g TFLOP/s = %d cores x %.3f GHz (%s) x %d "
                     "FLOP/cycle (%d FMA pipes x %d FP32 lanes x 2; flags: %s%s)",
                     fp32 / 1e12, h->cores, h->ghz, h->ghz_from, per_cycle, h->fma_pipes, h->fp32_lanes,
                     h->flags[0] ? h->flags : "none found",
                     strstr(h->vendor, "AMD") && h->family > 0 && h->family < 26 && h->fp32_lanes == 8 &&
                             strstr(h->flags, "avx512f")
                         ? "; AMD family < 26 runs AVX-512 on 256-bit datapaths"
                         : "");
    if (h->has_bf16_dot) {
        peak[SIM_DT_BF16] = 2 * fp32;
        n += snprintf(source + n, (size_t)n < cap ? cap - (size_t)n : 0,
                      "; BF16 %.4g = 2 x FP32 (a BF16 dot-product instruction sums pairs of products into each FP32 lane)",
                      peak[SIM_DT_BF16] / 1e12);
    }
    if (h->has_int8_dot) {
        peak[SIM_DT_INT8] = 4 * fp32;
        n += snprintf(source + n, (size_t)n < cap ? cap - (size_t)n : 0,
                      "; INT8 %.4g TOP/s = 4 x FP32 (an INT8 dot-product instruction sums 4 products into each 32-bit lane)",
                      peak[SIM_DT_INT8] / 1e12);
    }
    snprintf(source + n, (size_t)n < cap ? cap - (size_t)n : 0,
             ". Peaks are of the hardware; the fitted efficiencies say what share of them the engine reaches.");
}

int cal_detect_gpu(cal_host *h, sim_err *err)
{
    FILE *p = popen("nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits 2>/dev/null", "r");
    if (!p)
        return sim_fail(err, SIM_EFAIL, "--backend cuda: no CUDA device (nvidia-smi could not be run)");
    char line[512];
    int count = 0;
    while (fgets(line, sizeof line, p)) {
        char *name = strtok(line, ","), *mem = strtok(NULL, ","), *drv = strtok(NULL, ",\n");
        if (!name || !mem || !drv)
            continue;
        if (count++ == 0) {
            trim(name);
            trim(drv);
            snprintf(h->gpu, sizeof h->gpu, "%s", name);
            snprintf(h->driver, sizeof h->driver, "%s", drv);
            h->gpu_mem_bytes = atof(mem) * 1048576.0; /* MiB */
        }
    }
    int status = pclose(p);
    h->gpu_count = count;
    if (count == 0)
        return sim_fail(err, SIM_EFAIL, "--backend cuda: no CUDA device (nvidia-smi %s)",
                        status == 0 ? "lists no GPU" : "is missing or failed");
    return SIM_OK;
}

/* Words of 3+ letters or digits, lower case, that `a` and `b` share. */
static int shared_words(const char *a, const char *b)
{
    int n = 0;
    char wa[64];
    for (const char *p = a; *p;) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        size_t len = 0;
        while (isalnum((unsigned char)p[len]) && len < sizeof wa - 1) {
            wa[len] = (char)tolower((unsigned char)p[len]);
            len++;
        }
        wa[len] = '\0';
        p += len;
        while (isalnum((unsigned char)*p))
            p++;
        if (len >= 3 && strcasestr(b, wa))
            n++;
    }
    return n;
}

int cal_pick_base(const cal_host *h, bool gpu, char *name, size_t cap, char *why, size_t wcap, sim_err *err)
{
    char(*names)[64] = malloc(256 * sizeof *names);
    if (!names)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int n = sim_registry_list_hw(names, 256);
    n = n > 256 ? 256 : n;
    double peaks[SIM_DT_COUNT];
    char src[1024];
    cal_cpu_peaks(h, peaks, src, sizeof src);
    bool x86 = strstr(h->arch, "86") != NULL;
    double best = INFINITY;
    name[0] = '\0';
    for (int i = 0; i < n; i++) {
        sim_hw hw;
        sim_err ignore;
        if (sim_registry_hw(names[i], &hw, &ignore) != SIM_OK)
            continue;
        double score;
        if (gpu) {
            if (hw.cls != SIM_HW_GPU)
                continue;
            /* most shared words first, then the nearest memory size */
            score = -10.0 * shared_words(h->gpu, hw.display_name) +
                    fabs(log((h->gpu_mem_bytes > 0 ? h->gpu_mem_bytes : 1) / hw.tiers[0].capacity_bytes));
        } else {
            if (hw.cls != SIM_HW_CPU)
                continue;
            bool hw_x86 = strcasestr(hw.display_name, "x86") || strcasestr(hw.display_name, "zen") ||
                          strcasestr(hw.display_name, "intel") || strcasestr(hw.display_name, "epyc");
            score = (hw_x86 == x86 ? 0 : 10) + fabs(log(peaks[SIM_DT_FP32] / hw.peak_flops[SIM_DT_FP32]));
        }
        if (score < best) {
            best = score;
            snprintf(name, cap, "%s", hw.name);
            if (gpu)
                snprintf(why, wcap, "closest shipped GPU model to '%s' (%d words of its name shared with '%s')", h->gpu,
                         shared_words(h->gpu, hw.display_name), hw.display_name);
            else
                snprintf(why, wcap, "closest shipped CPU model: %s instruction set, FP32 peak %.3g vs %.3g TFLOP/s here",
                         x86 ? "x86" : "Arm", hw.peak_flops[SIM_DT_FP32] / 1e12, peaks[SIM_DT_FP32] / 1e12);
        }
    }
    free(names);
    if (!name[0])
        return sim_fail(err, SIM_EINPUT, "no shipped %s hwmodel to start from (give --base HWMODEL)", gpu ? "GPU" : "CPU");
    return SIM_OK;
}

void cal_default_name(const cal_host *h, bool gpu, char *out, size_t cap)
{
    char raw[200];
    if (gpu) {
        snprintf(raw, sizeof raw, "%s", h->gpu);
    } else {
        int n = snprintf(raw, sizeof raw, "%s", h->cpu);
        if (h->family > 0)
            n += snprintf(raw + n, sizeof raw - (size_t)n, " f%dm%d", h->family, h->model_id);
        n += snprintf(raw + n, sizeof raw - (size_t)n, " %dc", h->cores);
        if (h->mem_bytes > 0)
            snprintf(raw + n, sizeof raw - (size_t)n, " %.0fgb", h->mem_bytes / 1e9);
    }
    size_t j = 0;
    bool dash = false;
    for (const char *p = raw; *p && j + 1 < cap && j < 80; p++) {
        if (isalnum((unsigned char)*p)) {
            if (dash && j)
                out[j++] = '-';
            out[j++] = (char)tolower((unsigned char)*p);
            dash = false;
        } else {
            dash = true;
        }
    }
    out[j] = '\0';
    if (!j)
        snprintf(out, cap, "host");
}

void cal_host_identity(const cal_host *h, bool gpu, char *out, size_t cap)
{
    if (gpu) {
        snprintf(out, cap, "%s; %.0f GB; %d GPU(s)", h->gpu[0] ? h->gpu : "unknown GPU", h->gpu_mem_bytes / 1e9,
                 h->gpu_count);
        return;
    }
    int n = snprintf(out, cap, "%s", h->cpu);
    if (h->family > 0)
        n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, "; family %d model %d", h->family, h->model_id);
    n += snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, "; %d logical CPUs", h->cores);
    if (h->mem_bytes > 0)
        snprintf(out + n, (size_t)n < cap ? cap - (size_t)n : 0, "; %.0f GB", h->mem_bytes / 1e9);
}
