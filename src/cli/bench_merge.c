/* bench_merge.c — `sockit bench merge A.json B.json ... [--json F] [--html F]`:
 * reads the --json reports of runs (e.g. of several machines loading one
 * server at once) and combines them exactly: counts and histograms are
 * added (the percentiles are recomputed from the sum, never averaged), the
 * seconds of the timelines are aligned by wall clock, and the combined run
 * is reported like one run: on stdout, and as JSON and HTML on request. */
#include "cli/bench.h"
#include "cli/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bounds of the times read (so that they convert to nanoseconds exactly
 * enough, and a timeline never spans more than a few days). */
#define MAX_UNIX 1e10          /* wall-clock seconds: the year 2286 */
#define MAX_SECS 1e7           /* a run's duration or ramp */
#define MAX_APART_SECS 86400.0 /* runs merged started within a day of each other */

/* One run read back: its setup, its counters, and what they point into. */
typedef struct run_in {
    bench_cfg cfg;
    bench_stats st;
    double start_unix;
    char *target; /* owned */
} run_in;

/* Reads a whole file of at most JSON_MAX_BYTES (checked before allocating). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) < 0) {
        cli_error("%s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    char *buf = NULL;
    if ((size_t)sb.st_size > JSON_MAX_BYTES)
        cli_error("%s: larger than %zu bytes: not a bench report", path, JSON_MAX_BYTES);
    else if (!(buf = malloc((size_t)sb.st_size + 1)))
        cli_error("out of memory");
    else if ((*len = fread(buf, 1, (size_t)sb.st_size, f)) != (size_t)sb.st_size || ferror(f)) {
        cli_error("%s: short read", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* A count: a non-negative integer below 2^53 (exact in a double), else -1. */
