/* server.c — runs a built-in service: owns the listeners and datagram
 * sockets, hands accepted clients to the shards (shard.c, one loop per
 * thread), and coordinates the graceful shutdown. The top of the server:
 * shard.c, cast.c, log.c and scratch.c never call into this file, except
 * cast.c for sk__peer_send. */
#include "services/server_int.h"
#include "sockit/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sk_server_opts_init(sk_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->service = "echo";
    o->text = "Thank you for connecting\r\n";
    o->in_frame = SK_FRAME_AUTO;
    o->out_frame = SK_FRAME_AUTO;
    o->max_frame = SK_MAX_FRAME_DEFAULT;
    o->drain_ms = 5000;
    o->frame_timeout_ms = 60000;
    o->handshake_ms = 10000;
    o->threads = 1;
    o->exec_timeout_ms = 10000;
    o->exec_max_output = (size_t)1 << 20;
    sk_sockopts_init(&o->sock);
}

const sk_server_opts *sk__server_opts(const sk_server *s) { return &s->o; }
void *sk__server_svc(const sk_server *s) { return s->svc_state; }
const sk__service *sk__server_service(const sk_server *s) { return s->svc; }
void sk__server_set_svc(sk_server *s, void *state) { s->svc_state = state; }
int sk__server_shutting_down(const sk_server *s) { return s->shutting || s->freeing; }

sk_loop *sk__server_loop(const sk_server *s)
{
    sk__shard *sh = sk__shard_current(s);
    return sh ? sh->loop : s->loop;
}

int sk__peer_send(sk__peer *p, const void *msg, size_t len)
{
    if (p->conn) {
        /* a reply is activity too (--idle-timeout): a client whose command ran
         * longer than the idle time is not closed right after its answer */
        p->last_active = (uint32_t)sk_loop_now(sk_conn_loop(p->conn));
        int r = sk_conn_send(p->conn, msg, len);
        if (r == SK_EFRAMEBIG) { /* the reply cannot be framed: say so and end this client */
            sk__server_log(p->srv, "reply of %zu bytes to fd=%d peer=%s does not fit --out-frame %s",
                           len, p->fd, p->name, sk_frame_name(p->srv->o.out_frame));
            sk_conn_close(p->conn, r);
        }
        return r;
    }
    int r = sk_dgram_send(sk__peer_dgram(p), msg, len, sk__peer_from(p));
    if (r < 0 && p->srv->o.verbose)
        sk__server_log(p->srv, "reply to %s dropped: %s", p->name, sk_strerror(r));
    return r;
}

void sk__peer_close(sk__peer *p)
{
    if (p->conn)
        sk_conn_close(p->conn, 0);
}

sk_dgram *sk__peer_dgram(const sk__peer *p) { return p->conn ? NULL : p->srv->dgram; }
const sk_sockaddr *sk__peer_from(const sk__peer *p) { return p->conn ? NULL : p->srv->dgram_from; }

/* ---- accepting ---- */

/* --max-conns: the excess client is accepted and closed at once, never left
 * waiting in the backlog. Otherwise the client is counted (reserved). */
static int over_limit(sk_server *s, sk_listener *l, int fd, const sk_sockaddr *addr)
{
    size_t n = __atomic_add_fetch(&s->npeers, 1, __ATOMIC_RELAXED);
    if (!s->o.max_conns || n <= s->o.max_conns)
        return 0;
    __atomic_sub_fetch(&s->npeers, 1, __ATOMIC_RELAXED);
    char name[64];
    sk_sockaddr_format((const struct sockaddr *)&addr->ss, addr->len, name, sizeof name);
    sk__server_log(s, "refuse fd=%d peer=%s on %s: --max-conns %zu reached", fd, name,
                   sk_listener_name(l), s->o.max_conns);
    close(fd);
    return 1;
}

typedef struct handoff {
    sk__shard *sh;
    int fd;
    sk_sockaddr addr;
    const endpoint *ep;
} handoff;

static void run_handoff(void *arg)
{
    handoff *h = arg;
    sk__shard_adopt(h->sh, h->fd, &h->addr, h->ep);
    free(h);
}

