/* exec.c — the exec service (tutorials T4/T5): each message is a command; the
 * one reply is its output (stdout+stderr) followed by an "[exit N]" line. */
#include "services/cmdline.h"
#include "services/process.h"
#include "services/service.h"
#include "services/text.h"
#include "sockit/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Reply format: one message per command, so framed clients get one frame:
 *   the output: stdout and stderr share one pipe, so they arrive interleaved
 *     in the order the command wrote them, nothing dropped below the cap;
 *   "\n" if the output does not end with one (the status starts a line);
 *   "[output truncated at N bytes: --max-output reached, process group killed]\n"
 *     (SIGKILL at the first byte too many; the status line says how it ended);
 *   "[exit N]\n", "[killed by signal SIGNAME]\n" or "[timed out after Ns]\n".
 * A command that does not run gets "sockit: REASON\n[exit N]\n" (N = 2 bad
 * syntax, 126 refused, 127 empty or no such program). */

#define MAX_QUEUED 64          /* commands waiting per datagram sender */
#define MAX_SENDERS 64         /* datagram senders with commands in progress */
#define MAX_COMMAND 65536      /* longest command line, in bytes */
#define DGRAM_MAX_OUTPUT 60000 /* a datagram reply must fit in one datagram */
#define LOG_CMD_MAX 160        /* command bytes shown in a log line */
#define PROBE_MS 250           /* how often a paused client is checked for a reset */

typedef struct job {
    struct job *next;
    size_t len;  /* as received: > MAX_COMMAND means cmd was not kept */
    char cmd[];  /* NUL-terminated */
} job;

/* Someone whose commands run one at a time, in order, so that replies keep
 * order: a stream client (peer) or a datagram sender (dg + from). */
typedef struct client {
    struct exec_state *st;
    sk__peer *peer;  /* stream client; NULL for a sender or once the client left */
    sk_dgram *dg;    /* datagram endpoint (lives until the server shuts down) */
    sk_sockaddr from;
    char name[64];
    job *head, *tail;
    size_t njobs;
    sk__proc *proc;  /* the running command, with its job in running */
    job *running;
    sk_timer *probe; /* stream: notices a client that resets while paused */
    int gone;        /* the stream client left: free once proc is reaped */
    struct client *prev, *next;
} client;

typedef struct exec_state {
    sk_server *srv;
    client *clients; /* stream clients, busy senders, and gone clients being reaped */
    size_t nsenders;
} exec_state;

static const sk_server_opts *opts(const client *c) { return sk__server_opts(c->st->srv); }

/* ---- clients ---- */

static client *client_new(exec_state *st, const char *name)
{
    client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->st = st;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->next = st->clients;
    if (st->clients)
        st->clients->prev = c;
    st->clients = c;
    return c;
}

static void drop_jobs(client *c)
{
    while (c->head) {
        job *j = c->head;
        c->head = j->next;
        free(j);
    }
    c->tail = NULL;
    c->njobs = 0;
}

/* c->proc must be NULL (done) or already freed by the caller. */
static void client_free(client *c)
{
    exec_state *st = c->st;
    if (c->prev)
        c->prev->next = c->next;
    else
        st->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->dg)
        st->nsenders--;
    drop_jobs(c);
    free(c->running);
    sk_timer_free(c->probe);
    free(c);
}

static client *sender_for(exec_state *st, const sk__peer *p)
{
    sk_dgram *dg = sk__peer_dgram(p);
    const sk_sockaddr *from = sk__peer_from(p);
    for (client *c = st->clients; c; c = c->next)
        if (c->dg == dg && c->from.len == from->len &&
            memcmp(&c->from.ss, &from->ss, c->from.len) == 0)
            return c;
    if (st->nsenders >= MAX_SENDERS)
        return NULL;
    client *c = client_new(st, p->name);
    if (c) {
        c->dg = dg;
        c->from = *from;
        st->nsenders++;
    }
    return c;
}

/* ---- replies and log lines ---- */

