/* test_reader.c — unit tests for sk_reader on a pipe and a regular file:
 * lines split across reads, "\r\n" split across reads, max_line, EOF. */
#include "sockit/loop.h"
#include "sockit/reader.h"

#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAXLINES 16

typedef struct got {
    sk_reader *r;
    char line[MAXLINES][64];
    size_t len[MAXLINES];
    int n;
    int ended, err;
    int free_at; /* free the reader from on_data at this line (1-based; 0: never) */
} got;

static void on_data(sk_reader *r, const char *data, size_t len, void *ud)
{
    got *g = ud;
    CHECK(r == g->r);
    CHECK(!g->ended);
    if (g->n < MAXLINES) {
        size_t k = len < sizeof g->line[0] ? len : sizeof g->line[0] - 1;
        memcpy(g->line[g->n], data, k);
        g->len[g->n] = len;
    }
    if (++g->n == g->free_at) {
        sk_reader_free(r);
        g->r = NULL;
    }
}

static void on_end(sk_reader *r, int err, void *ud)
{
    got *g = ud;
    CHECK(r == g->r);
    CHECK(!g->ended);
    g->ended = 1;
    g->err = err;
}

/* ---- the loop ---- */

typedef int (*cond_fn)(void *ud);
static cond_fn g_cond;
static void *g_cond_ud;

static void tick_cb(sk_loop *loop, void *ud)
{
    if (g_cond && g_cond(g_cond_ud))
        sk_loop_stop(loop);
}

static void stop_cb(sk_timer *t, void *ud) { sk_loop_stop(ud); }

/* Runs until cond(ud) (checked after each iteration) or ms pass; returns cond(ud). */
static int run_until(sk_loop *loop, cond_fn cond, void *ud, unsigned ms)
{
    sk_timer *t = sk_timer_new(loop, stop_cb, loop);
    CHECK(t && sk_timer_start(t, ms, 0) == 0);
    g_cond = cond;
    g_cond_ud = ud;
    CHECK_EQ_INT(sk_loop_run(loop), 0);
    g_cond = NULL;
    sk_timer_free(t);
    return cond(ud);
}

static int ended(void *ud) { return ((got *)ud)->ended; }

static int drained(void *ud)
{
    int avail = -1;
    return ioctl(*(int *)ud, FIONREAD, &avail) == 0 && avail == 0;
}

typedef struct pipe_reader {
    sk_loop *loop;
    int fds[2];
    got g;
} pipe_reader;

static void open_pipe(pipe_reader *p, int lines, size_t max_line)
{
    memset(p, 0, sizeof *p);
    if (sk_loop_new(&p->loop) != 0 || sk_loop_on_tick(p->loop, tick_cb, NULL) != 0 ||
        pipe(p->fds) != 0) {
        perror("setup");
        exit(1);
    }
    p->g.r = sk_reader_new(p->loop, p->fds[0], lines, max_line, on_data, on_end, &p->g);
    CHECK(p->g.r != NULL);
}

/* Writes s and lets the reader take all of it in (one read or more), so that
 * the next feed lands in a read of its own. */
static void feed(pipe_reader *p, const char *s)
{
    CHECK_EQ_INT(write(p->fds[1], s, strlen(s)), (long long)strlen(s));
    CHECK(run_until(p->loop, drained, &p->fds[0], 2000));
}

/* Closes the writing end and waits for on_end. */
static void finish(pipe_reader *p)
{
    close(p->fds[1]);
    p->fds[1] = -1;
    CHECK(run_until(p->loop, ended, &p->g, 2000));
}

static void close_pipe(pipe_reader *p)
{
    sk_reader_free(p->g.r);
    if (p->fds[1] >= 0)
        close(p->fds[1]);
    close(p->fds[0]);
    sk_loop_free(p->loop);
}

static int is_line(const got *g, int i, const char *want)
{
    return i < g->n && g->len[i] == strlen(want) && memcmp(g->line[i], want, g->len[i]) == 0;
}

/* ---- pipe cases ---- */

#define NOT_ENDED 1

typedef struct reader_case {
    const char *what;
    int lines;
    size_t max_line;
    const char *feed[5]; /* each one is taken in by a read of its own */
    int eof;             /* then the writing end is closed */
    const char *want[6]; /* every line (or chunk) handed on */
    int err;             /* on_end's err, or NOT_ENDED: it has not fired */
} reader_case;

