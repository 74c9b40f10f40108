/* process.c — one child process for the exec service: posix_spawnp into a new
 * process group, output read from a non-blocking pipe, reaped via a pidfd. */
#include "services/process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define READ_CHUNK 65536
#define READS_PER_EVENT 16 /* at most 1 MiB per wakeup, so busy children share the loop */
#define POLL_MS 20         /* reaping by polling, on kernels without pidfd_open (< 5.3) */

struct sk__proc {
    sk_loop *loop;
    pid_t pid;
    int out_fd, pid_fd;    /* pipe read end; pidfd (-1 when closed / unavailable) */
    sk_watch *out_w, *pid_w;
    sk_timer *timeout, *poll;
    uint8_t *buf;          /* collected output */
    size_t len, cap, max;
    uint64_t dropped, started;
    int status, reaped, timed_out, capped, done;
    sk__proc_cb cb;
    void *ud;
};

/* ---- spawning ---- */

/* The child's fds: 0 = /dev/null, 1 and 2 = the pipe, nothing else. The
 * order also works when out_fd is 0 (a server started with stdin closed). */
static int set_actions(posix_spawn_file_actions_t *fa, int out_fd)
{
    int r = posix_spawn_file_actions_adddup2(fa, out_fd, 1);
    if (!r)
        r = posix_spawn_file_actions_adddup2(fa, out_fd, 2);
    if (!r)
        r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    if (!r)
        r = posix_spawn_file_actions_addclosefrom_np(fa, 3);
    return r;
}

/* A new process group (so a timeout can kill all of it), and the signal
 * state of a fresh process: the server blocks SIGINT/SIGTERM for its
 * signalfd and ignores SIGPIPE, and both would otherwise be inherited. */
static int set_attrs(posix_spawnattr_t *at)
{
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int r = posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                             POSIX_SPAWN_SETSIGDEF);
    if (!r)
        r = posix_spawnattr_setpgroup(at, 0);
    if (!r)
        r = posix_spawnattr_setsigmask(at, &none);
    if (!r)
        r = posix_spawnattr_setsigdefault(at, &all);
    return r;
}

static int spawn(char *const argv[], int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int r = posix_spawn_file_actions_init(&fa);
    if (r)
        return -r;
    r = posix_spawnattr_init(&at);
    if (!r) {
        r = set_actions(&fa, out_fd);
        if (!r)
            r = set_attrs(&at);
        if (!r)
            r = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
        posix_spawnattr_destroy(&at);
    }
    posix_spawn_file_actions_destroy(&fa);
    return -r;
}

/* ---- completion ---- */

static void close_output(sk__proc *p)
{
    sk_watch_free(p->out_w); /* before close: the watch names the fd */
    p->out_w = NULL;
    if (p->out_fd >= 0)
        close(p->out_fd);
    p->out_fd = -1;
}

static void stop_reaper(sk__proc *p)
{
    sk_watch_free(p->pid_w);
    p->pid_w = NULL;
    if (p->pid_fd >= 0)
        close(p->pid_fd);
    p->pid_fd = -1;
    sk_timer_free(p->poll);
    p->poll = NULL;
}

/* Reports once the leader is reaped and the output is closed. */
static void maybe_finish(sk__proc *p)
{
    if (p->done || !p->reaped || p->out_fd >= 0)
        return;
    p->done = 1;
    if (p->timeout)
        sk_timer_stop(p->timeout);
    sk__proc_result r = {.status = p->status, .timed_out = p->timed_out, .capped = p->capped,
                         .out = p->buf ? p->buf : (const uint8_t *)"",
                         .len = p->len, .dropped = p->dropped,
                         .elapsed_ms = sk_loop_now(p->loop) - p->started};
    p->cb(p, &r, p->ud); /* may free p */
}

/* The leader may have exited. If so, kill what is left of its group (safe
 * while the unreaped zombie still holds the group id, so the id cannot have
 * been reused), then reap it. */
static void reap(sk__proc *p)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0)
        return; /* still running: a poll tick */
    kill(-p->pid, SIGKILL);
    if (waitpid(p->pid, &p->status, 0) != p->pid)
        p->status = -1; /* e.g. SIGCHLD ignored: the kernel reaped it */
    p->reaped = 1;
    stop_reaper(p);
    maybe_finish(p);
}

static void on_pidfd(sk_watch *w, int fd, unsigned events, void *ud) { reap(ud); }
static void on_poll(sk_timer *t, void *ud) { reap(ud); }

/* ---- output ---- */

