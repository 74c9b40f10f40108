/* cluster_sweep.c — presence in Redis: every CL_BEAT_MS a heartbeat key
 * with an expiry, then one HGETALL of the room's members hash (field
 * "NODE/ID", value the nick) and one MGET of the heartbeat keys of the nodes
 * seen: live nodes' members become the roster, nodes whose key expired are
 * dead (their members are announced as left and their fields deleted), and
 * our own fields are put back if Redis lost them (it restarted empty). */
#include "services/cluster_int.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/server_int.h"

#define SWEEP_MAX_ENTRIES 100000 /* a members hash larger than this is read in part */

typedef char cl_name[SK__CMSG_NAME_MAX + 1];

typedef struct cl_entry {
    size_t node; /* index into names */
    uint64_t id;
    char nick[SK__CMSG_NAME_MAX + 1];
} cl_entry;

typedef struct cl_sweep {
    cl_name *names; /* other nodes: in the hash or in the roster */
    size_t nnames;
    cl_entry *e;    /* the hash's entries of other nodes */
    size_t ne;
} cl_sweep;

static void sweep_free(cl_sweep *sw)
{
    if (!sw)
        return;
    free(sw->names);
    free(sw->e);
    free(sw);
}

void sk__sweep_cancel(sk__cluster *cl)
{
    sweep_free(cl->sweep);
    cl->sweep = NULL;
}

static size_t name_index(cl_sweep *sw, const char *name, size_t len)
{
    for (size_t i = 0; i < sw->nnames; i++)
        if (strlen(sw->names[i]) == len && memcmp(sw->names[i], name, len) == 0)
            return i;
    memcpy(sw->names[sw->nnames], name, len);
    sw->names[sw->nnames][len] = 0;
    return sw->nnames++;
}

/* Our own field in the hash: stale (from an earlier life of this node name)
 * unless it is a member here now; marks the ones seen in `seen`. */
static void own_field(sk__cluster *cl, uint64_t id, unsigned char *seen)
{
    cl_member *m = sk__members_find(&cl->local, id);
    if (m)
        seen[m - cl->local.v] = 1;
    else
        sk__cluster_presence(cl, "HDEL", id, NULL);
}

static void take_entry(sk__cluster *cl, cl_sweep *sw, const redisReply *f, const redisReply *v,
                       unsigned char *seen)
{
    size_t nlen;
    uint64_t id;
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
        !sk__nick_ok(v->str, v->len) || sk__cmsg_parse_field(f->str, f->len, &nlen, &id) < 0)
        return;
    if (nlen == cl->node_len && memcmp(f->str, cl->node, nlen) == 0) {
        own_field(cl, id, seen);
        return;
    }
    cl_entry *e = &sw->e[sw->ne++];
    e->node = name_index(sw, f->str, nlen);
    e->id = id;
    memcpy(e->nick, v->str, v->len);
    e->nick[v->len] = 0;
}

/* Fills sw from the HGETALL reply and the roster; puts back our members
 * that the hash lacks. Returns 0 or -1 (out of memory). */
static int read_members(sk__cluster *cl, cl_sweep *sw, const redisReply *r)
{
    size_t pairs = r->elements / 2 > SWEEP_MAX_ENTRIES ? SWEEP_MAX_ENTRIES : r->elements / 2;
    pthread_mutex_lock(&cl->roster.lock);
    size_t nroster = cl->roster.n;
    sw->names = malloc((pairs + nroster + 1) * sizeof *sw->names);
    sw->e = malloc((pairs + 1) * sizeof *sw->e);
    unsigned char *seen = calloc(cl->local.n + 1, 1);
    int ok = sw->names && sw->e && seen;
    for (size_t i = 0; ok && i < nroster; i++)
        name_index(sw, cl->roster.v[i].name, strlen(cl->roster.v[i].name));
    pthread_mutex_unlock(&cl->roster.lock);
    for (size_t i = 0; ok && i < pairs; i++)
        take_entry(cl, sw, r->element[2 * i], r->element[2 * i + 1], seen);
    for (size_t i = 0; ok && i < cl->local.n; i++)
        if (!seen[i])
            sk__cluster_presence(cl, "HSET", cl->local.v[i].id, cl->local.v[i].nick);
    free(seen);
    return ok ? 0 : -1;
}

/* A live node: its members are what the hash says. */
static void refresh_node(cl_roster *r, const cl_sweep *sw, size_t node)
{
    cl_node *n = sk__roster_node(r, sw->names[node], strlen(sw->names[node]), 1);
    if (!n)
        return;
    n->m.n = 0;
    for (size_t i = 0; i < sw->ne; i++)
        if (sw->e[i].node == node)
            sk__members_put(&n->m, sw->e[i].id, sw->e[i].nick, strlen(sw->e[i].nick));
    if (n->m.n == 0 && n->last_seq == 0) { /* nothing known of it: keep no entry */
        cl_members none;
        sk__roster_drop(r, n, &none);
        free(none.v);
    }
}

static void bury_fields(sk__cluster *cl, const cl_sweep *sw, size_t node)
{
    for (size_t i = 0; i < sw->ne; i++) {
        if (sw->e[i].node != node)
            continue;
        char field[SK__CMSG_NAME_MAX + 24];
        const char *argv[] = {"HDEL", cl->members_key, field};
        size_t lens[] = {4, strlen(cl->members_key), 0};
        lens[2] = sk__cmsg_field(field, sw->names[node], strlen(sw->names[node]), sw->e[i].id);
        sk__cluster_cmd(cl, 3, argv, lens, NULL);
    }
}

