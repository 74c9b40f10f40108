/* ws_deflate.c — permessage-deflate negotiation (RFC 7692 §5, §7.1): the
 * Sec-WebSocket-Extensions grammar (RFC 6455 §9.1), offers, answers. */
#include "proto/ws_deflate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- the grammar: extension *( ";" param [ "=" (token | quoted-string) ] ) ---- */

typedef struct scan {
    const char *s;
    size_t len, pos;
} scan;

static bool tchar(unsigned char c)
{
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void skip_ws(scan *sc)
{
    while (sc->pos < sc->len && (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t'))
        sc->pos++;
}

static int peek(const scan *sc) { return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1; }

/* A token at pos: its length (0 if none); *t points at it. */
static size_t token(scan *sc, const char **t)
{
    size_t start = sc->pos;
    while (sc->pos < sc->len && tchar((unsigned char)sc->s[sc->pos]))
        sc->pos++;
    *t = sc->s + start;
    return sc->pos - start;
}

/* A token or a quoted string, unquoted into out (cap bytes, NUL-terminated).
 * Returns 0, or -1 for none, an unfinished quote or one too long. */
static int value(scan *sc, char *out, size_t cap)
{
    size_t n = 0;
    if (peek(sc) != '"') {
        const char *t;
        size_t tl = token(sc, &t);
        if (tl == 0 || tl >= cap)
            return -1;
        memcpy(out, t, tl);
        out[tl] = '\0';
        return 0;
    }
    for (sc->pos++; sc->pos < sc->len; sc->pos++) {
        char c = sc->s[sc->pos];
        if (c == '"') {
            sc->pos++;
            out[n] = '\0';
            return n ? 0 : -1;
        }
        if (c == '\\' && ++sc->pos == sc->len)
            return -1;
        if (n + 1 >= cap)
            return -1;
        out[n++] = sc->s[sc->pos];
    }
    return -1;
}

/* After a broken element: on to the next comma outside a quoted string. */
static void skip_element(scan *sc)
{
    bool quoted = false;
    for (; sc->pos < sc->len; sc->pos++) {
        char c = sc->s[sc->pos];
        if (quoted && c == '\\')
            sc->pos++;
        else if (c == '"')
            quoted = !quoted;
        else if (c == ',' && !quoted)
            return;
    }
}

/* ---- the four parameters ---- */

enum { P_SNC = 1, P_CNC = 2, P_SMW = 4, P_CMW = 8 };

/* "8".."15" without leading zeros: the bits, else 0. */
static int window_bits(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 2 || v[0] == '0' || strspn(v, "0123456789") != n)
        return 0;
    int b = n == 1 ? v[0] - '0' : (v[0] - '0') * 10 + (v[1] - '0');
    return b >= 8 && b <= 15 ? b : 0;
}

/* Applies one parameter (value NULL when it had none). 0, or -1 when invalid. */
static int apply(sk__wsd_params *p, unsigned *seen, const char *name, size_t nl, const char *v)
{
    unsigned which = sk__http_ieq(name, nl, "server_no_context_takeover")   ? P_SNC
                     : sk__http_ieq(name, nl, "client_no_context_takeover") ? P_CNC
                     : sk__http_ieq(name, nl, "server_max_window_bits")     ? P_SMW
                     : sk__http_ieq(name, nl, "client_max_window_bits")     ? P_CMW
                                                                            : 0;
    if (!which || (*seen & which))
        return -1;
    *seen |= which;
    if (which == P_SNC || which == P_CNC) {
        if (v)
            return -1;
        *(which == P_SNC ? &p->server_no_ctx : &p->client_no_ctx) = 1;
        return 0;
    }
    int bits = v ? window_bits(v) : which == P_CMW ? 1 : 0;
    if (!bits)
        return -1;
    *(which == P_SMW ? &p->server_bits : &p->client_bits) = (uint8_t)bits;
    return 0;
}

/* One element at pos: 1 a valid permessage-deflate (in *p), 0 another
 * extension, -1 an invalid permessage-deflate, -2 broken syntax. Leaves pos
 * at the "," after it or the end. */
static int element(scan *sc, sk__wsd_params *p)
{
    const char *name;
    skip_ws(sc);
    size_t nl = token(sc, &name);
    if (nl == 0)
        return -2;
    bool pmd = sk__http_ieq(name, nl, "permessage-deflate"), bad = false;
    unsigned seen = 0;
    *p = (sk__wsd_params){0};
    for (;;) {
        skip_ws(sc);
        if (peek(sc) == -1 || peek(sc) == ',')
            return !pmd ? 0 : bad ? -1 : 1;
        if (peek(sc) != ';')
            return -2;
        sc->pos++;
        skip_ws(sc);
        const char *pn;
        size_t pl = token(sc, &pn);
        if (pl == 0)
            return -2;
        skip_ws(sc);
        char v[16];
        bool has_v = peek(sc) == '=';
        if (has_v) {
            sc->pos++;
            skip_ws(sc);
            if (value(sc, v, sizeof v) < 0)
                return -2;
        }
        if (pmd && apply(p, &seen, pn, pl, has_v ? v : NULL) < 0)
            bad = true;
    }
}

int sk__wsd_parse(const char *v, size_t len, sk__wsd_params *out, int *n, int max)
{
    scan sc = {.s = v, .len = len};
    int invalid = 0;
    while (sc.pos < sc.len) {
        skip_ws(&sc);
        if (peek(&sc) == ',') { /* empty list elements are allowed (#rule) */
            sc.pos++;
            continue;
        }
        if (peek(&sc) == -1)
            break;
        sk__wsd_params p;
        int r = element(&sc, &p);
        if (r == -2 || r == -1) {
            invalid += r == -1;
            skip_element(&sc);
        } else if (r == 1 && *n < max)
            out[(*n)++] = p;
        if (peek(&sc) == ',')
            sc.pos++;
    }
    return invalid;
}

int sk__wsd_offers(const sk__http_request *req, sk__wsd_params *out, int max)
{
    int n = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const sk__http_header *h = &req->headers[i];
        if (sk__http_ieq(h->name, h->name_len, "Sec-WebSocket-Extensions"))
            sk__wsd_parse(h->value, h->value_len, out, &n, max);
    }
    return n;
}

/* ---- server: choose and answer ---- */

static int accept_one(const sk__wsd_params *o, int mode, sk__wsd_params *a)
{
    if (o->server_bits == 8) /* zlib makes no raw deflate with 256-byte windows */
        return -1;
    *a = (sk__wsd_params){0};
    a->server_no_ctx = o->server_no_ctx || mode == SK__WSD_SHARED;
    a->server_bits = o->server_bits;
    /* RFC 7692 §7.1.1.1: a server may ask this even when not offered; then
     * no inflate window outlives a message. */
    a->client_no_ctx = o->client_no_ctx || mode == SK__WSD_SHARED;
    if (mode == SK__WSD_CONTEXT && !a->client_no_ctx && o->client_bits &&
        (o->client_bits == 1 || o->client_bits > SK__WSD_CTX_BITS))
        a->client_bits = SK__WSD_CTX_BITS; /* a smaller inflate context per connection */
    return 0;
}

int sk__wsd_choose(const sk__wsd_params *offers, int n, int mode, sk__wsd_params *agreed)
{
    for (int i = 0; i < n; i++)
        if (accept_one(&offers[i], mode, agreed) == 0)
            return i;
    return -1;
}

int sk__wsd_format(const sk__wsd_params *p, char *out, size_t cap)
{
    char sb[32] = "", cb[32] = "";
    if (p->server_bits)
        snprintf(sb, sizeof sb, "; server_max_window_bits=%u", p->server_bits);
    if (p->client_bits > 1)
        snprintf(cb, sizeof cb, "; client_max_window_bits=%u", p->client_bits);
    int n = snprintf(out, cap, "permessage-deflate%s%s%s%s",
                     p->server_no_ctx ? "; server_no_context_takeover" : "",
                     p->client_no_ctx ? "; client_no_context_takeover" : "", sb, cb);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* ---- client: the server's answer ---- */

int sk__wsd_check_answer(const char *v, size_t len, sk__wsd_params *agreed)
{
    sk__wsd_params got[2];
    int n = 0;
    scan sc = {.s = v, .len = len};
    skip_ws(&sc);
    if (sc.pos == sc.len)
        return 0;
    int elements = 0;
    while (sc.pos < sc.len) { /* exactly one element: permessage-deflate, valid */
        sk__wsd_params p;
        if (element(&sc, &p) != 1 || ++elements > 1)
            return -1;
        got[n++] = p;
        if (peek(&sc) == ',')
            sc.pos++;
    }
    if (n != 1 || got[0].client_bits == 1)
        return -1;
    *agreed = got[0];
    return 1;
}
