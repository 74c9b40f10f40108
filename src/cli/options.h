/* options.h — the command line of every sockit subcommand: one option table
 * drives both parsing and --help (as in curl's tool). */
#ifndef SOCKIT_CLI_OPTIONS_H
#define SOCKIT_CLI_OPTIONS_H

#include <stddef.h>

#include "sockit/sockit.h"

/* Subcommands, as bits so an option can belong to several. */
enum { CMD_SERVE = 1, CMD_CONNECT = 2, CMD_BENCH = 4, CMD_INFO = 8, CMD_RELAY = 16 };

#define CLI_MAX_ARGS 64

/* `sockit bench` settings; zero fields take the defaults noted. */
typedef struct cli_bench_opts {
    unsigned conns;           /* -c (default 10) */
    double duration;          /* -d seconds (default 10 unless -n is given) */
    uint64_t messages;        /* -n: total replies to wait for (0 = none) */
    size_t size;              /* --size bytes per message (default 64) */
    unsigned depth;           /* --depth: messages in flight per connection (default 1) */
    double rate;              /* --rate msgs/s over all connections (0 = closed loop) */
    unsigned threads;         /* --threads (default 1) */
    int verify;               /* --verify */
    const char *json;         /* --json FILE */
    const char *html;         /* --html FILE */
    const char *source_addrs; /* --source-addrs A[-B][,...] */
    double timeout;           /* --timeout secs: connect and final replies (default 5) */
    int ramp;                 /* --ramp: connect everything first, then start the clock */
    int handshakes;           /* --handshakes: connect, handshake, one message, close, again */
} cli_bench_opts;

/* `sockit relay FROM TO` settings (the rest: max_conns, idle_secs, max_queue,
 * drain_secs, tls, sock, verbose, max_frame of cli_opts). */
typedef struct cli_relay_opts {
    sk_frame from_frame, to_frame; /* --from-frame, --to-frame (default raw) */
    const char *to_cert, *to_key;  /* --to-cert/--to-key: a client certificate for TO */
    int no_splice;                 /* --no-splice: raw stream relays copy through user space */
    const char *page;              /* --page FILE: HTML a ws:// FROM answers to a plain GET */
    double connect_secs;           /* --connect-timeout: TO must be open by then (default 10) */
    int compress[2];               /* --from-compress, --to-compress given ([0] FROM, [1] TO) */
    sk_zopts zopts[2];             /* their codecs (--compress-min/-level: cli_opts.zopts) */
    int ws_deflate[2];             /* --from-ws-deflate[=context], --to-ws-deflate: SK_WS_DEFLATE_* */
} cli_relay_opts;

typedef struct cli_opts {
    unsigned cmd;                       /* one CMD_* */
    const char *args[CLI_MAX_ARGS];     /* positional arguments */
    int nargs;
    sk_frame in_frame, out_frame;
    int in_frame_set, out_frame_set;    /* given on the command line (serve: else the service's) */
    size_t max_frame;
    int compress;                       /* --compress given: compressed framing */
    sk_zopts zopts;                     /* its codec, --compress-min, --compress-level */
    sk_sockopts sock;
    int verbose;
    const char *text;                   /* greet */
    double drain_secs;                  /* serve: shutdown drain bound */
    const char *sends[CLI_MAX_ARGS];    /* connect --send */
    int nsends;
    double wait_secs;                   /* connect: silence after input ends */
    int threads;                        /* serve: event-loop threads (default: CPUs) */
    sk_io io;                           /* --io: epoll (default) or uring */
    int workers;                        /* serve: processes sharing the listeners */
    size_t max_conns;                   /* serve */
    double idle_secs;
    double frame_timeout_secs;          /* serve --frame-timeout (default 60, 0 = never) */
    size_t max_queue;
    int exec_shell;                     /* serve exec */
    const char *allow[CLI_MAX_ARGS + 1];/* NULL-terminated */
    int nallow;
    double exec_timeout_secs;
    size_t exec_max_output;
    int allow_remote;
    int exec_allow_redirect;
    const char *cluster;                /* serve chat --cluster redis://HOST:PORT */
    const char *cluster_room;
    const char *node;
    int json;                           /* info */
    const char *ws_protocol;            /* connect: offered subprotocols */
    int binary;                         /* connect: send binary WebSocket frames */
    const char *ws_protocols[CLI_MAX_ARGS + 1]; /* serve: NULL-terminated */
    int nws_protocols;
    const char *ws_origins[CLI_MAX_ARGS + 1];   /* serve: NULL-terminated */
    int nws_origins;
    double ws_ping_secs;
    int ws_deflate;                     /* --ws-deflate: SK_WS_DEFLATE_* */
    cli_bench_opts bench;               /* bench */
    sk_tls_opts tls;                    /* tls:// and wss:// (server and client fields) */
    sk_tls *server_tls;                 /* serve: made before --workers fork, so all share it */
    cli_relay_opts relay;               /* relay */
    int help;
} cli_opts;

