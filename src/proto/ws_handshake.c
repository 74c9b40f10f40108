/* ws_handshake.c — RFC 6455 §4 opening handshake: request checks, subprotocol
 * and origin policy, 101/refusal responses, the client request and its answer. */
#include "proto/ws_handshake.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/base64.h"
#include "proto/sha1.h"
#include "proto/ws.h"

const char *sk__ws_hs_text(sk__ws_hs why)
{
    switch (why) {
    case SK__WS_HS_OK: return "ok";
    case SK__WS_HS_NOT_UPGRADE: return "not a WebSocket upgrade (no Upgrade: websocket)";
    case SK__WS_HS_BAD_METHOD: return "upgrade request is not a GET";
    case SK__WS_HS_BAD_HTTP: return "upgrade request is not HTTP/1.1";
    case SK__WS_HS_NO_HOST: return "missing Host header";
    case SK__WS_HS_NO_CONNECTION: return "Connection header lacks \"upgrade\"";
    case SK__WS_HS_BAD_VERSION: return "Sec-WebSocket-Version is not 13";
    case SK__WS_HS_BAD_KEY: return "missing or invalid Sec-WebSocket-Key";
    case SK__WS_HS_BAD_ORIGIN: return "origin not allowed";
    case SK__WS_HS_BAD_STATUS: return "server did not answer 101 Switching Protocols";
    case SK__WS_HS_BAD_ACCEPT: return "missing or wrong Sec-WebSocket-Accept";
    case SK__WS_HS_BAD_PROTOCOL: return "server chose a subprotocol that was not offered";
    case SK__WS_HS_BAD_EXTENSION: return "server enabled an extension that was not offered";
    }
    return "?";
}

int sk__ws_hs_status(sk__ws_hs why)
{
    switch (why) {
    case SK__WS_HS_OK: return 101;
    case SK__WS_HS_NOT_UPGRADE:
    case SK__WS_HS_BAD_VERSION: return 426;
    case SK__WS_HS_BAD_ORIGIN: return 403;
    default: return 400;
    }
}

static const char *status_text(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 403: return "Forbidden";
    case 426: return "Upgrade Required";
    default: return "Bad Request";
    }
}

/* ---- server ---- */

/* Exactly one Sec-WebSocket-Key, and it is strict base64 of 16 bytes. */
static bool key_ok(const sk__http_request *req, const char **key, size_t *key_len)
{
    const sk__http_header *k = NULL;
    for (size_t i = 0; i < req->num_headers; i++) {
        const sk__http_header *h = &req->headers[i];
        if (!sk__http_ieq(h->name, h->name_len, "Sec-WebSocket-Key"))
            continue;
        if (k != NULL)
            return false;
        k = h;
    }
    uint8_t raw[18];
    if (k == NULL || k->value_len != SK__WS_KEY_LEN ||
        sk__base64_decode(k->value, k->value_len, raw, sizeof raw) != 16)
        return false;
    *key = k->value;
    *key_len = k->value_len;
    return true;
}

static bool value_is(const sk__http_header *h, size_t n, const char *name, const char *want)
{
    const sk__http_header *f = sk__http_find(h, n, name);
    return f != NULL && f->value_len == strlen(want) && memcmp(f->value, want, f->value_len) == 0;
}

sk__ws_hs sk__ws_check_request(const sk__http_request *req, const char **key, size_t *key_len)
{
    const sk__http_header *h = req->headers;
    size_t n = req->num_headers;
    if (!sk__http_has_token(h, n, "Upgrade", "websocket"))
        return SK__WS_HS_NOT_UPGRADE;
    if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
        return SK__WS_HS_BAD_METHOD;
    if (req->minor_version < 1)
        return SK__WS_HS_BAD_HTTP;
    if (sk__http_find(h, n, "Host") == NULL)
        return SK__WS_HS_NO_HOST;
    if (!sk__http_has_token(h, n, "Connection", "upgrade"))
        return SK__WS_HS_NO_CONNECTION;
    if (!value_is(h, n, "Sec-WebSocket-Version", "13"))
        return SK__WS_HS_BAD_VERSION;
    if (!key_ok(req, key, key_len))
        return SK__WS_HS_BAD_KEY;
    return SK__WS_HS_OK;
}

