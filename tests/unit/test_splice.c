/* test_splice.c — unit tests for sk_splice over two socketpairs: bytes
 * cross both ways unchanged (bulk through the pipes, in order), each FIN is
 * passed on as a half-close, a
 * clean end reports 0, and an abort reports its error from the loop (never
 * from inside sk_splice_abort). */
#include "sockit/error.h"
#include "sockit/splice.h"

#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ctx {
    sk_loop *loop;
    int closes, err, in_abort, zero_copy;
    uint64_t up;
} ctx;

static void on_close(sk_splice *sp, int err, void *ud)
{
    ctx *c = ud;
    CHECK(!c->in_abort);
    c->closes++;
    c->err = err;
    c->zero_copy = sk_splice_zero_copy(sp);
    c->up = sk_splice_bytes(sp, 0);
    sk_loop_stop(c->loop);
}

/* x[0] <-> x[1] ==splice== y[0] <-> y[1] */
static sk_splice *setup(ctx *c, int x[2], int y[2])
{
    sk_splice *sp = NULL;
    CHECK_EQ_INT(sk_loop_new(&c->loop), 0);
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, x), 0);
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, y), 0);
    CHECK_EQ_INT(sk_splice_new(c->loop, x[1], y[0], on_close, c, &sp), 0);
    return sp;
}

static void read_all(int fd, const char *want)
{
    char buf[64];
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
    CHECK_EQ_INT(n, 0); /* EOF: the FIN was passed on */
    CHECK_EQ_INT(got, strlen(want));
    CHECK(memcmp(buf, want, got) == 0);
}

static void test_both_ways_and_half_close(void)
{
    ctx c = {0};
    int x[2], y[2];
    sk_splice *sp = setup(&c, x, y);
    CHECK_EQ_INT(write(x[0], "ping", 4), 4);
    CHECK_EQ_INT(shutdown(x[0], SHUT_WR), 0);
    CHECK_EQ_INT(write(y[1], "pong!", 5), 5);
    CHECK_EQ_INT(shutdown(y[1], SHUT_WR), 0);
    CHECK_EQ_INT(sk_splice_bytes(sp, 0), 0);
    sk_loop_run(c.loop); /* until on_close */
    CHECK_EQ_INT(c.closes, 1);
    CHECK_EQ_INT(c.err, 0);
    read_all(y[1], "ping");
    read_all(x[0], "pong!");
    sk_loop_free(c.loop);
    close(x[0]);
    close(y[1]);
}

/* 4 MiB pattern written by a thread into x[0]; another reads y[1]. */
#define BULK ((size_t)4 << 20)
static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + (i >> 12)); }

static int writer_closes; /* the writer closes its socket instead of a half-close */

static void *writer(void *arg)
{
    int fd = *(int *)arg;
    uint8_t buf[65536];
    for (size_t off = 0; off < BULK;) {
        size_t n = BULK - off < sizeof buf ? BULK - off : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(off + i);
        ssize_t w = write(fd, buf, n);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (writer_closes)
        close(fd); /* the relay's side sees a hang-up while its direction is full */
    else
        shutdown(fd, SHUT_WR);
    return NULL;
}

static int reader_late; /* the reader starts after a pause (the direction fills up) */

static void *reader(void *arg)
{
    int fd = *(int *)arg;
    if (reader_late)
        usleep(200000);
    uint8_t buf[65536];
    size_t got = 0, bad = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            bad += buf[i] != pattern(got + (size_t)i);
        got += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    return (void *)(uintptr_t)(got == BULK && bad == 0);
}

static void test_bulk_goes_through_pipes_in_order(void)
{
    ctx c = {0};
    int x[2], y[2];
    setup(&c, x, y);
    pthread_t tw, tr;
    pthread_create(&tw, NULL, writer, &x[0]);
    pthread_create(&tr, NULL, reader, &y[1]);
    sk_loop_run(c.loop); /* until both FINs crossed */
    void *ok = NULL;
    pthread_join(tw, NULL);
    pthread_join(tr, &ok);
    CHECK(ok != NULL); /* every byte, in order */
    CHECK_EQ_INT(c.err, 0);
    CHECK_EQ_INT(c.up, BULK);
    CHECK_EQ_INT(c.zero_copy, 1);
    sk_loop_free(c.loop);
    if (!writer_closes)
        close(x[0]);
    close(y[1]);
}

/* The writer is gone (a hang-up on the relay's socket) while the reader has
 * not read yet: everything still arrives, then the end. */
static void test_hangup_while_full_still_delivers(void)
{
    writer_closes = reader_late = 1;
    test_bulk_goes_through_pipes_in_order();
    writer_closes = reader_late = 0;
}

static void test_abort_reports_from_the_loop(void)
{
    ctx c = {0};
    int x[2], y[2];
    sk_splice *sp = setup(&c, x, y);
    c.in_abort = 1;
    sk_splice_abort(sp, SK_ETIMEOUT);
    sk_splice_abort(sp, -EIO); /* idempotent: the first error stays */
    c.in_abort = 0;
    CHECK_EQ_INT(c.closes, 0);
    sk_loop_run(c.loop);
    CHECK_EQ_INT(c.closes, 1);
    CHECK_EQ_INT(c.err, SK_ETIMEOUT);
    char b;
    CHECK_EQ_INT(read(x[0], &b, 1), 0); /* the fds were closed */
    CHECK_EQ_INT(read(y[1], &b, 1), 0);
    sk_loop_free(c.loop);
    close(x[0]);
    close(y[1]);
}

static void test_shutdown_delivers_then_closes(void)
{
    ctx c = {0};
    int x[2], y[2];
    sk_splice *sp = setup(&c, x, y);
    sk_splice_shutdown(sp); /* nothing in flight: both FINs, then on_close(0) */
    sk_loop_run(c.loop);
    CHECK_EQ_INT(c.closes, 1);
    CHECK_EQ_INT(c.err, 0);
    read_all(y[1], "");
    read_all(x[0], "");
    sk_loop_free(c.loop);
    close(x[0]);
    close(y[1]);
}

int main(void)
{
    test_both_ways_and_half_close();
    test_bulk_goes_through_pipes_in_order();
    test_hangup_while_full_still_delivers();
    test_abort_reports_from_the_loop();
    test_shutdown_delivers_then_closes();
    return check_done("test_splice");
}