static const reader_case cases[] = {
    {"a line split across reads", 1, 100, {"hel"}, 0, {NULL}, NOT_ENDED},
    {"a line split across reads", 1, 100, {"hel", "lo\nwor"}, 0, {"hello"}, NOT_ENDED},
    {"a line split across reads", 1, 100, {"hel", "lo\nwor", "ld\n1\n2\n\n"}, 1,
     {"hello", "world", "1", "2", ""}, 0},
    {"\"\\r\\n\" split across reads", 1, 100, {"abc\r"}, 0, {NULL}, NOT_ENDED},
    {"\"\\r\\n\" split across reads", 1, 100, {"abc\r", "\n\r", "\na\rb\r\n"}, 1,
     {"abc", "", "a\rb"}, 0}, /* only a "\r" just before the "\n" goes */
    {"max_line counts neither \"\\n\" nor \"\\r\\n\"", 1, 4,
     {"abcd\r\nwxyz\n", "ab", "cd\r", "\n"}, 0, {"abcd", "wxyz", "abcd"}, NOT_ENDED},
    {"a line one byte over max_line, inside one read", 1, 4, {"ok\nabcde\nnever\n"}, 0, {"ok"},
     -EMSGSIZE},
    {"a long line across reads: \"abcde\" could still be \"abcd\\r\"", 1, 4, {"abc", "de"}, 0,
     {NULL}, NOT_ENDED},
    {"a long line across reads: ... but \"abcdef\" cannot", 1, 4, {"abc", "de", "f"}, 0, {NULL},
     -EMSGSIZE},
    {"the last line at EOF", 1, 100, {"one\ntw", "o"}, 1, {"one", "two"}, 0},
    {"the last line at EOF loses a \"\\r\" too", 1, 100, {"x\r"}, 1, {"x"}, 0},
    {"nothing left at EOF: no empty last line", 1, 100, {"done\n"}, 1, {"done"}, 0},
    {"a last line over max_line at EOF", 1, 4, {"abcde"}, 1, {NULL}, -EMSGSIZE},
    {"raw: chunks as read, no splitting, no limit", 0, 2, {"ab\ncd\r\n", "ef"}, 1,
     {"ab\ncd\r\n", "ef"}, 0},
};

static void run_case(const reader_case *c)
{
    pipe_reader p;
    open_pipe(&p, c->lines, c->max_line);
    for (int i = 0; i < 5 && c->feed[i]; i++)
        feed(&p, c->feed[i]);
    if (c->eof)
        finish(&p);
    int n = 0;
    while (n < 6 && c->want[n])
        n++;
    int ok = p.g.n == n && (c->err == NOT_ENDED ? !p.g.ended : p.g.ended && p.g.err == c->err);
    for (int i = 0; i < n; i++)
        ok = ok && is_line(&p.g, i, c->want[i]);
    if (!ok)
        fprintf(stderr, "case '%s': %d lines, ended %d, err %d\n", c->what, p.g.n, p.g.ended,
                p.g.err);
    CHECK(ok);
    close_pipe(&p);
}

/* A regular file is read from a timer; freeing the reader from its own
 * callback stops it at once (and touches no freed memory). */
static void test_regular_file(int free_at)
{
    char path[] = "/tmp/sockit-reader-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ_INT(write(fd, "a\nb\r\nc", 6), 6);
    lseek(fd, 0, SEEK_SET);
    sk_loop *loop;
    CHECK_EQ_INT(sk_loop_new(&loop), 0);
    CHECK_EQ_INT(sk_loop_on_tick(loop, tick_cb, NULL), 0);
    got g = {.free_at = free_at};
    g.r = sk_reader_new(loop, fd, 1, 100, on_data, on_end, &g);
    CHECK(g.r != NULL);
    if (free_at) {
        run_until(loop, ended, &g, 200); /* times out: on_end never comes */
        CHECK_EQ_INT(g.n, free_at);
        CHECK(!g.ended);
    } else {
        CHECK(run_until(loop, ended, &g, 2000));
        CHECK_EQ_INT(g.n, 3);
        CHECK(is_line(&g, 1, "b"));
        CHECK(is_line(&g, 2, "c"));
        CHECK_EQ_INT(g.err, 0);
        sk_reader_free(g.r);
    }
    close(fd);
    sk_loop_free(loop);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
    test_regular_file(0);
    test_regular_file(1);
    test_regular_file(3);
    return check_done("test_reader");
}
