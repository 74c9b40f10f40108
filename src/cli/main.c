/* main.c — the sockit command: dispatches to serve / connect (one file per
 * subcommand), and answers help and --version. */
#include "cli/docgen.h"

#include <stdio.h>
#include <string.h>

static void general_usage(FILE *f)
{
    fprintf(f, "sockit %s — message-oriented sockets: serve, connect, load-test\n\n"
               "usage:\n"
               "  sockit serve SERVICE [URL ...] [options]   run a server\n"
               "  sockit connect URL [options]               client: interactive, piped or one-shot\n"
               "  sockit bench URL [options]                 load test with many connections\n"
               "  sockit info [URL] [--json]                 host and socket facts\n"
               "  sockit relay FROM TO [options]             bridge every client of FROM to TO\n"
               "  sockit help [COMMAND] | --help | --version\n\n"
               "services: %s\n"
               "URLs: tcp://HOST:PORT udp://HOST:PORT unix:///path unixgram:///path unix://@name\n"
               "      ws://HOST:PORT/PATH tls://HOST:PORT wss://HOST:PORT/PATH\n"
               "Run 'sockit COMMAND --help' for the options of a command.\n",
            sk_version(), sk_service_names());
}

static unsigned command_of(const char *name)
{
    if (!name)
        return 0;
    if (strcmp(name, "serve") == 0)
        return CMD_SERVE;
    if (strcmp(name, "connect") == 0)
        return CMD_CONNECT;
    if (strcmp(name, "bench") == 0)
        return CMD_BENCH;
    if (strcmp(name, "info") == 0)
        return CMD_INFO;
    if (strcmp(name, "relay") == 0)
        return CMD_RELAY;
    return 0;
}

static int help(int argc, char **argv)
{
    if (argc < 1) {
        general_usage(stdout);
        return 0;
    }
    unsigned cmd = command_of(argv[0]);
    if (!cmd) {
        cli_error("no help for unknown command '%s' (commands: serve connect bench info relay)", argv[0]);
        return 2;
    }
    cli_usage(cmd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        general_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("sockit %s\n", sk_version());
        return 0;
    }
    /* hidden: the generated documents (make writes build/sockit.1 and build/sockit.bash) */
    if (strcmp(name, "--man") == 0)
        return cli_write_man(stdout), fflush(stdout) != 0;
    if (strcmp(name, "--completion") == 0) {
        if (argc != 3 || strcmp(argv[2], "bash") != 0) {
            cli_error("usage: sockit --completion bash");
            return 2;
        }
        return cli_write_bash_completion(stdout), fflush(stdout) != 0;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return help(argc - 2, argv + 2);
    unsigned cmd = command_of(name);
    if (!cmd) {
        cli_error("unknown command '%s' (see 'sockit help')", name);
        return 2;
    }
    cli_opts o;
    int r = cli_parse(cmd, argc - 2, argv + 2, &o);
    if (r)
        return r;
    if (o.help) {
        cli_usage(cmd);
        return 0;
    }
    switch (cmd) {
    case CMD_SERVE: return cmd_serve(&o);
    case CMD_CONNECT: return cmd_connect(&o);
    case CMD_BENCH: return cmd_bench(&o);
    case CMD_RELAY: return cmd_relay(&o);
    default: return cmd_info(&o);
    }
}
