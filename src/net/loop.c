/* loop.c — the core of the event loop: an epoll poller (or the io_uring
 * backend of loop_uring.c), deferred frees of watchers, the cross-thread
 * post queue and end-of-iteration ticks (the layers' parts, then the user's). */
#include "net/blob_int.h"
#include "net/loop_int.h"
#include "net/outq.h"
#include "net/loop_uring.h"
#include "net/zframe.h"
#include "sockit/error.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

void sk__loop_update_time(sk_loop *loop)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    loop->now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sk_loop_now(const sk_loop *loop) { return loop->now; }

static void ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

/* Drains the eventfd and runs every post queued so far, oldest first. */
static void on_wake(sk_watch *w, int fd, unsigned events, void *ud)
{
    sk_loop *loop = ud;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof n); /* one read resets the eventfd counter */
    (void)r;
    pthread_mutex_lock(&loop->post_lock);
    sk__post *p = loop->posts, *rev = NULL;
    loop->posts = NULL;
    pthread_mutex_unlock(&loop->post_lock);
    while (p) { /* reverse into FIFO order */
        sk__post *next = p->next;
        p->next = rev;
        rev = p;
        p = next;
    }
    while (rev) {
        sk__post *next = rev->next;
        int embedded = rev->embedded; /* (fn may free an embedded node) */
        rev->fn(rev->arg);
        if (!embedded)
            free(rev);
        rev = next;
    }
}

int sk_loop_new(sk_loop **out) { return sk_loop_new_io(out, SK_IO_EPOLL, NULL); }

int sk_loop_new_io(sk_loop **out, sk_io io, const char **why)
{
    if (why)
        *why = NULL;
    sk_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return -ENOMEM;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epfd < 0 || loop->wakefd < 0) {
        int err = -errno;
        if (loop->epfd >= 0)
            close(loop->epfd);
        if (loop->wakefd >= 0)
            close(loop->wakefd);
        free(loop);
        return err;
    }
    pthread_mutex_init(&loop->post_lock, NULL);
    sk__loop_update_time(loop);
    loop->rdbuf = malloc(SK_RDBUF_SIZE);
    loop->wake_watch = sk_watch_new(loop, loop->wakefd, SK_READABLE, on_wake, loop);
    if (!loop->wake_watch || !loop->rdbuf) {
        sk_loop_free(loop);
        return -ENOMEM;
    }
    if (io == SK_IO_URING && sk__uring_init(loop, why) < 0)
        loop->uring = NULL; /* the fallback: epoll alone */
    ignore_sigpipe();
    *out = loop;
    return 0;
}

sk_io sk_loop_io(const sk_loop *loop) { return loop->uring ? SK_IO_URING : SK_IO_EPOLL; }

int sk_io_parse(const char *name, sk_io *out)
{
    if (strcmp(name, "epoll") == 0)
        *out = SK_IO_EPOLL;
    else if (strcmp(name, "uring") == 0 || strcmp(name, "io_uring") == 0)
        *out = SK_IO_URING;
    else
        return SK_EIOBACKEND;
    return 0;
}

static void wake(sk_loop *loop)
{
    uint64_t one = 1;
    ssize_t r = write(loop->wakefd, &one, sizeof one);
    (void)r; /* EAGAIN means a wakeup is already pending: fine */
}

void sk_loop_stop(sk_loop *loop)
{
    __atomic_store_n(&loop->stop, 1, __ATOMIC_RELEASE);
    wake(loop);
}

int sk_loop_post(sk_loop *loop, sk_post_fn fn, void *arg)
{
    sk__post *p = malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->fn = fn;
    p->arg = arg;
    p->embedded = 0;
    sk__loop_post_node(loop, p);
    return 0;
}

void sk__loop_post_node(sk_loop *loop, sk__post *p)
{
    pthread_mutex_lock(&loop->post_lock);
    int first = loop->posts == NULL;
    p->next = loop->posts;
    loop->posts = p;
    pthread_mutex_unlock(&loop->post_lock);
    /* One wakeup per batch: while posts are queued, the eventfd is already
     * signalled (on_wake drains it before taking the list), so a broadcast
     * to a busy thread costs no extra syscall. */
    if (first)
        wake(loop);
}

void sk__loop_set_part(sk_loop *loop, int id, const sk__part *part) { loop->parts[id] = *part; }

void sk__loop_tick_parts(sk_loop *loop)
{
    for (int i = 0; i < SK__PARTS; i++)
        if (loop->parts[i].tick)
            loop->parts[i].tick(loop, loop->parts[i].st);
}

int sk_loop_on_tick(sk_loop *loop, sk_tick_cb cb, void *ud)
{
    sk__tick *t = realloc(loop->ticks, (loop->nticks + 1) * sizeof *t);
    if (!t)
        return -ENOMEM;
    loop->ticks = t;
    t[loop->nticks].cb = cb;
    t[loop->nticks].ud = ud;
    loop->nticks++;
    return 0;
}

static void free_dead_watchers(sk_loop *loop)
{
    while (loop->dead) {
        sk_watch *w = loop->dead;
        loop->dead = w->next_dead;
        free(w);
    }
}

static unsigned to_sk_events(uint32_t ev)
{
    unsigned e = 0;
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        e |= SK_READABLE;
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        e |= SK_WRITABLE;
    if (ev & (EPOLLHUP | EPOLLERR))
        e |= SK_HANGUP;
    return e;
}

