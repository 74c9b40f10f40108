/* shard.c — one event-loop thread of a server: the clients it adopted, their
 * callbacks, the idle sweep and draining at shutdown. Used by server.c and
 * cast.c, never calling them: what it reports up goes through the function
 * the server hands to sk__shards_start. */
#include "net/loop_int.h"
#include "services/server_int.h"
#include "sockit/error.h"
#include "sockit/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- client callbacks (run on the client's shard thread) ---- */

static void peer_message(sk_conn *c, const uint8_t *msg, size_t len, void *ud)
{
    sk__peer *p = ud;
    p->srv->svc->on_message(p, msg, len);
}

/* The shard serving p: the one whose loop runs its connection. */
sk__shard *sk__shard_of(const sk__peer *p)
{
    sk_server *s = p->srv;
    sk_loop *loop = sk_conn_loop(p->conn);
    for (int i = 1; i < s->nshards; i++)
        if (s->shards[i].loop == loop)
            return &s->shards[i];
    return &s->shards[0];
}

static void peer_read(sk_conn *c, size_t n, void *ud)
{
    sk__peer *p = ud;
    p->last_active = (uint32_t)sk_loop_now(sk_conn_loop(c));
    if (p->srv->o.verbose >= 2)
        sk__server_log(p->srv, "read fd=%d peer=%s bytes=%zu", p->fd, p->name, n);
}

/* -vv: each compressed-framing message's size on the wire and decompressed. */
static void peer_zmsg(sk_conn *c, int out, sk_zcodec codec, size_t wire, size_t len, void *ud)
{
    sk__peer *p = ud;
    if (p->srv->o.verbose >= 2)
        sk__server_log(p->srv, "%s fd=%d peer=%s codec=%s wire=%zu size=%zu", out ? "sent" : "message",
                       p->fd, p->name, sk_zcodec_name(codec), wire, len);
}

static void unlink_peer(sk__shard *sh, sk__peer *p)
{
    pthread_mutex_lock(&sh->srv->lock);
    if (p->prev)
        p->prev->next = p->next;
    else
        sh->peers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    sh->npeers--;
    pthread_mutex_unlock(&sh->srv->lock);
    __atomic_sub_fetch(&sh->srv->npeers, 1, __ATOMIC_RELAXED);
}

static void shard_check_drained(sk__shard *sh)
{
    if (!sh->draining || sh->drained || sh->npeers || sh->srv->freeing)
        return;
    sh->drained = 1;
    if (sh->index == 0)
        sh->on_drained(sh->srv);
    else {
        sh->drained_post = (sk__post){.fn = sh->on_drained, .arg = sh->srv, .embedded = 1};
        sk__loop_post_node(sh->srv->loop, &sh->drained_post);
    }
}

static void peer_close(sk_conn *c, int err, void *ud)
{
    sk__peer *p = ud;
    sk_server *s = p->srv;
    if (p->id != SK__UNOPENED) {
        __atomic_sub_fetch(&s->nopen, 1, __ATOMIC_RELAXED);
        if (s->svc->on_close)
            s->svc->on_close(p);
    }
    const char *tls = sk_conn_tls_error(c); /* a TLS failure's own reason, or an unclean end */
    if (!tls)
        tls = sk_conn_ws_error(c); /* "handshake timed out" */
    if (s->o.verbose || (err && err != -ECONNRESET && err != -EPIPE))
        sk__server_log(s, "close fd=%d peer=%s in=%llu out=%llu reason=%s%s%s", p->fd, p->name,
                       (unsigned long long)sk_conn_bytes_in(c),
                       (unsigned long long)sk_conn_bytes_out(c), err ? sk_strerror(err) : "done",
                       tls ? ": " : "", tls ? tls : "");
    sk__shard *sh = sk__shard_of(p);
    unlink_peer(sh, p);
    shard_check_drained(sh); /* p is freed with c after this returns */
}

/* Joining and the service's greeting are one step for the other threads:
 * no broadcast can slip between them (cast_lock is recursive). The join
 * takes a number in the sequence of broadcasts, so those made before it
 * skip this client, and the number is unique: it is the client's id. */
static void open_peer(sk__peer *p)
{
    sk_server *s = p->srv;
    pthread_mutex_lock(&s->cast_lock);
    p->id = s->cast_seq++;
    __atomic_add_fetch(&s->nopen, 1, __ATOMIC_RELAXED);
    if (s->svc->on_open)
        s->svc->on_open(p);
    pthread_mutex_unlock(&s->cast_lock);
}

/* The client half-closed: the service may owe it replies still on their way. */
static void peer_eof(sk_conn *c, void *ud)
{
    sk__peer *p = ud;
    if (p->id != SK__UNOPENED && p->srv->svc->on_eof)
        p->srv->svc->on_eof(p);
    else
        sk_conn_close(c, 0);
}

/* A WebSocket or TLS client finished its handshake(s); -v says what TLS
 * agreed and whether the kernel makes its records (kTLS). */
