/* relay_base.c — what every part of `sockit relay` calls: the log line,
 * the end of a drain, and --max-conns. Calls nothing of the relay's own. */
#include "cli/relay.h"

#include <stdarg.h>
#include <stdio.h>
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

void relay_check_drained(relay *r)
{
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
