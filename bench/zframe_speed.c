/* zframe_speed.c — compression and decompression throughput of sockit's
 * compressed-frame bodies (public API: sk_zbody_encode / sk_zbody_decode),
 * one thread, over a corpus of fixed-size messages, for bench/zframes.py.
 *
 * usage: zframe_speed CORPUS MSGSIZE zstd|deflate SECONDS
 * prints: "codec=zstd msgs=N in=B wire=W comp_MBps=X decomp_MBps=Y
 * comp_best_MBps=X decomp_best_MBps=Y" (MB = 10^6 bytes of messages, as
 * zstd -b counts them): the mean over the whole time, and that of the
 * fastest 1-second run, which is what zstd -b reports (its BMK_benchTimedFn
 * keeps the fastest of its 1 s runs), so the two compare like for like. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sockit/compress.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* wall clock, as zstd -b (one busy thread) */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A pass over the corpus (bytes) ended at t: a run of 1 s or more is over
 * once it has lasted that long, and *best keeps the fastest run's bytes/s. */
static void run_done(double *t0, double t, unsigned long *passes, double *best, size_t bytes)
{
    ++*passes;
    if (t - *t0 < 1.0)
        return;
    double speed = (double)*passes * (double)bytes / (t - *t0);
    *best = speed > *best ? speed : *best;
    *passes = 0;
    *t0 = t;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*len);
    if (p && fread(p, 1, *len, f) != *len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    sk_zopts o = {.min = 1};
    size_t len, msize = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    uint8_t *corpus = argc == 5 ? slurp(argv[1], &len) : NULL;
    if (!corpus || !msize || sk_zcodec_from_name(argv[3], &o.codec) < 0) {
        fprintf(stderr, "usage: zframe_speed CORPUS MSGSIZE zstd|deflate SECONDS\n");
        return 2;
    }
    double secs = atof(argv[4]);
    size_t n = len / msize, cap = sk_zbody_bound(msize), wire = 0;
    uint8_t *bodies = malloc(n * cap);
    size_t *blen = malloc(n * sizeof *blen);
    sk_zctx *z = sk_zctx_new();
    double start = now(), t0 = start, t, best = 0;
    unsigned long passes = 0, run = 0;
    do { /* compress the corpus message by message, again and again */
        for (size_t i = 0; i < n; i++)
            blen[i] = (size_t)sk_zbody_encode(z, &o, corpus + i * msize, msize, bodies + i * cap, NULL);
        t = now();
        passes++;
        run_done(&t0, t, &run, &best, n * msize);
    } while (t - start < secs);
    double comp_best = best / 1e6;
    double comp = (double)passes * (double)n * (double)msize / (t - start) / 1e6;
    for (size_t i = 0; i < n; i++)
        wire += blen[i];
    t0 = start = now();
    best = 0;
    passes = run = 0;
    do {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *m;
            size_t ml;
            if (sk_zbody_decode(z, msize, bodies + i * cap, blen[i], &m, &ml) < 0 || ml != msize ||
                memcmp(m, corpus + i * msize, msize) != 0) {
                fprintf(stderr, "message %zu did not come back\n", i);
                return 1;
            }
        }
        t = now();
        passes++;
        run_done(&t0, t, &run, &best, n * msize);
    } while (t - start < secs);
    double decomp_best = best / 1e6;
    double decomp = (double)passes * (double)n * (double)msize / (t - start) / 1e6;
    printf("codec=%s msgs=%zu in=%zu wire=%zu comp_MBps=%.1f decomp_MBps=%.1f "
           "comp_best_MBps=%.1f decomp_best_MBps=%.1f\n",
           sk_zcodec_name(o.codec), n, n * msize, wire, comp, decomp, comp_best, decomp_best);
    sk_zctx_free(z);
    free(bodies);
    free(blen);
    free(corpus);
    return 0;
}
