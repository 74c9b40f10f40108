/* test_listener.c — unit tests for listeners, connectors and datagram sockets on
 * loopback: accepting, refused connects, unix paths, EMFILE shedding, UDP/unixgram. */
#include "sockit/addr.h"
#include "sockit/dgram.h"
#include "sockit/error.h"
#include "sockit/listener.h"
#include "sockit/loop.h"
#include "sockit/sockopt.h"

#include "check.h"
#include "net_helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- loop helpers ---- */

typedef int (*cond_fn)(void *ud);
static cond_fn g_cond;
static void *g_cond_ud;
static int g_ticks; /* loop iterations, counted by an on_tick callback */

static void tick_cb(sk_loop *loop, void *ud)
{
    g_ticks++;
    if (g_cond && g_cond(g_cond_ud))
        sk_loop_stop(loop);
}

static sk_loop *new_loop(void)
{
    sk_loop *loop = NULL;
    if (sk_loop_new(&loop) != 0 || sk_loop_on_tick(loop, tick_cb, NULL) != 0) {
        fprintf(stderr, "cannot create a loop\n");
        exit(1);
    }
    g_cond = NULL;
    return loop;
}

static void stop_cb(sk_timer *t, void *ud) { sk_loop_stop(ud); }

/* Runs until cond(ud) (checked after each iteration) or ms pass; returns cond(ud). */
static int run_until(sk_loop *loop, cond_fn cond, void *ud, unsigned ms)
{
    if (cond && cond(ud))
        return 1;
    sk_timer *t = sk_timer_new(loop, stop_cb, loop);
    sk_timer_start(t, ms, 0);
    g_cond = cond;
    g_cond_ud = ud;
    CHECK_EQ_INT(sk_loop_run(loop), 0);
    g_cond = NULL;
    sk_timer_free(t);
    return cond ? cond(ud) : 0;
}

static void run_for(sk_loop *loop, unsigned ms) { run_until(loop, NULL, NULL, ms); }


static sk_url parse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static sk_url parse(const char *fmt, ...)
{
    char text[256], err[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sk_url u;
    int rc = sk_url_parse(text, &u, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "parse %s: %s\n", text, err);
        exit(1);
    }
    return u;
}

static sk_sockaddr resolve(const sk_url *u)
{
    sk_sockaddr a;
    char err[256];
    int n = sk_url_resolve(u, 0, &a, 1, err, sizeof err);
    CHECK_EQ_INT(n, 1);
    return a;
}

static int path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* ---- accept/connect bookkeeping ---- */

#define MAXFD 64

typedef struct acc {
    sk_listener *l;
    int fds[MAXFD];
    int n;
    int errs, last_err;
    int wrong_listener;
    sk_sockaddr peers[MAXFD];
} acc;

static void on_accept(sk_listener *l, int fd, const sk_sockaddr *peer, void *ud)
{
    acc *a = ud;
    if (l != a->l)
        a->wrong_listener++;
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    if (a->n < MAXFD) {
        a->peers[a->n] = *peer;
        a->fds[a->n] = fd;
    } else {
        close(fd);
    }
    a->n++;
}

static void on_accept_err(sk_listener *l, int err, void *ud)
{
    acc *a = ud;
    a->errs++;
    a->last_err = err;
}

static void acc_close_all(acc *a)
{
    for (int i = 0; i < a->n && i < MAXFD; i++)
        close(a->fds[i]);
    a->n = 0;
}

typedef struct conn_res {
    int calls;
    int fd;
    int status;
} conn_res;

static void on_connect(int fd, int status, void *ud)
{
    conn_res *r = ud;
    r->calls++;
    r->fd = fd;
    r->status = status;
}

static int g_want;
static int cond_acc_n(void *ud) { return ((acc *)ud)->n >= g_want; }

typedef struct many {
    conn_res *res;
    int n;
} many;

static int cond_all_connected(void *ud)
{
    many *m = ud;
    for (int i = 0; i < m->n; i++)
        if (m->res[i].calls == 0)
            return 0;
    return 1;
}

/* ---- 1. TCP: accept several clients ---- */

