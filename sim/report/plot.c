/* plot.c: gnuplot charts from rows. Data and script go to gnuplot on a pipe; the image is
 * rendered to a temporary name and renamed into place once gnuplot succeeds. */
#include "report/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/tmpfile.h"

/* Units for the column names results use. */
static const struct {
    const char *suffix, *unit;
} units[] = {
    { "tokens_per_s_per_user", "tokens/s per user" },
    { "tokens_per_s_per_gpu", "tokens/s per GPU" },
    { "tokens_per_s", "tokens/s" },
    { "tps_user", "tokens/s per user" },
    { "tps_gpu", "tokens/s per GPU" },
    { "usd_per_mtok", "US$ per million tokens" },
    { "_usd", "US$" },
    { "_ms", "ms" },
    { "_s", "s" },
    { "_bytes", "bytes" },
    { "_gb", "GB" },
    { "joules", "J" },
};

void sim_plot_label(const char *column, char *buf, size_t cap)
{
    const char *unit = NULL;
    size_t n = strlen(column);
    for (size_t i = 0; i < sizeof units / sizeof units[0] && !unit; i++) {
        size_t m = strlen(units[i].suffix);
        if (strstr(column, units[i].suffix) && (units[i].suffix[0] != '_' || (n >= m && strcmp(column + n - m, units[i].suffix) == 0)))
            unit = units[i].unit;
    }
    char name[128];
    snprintf(name, sizeof name, "%s", column);
    for (char *p = name; *p; p++)
        if (*p == '_')
            *p = ' ';
    if (unit)
        snprintf(buf, cap, "%s (%s)", name, unit);
    else
        snprintf(buf, cap, "%s", name);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* gnuplot strings are single-quoted; a quote is doubled. */
static void put_quoted(FILE *g, const char *s)
{
    fputc('\'', g);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', g);
        fputc(*s, g);
    }
    fputc('\'', g);
}

static void series_value(const cJSON *row, const char *by, char *buf, size_t cap)
{
    const cJSON *it = by ? cJSON_GetObjectItemCaseSensitive(row, by) : NULL;
    if (cJSON_IsString(it))
        snprintf(buf, cap, "%s", it->valuestring);
    else if (cJSON_IsNumber(it))
        snprintf(buf, cap, "%g", it->valuedouble);
    else
        snprintf(buf, cap, "%s", by ? "(none)" : "");
}

static int finish(const char *tmp, const sim_plot_opts *o, int points, int status, sim_err *err);

/* Series styles: 10 colours that stay apart for colour-blind readers (Okabe-Ito's 8 and two
 * darker tones) and 8 filled/open markers; series s takes colour s % 10 and marker
 * (s + s / 10) % 8, so the first 32 series (the most a plot takes) never repeat a pair. */
static const char *const colours[] = { "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                       "#56B4E9", "#000000", "#F0E442", "#882255", "#117733" };
static const int markers[] = { 7, 5, 9, 13, 11, 4, 6, 8 };

static void series_style(FILE *g, int s)
{
    fprintf(g, "lw 2 lc rgb '%s' pt %d ps 1.3", colours[s % 10], markers[(s + s / 10) % 8]);
}

/* A point's label text: the label column's string or number, quotes and newlines dropped
 * (gnuplot reads it as one quoted field). */
static void label_value(const cJSON *row, const char *col, char *buf, size_t cap)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(row, col);
    if (cJSON_IsString(it))
        snprintf(buf, cap, "%s", it->valuestring);
    else if (cJSON_IsNumber(it))
        snprintf(buf, cap, "%g", it->valuedouble);
    else
        buf[0] = '\0';
    for (char *p = buf; *p; p++)
        if (*p == '"' || *p == '\n' || *p == '\\')
            *p = ' ';
}

static bool plottable(const sim_plot_opts *o, const cJSON *x, const cJSON *y)
{
    return cJSON_IsNumber(x) && cJSON_IsNumber(y) && isfinite(x->valuedouble) && isfinite(y->valuedouble) &&
           (!o->logx || x->valuedouble > 0) && (!o->logy || y->valuedouble > 0);
}

/* One series' data block: "x y" lines, with the label as a third quoted field when asked. */
static int series_data(FILE *g, const cJSON *rows, const sim_plot_opts *o, const char *series)
{
    int points = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        char v[128];
        series_value(row, o->by, v, sizeof v);
        if (strcmp(v, series) != 0)
            continue;
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(row, o->x);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(row, o->y);
        if (!plottable(o, x, y))
            continue;
        fprintf(g, "%.10g %.10g", x->valuedouble, y->valuedouble);
        if (o->label) {
            char l[256];
            label_value(row, o->label, l, sizeof l);
            fprintf(g, " \"%s\"", l);
        }
        fprintf(g, "\n");
        points++;
    }
    fprintf(g, "e\n");
    return points;
}

