/* log.c — a server's log lines: handed to the caller's sk_log_fn, or written
 * to stderr with a timestamp. Below server.c, shard.c and the services. */
#include "services/server_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void sk__server_log(sk_server *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s->o.log) {
        s->o.log(s->o.log_ud, line);
        return;
    }
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%H:%M:%S", localtime_r(&now, &tm));
    fprintf(stderr, "%s %s\n", ts, line);
}