static void test_tcp_accept_many(void)
{
    sk_loop *loop = new_loop();
    uint16_t port = free_port(SOCK_STREAM);
    sk_url u = parse("tcp://127.0.0.1:%u", port);
    acc a = {0};
    char err[256] = "";
    int rc = sk_listen(loop, &u, NULL, on_accept, on_accept_err, &a, &a.l, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  sk_listen: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        exit(1);
    char name[64];
    snprintf(name, sizeof name, "tcp://127.0.0.1:%u", port);
    CHECK(strcmp(sk_listener_name(a.l), name) == 0);
    struct sockaddr_in sin;
    socklen_t slen = sizeof sin;
    CHECK_EQ_INT(getsockname(sk_listener_fd(a.l), (struct sockaddr *)&sin, &slen), 0);
    CHECK_EQ_INT(ntohs(sin.sin_port), port);

    /* a second listener on the same port is refused with a reason */
    sk_listener *l2 = NULL;
    err[0] = 0;
    CHECK_EQ_INT(sk_listen(loop, &u, NULL, on_accept, NULL, &a, &l2, err, sizeof err), -EADDRINUSE);
    CHECK(strstr(err, "cannot listen on") != NULL);
    CHECK(l2 == NULL);

    sk_sockaddr addr = resolve(&u);
    enum { N = 6 };
    conn_res res[N];
    memset(res, 0, sizeof res);
    for (int i = 0; i < N; i++) {
        sk_sockopts so;
        sk_sockopts_init(&so);
        so.nodelay = 1;
        CHECK_EQ_INT(sk_connect(loop, &addr, &so, on_connect, &res[i]), 0);
        CHECK_EQ_INT(res[i].calls, 0); /* never inline */
    }
    g_want = N;
    many m = {res, N};
    CHECK(run_until(loop, cond_all_connected, &m, 3000));
    CHECK(run_until(loop, cond_acc_n, &a, 3000));
    CHECK_EQ_INT(a.n, N);
    CHECK_EQ_INT(a.errs, 0);
    CHECK_EQ_INT(a.wrong_listener, 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(res[i].calls, 1);
        CHECK_EQ_INT(res[i].status, 0);
        CHECK(res[i].fd >= 0);
    }
    for (int i = 0; i < a.n && i < N; i++) {
        const struct sockaddr_in *p = (const struct sockaddr_in *)&a.peers[i].ss;
        CHECK_EQ_INT(p->sin_family, AF_INET);
        CHECK_EQ_INT(ntohl(p->sin_addr.s_addr), INADDR_LOOPBACK);
    }
    /* each client talks to its accepted socket: bytes arrive end to end */
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(write(res[i].fd, "k", 1), 1);
    run_for(loop, 20);
    int got = 0;
    for (int i = 0; i < a.n && i < N; i++) {
        char c;
        if (read(a.fds[i], &c, 1) == 1 && c == 'k')
            got++;
    }
    CHECK_EQ_INT(got, N);

    /* paused: a new client waits in the backlog; resumed: accepted */
    sk_listener_pause(a.l);
    conn_res late = {0};
    CHECK_EQ_INT(sk_connect(loop, &addr, NULL, on_connect, &late), 0);
    run_for(loop, 100);
    CHECK_EQ_INT(late.calls, 1); /* the TCP handshake completes without accept */
    CHECK_EQ_INT(a.n, N);
    sk_listener_resume(a.l);
    g_want = N + 1;
    CHECK(run_until(loop, cond_acc_n, &a, 3000));
    CHECK_EQ_INT(a.n, N + 1);

    for (int i = 0; i < N; i++)
        close(res[i].fd);
    close(late.fd);
    acc_close_all(&a);
    sk_listener_free(a.l);
    sk_loop_free(loop);
}

/* ---- 2. connect to a closed port ---- */

static void test_connect_refused(void)
{
    sk_loop *loop = new_loop();
    uint16_t port = free_port(SOCK_STREAM);
    sk_url u = parse("tcp://127.0.0.1:%u", port);
    sk_sockaddr addr = resolve(&u);
    conn_res r = {.fd = 123};
    CHECK_EQ_INT(sk_connect(loop, &addr, NULL, on_connect, &r), 0);
    CHECK_EQ_INT(r.calls, 0);
    many m = {&r, 1};
    CHECK(run_until(loop, cond_all_connected, &m, 3000));
    run_for(loop, 20); /* exactly once */
    CHECK_EQ_INT(r.calls, 1);
    CHECK_EQ_INT(r.status, -ECONNREFUSED);
    CHECK_EQ_INT(r.fd, -1);

    /* a unix path that does not exist fails at once; the callback never fires */
    char path[108];
    snprintf(path, sizeof path, "/tmp/sockit-test-none-%d.sock", (int)getpid());
    unlink(path);
    sk_url uu = parse("unix://%s", path);
    sk_sockaddr ua = resolve(&uu);
    conn_res r2 = {0};
    CHECK_EQ_INT(sk_connect(loop, &ua, NULL, on_connect, &r2), -ENOENT);
    run_for(loop, 20);
    CHECK_EQ_INT(r2.calls, 0);
    sk_loop_free(loop);
}

/* ---- 2b. a connect in progress can be cancelled: no callback, no fd left ---- */

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

static void test_connect_cancel(void)
{
    sk_loop *loop = new_loop();
    sk_connect_cancel(NULL); /* ignored */
    int base = open_fds();
    /* a listener that never accepts, its backlog full: connects hang */
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    CHECK(bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 0) == 0);
    CHECK(getsockname(ls, (struct sockaddr *)&a, &alen) == 0);
    sk_url u = parse("tcp://127.0.0.1:%u", ntohs(a.sin_port));
    sk_sockaddr addr = resolve(&u);
    enum { FILL = 3, N = 8 };
    int fill[FILL];
    for (int i = 0; i < FILL; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    conn_res r[N] = {{0}};
    sk_connector *pending[N] = {0};
    int started = 0;
    for (int i = 0; i < N; i++)
        started += sk_connect_start(loop, &addr, NULL, NULL, on_connect, &r[i], &pending[i]) == 0;
    CHECK_EQ_INT(started, N);
    run_for(loop, 100);
    int hanging = 0;
    for (int i = 0; i < N; i++)
        if (r[i].calls == 0) {
            hanging++;
            sk_connect_cancel(pending[i]); /* cancelled before its callback */
        } else if (r[i].fd >= 0) {
            close(r[i].fd);
        }
    CHECK(hanging > 0); /* the backlog was full: some connects were still in progress */
    run_for(loop, 100);
    int calls = 0;
    for (int i = 0; i < N; i++)
        calls += r[i].calls;
    CHECK_EQ_INT(calls, N - hanging); /* no callback after a cancel */
    for (int i = 0; i < FILL; i++)
        close(fill[i]);
    close(ls);
    CHECK_EQ_INT(open_fds(), base); /* every cancelled socket was closed */

    /* cancelled at once, before the loop ran: the callback never fires */
    acc ac = {0};
    char err[256];
    sk_url u2 = parse("tcp://127.0.0.1:%u", free_port(SOCK_STREAM));
    CHECK_EQ_INT(sk_listen(loop, &u2, NULL, on_accept, NULL, &ac, &ac.l, err, sizeof err), 0);
    sk_sockaddr addr2 = resolve(&u2);
    conn_res r2 = {0};
    sk_connector *p2 = NULL;
    CHECK_EQ_INT(sk_connect_start(loop, &addr2, NULL, NULL, on_connect, &r2, &p2), 0);
    CHECK(p2 != NULL);
    sk_connect_cancel(p2);
    run_for(loop, 50);
    CHECK_EQ_INT(r2.calls, 0);
    for (int i = 0; i < ac.n && i < MAXFD; i++) { /* accepted before the cancel: sees the end */
        char b;
        CHECK(recv(ac.fds[i], &b, 1, 0) <= 0);
    }
    acc_close_all(&ac);
    sk_listener_free(ac.l);
    sk_loop_free(loop);
}

/* ---- 3. unix paths: stale replaced, live refused, unlinked on free ---- */

static void test_unix_paths(void)
{
    sk_loop *loop = new_loop();
    char path[108];
    snprintf(path, sizeof path, "/tmp/sockit-test-l-%d.sock", (int)getpid());
    unlink(path);
    sk_url u = parse("unix://%s", path);

    /* a stale socket file: bound by a socket that is gone */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    CHECK_EQ_INT(bind(s, (struct sockaddr *)&sun, sizeof sun), 0);
    close(s);
    CHECK(path_exists(path));

    acc a = {0};
    char err[256] = "";
    int rc = sk_listen(loop, &u, NULL, on_accept, NULL, &a, &a.l, err, sizeof err);
    if (rc)
        fprintf(stderr, "  stale replace: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    if (rc)
        return;
    char name[160];
    snprintf(name, sizeof name, "unix://%s", path);
    CHECK(strcmp(sk_listener_name(a.l), name) == 0);

    /* it works */
    sk_sockaddr addr = resolve(&u);
    conn_res r = {0};
    CHECK_EQ_INT(sk_connect(loop, &addr, NULL, on_connect, &r), 0);
    many m = {&r, 1};
    g_want = 1;
    CHECK(run_until(loop, cond_all_connected, &m, 3000));
    CHECK(run_until(loop, cond_acc_n, &a, 3000));
    CHECK_EQ_INT(r.status, 0);
    if (r.fd >= 0)
        close(r.fd);

    /* a live one is refused, and left alone */
    acc b = {0};
    sk_listener *l2 = NULL;
    err[0] = 0;
    CHECK_EQ_INT(sk_listen(loop, &u, NULL, on_accept, NULL, &b, &l2, err, sizeof err), -EADDRINUSE);
    CHECK(err[0] != 0);
    CHECK(path_exists(path));
    int before = a.n;
    conn_res r2 = {0};
    CHECK_EQ_INT(sk_connect(loop, &addr, NULL, on_connect, &r2), 0);
    m.res = &r2;
    g_want = before + 1;
    CHECK(run_until(loop, cond_all_connected, &m, 3000));
    CHECK(run_until(loop, cond_acc_n, &a, 3000)); /* the first listener still accepts */
    CHECK_EQ_INT(r2.status, 0);
    if (r2.fd >= 0)
        close(r2.fd);
    acc_close_all(&a);

    /* free unlinks the path it created */
    sk_listener_free(a.l);
    CHECK(!path_exists(path));

    /* a regular file at the path is not a stale socket: never deleted */
    int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    CHECK(f >= 0);
    CHECK_EQ_INT(write(f, "data", 4), 4);
    close(f);
    sk_listener *l3 = NULL;
    acc c = {0};
    rc = sk_listen(loop, &u, NULL, on_accept, NULL, &c, &l3, err, sizeof err);
    struct stat st;
    int still_regular = lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4;
    if (rc == 0 || !still_regular)
        fprintf(stderr, "  sk_listen on a regular file: rc %d, file %s\n", rc,
                still_regular ? "kept" : "DELETED");
    CHECK(rc < 0);
    CHECK(still_regular);
    if (rc == 0)
        sk_listener_free(l3);
    unlink(path);

    /* abstract names: no file, nothing to unlink */
    sk_url ua = parse("unix://@sockit-test-%d", (int)getpid());
    acc d = {0};
    CHECK_EQ_INT(sk_listen(loop, &ua, NULL, on_accept, NULL, &d, &d.l, err, sizeof err), 0);
    sk_sockaddr aa = resolve(&ua);
    conn_res r3 = {0};
    CHECK_EQ_INT(sk_connect(loop, &aa, NULL, on_connect, &r3), 0);
    m.res = &r3;
    g_want = 1;
    CHECK(run_until(loop, cond_all_connected, &m, 3000));
    CHECK(run_until(loop, cond_acc_n, &d, 3000));
    CHECK_EQ_INT(r3.status, 0);
    if (r3.fd >= 0)
        close(r3.fd);
    acc_close_all(&d);
    sk_listener_free(d.l);
    sk_loop_free(loop);
}

/* ---- 4. EMFILE: shed the excess client, do not spin, recover ---- */

static int highest_fd(void)
{
    int hi = -1;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            hi = fd;
    return hi;
}

static int cond_errs3(void *ud) { return ((acc *)ud)->errs >= 3; }

static void test_emfile(void)
{
    sk_loop *loop = new_loop();
    uint16_t port = free_port(SOCK_STREAM);
    sk_url u = parse("tcp://127.0.0.1:%u", port);
    acc a = {0};
    char err[256];
    CHECK_EQ_INT(sk_listen(loop, &u, NULL, on_accept, on_accept_err, &a, &a.l, err, sizeof err), 0);
    if (!a.l)
        return;
    sk_sockaddr addr = resolve(&u);

    /* five clients complete their handshake into the backlog */
    enum { NC = 5, FREE_SLOTS = 2 };
    int cl[NC];
    for (int i = 0; i < NC; i++) {
        cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK_EQ_INT(connect(cl[i], (struct sockaddr *)&addr.ss, addr.len), 0);
    }
    /* fill every hole below the highest fd, then allow FREE_SLOTS more */
    int hi = highest_fd();
    int pad[4096], npad = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        if (fd > hi) {
            close(fd);
            break;
        }
        pad[npad++] = fd;
    }
    struct rlimit old, low;
    CHECK_EQ_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)hi + 1 + FREE_SLOTS;
    CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &low), 0);

    int ok = run_until(loop, cond_errs3, &a, 3000);
    CHECK(ok);
    CHECK_EQ_INT(a.n, FREE_SLOTS); /* accepted while descriptors lasted */
    CHECK_EQ_INT(a.errs, NC - FREE_SLOTS);
    CHECK_EQ_INT(a.last_err, -EMFILE);

    /* no busy loop while out of descriptors */
    g_ticks = 0;
    run_for(loop, 300);
    if (g_ticks >= 50)
        fprintf(stderr, "  EMFILE: %d loop iterations in 300 ms\n", g_ticks);
    CHECK(g_ticks < 50);
    CHECK_EQ_INT(a.errs, NC - FREE_SLOTS);

    /* the shed clients see EOF or a reset, the accepted ones just wait */
    int shed = 0, waiting = 0;
    for (int i = 0; i < NC; i++) {
        char c;
        ssize_t n = recv(cl[i], &c, 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            shed++;
        else if (n < 0 && errno == EAGAIN)
            waiting++;
    }
    CHECK_EQ_INT(shed, NC - FREE_SLOTS);
    CHECK_EQ_INT(waiting, FREE_SLOTS);

    /* descriptors again: new clients are accepted */
    CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
    conn_res r = {0};
    CHECK_EQ_INT(sk_connect(loop, &addr, NULL, on_connect, &r), 0);
    g_want = FREE_SLOTS + 1;
    many m = {&r, 1};
    CHECK(run_until(loop, cond_all_connected, &m, 3000));
    CHECK(run_until(loop, cond_acc_n, &a, 3000));
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(a.n, FREE_SLOTS + 1);
    if (r.fd >= 0)
        close(r.fd);
    for (int i = 0; i < NC; i++)
        close(cl[i]);
    for (int i = 0; i < npad; i++)
        close(pad[i]);
    acc_close_all(&a);
    sk_listener_free(a.l);
    sk_loop_free(loop);
}

