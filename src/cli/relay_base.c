/* relay_base.c — what every part of `sockit relay` calls: the log lines
 * (and the ones every kind of relayed connection writes), a socket's local
 * name, a relayed connection's record, the list of live relayed
 * connections (the drain), and --max-conns. Calls nothing of the relay's own. */
#include "cli/relay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void relay_log(const relay *r, const char *fmt, ...)
{
    char line[1024], ts[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%H:%M:%S", localtime_r(&now, &tm));
    fprintf(stderr, "%s %s\n", ts, line);
    (void)r;
}

void relay_list(relay *r, relay_node *n)
{
    n->listed = 1;
    n->prev = NULL;
    n->next = r->live;
    if (r->live)
        r->live->prev = n;
    r->live = n;
    r->npairs++;
}

void relay_unlist(relay *r, relay_node *n)
{
    if (!n->listed)
        return;
    n->listed = 0;
    if (n->prev)
        n->prev->next = n->next;
    else
        r->live = n->next;
    if (n->next)
        n->next->prev = n->prev;
    r->npairs--;
    if (r->draining && r->npairs == 0)
        sk_loop_stop(r->loop);
}

void relay_end_all(relay *r, int now)
{
    relay_node *next;
    for (relay_node *n = r->live; n; n = next) {
        next = n->next; /* end may unlist n (never another) */
        n->end(n, now);
    }
    if (r->draining && r->npairs == 0)
        sk_loop_stop(r->loop);
}

int relay_over_limit(relay *r, int fd, const char *name)
{
    if (r->draining || !r->o->max_conns || r->npairs < r->o->max_conns)
        return 0;
    relay_log(r, "refuse %s: --max-conns %zu reached", name, r->o->max_conns);
    close(fd);
    return 1;
}

void relay_log_unreachable(const relay *r, const char *client, const char *why)
{
    relay_log(r, "cannot relay %s to %s: %s", client, r->to_name, why);
}

void relay_log_not_open(const relay *r, const char *client)
{
    relay_log(r, "cannot relay %s to %s: not open within %.1f s", client, r->to_name, r->connect_ms / 1000.0);
}

void relay_local_name(int fd, char *buf, size_t len)
{
    sk_sockaddr a = {.len = sizeof a.ss};
    if (getsockname(fd, (struct sockaddr *)&a.ss, &a.len) == 0)
        sk_sockaddr_format((struct sockaddr *)&a.ss, a.len, buf, len);
}

void *relay_record(relay *r, size_t size, int fd, const char *name, sk_timer_cb on_timer, sk_timer **timer)
{
    void *p = calloc(1, size);
    if (p && (*timer = sk_timer_new(r->loop, on_timer, p)))
        return p;
    relay_log(r, "refuse %s: out of memory", name);
    free(p);
    close(fd);
    return NULL;
}
