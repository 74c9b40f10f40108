/* connect.c — `sockit connect URL`: a '>> ' prompt on a terminal, lines or a
 * byte stream from piped stdin, or one-shot --send; prints every reply. */
#include "cli/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct client {
    cli_opts *o;
    sk_loop *loop;
    sk_url url;
    char name[400];      /* the URL as typed, for messages */
    sk_conn *conn;       /* stream */
    sk_dgram *dg;        /* datagram */
    sk_reader *in;
    sk_timer *quiet;     /* after input ends: stop once the server is silent */
    sk_timer *settle;    /* framed, not a terminal: a moment for the server to speak first */
    int input_started;   /* --send or stdin began: later messages are replies */
    int tty;             /* stdin is a terminal: prompt mode */
    int framed;          /* replies are whole messages (framing or datagrams) */
    int input_done;
    unsigned long sent, received;
    int last_nl;         /* last byte printed was '\n' */
    int rc;
    sk_ws_opts ws;       /* ws:// and wss:// URLs */
    sk_tls *tls;         /* tls:// and wss:// URLs */
    int closing;         /* our WebSocket close frame or TLS close_notify is on its way */
    char ws_host[300];
} client;

/* Done: a WebSocket says goodbye with a close frame first and TLS with
 * close_notify (the loop stops when the connection has closed); others
 * stop now. */
static void finish(client *cl, int rc)
{
    if (rc > cl->rc)
        cl->rc = rc;
    if (rc == 0 && cl->conn && !cl->closing && sk_conn_is_ws(cl->conn)) {
        cl->closing = 1;
        sk_conn_shutdown(cl->conn);
        return;
    }
    if (rc == 0 && cl->conn && !cl->closing && sk_conn_tls_done(cl->conn)) {
        cl->closing = 1; /* close_notify, then on_close stops the loop */
        sk_conn_close(cl->conn, 0);
        return;
    }
    sk_loop_stop(cl->loop);
}

/* (Re)starts the wait for the server to fall silent after input ended. A
 * wait that cannot be timed might never end: then stop now. */
static void wait_quiet(client *cl)
{
    if (cl->conn && cl->tls && !sk_conn_tls_done(cl->conn))
        return; /* silence counts once the TLS handshake is done (on_open) */
    if (!cl->quiet || sk_timer_start(cl->quiet, (uint64_t)(cl->o->wait_secs * 1000), 0) < 0) {
        cli_error("out of memory");
        finish(cl, 1);
    }
}

static void prompt(client *cl)
{
    if (cl->tty && !cl->input_done) {
        fputs(">> ", stdout);
        fflush(stdout);
        cl->last_nl = 0;
    }
}

static void start_input(client *cl);

/* A reply: framed ones get a line each; a raw stream is copied as is. */
static void print_reply(client *cl, const uint8_t *msg, size_t len)
{
    fwrite(msg, 1, len, stdout);
    if (len)
        cl->last_nl = msg[len - 1] == '\n';
    if ((cl->framed || cl->tty) && !cl->last_nl) {
        fputc('\n', stdout);
        cl->last_nl = 1;
    }
    fflush(stdout);
    if (!cl->input_started) { /* a greeting or welcome: not the reply to anything */
        start_input(cl);
        return;
    }
    cl->received++;
    if (cl->input_done && cl->quiet)
        wait_quiet(cl);
    if (cl->input_done && cl->framed && cl->received >= cl->sent)
        finish(cl, 0);
    else if (cl->tty)
        prompt(cl);
}

static void on_quiet(sk_timer *t, void *ud) { finish(ud, 0); }

/* Input is over: half-close a stream, then wait for the last replies. */
static void input_over(client *cl)
{
    cl->input_done = 1;
    if (cl->conn && !cl->framed)
        sk_conn_shutdown(cl->conn);
    if (cl->framed && cl->received >= cl->sent) {
        finish(cl, 0);
        return;
    }
    cl->quiet = sk_timer_new(cl->loop, on_quiet, cl);
    wait_quiet(cl);
}

static void send_msg(client *cl, const char *data, size_t len)
{
    int r = cl->conn ? sk_conn_send(cl->conn, data, len) : sk_dgram_send(cl->dg, data, len, NULL);
    if (r < 0) {
        cli_error("%s: cannot send %zu bytes: %s", cl->name, len, sk_strerror(r));
        finish(cl, 1);
        return;
    }
    cl->sent++;
    if (cl->conn && sk_conn_queued(cl->conn) > ((size_t)1 << 20))
        sk_reader_pause(cl->in); /* resumed by on_drain */
}