/* ---- 5. sk_listener_free from inside its own accept callback ---- */

typedef struct selffree {
    sk_listener *l;
    int calls;
    int calls_after_free;
    int fds[8], nfds;
    int raw_listener, raw_client;
    uint16_t port2;
} selffree;

static void selffree_accept(sk_listener *l, int fd, const sk_sockaddr *peer, void *ud)
{
    selffree *s = ud;
    s->calls++;
    if (s->nfds < 8)
        s->fds[s->nfds++] = fd;
    else
        close(fd);
    if (s->l == NULL) {
        s->calls_after_free++; /* a callback for a listener that was freed */
        return;
    }
    sk_listener_free(l); /* "safe from any callback" */
    s->l = NULL;
    /* a new socket takes the closed descriptor's number, with a client waiting */
    s->raw_listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(s->port2)};
    if (bind(s->raw_listener, (struct sockaddr *)&a, sizeof a) == 0 &&
        listen(s->raw_listener, 8) == 0) {
        s->raw_client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s->raw_client, (struct sockaddr *)&a, sizeof a) < 0) {
            close(s->raw_client);
            s->raw_client = -1;
        }
    }
}

/* In a child, so that a crash or a sanitizer report becomes a failed check. */
static void test_listener_free_in_callback(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        sk_loop *loop = new_loop();
        uint16_t port = free_port(SOCK_STREAM);
        selffree s = {.raw_listener = -1, .raw_client = -1, .port2 = free_port(SOCK_STREAM)};
        sk_url u = parse("tcp://127.0.0.1:%u", port);
        char err[256];
        if (sk_listen(loop, &u, NULL, selffree_accept, NULL, &s, &s.l, err, sizeof err) != 0)
            _exit(10);
        sk_sockaddr addr = resolve(&u);
        int cl[3];
        for (int i = 0; i < 3; i++) { /* several clients ready in one accept batch */
            cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (connect(cl[i], (struct sockaddr *)&addr.ss, addr.len) < 0)
                _exit(11);
        }
        run_for(loop, 100);
        int code = 0;
        if (s.calls_after_free)
            code = 12; /* the freed listener kept accepting */
        else if (s.calls != 1)
            code = 13;
        for (int i = 0; i < s.nfds; i++)
            close(s.fds[i]);
        for (int i = 0; i < 3; i++)
            close(cl[i]);
        if (s.raw_client >= 0)
            close(s.raw_client);
        if (s.raw_listener >= 0)
            close(s.raw_listener);
        sk_loop_free(loop);
        _exit(code);
    }
    int status = 0;
    CHECK(pid > 0);
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0)
        fprintf(stderr, "  sk_listener_free inside the accept callback: child exit %d%s\n", code,
                code == 12 ? " (freed listener kept accepting)" : "");
    CHECK_EQ_INT(code, 0);
}