static void peer_handshaken(sk_conn *c, void *ud)
{
    sk__peer *p = ud;
    sk_tls_info ti;
    if (p->srv->o.verbose && sk_conn_tls_info(c, &ti) == 0)
        sk__server_log(p->srv, "tls fd=%d peer=%s version=%s cipher=%s ktls=%s", p->fd, p->name,
                       ti.version, ti.cipher, ti.ktls);
    open_peer(p);
}

static const sk_conn_cbs peer_cbs = {
    .on_open = peer_handshaken,
    .on_message = peer_message,
    .on_eof = peer_eof,
    .on_read = peer_read,
    .on_close = peer_close,
    .on_zmsg = peer_zmsg,
};

/* ---- adopting accepted clients ---- */

static void link_peer(sk__shard *sh, sk__peer *p)
{
    p->id = SK__UNOPENED; /* no broadcast is for p until it opens */
    pthread_mutex_lock(&sh->srv->lock);
    p->next = sh->peers;
    if (sh->peers)
        sh->peers->prev = p;
    sh->peers = p;
    sh->npeers++;
    pthread_mutex_unlock(&sh->srv->lock);
}

/* The client's record, with its name, comes in its connection's extra bytes. */
void sk__shard_adopt(sk__shard *sh, int fd, const sk_sockaddr *addr, const endpoint *ep)
{
    sk_server *s = sh->srv;
    if (s->freeing || sh->draining) {
        close(fd);
        __atomic_sub_fetch(&s->npeers, 1, __ATOMIC_RELAXED);
        return;
    }
    char name[SK__PEER_NAME_MAX];
    int n = sk_sockaddr_format((const struct sockaddr *)&addr->ss, addr->len, name, sizeof name);
    sk_conn_opts co = {.in_frame = s->o.in_frame, .out_frame = s->o.out_frame,
                       .max_frame = s->o.max_frame, .compress = s->o.compress,
                       .max_queue = s->o.max_queue ? s->o.max_queue : s->svc->default_max_queue,
                       .ws = ep->is_ws ? &ep->ws : NULL,
                       .tls = ep->is_tls ? s->o.tls : NULL,
                       .extra = sizeof(sk__peer) + (size_t)n + 1};
    sk_sockopts_apply(fd, &s->o.sock, 0);
    sk_conn *c = sk_conn_new(sh->loop, fd, &peer_cbs, &co, NULL);
    if (!c) {
        sk__server_log(s, "cannot serve fd=%d peer=%s: %s", fd, name, strerror(errno));
        __atomic_sub_fetch(&s->npeers, 1, __ATOMIC_RELAXED);
        return;
    }
    sk__peer *p = sk_conn_extra(c);
    *p = (sk__peer){.srv = s, .conn = c, .fd = fd,
                    .last_active = (uint32_t)sk_loop_now(sh->loop)};
    memcpy(p->name, name, (size_t)n + 1);
    sk_conn_set_userdata(c, p);
    if (s->o.verbose)
        sk__server_log(s, "accept fd=%d peer=%s on %s", fd, p->name, ep->name);
    link_peer(sh, p);
    if (!ep->is_ws && !ep->is_tls) /* WebSocket and TLS clients open after their handshake */
        open_peer(p);
}

/* ---- running work on a shard's thread ---- */

sk__shard *sk__shard_current(const sk_server *s)
{
    pthread_t self = pthread_self();
    for (int i = 0; i < s->nshards; i++)
        if (pthread_equal(self, s->shards[i].tid))
            return (sk__shard *)&s->shards[i];
    return NULL;
}

void sk__shard_run(sk__shard *sh, void (*fn)(void *))
{
    if (sk__shard_current(sh->srv) == sh)
        fn(sh);
    else if (sk_loop_post(sh->loop, fn, sh) < 0)
        sk__server_log(sh->srv, "out of memory: cannot reach thread %d", sh->index);
}

void sk__shard_begin_drain(void *arg)
{
    sk__shard *sh = arg;
    sh->draining = 1;
    int (*busy)(const sk__peer *) = sh->srv->svc->busy;
    for (sk__peer *p = sh->peers; p; p = p->next)
        if (!busy || !busy(p))
            sk_conn_close(p->conn, 0);
    shard_check_drained(sh);
}

void sk__shard_abort_all(void *arg)
{
    sk__shard *sh = arg;
    sh->draining = 1; /* already, unless the drain had no deadline */
    for (sk__peer *p = sh->peers; p; p = p->next)
        sk_conn_abort(p->conn, SK_ETIMEOUT);
    shard_check_drained(sh); /* else when the last one's on_close has run */
}

/* ---- the member list (/who) ---- */

int sk__server_each(sk_server *s, int (*fn)(const sk__peer *p, void *arg), void *arg)
{
    for (int i = 0; i < s->nshards; i++)
        for (sk__peer *p = s->shards[i].peers; p; p = p->next) {
            if (p->id == SK__UNOPENED) /* in its WebSocket handshake: not a member yet */
                continue;
            int r = fn(p, arg);
            if (r)
                return r;
        }
    return 0;
}

void sk__server_lock(sk_server *s) { pthread_mutex_lock(&s->lock); }
void sk__server_unlock(sk_server *s) { pthread_mutex_unlock(&s->lock); }