/* --send TEXT: one message. Several of them on a raw stream go out as lines
 * ("\n" added unless TEXT ends with one), so that they stay apart for a line
 * service (chat) however TCP merges them; a single one is sent exactly. */
static void send_arg(client *cl, const char *text)
{
    size_t len = strlen(text);
    int raw_out = cl->conn && !cl->framed && cl->o->out_frame == SK_FRAME_RAW;
    if (!raw_out || cl->o->nsends < 2 || (len && text[len - 1] == '\n')) {
        send_msg(cl, text, len);
        return;
    }
    char *line = malloc(len + 1);
    if (!line) {
        cli_error("out of memory");
        finish(cl, 1);
        return;
    }
    memcpy(line, text, len);
    line[len] = '\n';
    send_msg(cl, line, len + 1);
    free(line);
}

static void on_stdin(sk_reader *r, const char *data, size_t len, void *ud)
{
    client *cl = ud;
    if (cl->tty && len == 0) { /* the REPL skips empty lines */
        prompt(cl);
        return;
    }
    send_msg(cl, data, len);
}

static void on_stdin_end(sk_reader *r, int err, void *ud)
{
    client *cl = ud;
    if (err) {
        cli_error("reading stdin: %s", err == -EMSGSIZE ? "line longer than --max-frame"
                                                        : sk_strerror(err));
        finish(cl, 1);
        return;
    }
    if (cl->tty && !cl->last_nl)
        fputc('\n', stdout);
    input_over(cl);
}

/* ---- stream replies ---- */

static void on_message(sk_conn *c, const uint8_t *msg, size_t len, void *ud)
{
    print_reply(ud, msg, len);
}

static void on_drain(sk_conn *c, void *ud)
{
    client *cl = ud;
    if (cl->in)
        sk_reader_resume(cl->in);
}

static void on_close(sk_conn *c, int err, void *ud)
{
    client *cl = ud;
    cl->conn = NULL;
    if (err) {
        cli_error("%s: %s", cl->name, cli_close_reason(c, err));
        finish(cl, 1);
        return;
    }
    if (cl->tty && !cl->last_nl)
        fputc('\n', stdout);
    finish(cl, 0);
}

static void on_settled(sk_timer *t, void *ud) { start_input(ud); }

/* Framed replies are counted to know when the last one is in, and a server
 * that speaks first (chat's welcome, greet) would throw the count off: so
 * the first message is awaited for SETTLE_MS before sending (none then:
 * every later message answers ours). A terminal prompts at once. */
#define SETTLE_MS 100
static void ready(client *cl)
{
    if (!cl->framed || cl->tty || cl->input_started) {
        start_input(cl);
        return;
    }
    cl->settle = sk_timer_new(cl->loop, on_settled, cl);
    if (!cl->settle || sk_timer_start(cl->settle, SETTLE_MS, 0) < 0)
        start_input(cl);
}

/* The handshakes are done (TLS, WebSocket): the connection is ready; if
 * input already ended, the wait for the server's silence starts now. */
static void on_open(sk_conn *c, void *ud)
{
    client *cl = ud;
    ready(cl);
    if (cl->input_done && cl->quiet)
        wait_quiet(cl);
}

/* -vv: each compressed-framing message's size on the wire and decompressed. */
static void on_zmsg(sk_conn *c, int out, sk_zcodec codec, size_t wire, size_t len, void *ud)
{
    client *cl = ud;
    if (cl->o->verbose >= 2)
        fprintf(stderr, "sockit: %s codec=%s wire=%zu size=%zu\n", out ? "sent" : "received",
                sk_zcodec_name(codec), wire, len);
}

static const sk_conn_cbs client_cbs = {
    .on_zmsg = on_zmsg,
    .on_open = on_open,
    .on_message = on_message,
    .on_eof = NULL, /* the server closed its side: flush ours and finish */
    .on_drain = on_drain,
    .on_close = on_close,
};

/* ---- start ---- */

static void start_input(client *cl)
{
    if (cl->input_started)
        return;
    cl->input_started = 1;
    if (cl->settle)
        sk_timer_stop(cl->settle);
    for (int i = 0; i < cl->o->nsends; i++)
        send_arg(cl, cl->o->sends[i]);
    if (cl->o->nsends) {
        input_over(cl);
        return;
    }
    int lines = cl->tty || cl->framed;
    cl->in = sk_reader_new(cl->loop, 0, lines, cl->o->max_frame, on_stdin, on_stdin_end, cl);
    if (!cl->in) {
        cli_error("cannot read stdin: %s", strerror(errno));
        finish(cl, 1);
        return;
    }
    prompt(cl);
}