/* ---- 6. datagrams ---- */

#define MAXDG 16

typedef struct dg {
    sk_dgram *d;
    int n;
    char msgs[MAXDG][64];
    size_t lens[MAXDG];
    sk_sockaddr from[MAXDG];
    int errs, last_err;
    int bad_args;
    int reply; /* server: echo "re:" + msg to the sender */
    int free_on_first;
    int send_rc_bad;
} dg;

static void on_dgram(sk_dgram *d, int status, const uint8_t *msg, size_t len,
                     const sk_sockaddr *from, void *ud)
{
    dg *g = ud;
    if (status < 0) {
        if (msg || from)
            g->bad_args++;
        g->errs++;
        g->last_err = status;
        return;
    }
    if (!msg || !from)
        g->bad_args++;
    if (g->n < MAXDG) {
        size_t n = len < 63 ? len : 63;
        memcpy(g->msgs[g->n], msg, n);
        g->msgs[g->n][n] = 0;
        g->lens[g->n] = len;
        g->from[g->n] = *from;
    }
    g->n++;
    if (g->reply) {
        char out[80];
        int k = snprintf(out, sizeof out, "re:%.*s", (int)(len < 60 ? len : 60), (const char *)msg);
        if (sk_dgram_send(d, out, (size_t)k, from) != 0)
            g->send_rc_bad++;
    }
    if (g->free_on_first) {
        sk_dgram_free(d);
        g->d = NULL;
        g->free_on_first = 0;
    }
}