static void reply(client *c, const void *msg, size_t len)
{
    if (c->peer) {
        sk__peer_send(c->peer, msg, len); /* logs what it cannot frame */
        return;
    }
    if (!c->dg || sk__server_shutting_down(c->st->srv))
        return; /* a shutdown freed the datagram endpoints: nowhere to send */
    int r = sk_dgram_send(c->dg, msg, len, &c->from);
    if (r < 0)
        sk__server_log(c->st->srv, "exec %s: reply of %zu bytes dropped: %s", c->name, len,
                       sk_strerror(r));
}

/* The command for a log line: control bytes shown as '.', long ones cut. */
static const char *shown(const char *cmd, char *buf, size_t buflen)
{
    size_t n = 0;
    for (; cmd[n] && n < LOG_CMD_MAX && n + 4 < buflen; n++)
        buf[n] = ((unsigned char)cmd[n] < 0x20 || cmd[n] == 0x7f) ? '.' : cmd[n];
    snprintf(buf + n, buflen - n, "%s", cmd[n] ? "..." : "");
    return buf;
}

/* Answers a command that did not run: "sockit: WHY\n[exit CODE]\n", logged. */
static void refuse(client *c, const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refuse(client *c, const char *cmd, int code, const char *fmt, ...)
{
    char why[512], text[600], show[LOG_CMD_MAX + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    int n = snprintf(text, sizeof text, "sockit: %s\n[exit %d]\n", why, code);
    reply(c, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    sk__server_log(c->st->srv, "exec %s: \"%s\" -> refused: %s", c->name,
                   shown(cmd, show, sizeof show), why);
}

static void status_text(const client *c, const sk__proc_result *r, char *buf, size_t len)
{
    unsigned ms = opts(c)->exec_timeout_ms ? opts(c)->exec_timeout_ms : 10000;
    if (r->timed_out) {
        snprintf(buf, len, "timed out after %gs", ms / 1000.0);
    } else if (r->status == -1) {
        snprintf(buf, len, "exit unknown");
    } else if (WIFSIGNALED(r->status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(r->status));
        if (abbrev)
            snprintf(buf, len, "killed by signal SIG%s", abbrev);
        else
            snprintf(buf, len, "killed by signal %d", WTERMSIG(r->status));
    } else {
        snprintf(buf, len, "exit %d", WEXITSTATUS(r->status));
    }
}

/* One message: the output, a newline if it lacks one, a truncation note,
 * and the status line. */
static void send_result(client *c, const sk__proc_result *r, const char *status)
{
    char tail[256];
    size_t n = 0;
    if (r->len && r->out[r->len - 1] != '\n')
        tail[n++] = '\n';
    if (r->capped)
        n += (size_t)snprintf(tail + n, sizeof tail - n,
                              "[output truncated at %zu bytes: --max-output reached, process group killed]\n",
                              r->len);
    n += (size_t)snprintf(tail + n, sizeof tail - n, "[%s]\n", status);
    uint8_t *msg = sk__server_scratch(c->st->srv, r->len + n);
    if (!msg) {
        reply(c, tail, n); /* out of memory: at least the status */
        return;
    }
    if (r->len)
        memcpy(msg, r->out, r->len);
    memcpy(msg + r->len, tail, n);
    reply(c, msg, r->len + n); /* too big for --out-frame: the server logs it, closes the client */
}

/* ---- running commands ---- */

/* The argv for a job, or NULL once a refusal was sent. */
static char **job_argv(client *c, job *j)
{
    char why[512], **argv = NULL;
    int code = 2;
    if (j->len > MAX_COMMAND)
        snprintf(why, sizeof why, "command too long (%zu bytes, at most %d)", j->len, MAX_COMMAND);
    else
        code = sk__cmd_argv(j->cmd, j->len,
                            (opts(c)->exec_shell ? SK__CMD_SHELL : 0) |
                                (opts(c)->exec_allow_redirect ? SK__CMD_REDIRECT : 0),
                            opts(c)->exec_allow, &argv, why, sizeof why);
    if (code)
        refuse(c, j->cmd, code, "%s", why);
    return argv;
}

static void run_next(client *c);

/* A paused connection is not watched, so a client that disappears while its
 * command runs would go unnoticed until the command ends. A reset (or a unix
 * peer that closed both ways) shows as POLLHUP/POLLERR; a TCP FIN does not,
 * as it may be a half-close from a client still waiting for its reply. */
static void on_probe(sk_timer *t, void *ud)
{
    client *c = ud;
    struct pollfd pfd = {.fd = c->peer ? sk_conn_fd(c->peer->conn) : -1};
    if (pfd.fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR)))
        sk_conn_abort(c->peer->conn, -ECONNRESET); /* exec_close follows */
}

/* Arms a stream client's probe (a datagram sender has none): 0 or -ENOMEM. */
static int start_probe(client *c)
{
    if (!c->peer)
        return 0;
    if (!c->probe && !(c->probe = sk_timer_new(sk__server_loop(c->st->srv), on_probe, c)))
        return -ENOMEM;
    return sk_timer_start(c->probe, PROBE_MS, PROBE_MS);
}

static void on_done(sk__proc *proc, const sk__proc_result *r, void *ud)
{
    client *c = ud;
    char status[96], show[LOG_CMD_MAX + 8];
    status_text(c, r, status, sizeof status);
    if (!c->gone)
        send_result(c, r, status);
    sk__server_log(c->st->srv, "exec %s: \"%s\" -> %s (%zu bytes%s, %llu ms)%s", c->name,
                   shown(c->running->cmd, show, sizeof show), status, r->len,
                   r->capped ? ", capped: killed" : "", (unsigned long long)r->elapsed_ms,
                   c->gone ? " (client left)" : "");
    sk__proc_free(proc);
    c->proc = NULL;
    if (c->probe)
        sk_timer_stop(c->probe);
    free(c->running);
    c->running = NULL;
    if (c->gone)
        client_free(c);
    else
        run_next(c);
}

static size_t max_output(const client *c)
{
    size_t m = opts(c)->exec_max_output ? opts(c)->exec_max_output : (size_t)1 << 20;
    return c->dg && m > DGRAM_MAX_OUTPUT ? DGRAM_MAX_OUTPUT : m;
}

/* Runs j, or answers it with a refusal. The probe is armed first: a command
 * whose client could vanish unnoticed is refused (out of memory) instead. */
static void start_job(client *c, job *j)
{
    char **argv = job_argv(c, j);
    unsigned ms = opts(c)->exec_timeout_ms ? opts(c)->exec_timeout_ms : 10000;
    int r = argv ? start_probe(c) : 0;
    if (argv && r == 0)
        r = sk__proc_start(sk__server_loop(c->st->srv), argv, max_output(c), ms, on_done, c,
                           &c->proc);
    if (r < 0)
        refuse(c, j->cmd, r == -ENOENT ? 127 : 126, "cannot run '%.100s': %s", argv[0],
               strerror(-r));
    free(argv);
    if (c->proc) {
        c->running = j;
        return;
    }
    if (c->probe)
        sk_timer_stop(c->probe);
    free(j);
}

/* Starts queued commands until one runs; an idle stream client reads again,
 * an idle datagram sender is forgotten. */
static void run_next(client *c)
{
    while (!c->proc && c->head) {
        job *j = c->head;
        c->head = j->next;
        if (!c->head)
            c->tail = NULL;
        c->njobs--;
        j->next = NULL;
        start_job(c, j);
    }
    if (c->proc)
        return;
    if (c->peer && sk__server_shutting_down(c->st->srv))
        sk__peer_close(c->peer); /* the drain waited for this reply */
    else if (c->peer)
        sk_conn_resume(c->peer->conn);
    else
        client_free(c);
}

/* ---- service callbacks ---- */

static job *job_new(const uint8_t *msg, size_t len)
{
    len = sk__trim_eol(msg, len);
    size_t keep = len > MAX_COMMAND ? 0 : len;
    job *j = malloc(sizeof *j + keep + 1);
    if (j) {
        j->next = NULL;
        j->len = len;
        memcpy(j->cmd, msg, keep);
        j->cmd[keep] = '\0';
    }
    return j;
}

static void send_error(sk__peer *p, const char *why)
{
    char text[200];
    int n = snprintf(text, sizeof text, "sockit: %s\n[exit 126]\n", why);
    sk__peer_send(p, text, (size_t)n);
    sk__server_log(p->srv, "exec %s: command refused: %s", p->name, why);
}

static void exec_open(sk__peer *p)
{
    client *c = client_new(sk__server_svc(p->srv), p->name);
    if (c)
        c->peer = p;
    p->svc = c;
}

/* A stream client is paused while its command runs: later messages wait in
 * the socket (backpressure, replies in order), and a client that
 * half-closes after sending still gets its reply before the close. */
static void exec_message(sk__peer *p, const uint8_t *msg, size_t len)
{
    client *c = p->conn ? p->svc : sender_for(sk__server_svc(p->srv), p);
    if (!c) {
        send_error(p, p->conn ? "out of memory" : "too many datagram senders busy");
        return;
    }
    job *j = c->njobs < MAX_QUEUED ? job_new(msg, len) : NULL;
    if (!j) {
        send_error(p, c->njobs < MAX_QUEUED ? "out of memory" : "too many queued commands");
        if (!c->proc && !c->head && !c->peer)
            client_free(c);
        return;
    }
    if (c->tail)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
    c->njobs++;
    if (c->peer)
        sk_conn_pause(p->conn);
    run_next(c);
}

/* A client whose command runs is not idle, and a shutdown waits for its
 * reply (up to --drain-timeout). */
static int exec_busy(const sk__peer *p)
{
    const client *c = p->svc;
    return c && c->proc;
}

static void exec_close(sk__peer *p)
{
    client *c = p->svc;
    p->svc = NULL;
    if (!c)
        return;
    c->peer = NULL;
    drop_jobs(c);
    if (!c->proc) {
        client_free(c);
        return;
    }
    c->gone = 1;
    sk__proc_kill(c->proc); /* on_done frees c, maybe from inside this call */
}

/* ---- listeners ---- */

static int is_loopback(const sk_sockaddr *a)
{
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->ss;
        return ntohl(v4->sin_addr.s_addr) >> 24 == 127;
    }
    if (a->ss.ss_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(v6) || (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
    }
    return a->ss.ss_family == AF_UNIX;
}

static void describe(const sk_url *url, const sk_sockaddr *a, char *buf, size_t len)
{
    char num[INET6_ADDRSTRLEN] = "?";
    if (a->ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, num, sizeof num);
    else if (a->ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, num, sizeof num);
    if (strcmp(url->host, "*") == 0)
        snprintf(buf, len, "* (every address)");
    else if (strcmp(url->host, num) == 0)
        snprintf(buf, len, "%s", num);
    else
        snprintf(buf, len, "%s (%s)", url->host, num);
}

static int exec_check_listen(sk_server *s, const sk_url *url, char *err, size_t errlen)
{
    if (sk__server_opts(s)->allow_remote || sk_url_is_unix(url))
        return 0;
    sk_sockaddr addrs[16];
    int n = sk_url_resolve(url, 1, addrs, 16, err, errlen);
    for (int i = 0; i < n; i++) {
        if (is_loopback(&addrs[i]))
            continue;
        char where[SK_URL_HOST_MAX + 64];
        describe(url, &addrs[i], where, sizeof where);
        snprintf(err, errlen,
                 "exec refuses non-loopback address %s (it runs commands for anyone who "
                 "connects); add --allow-remote to allow it",
                 where);
        return -EPERM;
    }
    return n < 0 ? n : 0;
}

static int exec_init(sk_server *s)
{
    exec_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    st->srv = s;
    sk__server_set_svc(s, st);
    return 0;
}

/* Runs after every stream client's exec_close: kills and reaps what is left. */
static void exec_fini(sk_server *s)
{
    exec_state *st = sk__server_svc(s);
    while (st->clients) {
        client *c = st->clients;
        sk__proc_free(c->proc);
        c->proc = NULL;
        client_free(c);
    }
    free(st);
}

const sk__service sk__svc_exec = {
    .name = "exec",
    .summary = "run each message as a command; reply with its output and exit status",
    .on_open = exec_open,
    .on_message = exec_message,
    .on_close = exec_close,
    .busy = exec_busy,
    .single_thread = 1, /* the client list and datagram senders are shared state */
    .check_listen = exec_check_listen,
    .init = exec_init,
    .fini = exec_fini,
};
