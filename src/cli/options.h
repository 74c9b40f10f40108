/* options.h — the command line of every sockit subcommand: one option table
 * drives both parsing and --help (as in curl's tool). */
#ifndef SOCKIT_CLI_OPTIONS_H
#define SOCKIT_CLI_OPTIONS_H

#include <stddef.h>

#include "sockit/sockit.h"

/* Subcommands, as bits so an option can belong to several. */
enum { CMD_SERVE = 1, CMD_CONNECT = 2, CMD_BENCH = 4, CMD_INFO = 8 };

#define CLI_MAX_ARGS 64

typedef struct cli_opts {
    unsigned cmd;                       /* one CMD_* */
    const char *args[CLI_MAX_ARGS];     /* positional arguments */
    int nargs;
    sk_frame in_frame, out_frame;
    size_t max_frame;
    sk_sockopts sock;
    int verbose;
    const char *text;                   /* greet */
    double drain_secs;                  /* serve: shutdown drain bound */
    const char *sends[CLI_MAX_ARGS];    /* connect --send */
    int nsends;
    double wait_secs;                   /* connect: silence after input ends */
    size_t max_conns;                   /* serve */
    double idle_secs;
    size_t max_queue;
    int exec_shell;                     /* serve exec */
    const char *allow[CLI_MAX_ARGS + 1];/* NULL-terminated */
    int nallow;
    double exec_timeout_secs;
    size_t exec_max_output;
    int allow_remote;
    int json;                           /* info */
    int help;
} cli_opts;

/* Parses argv (after the subcommand name) into o. Returns 0, or 2 after
 * printing one line on stderr for a bad option or value. */
int cli_parse(unsigned cmd, int argc, char **argv, cli_opts *o);

/* Prints the usage and option list of cmd on stdout. */
void cli_usage(unsigned cmd);

/* Prints "sockit: MESSAGE" on stderr (printf-style). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a URL argument; on error prints the reason and returns 2. */
int cli_url(const char *text, sk_url *out);

/* Subcommand entry points: return the process exit status. */
int cmd_serve(cli_opts *o);
int cmd_connect(cli_opts *o);
int cmd_info(cli_opts *o);

#endif