static int g_dg_want;
static int cond_dg_n(void *ud) { return ((dg *)ud)->n >= g_dg_want; }
static int cond_dg_err(void *ud) { return ((dg *)ud)->errs > 0; }

static void dgram_roundtrip(sk_loop *loop, const sk_url *u, const char *what)
{
    dg srv = {.reply = 1}, cli = {0};
    char err[256] = "";
    int rc = sk_dgram_bind(loop, u, NULL, on_dgram, &srv, &srv.d, err, sizeof err);
    if (rc)
        fprintf(stderr, "  %s bind: %s\n", what, err);
    CHECK_EQ_INT(rc, 0);
    if (rc)
        return;
    sk_sockopts so;
    sk_sockopts_init(&so);
    rc = sk_dgram_connect(loop, u, &so, on_dgram, &cli, &cli.d, err, sizeof err);
    if (rc)
        fprintf(stderr, "  %s connect: %s\n", what, err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        sk_dgram_free(srv.d);
        return;
    }
    CHECK(sk_dgram_fd(cli.d) >= 0);
    CHECK(sk_dgram_name(srv.d)[0] != 0);
    /* three datagrams, one empty: never merged or split */
    CHECK_EQ_INT(sk_dgram_send(cli.d, "one", 3, NULL), 0);
    CHECK_EQ_INT(sk_dgram_send(cli.d, "", 0, NULL), 0);
    CHECK_EQ_INT(sk_dgram_send(cli.d, "three", 5, NULL), 0);
    g_dg_want = 3;
    CHECK(run_until(loop, cond_dg_n, &srv, 3000));
    CHECK(run_until(loop, cond_dg_n, &cli, 3000));
    CHECK_EQ_INT(srv.n, 3);
    CHECK_EQ_INT(cli.n, 3);
    CHECK(strcmp(srv.msgs[0], "one") == 0 && srv.lens[0] == 3);
    CHECK_EQ_INT(srv.lens[1], 0);
    CHECK(strcmp(srv.msgs[2], "three") == 0);
    CHECK(strcmp(cli.msgs[0], "re:one") == 0);
    CHECK(strcmp(cli.msgs[1], "re:") == 0);
    CHECK(strcmp(cli.msgs[2], "re:three") == 0);
    CHECK_EQ_INT(srv.send_rc_bad, 0);
    CHECK_EQ_INT(srv.bad_args + cli.bad_args, 0);
    CHECK_EQ_INT(srv.errs + cli.errs, 0);
    /* the sender's address is the client's own name */
    sk_sockaddr me = {.len = sizeof me.ss};
    getsockname(sk_dgram_fd(cli.d), (struct sockaddr *)&me.ss, &me.len);
    CHECK_EQ_INT(srv.from[0].len, me.len);
    CHECK(srv.from[0].len == me.len && memcmp(&srv.from[0].ss, &me.ss, me.len) == 0);
    sk_dgram_free(cli.d);
    sk_dgram_free(srv.d);
    run_for(loop, 5);
}

