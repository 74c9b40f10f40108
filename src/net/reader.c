/* reader.c — reads an fd such as stdin on the loop as lines or chunks, split
 * by the framing codec's line (or raw) mode: pipes and terminals are watched;
 * regular files (which epoll refuses) are read from a zero timer. */
#include "sockit/reader.h"
#include "sockit/codec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 65536

struct sk_reader {
    sk_loop *loop;
    int fd;
    sk_frame mode;   /* SK_FRAME_LINE, or SK_FRAME_RAW: every read is one chunk */
    size_t max_line;
    size_t limit;    /* for the codec: max_line plus the "\r" of a "\r\n" */
    sk_watch *w;     /* pipes, terminals, sockets */
    sk_timer *t;     /* regular files */
    int paused, ended, freed, in_cb;
    uint8_t *buf;    /* what was read and not handed on yet: an unfinished line */
    size_t len, cap;
    sk_reader_data_cb on_data;
    sk_reader_end_cb on_end;
    void *ud;
};

/* Stops reading and says why. The last thing it does is call on_end, which
 * may free the reader. */
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

/* Makes room to read CHUNK bytes after the unfinished line. */
static int make_room(sk_reader *in)
{
    if (in->cap - in->len >= CHUNK)
        return 0;
    size_t cap = in->cap ? in->cap : CHUNK;
    while (cap - in->len < CHUNK)
        cap *= 2;
    uint8_t *b = realloc(in->buf, cap);
    if (!b)
        return -ENOMEM;
    in->buf = b;
    in->cap = cap;
    return 0;
}

/* Hands on every whole line (raw mode: everything) in buf and keeps the rest
 * for the next read. Returns 0, or -EMSGSIZE for a line over max_line. */
static int deliver(sk_reader *in)
{
    const uint8_t *p = in->buf, *msg;
    size_t left = in->len, n;
    while (left && !in->ended && !in->freed) {
        ssize_t r = sk_frame_decode(in->mode, in->limit, p, left, &msg, &n);
        if (r == 0)
            break;
        if (r < 0 || (in->mode == SK_FRAME_LINE && n > in->max_line))
            return -EMSGSIZE;
        in->on_data(in, (const char *)msg, n, in->ud);
        p += r;
        left -= (size_t)r;
    }
    memmove(in->buf, p, left);
    in->len = left;
    return 0;
}

/* End of input: a last line without "\n" is handed on first (a "\r" ending
 * it is stripped, as from a "\r\n"). */
static void at_eof(sk_reader *in)
{
    const uint8_t *msg;
    size_t n;
    if (sk_frame_finish(in->mode, in->buf, in->len, &msg, &n) == 1) {
        in->len = 0;
        if (msg[n - 1] == '\r')
            n--;
        if (n > in->max_line) {
            end(in, -EMSGSIZE);
            return;
        }
        in->on_data(in, (const char *)msg, n, in->ud);
    }
    if (!in->freed)
        end(in, 0);
}

/* Reads once and hands on what came. Returns 0, or -1 when a callback freed
 * the reader (it is gone now). */
static int read_once(sk_reader *in)
{
    ssize_t n = 0;
    int r = make_room(in);
    if (r == 0) {
        n = read(in->fd, in->buf + in->len, in->cap - in->len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        r = n < 0 ? -errno : 0;
    }
    in->in_cb = 1;
    if (r == 0 && n == 0) {
        at_eof(in);
    } else if (r == 0) {
        in->len += (size_t)n;
        r = deliver(in);
    }
    if (r < 0 && !in->freed)
        end(in, r);
    in->in_cb = 0;
    if (!in->freed)
        return 0;
    sk_reader_free(in);
    return -1;
}

static void on_readable(sk_watch *w, int fd, unsigned ev, void *ud) { read_once(ud); }

static void on_timer(sk_timer *t, void *ud)
{
    sk_reader *in = ud;
    if (read_once(in) < 0 || in->ended || in->paused)
        return;
    if (sk_timer_start(in->t, 0, 0) < 0)
        end(in, -ENOMEM); /* without its timer a regular file would never be read on */
}

sk_reader *sk_reader_new(sk_loop *loop, int fd, int lines, size_t max_line,
                         sk_reader_data_cb on_data, sk_reader_end_cb on_end, void *ud)
{
    sk_reader *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    *in = (sk_reader){.loop = loop,
                      .fd = fd,
                      .mode = lines ? SK_FRAME_LINE : SK_FRAME_RAW,
                      .max_line = max_line,
                      .limit = max_line < SIZE_MAX ? max_line + 1 : max_line,
                      .on_data = on_data,
                      .on_end = on_end,
                      .ud = ud};
    in->w = sk_watch_new(loop, fd, SK_READABLE, on_readable, in);
    if (!in->w && errno == EPERM) { /* a regular file: always "ready" */
        in->t = sk_timer_new(loop, on_timer, in);
        if (in->t && sk_timer_start(in->t, 0, 0) < 0) {
            sk_timer_free(in->t);
            in->t = NULL;
            errno = ENOMEM;
        }
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
    if (in->t && sk_timer_start(in->t, 0, 0) < 0)
        end(in, -ENOMEM); /* without its timer a regular file would never be read on */
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
    free(in->buf);
    free(in);
}
