/* bench_config.c — turns the bench command line into a checked bench_cfg:
 * defaults, limits, the resolved target and the --source-addrs list. */
#include "cli/bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SOURCES 65536

static int add_range(bench_cfg *cfg, uint32_t lo, uint32_t hi)
{
    size_t n = cfg->nsources + (size_t)(hi - lo) + 1;
    if (n > MAX_SOURCES)
        return -1;
    sk_sockaddr *v = realloc(cfg->sources, n * sizeof *v);
    if (!v)
        return -1;
    cfg->sources = v;
    for (uint64_t x = lo; x <= hi; x++) {
        sk_sockaddr *a = &cfg->sources[cfg->nsources++];
        memset(a, 0, sizeof *a);
        struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl((uint32_t)x);
        a->len = sizeof *sin;
    }
    return 0;
}

/* "A", "A-B" (IPv4, inclusive) and comma-separated lists of both. */
static int parse_sources(const char *text, bench_cfg *cfg)
{
    for (const char *p = text; *p;) {
        char item[40];
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof item)
            return -1;
        memcpy(item, p, n);
        item[n] = 0;
        p += n + (p[n] == ',');
        char *dash = strchr(item, '-');
        if (dash)
            *dash = 0;
        struct in_addr a, b;
        if (inet_pton(AF_INET, item, &a) != 1 || (dash && inet_pton(AF_INET, dash + 1, &b) != 1))
            return -1;
        uint32_t lo = ntohl(a.s_addr), hi = dash ? ntohl(b.s_addr) : lo;
        if (hi < lo || add_range(cfg, lo, hi) < 0)
            return -1;
    }
    return cfg->nsources ? 0 : -1;
}

/* WebSocket framing bytes of one message of len bytes: 2-byte header, 2 or 8
 * bytes of extended length, the 4-byte mask key on what a client sends. */
static size_t ws_overhead(size_t len, int masked)
{
    return 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + (masked ? 4 : 0);
}

/* ws://: the options every connection shares (as `sockit connect` builds
 * them). Binary frames: the payload is ASCII, but text frames would make both
 * ends validate UTF-8 on every message, which is not what a bench measures. */
static void setup_ws(bench_cfg *cfg, unsigned handshake_ms)
{
    const sk_url *u = &cfg->url;
    int v6 = strchr(u->host, ':') != NULL;
    snprintf(cfg->ws_host, sizeof cfg->ws_host, "%s%s%s:%u", v6 ? "[" : "", u->host,
             v6 ? "]" : "", u->port);
    cfg->ws_opts = (sk_ws_opts){
        .client = 1, .host = cfg->ws_host, .path = u->path[0] ? u->path : "/", .binary = 1,
        .handshake_ms = handshake_ms};
}

static void defaults(const cli_opts *o, bench_cfg *cfg)
{
    const cli_bench_opts *b = &o->bench;
    cfg->conns = b->conns ? b->conns : 10;
    cfg->size = b->size ? b->size : 64;
    cfg->depth = b->depth ? b->depth : 1;
    cfg->threads = b->threads ? b->threads : 1;
    cfg->messages = b->messages;
    cfg->duration = b->duration ? b->duration : b->messages ? 0 : 10;
    cfg->rate = b->rate;
    cfg->verify = b->verify;
    cfg->ramp = b->ramp;
    cfg->handshakes = b->handshakes;
    cfg->resume = o->tls.resume;
    if (cfg->handshakes && cfg->messages && cfg->conns > cfg->messages)
        cfg->conns = (uint32_t)cfg->messages; /* -n counts iterations: no idle connections */
    cfg->json = b->json;
    cfg->html = b->html;
    cfg->verbose = o->verbose;
    cfg->timeout_ms = (uint64_t)((b->timeout > 0 ? b->timeout : 5) * 1000);
    if (cfg->timeout_ms == 0)
        cfg->timeout_ms = 1;
    cfg->in_frame = cfg->dgram ? SK_FRAME_RAW : o->in_frame;
    cfg->out_frame = cfg->dgram ? SK_FRAME_RAW : o->out_frame;
    cfg->max_frame = o->max_frame;
    cfg->compress = o->compress && !cfg->dgram ? &o->zopts : NULL;
    cfg->sock = o->sock;
    cfg->sock.nodelay = 1; /* a load generator must not wait for Nagle */
    if (cfg->threads > cfg->conns)
        cfg->threads = cfg->conns;
    if (cfg->messages && cfg->threads > cfg->messages)
        cfg->threads = (uint32_t)cfg->messages;
    cfg->header = cfg->size >= BMSG_HDR;
    cfg->match = cfg->header && (cfg->verify || cfg->dgram);
    cfg->over_out = sk_frame_header_size(cfg->out_frame) + strlen(sk_frame_trailer(cfg->out_frame));
    cfg->over_in = sk_frame_header_size(cfg->in_frame) + strlen(sk_frame_trailer(cfg->in_frame));
    cfg->whole = cfg->in_frame != SK_FRAME_RAW;
    if (cfg->ws) {
        cfg->whole = 1;
        cfg->over_out = ws_overhead(cfg->size, 1);
        cfg->over_in = ws_overhead(cfg->size, 0);
        setup_ws(cfg, o->tls.handshake_ms);
        cfg->ws_opts.deflate = o->ws_deflate;
    }
    cfg->batch = 1;
    if (!cfg->dgram && !cfg->ws && cfg->out_frame == SK_FRAME_RAW && cfg->rate <= 0) {
        /* closed loop on a raw stream: what one top-up allows goes out as one write */
        size_t fit = cfg->size < BENCH_BATCH_BYTES ? BENCH_BATCH_BYTES / cfg->size : 1;
        cfg->batch = fit < cfg->depth ? (uint32_t)fit : cfg->depth;
    }
    cfg->progress = isatty(2);
}