static void test_dgram_udp(void)
{
    sk_loop *loop = new_loop();
    sk_url u = parse("udp://127.0.0.1:%u", free_port(SOCK_DGRAM));
    dgram_roundtrip(loop, &u, "udp");
    sk_loop_free(loop);
}

static void test_dgram_unixgram(void)
{
    sk_loop *loop = new_loop();
    char path[108];
    snprintf(path, sizeof path, "/tmp/sockit-test-dg-%d.sock", (int)getpid());
    unlink(path);
    sk_url u = parse("unixgram://%s", path);
    dgram_roundtrip(loop, &u, "unixgram");
    CHECK(!path_exists(path)); /* unlinked by sk_dgram_free */

    /* a stale path is replaced; a live one is refused */
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    CHECK_EQ_INT(bind(s, (struct sockaddr *)&sun, sizeof sun), 0);
    dg a = {0}, b = {0};
    char err[256];
    CHECK_EQ_INT(sk_dgram_bind(loop, &u, NULL, on_dgram, &b, &b.d, err, sizeof err), -EADDRINUSE);
    close(s); /* now stale */
    CHECK_EQ_INT(sk_dgram_bind(loop, &u, NULL, on_dgram, &a, &a.d, err, sizeof err), 0);
    CHECK(path_exists(path));
    if (a.d)
        sk_dgram_free(a.d);
    CHECK(!path_exists(path));

    /* a regular file, or a live stream server's socket, is not a stale datagram path */
    int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(f);
    int rc = sk_dgram_bind(loop, &u, NULL, on_dgram, &a, &a.d, err, sizeof err);
    struct stat st;
    int kept = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
    if (rc == 0 || !kept)
        fprintf(stderr, "  sk_dgram_bind on a regular file: rc %d, file %s\n", rc,
                kept ? "kept" : "DELETED");
    CHECK(rc < 0);
    CHECK(kept);
    if (rc == 0)
        sk_dgram_free(a.d);
    unlink(path);

    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_EQ_INT(bind(ls, (struct sockaddr *)&sun, sizeof sun), 0);
    CHECK_EQ_INT(listen(ls, 4), 0);
    rc = sk_dgram_bind(loop, &u, NULL, on_dgram, &a, &a.d, err, sizeof err);
    /* the stream server must still be reachable by its path */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int reachable = connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0;
    close(probe);
    if (rc == 0 || !reachable)
        fprintf(stderr, "  sk_dgram_bind on a live stream socket's path: rc %d, server %s\n", rc,
                reachable ? "reachable" : "CUT OFF (path unlinked)");
    CHECK(rc < 0);
    CHECK(reachable);
    if (rc == 0)
        sk_dgram_free(a.d);
    close(ls);
    unlink(path);
    run_for(loop, 5);
    sk_loop_free(loop);
}