bool sk__ws_origin_allowed(const sk__http_request *req, const char *const *allowed,
                           size_t n_allowed)
{
    const sk__http_header *o = sk__http_find(req->headers, req->num_headers, "Origin");
    if (n_allowed == 0 || o == NULL)
        return true;
    for (size_t i = 0; i < n_allowed; i++)
        if (strcmp(allowed[i], "*") == 0 || sk__http_ieq(o->value, o->value_len, allowed[i]))
            return true;
    return false;
}

/* Index of item[0..n) in list (exact match), or -1. */
static int index_of(const char *item, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && memcmp(list[i], item, n) == 0)
            return (int)i;
    return -1;
}

int sk__ws_pick_protocol(const sk__http_request *req, const char *const *allowed,
                         size_t n_allowed)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const sk__http_header *h = &req->headers[i];
        if (!sk__http_ieq(h->name, h->name_len, "Sec-WebSocket-Protocol"))
            continue;
        size_t pos = 0, il;
        const char *item;
        while (sk__http_next_item(h->value, h->value_len, &pos, &item, &il)) {
            int at = index_of(item, il, allowed, n_allowed);
            if (at >= 0)
                return at;
        }
    }
    return -1;
}

void sk__ws_accept_value(const char *key, size_t key_len, char out[SK__WS_ACCEPT_LEN + 1])
{
    sk__sha1_ctx c;
    uint8_t digest[SK__SHA1_LEN];
    sk__sha1_init(&c);
    sk__sha1_update(&c, key, key_len);
    sk__sha1_update(&c, SK__WS_GUID, sizeof SK__WS_GUID - 1);
    sk__sha1_final(&c, digest);
    sk__base64_encode(digest, sizeof digest, out);
}

/* snprintf into out; -ENOSPC when it does not fit. */
static int format(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int format(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

static bool is_value(const char *s);

/* A non-empty HTTP token (and so safe inside a header). */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && strchr("!#$%&'*+-.^_`|~", c) == NULL)
            return false;
    }
    return true;
}

int sk__ws_accept_response(char *out, size_t cap, const char *key, size_t key_len,
                           const char *protocol)
{
    return sk__ws_accept_response_ext(out, cap, key, key_len, protocol, NULL);
}

int sk__ws_accept_response_ext(char *out, size_t cap, const char *key, size_t key_len,
                               const char *protocol, const char *extensions)
{
    if ((protocol != NULL && !is_token(protocol)) || (extensions != NULL && !is_value(extensions)))
        return -EINVAL;
    char accept[SK__WS_ACCEPT_LEN + 1];
    sk__ws_accept_value(key, key_len, accept);
    return format(out, cap,
                  "HTTP/1.1 101 Switching Protocols\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n"
                  "%s%s%s%s%s%s\r\n",
                  accept, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                  protocol ? "\r\n" : "", extensions ? "Sec-WebSocket-Extensions: " : "",
                  extensions ? extensions : "", extensions ? "\r\n" : "");
}

int sk__ws_reject_response(char *out, size_t cap, sk__ws_hs why)
{
    if (why == SK__WS_HS_OK)
        return -EINVAL;
    int status = sk__ws_hs_status(why);
    const char *extra =
        status == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : "";
    const char *text = sk__ws_hs_text(why);
    return format(out, cap,
                  "HTTP/1.1 %d %s\r\n%sConnection: close\r\n"
                  "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s\n",
                  status, status_text(status), extra, strlen(text) + 1, text);
}

/* ---- client ---- */

int sk__ws_make_key(char key[SK__WS_KEY_LEN + 1])
{
    uint8_t raw[16];
    int rc = sk__ws_random(raw, sizeof raw);
    if (rc != 0)
        return rc;
    sk__base64_encode(raw, sizeof raw, key);
    return 0;
}

