/* serve.c — `sockit serve SERVICE [URL ...]`: one sk_server on every URL,
 * a graceful drain on SIGTERM/SIGINT, and a hard exit on a second signal. */
#include "cli/options.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct serve_state {
    sk_loop *loop;
    sk_server *srv;
    sk_tls *tls; /* of the tls:// and wss:// listeners, or NULL */
    int signals;
    int worker; /* index among --workers processes; only worker 0 prints the banner */
} serve_state;

static void on_drained(sk_server *s, void *ud)
{
    serve_state *st = ud;
    sk_loop_stop(st->loop);
}

static void on_signal(sk_loop *loop, int signo, void *ud)
{
    serve_state *st = ud;
    if (st->signals++ > 0) { /* second signal: stop waiting for slow clients */
        fprintf(stderr, "sockit: %s again, exiting now\n", strsignal(signo));
        sk_loop_stop(loop);
        return;
    }
    fprintf(stderr, "sockit: %s, draining %zu client(s)\n", strsignal(signo),
            sk_server_conn_count(st->srv));
    sk_server_shutdown(st->srv, on_drained, st);
}

/* SIGHUP: the certificate and key are read again for new connections. */
static void on_hup(sk_loop *loop, int signo, void *ud)
{
    serve_state *st = ud;
    char err[512];
    if (!st->tls)
        return;
    if (sk_tls_reload(st->tls, err, sizeof err) < 0)
        cli_error("SIGHUP: %s (the old certificate stays in use)", err);
    else
        fprintf(stderr, "sockit: SIGHUP: certificate reloaded for new connections (%s)\n",
                sk_tls_fingerprint(st->tls));
}

/* The TLS configuration when a URL asks for it, made from the first one's
 * host, before any --workers fork (every worker serves the same certificate). */
static int make_tls(cli_opts *o)
{
    for (int i = 1; i < o->nargs; i++) {
        sk_url url;
        if (cli_url(o->args[i], &url) == 0 && sk_url_is_tls(&url))
            return cli_tls_server(o, url.host, &o->server_tls);
    }
    return 0;
}

static int add_listeners(serve_state *st, cli_opts *o)
{
    const char *deflt = "tcp://127.0.0.1:8080";
    int n = o->nargs > 1 ? o->nargs - 1 : 1;
    for (int i = 0; i < n; i++) {
        const char *text = o->nargs > 1 ? o->args[i + 1] : deflt;
        sk_url url;
        char err[512];
        if (cli_url(text, &url))
            return 2;
        if (sk_server_listen(st->srv, &url, err, sizeof err) < 0) {
            cli_error("%s", err);
            return 1;
        }
    }
    return 0;
}

static void print_banner(const serve_state *st, const char *service, const cli_opts *o)
{
    if (st->worker > 0)
        return;
    for (int i = 0; i < sk_server_listener_count(st->srv); i++) {
        const char *name = sk_server_listener_name(st->srv, i);
        fprintf(stderr, "sockit: serving %s on %s (try: sockit connect %s)", service, name, name);
        if (o->workers > 1)
            fprintf(stderr, " [%d workers x %d threads]", o->workers, sk_server_thread_count(st->srv));
        fputc('\n', stderr);
        int wss = strncmp(name, "wss://", 6) == 0;
        if (wss || strncmp(name, "ws://", 5) == 0) { /* the page lives at / on the same port */
            const char *host = name + 5 + wss, *slash = strchr(host, '/');
            int hostlen = slash ? (int)(slash - host) : (int)strlen(host);
            fprintf(stderr, "sockit: open http%s://%.*s/ in a browser to join\n", wss ? "s" : "",
                    hostlen, host);
        }
    }
}

/* Every URL must parse before anything starts (and before workers fork). */
static int check_urls(const cli_opts *o)
{
    for (int i = 1; i < o->nargs; i++) {
        sk_url url;
        if (cli_url(o->args[i], &url))
            return 2;
        if (o->workers > 1 && (sk_url_is_unix(&url))) {
            cli_error("--workers shares listeners with SO_REUSEPORT, which unix sockets lack: "
                      "use tcp:// or udp:// URLs, or --threads");
            return 2;
        }
    }
    return 0;
}

static int serve_one(cli_opts *o, int worker);