/* A connected UDP socket sending to a closed port gets -ECONNREFUSED through the callback. */
static void resend_cb(sk_timer *t, void *ud)
{
    dg *g = ud;
    if (g->errs == 0)
        sk_dgram_send(g->d, "x", 1, NULL); /* in case an ICMP reply was rate-limited */
}

static void test_dgram_refused(void)
{
    sk_loop *loop = new_loop();
    sk_url u = parse("udp://127.0.0.1:%u", free_port(SOCK_DGRAM));
    dg c = {0};
    char err[256];
    CHECK_EQ_INT(sk_dgram_connect(loop, &u, NULL, on_dgram, &c, &c.d, err, sizeof err), 0);
    if (!c.d)
        return;
    CHECK_EQ_INT(sk_dgram_send(c.d, "x", 1, NULL), 0);
    sk_timer *t = sk_timer_new(loop, resend_cb, &c);
    sk_timer_start(t, 200, 200);
    CHECK(run_until(loop, cond_dg_err, &c, 3000));
    CHECK_EQ_INT(c.last_err, -ECONNREFUSED);
    CHECK_EQ_INT(c.bad_args, 0);
    CHECK_EQ_INT(c.n, 0);
    sk_timer_free(t);
    sk_dgram_free(c.d);
    run_for(loop, 5);
    sk_loop_free(loop);
}

