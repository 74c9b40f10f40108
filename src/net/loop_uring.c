/* loop_uring.c — the io_uring backend of the loop: the ring and its group
 * of receive buffers, waiting and dispatching completions to the owners of
 * the operations (multishot recv, send, cancel on a socket). Compiled in
 * when liburing is found. The receive buffers are consumed in pieces where
 * the kernel can (6.12+; SOCKIT_URING_NO_INC=1 in the environment makes
 * whole buffers, as older kernels do: to compare, and to test that path). */
#include "net/loop_uring.h"
#include "net/loop_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef SK_HAVE_URING
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 16384
#define BUF_COUNT 512 /* receive buffers per loop: a power of two */
#define BUF_SIZE 16384
/* Where the kernel consumes a buffer in pieces (6.12: IOU_PBUF_RING_INC),
 * each recv takes what the socket holds up to what is left of the head
 * buffer, so a 16 KiB TLS record followed by more takes one completion
 * instead of two or three, a small message does not use up a whole
 * buffer, and fewer bytes of buffers do: they stay in the CPU's cache
 * (the kernel's copy into 8 MiB of them, in turn, mostly missed it). */
#ifndef INC_BUF_COUNT
#define INC_BUF_COUNT 8
#endif
#ifndef INC_BUF_SIZE
#define INC_BUF_SIZE 131072
#endif
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4) /* the buffer has room left: the kernel keeps it */
#endif
#define BGID 0
#define SEND_IOV 32
#define BATCH 256

/* user_data: a pointer with the kind of operation in its low bits. */
enum { TAG_NONE, TAG_EPOLL, TAG_RECV, TAG_SEND, TAG_SEND_OP, TAG_MASK = 7 };

typedef struct send_op { /* several pieces in flight: their header or copy outlives the submission */
    sk__io *io;
    struct msghdr mh;
    struct iovec iov[SEND_IOV];
    uint8_t flat[SK__OUTQ_FLAT]; /* small pieces gathered into one */
    struct send_op *next;        /* free list */
} send_op;

struct sk__uring {
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    uint8_t *bufs;     /* count buffers of size bytes */
    unsigned count, size;
    uint32_t *used;    /* (incremental) bytes of each buffer the kernel filled so far */
    unsigned recycled; /* buffers given back since the last advance */
    size_t inflight;   /* connection operations not completed yet */
    size_t zombies;    /* closed connections waiting for their operations */
    send_op *free_ops;
    int epoll_again; /* the last epoll poll found events: poll again, do not block */
    int enabled;     /* created disabled; enabled by the thread that runs it */
    int exiting;
};

static uint64_t tag(void *p, unsigned t) { return (uint64_t)(uintptr_t)p | t; }
static void *untag(uint64_t ud) { return (void *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK); }

/* The ring has one issuer (IORING_SETUP_SINGLE_ISSUER, which lets the
 * kernel run completions' work only when that thread waits): the first
 * thread to submit, normally the one running the loop. */
static void enable(struct sk__uring *u)
{
    if (u->enabled)
        return;
    u->enabled = 1;
    /* io_uring_enable_rings is declared but not exported by liburing 2.3 */
    syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    io_uring_register_ring_fd(&u->ring); /* saves a file lookup per wait */
}

static struct io_uring_sqe *get_sqe(struct sk__uring *u)
{
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(&u->ring))) {
        enable(u); /* queue full: hand the batch to the kernel first */
        io_uring_submit(&u->ring);
    }
    return sqe;
}

static void arm_epoll(sk_loop *loop)
{
    struct io_uring_sqe *sqe = get_sqe(loop->uring);
    io_uring_prep_poll_multishot(sqe, loop->epfd, POLLIN);
    io_uring_sqe_set_data64(sqe, tag(loop, TAG_EPOLL));
}

/* Multishot recv arrived in Linux 6.0. */
static int kernel_ok(void)
{
    struct utsname un;
    int major = 0, minor = 0;
    return uname(&un) == 0 && sscanf(un.release, "%d.%d", &major, &minor) == 2 && major >= 6;
}

/* Registers count buffers of size bytes (consumed in pieces if inc);
 * 0 or -errno. */
static int register_buffers(struct sk__uring *u, unsigned count, unsigned size, int inc)
{
    u->count = count;
    u->size = size;
    u->bufs = malloc((size_t)count * size);
    if (!u->bufs)
        return -ENOMEM;
    struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)u->br,
                                   .ring_entries = count,
                                   .bgid = BGID,
                                   .pad = inc ? IOU_PBUF_RING_INC : 0}; /* (pad: flags) */
    int r = io_uring_register_buf_ring(&u->ring, &reg, 0);
    if (r < 0) {
        free(u->bufs);
        u->bufs = NULL;
        return r;
    }
    io_uring_buf_ring_init(u->br);
    for (unsigned i = 0; i < count; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * size, size, (unsigned short)i,
                              io_uring_buf_ring_mask(count), (int)i);
    io_uring_buf_ring_advance(u->br, (int)count);
    return 0;
}