/* --cluster: chat only, a redis:// URL that resolves, names that fit. */
static int check_cluster(const cli_opts *o)
{
    char err[512];
    if (!o->cluster && (o->cluster_room || o->node)) {
        cli_error("--cluster-room and --node need --cluster redis://HOST:PORT");
        return 2;
    }
    if (!o->cluster)
        return 0;
    if (strcmp(o->args[0], "chat") != 0) {
        cli_error("--cluster works with serve chat only");
        return 2;
    }
    if (sk_cluster_check(o->cluster, o->cluster_room, o->node, err, sizeof err) < 0) {
        cli_error("%s", err);
        return 2;
    }
    return 0;
}

int cmd_serve(cli_opts *o)
{
    if (o->nargs < 1) {
        cli_error("serve needs a SERVICE (one of: %s)", sk_service_names());
        return 2;
    }
    if (!sk_service_exists(o->args[0])) {
        cli_error("unknown service '%s' (one of: %s)", o->args[0], sk_service_names());
        return 2;
    }
    int rc = check_urls(o);
    if (rc || (rc = check_cluster(o)) || (rc = make_tls(o)))
        return rc;
    if (o->workers > 1) {
        o->sock.reuseport = 1;
        rc = cli_run_workers(o, serve_one);
    } else {
        rc = serve_one(o, 0);
    }
    sk_tls_free(o->server_tls);
    return rc;
}

static int serve_one(cli_opts *o, int worker)
{
    serve_state st = {.worker = worker};
    sk_server_opts so;
    sk_server_opts_init(&so);
    so.service = o->args[0];
    so.text = o->text;
    if (o->in_frame_set) /* else the service's own (chat, stdio: text) */
        so.in_frame = o->in_frame;
    if (o->out_frame_set)
        so.out_frame = o->out_frame;
    so.max_frame = o->max_frame;
    so.compress = o->compress ? &o->zopts : NULL;
    so.sock = o->sock;
    so.verbose = o->verbose;
    so.drain_ms = (unsigned)(o->drain_secs * 1000);
    so.threads = o->threads;
    so.io = o->io;
    so.ws_protocols = o->nws_protocols ? o->ws_protocols : NULL;
    so.ws_origins = o->nws_origins ? o->ws_origins : NULL;
    so.ws_ping_ms = (unsigned)(o->ws_ping_secs * 1000);
    so.ws_deflate = o->ws_deflate;
    so.max_conns = o->max_conns;
    so.idle_ms = (unsigned)(o->idle_secs * 1000);
    so.frame_timeout_ms = (unsigned)(o->frame_timeout_secs * 1000);
    if (o->tls.handshake_ms) /* --handshake-timeout: WebSocket's as TLS's */
        so.handshake_ms = o->tls.handshake_ms;
    so.max_queue = o->max_queue;
    so.exec_shell = o->exec_shell;
    so.exec_allow = o->nallow ? o->allow : NULL;
    so.exec_timeout_ms = (unsigned)(o->exec_timeout_secs * 1000);
    so.exec_max_output = o->exec_max_output;
    so.allow_remote = o->allow_remote;
    so.exec_allow_redirect = o->exec_allow_redirect;
    char err[512], node[96];
    so.cluster = o->cluster;
    so.cluster_room = o->cluster_room;
    so.cluster_node = o->node;
    if (o->node && o->workers > 1) { /* every worker process is a node of its own */
        snprintf(node, sizeof node, "%.56s-w%d", o->node, worker);
        so.cluster_node = node;
    }
    st.tls = o->server_tls;
    so.tls = st.tls;
    if (cli_loop_new(o, &st.loop) < 0) {
        cli_error("cannot start: out of memory");
        return 1;
    }
    /* Signals first: the server's threads inherit the blocked mask. */
    sk_loop_on_signal(st.loop, SIGINT, on_signal, &st);
    sk_loop_on_signal(st.loop, SIGTERM, on_signal, &st);
    if (st.tls)
        sk_loop_on_signal(st.loop, SIGHUP, on_hup, &st);
    if (sk_server_new(st.loop, &so, &st.srv, err, sizeof err) < 0) {
        cli_error("%s", err);
        sk_loop_free(st.loop);
        return 1;
    }
    int rc = add_listeners(&st, o);
    if (rc == 0) {
        print_banner(&st, so.service, o);
        if (sk_loop_run(st.loop) < 0)
            rc = 1;
    }
    sk_server_free(st.srv);
    sk_loop_free(st.loop);
    return rc;
}