/* sk_dgram_free from inside its own callback with more datagrams waiting. */
static void test_dgram_free_in_callback(void)
{
    sk_loop *loop = new_loop();
    sk_url u = parse("udp://127.0.0.1:%u", free_port(SOCK_DGRAM));
    dg srv = {.free_on_first = 1}, cli = {0};
    char err[256];
    CHECK_EQ_INT(sk_dgram_bind(loop, &u, NULL, on_dgram, &srv, &srv.d, err, sizeof err), 0);
    CHECK_EQ_INT(sk_dgram_connect(loop, &u, NULL, on_dgram, &cli, &cli.d, err, sizeof err), 0);
    if (!srv.d || !cli.d)
        return;
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(sk_dgram_send(cli.d, "z", 1, NULL), 0);
    run_for(loop, 50);
    CHECK_EQ_INT(srv.n, 1);
    CHECK(srv.d == NULL);
    sk_dgram_free(cli.d);
    run_for(loop, 5);
    sk_loop_free(loop);
}

int main(void)
{
    alarm(120); /* last-resort hang guard */
    signal(SIGPIPE, SIG_IGN);
    test_tcp_accept_many();
    test_connect_refused();
    test_connect_cancel();
    test_unix_paths();
    test_emfile();
    test_dgram_udp();
    test_dgram_unixgram();
    test_dgram_refused();
    test_dgram_free_in_callback();
    test_listener_free_in_callback();
    return check_done("test_listener");
}
