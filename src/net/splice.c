/* splice.c — two connected stream sockets joined both ways. Bulk moves
 * with splice() through a pipe per direction (bytes never enter user
 * space); small messages with read() and write() through a 16 KiB buffer,
 * which costs less than a pipe for a few bytes (HAProxy's splice-auto makes
 * the same choice). A direction switches to the pipe after a read that
 * filled the buffer and back after a small splice, only when nothing is in
 * flight, so the bytes keep their order. A direction holds at most 64 KiB:
 * a side that does not read stops the other side's reading (backpressure);
 * a FIN is passed on as a half-close. */
#include "sockit/splice.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define CAP ((size_t)64 << 10)      /* bytes in flight per direction (a default pipe's size) */
#define COPY_CAP ((size_t)16 << 10) /* the buffer of small messages */
#define SMALL 4096                  /* a splice that moved less goes back to read/write */

/* One direction: from src to dst. */
typedef struct dir {
    int src, dst;
    int pipe[2];      /* [0] read end, [1] write end; -1 until bulk comes */
    int piped;        /* bytes go through the pipe now (else through buf) */
    int no_splice;    /* the kernel refused splice for src: read/write only */
    uint8_t *buf;     /* COPY_CAP bytes, made on first use; held start at buf + off */
    size_t off, held; /* bytes in flight */
    int eof;          /* nothing more is read from src (its FIN, or a shutdown) */
    int shut;         /* the FIN was passed on to dst */
    int blocked;      /* dst's last write would block: wait for it to be writable */
    uint64_t bytes;
} dir;

struct sk_splice {
    sk_loop *loop;
    int fd[2];
    sk_watch *w[2];
    dir d[2]; /* d[0]: fd[0] -> fd[1]; d[1]: fd[1] -> fd[0] */
    sk_splice_close_cb on_close;
    void *ud;
    int hup[2];  /* fd i reported a hang-up (its peer closed both ways or reset) */
    int closed, err;
};

static void finish(sk_splice *sp, int err);

/* ---- moving bytes: splice, or read/write ---- */

/* Picks how the next bytes travel, while nothing is in flight: the pipe
 * after a read that filled the buffer, the buffer after a small splice.
 * 0 or -errno. */
