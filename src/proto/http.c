/* http.c — HTTP/1.x head parser (picohttpparser style: pointers into the caller's
 * buffer, restart from the start on more data, fail at the first bad byte). */
#include "proto/http.h"

#include <string.h>

#include "sockit/error.h"

/* Every parse step returns 1 (matched), NEED (ran out of bytes, nothing wrong
 * yet) or a negative error, and TRY passes anything but a match up. */
#define NEED 0
#define TRY(expr)               \
    do {                        \
        int rc_ = (expr);       \
        if (rc_ <= 0)           \
            return rc_;         \
    } while (0)

typedef struct cursor {
    const char *p;
    const char *end;
} cursor;

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Bytes allowed in a header value or reason phrase: HTAB, SP, VCHAR, obs-text. */
static bool is_vchar_ws(unsigned char c) { return c == '\t' || (c >= ' ' && c != 0x7f); }

/* Bytes allowed in a request-target: VCHAR and obs-text, no space. */
static bool is_target(unsigned char c) { return c > ' ' && c != 0x7f; }

/* Matches the literal lit (case-sensitive). */
static int expect(cursor *c, const char *lit)
{
    for (; *lit; lit++, c->p++) {
        if (c->p == c->end)
            return NEED;
        if (*c->p != *lit)
            return SK_EHTTP;
    }
    return 1;
}

/* Matches an end of line: "\r\n" or "\n". */
static int eol(cursor *c)
{
    if (c->p < c->end && *c->p == '\r')
        c->p++;
    if (c->p == c->end)
        return NEED;
    if (*c->p != '\n')
        return SK_EHTTP;
    c->p++;
    return 1;
}

/* Is the cursor at an end of line (possibly not complete yet)? */
static bool at_eol(const cursor *c) { return c->p < c->end && (*c->p == '\r' || *c->p == '\n'); }

/* Reads a run of at least one byte satisfying ok, stopping before the first
 * byte that does not (which must be there: otherwise NEED). */
static int run(cursor *c, bool (*ok)(unsigned char), const char **s, size_t *n)
{
    const char *start = c->p;
    while (c->p < c->end && ok((unsigned char)*c->p))
        c->p++;
    if (c->p == c->end)
        return NEED;
    if (c->p == start)
        return SK_EHTTP;
    *s = start;
    *n = (size_t)(c->p - start);
    return 1;
}

/* "HTTP/1." DIGIT: stores the minor version. */
static int version(cursor *c, int *minor)
{
    TRY(expect(c, "HTTP/1."));
    if (c->p == c->end)
        return NEED;
    if (*c->p < '0' || *c->p > '9')
        return SK_EHTTP;
    *minor = *c->p++ - '0';
    return 1;
}

static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

/* field-value up to the end of line, trimmed of spaces and tabs. */
static int field_value(cursor *c, sk__http_header *h)
{
    while (c->p < c->end && is_ows(*c->p))
        c->p++;
    const char *start = c->p;
    while (c->p < c->end && is_vchar_ws((unsigned char)*c->p))
        c->p++;
    if (c->p == c->end)
        return NEED;
    const char *stop = c->p;
    while (stop > start && is_ows(stop[-1]))
        stop--;
    h->value = start;
    h->value_len = (size_t)(stop - start);
    return eol(c);
}

/* Header fields up to and including the blank line. */
static int headers(cursor *c, sk__http_header *h, size_t *num)
{
    *num = 0;
    for (;;) {
        if (c->p == c->end)
            return NEED;
        if (at_eol(c))
            return eol(c);
        if (*num == SK__HTTP_MAX_HEADERS)
            return SK_EHTTPBIG;
        sk__http_header *f = &h[*num];
        TRY(run(c, is_tchar, &f->name, &f->name_len));
        TRY(expect(c, ":"));
        TRY(field_value(c, f));
        ++*num;
    }
}

