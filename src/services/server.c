/* server.c — runs a built-in service: owns the listeners, one peer per
 * stream client, the -v/-vv log lines and the graceful shutdown. */
#include "net/loop_int.h"
#include "services/service.h"
#include "sockit/error.h"
#include "sockit/listener.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SK_MAX_LISTENERS 64

typedef struct endpoint {
    sk_listener *l; /* stream */
    sk_dgram *d;    /* datagram */
    char name[300];
} endpoint;

struct sk_server {
    sk_loop *loop;
    sk_server_opts o;
    const sk__service *svc;
    endpoint eps[SK_MAX_LISTENERS];
    int neps;
    sk__peer *peers; /* stream clients */
    size_t npeers;
    void *svc_state;
    uint8_t *scratch;
    size_t scratch_cap;
    int shutting;
    sk_timer *drain;
    sk_timer *idle;  /* sweeps for clients silent longer than idle_ms */
    void (*done)(sk_server *, void *);
    void *done_ud;
};

void sk_server_opts_init(sk_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->service = "echo";
    o->text = "Thank you for connecting\r\n";
    o->max_frame = SK_MAX_FRAME_DEFAULT;
    o->drain_ms = 5000;
    o->exec_timeout_ms = 10000;
    o->exec_max_output = (size_t)1 << 20;
    sk_sockopts_init(&o->sock);
}

const sk_server_opts *sk__server_opts(const sk_server *s) { return &s->o; }
sk_loop *sk__server_loop(const sk_server *s) { return s->loop; }
void *sk__server_svc(const sk_server *s) { return s->svc_state; }
void sk__server_set_svc(sk_server *s, void *state) { s->svc_state = state; }
sk__peer *sk__server_peers(const sk_server *s) { return s->peers; }
int sk__server_shutting_down(const sk_server *s) { return s->shutting; }

void sk__server_log(sk_server *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s->o.log) {
        s->o.log(s->o.log_ud, line);
        return;
    }
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%H:%M:%S", localtime_r(&now, &tm));
    fprintf(stderr, "%s %s\n", ts, line);
}

uint8_t *sk__server_scratch(sk_server *s, size_t len)
{
    if (len > s->scratch_cap) {
        uint8_t *p = realloc(s->scratch, len);
        if (!p)
            return NULL;
        s->scratch = p;
        s->scratch_cap = len;
    }
    return s->scratch ? s->scratch : (uint8_t *)"";
}

int sk__peer_send(sk__peer *p, const void *msg, size_t len)
{
    if (p->conn) {
        int r = sk_conn_send(p->conn, msg, len);
        if (r == SK_EFRAMEBIG) { /* the reply cannot be framed: say so and end this client */
            sk__server_log(p->srv, "reply of %zu bytes to fd=%d peer=%s does not fit --out-frame %s",
                           len, p->fd, p->name, sk_frame_name(p->srv->o.out_frame));
            sk_conn_close(p->conn, r);
        }
        return r;
    }
    int r = sk_dgram_send(p->dg, msg, len, p->from);
    if (r < 0 && p->srv->o.verbose)
        sk__server_log(p->srv, "reply to %s dropped: %s", p->name, sk_strerror(r));
    return r;
}

void sk__peer_close(sk__peer *p)
{
    if (p->conn)
        sk_conn_close(p->conn, 0);
}

/* ---- stream clients ---- */

static void peer_message(sk_conn *c, const uint8_t *msg, size_t len, void *ud)
{
    sk__peer *p = ud;
    p->srv->svc->on_message(p, msg, len);
}

static void peer_read(sk_conn *c, size_t n, void *ud)
{
    sk__peer *p = ud;
    p->last_active = sk_loop_now(p->srv->loop);
    if (p->srv->o.verbose >= 2)
        sk__server_log(p->srv, "read fd=%d peer=%s bytes=%zu", p->fd, p->name, n);
}

static void finish_shutdown_if_idle(sk_server *s)
{
    if (s->shutting && s->npeers == 0 && s->done) {
        void (*done)(sk_server *, void *) = s->done;
        s->done = NULL;
        sk_timer_stop(s->drain);
        done(s, s->done_ud);
    }
}

