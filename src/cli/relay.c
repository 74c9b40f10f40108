/* relay.c — `sockit relay FROM TO`: checks the two URLs, makes the TLS
 * configurations, listens on FROM (or binds it: udp), and drains on
 * SIGTERM like serve (a second signal exits at once). The pairs live in
 * relay_pair.c, the datagram sessions in relay_udp.c. */
#include "cli/relay.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_drain_timeout(sk_timer *t, void *ud)
{
    relay *r = ud;
    relay_log(r, "drain timeout: dropping %zu relayed connection(s)", r->npairs);
    relay_end_all(r, 1);
}

static void on_signal(sk_loop *loop, int signo, void *ud)
{
    relay *r = ud;
    if (r->signals++ > 0 || r->dg) { /* again, or datagrams: nothing to flush */
        fprintf(stderr, "sockit: %s%s, exiting now\n", strsignal(signo), r->dg ? "" : " again");
        sk_loop_stop(loop);
        return;
    }
    fprintf(stderr, "sockit: %s, draining %zu relayed connection(s)\n", strsignal(signo), r->npairs);
    r->draining = 1;
    sk_listener_free(r->l);
    r->l = NULL;
    relay_end_all(r, sk_timer_start(r->drain, (uint64_t)(r->o->drain_secs * 1000), 0) < 0);
}

static void on_accept(sk_listener *l, int fd, const sk_sockaddr *peer, void *ud)
{
    relay_pair_accept(ud, fd, peer);
}

static void on_accept_error(sk_listener *l, int err, void *ud)
{
    relay_log(ud, "accept on %s: %s (shedding a connection)", sk_listener_name(l), sk_strerror(err));
}

/* The two URLs must be of one family: streams with streams, datagrams with
 * datagrams. 0 or 2. */
static int check_urls(relay *r)
{
    cli_opts *o = r->o;
    if (o->nargs != 2) {
        cli_error("relay needs FROM and TO URLs (e.g. sockit relay ws://127.0.0.1:8081 tcp://127.0.0.1:8080)");
        return 2;
    }
    if (cli_url(o->args[0], &r->from) || cli_url(o->args[1], &r->to))
        return 2;
    if (sk_url_is_dgram(&r->from) != sk_url_is_dgram(&r->to)) {
        cli_error("cannot relay between a datagram and a stream endpoint (%s -> %s): "
                  "udp and unixgram relay to udp or unixgram", o->args[0], o->args[1]);
        return 2;
    }
    snprintf(r->to_name, sizeof r->to_name, "%s", o->args[1]);
    return 0;
}

/* --SIDE-compress needs a len16/32/64 stream on that side, --SIDE-ws-deflate
 * a ws:// or wss:// one. 0 or 2 after one line on stderr. */
static int check_side(relay *r, int side)
{
    const cli_relay_opts *ro = &r->o->relay;
    const sk_url *u = side ? &r->to : &r->from;
    const char *name = side ? "to" : "from", *arg = r->o->args[side];
    sk_frame mode = side ? ro->to_frame : ro->from_frame;
    if (ro->compress[side] && (sk_url_is_ws(u) || sk_url_is_dgram(u))) {
        cli_error("--%s-compress applies to len16/32/64 streams, not %s%s", name, arg,
                  !sk_url_is_ws(u) ? "" : side ? " (WebSocket: --to-ws-deflate)" : " (WebSocket: --from-ws-deflate)");
        return 2;
    }
    if (ro->compress[side] && !sk_zframe_mode_ok(mode)) {
        cli_error("--%s-compress needs len16, len32 or len64 framing (--%s-frame len32be, ...), not %s",
                  name, name, sk_frame_name(mode));
        return 2;
    }
    if (ro->compress[side] && ro->zopts[side].codec == SK_ZCODEC_DEFLATE && r->o->zopts.level > 9) {
        cli_error("--compress-level %d: deflate levels are 1 to 9", r->o->zopts.level);
        return 2;
    }
    if (ro->ws_deflate[side] && !sk_url_is_ws(u)) {
        cli_error("--%s-ws-deflate needs a ws:// or wss:// %s, not %s", name, side ? "TO" : "FROM", arg);
        return 2;
    }
    return 0;
}

/* The compressed-framing options of each side: its codec, with
 * --compress-min and --compress-level shared by both. */
static int make_compress(relay *r)
{
    cli_relay_opts *ro = &r->o->relay;
    for (int side = 0; side < 2; side++) {
        if (check_side(r, side))
            return 2;
        ro->zopts[side].min = r->o->zopts.min;
        ro->zopts[side].level = r->o->zopts.level;
        r->z[side] = ro->compress[side] ? &ro->zopts[side] : NULL;
    }
    return 0;
}

/* FROM's TLS is a server's (--cert/--key); TO's a client's (--cafile, -k,
 * --servername, --pin, --to-cert/--to-key). 0 or 1. */
