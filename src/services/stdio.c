/* stdio.c — the operator console (tutorial T1): what clients send is printed
 * on stdout; each line typed on stdin goes to every connected client. Lines
 * typed before anyone connects wait for the first client. */
#include "services/service.h"
#include "sockit/error.h"
#include "sockit/reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_MAX ((size_t)16 << 20) /* typed-ahead bytes kept for the first client */

typedef struct line {
    size_t len;
    char text[];
} line;

typedef struct console {
    sk_server *srv;
    sk_reader *in;
    line **pending; /* lines typed while nobody was connected */
    size_t npending, cappending, pending_bytes;
    int eof;
} console;

static int keep_pending(console *c, const char *text, size_t len)
{
    if (c->npending == c->cappending) {
        size_t cap = c->cappending ? c->cappending * 2 : 16;
        line **v = realloc(c->pending, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        c->pending = v;
        c->cappending = cap;
    }
    line *l = malloc(sizeof *l + len);
    if (!l)
        return -ENOMEM;
    l->len = len;
    memcpy(l->text, text, len);
    c->pending[c->npending++] = l;
    c->pending_bytes += len;
    if (c->pending_bytes > PENDING_MAX && c->in) /* resume when a client takes them */
        sk_reader_pause(c->in);
    return 0;
}

/* One typed line is one message (raw output adds "\n"). */
static void on_line(sk_reader *r, const char *text, size_t len, void *ud)
{
    console *c = ud;
    if (sk__server_members(c->srv) == 0 && keep_pending(c, text, len) == 0)
        return;
    sk__server_broadcast(c->srv, 0, text, len, 0);
}

static void on_stdin_end(sk_reader *r, int err, void *ud)
{
    console *c = ud;
    c->eof = 1;
    if (err)
        sk__server_log(c->srv, "stdin: %s", sk_strerror(err));
    sk__server_broadcast(c->srv, 0, NULL, 0, 1); /* the clients see EOF after what was typed */
}

static void flush_pending(console *c, sk__peer *p)
{
    for (size_t i = 0; i < c->npending; i++) {
        sk__server_tell(p, c->pending[i]->text, c->pending[i]->len);
        free(c->pending[i]);
    }
    c->npending = 0;
    c->pending_bytes = 0;
    if (c->in && !c->eof)
        sk_reader_resume(c->in);
}

static void stdio_open(sk__peer *p)
{
    console *c = sk__server_svc(p->srv);
    if (c->npending)
        flush_pending(c, p);
    if (c->eof)
        sk_conn_shutdown(p->conn);
}

static void stdio_message(sk__peer *p, const uint8_t *msg, size_t len)
{
    const sk_server_opts *o = sk__server_opts(p->srv);
    int framed = o->in_frame != SK_FRAME_RAW || !p->conn || sk_conn_is_ws(p->conn);
    fwrite(msg, 1, len, stdout);
    if (framed && (len == 0 || msg[len - 1] != '\n'))
        fputc('\n', stdout);
    fflush(stdout);
}

static int stdio_init(sk_server *s)
{
    console *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->srv = s;
    c->in = sk_reader_new(sk__server_loop(s), 0, 1, sk__server_opts(s)->max_frame, on_line,
                          on_stdin_end, c);
    if (!c->in)
        c->eof = 1; /* no usable stdin: serve as a printer only */
    sk__server_set_svc(s, c);
    return 0;
}

static void stdio_shutdown(sk_server *s)
{
    console *c = sk__server_svc(s);
    sk_reader_free(c->in);
    c->in = NULL;
    c->eof = 1;
}

static void stdio_fini(sk_server *s)
{
    console *c = sk__server_svc(s);
    if (!c)
        return;
    sk_reader_free(c->in);
    for (size_t i = 0; i < c->npending; i++)
        free(c->pending[i]);
    free(c->pending);
    free(c);
    sk__server_set_svc(s, NULL);
}

const sk__service sk__svc_stdio = {
    .name = "stdio",
    .summary = "print what clients send; lines typed on stdin go to the clients",
    .default_max_queue = (size_t)8 << 20,
    .single_thread = 1, /* typed-ahead lines and the console belong to one loop */
    .on_open = stdio_open,
    .on_message = stdio_message,
    .init = stdio_init,
    .fini = stdio_fini,
    .on_shutdown = stdio_shutdown,
};
