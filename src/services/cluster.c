/* cluster.c — the chat cluster's Redis links: one for commands (PUBLISH,
 * presence), one SUBSCRIBEd to the room's channel; reconnects with backoff,
 * a bounded outgoing queue, and remote messages fanned out to local members
 * with the same broadcasts as local ones. Runs on the server's main loop
 * (cluster_hooks.c brings chat's events there). */
#include "services/cluster_int.h"

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/redis_loop.h"
#include "services/cluster_url.h"
#include "services/server_int.h"

static void link_down(sk__cluster *cl, const char *why);
static void connect_links(sk__cluster *cl);

/* ---- publishing ---- */

/* 1 at most once per 5 s for each *last: lines that a flood could repeat. */
static int log_due(sk__cluster *cl, uint64_t *last)
{
    uint64_t now = sk_loop_now(cl->loop);
    if (*last && now - *last < 5000)
        return 0;
    *last = now;
    return 1;
}

static void log_drops(sk__cluster *cl)
{
    if (log_due(cl, &cl->last_drop_log))
        sk__server_log(cl->srv, "cluster: redis is behind (over %u KiB queued): %llu message(s) "
                       "to the cluster dropped so far", CL_MAX_PENDING >> 10,
                       (unsigned long long)cl->dropped_slow);
}

int sk__cluster_send(sk__cluster *cl, int kind, uint64_t id, const char *nick, const void *text,
                     size_t len)
{
    if (!cl->up) {
        cl->dropped_down++;
        return -1;
    }
    if (sdslen(cl->pub->c.obuf) > CL_MAX_PENDING) {
        cl->dropped_slow++;
        log_drops(cl);
        return -1;
    }
    sk__cmsg m = {.kind = kind, .node = cl->node, .node_len = cl->node_len, .seq = cl->seq + 1,
                  .id = id, .nick = nick, .nick_len = nick ? strlen(nick) : 0,
                  .text = text, .text_len = len};
    uint8_t stack[1024]; /* a chat line fits: no allocation */
    size_t size = sk__cmsg_size(&m);
    uint8_t *buf = size <= sizeof stack ? stack : size <= SK__CMSG_MAX ? malloc(size) : NULL;
    long n = buf ? sk__cmsg_encode(&m, buf, size) : -1;
    if (n >= 0 && redisAsyncCommand(cl->pub, NULL, NULL, "PUBLISH %b %b", cl->chan,
                                    strlen(cl->chan), buf, (size_t)n) == REDIS_OK)
        cl->seq++;
    else
        n = -1;
    if (buf != stack)
        free(buf);
    return n < 0 ? -1 : 0;
}

/* ---- receiving ---- */

static void on_message(sk__cluster *cl, const redisReply *payload)
{
    sk__cmsg m;
    if (payload->type != REDIS_REPLY_STRING ||
        sk__cmsg_decode((const uint8_t *)payload->str, payload->len, &m) < 0) {
        cl->malformed++;
        if (log_due(cl, &cl->last_bad_log))
            sk__server_log(cl->srv, "cluster: malformed message on %s (%zu bytes) ignored "
                           "(%llu so far)", cl->chan,
                           payload->type == REDIS_REPLY_STRING ? payload->len : 0,
                           (unsigned long long)cl->malformed);
        return;
    }
    if (m.node_len == cl->node_len && memcmp(m.node, cl->node, m.node_len) == 0)
        return; /* our own, already shown here */
    cl_members gone = {0};
    sk__roster_apply(cl, &m, &gone);
    if (m.kind == SK__CMSG_TEXT && m.text_len)
        sk__server_broadcast(cl->srv, 0, m.text, m.text_len, 0);
    sk__cluster_announce_left(cl, &gone);
    free(gone.v);
}

