/* ws_handshake.h — the WebSocket opening handshake (RFC 6455 §4) on top of the
 * HTTP head parser: check a client's upgrade request, answer it, and the client side. */
#ifndef SOCKIT_PROTO_WS_HANDSHAKE_H
#define SOCKIT_PROTO_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/http.h"

#define SK__WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define SK__WS_KEY_LEN 24    /* Sec-WebSocket-Key: base64 of 16 bytes */
#define SK__WS_ACCEPT_LEN 28 /* Sec-WebSocket-Accept: base64 of a SHA-1 */

/* Outcome of a handshake check. Server side: why a request is refused, and so
 * which answer to send (sk__ws_hs_status). Client side: why a response is. */
typedef enum sk__ws_hs {
    SK__WS_HS_OK = 0,
    SK__WS_HS_NOT_UPGRADE,   /* no "Upgrade: websocket": plain HTTP        -> 426 */
    SK__WS_HS_BAD_METHOD,    /* an upgrade, but not GET                    -> 400 */
    SK__WS_HS_BAD_HTTP,      /* an upgrade, but not HTTP/1.1 or later      -> 400 */
    SK__WS_HS_NO_HOST,       /* no Host header                             -> 400 */
    SK__WS_HS_NO_CONNECTION, /* Connection lacks the token "upgrade"       -> 400 */
    SK__WS_HS_BAD_VERSION,   /* Sec-WebSocket-Version missing or not 13    -> 426 */
    SK__WS_HS_BAD_KEY,       /* Sec-WebSocket-Key missing, repeated or not
                              * the base64 of 16 bytes                     -> 400 */
    SK__WS_HS_BAD_ORIGIN,    /* Origin not allowed (sk__ws_origin_allowed) -> 403 */
    SK__WS_HS_BAD_STATUS,    /* client: status is not 101 */
    SK__WS_HS_BAD_ACCEPT,    /* client: Sec-WebSocket-Accept missing or wrong */
    SK__WS_HS_BAD_PROTOCOL,  /* client: server picked a subprotocol not offered */
    SK__WS_HS_BAD_EXTENSION, /* client: server enabled an extension (none offered) */
} sk__ws_hs;

/* A short static description ("missing Sec-WebSocket-Key", ...) for logs. */
const char *sk__ws_hs_text(sk__ws_hs why);

/* The HTTP status a server answers with: 101 for OK, 426 for NOT_UPGRADE and
 * BAD_VERSION, 403 for BAD_ORIGIN, 400 for the other request failures (and
 * for the client-side values, which a server never sees). */
int sk__ws_hs_status(sk__ws_hs why);

/* Server: checks a parsed request is a valid WebSocket upgrade. Checks, in
 * order: Upgrade has the token "websocket" (else NOT_UPGRADE, so a browser's
 * plain GET gets 426), method is GET, version is HTTP/1.1 or later, Host is
 * present, Connection has the token "upgrade", Sec-WebSocket-Version is 13,
 * exactly one Sec-WebSocket-Key that is strict base64 of 16 bytes. On OK sets
 * *key and *key_len to the key (inside the request's buffer). Origin and
 * subprotocols are policy: see sk__ws_origin_allowed, sk__ws_pick_protocol. */
sk__ws_hs sk__ws_check_request(const sk__http_request *req, const char **key, size_t *key_len);

/* Server: true when the request's Origin is acceptable: always when n_allowed
 * is 0 (no policy) or the request has no Origin header (not a browser: any
 * such client can forge Origin anyway); else when Origin equals one entry of
 * allowed ASCII case-insensitively (e.g. "https://example.com"), or an entry
 * is "*". Refuse the others with sk__ws_reject_response(SK__WS_HS_BAD_ORIGIN). */
bool sk__ws_origin_allowed(const sk__http_request *req, const char *const *allowed,
                           size_t n_allowed);

/* Server: picks a subprotocol. Walks the client's Sec-WebSocket-Protocol
 * lists (every such header, in order: the client's order of preference) and
 * returns the index in allowed[] of the first one the server allows (exact,
 * case-sensitive), or -1 when the client offered none the server allows (then
 * answer without Sec-WebSocket-Protocol; the client decides whether to go on). */
int sk__ws_pick_protocol(const sk__http_request *req, const char *const *allowed,
                         size_t n_allowed);

