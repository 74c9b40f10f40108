/* cluster_roster.c — who is on the other nodes, as their messages and the
 * presence sweeps tell: small arrays (a node has hundreds of members, a
 * room a handful of nodes), read by /who from any thread under a lock. */
#include "services/cluster_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "services/server_int.h"

cl_member *sk__members_find(cl_members *m, uint64_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].id == id)
            return &m->v[i];
    return NULL;
}

static void set_nick(cl_member *e, const char *nick, size_t len)
{
    len = len > SK__CMSG_NAME_MAX ? SK__CMSG_NAME_MAX : len;
    memcpy(e->nick, nick, len);
    e->nick[len] = 0;
}

int sk__nick_ok(const char *nick, size_t len)
{
    if (len < 1 || len > SK__CMSG_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)nick[i] <= ' ' || nick[i] == 0x7f)
            return 0;
    return 1;
}

int sk__members_put(cl_members *m, uint64_t id, const char *nick, size_t nick_len)
{
    if (!sk__nick_ok(nick, nick_len))
        return 0; /* another node's (or a forger's) bad nick: not listed */
    cl_member *e = sk__members_find(m, id);
    if (!e) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 16;
            cl_member *v = realloc(m->v, cap * sizeof *v);
            if (!v)
                return -1;
            m->v = v;
            m->cap = cap;
        }
        e = &m->v[m->n++];
        e->id = id;
    }
    set_nick(e, nick, nick_len);
    return 0;
}

void sk__members_del(cl_members *m, uint64_t id)
{
    cl_member *e = sk__members_find(m, id);
    if (e) /* order kept: /who lists members in the order they came */
        memmove(e, e + 1, (size_t)(m->v + m->n - (e + 1)) * sizeof *e), m->n--;
}

cl_node *sk__roster_node(cl_roster *r, const char *name, size_t len, int create)
{
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->v[i].name) == len && memcmp(r->v[i].name, name, len) == 0)
            return &r->v[i];
    if (!create || len > SK__CMSG_NAME_MAX)
        return NULL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4;
        cl_node *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return NULL;
        r->v = v;
        r->cap = cap;
    }
    cl_node *n = &r->v[r->n++];
    *n = (cl_node){0};
    memcpy(n->name, name, len);
    return n;
}

void sk__roster_drop(cl_roster *r, cl_node *node, cl_members *gone)
{
    *gone = node->m;
    *node = r->v[--r->n];
}

static void log_gap(sk__cluster *cl, const cl_node *n, uint64_t seq)
{
    if (n->last_seq && seq > n->last_seq + 1)
        sk__server_log(cl->srv, "cluster: %llu message(s) from node %s lost (numbers %llu-%llu): "
                       "this node's link to redis was cut or lagging",
                       (unsigned long long)(seq - n->last_seq - 1), n->name,
                       (unsigned long long)n->last_seq + 1, (unsigned long long)seq - 1);
}

static int same_nick(const cl_members *m, const char *nick)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcasecmp(m->v[i].nick, nick) == 0)
            return 1;
    return 0;
}

/* Another node's member took a nick one of ours has: both nodes let it be
 * taken before hearing of the other (within Redis's delivery time, or while
 * apart during an outage). Both keep it until one renames; logged here. */
static void note_clash(sk__cluster *cl, const cl_node *n, const sk__cmsg *m)
{
    char nick[SK__CMSG_NAME_MAX + 1];
    snprintf(nick, sizeof nick, "%.*s", (int)m->nick_len, m->nick);
    if (same_nick(&cl->local, nick))
        sk__server_log(cl->srv, "cluster: nick %s is held here and on node %s (taken on both "
                       "at the same time): both keep it until one renames", nick, n->name);
}

void sk__roster_apply(sk__cluster *cl, const sk__cmsg *m, cl_members *gone)
{
    cl_roster *r = &cl->roster;
    pthread_mutex_lock(&r->lock);
    /* A leave or quit from a node not known here (it was buried) adds nothing. */
    int create = m->kind == SK__CMSG_TEXT || m->kind == SK__CMSG_JOIN;
    cl_node *n = sk__roster_node(r, m->node, m->node_len, create);
    if (n) {
        log_gap(cl, n, m->seq);
        n->last_seq = m->seq;
        if (m->kind == SK__CMSG_JOIN)
            note_clash(cl, n, m), sk__members_put(&n->m, m->id, m->nick, m->nick_len);
        else if (m->kind == SK__CMSG_LEAVE)
            sk__members_del(&n->m, m->id);
        else if (m->kind == SK__CMSG_QUIT)
            sk__roster_drop(r, n, gone);
    }
    pthread_mutex_unlock(&r->lock);
}

void sk__roster_free(cl_roster *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].m.v);
    free(r->v);
    pthread_mutex_destroy(&r->lock);
}

int sk__cluster_nick_taken(sk_server *s, const char *nick, void *ud)
{
    sk__cluster *cl = s->cluster;
    int taken = 0;
    if (!cl)
        return 0;
    pthread_mutex_lock(&cl->roster.lock);
    for (size_t i = 0; i < cl->roster.n && !taken; i++)
        taken = same_nick(&cl->roster.v[i].m, nick);
    pthread_mutex_unlock(&cl->roster.lock);
    return taken;
}

size_t sk__cluster_count(sk_server *s)
{
    sk__cluster *cl = s->cluster;
    size_t n = 0;
    if (!cl)
        return 0;
    pthread_mutex_lock(&cl->roster.lock);
    for (size_t i = 0; i < cl->roster.n; i++)
        n += cl->roster.v[i].m.n;
    pthread_mutex_unlock(&cl->roster.lock);
    return n;
}

size_t sk__cluster_each(sk_server *s, void (*fn)(const char *nick, void *ud), void *ud)
{
    sk__cluster *cl = s->cluster;
    size_t n = 0;
    if (!cl)
        return 0;
    pthread_mutex_lock(&cl->roster.lock);
    for (size_t i = 0; i < cl->roster.n; i++) {
        const cl_members *m = &cl->roster.v[i].m;
        for (size_t j = 0; j < m->n; j++, n++)
            fn(m->v[j].nick, ud);
    }
    pthread_mutex_unlock(&cl->roster.lock);
    return n;
}
