/* http.h — a picohttpparser-style HTTP/1.x request and response head parser for
 * the WebSocket handshake: no copies, no state, bounded, fails as early as it can. */
#ifndef SOCKIT_PROTO_HTTP_H
#define SOCKIT_PROTO_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define SK__HTTP_MAX_HEADERS 64  /* more header fields is SK_EHTTPBIG */
#define SK__HTTP_MAX_HEAD 8192   /* request/status line + headers + blank line, in bytes */

/* A header field: pointers into the parsed buffer (not NUL-terminated). The
 * value has leading and trailing spaces and tabs removed; it may be empty. */
typedef struct sk__http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} sk__http_header;

typedef struct sk__http_request {
    const char *method; /* e.g. "GET" (case-sensitive token) */
    size_t method_len;
    const char *path;   /* request-target as sent, e.g. "/chat?room=1" */
    size_t path_len;
    int minor_version;  /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
    size_t num_headers;
    sk__http_header headers[SK__HTTP_MAX_HEADERS];
} sk__http_request;

typedef struct sk__http_response {
    int minor_version;
    int status;         /* 100..999 */
    const char *reason; /* reason phrase, possibly empty */
    size_t reason_len;
    size_t num_headers;
    sk__http_header headers[SK__HTTP_MAX_HEADERS];
} sk__http_response;

/* Parses the head of an HTTP/1.x request at the start of buf[0..len): request
 * line, header fields, blank line. Lines may end in CRLF or a bare LF; empty
 * lines before the request line are skipped. Obsolete line folding, whitespace
 * before a header's colon, control characters (other than tab in values) and
 * a major version other than 1 are malformed.
 * Returns the head's size in bytes (> 0; any body or WebSocket frames follow
 * it in buf) and fills *req with pointers into buf (valid while buf is).
 * Returns 0 when buf ends before the head does and nothing seen so far is
 * wrong (call again with more bytes: the parse restarts from buf[0], there is
 * no state); SK_EHTTP as soon as a byte is malformed; SK_EHTTPBIG when the
 * head does not end within SK__HTTP_MAX_HEAD bytes or has more than
 * SK__HTTP_MAX_HEADERS fields. *req may be partly written on 0 or an error.
 * Never reads past len or past buf[SK__HTTP_MAX_HEAD - 1]; no allocation.
 * Each call costs O(min(len, SK__HTTP_MAX_HEAD)). A peer sending one byte at a
 * time could make that quadratic; a caller that minds may parse again only
 * when the new bytes hold a "\n" (a head can only end at one), at the price of
 * finding a malformed line at its end rather than at its first bad byte. */
int sk__http_parse_request(const char *buf, size_t len, sk__http_request *req);

/* Same for a response head ("HTTP/1.1 101 Switching Protocols", headers,
 * blank line): the status code must be 3 digits; the reason may be empty. */
int sk__http_parse_response(const char *buf, size_t len, sk__http_response *res);

/* Returns the first header named name (ASCII case-insensitive), or NULL. */
const sk__http_header *sk__http_find(const sk__http_header *h, size_t n, const char *name);

/* True when a header named name (every occurrence is searched) holds token in
 * its comma-separated list, compared ASCII case-insensitively after trimming
 * spaces: "keep-alive, Upgrade" has the token "upgrade". */
bool sk__http_has_token(const sk__http_header *h, size_t n, const char *name, const char *token);

/* Iterates over a comma-separated list: finds the next non-empty element of
 * s[*pos..len), trimmed of spaces and tabs, sets *item and *item_len, advances
 * *pos past it and returns true; false when no element is left. Start with
 * *pos = 0. */
bool sk__http_next_item(const char *s, size_t len, size_t *pos, const char **item,
                        size_t *item_len);

/* ASCII case-insensitive comparison of a[0..n) with the NUL-terminated b. */
bool sk__http_ieq(const char *a, size_t n, const char *b);

#endif
