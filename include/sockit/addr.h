/* addr.h — endpoint URLs (tcp://, udp://, unix://, unixgram://, ws://) and
 * socket addresses: parsing, resolving and printing. No I/O except DNS. */
#ifndef SOCKIT_ADDR_H
#define SOCKIT_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sk_scheme {
    SK_SCHEME_TCP = 0, /* tcp://HOST:PORT */
    SK_SCHEME_UDP,     /* udp://HOST:PORT */
    SK_SCHEME_UNIX,    /* unix:///abs/path or unix://@abstract (stream) */
    SK_SCHEME_UNIXGRAM,/* unixgram:///abs/path or unixgram://@abstract (datagram) */
    SK_SCHEME_WS,      /* ws://HOST:PORT/PATH (WebSocket over TCP) */
    SK_SCHEME_TLS,     /* tls://HOST:PORT (TLS over TCP) */
    SK_SCHEME_WSS,     /* wss://HOST:PORT/PATH (WebSocket over TLS) */
} sk_scheme;

#define SK_URL_HOST_MAX 256
#define SK_URL_PATH_MAX 108 /* sizeof(sun_path) on Linux */

/* A parsed endpoint. Plain data: copy freely, nothing to free. */
typedef struct sk_url {
    sk_scheme scheme;
    char host[SK_URL_HOST_MAX]; /* name, IPv4, IPv6 without brackets, or "*" (any); "" for unix */
    uint16_t port;              /* tcp/udp/ws; 0 for unix */
    char path[SK_URL_PATH_MAX]; /* unix socket path ("@name" = abstract), or ws path ("/" default) */
} sk_url;

/* A resolved socket address with its length. Plain data. */
typedef struct sk_sockaddr {
    struct sockaddr_storage ss;
    socklen_t len;
} sk_sockaddr;

/* Parses text into *out. Returns 0, or SK_EURL with a one-line reason
 * written into err (err may be NULL; errlen includes the NUL). Rejects an
 * unknown scheme, a missing/invalid/out-of-range port, an unclosed '[', a
 * relative or too-long unix path, an empty host and trailing garbage.
 * *out is zeroed first (and again on failure), so parsed structs compare
 * with memcmp. Schemes match case-insensitively. The port is digits only,
 * 1..65535: port 0 is refused (a library user who wants an ephemeral port
 * may set url.port = 0 by hand). Hosts are "*", an IPv4 dotted quad, "[IPv6]"
 * (stored in inet_ntop's canonical form, no zone ids) or a name of letters,
 * digits, '-', '.', '_' (at most 253 bytes). A unix path is at most 107 bytes
 * ("@name": a name of at most 106) with no control bytes; a ws path is
 * visible ASCII except '#', at most 107 bytes. */
SK_EXTERN int sk_url_parse(const char *text, sk_url *out, char *err, size_t errlen);

/* Returns 1 for datagram schemes (udp, unixgram), 0 otherwise. */
SK_EXTERN int sk_url_is_dgram(const sk_url *url);

/* Returns 1 for the unix schemes, 0 otherwise. */
SK_EXTERN int sk_url_is_unix(const sk_url *url);

/* Returns 1 for the WebSocket schemes (ws, wss), 0 otherwise. */
SK_EXTERN int sk_url_is_ws(const sk_url *url);

/* Returns 1 for the TLS schemes (tls, wss), 0 otherwise. */
SK_EXTERN int sk_url_is_tls(const sk_url *url);

/* Formats url back into canonical text ("tcp://[::1]:80", "unix:///tmp/s").
 * Returns the length written (truncated to buflen-1, always NUL-terminated). */
SK_EXTERN int sk_url_format(const sk_url *url, char *buf, size_t buflen);

/* Resolves url into up to max addresses (in getaddrinfo order, duplicates
 * dropped). "*" gives [::] then 0.0.0.0 when passive is 1 (bind the first
 * that works; [::] with IPV6_V6ONLY off also takes IPv4), and 127.0.0.1 when
 * passive is 0. IP literals, "*" and unix paths never touch DNS. Unix file
 * paths count their NUL in len; "@name" becomes sun_path[0] = 0 then the
 * name, with no NUL counted. Returns the number of addresses (>= 1),
 * SK_ERESOLVE with a reason in err when the name does not resolve, SK_EURL
 * for a bad url, or -EINVAL when url or out is NULL or max < 1. */
SK_EXTERN int sk_url_resolve(const sk_url *url, int passive, sk_sockaddr *out, int max, char *err,
                             size_t errlen);

/* Formats a socket address for logs: "127.0.0.1:5000", "[::1]:5000",
 * "/tmp/sock", "@abstract", or "unnamed" for an unbound unix peer.
 * Returns the length written (always NUL-terminated, truncated to buflen-1). */
SK_EXTERN int sk_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif
