/* cluster_hooks.c — what chat.c tells the cluster (a broadcast made here, a
 * member joined, renamed or left), run on the server's main loop where the
 * Redis links live: at once when called there, else posted there as a copy. */
#include "services/cluster_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/server_int.h"

static int on_main(const sk__cluster *cl) { return sk__server_loop(cl->srv) == cl->loop; }

enum { EV_TEXT, EV_MEMBER, EV_GONE };

typedef struct cl_event {
    sk__post post; /* its own node in the main loop's queue: one allocation per event */
    sk__cluster *cl;
    int what;
    uint64_t id;
    char nick[SK__CMSG_NAME_MAX + 1];
    size_t len;
    uint8_t text[];
} cl_event;

static void run_event(sk__cluster *cl, int what, uint64_t id, const char *nick, const void *text,
                      size_t len)
{
    switch (what) {
    case EV_TEXT:
        sk__cluster_send(cl, SK__CMSG_TEXT, 0, NULL, text, len);
        break;
    case EV_MEMBER:
        sk__members_put(&cl->local, id, nick, strlen(nick));
        sk__cluster_send(cl, SK__CMSG_JOIN, id, nick, NULL, 0);
        sk__cluster_presence(cl, "HSET", id, nick);
        break;
    case EV_GONE:
        sk__members_del(&cl->local, id);
        sk__cluster_send(cl, SK__CMSG_LEAVE, id, NULL, NULL, 0);
        sk__cluster_presence(cl, "HDEL", id, NULL);
        break;
    }
}

static void posted_event(void *arg)
{
    cl_event *e = arg;
    if (!e->cl->stopping)
        run_event(e->cl, e->what, e->id, e->nick, e->text, e->len);
    sk__cluster_unref(e->cl);
    free(e);
}

/* Another thread's event: a copy posted to the main loop (the events of one
 * thread keep their order: a member's messages all come from one). */
static void post_event(sk__cluster *cl, int what, uint64_t id, const char *nick,
                       const void *text, size_t len)
{
    cl_event *e = malloc(sizeof *e + len);
    if (!e)
        return;
    *e = (cl_event){.cl = cl, .what = what, .id = id, .len = len};
    snprintf(e->nick, sizeof e->nick, "%s", nick ? nick : "");
    if (len)
        memcpy(e->text, text, len);
    __atomic_add_fetch(&cl->refs, 1, __ATOMIC_RELAXED);
    e->post = (sk__post){.fn = posted_event, .arg = e, .embedded = 1};
    sk__loop_post_node(cl->loop, &e->post);
}

static void event(sk_server *s, int what, uint64_t id, const char *nick, const void *text,
                  size_t len)
{
    sk__cluster *cl = s->cluster;
    if (!cl || __atomic_load_n(&cl->stopping, __ATOMIC_RELAXED) || s->freeing)
        return;
    if (len > SK__CMSG_TEXT_MAX) {
        if (!__atomic_exchange_n(&cl->told_big, 1, __ATOMIC_RELAXED))
            sk__server_log(s, "cluster: messages over %u KiB stay on this node (one was %zu bytes)",
                           SK__CMSG_TEXT_MAX >> 10, len);
        return;
    }
    if (on_main(cl))
        run_event(cl, what, id, nick, text, len);
    else
        post_event(cl, what, id, nick, text, len);
}

void sk__cluster_publish(sk_server *s, const char *text, size_t len)
{
    event(s, EV_TEXT, 0, NULL, text, len);
}

void sk__cluster_member(sk_server *s, uint64_t id, const char *nick)
{
    event(s, EV_MEMBER, id, nick, NULL, 0);
}

void sk__cluster_gone(sk_server *s, uint64_t id) { event(s, EV_GONE, id, NULL, NULL, 0); }