static void on_sub(redisAsyncContext *ac, void *reply, void *ud)
{
    sk__cluster *cl = ud;
    redisReply *r = reply;
    if (!r || ac != cl->sub || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *what = r->element[0]->str;
    if (strcmp(what, "message") == 0) {
        on_message(cl, r->element[2]);
    } else if (strcmp(what, "subscribe") == 0) {
        cl->sub_ok = 1;
        connect_links(cl); /* up once both links are ready */
    }
}

/* ---- the links ---- */

static void forget(sk__cluster *cl, const redisAsyncContext *ac)
{
    if (ac == cl->pub)
        cl->pub = NULL, cl->pub_ok = 0;
    if (ac == cl->sub)
        cl->sub = NULL, cl->sub_ok = 0;
}

/* hiredis frees ac after these return: only our pointer to it goes. */
static void on_disconnect(const redisAsyncContext *ac, int status)
{
    sk__cluster *cl = ac->data;
    int ours = ac == cl->pub || ac == cl->sub;
    forget(cl, ac);
    if (ours)
        link_down(cl, cl->reply_cut ? "a reply larger than the largest message (link cut)"
                      : ac->errstr[0] ? ac->errstr
                                      : "connection closed by redis");
    cl->reply_cut = 0;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    sk__cluster *cl = ac->data;
    if (status != REDIS_OK) {
        forget(cl, ac);
        link_down(cl, ac->errstr[0] ? ac->errstr : "cannot connect");
        return;
    }
    if (ac == cl->pub)
        cl->pub_ok = 1;
    connect_links(cl);
}

/* The largest reply read: a message of the largest size with its channel
 * and RESP framing; a bigger one cuts the link before hiredis holds more. */
#define REPLY_MAX (SK__CMSG_MAX + 4096)

static redisAsyncContext *open_link(sk__cluster *cl)
{
    redisAsyncContext *ac = redisAsyncConnect(cl->ip, cl->port);
    if (!ac)
        return NULL;
    ac->data = cl;
    if (ac->err || sk__redis_attach(ac, cl->loop, REPLY_MAX, &cl->reply_cut) < 0) {
        redisAsyncFree(ac);
        return NULL;
    }
    redisEnableKeepAlive(&ac->c); /* a half-open link (no reset ever comes) ends too */
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

static void log_up(sk__cluster *cl)
{
    uint64_t now = sk_loop_now(cl->loop);
    if (!cl->was_up)
        sk__server_log(cl->srv, "cluster: node %s in room '%s' on redis %s:%d", cl->node,
                       cl->chan + 7, cl->ip, cl->port);
    else
        sk__server_log(cl->srv, "cluster: redis %s:%d back after %.1f s; %llu message(s) made "
                       "here meanwhile did not reach the other nodes", cl->ip, cl->port,
                       (double)(now - cl->down_since) / 1000,
                       (unsigned long long)cl->dropped_down);
    cl->dropped_down = 0;
}

/* Steps towards up: open what is missing, subscribe once the link is there,
 * and when both are ready register and sweep at once. */
static void connect_links(sk__cluster *cl)
{
    if (cl->stopping || cl->up)
        return;
    if (!cl->pub && !(cl->pub = open_link(cl)))
        return link_down(cl, "cannot open a connection");
    if (!cl->sub) {
        if (!(cl->sub = open_link(cl)))
            return link_down(cl, "cannot open a connection");
        redisAsyncCommand(cl->sub, on_sub, cl, "SUBSCRIBE %b", cl->chan, strlen(cl->chan));
    }
    if (!cl->pub_ok || !cl->sub_ok)
        return;
    cl->up = 1;
    cl->connecting = 0;
    cl->up_since = sk_loop_now(cl->loop);
    cl->backoff_ms = CL_BACKOFF_MIN_MS;
    sk_timer_stop(cl->retry);
    log_up(cl);
    cl->was_up = 1;
    sk__sweep_start(cl);
    sk_timer_start(cl->beat, CL_BEAT_MS, CL_BEAT_MS);
}

static void close_links(sk__cluster *cl)
{
    redisAsyncContext *pub = cl->pub, *sub = cl->sub;
    cl->pub = cl->sub = NULL;
    cl->pub_ok = cl->sub_ok = 0;
    if (pub)
        redisAsyncFree(pub);
    if (sub)
        redisAsyncFree(sub);
}

/* One log line per outage; the links are torn down from the retry timer,
 * outside hiredis's callbacks, and opened again after the backoff. */
static void link_down(sk__cluster *cl, const char *why)
{
    if (cl->stopping)
        return;
    if (cl->up || !cl->was_up) {
        if (cl->up || !cl->down_since)
            sk__server_log(cl->srv, "cluster: redis %s:%d unreachable (%s): local chat goes on, "
                           "retrying", cl->ip, cl->port, why);
        cl->down_since = sk_loop_now(cl->loop);
        if (!cl->down_since)
            cl->down_since = 1;
    }
    cl->up = 0;
    cl->connecting = 0;
    cl->beat_sent = 0;
    sk_timer_stop(cl->beat);
    sk__sweep_cancel(cl);
    sk_timer_start(cl->retry, cl->backoff_ms, 0);
    cl->backoff_ms = cl->backoff_ms * 2 > CL_BACKOFF_MAX_MS ? CL_BACKOFF_MAX_MS : cl->backoff_ms * 2;
}

/* The retry timer: after the backoff, tears down what is left and connects
 * again; CL_CONNECT_MS later, if the attempt is not through, gives it up. */
static void on_retry(sk_timer *t, void *ud)
{
    sk__cluster *cl = ud;
    close_links(cl);
    if (cl->connecting) {
        link_down(cl, "connect timed out");
        return;
    }
    cl->connecting = 1;
    sk_timer_start(cl->retry, CL_CONNECT_MS, 0);
    connect_links(cl);
}

static void on_beat(sk_timer *t, void *ud)
{
    sk__cluster *cl = ud;
    uint64_t now = sk_loop_now(cl->loop);
    if (cl->beat_sent && now - cl->beat_sent > CL_STALL_MS) {
        link_down(cl, "no answer for 5 s");
        return;
    }
    sk__sweep_start(cl);
}

/* ---- life ---- */

static void cluster_free(sk__cluster *cl)
{
    free(cl->local.v);
    sk__roster_free(&cl->roster);
    free(cl);
}

void sk__cluster_unref(sk__cluster *cl)
{
    if (__atomic_sub_fetch(&cl->refs, 1, __ATOMIC_ACQ_REL) == 0)
        cluster_free(cl);
}

static int set_names(sk__cluster *cl, const sk_server_opts *o)
{
    const char *room = o->cluster_room ? o->cluster_room : "chat";
    char host[64] = "node";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    if (o->cluster_node)
        snprintf(cl->node, sizeof cl->node, "%s", o->cluster_node);
    else
        snprintf(cl->node, sizeof cl->node, "%.40s:%ld", host, (long)getpid());
    cl->node_len = strlen(cl->node);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(cl->nonce, sizeof cl->nonce, "%lx.%lx.%lx", (long)getpid(), (long)ts.tv_sec,
             (long)ts.tv_nsec);
    snprintf(cl->chan, sizeof cl->chan, "sockit:%s", room);
    snprintf(cl->members_key, sizeof cl->members_key, "%s:members", cl->chan);
    snprintf(cl->alive_key, sizeof cl->alive_key, "%s:alive:%s", cl->chan, cl->node);
    return sk__cmsg_valid_name(cl->node, cl->node_len) &&
                   sk__cmsg_valid_name(room, strlen(room))
               ? 0
               : -1;
}

int sk__cluster_init(sk_server *s)
{
    const sk_server_opts *o = &s->o;
    if (!o->cluster)
        return 0;
    sk__cluster *cl = calloc(1, sizeof *cl);
    char err[256] = "out of memory";
    if (!cl)
        return -1;
    *cl = (sk__cluster){.srv = s, .loop = s->loop, .refs = 1, .backoff_ms = CL_BACKOFF_MIN_MS};
    pthread_mutex_init(&cl->roster.lock, NULL);
    if (sk__cluster_resolve(o->cluster, cl->ip, sizeof cl->ip, &cl->port, err, sizeof err) < 0 ||
        set_names(cl, o) < 0 || !(cl->beat = sk_timer_new(s->loop, on_beat, cl)) ||
        !(cl->retry = sk_timer_new(s->loop, on_retry, cl))) {
        sk__server_log(s, "cluster: %s", err);
        sk_timer_free(cl->beat);
        cluster_free(cl);
        return -1;
    }
    s->cluster = cl;
    cl->connecting = 1;
    sk_timer_start(cl->retry, CL_CONNECT_MS, 0);
    connect_links(cl);
    return 0;
}

/* Tells the others at once, so they need not wait for our heartbeat to
 * expire; best effort (the loop may stop before it is written). */
void sk__cluster_shutdown(sk_server *s)
{
    sk__cluster *cl = s->cluster;
    if (!cl || !cl->up)
        return;
    sk__cluster_send(cl, SK__CMSG_QUIT, 0, NULL, NULL, 0);
    const char *argv[] = {"DEL", cl->alive_key};
    size_t lens[] = {3, strlen(cl->alive_key)};
    sk__cluster_cmd(cl, 2, argv, lens, NULL);
    for (size_t i = 0; i < cl->local.n; i++)
        sk__cluster_presence(cl, "HDEL", cl->local.v[i].id, NULL);
    __atomic_store_n(&cl->stopping, 1, __ATOMIC_RELAXED); /* (shards read it) */ /* members leaving now: the others have already been told */
}

void sk__cluster_fini(sk_server *s)
{
    sk__cluster *cl = s->cluster;
    if (!cl)
        return;
    __atomic_store_n(&cl->stopping, 1, __ATOMIC_RELAXED); /* (shards read it) */
    s->cluster = NULL;
    sk__sweep_cancel(cl);
    close_links(cl);
    sk_timer_free(cl->beat);
    sk_timer_free(cl->retry);
    sk__cluster_unref(cl);
}
