/* options.c — the option table of the sockit CLI, its parser (long options
 * with "--opt VALUE" or "--opt=VALUE") and the generated --help text. */
#include "cli/options.h"

#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALL (CMD_SERVE | CMD_CONNECT | CMD_BENCH | CMD_INFO)
#define NET (CMD_SERVE | CMD_CONNECT | CMD_BENCH)
#define CLIENT (CMD_CONNECT | CMD_BENCH | CMD_INFO)


void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("sockit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int parse_size(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ull * 1024 * 1024, end++;
    if (errno || end == v || *end || v[0] == '-' || n > ULLONG_MAX / mul)
        return -1;
    *out = (size_t)(n * mul);
    return 0;
}

static int parse_int(const char *v, int min, int max, int *out)
{
    size_t n;
    if (parse_size(v, &n) < 0 || n < (size_t)min || n > (size_t)max)
        return -1;
    *out = (int)n;
    return 0;
}

static int parse_secs(const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= 0) || d > 1e6)
        return -1;
    *out = d;
    return 0;
}

static int set_in_frame(cli_opts *o, const char *v)
{
    o->in_frame_set = 1;
    return sk_frame_from_name(v, &o->in_frame);
}
static int set_out_frame(cli_opts *o, const char *v)
{
    o->out_frame_set = 1;
    return sk_frame_from_name(v, &o->out_frame);
}
static int set_frame(cli_opts *o, const char *v)
{
    return set_in_frame(o, v) < 0 ? -1 : set_out_frame(o, v);
}
static int set_max_frame(cli_opts *o, const char *v)
{
    return parse_size(v, &o->max_frame) < 0 || o->max_frame == 0 || o->max_frame > UINT32_MAX ? -1 : 0;
}
static int set_backlog(cli_opts *o, const char *v) { return parse_int(v, 1, 1 << 20, &o->sock.backlog); }
static int set_reuseaddr(cli_opts *o, const char *v) { return o->sock.reuseaddr = 1, 0; }
static int set_no_reuseaddr(cli_opts *o, const char *v) { return o->sock.reuseaddr = 0, 0; }
static int set_reuseport(cli_opts *o, const char *v) { return o->sock.reuseport = 1, 0; }
static int set_nodelay(cli_opts *o, const char *v) { return o->sock.nodelay = 1, 0; }
static int set_sndbuf(cli_opts *o, const char *v) { return parse_int(v, 1, INT_MAX / 2, &o->sock.sndbuf); }
static int set_rcvbuf(cli_opts *o, const char *v) { return parse_int(v, 1, INT_MAX / 2, &o->sock.rcvbuf); }
static int set_keepalive(cli_opts *o, const char *v)
{
    return parse_int(v, 1, 32767, &o->sock.keepalive_secs);
}
static int set_verbose(cli_opts *o, const char *v) { return o->verbose++, 0; }
static int set_text(cli_opts *o, const char *v) { return o->text = v, 0; }
static int set_drain(cli_opts *o, const char *v) { return parse_secs(v, &o->drain_secs); }
static int set_wait(cli_opts *o, const char *v) { return parse_secs(v, &o->wait_secs); }
static int set_help(cli_opts *o, const char *v) { return o->help = 1, 0; }
static int set_max_conns(cli_opts *o, const char *v)
{
    return parse_size(v, &o->max_conns) < 0 || o->max_conns == 0 ? -1 : 0;
}
static int set_idle(cli_opts *o, const char *v) { return parse_secs(v, &o->idle_secs); }
static int set_frame_timeout(cli_opts *o, const char *v)
{
    return parse_secs(v, &o->frame_timeout_secs) < 0 || o->frame_timeout_secs > 3600 ? -1 : 0;
}
static int set_max_queue(cli_opts *o, const char *v)
{
    return parse_size(v, &o->max_queue) < 0 || o->max_queue == 0 ? -1 : 0;
}
static int set_shell(cli_opts *o, const char *v) { return o->exec_shell = 1, 0; }
static int set_allow(cli_opts *o, const char *v)
{
    if (o->nallow == CLI_MAX_ARGS || !*v)
        return -1;
    o->allow[o->nallow++] = v;
    return 0;
}
static int set_exec_timeout(cli_opts *o, const char *v)
{
    return parse_secs(v, &o->exec_timeout_secs) < 0 || o->exec_timeout_secs <= 0 ? -1 : 0;
}
static int set_max_output(cli_opts *o, const char *v)
{
    return parse_size(v, &o->exec_max_output) < 0 || o->exec_max_output == 0 ? -1 : 0;
}
static int set_allow_remote(cli_opts *o, const char *v) { return o->allow_remote = 1, 0; }
static int set_allow_redirect(cli_opts *o, const char *v) { return o->exec_allow_redirect = 1, 0; }
static int set_cluster(cli_opts *o, const char *v) { return o->cluster = v, 0; }
static int set_cluster_room(cli_opts *o, const char *v) { return o->cluster_room = v, 0; }
static int set_node(cli_opts *o, const char *v) { return o->node = v, 0; }
static int set_json(cli_opts *o, const char *v) { return o->json = 1, 0; }
static int add_to(const char **list, int *n, const char *v)
{
    if (*n == CLI_MAX_ARGS || !*v)
        return -1;
    list[(*n)++] = v;
    return 0;
}
static int set_ws_protocol(cli_opts *o, const char *v)
{
    o->ws_protocol = v; /* connect: the whole offer, "a, b" */
    return add_to(o->ws_protocols, &o->nws_protocols, v);
}
static int set_ws_origin(cli_opts *o, const char *v) { return add_to(o->ws_origins, &o->nws_origins, v); }
static int set_ws_ping(cli_opts *o, const char *v) { return parse_secs(v, &o->ws_ping_secs); }

