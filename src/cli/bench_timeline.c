/* bench_timeline.c — `sockit bench` second by second: each worker keeps,
 * for every second since the run began, the replies, the errors and the
 * latency histogram (its non-zero buckets), for the --html plots and for
 * `bench merge`, which adds runs second by second; and the JSON form of a
 * histogram and of a timeline. */
#include "cli/bench.h"

#include <stdlib.h>
#include <string.h>

#define SEC_NS UINT64_C(1000000000)

int bench_tl_init(bench_worker *w)
{
    w->tl_hist = malloc(sizeof *w->tl_hist);
    if (!w->tl_hist)
        return -1;
    hist_reset(w->tl_hist);
    w->st.tl.origin_unix = w->cfg->t0_unix;
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int grow_pairs(bench_timeline *tl, size_t need)
{
    size_t cap = tl->cap_pairs;
    if (grow((void **)&tl->idx, &cap, need, sizeof *tl->idx) < 0)
        return -1;
    cap = tl->cap_pairs;
    if (grow((void **)&tl->cnt, &cap, need, sizeof *tl->cnt) < 0)
        return -1;
    tl->cap_pairs = cap;
    return 0;
}

int bench_tl_append(bench_timeline *tl, uint64_t received, uint64_t errors, const histogram *h)
{
    size_t nz = 0;
    if (tl->truncated)
        return -1;
    for (size_t i = 0; h && h->total && i < HIST_BUCKETS; i++)
        nz += h->counts[i] != 0;
    if (grow((void **)&tl->secs, &tl->cap_secs, tl->nsecs + 1, sizeof *tl->secs) < 0 ||
        grow_pairs(tl, tl->npairs + nz) < 0) {
        tl->truncated = 1;
        return -1;
    }
    bench_sec *s = &tl->secs[tl->nsecs++];
    *s = (bench_sec){.received = received, .errors = errors, .off = tl->npairs, .n = (uint32_t)nz};
    for (size_t i = 0; nz && i < HIST_BUCKETS; i++)
        if (h->counts[i]) {
            tl->idx[tl->npairs] = (uint32_t)i;
            tl->cnt[tl->npairs++] = h->counts[i];
        }
    return 0;
}

static uint64_t error_total(const bench_stats *st)
{
    uint64_t n = 0;
    for (int k = 0; k < BE_COUNT; k++)
        n += k == BE_LOST ? 0 : st->errors[k]; /* lost is only known at the end */
    return n;
}

/* Second w->tl_cur is over: keep it. */
static void keep_current(bench_worker *w)
{
    uint64_t errs = error_total(&w->st); /* every reply is in tl_hist: its total counts them */
    bench_tl_append(&w->st.tl, w->tl_hist->total, errs - w->tl_err0, w->tl_hist);
    if (w->tl_hist->total)
        hist_reset(w->tl_hist);
    w->tl_err0 = errs;
}

void bench_tl_roll(bench_worker *w, uint64_t now_ns)
{
    uint64_t t0 = w->cfg->t0_ns, sec = now_ns > t0 ? (now_ns - t0) / SEC_NS : 0;
    if (sec <= w->tl_cur)
        return;
    keep_current(w);
    while (w->st.tl.nsecs < sec && bench_tl_append(&w->st.tl, 0, 0, NULL) == 0)
        ; /* seconds without a reply */
    w->tl_cur = sec;
}

void bench_tl_finish(bench_worker *w)
{
    keep_current(w);
    w->tl_cur++;
}

static void add_second(histogram *h, const bench_timeline *tl, size_t i)
{
    const bench_sec *s = &tl->secs[i];
    for (uint32_t k = 0; k < s->n; k++) {
        h->counts[tl->idx[s->off + k]] += tl->cnt[s->off + k];
        h->total += tl->cnt[s->off + k];
    }
}

int bench_tl_merge(bench_timeline *dst, const bench_timeline *src, size_t shift)
{
    bench_timeline out = {.origin_unix = dst->nsecs ? dst->origin_unix : src->origin_unix};
    histogram *h = malloc(sizeof *h);
    size_t n = src->nsecs ? src->nsecs + shift : 0;
    n = n > dst->nsecs ? n : dst->nsecs;
    if (!h)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t rx = 0, err = 0;
        hist_reset(h);
        if (i < dst->nsecs) {
            add_second(h, dst, i);
            rx += dst->secs[i].received, err += dst->secs[i].errors;
        }
        if (i >= shift && i - shift < src->nsecs) {
            add_second(h, src, i - shift);
            rx += src->secs[i - shift].received, err += src->secs[i - shift].errors;
        }
        rc = bench_tl_append(&out, rx, err, h);
    }
    free(h);
    out.truncated |= dst->truncated | src->truncated;
    bench_tl_free(dst);
    *dst = out;
    return rc;
}

void bench_tl_hist(const bench_timeline *tl, size_t i, histogram *out)
{
    hist_reset(out);
    if (i >= tl->nsecs || !tl->secs[i].n)
        return;
    add_second(out, tl, i);
    const bench_sec *s = &tl->secs[i];
    size_t lo = tl->idx[s->off], hi = tl->idx[s->off + s->n - 1];
    out->min = hist_bucket_low(lo);
    out->max = hist_bucket_low(hi) + hist_bucket_width(hi) - 1;
}

void bench_tl_free(bench_timeline *tl)
{
    free(tl->secs);
    free(tl->idx);
    free(tl->cnt);
    memset(tl, 0, sizeof *tl);
}

/* ---- JSON ---- */

static void json_buckets(FILE *f, const uint32_t *idx, const uint64_t *cnt, size_t n)
{
    fputc('[', f);
    for (size_t k = 0; k < n; k++)
        fprintf(f, "%s[%llu, %llu]", k ? ", " : "", (unsigned long long)hist_bucket_low(idx[k]),
                (unsigned long long)cnt[k]);
    fputc(']', f);
}

void bench_hist_json(FILE *f, const histogram *h)
{
    fprintf(f, "{\"count\": %llu, \"min\": %llu, \"max\": %llu, \"sum\": %.0f, \"buckets\": [",
            (unsigned long long)h->total, (unsigned long long)(h->total ? h->min : 0),
            (unsigned long long)h->max, h->sum);
    const char *sep = "";
    for (size_t i = 0; h->total && i < HIST_BUCKETS; i++)
        if (h->counts[i]) {
            fprintf(f, "%s[%llu, %llu]", sep, (unsigned long long)hist_bucket_low(i),
                    (unsigned long long)h->counts[i]);
            sep = ", ";
        }
    fputs("]}", f);
}

void bench_tl_json(FILE *f, const bench_timeline *tl)
{
    fprintf(f, "{\"origin_unix\": %.6f, \"truncated\": %s, \"seconds\": [", tl->origin_unix,
            tl->truncated ? "true" : "false");
    for (size_t i = 0; i < tl->nsecs; i++) {
        const bench_sec *s = &tl->secs[i];
        fprintf(f, "%s\n    [%llu, %llu, ", i ? "," : "", (unsigned long long)s->received,
                (unsigned long long)s->errors);
        json_buckets(f, tl->idx + s->off, tl->cnt + s->off, s->n);
        fputc(']', f);
    }
    fputs("]}", f);
}
