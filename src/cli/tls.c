/* tls.c — the command line's TLS: a server's configuration for its tls://
 * and wss:// listeners (with the temporary certificate's fingerprint on
 * stderr), a client's for connect, bench and info, and the one-line reasons
 * a failed handshake prints. Built only on sockit/tls.h. */
#include "cli/options.h"

#include <stdio.h>
#include <string.h>

/* Whether the kernel can do TLS itself (its tls module is loaded). */
static int kernel_tls_available(void)
{
    char ulp[256] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    if (f) {
        if (!fgets(ulp, sizeof ulp, f))
            ulp[0] = 0;
        fclose(f);
    }
    return strstr(ulp, "tls") != NULL;
}

/* -v: what kernel TLS does for these connections, in one line. */
static void say_ktls(const cli_opts *o, int server)
{
    if (!o->verbose)
        return;
    if (o->tls.ktls_off)
        fprintf(stderr, "sockit: kTLS: off (--ktls off): TLS records are made in user space\n");
    else if (!kernel_tls_available())
        fprintf(stderr, "sockit: kTLS: not available (the kernel's tls module is not loaded): "
                        "TLS records are made in user space\n");
    else if (!server)
        fprintf(stderr, "sockit: kTLS: not used by clients: TLS records are made in user space\n");
    else
        fprintf(stderr, "sockit: kTLS: on: TLS 1.3 connections hand their keys to the kernel "
                        "(each connection's 'tls' line says whether it got it)\n");
}

int cli_tls_server(const cli_opts *o, const char *host, sk_tls **out)
{
    sk_tls_opts to = o->tls;
    char err[512];
    to.server = 1;
    to.host = host;
    if (sk_tls_new(out, &to, err, sizeof err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    if (sk_tls_is_temporary(*out))
        fprintf(stderr, "sockit: no --cert: using a temporary self-signed certificate %s "
                        "(clients: --pin %s, or -k)\n",
                sk_tls_fingerprint(*out), sk_tls_fingerprint(*out));
    say_ktls(o, 1);
    return 0;
}

int cli_tls_client(const cli_opts *o, const sk_url *url, sk_tls **out)
{
    sk_tls_opts to = o->tls;
    char err[512];
    to.server = 0;
    to.host = url->host;
    if (to.insecure)
        fprintf(stderr, "sockit: warning: --insecure: the server's certificate is not verified\n");
    if (sk_tls_new(out, &to, err, sizeof err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    say_ktls(o, 0);
    return 0;
}

const char *cli_close_reason(const sk_conn *c, int err)
{
    const char *why = sk_conn_tls_error(c);
    if (err == SK_ETLS && why)
        return why;
    if (err == SK_ETIMEOUT && why && !sk_conn_tls_done(c))
        return why; /* "handshake timed out" */
    const char *refused = sk_conn_ws_error(c);
    static _Thread_local char text[256];
    if (err == SK_EWSHANDSHAKE && refused) { /* "WebSocket handshake failed: 404 Not Found" */
        snprintf(text, sizeof text, "%s: %s", sk_strerror(err), refused);
        return text;
    }
    if (err == SK_ETIMEOUT && refused) { /* --handshake-timeout */
        snprintf(text, sizeof text, "WebSocket %s", refused);
        return text;
    }
    return sk_strerror(err);
}
