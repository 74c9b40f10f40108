/* info_tls.c — `sockit info tls://HOST:PORT`: one connection, one TLS
 * handshake with the client options of connect, then what it agreed (the
 * version, cipher, ALPN and the peer's certificate); a failed handshake
 * gives its one-line reason. */
#include "cli/options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct probe {
    sk_loop *loop;
    sk_tls *tls;
    sk_tls_info *info;
    const char *target;
    sk_conn *conn;
    int rc; /* -1 while running, then the exit status */
} probe;

static void done(probe *p, int rc)
{
    if (p->rc < 0)
        p->rc = rc;
    sk_loop_stop(p->loop);
}

static void on_open(sk_conn *c, void *ud)
{
    probe *p = ud;
    p->rc = sk_conn_tls_info(c, p->info) == 0 ? 0 : 1;
    sk_conn_close(c, 0);
}

static void on_close(sk_conn *c, int err, void *ud)
{
    probe *p = ud;
    p->conn = NULL;
    if (p->rc < 0)
        cli_error("%s: %s", p->target, cli_close_reason(c, err ? err : SK_ETLS));
    done(p, 1);
}

static const sk_conn_cbs probe_cbs = {.on_open = on_open, .on_close = on_close};

static void on_connected(int fd, int status, void *ud)
{
    probe *p = ud;
    if (status < 0) {
        cli_error("cannot connect to %s: %s", p->target, sk_strerror(status));
        done(p, 1);
        return;
    }
    sk_conn_opts co = {.tls = p->tls};
    if (!(p->conn = sk_conn_new(p->loop, fd, &probe_cbs, &co, p))) {
        cli_error("%s: %s", p->target, strerror(errno));
        done(p, 1);
    }
}

int cli_tls_probe(cli_opts *o, const sk_url *url, const sk_sockaddr *addr, sk_tls_info *info)
{
    probe p = {.info = info, .target = o->args[0], .rc = -1};
    if (cli_tls_client(o, url, &p.tls))
        return 1;
    if (cli_loop_new(o, &p.loop) < 0) {
        sk_tls_free(p.tls);
        cli_error("out of memory");
        return 1;
    }
    int r = sk_connect(p.loop, addr, &o->sock, on_connected, &p);
    if (r < 0)
        cli_error("cannot connect to %s: %s", p.target, sk_strerror(r));
    else
        sk_loop_run(p.loop);
    if (p.conn)
        sk_conn_abort(p.conn, 0);
    sk_loop_free(p.loop);
    sk_tls_free(p.tls);
    return r < 0 ? 1 : p.rc < 0 ? 1 : p.rc;
}