/* --handshakes: a TLS URL, and one message per connection. 0 or 2. */
static int check_handshakes(const cli_opts *o, const bench_cfg *cfg)
{
    const char *other = o->bench.rate > 0    ? "--rate"
                        : o->bench.depth > 1 ? "--depth"
                        : o->bench.ramp      ? "--ramp"
                                             : NULL;
    if (!sk_url_is_tls(&cfg->url)) {
        cli_error("--handshakes needs a tls:// or wss:// URL (it measures TLS handshakes)");
        return 2;
    }
    if (other) {
        cli_error("--handshakes sends one message per connection: %s does not apply", other);
        return 2;
    }
    return 0;
}

/* Limits that depend on several options. Returns 0 or 2 (after a message). */
static int check(const bench_cfg *cfg)
{
    uint8_t hdr[8];
    if (cfg->verify && !cfg->header) {
        cli_error("--verify needs --size %d or more (room for the id/sequence header)", BMSG_HDR);
        return 2;
    }
    if (cfg->ws && cfg->size > cfg->max_frame) {
        cli_error("--size %zu is larger than --max-frame %zu", cfg->size, cfg->max_frame);
        return 2;
    }
    if (!cfg->dgram && sk_frame_header(cfg->out_frame, cfg->size, hdr) < 0) {
        cli_error("--size %zu does not fit a %s frame", cfg->size, sk_frame_name(cfg->out_frame));
        return 2;
    }
    if (!cfg->dgram && cfg->in_frame != SK_FRAME_RAW && cfg->size > cfg->max_frame) {
        cli_error("--size %zu is larger than --max-frame %zu", cfg->size, cfg->max_frame);
        return 2;
    }
    if (cfg->url.scheme == SK_SCHEME_UDP && cfg->size > 65507) {
        cli_error("--size %zu is larger than a UDP datagram (65507)", cfg->size);
        return 2;
    }
    return 0;
}

static int sources(const char *text, bench_cfg *cfg)
{
    if (sk_url_is_dgram(&cfg->url) || sk_url_is_unix(&cfg->url)) {
        cli_error("--source-addrs works with tcp://, ws://, tls:// and wss:// only");
        return 2;
    }
    if (parse_sources(text, cfg) < 0) {
        cli_error("bad --source-addrs '%s' (IPv4 A-B or A,B,..., at most %d)", text, MAX_SOURCES);
        return 2;
    }
    if (cfg->addr.ss.ss_family != AF_INET) {
        cli_error("--source-addrs are IPv4 but %s is not", cfg->target);
        return 2;
    }
    return 0;
}

int bench_config(const cli_opts *o, bench_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    if (o->nargs != 1) {
        cli_error(o->nargs ? "bench takes one URL"
                           : "bench needs a URL (e.g. tcp://127.0.0.1:8080)");
        return 2;
    }
    cfg->target = o->args[0];
    cfg->cli = o;
    if (cli_url(cfg->target, &cfg->url))
        return 2;
    cfg->dgram = sk_url_is_dgram(&cfg->url);
    cfg->ws = sk_url_is_ws(&cfg->url);
    if (o->bench.handshakes && check_handshakes(o, cfg))
        return 2;
    if (cfg->ws && (o->in_frame != SK_FRAME_RAW || o->out_frame != SK_FRAME_RAW)) {
        cli_error("--frame/--in-frame/--out-frame do not apply to ws:// "
                  "(every message is one WebSocket message)");
        return 2;
    }
    if (sk_url_is_tls(&cfg->url) && cli_tls_client(o, &cfg->url, &cfg->tls))
        return 1;
    defaults(o, cfg);
    int rc = check(cfg);
    if (rc == 0) { /* datagram sockets resolve again, but a bad name fails here once */
        char err[512];
        if (sk_url_resolve(&cfg->url, 0, &cfg->addr, 1, err, sizeof err) < 0) {
            cli_error("cannot connect to %s: %s", cfg->target, err);
            rc = 1;
        }
    }
    if (rc == 0 && o->bench.source_addrs)
        rc = sources(o->bench.source_addrs, cfg);
    if (rc)
        bench_config_free(cfg);
    return rc;
}

void bench_config_free(bench_cfg *cfg)
{
    sk_tls_free(cfg->tls);
    cfg->tls = NULL;
    free(cfg->sources);
    cfg->sources = NULL;
    cfg->nsources = 0;
}