static int request_head(cursor *c, sk__http_request *req)
{
    while (c->p < c->end && (*c->p == '\r' || *c->p == '\n'))
        TRY(eol(c)); /* empty lines before the request line */
    TRY(run(c, is_tchar, &req->method, &req->method_len));
    TRY(expect(c, " "));
    TRY(run(c, is_target, &req->path, &req->path_len));
    TRY(expect(c, " "));
    TRY(version(c, &req->minor_version));
    TRY(eol(c));
    return headers(c, req->headers, &req->num_headers);
}

static int status_code(cursor *c, int *status)
{
    int v = 0;
    for (int i = 0; i < 3; i++, c->p++) {
        if (c->p == c->end)
            return NEED;
        if (*c->p < '0' || *c->p > '9' || (i == 0 && *c->p == '0'))
            return SK_EHTTP;
        v = v * 10 + (*c->p - '0');
    }
    *status = v;
    return 1;
}

static int response_head(cursor *c, sk__http_response *res)
{
    TRY(version(c, &res->minor_version));
    TRY(expect(c, " "));
    TRY(status_code(c, &res->status));
    res->reason = c->p;
    res->reason_len = 0;
    if (!at_eol(c)) { /* " reason" (may be empty) */
        TRY(expect(c, " "));
        res->reason = c->p;
        while (c->p < c->end && is_vchar_ws((unsigned char)*c->p))
            c->p++;
        res->reason_len = (size_t)(c->p - res->reason);
    }
    TRY(eol(c));
    return headers(c, res->headers, &res->num_headers);
}

/* Turns a head parser's result over the bounded window into the public result. */
static int finish(int rc, const cursor *c, const char *buf, size_t len)
{
    if (rc < 0)
        return rc;
    if (rc == NEED)
        return len >= SK__HTTP_MAX_HEAD ? SK_EHTTPBIG : 0;
    return (int)(c->p - buf);
}

int sk__http_parse_request(const char *buf, size_t len, sk__http_request *req)
{
    cursor c = {buf, buf + (len < SK__HTTP_MAX_HEAD ? len : SK__HTTP_MAX_HEAD)};
    req->num_headers = 0;
    return finish(request_head(&c, req), &c, buf, len);
}

int sk__http_parse_response(const char *buf, size_t len, sk__http_response *res)
{
    cursor c = {buf, buf + (len < SK__HTTP_MAX_HEAD ? len : SK__HTTP_MAX_HEAD)};
    res->num_headers = 0;
    return finish(response_head(&c, res), &c, buf, len);
}

/* ---- lookup ---- */

static char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch; }

bool sk__http_ieq(const char *a, size_t n, const char *b)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] == '\0' || lower(a[i]) != lower(b[i]))
            return false;
    return b[n] == '\0';
}

const sk__http_header *sk__http_find(const sk__http_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (sk__http_ieq(h[i].name, h[i].name_len, name))
            return &h[i];
    return NULL;
}

bool sk__http_next_item(const char *s, size_t len, size_t *pos, const char **item,
                        size_t *item_len)
{
    while (*pos < len) {
        size_t a = *pos, b = a;
        while (b < len && s[b] != ',')
            b++;
        *pos = b < len ? b + 1 : b;
        size_t e = b;
        while (a < e && is_ows(s[a]))
            a++;
        while (e > a && is_ows(s[e - 1]))
            e--;
        if (e > a) {
            *item = s + a;
            *item_len = e - a;
            return true;
        }
    }
    return false;
}

bool sk__http_has_token(const sk__http_header *h, size_t n, const char *name, const char *token)
{
    for (size_t i = 0; i < n; i++) {
        if (!sk__http_ieq(h[i].name, h[i].name_len, name))
            continue;
        size_t pos = 0, il;
        const char *item;
        while (sk__http_next_item(h[i].value, h[i].value_len, &pos, &item, &il))
            if (sk__http_ieq(item, il, token))
                return true;
    }
    return false;
}