/* ---- idle sweep (and messages dripped too slowly) ---- */

/* --frame-timeout: a message begun long ago and still not complete (a client
 * dripping a header or a line byte by byte) costs its sender the slot. */
static int too_slow(sk_server *s, sk__peer *p)
{
    uint64_t waited = s->o.frame_timeout_ms ? sk_conn_partial_ms(p->conn) : 0;
    if (waited < s->o.frame_timeout_ms || !waited)
        return 0;
    sk__server_log(s, "frame timeout fd=%d peer=%s: a message begun %llus ago is not complete "
                   "(--frame-timeout %us)", p->fd, p->name, (unsigned long long)(waited / 1000),
                   s->o.frame_timeout_ms / 1000);
    sk_conn_close(p->conn, SK_ETIMEOUT);
    return 1;
}

static void on_idle_sweep(sk_timer *t, void *ud)
{
    sk__shard *sh = ud;
    sk_server *s = sh->srv;
    uint64_t now = sk_loop_now(sh->loop);
    for (sk__peer *p = sh->peers; p; p = p->next) {
        if (too_slow(s, p))
            continue;
        uint32_t silent = (uint32_t)now - p->last_active;
        if (!s->o.idle_ms || silent < s->o.idle_ms || (s->svc->busy && s->svc->busy(p)))
            continue;
        if (s->o.verbose)
            sk__server_log(s, "idle fd=%d peer=%s: silent for %us", p->fd, p->name,
                           s->o.idle_ms / 1000);
        sk_conn_close(p->conn, SK_ETIMEOUT);
    }
}

/* Checks idle and slow clients a few times per timeout period (at most once
 * a second). Returns 0 or -ENOMEM (a timeout could not be kept: fail the start). */
static int start_idle_sweep(sk__shard *sh)
{
    unsigned idle = sh->srv->o.idle_ms, frame = sh->srv->o.frame_timeout_ms;
    unsigned ms = !idle ? frame : !frame ? idle : idle < frame ? idle : frame;
    if (!ms)
        return 0;
    sh->idle = sk_timer_new(sh->loop, on_idle_sweep, sh);
    if (!sh->idle)
        return -ENOMEM;
    uint64_t every = ms / 4 < 1000 ? ms / 4 : 1000;
    if (!every)
        every = 1;
    return sk_timer_start(sh->idle, every, every); /* -ENOMEM: the server does not start */
}

/* ---- threads ---- */

static void *shard_main(void *arg)
{
    sk__shard *sh = arg;
    sk_loop_run(sh->loop);
    return NULL;
}

static int start_thread(sk_server *s, sk__shard *sh)
{
    int r = sk_loop_new_io(&sh->loop, s->o.io, NULL); /* the caller reported a fallback */
    if (r < 0)
        return r;
    if (start_idle_sweep(sh) < 0)
        return -ENOMEM;
    if (pthread_create(&sh->tid, NULL, shard_main, sh) != 0)
        return -EAGAIN;
    sh->has_thread = 1;
    return 0;
}

int sk__shards_start(sk_server *s, void (*on_drained)(void *srv))
{
    int n = s->o.threads > 1 ? s->o.threads : 1;
    if (s->svc->single_thread || n > SK_MAX_THREADS)
        n = s->svc->single_thread ? 1 : SK_MAX_THREADS;
    s->shards[0] = (sk__shard){.srv = s, .loop = s->loop, .tid = pthread_self(),
                               .on_drained = on_drained};
    s->nshards = 1;
    if (start_idle_sweep(&s->shards[0]) < 0)
        return -ENOMEM;
    for (int i = 1; i < n; i++) {
        sk__shard *sh = &s->shards[i];
        *sh = (sk__shard){.srv = s, .index = i, .on_drained = on_drained};
        int r = start_thread(s, sh);
        s->nshards = i + 1;
        if (r < 0)
            return r;
    }
    return 0;
}

/* On the shard's own thread: drop every client at once, then stop. */
static void teardown(void *arg)
{
    sk__shard *sh = arg;
    for (sk__peer *p = sh->peers; p; p = p->next)
        sk_conn_abort(p->conn, SK_ECLOSED);
    sk__loop_tick_parts(sh->loop); /* run the clients' on_close while the server is alive */
    sk_timer_free(sh->idle);
    sh->idle = NULL;
    sk__server_free_scratch();
    if (sh->index)
        sk_loop_stop(sh->loop);
}

void sk__shards_stop(sk_server *s)
{
    for (int i = s->nshards - 1; i >= 0; i--) {
        sk__shard *sh = &s->shards[i];
        if (i == 0) {
            teardown(sh);
            continue;
        }
        if (sh->has_thread) {
            sh->teardown_post = (sk__post){.fn = teardown, .arg = sh, .embedded = 1};
            sk__loop_post_node(sh->loop, &sh->teardown_post);
            pthread_join(sh->tid, NULL);
        } else {
            sk_timer_free(sh->idle);
        }
        if (sh->loop)
            sk_loop_free(sh->loop);
    }
}