static const endpoint *endpoint_of(sk_server *s, sk_listener *l)
{
    for (int i = 0; i < s->neps; i++)
        if (s->eps[i].l == l)
            return &s->eps[i];
    return &s->eps[0];
}

/* Accepted clients go round-robin to the shards; shard 0 is this thread. */
static void on_accept(sk_listener *l, int fd, const sk_sockaddr *addr, void *ud)
{
    sk_server *s = ud;
    if (over_limit(s, l, fd, addr))
        return;
    sk__shard *sh = &s->shards[s->next_shard++ % (unsigned)s->nshards];
    const endpoint *ep = endpoint_of(s, l);
    handoff *h = sh->index ? malloc(sizeof *h) : NULL;
    if (!h) {
        sk__shard_adopt(&s->shards[0], fd, addr, ep);
        return;
    }
    *h = (handoff){.sh = sh, .fd = fd, .addr = *addr, .ep = ep};
    if (sk_loop_post(sh->loop, run_handoff, h) < 0) {
        free(h);
        sk__shard_adopt(&s->shards[0], fd, addr, ep);
    }
}

static void on_accept_error(sk_listener *l, int err, void *ud)
{
    sk__server_log(ud, "accept on %s: %s (shedding a connection)", sk_listener_name(l),
                   sk_strerror(err));
}

/* ---- datagrams (served on the caller's loop) ---- */

static void on_datagram(sk_dgram *d, int status, const uint8_t *msg, size_t len,
                        const sk_sockaddr *from, void *ud)
{
    sk_server *s = ud;
    if (status < 0) {
        if (s->o.verbose)
            sk__server_log(s, "%s: %s", sk_dgram_name(d), sk_strerror(status));
        return;
    }
    union { /* the sender and room for its name */
        sk__peer p;
        char mem[sizeof(sk__peer) + SK__PEER_NAME_MAX];
    } sender;
    sk__peer *p = &sender.p;
    *p = (sk__peer){.srv = s, .fd = sk_dgram_fd(d)};
    sk_sockaddr_format((const struct sockaddr *)&from->ss, from->len, p->name, SK__PEER_NAME_MAX);
    if (s->o.verbose >= 2)
        sk__server_log(s, "datagram fd=%d peer=%s bytes=%zu", p->fd, p->name, len);
    s->dgram = d;
    s->dgram_from = from;
    s->svc->on_message(p, msg, len);
    s->dgram = NULL;
    s->dgram_from = NULL;
}

/* ---- lifecycle ---- */

/* Handed to the shards at creation: a shard has no clients left after a
 * shutdown (runs on this loop). The last one ends the shutdown. */
static void on_shard_drained(void *arg)
{
    sk_server *s = arg;
    if (--s->shards_left > 0 || !s->done)
        return;
    void (*done)(sk_server *, void *) = s->done;
    s->done = NULL;
    sk_timer_stop(s->drain);
    done(s, s->done_ud);
}

/* The drain's deadline (--drain-timeout): clients still flushing are dropped. */
static void on_drain_timeout(sk_timer *t, void *ud)
{
    sk_server *s = ud;
    sk__server_log(s, "drain timeout: dropping %zu client(s) with unsent data",
                   sk_server_conn_count(s));
    for (int i = 0; i < s->nshards; i++)
        sk__shard_run(&s->shards[i], sk__shard_abort_all);
}

/* SK_FRAME_AUTO: a line service (chat, stdio) reads and writes lines on
 * streams, however the client sends them (see SK_FRAME_TEXT); others raw. */
static sk_frame frame_for(const sk__service *svc, sk_frame asked)
{
    if (asked != SK_FRAME_AUTO)
        return asked;
    return svc->line_service ? SK_FRAME_TEXT : SK_FRAME_RAW;
}