/* --ws-deflate (shared) or --ws-deflate=context (serve only). */
static int set_ws_deflate(cli_opts *o, const char *v)
{
    if (*v && (strcmp(v, "context") != 0 || o->cmd != CMD_SERVE))
        return *v && strcmp(v, "shared") == 0 ? (o->ws_deflate = SK_WS_DEFLATE_SHARED, 0) : -1;
    o->ws_deflate = *v ? SK_WS_DEFLATE_CONTEXT : SK_WS_DEFLATE_SHARED;
    return 0;
}
static int set_binary(cli_opts *o, const char *v) { return o->binary = 1, 0; }
/* CPUs this process may run on (taskset counts), for the default --threads. */
static int cpus_allowed(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static int set_threads(cli_opts *o, const char *v) { return parse_int(v, 1, 64, &o->threads); }
static int set_io(cli_opts *o, const char *v) { return sk_io_parse(v, &o->io); }

int cli_loop_new(const cli_opts *o, sk_loop **out)
{
    static int warned;
    const char *why = NULL;
    int r = sk_loop_new_io(out, o->io, &why);
    if (r == 0 && why && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
        fprintf(stderr, "sockit: io_uring not available (%s): using epoll\n", why);
    return r;
}
static int set_workers(cli_opts *o, const char *v) { return parse_int(v, 1, 64, &o->workers); }
/* ---- bench ---- */
static int parse_count(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    size_t n;
    if (parse_size(v, &n) < 0 || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}
static int set_b_conns(cli_opts *o, const char *v)
{
    uint64_t n;
    return parse_count(v, 1, 1000000, &n) < 0 ? -1 : (o->bench.conns = (unsigned)n, 0);
}
static int set_b_duration(cli_opts *o, const char *v)
{
    return parse_secs(v, &o->bench.duration) < 0 || o->bench.duration <= 0 ? -1 : 0;
}
static int set_b_messages(cli_opts *o, const char *v)
{
    return parse_count(v, 1, UINT64_C(1) << 50, &o->bench.messages);
}
static int set_b_size(cli_opts *o, const char *v)
{
    return parse_size(v, &o->bench.size) < 0 || o->bench.size == 0 || o->bench.size > ((size_t)64 << 20)
               ? -1 : 0;
}
static int set_b_depth(cli_opts *o, const char *v)
{
    uint64_t n;
    return parse_count(v, 1, 65536, &n) < 0 ? -1 : (o->bench.depth = (unsigned)n, 0);
}
static int set_b_rate(cli_opts *o, const char *v)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d > 0) || d > 1e9)
        return -1;
    o->bench.rate = d;
    return 0;
}
static int set_b_threads(cli_opts *o, const char *v)
{
    uint64_t n;
    return parse_count(v, 1, 256, &n) < 0 ? -1 : (o->bench.threads = (unsigned)n, 0);
}
static int set_b_verify(cli_opts *o, const char *v) { return o->bench.verify = 1, 0; }
static int set_b_json(cli_opts *o, const char *v) { return *v ? (o->bench.json = v, 0) : -1; }
static int set_b_html(cli_opts *o, const char *v) { return *v ? (o->bench.html = v, 0) : -1; }
static int set_b_sources(cli_opts *o, const char *v) { return *v ? (o->bench.source_addrs = v, 0) : -1; }
static int set_b_ramp(cli_opts *o, const char *v) { return o->bench.ramp = 1, 0; }
static int set_b_timeout(cli_opts *o, const char *v)
{
    return parse_secs(v, &o->bench.timeout) < 0 || o->bench.timeout <= 0 ? -1 : 0;
}

static int set_cert(cli_opts *o, const char *v) { return *v ? (o->tls.cert = v, 0) : -1; }
static int set_key(cli_opts *o, const char *v) { return *v ? (o->tls.key = v, 0) : -1; }
static int set_ca(cli_opts *o, const char *v) { return *v ? (o->tls.ca = v, 0) : -1; }
static int set_alpn(cli_opts *o, const char *v) { return *v ? (o->tls.alpn = v, 0) : -1; }
static int set_servername(cli_opts *o, const char *v) { return *v ? (o->tls.servername = v, 0) : -1; }
static int set_insecure(cli_opts *o, const char *v) { return o->tls.insecure = 1, 0; }
static int set_resume(cli_opts *o, const char *v) { return o->tls.resume = 1, 0; }
static int set_b_handshakes(cli_opts *o, const char *v) { return o->bench.handshakes = 1, 0; }