static int setup_buffers(struct sk__uring *u)
{
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    if (posix_memalign((void **)&u->br, 4096, ring_bytes) != 0)
        return -ENOMEM;
    u->used = calloc(INC_BUF_COUNT, sizeof *u->used);
    if (!u->used)
        return -ENOMEM;
    if (!getenv("SOCKIT_URING_NO_INC") && register_buffers(u, INC_BUF_COUNT, INC_BUF_SIZE, 1) == 0)
        return 0;
    free(u->used); /* before 6.12: whole buffers */
    u->used = NULL;
    return register_buffers(u, BUF_COUNT, BUF_SIZE, 0);
}

static void free_uring(struct sk__uring *u, int ring_up)
{
    if (ring_up)
        io_uring_queue_exit(&u->ring);
    while (u->free_ops) {
        send_op *op = u->free_ops;
        u->free_ops = op->next;
        free(op);
    }
    free(u->bufs);
    free(u->used);
    free(u->br);
    free(u);
}

int sk__uring_init(sk_loop *loop, const char **why)
{
    static const char *reasons[] = {"out of memory", "io_uring_setup refused",
                                    "kernel older than 6.0", "buffer ring refused"};
    const char *reason = reasons[2];
    struct sk__uring *u = calloc(1, sizeof *u);
    if (!u) {
        reason = reasons[0];
        goto fail;
    }
    unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    struct io_uring_params p = {.flags = base | IORING_SETUP_SINGLE_ISSUER |
                                         IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
                                .cq_entries = CQ_ENTRIES};
    if (!kernel_ok()) {
        free(u);
        goto fail;
    }
    if (io_uring_queue_init_params(SQ_ENTRIES, &u->ring, &p) < 0) { /* before 6.1: plainer */
        p = (struct io_uring_params){.flags = base, .cq_entries = CQ_ENTRIES};
        u->enabled = 1;
    }
    if (u->enabled && io_uring_queue_init_params(SQ_ENTRIES, &u->ring, &p) < 0) {
        free(u);
        reason = reasons[1];
        goto fail;
    }
    if (!(p.features & IORING_FEAT_EXT_ARG) || setup_buffers(u) < 0) {
        free_uring(u, 1);
        reason = reasons[3];
        goto fail;
    }
    loop->uring = u;
    arm_epoll(loop);
    return 0;
fail:
    if (why)
        *why = reason;
    return -ENOTSUP;
}

static void recycle(struct sk__uring *u, unsigned bid)
{
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * u->size, u->size, (unsigned short)bid,
                          io_uring_buf_ring_mask(u->count), (int)u->recycled);
    u->recycled++;
}

/* Where a recv's bytes are in buffer bid, and whether the kernel is done
 * with it (*last). Incremental buffers are filled piece after piece from
 * their start; one is done when a piece with data leaves none of it
 * (a completion without data, EOF, does not consume it). */
static uint8_t *received_at(struct sk__uring *u, unsigned bid, const struct io_uring_cqe *cqe,
                            int *last)
{
    uint8_t *buf = u->bufs + (size_t)bid * u->size;
    *last = 1;
    if (!u->used)
        return buf;
    buf += u->used[bid];
    *last = cqe->res > 0 && !(cqe->flags & IORING_CQE_F_BUF_MORE);
    if (*last)
        u->used[bid] = 0;
    else if (cqe->res > 0)
        u->used[bid] += (uint32_t)cqe->res;
    return buf;
}

/* The ring reports the epoll fd only when it is woken, but a watcher may
 * leave its fd ready (level-triggered, e.g. a pipe read in part): after any
 * event, epoll is polled again on the next iteration until it is quiet. */
static void drain_epoll(sk_loop *loop)
{
    int n;
    while ((n = sk__loop_poll_epoll(loop, 0)) == SK_MAX_EVENTS) /* a full batch: maybe more */
        ;
    loop->uring->epoll_again = n > 0;
}

static void complete(sk_loop *loop, const struct io_uring_cqe *cqe)
{
    struct sk__uring *u = loop->uring;
    void *p = untag(cqe->user_data);
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    switch (cqe->user_data & TAG_MASK) {
    case TAG_EPOLL:
        if (!more)
            arm_epoll(loop);
        if (!u->exiting)
            drain_epoll(loop);
        break;
    case TAG_RECV: {
        uint8_t *buf = NULL;
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        int last = 0;
        if ((cqe->flags & IORING_CQE_F_BUFFER) && bid < u->count)
            buf = received_at(u, bid, cqe, &last);
        if (!more)
            u->inflight--;
        sk__io *io = p;
        io->done(io, SK__UOP_RECV, buf || cqe->res <= 0 ? cqe->res : -EIO, buf, more);
        if (buf && last)
            recycle(u, bid);
        break;
    }
    case TAG_SEND: {
        sk__io *io = p;
        u->inflight--;
        io->done(io, SK__UOP_SEND, cqe->res, NULL, 0);
        break;
    }
    case TAG_SEND_OP: {
        send_op *op = p;
        sk__io *io = op->io;
        op->next = u->free_ops;
        u->free_ops = op;
        u->inflight--;
        io->done(io, SK__UOP_SEND, cqe->res, NULL, 0);
        break;
    }
    default: /* a cancel's own completion */
        break;
    }
}

