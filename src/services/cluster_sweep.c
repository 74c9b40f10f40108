/* cluster_sweep.c — presence in Redis: every CL_BEAT_MS a heartbeat key
 * with an expiry, then the room's members hash (field "NODE/ID", value the
 * nick) read page by page with HSCAN ... COUNT (each reply bounded, where
 * HGETALL built the whole hash in one), and one MGET of the heartbeat keys
 * of the nodes seen: live nodes' members become the roster, nodes whose key
 * expired are dead (their members are announced as left and their fields
 * deleted), and our own fields are put back if Redis lost them (it
 * restarted empty). Node names are found through a small hash table and
 * entries sorted by node, so a sweep costs n log n in the hash's size. */
#include "services/cluster_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/server_int.h"

#define SWEEP_MAX_ENTRIES 100000 /* a members hash larger than this is read in part */
#define SCAN_COUNT "100"         /* fields asked for per HSCAN page */
#define SWEEP_MAX_PAGES (SWEEP_MAX_ENTRIES / 50) /* then the sweep ends with what it read */

typedef char cl_name[SK__CMSG_NAME_MAX + 1];

typedef struct cl_entry {
    size_t node; /* index into names */
    uint64_t id;
    char nick[SK__CMSG_NAME_MAX + 1];
} cl_entry;

typedef struct cl_sweep {
    cl_name *names;  /* other nodes: in the hash or in the roster */
    size_t nnames, capnames;
    size_t *slots;   /* open addressing over names: index + 1, 0 empty */
    size_t nslots;
    cl_entry *e;     /* the hash's entries of other nodes */
    size_t ne, cape;
    uint64_t *own;   /* ids of our members found in the hash */
    size_t nown, capown;
    char cursor[CL_CURSOR_MAX + 1];
    size_t pages; /* each reply waited for at most CL_STALL_MS (the heartbeat's check) */
} cl_sweep;

static void sweep_free(cl_sweep *sw)
{
    if (!sw)
        return;
    free(sw->names);
    free(sw->slots);
    free(sw->e);
    free(sw->own);
    free(sw);
}

void sk__sweep_cancel(sk__cluster *cl)
{
    sweep_free(cl->sweep);
    cl->sweep = NULL;
}

/* Room for one more of *n items of size in *v (capacity *cap), doubling;
 * the limit is checked before allocating. Returns 0 or -1. */
static int grow(void **v, size_t *cap, size_t n, size_t size, size_t limit)
{
    if (n < *cap)
        return 0;
    size_t want = *cap ? *cap * 2 : 16;
    if (n >= limit)
        return -1;
    want = want > limit ? limit : want;
    void *p = realloc(*v, want * size);
    if (!p)
        return -1;
    *v = p;
    *cap = want;
    return 0;
}

