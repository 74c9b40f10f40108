/* reader.c — reads an fd such as stdin on the loop as lines or chunks:
 * pipes and terminals are watched; regular files (which epoll refuses) are
 * read from a zero timer. */
#include "sockit/reader.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 65536

struct sk_reader {
    sk_loop *loop;
    int fd;
    int lines;
    size_t max_line;
    sk_watch *w;     /* pipes, terminals, sockets */
    sk_timer *t;     /* regular files */
    int paused, ended, freed, in_cb;
    char *pending;   /* line mode: an unfinished line */
    size_t npending, cappending;
    sk_reader_data_cb on_data;
    sk_reader_end_cb on_end;
    void *ud;
};

static void end(sk_reader *in, int err)
{
    if (in->ended)
        return;
    in->ended = 1;
    if (in->w)
        sk_watch_set(in->w, 0);
    if (in->t)
        sk_timer_stop(in->t);
    in->on_end(in, err, in->ud);
}

static int keep_pending(sk_reader *in, const char *p, size_t n)
{
    if (in->npending + n > in->max_line + 1)
        return -EMSGSIZE;
    if (in->npending + n > in->cappending) {
        size_t cap = in->cappending ? in->cappending : 256;
        while (cap < in->npending + n)
            cap *= 2;
        char *q = realloc(in->pending, cap);
        if (!q)
            return -ENOMEM;
        in->pending = q;
        in->cappending = cap;
    }
    memcpy(in->pending + in->npending, p, n);
    in->npending += n;
    return 0;
}

static void emit_line(sk_reader *in, const char *p, size_t n)
{
    if (n && p[n - 1] == '\r')
        n--;
    in->on_data(in, p, n, in->ud);
}

/* Splits a chunk into lines; an unfinished tail waits in in->pending. */
static int split_lines(sk_reader *in, const char *buf, size_t n)
{
    while (n && !in->ended && !in->freed) {
        const char *nl = memchr(buf, '\n', n);
        if (!nl)
            return keep_pending(in, buf, n);
        size_t len = (size_t)(nl - buf);
        if (in->npending) {
            int r = keep_pending(in, buf, len);
            if (r < 0)
                return r;
            size_t total = in->npending;
            in->npending = 0;
            emit_line(in, in->pending, total);
        } else {
            emit_line(in, buf, len);
        }
        n -= len + 1;
        buf = nl + 1;
    }
    return 0;
}

static void read_once(sk_reader *in)
{
    char buf[CHUNK];
    ssize_t n = read(in->fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    in->in_cb = 1;
    if (n <= 0) {
        if (n == 0 && in->lines && in->npending && !in->freed) /* last line without "\n" */
            emit_line(in, in->pending, in->npending), in->npending = 0;
        if (!in->freed)
            end(in, n == 0 ? 0 : -errno);
    } else if (!in->lines) {
        in->on_data(in, buf, (size_t)n, in->ud);
    } else {
        int r = split_lines(in, buf, (size_t)n);
        if (r < 0 && !in->freed)
            end(in, r);
    }
    in->in_cb = 0;
    if (in->freed)
        sk_reader_free(in);
}

static void on_readable(sk_watch *w, int fd, unsigned ev, void *ud) { read_once(ud); }

static void on_timer(sk_timer *t, void *ud)
{
    sk_reader *in = ud;
    read_once(in);
    if (!in->freed && !in->ended && !in->paused)
        sk_timer_start(in->t, 0, 0);
}

sk_reader *sk_reader_new(sk_loop *loop, int fd, int lines, size_t max_line, sk_reader_data_cb on_data,
                         sk_reader_end_cb on_end, void *ud)
{
    sk_reader *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    *in = (sk_reader){.loop = loop, .fd = fd, .lines = lines, .max_line = max_line,
                      .on_data = on_data, .on_end = on_end, .ud = ud};
    in->w = sk_watch_new(loop, fd, SK_READABLE, on_readable, in);
    if (!in->w && errno == EPERM) { /* a regular file: always "ready" */
        in->t = sk_timer_new(loop, on_timer, in);
        if (in->t)
            sk_timer_start(in->t, 0, 0);
    }
    if (!in->w && !in->t) {
        free(in);
        return NULL;
    }
    return in;
}

void sk_reader_pause(sk_reader *in)
{
    in->paused = 1;
    if (in->w && !in->ended)
        sk_watch_set(in->w, 0);
    if (in->t)
        sk_timer_stop(in->t);
}

void sk_reader_resume(sk_reader *in)
{
    if (!in->paused)
        return;
    in->paused = 0;
    if (in->ended)
        return;
    if (in->w)
        sk_watch_set(in->w, SK_READABLE);
    if (in->t)
        sk_timer_start(in->t, 0, 0);
}

void sk_reader_free(sk_reader *in)
{
    if (!in)
        return;
    if (in->in_cb) { /* freed from inside a callback: finish after it returns */
        in->freed = 1;
        return;
    }
    sk_watch_free(in->w);
    sk_timer_free(in->t);
    free(in->pending);
    free(in);
}
