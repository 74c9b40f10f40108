/* histogram.h — an HDR-style latency histogram: log-linear buckets (128
 * linear sub-buckets per power of two), fixed memory, no allocation to record. */
#ifndef SOCKIT_CLI_HISTOGRAM_H
#define SOCKIT_CLI_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

/* Values are unsigned integers (sockit bench records nanoseconds). Values
 * below 2^(HIST_SUB_BITS+1) = 256 get a bucket each; above, every power of two
 * is split into 128 equal buckets, so a bucket is at most 1/128 of its values
 * wide and its midpoint is within 0.4% of any value in it. Values above
 * HIST_MAX (2^36 - 1: about 68.7 s in ns) are recorded as HIST_MAX. */
#define HIST_SUB_BITS 7
#define HIST_MAX_BITS 36
#define HIST_MAX ((UINT64_C(1) << HIST_MAX_BITS) - 1)
#define HIST_BUCKETS (((HIST_MAX_BITS - HIST_SUB_BITS) << HIST_SUB_BITS) + (1u << HIST_SUB_BITS))

typedef struct histogram {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total; /* values recorded */
    uint64_t min;   /* exact smallest value (UINT64_MAX when empty) */
    uint64_t max;   /* exact largest value, clamped to HIST_MAX (0 when empty) */
    double sum;     /* for the mean */
} histogram;

/* Empties h (also the way to initialise one). */
void hist_reset(histogram *h);

/* Counts one value. No allocation, no failure. */
void hist_record(histogram *h, uint64_t value);

/* Adds every count of src into dst. */
void hist_merge(histogram *dst, const histogram *src);

/* The value at percentile pct (0..100): the midpoint of the bucket holding
 * the value of rank ceil(pct% of total), clamped to [min, max], so pct 100
 * gives the exact max. Returns 0 when h is empty. */
uint64_t hist_percentile(const histogram *h, double pct);

/* Mean of the recorded values (exact up to double rounding); 0 when empty. */
double hist_mean(const histogram *h);

/* Bucket geometry, for tests: the index of value, and the lowest value and
 * width of bucket i. */
size_t hist_index(uint64_t value);
uint64_t hist_bucket_low(size_t i);
uint64_t hist_bucket_width(size_t i);

#endif
