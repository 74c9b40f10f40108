/* cast.c — broadcasts: one message encoded once per kind of client and
 * delivered to the members of every shard (posted to the other threads'
 * loops), and a reply to one client kept in order with them. */
#include "services/server_int.h"

#include <stdlib.h>

typedef struct cast {
    sk__shard *sh;
    uint64_t except, only; /* skip this client / reach only this one (0: none) */
    uint64_t seq;          /* its number: clients that joined later (higher ids) skip it */
    sk_blob *plain, *ws;   /* the message for plain / WebSocket clients (or NULL) */
    sk_blob *wsz;          /* for WebSocket clients that take the shared compressor's
                            * frames (sk_conn_ws_deflate 1), or NULL: they get ws */
    int shutdown;
    int close;             /* close the client gracefully once what came before is queued */
} cast;

static void deliver(sk__shard *sh, const cast *c)
{
    for (sk__peer *p = sh->peers; p; p = p->next) {
        if (p->id == c->except || (c->only && p->id != c->only) || p->id > c->seq)
            continue;
        if (c->close) {
            sk_conn_close(p->conn, 0);
            continue;
        }
        sk_blob *b = !sk_conn_is_ws(p->conn)               ? c->plain
                     : c->wsz && sk_conn_ws_deflate(p->conn) == 1 ? c->wsz
                                                                   : c->ws;
        if (b)
            sk_conn_send_blob(p->conn, b); /* a laggard over --max-queue is dropped here */
        if (c->shutdown)
            sk_conn_shutdown(p->conn);
    }
}

static void cast_release(cast *c)
{
    sk_blob_unref(c->plain);
    sk_blob_unref(c->ws);
    sk_blob_unref(c->wsz);
}

static void run_cast(void *arg)
{
    cast *c = arg;
    if (!c->sh->srv->freeing)
        deliver(c->sh, c);
    cast_release(c);
    free(c);
}

/* Encodes text once per kind of client, straight into blobs of its own that
 * the posts to every shard share by reference: the output framing (raw output
 * gets a "\n" so messages stay apart on a byte stream: line framing's
 * encoding; with --compress, a compressed-framing body, compressed once),
 * a WebSocket frame, and with --ws-deflate a compressed one. No per-thread
 * buffer is involved, so text may itself lie in the caller's scratch buffer,
 * and nothing a queued broadcast still points to can be overwritten by the
 * next one. */
static void cast_encode(sk_server *s, cast *c, const void *text, size_t len)
{
    if (!text)
        return;
    sk_frame mode = s->o.out_frame;
    if (s->o.compress && sk_zframe_mode_ok(mode)) /* compressed once for every member */
        c->plain = sk_blob_zframe(s->o.compress, mode, text, len);
    else
        c->plain = sk_blob_frame(mode == SK_FRAME_RAW ? SK_FRAME_LINE : mode, text, len);
    c->ws = sk_blob_ws(text, len);
    if (s->o.ws_deflate) /* compressed once, for every member that agreed to it */
        c->wsz = sk_blob_ws_deflate(text, len);
}

static void post_cast(sk__shard *sh, const cast *tmpl)
{
    cast *c = malloc(sizeof *c);
    if (!c)
        return;
    *c = *tmpl;
    c->sh = sh;
    c->plain = tmpl->plain ? sk_blob_ref(tmpl->plain) : NULL;
    c->ws = tmpl->ws ? sk_blob_ref(tmpl->ws) : NULL;
    c->wsz = tmpl->wsz ? sk_blob_ref(tmpl->wsz) : NULL;
    if (sk_loop_post(sh->loop, run_cast, c) < 0) {
        cast_release(c);
        free(c);
    }
}

/* With one shard the clients are served right here. With several, every
 * shard (this one too) gets the broadcast through its post queue, and the
 * posts to all shards happen under one lock, so each client sees broadcasts
 * and replies in a causal order whichever threads made them (a message sent
 * in answer to another can never overtake it). send_cast encodes text into
 * tmpl, hands it to `to` (NULL: every shard), then drops tmpl's references. */
static void send_cast(sk_server *s, cast *tmpl, sk__shard *to, const void *text, size_t len)
{
    tmpl->seq = UINT64_MAX - 1;
    cast_encode(s, tmpl, text, len);
    if (s->nshards == 1) {
        deliver(&s->shards[0], tmpl);
    } else {
        pthread_mutex_lock(&s->cast_lock);
        tmpl->seq = s->cast_seq++;
        for (int i = 0; i < s->nshards; i++)
            if (!to || to == &s->shards[i])
                post_cast(&s->shards[i], tmpl);
        pthread_mutex_unlock(&s->cast_lock);
    }
    cast_release(tmpl);
}

void sk__server_broadcast(sk_server *s, uint64_t except, const void *text, size_t len,
                          int shutdown)
{
    cast tmpl = {.except = except, .shutdown = shutdown};
    send_cast(s, &tmpl, NULL, text, len);
}

void sk__server_close_after_tells(sk__peer *p)
{
    cast tmpl = {.only = p->id, .close = 1};
    send_cast(p->srv, &tmpl, sk__shard_of(p), NULL, 0);
}

void sk__server_tell(sk__peer *p, const void *text, size_t len)
{
    if (!p->conn) { /* a datagram: reply at once */
        sk__peer_send(p, text, len);
        return;
    }
    cast tmpl = {.only = p->id};
    send_cast(p->srv, &tmpl, sk__shard_of(p), text, len);
}