static void peer_close(sk_conn *c, int err, void *ud)
{
    sk__peer *p = ud;
    sk_server *s = p->srv;
    if (s->svc->on_close)
        s->svc->on_close(p);
    if (s->o.verbose || (err && err != -ECONNRESET && err != -EPIPE))
        sk__server_log(s, "close fd=%d peer=%s in=%llu out=%llu reason=%s", p->fd, p->name,
                       (unsigned long long)sk_conn_bytes_in(c),
                       (unsigned long long)sk_conn_bytes_out(c), err ? sk_strerror(err) : "done");
    if (p->prev)
        p->prev->next = p->next;
    else
        s->peers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    s->npeers--;
    free(p);
    finish_shutdown_if_idle(s);
}

static const sk_conn_cbs peer_cbs = {
    .on_message = peer_message,
    .on_read = peer_read,
    .on_close = peer_close,
};

/* --max-conns: the excess client is accepted and closed at once, never left
 * waiting in the backlog. */
static int over_limit(sk_server *s, sk_listener *l, int fd, const sk_sockaddr *addr)
{
    if (!s->o.max_conns || s->npeers < s->o.max_conns)
        return 0;
    char name[64];
    sk_sockaddr_format((const struct sockaddr *)&addr->ss, addr->len, name, sizeof name);
    sk__server_log(s, "refuse fd=%d peer=%s on %s: --max-conns %zu reached", fd, name,
                   sk_listener_name(l), s->o.max_conns);
    close(fd);
    return 1;
}

static void on_accept(sk_listener *l, int fd, const sk_sockaddr *addr, void *ud)
{
    sk_server *s = ud;
    if (over_limit(s, l, fd, addr))
        return;
    sk__peer *p = calloc(1, sizeof *p);
    sk_conn_opts co = {.in_frame = s->o.in_frame, .out_frame = s->o.out_frame,
                       .max_frame = s->o.max_frame,
                       .max_queue = s->o.max_queue ? s->o.max_queue : s->svc->default_max_queue};
    if (!p) {
        close(fd);
        return;
    }
    p->last_active = sk_loop_now(s->loop);
    p->srv = s;
    p->fd = fd;
    sk_sockaddr_format((const struct sockaddr *)&addr->ss, addr->len, p->name, sizeof p->name);
    sk_sockopts_apply(fd, &s->o.sock, 0);
    p->conn = sk_conn_new(s->loop, fd, &peer_cbs, &co, p);
    if (!p->conn) {
        sk__server_log(s, "cannot serve fd=%d peer=%s: %s", fd, p->name, strerror(errno));
        free(p);
        return;
    }
    p->next = s->peers;
    if (s->peers)
        s->peers->prev = p;
    s->peers = p;
    s->npeers++;
    if (s->o.verbose)
        sk__server_log(s, "accept fd=%d peer=%s on %s", fd, p->name, sk_listener_name(l));
    if (s->svc->on_open)
        s->svc->on_open(p);
}

static void on_accept_error(sk_listener *l, int err, void *ud)
{
    sk__server_log(ud, "accept on %s: %s (shedding a connection)", sk_listener_name(l),
                   sk_strerror(err));
}

/* ---- datagrams ---- */

static void on_datagram(sk_dgram *d, int status, const uint8_t *msg, size_t len,
                        const sk_sockaddr *from, void *ud)
{
    sk_server *s = ud;
    if (status < 0) {
        if (s->o.verbose)
            sk__server_log(s, "%s: %s", sk_dgram_name(d), sk_strerror(status));
        return;
    }
    sk__peer p = {.srv = s, .dg = d, .from = from, .fd = sk_dgram_fd(d)};
    sk_sockaddr_format((const struct sockaddr *)&from->ss, from->len, p.name, sizeof p.name);
    if (s->o.verbose >= 2)
        sk__server_log(s, "datagram fd=%d peer=%s bytes=%zu", p.fd, p.name, len);
    s->svc->on_message(&p, msg, len);
}

/* ---- lifecycle ---- */

static void on_idle_sweep(sk_timer *t, void *ud)
{
    sk_server *s = ud;
    uint64_t now = sk_loop_now(s->loop);
    for (sk__peer *p = s->peers; p; p = p->next) {
        if (now - p->last_active < s->o.idle_ms)
            continue;
        if (s->o.verbose)
            sk__server_log(s, "idle fd=%d peer=%s: silent for %us", p->fd, p->name,
                           s->o.idle_ms / 1000);
        sk_conn_close(p->conn, SK_ETIMEOUT);
    }
}

