/* loadgen.h — what the loaders (fanout.c, cluster_load.c; pingpong.c and
 * tls_handshakes.c for the CPU reader) share: a
 * monotonic clock, a process's CPU time from /proc, and a blocking write on
 * a non-blocking socket. Header-only: each loader is one file to compile. */
#ifndef BENCH_LOADGEN_H
#define BENCH_LOADGEN_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline double lg_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* utime + stime of process pid (all threads) in µs, or -1. */
static inline long long lg_proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = pid ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)((ut + st) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* Writes all n bytes, waiting for room; exits on an error. */
static inline void lg_write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, 1000);
            continue;
        }
        if (w <= 0) {
            fprintf(stderr, "write: %s\n", strerror(errno));
            exit(1);
        }
        p += w, n -= (size_t)w;
    }
}

#endif
