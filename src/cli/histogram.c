/* histogram.c — log-linear latency histogram: bucket index arithmetic,
 * recording, merging and percentile queries (see histogram.h). */
#include "cli/histogram.h"

#include <string.h>

#define SUB (UINT64_C(1) << HIST_SUB_BITS)

void hist_reset(histogram *h)
{
    memset(h->counts, 0, sizeof h->counts);
    h->total = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    h->sum = 0;
}

/* Below 2*SUB the index is the value; above, with msb the top bit set,
 * shift = msb - SUB_BITS keeps the top SUB_BITS+1 bits: index = SUB*shift +
 * (value >> shift), where value >> shift lies in [SUB, 2*SUB). */
static inline size_t index_of(uint64_t value)
{
    if (value > HIST_MAX)
        value = HIST_MAX;
    if (value < 2 * SUB)
        return (size_t)value;
    unsigned shift = (unsigned)(63 - __builtin_clzll(value)) - HIST_SUB_BITS;
    return (size_t)(SUB * shift + (value >> shift));
}

size_t hist_index(uint64_t value) { return index_of(value); }

uint64_t hist_bucket_low(size_t i)
{
    if (i < 2 * SUB)
        return i;
    uint64_t shift = i / SUB - 1;
    return (i - SUB * shift) << shift;
}

uint64_t hist_bucket_width(size_t i) { return i < 2 * SUB ? 1 : UINT64_C(1) << (i / SUB - 1); }

void hist_record(histogram *h, uint64_t value)
{
    if (value > HIST_MAX)
        value = HIST_MAX;
    h->counts[index_of(value)]++; /* inlined: once per reply */
    h->total++;
    h->sum += (double)value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void hist_merge(histogram *dst, const histogram *src)
{
    if (src->total == 0)
        return;
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_percentile(const histogram *h, double pct)
{
    if (h->total == 0)
        return 0;
    if (!(pct > 0))
        return h->min;
    double want = pct >= 100 ? (double)h->total : pct / 100.0 * (double)h->total;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++; /* ceil */
    if (rank == 0)
        rank = 1;
    if (rank >= h->total)
        return h->max; /* the top value is known exactly */
    uint64_t seen = 0;
    size_t i = 0;
    for (; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank)
            break;
    }
    if (i == HIST_BUCKETS)
        return h->max;
    uint64_t v = hist_bucket_low(i) + hist_bucket_width(i) / 2;
    return v < h->min ? h->min : v > h->max ? h->max : v;
}

double hist_mean(const histogram *h) { return h->total ? h->sum / (double)h->total : 0; }