/* A dead node: out of the roster, its members announced as left here. */
static void bury_node(sk__cluster *cl, const cl_sweep *sw, size_t node)
{
    cl_members gone = {0};
    pthread_mutex_lock(&cl->roster.lock);
    cl_node *n = sk__roster_node(&cl->roster, sw->names[node], strlen(sw->names[node]), 0);
    if (n)
        sk__roster_drop(&cl->roster, n, &gone);
    pthread_mutex_unlock(&cl->roster.lock);
    if (n)
        sk__server_log(cl->srv, "cluster: node %s is gone (heartbeat expired): %zu member(s) left",
                       sw->names[node], gone.n);
    sk__cluster_announce_left(cl, &gone);
    free(gone.v);
    bury_fields(cl, sw, node);
}

static void apply(sk__cluster *cl, cl_sweep *sw, const redisReply *alive)
{
    /* Just (re)connected: the others may not have re-registered yet. */
    int grace = sk_loop_now(cl->loop) - cl->up_since < (uint64_t)CL_TTL_S * 1000;
    for (size_t i = 0; i < sw->nnames; i++) {
        int live = alive && i < alive->elements && alive->element[i]->type != REDIS_REPLY_NIL;
        if (live) {
            pthread_mutex_lock(&cl->roster.lock);
            refresh_node(&cl->roster, sw, i);
            pthread_mutex_unlock(&cl->roster.lock);
        } else if (!grace) {
            bury_node(cl, sw, i);
        }
    }
}

/* The sweep a reply belongs to: NULL when the reply is hiredis freeing the
 * link (reply NULL) or comes from a link since replaced or a cancelled sweep,
 * or (array) is not an array. */
static cl_sweep *sweep_of(sk__cluster *cl, const redisAsyncContext *ac, const redisReply *r)
{
    if (!r || !cl->sweep || ac != cl->pub)
        return NULL;
    if (r->type != REDIS_REPLY_ARRAY) {
        sk__sweep_cancel(cl);
        return NULL;
    }
    return cl->sweep;
}

static void on_alive(redisAsyncContext *ac, void *reply, void *ud)
{
    sk__cluster *cl = ud;
    redisReply *r = reply;
    cl_sweep *sw = sweep_of(cl, ac, r);
    if (!sw)
        return;
    if (r->elements == sw->nnames)
        apply(cl, sw, r);
    sk__sweep_cancel(cl);
}

static void ask_alive(sk__cluster *cl, cl_sweep *sw)
{
    const char **argv = malloc((sw->nnames + 1) * sizeof *argv);
    size_t *lens = malloc((sw->nnames + 1) * sizeof *lens);
    char *keys = malloc(sw->nnames * sizeof cl->alive_key);
    if (argv && lens && keys) {
        argv[0] = "MGET";
        lens[0] = 4;
        for (size_t i = 0; i < sw->nnames; i++) {
            char *k = keys + i * sizeof cl->alive_key;
            int n = snprintf(k, sizeof cl->alive_key, "%s:alive:%s", cl->chan, sw->names[i]);
            argv[i + 1] = k;
            lens[i + 1] = (size_t)n;
        }
        sk__cluster_cmd(cl, (int)sw->nnames + 1, argv, lens, on_alive);
    } else {
        sk__sweep_cancel(cl);
    }
    free(argv);
    free(lens);
    free(keys);
}

static void on_members(redisAsyncContext *ac, void *reply, void *ud)
{
    sk__cluster *cl = ud;
    redisReply *r = reply;
    cl_sweep *sw = sweep_of(cl, ac, r);
    if (!sw)
        return;
    if (read_members(cl, sw, r) < 0 || sw->nnames == 0)
        sk__sweep_cancel(cl); /* done (no other node) or out of memory */
    else
        ask_alive(cl, sw);
}

/* The heartbeat's SET ... GET returns the value it replaced: another node's
 * twice in a row (once may be our own earlier life) means two nodes share
 * our name, and each skips the other's messages as its own. */
static void on_beat_reply(redisAsyncContext *ac, void *reply, void *ud)
{
    sk__cluster *cl = ud;
    redisReply *r = reply;
    if (!r || ac != cl->pub)
        return;
    cl->beat_sent = 0;
    int twin = r->type == REDIS_REPLY_STRING && strcmp(r->str, cl->nonce) != 0;
    cl->twin_beats = twin ? cl->twin_beats + 1 : 0;
    if (cl->twin_beats == 2)
        sk__server_log(cl->srv, "cluster: another node also calls itself %s: neither shows the "
                       "other's messages (give each node its own --node)", cl->node);
}

void sk__sweep_start(sk__cluster *cl)
{
    if (!cl->up)
        return;
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", CL_TTL_S);
    const char *set[] = {"SET", cl->alive_key, cl->nonce, "EX", ttl, "GET"};
    size_t setl[] = {3, strlen(cl->alive_key), strlen(cl->nonce), 2, strlen(ttl), 3};
    if (!cl->beat_sent)
        cl->beat_sent = sk_loop_now(cl->loop) | 1;
    sk__cluster_cmd(cl, 6, set, setl, on_beat_reply);
    if (cl->sweep) /* the last one is still waiting for Redis */
        return;
    if (!(cl->sweep = calloc(1, sizeof *cl->sweep)))
        return;
    const char *get[] = {"HGETALL", cl->members_key};
    size_t getl[] = {7, strlen(cl->members_key)};
    sk__cluster_cmd(cl, 2, get, getl, on_members);
}