int sim_plot(const cJSON *rows, const sim_plot_opts *o, sim_err *err)
{
    if (!o->x || !o->y || !o->file)
        return sim_fail(err, SIM_EINPUT, "plot: x, y and file are required");
    bool svg = ends_with(o->file, ".svg");
    if (!svg && !ends_with(o->file, ".png"))
        return sim_fail(err, SIM_EINPUT, "plot: file '%s' must end in .png or .svg", o->file);
    if (!cJSON_IsArray(rows) || cJSON_GetArraySize(rows) == 0)
        return sim_fail(err, SIM_EINPUT, "plot: rows must be a non-empty list");

    /* The distinct series, in order of first appearance. */
    char series[32][128];
    int ns = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        char v[128];
        series_value(row, o->by, v, sizeof v);
        bool seen = false;
        for (int i = 0; i < ns && !seen; i++)
            seen = strcmp(series[i], v) == 0;
        if (!seen) {
            if (ns == 32)
                return sim_fail(err, SIM_EINPUT, "plot: more than 32 series in '%s'", o->by);
            snprintf(series[ns++], sizeof series[0], "%s", v);
        }
    }

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%s", o->file, (long)getpid(), svg ? "svg" : "png");
    sim_tmp_remember(tmp); /* gnuplot takes a while: an interrupt must not leave the file */
    FILE *g = popen("gnuplot 1>&2", "w");
    if (!g) {
        sim_tmp_forget(tmp);
        return sim_fail(err, SIM_EFAIL, "plot: cannot start gnuplot: %s", strerror(errno));
    }
    char xl[256], yl[256];
    sim_plot_label(o->x, xl, sizeof xl);
    sim_plot_label(o->y, yl, sizeof yl);
    /* noenhanced: names like tps_user or gb200-nvl72 print as written, not with subscripts */
    fprintf(g, "set terminal %s size 1000,640 %s noenhanced\n", svg ? "svg" : "png", svg ? "dynamic" : "");
    fprintf(g, "set output ");
    put_quoted(g, tmp);
    fprintf(g, "\nset grid\nset key outside right top\nset xlabel ");
    put_quoted(g, o->xlabel ? o->xlabel : xl);
    fprintf(g, "\nset ylabel ");
    put_quoted(g, o->ylabel ? o->ylabel : yl);
    fprintf(g, "\nset title ");
    char title[512];
    snprintf(title, sizeof title, "%s against %s", o->ylabel ? o->ylabel : yl, o->xlabel ? o->xlabel : xl);
    put_quoted(g, o->title ? o->title : title);
    fprintf(g, "\n%s%s", o->logx ? "set logscale x\n" : "", o->logy ? "set logscale y\n" : "");
    fprintf(g, "plot ");
    for (int s = 0; s < ns; s++) {
        fprintf(g, "%s'-' using 1:2 with %s ", s ? ", " : "", o->lines ? "linespoints" : "points");
        series_style(g, s);
        fprintf(g, " title ");
        put_quoted(g, o->by ? series[s] : o->y);
        if (o->label) { /* the same points again, as small labels beside each marker */
            fprintf(g, ", '-' using 1:2:3 with labels font ',7' offset char 0.6,0.6 left rotate by 20 tc rgb '%s' "
                       "notitle", colours[s % 10]);
        }
    }
    fprintf(g, "\n");
    int points = 0;
    for (int s = 0; s < ns; s++) {
        points += series_data(g, rows, o, series[s]);
        if (o->label)
            series_data(g, rows, o, series[s]);
    }
    int status = pclose(g);
    int rc = finish(tmp, o, points, status, err);
    sim_tmp_forget(tmp);
    return rc;
}

/* After gnuplot: keep the image (rename into place) or remove it, and say why. */
static int finish(const char *tmp, const sim_plot_opts *o, int points, int status, sim_err *err)
{
    if (points == 0) {
        unlink(tmp);
        return sim_fail(err, SIM_EINPUT, "plot: no row has numbers in both '%s' and '%s'", o->x, o->y);
    }
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        unlink(tmp);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            return sim_fail(err, SIM_EFAIL, "plot: gnuplot is not installed (apt-get install gnuplot-nox)");
        return sim_fail(err, SIM_EFAIL, "plot: gnuplot failed writing %s", o->file);
    }
    if (rename(tmp, o->file) != 0) {
        int e = errno;
        unlink(tmp);
        return sim_fail(err, SIM_EFAIL, "plot: cannot write %s: %s", o->file, strerror(e));
    }
    return SIM_OK;
}