/* Printable, no spaces: safe for a request line or a one-word header. */
static bool is_word(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

/* Header value: no control characters (tab allowed), not empty. */
static bool is_value(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (((unsigned char)*s < ' ' && *s != '\t') || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

/* "a, b,c": a comma-separated list of tokens. */
static bool is_token_list(const char *s)
{
    size_t len = strlen(s), pos = 0, il, count = 0;
    const char *item;
    char tok[256];
    while (sk__http_next_item(s, len, &pos, &item, &il)) {
        if (il >= sizeof tok)
            return false;
        memcpy(tok, item, il);
        tok[il] = '\0';
        if (!is_token(tok))
            return false;
        count++;
    }
    return count > 0 && is_value(s);
}

static bool request_args_ok(const char *host, const char *path, const char *key,
                            const char *protocols, const char *origin)
{
    if (*host == '\0' || !is_word(host) || !is_word(path) || *key == '\0' || !is_word(key))
        return false;
    if (*path != '\0' && *path != '/')
        return false;
    if (protocols != NULL && !is_token_list(protocols))
        return false;
    return origin == NULL || is_value(origin);
}

int sk__ws_client_request(char *out, size_t cap, const char *host, const char *path,
                          const char *key, const char *protocols, const char *origin)
{
    return sk__ws_client_request_ext(out, cap, host, path, key, protocols, origin, NULL);
}

int sk__ws_client_request_ext(char *out, size_t cap, const char *host, const char *path,
                              const char *key, const char *protocols, const char *origin,
                              const char *extensions)
{
    if (!request_args_ok(host, path, key, protocols, origin) ||
        (extensions != NULL && !is_value(extensions)))
        return -EINVAL;
    return format(out, cap,
                  "GET %s HTTP/1.1\r\n"
                  "Host: %s\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "%s%s%s%s%s%s%s%s%s\r\n",
                  *path ? path : "/", host, key, protocols ? "Sec-WebSocket-Protocol: " : "",
                  protocols ? protocols : "", protocols ? "\r\n" : "", origin ? "Origin: " : "",
                  origin ? origin : "", origin ? "\r\n" : "",
                  extensions ? "Sec-WebSocket-Extensions: " : "", extensions ? extensions : "",
                  extensions ? "\r\n" : "");
}

/* The server's subprotocol choice: none, or one value among those offered. */
static sk__ws_hs check_protocol(const sk__http_response *res, const char *protocols,
                                const char **protocol, size_t *protocol_len)
{
    const sk__http_header *h = res->headers;
    size_t n = res->num_headers, count = 0;
    const sk__http_header *p = NULL;
    for (size_t i = 0; i < n; i++) {
        if (sk__http_ieq(h[i].name, h[i].name_len, "Sec-WebSocket-Protocol")) {
            p = &h[i];
            count++;
        }
    }
    *protocol = NULL;
    *protocol_len = 0;
    if (count == 0)
        return SK__WS_HS_OK;
    if (count > 1 || protocols == NULL || p->value_len == 0 || memchr(p->value, ',', p->value_len))
        return SK__WS_HS_BAD_PROTOCOL;
    size_t len = strlen(protocols), pos = 0, il;
    const char *item;
    while (sk__http_next_item(protocols, len, &pos, &item, &il)) {
        if (il == p->value_len && memcmp(item, p->value, il) == 0) {
            *protocol = p->value;
            *protocol_len = p->value_len;
            return SK__WS_HS_OK;
        }
    }
    return SK__WS_HS_BAD_PROTOCOL;
}

sk__ws_hs sk__ws_check_response(const sk__http_response *res, const char *key,
                                const char *protocols, const char **protocol,
                                size_t *protocol_len)
{
    return sk__ws_check_response_ext(res, key, protocols, false, protocol, protocol_len);
}

sk__ws_hs sk__ws_check_response_ext(const sk__http_response *res, const char *key,
                                    const char *protocols, bool offered_ext,
                                    const char **protocol, size_t *protocol_len)
{
    const sk__http_header *h = res->headers;
    size_t n = res->num_headers;
    if (res->status != 101)
        return SK__WS_HS_BAD_STATUS;
    if (!sk__http_has_token(h, n, "Upgrade", "websocket"))
        return SK__WS_HS_NOT_UPGRADE;
    if (!sk__http_has_token(h, n, "Connection", "upgrade"))
        return SK__WS_HS_NO_CONNECTION;
    char accept[SK__WS_ACCEPT_LEN + 1];
    sk__ws_accept_value(key, strlen(key), accept);
    if (!value_is(h, n, "Sec-WebSocket-Accept", accept))
        return SK__WS_HS_BAD_ACCEPT;
    const sk__http_header *ext = sk__http_find(h, n, "Sec-WebSocket-Extensions");
    if (!offered_ext && ext != NULL && ext->value_len > 0)
        return SK__WS_HS_BAD_EXTENSION;
    return check_protocol(res, protocols, protocol, protocol_len);
}
