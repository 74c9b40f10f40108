/* test_histogram.c — unit tests for the bench latency histogram: bucket
 * geometry, the relative-error bound, percentiles, min/max/mean and merging. */
#include "cli/histogram.c" /* the CLI's histogram is not part of libsockit */

#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static double absd(double x) { return x < 0 ? -x : x; }

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Buckets tile [0, HIST_MAX] with no gap or overlap, and indexes stay in range. */
static void test_geometry(void)
{
    uint64_t next = 0;
    int gaps = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        if (hist_bucket_low(i) != next)
            gaps++;
        next = hist_bucket_low(i) + hist_bucket_width(i);
    }
    CHECK_EQ_INT(gaps, 0);
    CHECK_EQ_INT(next - 1, HIST_MAX);
    CHECK_EQ_INT(hist_index(0), 0);
    CHECK_EQ_INT(hist_index(255), 255);
    CHECK_EQ_INT(hist_index(256), 256);
    CHECK_EQ_INT(hist_index(HIST_MAX), HIST_BUCKETS - 1);
    CHECK_EQ_INT(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
    for (int b = 0; b < 64; b++) { /* every power of two and its neighbours */
        uint64_t v = UINT64_C(1) << b;
        uint64_t vs[3] = {v - 1, v, v + 1};
        for (int k = 0; k < 3; k++) {
            uint64_t x = vs[k] > HIST_MAX ? HIST_MAX : vs[k];
            size_t i = hist_index(x);
            CHECK(i < HIST_BUCKETS);
            CHECK(hist_bucket_low(i) <= x && x < hist_bucket_low(i) + hist_bucket_width(i));
        }
    }
}

/* 1 us .. 60 s: a single value's reported percentile is within 1% (the
 * midpoint makes it 0.4%) — checked on random values of every magnitude. */
static void test_relative_error(void)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    double worst = 0;
    for (int n = 0; n < 200000; n++) {
        unsigned bits = 10 + (unsigned)(xorshift64(&seed) % 26); /* 2^9 .. 2^36 */
        uint64_t v =
            (xorshift64(&seed) & ((UINT64_C(1) << bits) - 1)) | (UINT64_C(1) << (bits - 1));
        if (v < 1000 || v > UINT64_C(60000000000))
            continue;
        size_t i = hist_index(v);
        uint64_t mid = hist_bucket_low(i) + hist_bucket_width(i) / 2;
        double err = absd((double)mid - (double)v) / (double)v;
        if (err > worst)
            worst = err;
    }
    CHECK(worst <= 0.004);
    CHECK(worst > 0); /* the test did exercise wide buckets */
}

static void test_percentiles(void)
{
    static histogram h;
    hist_reset(&h);
    CHECK_EQ_INT(hist_percentile(&h, 50), 0);
    CHECK_EQ_INT(h.total, 0);
    for (uint64_t v = 1; v <= 10000; v++) /* 1 us .. 10 ms in ns */
        hist_record(&h, v * 1000);
    CHECK_EQ_INT(h.total, 10000);
    CHECK_EQ_INT(h.min, 1000);
    CHECK_EQ_INT(h.max, 10000000);
    double want[] = {50, 90, 99, 99.9};
    for (int k = 0; k < 4; k++) {
        double exact = want[k] / 100 * 10000 * 1000;
        double got = (double)hist_percentile(&h, want[k]);
        CHECK(absd(got - exact) / exact < 0.01);
    }
    CHECK_EQ_INT(hist_percentile(&h, 100), 10000000); /* exact max */
    CHECK_EQ_INT(hist_percentile(&h, 0), 1000);       /* exact min */
    CHECK(absd(hist_mean(&h) - 5000.5 * 1000) < 1);
}

static void test_single_and_clamp(void)
{
    static histogram h;
    hist_reset(&h);
    hist_record(&h, 123456789);
    /* one value: every percentile is that value (clamped to min/max) */
    CHECK_EQ_INT(hist_percentile(&h, 1), 123456789);
    CHECK_EQ_INT(hist_percentile(&h, 99.9), 123456789);
    hist_record(&h, UINT64_MAX); /* beyond the range: counted as HIST_MAX */
    CHECK_EQ_INT(h.max, HIST_MAX);
    CHECK_EQ_INT(hist_percentile(&h, 100), HIST_MAX);
    CHECK_EQ_INT(h.total, 2);
}

static void test_merge(void)
{
    static histogram a, b, all;
    hist_reset(&a);
    hist_reset(&b);
    hist_reset(&all);
    uint64_t seed = 42;
    for (int n = 0; n < 50000; n++) {
        uint64_t v = xorshift64(&seed) % 50000000;
        hist_record(n % 2 ? &a : &b, v);
        hist_record(&all, v);
    }
    hist_merge(&a, &b);
    CHECK_EQ_INT(a.total, all.total);
    CHECK_EQ_INT(a.min, all.min);
    CHECK_EQ_INT(a.max, all.max);
    int same = 1;
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        same &= a.counts[i] == all.counts[i];
    CHECK(same);
    CHECK_EQ_INT(hist_percentile(&a, 99), hist_percentile(&all, 99));
    static histogram empty;
    hist_reset(&empty);
    hist_merge(&a, &empty); /* merging nothing changes nothing */
    CHECK_EQ_INT(a.min, all.min);
    hist_merge(&empty, &all); /* into an empty one: a copy */
    CHECK_EQ_INT(empty.min, all.min);
    CHECK_EQ_INT(hist_percentile(&empty, 50), hist_percentile(&all, 50));
}

int main(void)
{
    test_geometry();
    test_relative_error();
    test_percentiles();
    test_single_and_clamp();
    test_merge();
    return check_done("test_histogram");
}