static void dispatch(sk_loop *loop)
{
    struct sk__uring *u = loop->uring;
    struct io_uring_cqe *cqes[BATCH];
    unsigned n;
    while ((n = io_uring_peek_batch_cqe(&u->ring, cqes, BATCH)) > 0) {
        for (unsigned i = 0; i < n; i++)
            complete(loop, cqes[i]);
        io_uring_cq_advance(&u->ring, n);
    }
}

int sk__uring_wait(sk_loop *loop, int timeout_ms)
{
    struct sk__uring *u = loop->uring;
    enable(u);
    if (u->recycled) { /* buffers given back: visible to the kernel from now on */
        io_uring_buf_ring_advance(u->br, (int)u->recycled);
        u->recycled = 0;
    }
    struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                   .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
    int again = u->epoll_again;
    if (again)
        ts = (struct __kernel_timespec){0};
    struct io_uring_cqe *cqe;
    int r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1,
                                             again || timeout_ms >= 0 ? &ts : NULL, NULL);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY)
        return r;
    sk__loop_update_time(loop);
    dispatch(loop);
    if (again && !u->exiting)
        drain_epoll(loop);
    return 0;
}

void sk__uring_settle(sk_loop *loop)
{
    struct sk__uring *u = loop->uring;
    for (int i = 0; u && i < 100 && u->zombies; i++) /* cancels end at once */
        sk__uring_wait(loop, 1);
}

void sk__uring_zombie(sk_loop *loop, int delta) { loop->uring->zombies += (size_t)delta; }

void sk__uring_exit(sk_loop *loop)
{
    struct sk__uring *u = loop->uring;
    if (!u)
        return;
    u->exiting = 1;
    for (int i = 0; i < 100 && u->inflight; i++) /* cancelled operations end promptly */
        sk__uring_wait(loop, 10);
    free_uring(u, 1);
    loop->uring = NULL;
}

int sk__uring_usable(const sk_loop *loop, int fd)
{
    int type = 0;
    socklen_t len = sizeof type;
    return loop->uring && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
           type == SOCK_STREAM;
}

void sk__uring_recv(sk_loop *loop, sk__io *io)
{
    struct sk__uring *u = loop->uring;
    struct io_uring_sqe *sqe = get_sqe(u);
    io_uring_prep_recv_multishot(sqe, io->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, tag(io, TAG_RECV));
    u->inflight++;
}

static send_op *take_op(struct sk__uring *u)
{
    send_op *op = u->free_ops;
    if (op)
        u->free_ops = op->next;
    else
        op = malloc(sizeof *op);
    return op;
}

void sk__uring_send(sk_loop *loop, sk__io *io, const sk__outq *q)
{
    struct sk__uring *u = loop->uring;
    struct iovec iov[SEND_IOV];
    const struct iovec *v = iov;
    send_op *op = NULL;
    int n = sk__outq_iov(q, iov, SEND_IOV);
    if (n > 1 && (op = take_op(u))) { /* several pieces: the op keeps their header */
        op->io = io;                  /* (or their gathered copy) until completion */
        n = sk__outq_gather(q, op->iov, SEND_IOV, op->flat, sizeof op->flat);
        v = op->iov;
    } else {
        n = 1; /* one piece (or no memory for an op): a plain send of the first */
    }
    struct io_uring_sqe *sqe = get_sqe(u);
    if (n == 1) {
        io_uring_prep_send(sqe, io->fd, v[0].iov_base, v[0].iov_len, MSG_NOSIGNAL);
    } else {
        op->mh = (struct msghdr){.msg_iov = op->iov, .msg_iovlen = (size_t)n};
        io_uring_prep_sendmsg(sqe, io->fd, &op->mh, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, op ? tag(op, TAG_SEND_OP) : tag(io, TAG_SEND));
    u->inflight++;
}

void sk__uring_cancel(sk_loop *loop, sk__io *io, int all)
{
    struct io_uring_sqe *sqe = get_sqe(loop->uring);
    if (all) /* the fd is still open (closed after the last completion): it names io's ops */
        io_uring_prep_cancel_fd(sqe, io->fd, IORING_ASYNC_CANCEL_ALL);
    else
        io_uring_prep_cancel64(sqe, tag(io, TAG_RECV), 0);
    io_uring_sqe_set_data64(sqe, TAG_NONE);
}

#else /* built without liburing */

int sk__uring_init(sk_loop *loop, const char **why)
{
    if (why)
        *why = "built without liburing";
    return -ENOTSUP;
}
void sk__uring_exit(sk_loop *loop) {}
void sk__uring_settle(sk_loop *loop) {}
void sk__uring_zombie(sk_loop *loop, int delta) {}
int sk__uring_wait(sk_loop *loop, int timeout_ms) { return -ENOTSUP; }
int sk__uring_usable(const sk_loop *loop, int fd) { return 0; }
void sk__uring_recv(sk_loop *loop, sk__io *io) {}
void sk__uring_send(sk_loop *loop, sk__io *io, const sk__outq *q) {}
void sk__uring_cancel(sk_loop *loop, sk__io *io, int all) {}

#endif