/* Makes room in buf; on out-of-memory the cap shrinks to what we have. */
static void reserve(sk__proc *p)
{
    if (p->len < p->cap)
        return;
    size_t cap = p->cap ? p->cap * 2 : 16384;
    if (cap > p->max)
        cap = p->max;
    uint8_t *b = realloc(p->buf, cap);
    if (!b) {
        p->max = p->len;
        return;
    }
    p->buf = b;
    p->cap = cap;
}

static ssize_t read_some(sk__proc *p)
{
    if (p->len < p->max)
        reserve(p);
    if (p->len < p->max) {
        ssize_t n = read(p->out_fd, p->buf + p->len, p->cap - p->len);
        if (n > 0)
            p->len += (size_t)n;
        return n;
    }
    uint8_t sink[READ_CHUNK]; /* past the cap: the command is stopped (on_output) */
    ssize_t n = read(p->out_fd, sink, sizeof sink);
    if (n > 0) {
        p->dropped += (uint64_t)n;
        p->capped = 1;
    }
    return n;
}

static void on_output(sk_watch *w, int fd, unsigned events, void *ud)
{
    sk__proc *p = ud;
    for (int i = 0; i < READS_PER_EVENT; i++) {
        ssize_t n = read_some(p);
        if (p->capped) { /* more than max: kill the group rather than drain it for nothing */
            sk__proc_kill(p); /* may finish and free p */
            return;
        }
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        close_output(p); /* EOF: every writer is gone */
        maybe_finish(p);
        return;
    }
}

static void on_timeout(sk_timer *t, void *ud)
{
    sk__proc *p = ud;
    p->timed_out = 1;
    sk__proc_kill(p);
}

/* ---- lifecycle ---- */

/* A new timer in *t, started: 0 or -ENOMEM (the caller frees *t either way). */
static int start_timer(sk__proc *p, sk_timer **t, sk_timer_cb cb, uint64_t ms, uint64_t repeat)
{
    *t = sk_timer_new(p->loop, cb, p);
    return *t ? sk_timer_start(*t, ms, repeat) : -ENOMEM;
}

/* Watches the output and the leader's exit (pidfd, else a poll timer) and
 * arms the timeout. Returns 0 or -ENOMEM: without its reaper or its timeout
 * a command could run unnoticed forever, so it is not run at all. */
static int watch(sk__proc *p, unsigned timeout_ms)
{
    p->out_w = sk_watch_new(p->loop, p->out_fd, SK_READABLE, on_output, p);
    if (!p->out_w)
        return -ENOMEM;
    p->pid_fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (p->pid_fd >= 0)
        p->pid_w = sk_watch_new(p->loop, p->pid_fd, SK_READABLE, on_pidfd, p);
    if (!p->pid_w && start_timer(p, &p->poll, on_poll, POLL_MS, POLL_MS) < 0)
        return -ENOMEM;
    if (timeout_ms && start_timer(p, &p->timeout, on_timeout, timeout_ms, 0) < 0)
        return -ENOMEM;
    return 0;
}

int sk__proc_start(sk_loop *loop, char *const argv[], size_t max_output, unsigned timeout_ms,
                   sk__proc_cb cb, void *ud, sk__proc **out)
{
    sk__proc *p = calloc(1, sizeof *p);
    int fds[2];
    if (!p)
        return -ENOMEM;
    *p = (sk__proc){.loop = loop, .out_fd = -1, .pid_fd = -1, .max = max_output, .cb = cb,
                    .ud = ud, .started = sk_loop_now(loop)};
    if (pipe2(fds, O_CLOEXEC) < 0) {
        int e = -errno;
        free(p);
        return e;
    }
    p->out_fd = fds[0];
    int r = fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0 ? -errno : spawn(argv, fds[1], &p->pid);
    close(fds[1]); /* the child has its copy: EOF comes when the last writer exits */
    if (r == 0)
        r = watch(p, timeout_ms);
    if (r < 0) {
        sk__proc_free(p);
        return r;
    }
    *out = p;
    return 0;
}

void sk__proc_kill(sk__proc *p)
{
    if (!p->reaped)
        kill(-p->pid, SIGKILL);
    close_output(p);
    maybe_finish(p); /* leader already reaped: only stray output holders were left */
}

void sk__proc_free(sk__proc *p)
{
    if (!p)
        return;
    if (p->pid > 0 && !p->reaped) {
        kill(-p->pid, SIGKILL);
        while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
            ;
    }
    stop_reaper(p);
    close_output(p);
    sk_timer_free(p->timeout);
    free(p->buf);
    free(p);
}