static int set_pin(cli_opts *o, const char *v)
{
    size_t n = strlen(v);
    if (n != 71 || strncmp(v, "sha256:", 7) != 0 || strspn(v + 7, "0123456789abcdefABCDEF") != 64)
        return -1;
    o->tls.pin = v;
    return 0;
}

static int set_tls_min(cli_opts *o, const char *v)
{
    if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0)
        return -1;
    o->tls.min_version = v[2] == '2' ? 12 : 13;
    return 0;
}

static int set_handshake_timeout(cli_opts *o, const char *v)
{
    double s;
    if (parse_secs(v, &s) < 0 || s <= 0 || s > 86400)
        return -1;
    o->tls.handshake_ms = (unsigned)(s * 1000 + 0.5);
    return 0;
}

static int set_ktls(cli_opts *o, const char *v)
{
    if (strcmp(v, "auto") != 0 && strcmp(v, "off") != 0)
        return -1;
    o->tls.ktls_off = v[0] == 'o';
    return 0;
}

static int set_send(cli_opts *o, const char *v)
{
    if (o->nsends == CLI_MAX_ARGS)
        return -1;
    o->sends[o->nsends++] = v;
    return 0;
}

/* ---- compressed framing: --compress, --compress-min, --compress-level ---- */
static int set_compress(cli_opts *o, const char *v)
{
    o->compress = 1;
    return sk_zcodec_from_name(v, &o->zopts.codec) < 0 ? -1 : 0;
}
static int set_compress_min(cli_opts *o, const char *v)
{
    return parse_size(v, &o->zopts.min) < 0 || o->zopts.min == 0 ? -1 : 0;
}
static int set_compress_level(cli_opts *o, const char *v) { return parse_int(v, 1, 22, &o->zopts.level); }

/* --compress needs len16/32/64 framing both ways, and a deflate level is 1-9. */
static int check_compress(const cli_opts *o)
{
    if (!o->compress)
        return 0;
    if (!sk_zframe_mode_ok(o->in_frame) || !sk_zframe_mode_ok(o->out_frame)) {
        cli_error("--compress needs len16, len32 or len64 framing (--frame len32be, ...), not %s",
                  sk_frame_name(sk_zframe_mode_ok(o->in_frame) ? o->out_frame : o->in_frame));
        return 2;
    }
    for (int i = 0; i < o->nargs; i++) /* (a WebSocket message has no length header) */
        if (strncmp(o->args[i], "ws://", 5) == 0 || strncmp(o->args[i], "wss://", 6) == 0) {
            cli_error("--compress applies to len16/32/64 streams, not %s (WebSocket: --ws-deflate)",
                      o->args[i]);
            return 2;
        }
    if (o->zopts.codec == SK_ZCODEC_DEFLATE && o->zopts.level > 9) {
        cli_error("--compress-level %d: deflate levels are 1 to 9", o->zopts.level);
        return 2;
    }
    return 0;
}

static const cli_opt options[] = {
    {"frame", 0, "MODE", NET, set_frame,
     "framing both ways: raw line text len8 len16be len16le len32be len32le len64be len64le"},
    {"in-frame", 0, "MODE", NET, set_in_frame, "framing of what is received"},
    {"out-frame", 0, "MODE", NET, set_out_frame, "framing of what is sent"},
    {"max-frame", 0, "BYTES", NET, set_max_frame, "largest message accepted (default 16M)"},
    {"compress", 0, "CODEC", NET, set_compress,
     "zstd, deflate or stored: lenN bodies are a codec byte + payload (any codec accepted)"},
    {"compress-min", 0, "BYTES", NET, set_compress_min,
     "--compress: smaller messages go stored (default 256)"},
    {"compress-level", 0, "N", NET, set_compress_level,
     "--compress: codec level (default zstd 1, deflate 6)"},
    {"text", 0, "TEXT", CMD_SERVE, set_text, "greet: the greeting (default \"Thank you for connecting\\r\\n\")"},
    {"send", 0, "TEXT", CMD_CONNECT, set_send, "send TEXT as one message, print the replies, exit (repeatable)"},
    {"wait", 0, "SECS", CMD_CONNECT, set_wait,
     "after input ends, stop once the server is silent this long (default 2)"},
    {"drain-timeout", 0, "SECS", CMD_SERVE, set_drain, "on SIGTERM, time allowed to flush replies (default 5)"},
    {"ws-protocol", 0, "NAME", CMD_SERVE | CMD_CONNECT, set_ws_protocol,
     "WebSocket subprotocol: serve accepts it (repeatable); connect offers it"},
    {"ws-origin", 0, "ORIGIN", CMD_SERVE | CMD_CONNECT, set_ws_origin,
     "WebSocket Origin: serve lets only browsers from it in (repeatable); connect sends it"},
    {"ws-ping", 0, "SECS", CMD_SERVE, set_ws_ping, "WebSocket keepalive ping interval"},
    {"ws-deflate", 0, "[=context]", NET, set_ws_deflate,
     "WebSocket permessage-deflate: serve accepts it (=context: a compression context per "
     "connection), connect and bench offer it"},
    {"binary", 0, NULL, CMD_CONNECT, set_binary, "WebSocket: send binary frames (default text)"},
    {"threads", 0, "N", CMD_SERVE, set_threads, "event-loop threads (default: one per CPU)"},
    {"workers", 0, "N", CMD_SERVE, set_workers,
     "N processes sharing the listeners via SO_REUSEPORT (tcp/udp; default 1)"},
    {"max-conns", 0, "N", CMD_SERVE, set_max_conns, "clients beyond N are accepted and closed at once"},
    {"idle-timeout", 0, "SECS", CMD_SERVE, set_idle, "close clients silent this long"},
    {"frame-timeout", 0, "SECS", CMD_SERVE, set_frame_timeout,
     "close a client whose begun message is not complete after SECS (default 60, 0 = never, max 3600)"},
    {"max-queue", 0, "BYTES", CMD_SERVE, set_max_queue,
     "drop a client whose unsent output exceeds this (chat default 8M)"},
    {"shell", 0, NULL, CMD_SERVE, set_shell, "exec: run commands with /bin/sh -c (default: argv, no shell)"},
    {"allow", 0, "PROG", CMD_SERVE, set_allow, "exec: only these programs may run (repeatable)"},
    {"timeout", 0, "SECS", CMD_SERVE, set_exec_timeout, "exec: kill a command's process group after this (default 10)"},
    {"max-output", 0, "BYTES", CMD_SERVE, set_max_output, "exec: cap of a reply's output (default 1M)"},
    {"cluster", 0, "URL", CMD_SERVE, set_cluster,
     "chat: one room across the nodes sharing this Redis (redis://HOST:PORT)"},
    {"cluster-room", 0, "NAME", CMD_SERVE, set_cluster_room, "chat --cluster: the room (default chat)"},
    {"node", 0, "NAME", CMD_SERVE, set_node, "chat --cluster: this node's name (default hostname:pid)"},
    {"allow-remote", 0, NULL, CMD_SERVE, set_allow_remote, "exec: allow listening on non-loopback addresses"},
    {"allow-redirect", 0, NULL, CMD_SERVE, set_allow_redirect,
     "exec --shell --allow: permit output redirections ('>', '>>', '2>' ...; refused by default)"},
    {"json", 0, NULL, CMD_INFO, set_json, "machine-readable output"},
    {"conns", 'c', "N", CMD_BENCH, set_b_conns, "connections (default 10)"},
    {"duration", 'd', "SECS", CMD_BENCH, set_b_duration, "run this long (default 10 unless -n)"},
    {"messages", 'n', "N", CMD_BENCH, set_b_messages, "stop once N replies arrived (total; with --handshakes: N iterations)"},
    {"size", 0, "BYTES", CMD_BENCH, set_b_size, "message size (default 64)"},
    {"depth", 0, "N", CMD_BENCH, set_b_depth, "messages in flight per connection (default 1)"},
    {"rate", 0, "MSGS/S", CMD_BENCH, set_b_rate,
     "open loop: send at this total rate; latency counted from the scheduled time"},
    {"threads", 0, "N", CMD_BENCH, set_b_threads, "threads, each with its own loop (default 1)"},
    {"verify", 0, NULL, CMD_BENCH, set_b_verify,
     "check every reply byte for byte; count lost/dup/reorder/corrupt"},
    {"json", 0, "FILE", CMD_BENCH, set_b_json,
     "also write the report as JSON to FILE (- for stdout), with the full latency histogram"},
    {"html", 0, "FILE", CMD_BENCH, set_b_html,
     "also write the report as one self-contained HTML page with plots to FILE"},
    {"source-addrs", 0, "A-B", CMD_BENCH, set_b_sources,
     "spread tcp connections over these local IPv4 addresses (A-B, A,B,...)"},
    {"timeout", 0, "SECS", CMD_BENCH, set_b_timeout,
     "connect timeout, and wait for the last replies at the end (default 5)"},
    {"ramp", 0, NULL, CMD_BENCH, set_b_ramp,
     "connect every connection first; -d, --rate, latency and msgs/s count from when all are up"},
    {"io", 0, "epoll|uring", NET, set_io,
     "I/O backend: epoll (default) or io_uring (falls back to epoll, with a warning)"},
    {"backlog", 0, "N", CMD_SERVE, set_backlog, "listen backlog (default 511)"},
    {"reuseaddr", 0, NULL, CMD_SERVE, set_reuseaddr, "SO_REUSEADDR (on by default)"},
    {"no-reuseaddr", 0, NULL, CMD_SERVE, set_no_reuseaddr, "turn SO_REUSEADDR off"},
    {"reuseport", 0, NULL, CMD_SERVE, set_reuseport, "SO_REUSEPORT"},
    {"sndbuf", 0, "BYTES", NET, set_sndbuf, "SO_SNDBUF"},
    {"rcvbuf", 0, "BYTES", NET, set_rcvbuf, "SO_RCVBUF"},
    {"nodelay", 0, NULL, NET, set_nodelay, "TCP_NODELAY"},
    {"keepalive", 0, "SECS", NET, set_keepalive, "TCP keepalive with this idle time"},
    {"verbose", 'v', NULL, NET, set_verbose, "log accepts and closes; twice (-vv) also each read's size"},
    {"cert", 0, "FILE", NET | CMD_INFO, set_cert,
     "TLS: certificate, PEM, chain allowed (serve without it: a temporary self-signed one)"},
    {"key", 0, "FILE", NET | CMD_INFO, set_key, "TLS: the private key of --cert (PEM)"},
    {"client-ca", 0, "FILE", CMD_SERVE, set_ca, "TLS: require client certificates signed by this CA"},
    {"cafile", 0, "FILE", CLIENT, set_ca, "TLS: trust this CA instead of the system store"},
    {"insecure", 'k', NULL, CLIENT, set_insecure, "TLS: do not verify the server's certificate (warns)"},
    {"servername", 0, "NAME", CLIENT, set_servername, "TLS: SNI and the name checked (default: the URL's host)"},
    {"pin", 0, "sha256:HEX", CLIENT, set_pin, "TLS: accept exactly the certificate with this fingerprint"},
    {"alpn", 0, "LIST", ALL, set_alpn, "TLS: ALPN protocols to offer or accept, comma-separated"},
    {"tls-min", 0, "1.2|1.3", ALL, set_tls_min, "TLS: lowest version accepted (default 1.2)"},
    {"handshake-timeout", 0, "SECS", ALL, set_handshake_timeout,
     "TLS and WebSocket: close a connection whose handshake is not done by then (default 10)"},
    {"ktls", 0, "auto|off", NET, set_ktls, "kernel TLS: auto (default: TLS 1.3 server connections hand their keys to the kernel where it has the tls module) or off"},
    {"resume", 0, NULL, CMD_BENCH | CMD_CONNECT, set_resume, "TLS: resume the last session (tickets)"},
    {"handshakes", 0, NULL, CMD_BENCH, set_b_handshakes,
     "each iteration: connect, TLS handshake, one message, close (handshakes per second)"},
    {"help", 'h', NULL, ALL, set_help, "show this help"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

/* ---- relay: its own table (sockit relay FROM TO) ---- */
static int set_from_frame(cli_opts *o, const char *v) { return sk_frame_from_name(v, &o->relay.from_frame); }
static int set_to_frame(cli_opts *o, const char *v) { return sk_frame_from_name(v, &o->relay.to_frame); }
static int set_to_cert(cli_opts *o, const char *v) { return *v ? (o->relay.to_cert = v, 0) : -1; }
static int set_to_key(cli_opts *o, const char *v) { return *v ? (o->relay.to_key = v, 0) : -1; }
static int set_no_splice(cli_opts *o, const char *v) { return o->relay.no_splice = 1, 0; }
static int set_page(cli_opts *o, const char *v) { return *v ? (o->relay.page = v, 0) : -1; }
static int set_connect_timeout(cli_opts *o, const char *v)
{
    return parse_secs(v, &o->relay.connect_secs) < 0 || o->relay.connect_secs <= 0 ? -1 : 0;
}

/* Per side: [0] FROM, [1] TO. Compressed framing needs lenN framing on
 * that side (checked by relay.c, which knows the URLs); permessage-deflate
 * a ws:// side: FROM accepts it (=context: a context per connection), TO
 * offers it. */
static int set_side_compress(cli_opts *o, int side, const char *v)
{
    o->relay.compress[side] = 1;
    return sk_zcodec_from_name(v, &o->relay.zopts[side].codec) < 0 ? -1 : 0;
}
static int set_from_compress(cli_opts *o, const char *v) { return set_side_compress(o, 0, v); }
static int set_to_compress(cli_opts *o, const char *v) { return set_side_compress(o, 1, v); }
static int set_from_ws_deflate(cli_opts *o, const char *v)
{
    if (*v && strcmp(v, "context") != 0 && strcmp(v, "shared") != 0)
        return -1;
    o->relay.ws_deflate[0] = strcmp(v, "context") == 0 ? SK_WS_DEFLATE_CONTEXT : SK_WS_DEFLATE_SHARED;
    return 0;
}
static int set_to_ws_deflate(cli_opts *o, const char *v) { return o->relay.ws_deflate[1] = SK_WS_DEFLATE_SHARED, 0; }

static const cli_opt relay_options[] = {
    {"from-frame", 0, "MODE", CMD_RELAY, set_from_frame,
     "framing on the FROM side: raw line len8 len16be ... len64le (ws: one message each)"},
    {"to-frame", 0, "MODE", CMD_RELAY, set_to_frame, "framing on the TO side (default raw)"},
    {"from-compress", 0, "CODEC", CMD_RELAY, set_from_compress,
     "len16/32/64 FROM: compressed framing, zstd deflate or stored (any codec accepted)"},
    {"to-compress", 0, "CODEC", CMD_RELAY, set_to_compress,
     "len16/32/64 TO: compressed framing, zstd deflate or stored (any codec accepted)"},
    {"compress-min", 0, "BYTES", CMD_RELAY, set_compress_min,
     "--from/--to-compress: smaller messages go stored (default 256)"},
    {"compress-level", 0, "N", CMD_RELAY, set_compress_level,
     "--from/--to-compress: codec level (default zstd 1, deflate 6)"},
    {"from-ws-deflate", 0, "[=context]", CMD_RELAY, set_from_ws_deflate,
     "ws:// FROM: accept permessage-deflate (=context: a compression context per client)"},
    {"to-ws-deflate", 0, NULL, CMD_RELAY, set_to_ws_deflate, "ws:// TO: offer permessage-deflate"},
    {"max-frame", 0, "BYTES", CMD_RELAY, set_max_frame, "largest message accepted (default 16M)"},
    {"max-queue", 0, "BYTES", CMD_RELAY, set_max_queue,
     "output waiting toward one side above which reading the other pauses (default 1M)"},
    {"max-conns", 0, "N", CMD_RELAY, set_max_conns, "clients beyond N are accepted and closed at once"},
    {"idle-timeout", 0, "SECS", CMD_RELAY, set_idle,
     "close a relayed connection (or udp session) silent both ways this long (udp default 60)"},
    {"connect-timeout", 0, "SECS", CMD_RELAY, set_connect_timeout,
     "TO not connected (and its handshakes done) by then: the client is closed (default 10)"},
    {"drain-timeout", 0, "SECS", CMD_RELAY, set_drain, "on SIGTERM, time allowed to flush (default 5)"},
    {"page", 0, "FILE", CMD_RELAY, set_page,
     "ws:// FROM: answer a plain GET with this HTML file (at most 1M; default 404)"},
    {"no-splice", 0, NULL, CMD_RELAY, set_no_splice,
     "raw tcp/unix both sides: copy through user space instead of splice()"},
    {"cert", 0, "FILE", CMD_RELAY, set_cert, "FROM tls:// or wss://: certificate (default: temporary)"},
    {"key", 0, "FILE", CMD_RELAY, set_key, "FROM tls:// or wss://: the private key of --cert"},
    {"cafile", 0, "FILE", CMD_RELAY, set_ca, "TO tls:// or wss://: trust this CA instead of the system store"},
    {"insecure", 'k', NULL, CMD_RELAY, set_insecure, "TO: do not verify the server's certificate (warns)"},
    {"servername", 0, "NAME", CMD_RELAY, set_servername, "TO: SNI and the name checked (default: its host)"},
    {"pin", 0, "sha256:HEX", CMD_RELAY, set_pin, "TO: accept exactly the certificate with this fingerprint"},
    {"to-cert", 0, "FILE", CMD_RELAY, set_to_cert, "TO: client certificate (PEM) for mutual TLS"},
    {"to-key", 0, "FILE", CMD_RELAY, set_to_key, "TO: the private key of --to-cert"},
    {"tls-min", 0, "1.2|1.3", CMD_RELAY, set_tls_min, "TLS: lowest version accepted (default 1.2)"},
    {"handshake-timeout", 0, "SECS", CMD_RELAY, set_handshake_timeout,
     "TLS and WebSocket: close a connection whose handshake is not done by then (default 10)"},
    {"io", 0, "epoll|uring", CMD_RELAY, set_io, "I/O backend: epoll (default) or io_uring"},
    {"backlog", 0, "N", CMD_RELAY, set_backlog, "listen backlog (default 511)"},
    {"nodelay", 0, NULL, CMD_RELAY, set_nodelay, "TCP_NODELAY on both sides"},
    {"sndbuf", 0, "BYTES", CMD_RELAY, set_sndbuf, "SO_SNDBUF"},
    {"rcvbuf", 0, "BYTES", CMD_RELAY, set_rcvbuf, "SO_RCVBUF"},
    {"verbose", 'v', NULL, CMD_RELAY, set_verbose, "one log line per relayed connection (both legs), and its close"},
    {"help", 'h', NULL, CMD_RELAY, set_help, "show this help"},
};
#define NRELAY_OPTIONS (sizeof relay_options / sizeof relay_options[0])

/* The table of cmd: relay has its own, the others share the main one. */
static const cli_opt *table_of(unsigned cmd, size_t *n)
{
    *n = cmd == CMD_RELAY ? NRELAY_OPTIONS : NOPTIONS;
    return cmd == CMD_RELAY ? relay_options : options;
}

size_t cli_option_table(unsigned cmd, const cli_opt **table)
{
    size_t n;
    *table = table_of(cmd, &n);
    return n;
}

unsigned cli_commands(void)
{
    unsigned all = 0;
    for (size_t i = 0; i < NOPTIONS; i++)
        all |= options[i].cmds;
    for (size_t i = 0; i < NRELAY_OPTIONS; i++)
        all |= relay_options[i].cmds;
    return all;
}

static const cli_opt *find_long(unsigned cmd, const char *name, size_t len)
{
    size_t n;
    const cli_opt *t = table_of(cmd, &n);
    for (size_t i = 0; i < n; i++)
        if ((t[i].cmds & cmd) && strlen(t[i].name) == len && strncmp(t[i].name, name, len) == 0)
            return &t[i];
    return NULL;
}

static const cli_opt *find_short(unsigned cmd, char c)
{
    size_t n;
    const cli_opt *t = table_of(cmd, &n);
    for (size_t i = 0; i < n; i++)
        if ((t[i].cmds & cmd) && t[i].short_name == c)
            return &t[i];
    return NULL;
}

const char *cli_cmd_name(unsigned cmd)
{
    return cmd == CMD_SERVE ? "serve" : cmd == CMD_CONNECT ? "connect" : cmd == CMD_BENCH ? "bench"
           : cmd == CMD_RELAY ? "relay" : "info";
}

/* Applies one option; value may be NULL for flags. Returns 0 or 2. */
static int apply(const cli_opts *o0, cli_opts *o, const cli_opt *opt, const char *value)
{
    if (opt->set(o, value) < 0) {
        cli_error("invalid value '%s' for --%s (%s)", value ? value : "", opt->name, opt->help);
        return 2;
    }
    (void)o0;
    return 0;
}

static int parse_long(unsigned cmd, int argc, char **argv, int *i, cli_opts *o)
{
    const char *a = argv[*i] + 2, *eq = strchr(a, '=');
    const cli_opt *opt = find_long(cmd, a, eq ? (size_t)(eq - a) : strlen(a));
    if (!opt) {
        cli_error("unknown option '%s' for %s (see 'sockit %s --help')", argv[*i], cli_cmd_name(cmd),
                  cli_cmd_name(cmd));
        return 2;
    }
    const char *value = NULL;
    if (opt->arg && opt->arg[0] == '[') /* an optional value: only as --opt=VALUE */
        value = eq ? eq + 1 : "";
    else if (opt->arg) {
        if (eq)
            value = eq + 1;
        else if (*i + 1 < argc)
            value = argv[++*i];
        else {
            cli_error("option --%s needs a value (%s)", opt->name, opt->arg);
            return 2;
        }
    } else if (eq) {
        cli_error("option --%s takes no value", opt->name);
        return 2;
    }
    return apply(o, o, opt, value);
}

/* Flags may be grouped ("-vv"); an option with a value takes the rest of
 * the word ("-c20") or the next argument ("-c 20"). */
static int parse_short(unsigned cmd, int argc, char **argv, int *i, cli_opts *o)
{
    for (const char *p = argv[*i] + 1; *p; p++) {
        const cli_opt *opt = find_short(cmd, *p);
        if (!opt) {
            cli_error("unknown option '-%c' for %s (see 'sockit %s --help')", *p, cli_cmd_name(cmd),
                      cli_cmd_name(cmd));
            return 2;
        }
        if (!opt->arg) {
            if (apply(o, o, opt, NULL))
                return 2;
            continue;
        }
        const char *value = p[1] ? p + 1 : *i + 1 < argc ? argv[++*i] : NULL;
        if (!value) {
            cli_error("option -%c needs a value (%s)", *p, opt->arg);
            return 2;
        }
        return apply(o, o, opt, value);
    }
    return 0;
}

int cli_parse(unsigned cmd, int argc, char **argv, cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->max_frame = SK_MAX_FRAME_DEFAULT;
    o->drain_secs = 5;
    o->wait_secs = 2;
    o->exec_timeout_secs = 10;
    o->threads = cpus_allowed();
    if (o->threads < 1 || o->threads > 64)
        o->threads = o->threads < 1 ? 1 : 64;
    o->workers = 1;
    o->exec_max_output = (size_t)1 << 20;
    o->frame_timeout_secs = 60;
    o->text = "Thank you for connecting\r\n";
    const char *io = getenv("SOCKIT_IO"); /* the default --io (e.g. to run a test suite on uring) */
    if (io && sk_io_parse(io, &o->io) < 0) {
        cli_error("SOCKIT_IO: unknown backend '%s' (use epoll or uring)", io);
        return 2;
    }
    sk_sockopts_init(&o->sock);
    int only_args = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int r = 0;
        if (!only_args && strcmp(a, "--") == 0)
            only_args = 1;
        else if (!only_args && a[0] == '-' && a[1] == '-')
            r = parse_long(cmd, argc, argv, &i, o);
        else if (!only_args && a[0] == '-' && a[1])
            r = parse_short(cmd, argc, argv, &i, o);
        else if (o->nargs == CLI_MAX_ARGS) {
            cli_error("too many arguments (at most %d)", CLI_MAX_ARGS);
            r = 2;
        } else
            o->args[o->nargs++] = a;
        if (r)
            return r;
    }
    return check_compress(o);
}

int cli_url(const char *text, sk_url *out)
{
    char err[256];
    if (sk_url_parse(text, out, err, sizeof err) == 0)
        return 0;
    cli_error("bad URL '%s': %s", text, err);
    return 2;
}

const char *cli_usage_text(unsigned cmd)
{
    switch (cmd) {
    case CMD_SERVE:
        return "sockit serve SERVICE [URL ...] [options]\n"
               "  Run a server; with no URL it listens on tcp://127.0.0.1:8080.\n"
               "  Services: echo upper greet discard chat exec stdio\n";
    case CMD_CONNECT:
        return "sockit connect URL [options]\n"
               "  A client: a '>> ' prompt on a terminal, or lines/bytes from piped stdin,\n"
               "  or --send TEXT. Exit status 0 ok, 1 network or protocol error, 2 usage.\n";
    case CMD_BENCH:
        return "sockit bench URL [options]\n"
               "  Load test: many connections send messages and time the echoed replies\n"
               "  (closed loop, or open loop with --rate). Reports connections, messages,\n"
               "  msgs/s, MB/s, latency percentiles and errors by kind. Exit status 0 ok,\n"
               "  1 when a connection failed or --verify found errors, 2 usage.\n"
               "  ws://HOST:PORT/PATH: each connection does the WebSocket handshake first\n"
               "  (a refused one counts as 'handshake failed'); each message is one binary\n"
               "  WebSocket message and one reply (--frame does not apply).\n"
               "  tls://, wss://: the TLS handshake first (verified as by connect);\n"
               "  --handshakes makes every iteration a new connection and handshake.\n"
               "  --ramp: open all connections first (failed ones count as failed), then\n"
               "  start -d, the --rate schedules and the measurements; the report adds\n"
               "  'ramp  N connections up in S s' (JSON: ramp_s, ramp_up).\n"
               "sockit bench merge A.json B.json ... [--json FILE] [--html FILE]\n"
               "  Combine runs (e.g. from several machines) exactly: histograms and counts\n"
               "  are added, percentiles recomputed; seconds aligned by wall clock.\n";
    case CMD_RELAY:
        return "sockit relay FROM TO [options]\n"
               "  Every client accepted on FROM gets its own connection to TO; messages flow\n"
               "  both ways, re-framed per side (--from-frame, --to-frame; a ws:// side is one\n"
               "  message per WebSocket message). udp:// to udp://: a session per source\n"
               "  address. TO refusing: that client is closed at once (WebSocket: 1011).\n"
               "  Compression per side: --from-compress/--to-compress on len16/32/64 sides,\n"
               "  --from-ws-deflate/--to-ws-deflate on ws:// sides.\n";
    default:
        return "sockit info [URL] [--json]\n"
               "  Host and socket facts: hostname, addresses, default buffer sizes, somaxconn,\n"
               "  local port range, open-file limits; with a URL, what it resolves to;\n"
               "  with tls:// or wss://, what a TLS handshake agrees and the peer's certificate.\n";
    }
}

void cli_usage(unsigned cmd)
{
    printf("usage: %s\nURL: tcp://HOST:PORT udp://HOST:PORT unix:///path unixgram:///path "
           "unix://@name ws://HOST:PORT/PATH\n     tls://HOST:PORT wss://HOST:PORT/PATH (TLS: --cert, --cafile, -k, --pin, ...)\n"
           "     HOST is a name, an IPv4 address, [IPv6] or *\n"
           "\noptions:\n",
           cli_usage_text(cmd));
    size_t n;
    const cli_opt *t = table_of(cmd, &n);
    for (size_t i = 0; i < n; i++) {
        const cli_opt *opt = &t[i];
        if (!(opt->cmds & cmd))
            continue;
        char left[64];
        snprintf(left, sizeof left, "%s%c%s--%s%s%s", opt->short_name ? "-" : "",
                 opt->short_name ? opt->short_name : ' ', opt->short_name ? ", " : "  ", opt->name,
                 opt->arg && opt->arg[0] != '[' ? " " : "", opt->arg ? opt->arg : "");
        printf("  %-26s %s\n", left + (opt->short_name ? 0 : 1), opt->help);
    }
}
