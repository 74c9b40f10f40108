/* check.h — a tiny assertion helper for unit tests: CHECK records failures
 * with file:line and keeps going; check_done() prints a summary and exits. */
#ifndef SOCKIT_TEST_CHECK_H
#define SOCKIT_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures_;
static int check_count_;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        check_count_++;                                                              \
        if (!(cond)) {                                                               \
            check_failures_++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                              \
    do {                                                                                \
        long long a_ = (long long)(a), b_ = (long long)(b);                             \
        check_count_++;                                                                 \
        if (a_ != b_) {                                                                 \
            check_failures_++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, \
                    __LINE__, #a, #b, a_, b_);                                          \
        }                                                                               \
    } while (0)

/* A tiny deterministic PRNG (xorshift32) for random splits and payloads:
 * the same seed gives the same test on every run. */
static inline uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Prints "name: N checks, N failed" and returns the process exit status. */
static inline int check_done(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count_, check_failures_);
    return check_failures_ ? 1 : 0;
}

#endif