static int choose(dir *d, ssize_t last)
{
    if (d->held)
        return 0;
    int want = d->no_splice ? 0 : d->piped ? last >= SMALL : last >= (ssize_t)COPY_CAP;
    if (want && d->pipe[0] < 0 && pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        want = 0; /* out of fds: copy */
    if (!want && !d->buf && !(d->buf = malloc(COPY_CAP)))
        return -ENOMEM;
    d->piped = want;
    return 0;
}

/* Into the direction's pipe or buffer: bytes read, 0 at EOF, or -errno. */
static ssize_t take_in(dir *d)
{
    ssize_t n;
    if (d->piped) {
        n = splice(d->src, NULL, d->pipe[1], NULL, CAP - d->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0 && errno == EINVAL && d->held == 0) { /* refused for this socket */
            d->no_splice = 1;
            close(d->pipe[0]); /* (never used again) */
            close(d->pipe[1]);
            d->pipe[0] = d->pipe[1] = -1;
            return choose(d, 0) < 0 ? -ENOMEM : -EAGAIN; /* the socket is still readable */
        }
    } else {
        n = read(d->src, d->buf + d->off + d->held, COPY_CAP - d->off - d->held);
    }
    return n < 0 ? -errno : n;
}

/* Out of the pipe or buffer to dst: bytes written, or -errno. */
static ssize_t give_out(dir *d)
{
    ssize_t n = d->piped ? splice(d->pipe[0], NULL, d->dst, NULL, d->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                         : send(d->dst, d->buf + d->off, d->held, MSG_NOSIGNAL);
    return n < 0 ? -errno : n;
}

/* ---- one direction's work ---- */

/* Writes what is held; passes the FIN on once all is out. 0 or -errno. */
static int flush_dir(dir *d)
{
    while (d->held) {
        ssize_t n = give_out(d);
        if (n == -EAGAIN) {
            d->blocked = 1;
            return 0;
        }
        if (n < 0)
            return (int)n;
        d->held -= (size_t)n;
        d->off = d->held ? d->off + (size_t)n : 0;
        d->bytes += (uint64_t)n;
    }
    d->blocked = 0;
    if (d->eof && !d->shut) {
        d->shut = 1;
        shutdown(d->dst, SHUT_WR);
    }
    return 0;
}

/* Room for the next read: the pipe's, or the buffer's after what is held. */
static int has_room(const dir *d)
{
    return d->piped ? d->held < CAP : d->off + d->held < COPY_CAP;
}

/* One read into the direction (when it has room), then a write; the next
 * read's way is chosen from this one's size. 0 or -errno. */
static int pump(dir *d)
{
    if (d->eof || !has_room(d))
        return flush_dir(d);
    ssize_t n = take_in(d);
    if (n == 0)
        d->eof = 1;
    else if (n > 0)
        d->held += (size_t)n;
    else if (n != -EAGAIN)
        return (int)n;
    int r = flush_dir(d);
    return r < 0 || n <= 0 ? r : choose(d, n);
}

/* ---- watching ---- */

static void on_event(sk_watch *w, int fd, unsigned ev, void *ud);

/* What fd i waits for: readable while its direction has room, writable
 * while the other's output is blocked. epoll reports a hang-up whatever is
 * asked, so a side with nothing to do now (or ever again) after one is not
 * watched at all, else the loop would spin: it is watched again once its
 * direction has room. 0, or -ENOMEM when it cannot be watched again. */
static int rewatch(sk_splice *sp, int i)
{
    dir *in = &sp->d[i], *out = &sp->d[!i];
    unsigned ev = (!in->eof && has_room(in) ? SK_READABLE : 0u) | (out->blocked ? SK_WRITABLE : 0u);
    int idle = (in->eof && out->shut) || (sp->hup[i] && ev == 0);
    if (idle && sp->w[i]) {
        sk_watch_free(sp->w[i]);
        sp->w[i] = NULL;
    } else if (!idle && !sp->w[i]) {
        if (!(sp->w[i] = sk_watch_new(sp->loop, sp->fd[i], ev, on_event, sp)))
            return -ENOMEM;
    } else if (sp->w[i]) {
        sk_watch_set(sp->w[i], ev);
    }
    return 0;
}

static void after_work(sk_splice *sp)
{
    if (sp->d[0].shut && sp->d[1].shut) {
        finish(sp, 0);
        return;
    }
    if (rewatch(sp, 0) < 0 || rewatch(sp, 1) < 0)
        finish(sp, -ENOMEM);
}

static void on_event(sk_watch *w, int fd, unsigned ev, void *ud)
{
    sk_splice *sp = ud;
    int i = fd == sp->fd[1];
    int r = 0;
    if (ev & SK_HANGUP)
        sp->hup[i] = 1;
    if (ev & (SK_WRITABLE | SK_HANGUP))
        r = flush_dir(&sp->d[!i]);
    if (r == 0 && (ev & (SK_READABLE | SK_HANGUP)))
        r = pump(&sp->d[i]); /* (what it read is written, or dst is blocked) */
    if (r < 0) {
        finish(sp, r);
        return;
    }
    after_work(sp);
}

/* ---- life cycle ---- */

static void closed_cb(void *arg)
{
    sk_splice *sp = arg;
    if (sp->on_close)
        sp->on_close(sp, sp->err, sp->ud);
    for (int i = 0; i < 2; i++)
        free(sp->d[i].buf);
    free(sp);
}

/* Closes everything now; on_close runs from the loop's next iteration. */
static void finish(sk_splice *sp, int err)
{
    if (sp->closed)
        return;
    sp->closed = 1;
    sp->err = err;
    for (int i = 0; i < 2; i++) {
        sk_watch_free(sp->w[i]);
        sp->w[i] = NULL;
        close(sp->fd[i]);
        for (int k = 0; k < 2; k++)
            if (sp->d[i].pipe[k] >= 0)
                close(sp->d[i].pipe[k]);
    }
    if (sk_loop_post(sp->loop, closed_cb, sp) < 0)
        closed_cb(sp); /* out of memory: the callback cannot wait */
}

void sk_splice_abort(sk_splice *sp, int err) { finish(sp, err); }

void sk_splice_shutdown(sk_splice *sp)
{
    if (sp->closed)
        return;
    sp->d[0].eof = sp->d[1].eof = 1;
    int r = flush_dir(&sp->d[0]);
    if (r == 0)
        r = flush_dir(&sp->d[1]);
    if (r < 0)
        finish(sp, r);
    else
        after_work(sp);
}

uint64_t sk_splice_bytes(const sk_splice *sp, int which) { return sp->d[which != 0].bytes; }
int sk_splice_zero_copy(const sk_splice *sp) { return sp->d[0].pipe[0] >= 0 || sp->d[1].pipe[0] >= 0; }

static int make_dirs(sk_splice *sp)
{
    for (int i = 0; i < 2; i++) {
        dir *d = &sp->d[i];
        d->src = sp->fd[i];
        d->dst = sp->fd[!i];
        int r = choose(d, 0); /* small first: the buffer */
        if (r < 0)
            return r;
    }
    for (int i = 0; i < 2; i++) {
        if (fcntl(sp->fd[i], F_SETFL, fcntl(sp->fd[i], F_GETFL) | O_NONBLOCK) < 0)
            return -errno;
        if (!(sp->w[i] = sk_watch_new(sp->loop, sp->fd[i], SK_READABLE, on_event, sp)))
            return -errno;
    }
    return 0;
}

int sk_splice_new(sk_loop *loop, int a, int b, sk_splice_close_cb on_close, void *ud,
                  sk_splice **out)
{
    sk_splice *sp = calloc(1, sizeof *sp);
    if (!sp) {
        close(a);
        close(b);
        return -ENOMEM;
    }
    *sp = (sk_splice){.loop = loop, .fd = {a, b}, .on_close = on_close, .ud = ud,
                      .d = {{.pipe = {-1, -1}}, {.pipe = {-1, -1}}}};
    int r = make_dirs(sp);
    if (r < 0) {
        sp->on_close = NULL;
        finish(sp, r);
        return r;
    }
    *out = sp;
    return 0;
}