static size_t hash_name(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* The slot holding name, or the empty one where it would go. */
static size_t *slot_of(const cl_sweep *sw, const char *name, size_t len)
{
    size_t i = hash_name(name, len) & (sw->nslots - 1);
    for (;; i = (i + 1) & (sw->nslots - 1)) {
        size_t at = sw->slots[i];
        if (!at || (strlen(sw->names[at - 1]) == len && memcmp(sw->names[at - 1], name, len) == 0))
            return &sw->slots[i];
    }
}

/* Keeps the table at most half full. Returns 0 or -1 (out of memory). */
static int rehash(cl_sweep *sw)
{
    if (sw->nslots && (sw->nnames + 1) * 2 <= sw->nslots)
        return 0;
    size_t n = sw->nslots ? sw->nslots * 2 : 64;
    size_t *old = sw->slots, oldn = sw->nslots;
    if (!(sw->slots = calloc(n, sizeof *sw->slots))) {
        sw->slots = old;
        return -1;
    }
    sw->nslots = n;
    for (size_t i = 0; i < oldn; i++)
        if (old[i])
            *slot_of(sw, sw->names[old[i] - 1], strlen(sw->names[old[i] - 1])) = old[i];
    free(old);
    return 0;
}

/* The index of node name (len bytes, valid), added if new; SIZE_MAX when
 * out of memory or past the limit. */
static size_t name_index(cl_sweep *sw, const char *name, size_t len)
{
    if (rehash(sw) < 0)
        return SIZE_MAX;
    size_t *slot = slot_of(sw, name, len);
    if (*slot)
        return *slot - 1;
    if (grow((void **)&sw->names, &sw->capnames, sw->nnames, sizeof *sw->names,
             SWEEP_MAX_ENTRIES) < 0)
        return SIZE_MAX;
    memcpy(sw->names[sw->nnames], name, len);
    sw->names[sw->nnames][len] = 0;
    *slot = ++sw->nnames;
    return sw->nnames - 1;
}

/* Our own field in the hash: stale (from an earlier life of this node name)
 * unless it is a member here now; the ones that are get remembered. */
static void own_field(sk__cluster *cl, cl_sweep *sw, uint64_t id)
{
    if (!sk__members_find(&cl->local, id))
        sk__cluster_presence(cl, "HDEL", id, NULL);
    else if (grow((void **)&sw->own, &sw->capown, sw->nown, sizeof *sw->own,
                  SWEEP_MAX_ENTRIES) == 0)
        sw->own[sw->nown++] = id;
}

static void take_entry(sk__cluster *cl, cl_sweep *sw, const redisReply *f, const redisReply *v)
{
    size_t nlen, node;
    uint64_t id;
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
        !sk__nick_ok(v->str, v->len) || sk__cmsg_parse_field(f->str, f->len, &nlen, &id) < 0)
        return;
    if (nlen == cl->node_len && memcmp(f->str, cl->node, nlen) == 0) {
        own_field(cl, sw, id);
        return;
    }
    if (grow((void **)&sw->e, &sw->cape, sw->ne, sizeof *sw->e, SWEEP_MAX_ENTRIES) < 0 ||
        (node = name_index(sw, f->str, nlen)) == SIZE_MAX)
        return; /* read in part */
    cl_entry *e = &sw->e[sw->ne++];
    e->node = node;
    e->id = id;
    memcpy(e->nick, v->str, v->len);
    e->nick[v->len] = 0;
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_entry(const void *a, const void *b)
{
    const cl_entry *x = a, *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return cmp_id(&x->id, &y->id);
}

/* The whole hash read: our members it lacks are put back. */
static void put_back_own(sk__cluster *cl, cl_sweep *sw)
{
    if (sw->nown) /* (qsort and bsearch take no NULL array, even empty) */
        qsort(sw->own, sw->nown, sizeof *sw->own, cmp_id);
    for (size_t i = 0; i < cl->local.n; i++)
        if (!sw->nown || !bsearch(&cl->local.v[i].id, sw->own, sw->nown, sizeof *sw->own, cmp_id))
            sk__cluster_presence(cl, "HSET", cl->local.v[i].id, cl->local.v[i].nick);
}

/* A live node: its members are what the hash says (entries e, n of them,
 * sorted by id; the same field twice, as HSCAN may give, counted once). */
static void refresh_node(cl_roster *r, const char *name, const cl_entry *e, size_t n)
{
    cl_node *node = sk__roster_node(r, name, strlen(name), 1);
    if (!node)
        return;
    if (n > node->m.cap) {
        cl_member *v = realloc(node->m.v, n * sizeof *v);
        if (!v)
            return;
        node->m.v = v;
        node->m.cap = n;
    }
    node->m.n = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && e[i].id == e[i - 1].id)
            continue;
        cl_member *m = &node->m.v[node->m.n++];
        m->id = e[i].id;
        memcpy(m->nick, e[i].nick, sizeof m->nick);
    }
    if (node->m.n == 0 && node->last_seq == 0) { /* nothing known of it: keep no entry */
        cl_members none;
        sk__roster_drop(r, node, &none);
        free(none.v);
    }
}

static void bury_fields(sk__cluster *cl, const char *name, const cl_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char field[SK__CMSG_NAME_MAX + 24];
        const char *argv[] = {"HDEL", cl->members_key, field};
        size_t lens[] = {4, strlen(cl->members_key), 0};
        lens[2] = sk__cmsg_field(field, name, strlen(name), e[i].id);
        sk__cluster_cmd(cl, 3, argv, lens, NULL);
    }
}