static int fail_new(sk_server *s, int r, char *err, size_t errlen)
{
    if (err)
        snprintf(err, errlen, "cannot start service %s: %s", s->svc->name, sk_strerror(r));
    s->freeing = 1;
    sk__shards_stop(s);
    sk_timer_free(s->drain);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->cast_lock);
    free(s);
    return r;
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
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->o = *opts;
    s->svc = svc;
    s->o.in_frame = frame_for(svc, opts->in_frame);
    s->o.out_frame = frame_for(svc, opts->out_frame);
    s->cast_seq = 1; /* 0 is no client */
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutexattr_t recursive;
    pthread_mutexattr_init(&recursive);
    pthread_mutexattr_settype(&recursive, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->cast_lock, &recursive);
    pthread_mutexattr_destroy(&recursive);
    int r = (s->drain = sk_timer_new(loop, on_drain_timeout, s)) ? 0 : -ENOMEM;
    if (r == 0)
        r = sk__shards_start(s, on_shard_drained);
    if (r == 0 && svc->init && svc->init(s) < 0)
        r = -ENOMEM;
    if (r < 0)
        return fail_new(s, r, err, errlen);
    *out = s;
    return 0;
}

/* A ws:// listener: its path, the page at GET / and the WebSocket options. */
static void set_ws(sk_server *s, endpoint *e, const sk_url *url)
{
    e->is_ws = 1;
    snprintf(e->ws_path, sizeof e->ws_path, "%s", url->path[0] ? url->path : "/");
    e->ws = (sk_ws_opts){.path = e->ws_path,
                         .accept_protocols = s->o.ws_protocols,
                         .origins = s->o.ws_origins,
                         .page = s->o.ws_page ? s->o.ws_page : sk__web_page(),
                         .ping_ms = s->o.ws_ping_ms,
                         .handshake_ms = s->o.handshake_ms,
                         .deflate = s->o.ws_deflate};
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
    if (sk_url_is_tls(url) && !s->o.tls) {
        snprintf(err, errlen, "%s:// needs a TLS configuration", url->scheme == SK_SCHEME_WSS ? "wss" : "tls");
        return SK_ETLS;
    }
    if (sk_url_is_dgram(url)) {
        r = sk_dgram_bind(s->loop, url, &s->o.sock, on_datagram, s, &e->d, err, errlen);
        if (r == 0)
            snprintf(e->name, sizeof e->name, "%s", sk_dgram_name(e->d));
    } else {
        r = sk_listen(s->loop, url, &s->o.sock, on_accept, on_accept_error, s, &e->l, err, errlen);
        if (r == 0)
            snprintf(e->name, sizeof e->name, "%s", sk_listener_name(e->l));
        if (r == 0 && sk_url_is_ws(url))
            set_ws(s, e, url);
        e->is_tls = r == 0 && sk_url_is_tls(url);
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

size_t sk_server_conn_count(const sk_server *s)
{
    return __atomic_load_n(&s->npeers, __ATOMIC_RELAXED);
}

int sk_server_thread_count(const sk_server *s) { return s->nshards; }

size_t sk__server_members(const sk_server *s)
{
    return __atomic_load_n(&s->nopen, __ATOMIC_RELAXED);
}

/* Stops listening; the names stay readable for log lines still in flight. */
static void close_endpoints(sk_server *s)
{
    for (int i = 0; i < s->neps; i++) {
        sk_listener_free(s->eps[i].l);
        sk_dgram_free(s->eps[i].d);
        s->eps[i].l = NULL;
        s->eps[i].d = NULL;
    }
}

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
    /* Without its deadline a drain could wait forever on a client that
     * never reads: then the clients are dropped at once instead. */
    int timed = sk_timer_start(s->drain, s->o.drain_ms, 0) == 0;
    if (!timed)
        sk__server_log(s, "shutdown: no drain timeout (out of memory): dropping %zu client(s) now",
                       sk_server_conn_count(s));
    s->shards_left = s->nshards;
    for (int i = 0; i < s->nshards; i++)
        sk__shard_run(&s->shards[i], timed ? sk__shard_begin_drain : sk__shard_abort_all);
}

void sk_server_free(sk_server *s)
{
    if (!s)
        return;
    close_endpoints(s);
    s->done = NULL;
    s->freeing = 1;
    sk__shards_stop(s);
    if (s->svc->fini)
        s->svc->fini(s);
    sk_timer_free(s->drain);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->cast_lock);
    free(s);
}