/* Checks idle clients a few times per timeout period (at most once a second). */
static int start_idle_sweep(sk_server *s)
{
    if (!s->o.idle_ms)
        return 0;
    s->idle = sk_timer_new(s->loop, on_idle_sweep, s);
    if (!s->idle)
        return -ENOMEM;
    uint64_t every = s->o.idle_ms / 4 < 1000 ? s->o.idle_ms / 4 : 1000;
    sk_timer_start(s->idle, every ? every : 1, every ? every : 1);
    return 0;
}

int sk_server_new(sk_loop *loop, const sk_server_opts *opts, sk_server **out, char *err,
                  size_t errlen)
{
    const sk__service *svc = sk__service_find(opts->service);
    if (!svc) {
        if (err)
            snprintf(err, errlen, "unknown service '%s' (use one of: %s)",
                     opts->service ? opts->service : "", sk_service_names());
        return SK_ESERVICE;
    }
    sk_server *s = calloc(1, sizeof *s);
    if (!s || !(s->drain = sk_timer_new(loop, NULL, NULL))) {
        free(s);
        if (err)
            snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->loop = loop;
    s->o = *opts;
    s->svc = svc;
    if (start_idle_sweep(s) < 0 || (svc->init && svc->init(s) < 0)) {
        sk_timer_free(s->idle);
        sk_timer_free(s->drain);
        free(s);
        if (err)
            snprintf(err, errlen, "cannot start service %s: out of memory", svc->name);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

int sk_server_listen(sk_server *s, const sk_url *url, char *err, size_t errlen)
{
    if (s->neps == SK_MAX_LISTENERS) {
        snprintf(err, errlen, "too many listeners (at most %d)", SK_MAX_LISTENERS);
        return -EMFILE;
    }
    endpoint *e = &s->eps[s->neps];
    int r = s->svc->check_listen ? s->svc->check_listen(s, url, err, errlen) : 0;
    if (r < 0)
        return r;
    if (sk_url_is_dgram(url)) {
        r = sk_dgram_bind(s->loop, url, &s->o.sock, on_datagram, s, &e->d, err, errlen);
        if (r == 0)
            snprintf(e->name, sizeof e->name, "%s", sk_dgram_name(e->d));
    } else {
        r = sk_listen(s->loop, url, &s->o.sock, on_accept, on_accept_error, s, &e->l, err, errlen);
        if (r == 0)
            snprintf(e->name, sizeof e->name, "%s", sk_listener_name(e->l));
    }
    if (r == 0)
        s->neps++;
    return r;
}

int sk_server_listener_count(const sk_server *s) { return s->neps; }

const char *sk_server_listener_name(const sk_server *s, int i)
{
    return i >= 0 && i < s->neps ? s->eps[i].name : NULL;
}

size_t sk_server_conn_count(const sk_server *s) { return s->npeers; }

static void close_endpoints(sk_server *s)
{
    for (int i = 0; i < s->neps; i++) {
        sk_listener_free(s->eps[i].l);
        sk_dgram_free(s->eps[i].d);
    }
    s->neps = 0;
}

static void on_drain_timeout(sk_timer *t, void *ud)
{
    sk_server *s = ud;
    sk__server_log(s, "drain timeout: dropping %zu client(s) with unsent data", s->npeers);
    for (sk__peer *p = s->peers; p; p = p->next)
        sk_conn_abort(p->conn, SK_ETIMEOUT);
}

static void done_soon(sk_timer *t, void *ud) { finish_shutdown_if_idle(ud); }


void sk_server_shutdown(sk_server *s, void (*done)(sk_server *s, void *ud), void *ud)
{
    if (s->shutting)
        return;
    s->shutting = 1;
    s->done = done;
    s->done_ud = ud;
    close_endpoints(s);
    if (s->svc->on_shutdown)
        s->svc->on_shutdown(s);
    for (sk__peer *p = s->peers; p; p = p->next)
        sk_conn_close(p->conn, 0);
    sk_timer_free(s->drain);
    s->drain = sk_timer_new(s->loop, s->npeers ? on_drain_timeout : done_soon, s);
    if (s->drain)
        sk_timer_start(s->drain, s->npeers ? s->o.drain_ms : 0, 0);
}

void sk_server_free(sk_server *s)
{
    if (!s)
        return;
    close_endpoints(s);
    s->done = NULL;
    for (sk__peer *p = s->peers; p; p = p->next)
        sk_conn_abort(p->conn, SK_ECLOSED);
    sk__conns_tick(s->loop); /* run the clients' on_close while s is alive */
    if (s->svc->fini)
        s->svc->fini(s);
    sk_timer_free(s->idle);
    sk_timer_free(s->drain);
    free(s->scratch);
    free(s);
}
