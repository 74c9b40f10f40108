/* redis_loop.c — the hiredis event-library adapter for sk_loop, modelled on
 * hiredis's adapters/ae.h: one level-triggered watcher per context whose
 * events follow hiredis's add/del read/write requests; the context's replies
 * are built in an arena (redis_reply.c) that lives as long as the adapter. */
#include "net/redis_loop.h"

#include "net/redis_reply.h"

#include <stdlib.h>
#include <sys/socket.h>

#define ARENA_SLACK (64u << 10) /* and small replies of many elements */

typedef struct redis_ev {
    redisAsyncContext *ac;
    sk_watch *w;
    sk__redis_arena *arena; /* where the context's reader builds replies */
    size_t max_reply; /* bytes of one unfinished reply tolerated */
    int cut;          /* the link was shut for a reply over max_reply */
    int *cut_out;     /* the caller's flag for that (it outlives the context) */
    unsigned events; /* SK_READABLE | SK_WRITABLE as hiredis asked */
} redis_ev;

/* hiredis may free the context (and with it this adapter, through cleanup)
 * inside either handler, so one event is handled per call: the watcher is
 * level-triggered, so a pending write simply runs on the next iteration. */
static void on_io(sk_watch *w, int fd, unsigned events, void *ud)
{
    redis_ev *e = ud;
    const redisReader *rd = e->ac->c.reader;
    if (!e->cut && rd && rd->len - rd->pos > e->max_reply) {
        e->cut = 1; /* the next read sees the end: hiredis tears the link down */
        if (e->cut_out)
            *e->cut_out = 1;
        shutdown(fd, SHUT_RDWR);
    }
    if (events & (SK_READABLE | SK_HANGUP))
        redisAsyncHandleRead(e->ac);
    else if (events & SK_WRITABLE)
        redisAsyncHandleWrite(e->ac);
}

static void set_events(redis_ev *e, unsigned events)
{
    if (events == e->events)
        return;
    e->events = events;
    /* Only fails when the fd left epoll (the context is then torn down and
     * hiredis notices the error on its next read or write). */
    (void)sk_watch_set(e->w, events);
}

static void add_read(void *d) { set_events(d, ((redis_ev *)d)->events | SK_READABLE); }
static void del_read(void *d) { set_events(d, ((redis_ev *)d)->events & ~SK_READABLE); }
static void add_write(void *d) { set_events(d, ((redis_ev *)d)->events | SK_WRITABLE); }
static void del_write(void *d) { set_events(d, ((redis_ev *)d)->events & ~SK_WRITABLE); }

/* Called as hiredis frees the context, before its reader: the reply being
 * built goes with the arena, and the reader is left with nothing to free. */
static void cleanup(void *d)
{
    redis_ev *e = d;
    sk__redis_arena_free(e->ac->c.reader, e->arena);
    sk_watch_free(e->w); /* freed at the end of the iteration: safe from on_io */
    free(e);
}

int sk__redis_attach(redisAsyncContext *ac, sk_loop *loop, size_t max_reply, int *cut)
{
    if (ac->ev.data)
        return -1;
    redis_ev *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->ac = ac;
    e->max_reply = max_reply;
    e->cut_out = cut;
    e->w = sk_watch_new(loop, ac->c.fd, 0, on_io, e);
    /* The objects of a reply of max_reply bytes take about as much again. */
    e->arena = sk__redis_arena_new(2 * max_reply + ARENA_SLACK, cut);
    if (!e->w || !e->arena || !ac->c.reader || ac->c.reader->ridx != -1) {
        sk_watch_free(e->w);
        sk__redis_arena_free(NULL, e->arena);
        free(e);
        return -1;
    }
    sk__redis_arena_use(ac->c.reader, e->arena);
    ac->ev.data = e;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}