static int count_of(const json_node *n, uint64_t *out)
{
    double v = json_num(n, -1);
    if (!(v >= 0) || v > 9007199254740992.0 || v != (double)(uint64_t)v)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static uint64_t count_or0(const json_node *n)
{
    uint64_t v = 0;
    return count_of(n, &v) < 0 ? 0 : v;
}

/* buckets [[low, count], ...] added into h (counts and total only). */
static int load_buckets(const json_doc *d, const json_node *arr, histogram *h)
{
    if (!arr || arr->type != JSON_ARR)
        return -1;
    for (const json_node *b = json_first(d, arr); b; b = json_next(d, b)) {
        const json_node *lo = json_first(d, b), *cn = json_next(d, lo);
        uint64_t low, n;
        if (b->type != JSON_ARR || count_of(lo, &low) < 0 || count_of(cn, &n) < 0 || json_next(d, cn))
            return -1;
        h->counts[hist_index(low)] += n;
        h->total += n;
    }
    return 0;
}

/* {"count", "min", "max", "sum", "buckets"}; the count must match the buckets. */
static int load_hist(const json_doc *d, const json_node *o, histogram *h)
{
    uint64_t total, min, max;
    hist_reset(h);
    if (!o || o->type != JSON_OBJ || count_of(json_get(d, o, "count"), &total) < 0 ||
        count_of(json_get(d, o, "min"), &min) < 0 || count_of(json_get(d, o, "max"), &max) < 0 ||
        load_buckets(d, json_get(d, o, "buckets"), h) < 0 || h->total != total)
        return -1;
    if (total) {
        h->min = min;
        h->max = max > HIST_MAX ? HIST_MAX : max;
        h->sum = json_num(json_get(d, o, "sum"), 0);
    }
    return 0;
}

/* {"origin_unix", "seconds": [[received, errors, buckets], ...]} */
static int load_timeline(const json_doc *d, const json_node *o, bench_timeline *tl, histogram *h)
{
    const json_node *secs = json_get(d, o, "seconds");
    if (!secs || secs->type != JSON_ARR)
        return -1;
    tl->origin_unix = json_num(json_get(d, o, "origin_unix"), 0);
    tl->truncated = json_get(d, o, "truncated") && json_get(d, o, "truncated")->type == JSON_TRUE;
    for (const json_node *s = json_first(d, secs); s; s = json_next(d, s)) {
        const json_node *rx = json_first(d, s), *err = json_next(d, rx), *b = json_next(d, err);
        uint64_t nrx, nerr;
        hist_reset(h);
        if (s->type != JSON_ARR || count_of(rx, &nrx) < 0 || count_of(err, &nerr) < 0 ||
            load_buckets(d, b, h) < 0)
            return -1;
        if (bench_tl_append(tl, nrx, nerr, h) < 0)
            return -1;
    }
    return 0;
}

static void load_setup(const json_doc *d, const json_node *r, bench_cfg *cfg)
{
    static const char *const schemes[] = {"tcp", "udp", "unix", "unixgram", "ws", "tls", "wss"};
    char *s = json_strdup(d, json_get(d, r, "transport"));
    for (int i = 0; s && i < (int)(sizeof schemes / sizeof schemes[0]); i++)
        if (strcmp(s, schemes[i]) == 0)
            cfg->url.scheme = (sk_scheme)i;
    free(s);
    s = json_strdup(d, json_get(d, r, "frame"));
    cfg->dgram = s && strcmp(s, "datagram") == 0;
    cfg->ws = s && strcmp(s, "ws") == 0;
    if (s && !cfg->dgram && !cfg->ws && sk_frame_from_name(s, &cfg->out_frame) == 0)
        cfg->in_frame = cfg->out_frame;
    free(s);
    cfg->size = (size_t)count_or0(json_get(d, r, "size"));
    cfg->depth = (uint32_t)count_or0(json_get(d, r, "depth"));
    cfg->threads = (uint32_t)count_or0(json_get(d, r, "threads"));
    cfg->rate = json_num(json_get(d, r, "rate"), 0);
    const json_node *v = json_get(d, r, "verify");
    cfg->verify = v && v->type == JSON_TRUE;
    cfg->conns = (uint32_t)count_or0(json_get(d, json_get(d, r, "connections"), "requested"));
    v = json_get(d, r, "ramp_s");
    cfg->ramp = v && v->type == JSON_NUM;
    v = json_get(d, r, "handshakes");
    cfg->handshakes = v && v->type == JSON_OBJ;
    v = json_get(d, v, "resume");
    cfg->resume = v && v->type == JSON_TRUE;
}

static void load_counts(const json_doc *d, const json_node *r, bench_stats *st)
{
    const json_node *c = json_get(d, r, "connections"), *m = json_get(d, r, "messages");
    const json_node *b = json_get(d, r, "bytes"), *e = json_get(d, r, "errors");
    const json_node *hs = json_get(d, r, "handshakes");
    st->conns_ok = count_or0(json_get(d, c, "ok"));
    st->conns_failed = count_or0(json_get(d, c, "failed"));
    st->conns_not_started = count_or0(json_get(d, c, "not_started"));
    st->sent = count_or0(json_get(d, m, "sent"));
    st->received = count_or0(json_get(d, m, "received"));
    st->bytes_sent = count_or0(json_get(d, b, "sent"));
    st->bytes_received = count_or0(json_get(d, b, "received"));
    for (int k = 0; k < BE_COUNT; k++)
        st->errors[k] = k == BE_LOST ? 0 : count_or0(json_get(d, e, bench_err_key(k)));
    st->ramp_up = count_or0(json_get(d, r, "ramp_up"));
    double ramp = json_num(json_get(d, r, "ramp_s"), 0);
    st->ramp_ns = ramp > 0 && ramp < MAX_SECS ? (uint64_t)(ramp * 1e9) : 0;
    st->handshakes = count_or0(json_get(d, hs, "count"));
    st->resumed = count_or0(json_get(d, hs, "resumed"));
}

/* Fills run from the parsed report; NULL, or what is wrong with it. */
static const char *load_run(const json_doc *d, run_in *run, histogram *tmp)
{
    const json_node *r = &d->nodes[0];
    if (r->type != JSON_OBJ || !json_get(d, r, "target"))
        return "not a sockit bench --json report";
    run->target = json_strdup(d, json_get(d, r, "target"));
    run->cfg.target = run->target ? run->target : "?";
    load_setup(d, r, &run->cfg);
    load_counts(d, r, &run->st);
    if (load_hist(d, json_get(d, r, "histogram_ns"), &run->st.hist) < 0)
        return "no valid \"histogram_ns\" (written by an older sockit?)";
    hist_reset(&run->st.hs_hist);
    hist_reset(&run->st.iter_hist);
    if (run->cfg.handshakes &&
        (load_hist(d, json_get(d, r, "handshake_histogram_ns"), &run->st.hs_hist) < 0 ||
         load_hist(d, json_get(d, r, "iteration_histogram_ns"), &run->st.iter_hist) < 0))
        return "bad handshake histograms";
    if (load_timeline(d, json_get(d, r, "timeline"), &run->st.tl, tmp) < 0)
        return "no valid \"timeline\"";
    run->start_unix = json_num(json_get(d, r, "start_unix"), run->st.tl.origin_unix);
    double dur = json_num(json_get(d, r, "duration_s"), -1);
    if (!(dur >= 0 && dur < MAX_SECS) || !(run->start_unix > 0 && run->start_unix < MAX_UNIX) ||
        !(run->st.tl.origin_unix > 0 && run->st.tl.origin_unix < MAX_UNIX))
        return "no valid \"duration_s\", \"start_unix\" or \"origin_unix\"";
    run->st.t_start_ns = (uint64_t)(run->start_unix * 1e9 + 0.5);
    run->st.t_end_ns = run->st.t_start_ns + (uint64_t)(dur * 1e9 + 0.5);
    return NULL;
}

static int read_run(const char *path, run_in *run, histogram *tmp)
{
    size_t len = 0;
    char *text = slurp(path, &len), err[128];
    if (!text)
        return -1;
    json_doc doc;
    const char *why = NULL;
    if (json_parse(text, len, &doc, err, sizeof err) < 0)
        why = err;
    else
        why = load_run(&doc, run, tmp);
    if (why)
        cli_error("%s: %s", path, why);
    json_free(&doc);
    free(text);
    return why ? -1 : 0;
}

/* Adds run into total (the setup of the first, the sizes added up). */
static int add_run(run_in *total, run_in *run, double origin0)
{
    bench_cfg *c = &total->cfg;
    if (!c->target) {
        *c = run->cfg;
        c->conns = c->threads = 0;
        c->rate = 0;
    } else if (strcmp(c->target, run->cfg.target) != 0 || c->size != run->cfg.size) {
        fprintf(stderr, "sockit: note: merging runs of different targets or sizes (%s, %s)\n",
                c->target, run->cfg.target);
    }
    c->conns += run->cfg.conns;
    c->threads += run->cfg.threads;
    c->rate += run->cfg.rate;
    c->verify &= run->cfg.verify;
    bench_merge(&total->st, &run->st);
    if (run->st.ramp_ns > total->st.ramp_ns)
        total->st.ramp_ns = run->st.ramp_ns;
    double shift = run->st.tl.origin_unix - origin0 + 0.5; /* >= 0.5: origin0 is the earliest */
    return bench_tl_merge(&total->st.tl, &run->st.tl, (size_t)shift);
}

static int merge_runs(const cli_opts *o, run_in *runs, int n)
{
    run_in total = {0};
    double origin0 = runs[0].st.tl.origin_unix;
    for (int i = 1; i < n; i++)
        origin0 = runs[i].st.tl.origin_unix < origin0 ? runs[i].st.tl.origin_unix : origin0;
    for (int i = 0; i < n; i++)
        if (runs[i].st.tl.origin_unix - origin0 > MAX_APART_SECS) {
            cli_error("%s started more than a day after another run: not one load",
                      o->args[i + 1]);
            return 1;
        }
    hist_reset(&total.st.hist);
    hist_reset(&total.st.hs_hist);
    hist_reset(&total.st.iter_hist);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        if (add_run(&total, &runs[i], origin0) < 0)
            rc = 1, cli_error("out of memory");
    total.st.tl.origin_unix = origin0;
    total.cfg.t0_ns = (uint64_t)(origin0 * 1e9 + 0.5);
    total.cfg.json = o->bench.json;
    total.cfg.html = o->bench.html;
    if (rc == 0) {
        bench_finish(&total.cfg, &total.st);
        bench_print(stdout, &total.cfg, &total.st);
        fflush(stdout);
        rc = bench_exit_status(&total.cfg, &total.st);
        if (o->bench.json && bench_write_json(o->bench.json, &total.cfg, &total.st) < 0)
            rc = 1;
        if (o->bench.html && bench_write_html(o->bench.html, &total.cfg, &total.st) < 0)
            rc = 1;
    }
    bench_tl_free(&total.st.tl);
    return rc;
}

/* Options that shape a run mean nothing to merge: a mistake, said at once. */
static int run_options_given(const cli_bench_opts *b)
{
    return b->conns || b->duration > 0 || b->messages || b->size || b->depth || b->rate > 0 ||
           b->threads || b->verify || b->source_addrs || b->timeout > 0 || b->ramp || b->handshakes;
}

int bench_merge_cmd(const cli_opts *o)
{
    int n = o->nargs - 1;
    if (run_options_given(&o->bench)) {
        cli_error("bench merge takes report files, --json FILE and --html FILE "
                  "(the runs' options are in the reports)");
        return 2;
    }
    if (n < 1) {
        cli_error("bench merge: give the --json reports to combine "
                  "(sockit bench merge A.json B.json ...)");
        return 2;
    }
    run_in *runs = calloc((size_t)n, sizeof *runs);
    histogram *tmp = malloc(sizeof *tmp);
    int rc = runs && tmp ? 0 : (cli_error("out of memory"), 1);
    for (int i = 0; i < n && rc == 0; i++)
        if (read_run(o->args[i + 1], &runs[i], tmp) < 0)
            rc = 1;
    if (rc == 0)
        rc = merge_runs(o, runs, n);
    for (int i = 0; runs && i < n; i++) {
        free(runs[i].target);
        bench_tl_free(&runs[i].st.tl);
    }
    free(runs);
    free(tmp);
    return rc;
}