static int make_tls(relay *r)
{
    cli_opts so = *r->o, co = *r->o;
    so.tls.ca = NULL;
    so.tls.pin = NULL;
    so.tls.servername = NULL;
    so.tls.insecure = 0;
    co.tls.cert = r->o->relay.to_cert;
    co.tls.key = r->o->relay.to_key;
    if (sk_url_is_tls(&r->from) && cli_tls_server(&so, r->from.host, &r->from_tls))
        return 1;
    if (sk_url_is_tls(&r->to) && cli_tls_client(&co, &r->to, &r->to_tls))
        return 1;
    return 0;
}

/* --page FILE: read once, at most 1 MiB. 0 or 1. */
static int load_page(relay *r)
{
    const char *path = r->o->relay.page;
    if (!path)
        return 0;
    FILE *f = fopen(path, "rb");
    size_t max = (size_t)1 << 20, n = 0;
    r->page = f ? malloc(max + 1) : NULL;
    if (r->page)
        n = fread(r->page, 1, max + 1, f);
    if (f)
        fclose(f);
    if (!r->page || n > max) {
        cli_error("--page %s: %s", path, !f ? strerror(errno) : n > max ? "larger than 1M" : "out of memory");
        return 1;
    }
    r->page[n] = 0;
    r->from_ws.page = r->page;
    return 0;
}

/* The WebSocket options of each side: FROM serves its path; TO is a
 * client naming its authority as typed. Both: --handshake-timeout and
 * their side's --*-ws-deflate. */
static void make_ws(relay *r)
{
    snprintf(r->ws_path, sizeof r->ws_path, "%s", r->from.path[0] ? r->from.path : "/");
    const cli_opts *o = r->o;
    r->from_ws = (sk_ws_opts){.path = r->ws_path, .handshake_ms = o->tls.handshake_ms,
                              .deflate = o->relay.ws_deflate[0]};
    const sk_url *u = &r->to;
    int v6 = strchr(u->host, ':') != NULL;
    snprintf(r->to_ws_host, sizeof r->to_ws_host, "%s%s%s:%u", v6 ? "[" : "", u->host,
             v6 ? "]" : "", u->port);
    r->to_ws = (sk_ws_opts){.client = 1, .host = r->to_ws_host, .path = u->path[0] ? u->path : "/",
                            .handshake_ms = o->tls.handshake_ms, .deflate = o->relay.ws_deflate[1]};
}

static int start_stream(relay *r)
{
    char err[512];
    if (sk_url_resolve(&r->to, 0, &r->to_addr, 1, err, sizeof err) < 0) {
        cli_error("cannot relay to %s: %s", r->to_name, err);
        return 1;
    }
    if (sk_listen(r->loop, &r->from, &r->o->sock, on_accept, on_accept_error, r, &r->l, err,
                  sizeof err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    fprintf(stderr, "sockit: relaying %s -> %s\n", sk_listener_name(r->l), r->to_name);
    return 0;
}

static int run(relay *r)
{
    if (cli_loop_new(r->o, &r->loop) < 0 || !(r->drain = sk_timer_new(r->loop, on_drain_timeout, r))) {
        cli_error("cannot start: out of memory");
        return 1;
    }
    sk_loop_on_signal(r->loop, SIGINT, on_signal, r);
    sk_loop_on_signal(r->loop, SIGTERM, on_signal, r);
    int rc = sk_url_is_dgram(&r->from) ? relay_udp_start(r) : start_stream(r);
    if (rc == 0 && sk_loop_run(r->loop) < 0)
        rc = 1;
    sk_listener_free(r->l);
    r->l = NULL;
    relay_end_all(r, 1);
    relay_udp_stop(r);
    sk_timer_free(r->drain);
    sk_loop_free(r->loop); /* the pairs' last on_close run here */
    return rc;
}

int cmd_relay(cli_opts *o)
{
    relay r = {.o = o};
    int rc = check_urls(&r);
    if (rc == 0)
        rc = make_compress(&r);
    if (rc)
        return rc;
    r.high = o->max_queue ? o->max_queue : (size_t)1 << 20;
    r.connect_ms = (uint64_t)((o->relay.connect_secs > 0 ? o->relay.connect_secs : 10) * 1000);
    r.idle_ms = (uint64_t)(o->idle_secs * 1000);
    r.splice = !o->relay.no_splice && !sk_url_is_dgram(&r.from) && !sk_url_is_ws(&r.from) &&
               !sk_url_is_ws(&r.to) && !sk_url_is_tls(&r.from) && !sk_url_is_tls(&r.to) &&
               o->relay.from_frame == SK_FRAME_RAW && o->relay.to_frame == SK_FRAME_RAW;
    make_ws(&r);
    rc = load_page(&r);
    if (rc == 0)
        rc = make_tls(&r);
    if (rc == 0)
        rc = run(&r);
    sk_tls_free(r.from_tls);
    sk_tls_free(r.to_tls);
    free(r.page);
    return rc;
}