/* Computes Sec-WebSocket-Accept = base64(SHA-1(key + SK__WS_GUID)) for the
 * key as sent (key_len bytes, not necessarily NUL-terminated) into out
 * (28 characters + NUL). */
void sk__ws_accept_value(const char *key, size_t key_len, char out[SK__WS_ACCEPT_LEN + 1]);

/* Server: writes the "101 Switching Protocols" response for key into out
 * (cap bytes, NUL-terminated), with "Sec-WebSocket-Protocol: protocol" when
 * protocol is not NULL. Returns the length (without the NUL; at most about
 * 160 + strlen(protocol)), -ENOSPC when cap is too small, or -EINVAL when
 * protocol is empty or not an HTTP token. */
int sk__ws_accept_response(char *out, size_t cap, const char *key, size_t key_len,
                           const char *protocol);

/* The same, with "Sec-WebSocket-Extensions: extensions" when not NULL (the
 * agreed extensions, see proto/ws_deflate.h; -EINVAL if empty or holding a
 * control character). */
int sk__ws_accept_response_ext(char *out, size_t cap, const char *key, size_t key_len,
                               const char *protocol, const char *extensions);

/* Server: writes a complete refusal for why into out (cap bytes,
 * NUL-terminated): status line per sk__ws_hs_status, "Connection: close",
 * for 426 also "Upgrade: websocket" and "Sec-WebSocket-Version: 13", and a
 * one-line text/plain body. Returns the length, or -ENOSPC (256 bytes are
 * always enough), or -EINVAL for SK__WS_HS_OK. Close after sending it. */
int sk__ws_reject_response(char *out, size_t cap, sk__ws_hs why);

/* Client: makes a fresh Sec-WebSocket-Key (16 bytes from getrandom, base64,
 * NUL-terminated). Returns 0, or a negated errno. Keep it to check the answer. */
int sk__ws_make_key(char key[SK__WS_KEY_LEN + 1]);

/* Client: writes the upgrade request into out (cap bytes, NUL-terminated):
 * "GET path HTTP/1.1", Host, Upgrade, Connection, Sec-WebSocket-Key = key,
 * Sec-WebSocket-Version: 13, then Sec-WebSocket-Protocol: protocols (a comma-
 * separated list, e.g. "chat, superchat") and Origin when not NULL. host is
 * the authority as it goes in the header ("example.com", "[::1]:8080"; add
 * the port when it is not the scheme's default). path "" means "/".
 * Returns the length, -ENOSPC when cap is too small, or -EINVAL when a string
 * is empty (but path) or contains a control character or space (path, host,
 * key), or path does not start with "/", or protocols is not a token list. */
int sk__ws_client_request(char *out, size_t cap, const char *host, const char *path,
                          const char *key, const char *protocols, const char *origin);

/* The same, with "Sec-WebSocket-Extensions: extensions" (the offer) when not
 * NULL (-EINVAL if empty or holding a control character). */
int sk__ws_client_request_ext(char *out, size_t cap, const char *host, const char *path,
                              const char *key, const char *protocols, const char *origin,
                              const char *extensions);

/* Client: checks the server's parsed response to a request sent with key and
 * protocols (NULL if none offered). Checks, in order: status 101 (else
 * BAD_STATUS), Upgrade has "websocket" (else NOT_UPGRADE), Connection has
 * "upgrade" (NO_CONNECTION), Sec-WebSocket-Accept matches key (BAD_ACCEPT),
 * no non-empty Sec-WebSocket-Extensions (BAD_EXTENSION), a Sec-WebSocket-Protocol,
 * if any, is a single value among those offered (BAD_PROTOCOL). On OK sets
 * *protocol and *protocol_len to the chosen subprotocol (inside the
 * response's buffer), or NULL and 0 when the server chose none. */
sk__ws_hs sk__ws_check_response(const sk__http_response *res, const char *key,
                                const char *protocols, const char **protocol,
                                size_t *protocol_len);

/* The same; offered_ext: the request offered extensions, so a
 * Sec-WebSocket-Extensions answer is not BAD_EXTENSION here (the caller
 * checks it, e.g. with sk__wsd_check_answer). */
sk__ws_hs sk__ws_check_response_ext(const sk__http_response *res, const char *key,
                                    const char *protocols, bool offered_ext,
                                    const char **protocol, size_t *protocol_len);

#endif