typedef int (*cli_setter)(cli_opts *o, const char *v);

/* One entry of the option table: it drives parsing, --help, the man page
 * (manpage.c) and the bash completion (completion.c). */
typedef struct cli_opt {
    const char *name;  /* long name without "--" */
    char short_name;   /* or 0 */
    const char *arg;   /* value placeholder, NULL for a flag */
    unsigned cmds;     /* the CMD_* bits of the subcommands that take it */
    cli_setter set;
    const char *help;
} cli_opt;

/* Sets *table to the option table of subcommand cmd (static: relay has its
 * own, the others share one; filter by .cmds) and returns its length. */
size_t cli_option_table(unsigned cmd, const cli_opt **table);

/* The CMD_* bits of every subcommand (those that some option belongs to;
 * every one has --help). */
unsigned cli_commands(void);

/* The subcommand's name ("serve"), and its usage text as --help prints it
 * before the options (static strings). */
const char *cli_cmd_name(unsigned cmd);
const char *cli_usage_text(unsigned cmd);

/* Parses argv (after the subcommand name) into o. Returns 0, or 2 after
 * printing one line on stderr for a bad option or value. */
int cli_parse(unsigned cmd, int argc, char **argv, cli_opts *o);

/* Prints the usage and option list of cmd on stdout. */
void cli_usage(unsigned cmd);

/* Prints "sockit: MESSAGE" on stderr (printf-style). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a URL argument; on error prints the reason and returns 2. */
int cli_url(const char *text, sk_url *out);

/* tls.c: the TLS configuration of a server's tls:// and wss:// listeners
 * (host: the first such listener's, for the temporary certificate), or of a
 * client of url. 0, or 1 after printing the reason. */
int cli_tls_server(const cli_opts *o, const char *host, sk_tls **out);
int cli_tls_client(const cli_opts *o, const sk_url *url, sk_tls **out);

/* tls.c: one line saying why c closed with err (a TLS failure's own reason). */
const char *cli_close_reason(const sk_conn *c, int err);

/* info_tls.c: connects to addr, does the TLS handshake and fills *info.
 * 0, or 1 after printing why it failed. */
int cli_tls_probe(cli_opts *o, const sk_url *url, const sk_sockaddr *addr, sk_tls_info *info);

/* Creates the loop with the --io backend; says on stderr (once per
 * process) when io_uring was asked for but epoll is used. 0 or -errno. */
int cli_loop_new(const cli_opts *o, sk_loop **out);

/* Subcommand entry points: return the process exit status. */
int cmd_serve(cli_opts *o);
int cmd_connect(cli_opts *o);
int cmd_bench(cli_opts *o);
int cmd_info(cli_opts *o);
int cmd_relay(cli_opts *o);

/* workers.c: forks o->workers processes that each run serve(o, index), forwards
 * SIGINT/SIGTERM to them and returns the worst exit status. */
int cli_run_workers(cli_opts *o, int (*serve)(cli_opts *o, int index));

#endif
