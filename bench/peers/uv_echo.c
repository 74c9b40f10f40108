/* uv_echo.c — libuv peer echo server for bench/, written the way a
 * performance-aware user would: one reused read buffer, uv_try_write first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define RDBUF (64 * 1024)

/* A client; while a queued write is in flight its reading is stopped. */
typedef struct client {
    uv_tcp_t tcp;
    uv_write_t req;
    char *pend;
} client;

static char rdbuf[RDBUF];

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    *buf = uv_buf_init(rdbuf, sizeof rdbuf);
}

static void on_closed(uv_handle_t *h)
{
    client *c = (client *)h;
    free(c->pend);
    free(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    client *c = req->data;
    free(c->pend);
    c->pend = NULL;
    if (status < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Queues what uv_try_write did not take and pauses reading until it is sent. */
static void queue_rest(client *c, const char *p, size_t n)
{
    c->pend = malloc(n);
    if (!c->pend) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    memcpy(c->pend, p, n);
    uv_buf_t b = uv_buf_init(c->pend, (unsigned)n);
    c->req.data = c;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_write(&c->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client *c = (client *)s;
    if (nread < 0) {
        uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    if (nread == 0)
        return;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
    int w = uv_try_write(s, &b, 1);
    if (w == UV_EAGAIN)
        w = 0;
    if (w < 0)
        uv_close((uv_handle_t *)s, on_closed);
    else if (w < nread)
        queue_rest(c, buf->base + w, (size_t)(nread - w));
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: uv_echo HOST PORT\n");
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &server);
    int r = uv_ip4_addr(argv[1], atoi(argv[2]), &addr);
    if (!r)
        r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (!r)
        r = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (r) {
        fprintf(stderr, "uv_echo: listen: %s\n", uv_strerror(r));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