/* A dead node: out of the roster, its members announced as left here. */
static void bury_node(sk__cluster *cl, const char *name, const cl_entry *e, size_t n)
{
    cl_members gone = {0};
    pthread_mutex_lock(&cl->roster.lock);
    cl_node *node = sk__roster_node(&cl->roster, name, strlen(name), 0);
    if (node)
        sk__roster_drop(&cl->roster, node, &gone);
    pthread_mutex_unlock(&cl->roster.lock);
    if (node)
        sk__server_log(cl->srv, "cluster: node %s is gone (heartbeat expired): %zu member(s) left",
                       name, gone.n);
    sk__cluster_announce_left(cl, &gone);
    free(gone.v);
    bury_fields(cl, name, e, n);
}

static void apply(sk__cluster *cl, cl_sweep *sw, const redisReply *alive)
{
    /* Just (re)connected: the others may not have re-registered yet. */
    int grace = sk_loop_now(cl->loop) - cl->up_since < (uint64_t)CL_TTL_S * 1000;
    if (sw->ne)
        qsort(sw->e, sw->ne, sizeof *sw->e, cmp_entry);
    size_t at = 0;
    for (size_t i = 0; i < sw->nnames; i++) {
        size_t end = at;
        while (end < sw->ne && sw->e[end].node == i)
            end++;
        int live = i < alive->elements && alive->element[i]->type != REDIS_REPLY_NIL;
        if (live) {
            pthread_mutex_lock(&cl->roster.lock);
            refresh_node(&cl->roster, sw->names[i], sw->e + at, end - at);
            pthread_mutex_unlock(&cl->roster.lock);
        } else if (!grace) {
            bury_node(cl, sw->names[i], sw->e + at, end - at);
        }
        at = end;
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

static void on_page(redisAsyncContext *ac, void *reply, void *ud);

static void scan_next(sk__cluster *cl, const char *cursor)
{
    const char *argv[] = {"HSCAN", cl->members_key, cursor, "COUNT", SCAN_COUNT};
    size_t lens[] = {5, strlen(cl->members_key), strlen(cursor), 5, strlen(SCAN_COUNT)};
    sk__cluster_cmd(cl, 5, argv, lens, on_page);
}

static void on_page(redisAsyncContext *ac, void *reply, void *ud)
{
    sk__cluster *cl = ud;
    redisReply *r = reply;
    cl_sweep *sw = sweep_of(cl, ac, r);
    redisReply *const *kv;
    size_t pairs;
    if (!sw)
        return;
    if (sk__scan_page(r, sw->cursor, &kv, &pairs) < 0) {
        sk__sweep_cancel(cl); /* not an HSCAN reply: the next beat starts again */
        return;
    }
    for (size_t i = 0; i < pairs; i++)
        take_entry(cl, sw, kv[2 * i], kv[2 * i + 1]);
    if (strcmp(sw->cursor, "0") != 0 && ++sw->pages < SWEEP_MAX_PAGES) {
        scan_next(cl, sw->cursor);
        return;
    }
    put_back_own(cl, sw);
    if (sw->nnames == 0)
        sk__sweep_cancel(cl); /* done: no other node */
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

/* A new sweep, knowing the roster's nodes (so one gone from the hash too
 * is still asked about); NULL on out-of-memory. */
static cl_sweep *sweep_new(sk__cluster *cl)
{
    cl_sweep *sw = calloc(1, sizeof *sw);
    int ok = sw != NULL;
    pthread_mutex_lock(&cl->roster.lock);
    for (size_t i = 0; ok && i < cl->roster.n; i++)
        ok = name_index(sw, cl->roster.v[i].name, strlen(cl->roster.v[i].name)) != SIZE_MAX;
    pthread_mutex_unlock(&cl->roster.lock);
    if (!ok) {
        sweep_free(sw);
        return NULL;
    }
    return sw;
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
    if (cl->sweep) /* the last one is still paging through Redis */
        return;
    if ((cl->sweep = sweep_new(cl)))
        scan_next(cl, "0");
}