static void on_connected(int fd, int status, void *ud)
{
    client *cl = ud;
    if (status < 0) {
        cli_error("cannot connect to %s: %s", cl->name, sk_strerror(status));
        finish(cl, 1);
        return;
    }
    sk_conn_opts co = {.in_frame = cl->o->in_frame, .out_frame = cl->o->out_frame,
                       .max_frame = cl->o->max_frame, .keep_reading = 1,
                       .compress = cl->o->compress ? &cl->o->zopts : NULL,
                       .ws = sk_url_is_ws(&cl->url) ? &cl->ws : NULL, .tls = cl->tls};
    cl->conn = sk_conn_new(cl->loop, fd, &client_cbs, &co, cl);
    if (!cl->conn) {
        cli_error("%s: %s", cl->name, strerror(errno));
        finish(cl, 1);
        return;
    }
    if (!co.ws && !co.tls) /* else ready once the handshakes are done (on_open) */
        ready(cl);
}

static void on_datagram(sk_dgram *d, int status, const uint8_t *msg, size_t len,
                        const sk_sockaddr *from, void *ud)
{
    client *cl = ud;
    if (status < 0) {
        cli_error("%s: %s", cl->name, sk_strerror(status));
        finish(cl, 1);
        return;
    }
    print_reply(cl, msg, len);
}

static int start_stream(client *cl)
{
    sk_sockaddr addr;
    char err[512];
    int n = sk_url_resolve(&cl->url, 0, &addr, 1, err, sizeof err);
    if (n < 0) {
        cli_error("cannot connect to %s: %s", cl->name, err);
        return 1;
    }
    int r = sk_connect(cl->loop, &addr, &cl->o->sock, on_connected, cl);
    if (r < 0) {
        cli_error("cannot connect to %s: %s", cl->name, sk_strerror(r));
        return 1;
    }
    return 0;
}

/* ws://HOST:PORT/PATH: the Host header names the authority as typed. */
static void setup_ws(client *cl)
{
    const sk_url *u = &cl->url;
    int v6 = strchr(u->host, ':') != NULL;
    snprintf(cl->ws_host, sizeof cl->ws_host, "%s%s%s:%u", v6 ? "[" : "", u->host, v6 ? "]" : "",
             u->port);
    cl->ws = (sk_ws_opts){.client = 1, .host = cl->ws_host, .path = u->path[0] ? u->path : "/",
                          .protocols = cl->o->ws_protocol, .binary = cl->o->binary,
                          .origin = cl->o->nws_origins ? cl->o->ws_origins[0] : NULL,
                          .handshake_ms = cl->o->tls.handshake_ms,
                          .deflate = cl->o->ws_deflate};
}

int cmd_connect(cli_opts *o)
{
    if (o->nargs != 1) {
        cli_error(o->nargs ? "connect takes one URL" : "connect needs a URL (e.g. tcp://127.0.0.1:8080)");
        return 2;
    }
    client cl = {.o = o, .last_nl = 1};
    if (cli_url(o->args[0], &cl.url))
        return 2;
    snprintf(cl.name, sizeof cl.name, "%s", o->args[0]);
    cl.tty = o->nsends == 0 && isatty(0);
    cl.framed = o->in_frame != SK_FRAME_RAW || sk_url_is_dgram(&cl.url) || sk_url_is_ws(&cl.url);
    if (sk_url_is_ws(&cl.url))
        setup_ws(&cl);
    if (sk_url_is_tls(&cl.url) && cli_tls_client(o, &cl.url, &cl.tls))
        return 1;
    if (cli_loop_new(o, &cl.loop) < 0) {
        cli_error("out of memory");
        sk_tls_free(cl.tls);
        return 1;
    }
    int rc = 0;
    if (sk_url_is_dgram(&cl.url)) {
        char err[512];
        if (sk_dgram_connect(cl.loop, &cl.url, &o->sock, on_datagram, &cl, &cl.dg, err, sizeof err) < 0) {
            cli_error("%s", err);
            rc = 1;
        } else {
            start_input(&cl);
        }
    } else {
        rc = start_stream(&cl);
    }
    if (rc == 0 && cl.rc == 0)
        sk_loop_run(cl.loop);
    else if (rc == 0)
        rc = cl.rc;
    rc = rc > cl.rc ? rc : cl.rc;
    sk_reader_free(cl.in);
    sk_timer_free(cl.quiet);
    sk_timer_free(cl.settle);
    sk_dgram_free(cl.dg);
    if (cl.conn)
        sk_conn_abort(cl.conn, 0);
    sk_loop_free(cl.loop);
    sk_tls_free(cl.tls); /* after the loop: its last connection's on_close has run */
    return rc;
}