int sk__loop_poll_epoll(sk_loop *loop, int timeout_ms)
{
    struct epoll_event evs[SK_MAX_EVENTS];
    int n = epoll_wait(loop->epfd, evs, SK_MAX_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno != EINTR)
            return -errno;
        n = 0; /* a signal (or a tracer attaching): just go round again */
    }
    sk__loop_update_time(loop);
    for (int i = 0; i < n; i++) {
        sk__io *io = evs[i].data.ptr;
        if (io->dead)
            continue; /* stopped by an earlier callback of this batch */
        unsigned e = to_sk_events(evs[i].events) & (io->events | SK_HANGUP);
        if (e)
            io->cb(io, e);
    }
    return n;
}

/* Whether a part has work queued outside a callback (a send before
 * sk_loop_run): the wait must not block, so its tick comes at once. */
static int parts_busy(const sk_loop *loop)
{
    for (int i = 0; i < SK__PARTS; i++)
        if (loop->parts[i].busy && loop->parts[i].busy(loop->parts[i].st))
            return 1;
    return 0;
}

/* One iteration: wait (bounded by the next timer), dispatch, timers, ticks. */
static int loop_once(sk_loop *loop)
{
    int timeout = parts_busy(loop) ? 0 : sk__timers_timeout(loop);
    int r = loop->uring ? sk__uring_wait(loop, timeout) : sk__loop_poll_epoll(loop, timeout);
    if (r < 0)
        return r;
    sk__timers_run(loop);
    sk__loop_tick_parts(loop);
    for (size_t i = 0; i < loop->nticks; i++)
        loop->ticks[i].cb(loop, loop->ticks[i].ud);
    free_dead_watchers(loop);
    return 0;
}

/* What layers above keep per thread, to free with the caches below. */
static __thread void (*flushes[4])(void);
static __thread int nflushes;

void sk__loop_thread_flush_add(void (*fn)(void))
{
    for (int i = 0; i < nflushes; i++)
        if (flushes[i] == fn)
            return;
    if (nflushes < 4)
        flushes[nflushes++] = fn;
}

/* The spare reply buffers of this thread (a loop thread leaves none behind). */
static void flush_caches(void)
{
    sk__blob_cache_flush();
    sk__outq_cache_flush();
    sk__zctx_cache_flush();
    for (int i = 0; i < nflushes; i++) /* (a layer above's: see sk__loop_thread_flush_add) */
        flushes[i]();
    nflushes = 0;
}

int sk_loop_run(sk_loop *loop)
{
    while (!__atomic_load_n(&loop->stop, __ATOMIC_ACQUIRE)) {
        int r = loop_once(loop);
        if (r < 0)
            return r;
    }
    __atomic_store_n(&loop->stop, 0, __ATOMIC_RELEASE);
    sk__uring_settle(loop);
    flush_caches();
    return 0;
}

void sk_loop_free(sk_loop *loop)
{
    if (!loop)
        return;
    for (int i = 0; i < SK__PARTS; i++) /* connections aborted last: their on_close, then free */
        if (loop->parts[i].fini)
            loop->parts[i].fini(loop, loop->parts[i].st);
    sk__signals_free(loop);
    if (loop->wake_watch)
        sk_watch_free(loop->wake_watch);
    free_dead_watchers(loop);
    on_wake(NULL, loop->wakefd, 0, loop); /* run what is still posted (deferred frees) */
    sk__uring_exit(loop); /* after the last aborts: waits for their cancelled operations */
    free(loop->heap);
    free(loop->ticks);
    free(loop->rdbuf);
    pthread_mutex_destroy(&loop->post_lock);
    close(loop->epfd);
    close(loop->wakefd);
    free(loop);
    flush_caches(); /* what the last closes gave back */
}

static uint32_t to_epoll(unsigned events)
{
    return ((events & SK_READABLE) ? EPOLLIN : 0u) | ((events & SK_WRITABLE) ? EPOLLOUT : 0u);
}

int sk__io_start(sk__io *io, sk_loop *loop, int fd, unsigned events, sk__io_cb cb)
{
    *io = (sk__io){.cb = cb, .fd = fd, .events = (uint8_t)events};
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) /* also validates fd */
        return -errno;
    io->registered = 1;
    if (events == 0) {
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
        io->registered = 0;
    }
    return 0;
}

int sk__io_set(sk__io *io, sk_loop *loop, unsigned events)
{
    if (io->events == events || io->dead)
        return 0;
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    int op = events == 0 ? EPOLL_CTL_DEL : io->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0)
        return -errno;
    io->registered = events != 0;
    io->events = (uint8_t)events;
    return 0;
}

void sk__io_stop(sk__io *io, sk_loop *loop)
{
    if (io->dead)
        return;
    if (io->registered)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->registered = 0;
    io->dead = 1; /* events of this iteration still queued for it are skipped */
}

/* A heap watcher's sk__io calls the user's callback with the public arguments. */
static void watch_cb(sk__io *io, unsigned events)
{
    sk_watch *w = (sk_watch *)io;
    w->cb(w, io->fd, events, w->ud);
}

sk_watch *sk_watch_new(sk_loop *loop, int fd, unsigned events, sk_watch_cb cb, void *ud)
{
    sk_watch *w = malloc(sizeof *w);
    if (!w)
        return NULL;
    *w = (sk_watch){.loop = loop, .cb = cb, .ud = ud};
    int r = sk__io_start(&w->io, loop, fd, events, watch_cb);
    if (r < 0) {
        free(w);
        errno = -r;
        return NULL;
    }
    return w;
}

int sk_watch_set(sk_watch *w, unsigned events) { return sk__io_set(&w->io, w->loop, events); }

unsigned sk_watch_events(const sk_watch *w) { return w->io.events; }

void sk_watch_free(sk_watch *w)
{
    if (!w || w->io.dead)
        return;
    sk__io_stop(&w->io, w->loop);
    w->next_dead = w->loop->dead;
    w->loop->dead = w;
}
