/* addr.c — endpoint URLs: parses and prints tcp://, udp://, ws://, unix:// and
 * unixgram:// text, resolves it into socket addresses and prints those for logs. */
#include "sockit/addr.h"
#include "sockit/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define NAME_LEN_MAX 253                      /* DNS limit on a name's text form */
#define LABEL_LEN_MAX 63                      /* DNS limit on one label */
#define PATH_LEN_MAX (SK_URL_PATH_MAX - 1)    /* 107: room for the NUL */
#define SHOWN_MAX 64                          /* longest input quoted in a message */
#define SCHEMES_HINT "use tcp, udp, unix, unixgram, ws, tls or wss"

static const struct {
    const char *name;
    sk_scheme scheme;
} schemes[] = {
    {"tcp", SK_SCHEME_TCP},   {"udp", SK_SCHEME_UDP}, {"unix", SK_SCHEME_UNIX},
    {"unixgram", SK_SCHEME_UNIXGRAM}, {"ws", SK_SCHEME_WS}, {"tls", SK_SCHEME_TLS},
    {"wss", SK_SCHEME_WSS},
};

/* One parse call: the whole input (quoted in messages) and where the reason goes. */
typedef struct parse_ctx {
    const char *text;
    char *err;
    size_t errlen;
} parse_ctx;

/* A short printable copy of some input for an error message. */
typedef struct shown {
    char s[SHOWN_MAX + 4];
} shown;

static int is_digit(int ch) { return ch >= '0' && ch <= '9'; }
static int is_alpha(int ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static int is_ctl(int ch) { return (unsigned char)ch < 0x20 || ch == 0x7f; }

static int is_host_char(int ch)
{
    return is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '.' || ch == '_';
}

static int is_scheme_char(int ch)
{
    return is_alpha(ch) || is_digit(ch) || ch == '+' || ch == '-' || ch == '.';
}

/* Writes a one-line message into err (control bytes become '?'). */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (n < 0)
        err[0] = '\0';
    for (char *p = err; *p; p++)
        if (is_ctl(*p))
            *p = '?';
}

/* Copies at most n bytes of s (stopping at a NUL), cut to SHOWN_MAX with "...". */
static shown show(const char *s, size_t n)
{
    shown out;
    size_t len = strnlen(s, n);
    size_t keep = len > SHOWN_MAX ? SHOWN_MAX : len;
    memcpy(out.s, s, keep);
    strcpy(out.s + keep, len > keep ? "..." : "");
    return out;
}

static shown show_all(const char *s) { return show(s, (size_t)-1); }

/* Describes one byte for a message: 'x' when printable, else byte 0xNN. */
static shown show_char(int ch)
{
    shown out;
    unsigned char c = (unsigned char)ch;
    if (is_ctl(c) || c >= 0x80 || c == '\'')
        snprintf(out.s, sizeof out.s, "byte 0x%02x", c);
    else
        snprintf(out.s, sizeof out.s, "'%c'", c);
    return out;
}

static const char *scheme_name(sk_scheme s)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (schemes[i].scheme == s)
            return schemes[i].name;
    return NULL;
}

/* Reads "SCHEME://" at *pp into url->scheme and moves *pp past it. */
static int parse_scheme(parse_ctx *c, const char **pp, sk_url *url)
{
    const char *p = *pp;
    size_t n = 0;
    while (is_scheme_char(p[n]))
        n++;
    /* Short-circuit order never reads past the NUL. */
    if (!(p[n] == ':' && p[n + 1] == '/' && p[n + 2] == '/')) {
        if (strstr(p, "://") && p[n] != ':')
            set_err(c->err, c->errlen, "invalid character %s in scheme of '%s'",
                    show_char(p[n]).s, show_all(c->text).s);
        else
            set_err(c->err, c->errlen,
                    "missing '://' in '%s' (expected SCHEME://..., e.g. tcp://127.0.0.1:8080)",
                    show_all(c->text).s);
        return SK_EURL;
    }
    if (n == 0) {
        set_err(c->err, c->errlen, "missing scheme before '://' (%s)", SCHEMES_HINT);
        return SK_EURL;
    }
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        if (strlen(schemes[i].name) == n && strncasecmp(p, schemes[i].name, n) == 0) {
            url->scheme = schemes[i].scheme;
            *pp = p + n + 3;
            return 0;
        }
    }
    set_err(c->err, c->errlen, "unknown scheme '%s' (%s)", show(p, n).s, SCHEMES_HINT);
    return SK_EURL;
}

/* Checks a host name's labels; an all-numeric name must be a dotted-quad IPv4. */
static int check_name(parse_ctx *c, const char *host, size_t n)
{
    int numeric = 1;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        if (host[i] != '.') {
            numeric &= is_digit(host[i]);
            if (++label > LABEL_LEN_MAX) {
                set_err(c->err, c->errlen, "label longer than %d bytes in host name '%s'",
                        LABEL_LEN_MAX, show(host, n).s);
                return SK_EURL;
            }
            continue;
        }
        if (label == 0) { /* ".." or a leading '.'; one trailing dot is fine */
            set_err(c->err, c->errlen, "empty label ('..' or leading '.') in host name '%s'",
                    show(host, n).s);
            return SK_EURL;
        }
        label = 0;
    }
    if (numeric) {
        struct in_addr a;
        char tmp[NAME_LEN_MAX + 1];
        memcpy(tmp, host, n);
        tmp[n] = '\0';
        if (inet_pton(AF_INET, tmp, &a) != 1) {
            set_err(c->err, c->errlen, "invalid IPv4 address '%s'", show(host, n).s);
            return SK_EURL;
        }
    }
    return 0;
}

/* Reads "[IPv6]" at *pp; stores the address in canonical form without brackets. */
static int parse_ipv6(parse_ctx *c, const char **pp, sk_url *url)
{
    const char *p = *pp + 1;
    size_t n = 0;
    while (p[n] && p[n] != ']')
        n++;
    if (p[n] != ']') {
        set_err(c->err, c->errlen, "unclosed '[' in IPv6 address in '%s'", show_all(c->text).s);
        return SK_EURL;
    }
    if (n == 0) {
        set_err(c->err, c->errlen, "empty host: empty IPv6 address '[]'");
        return SK_EURL;
    }
    if (memchr(p, '%', n)) {
        set_err(c->err, c->errlen, "IPv6 zone ids are not supported in '[%s]'", show(p, n).s);
        return SK_EURL;
    }
    char tmp[INET6_ADDRSTRLEN];
    struct in6_addr a;
    int ok = n < sizeof tmp;
    if (ok) {
        memcpy(tmp, p, n);
        tmp[n] = '\0';
        ok = inet_pton(AF_INET6, tmp, &a) == 1;
    }
    if (!ok) {
        set_err(c->err, c->errlen, "invalid IPv6 address '%s'", show(p, n).s);
        return SK_EURL;
    }
    inet_ntop(AF_INET6, &a, url->host, sizeof url->host);
    *pp = p + n + 1;
    return 0;
}

/* Reads the host at *pp: "[IPv6]", "*", an IPv4 address or a name. */
static int parse_host(parse_ctx *c, const char **pp, sk_url *url)
{
    const char *p = *pp;
    const char *what = NULL;
    size_t n = 0;
    if (*p == '[') {
        int rc = parse_ipv6(c, pp, url);
        if (rc)
            return rc;
        what = "']'";
    } else if (*p == '*') {
        strcpy(url->host, "*");
        *pp = p + 1;
        what = "'*'";
    } else {
        while (is_host_char(p[n]))
            n++;
        *pp = p + n;
    }
    char next = **pp;
    if (next != ':' && next != '/' && next != '\0') {
        if (what)
            set_err(c->err, c->errlen, "unexpected %s after %s in '%s'", show_char(next).s,
                    what, show_all(c->text).s);
        else
            set_err(c->err, c->errlen, "invalid character %s in host name '%s'",
                    show_char(next).s, show_all(c->text).s);
        return SK_EURL;
    }
    if (what)
        return 0;
    if (next == ':' && (*pp)[1 + strcspn(*pp + 1, ":/")] == ':') { /* "fe80::1:80" */
        set_err(c->err, c->errlen, "IPv6 address must be in brackets, e.g. tcp://[::1]:80");
        return SK_EURL;
    }
    if (n == 0) {
        set_err(c->err, c->errlen, "empty host in '%s'", show_all(c->text).s);
        return SK_EURL;
    }
    if (n > NAME_LEN_MAX) {
        set_err(c->err, c->errlen, "host name longer than %d bytes", NAME_LEN_MAX);
        return SK_EURL;
    }
    int rc = check_name(c, p, n);
    if (rc)
        return rc;
    memcpy(url->host, p, n);
    url->host[n] = '\0';
    return 0;
}

/* Reads ":PORT" at *pp (digits only, 1..65535) and moves *pp past it. */
static int parse_port(parse_ctx *c, const char **pp, sk_url *url)
{
    const char *p = *pp;
    if (*p != ':') {
        set_err(c->err, c->errlen, "missing port in '%s'", show_all(c->text).s);
        return SK_EURL;
    }
    p++;
    size_t n = 0;
    unsigned long v = 0;
    for (; is_digit(p[n]); n++)
        if (v <= 65535)
            v = v * 10 + (unsigned long)(p[n] - '0');
    if (p[n] == ':') {
        set_err(c->err, c->errlen, "IPv6 address must be in brackets, e.g. tcp://[::1]:80");
        return SK_EURL;
    }
    if (n == 0 && (p[0] == '\0' || p[0] == '/')) {
        set_err(c->err, c->errlen, "missing port in '%s'", show_all(c->text).s);
        return SK_EURL;
    }
    if (p[n] != '\0' && p[n] != '/') {
        size_t m = n;
        while (p[m] && p[m] != '/')
            m++;
        set_err(c->err, c->errlen, "invalid port '%s' (must be a number 1-65535)",
                show(p, m).s);
        return SK_EURL;
    }
    if (v > 65535) {
        set_err(c->err, c->errlen, "port '%s' out of range 1-65535", show(p, n).s);
        return SK_EURL;
    }
    if (v == 0) {
        set_err(c->err, c->errlen, "port 0 not allowed (use 1-65535)");
        return SK_EURL;
    }
    url->port = (uint16_t)v;
    *pp = p + n;
    return 0;
}

/* Reads the optional "/PATH" of a ws:// URL: visible ASCII except '#'. */
static int parse_ws_path(parse_ctx *c, const char *p, sk_url *url)
{
    if (*p == '\0') {
        strcpy(url->path, "/");
        return 0;
    }
    size_t n = strnlen(p, PATH_LEN_MAX + 1);
    if (n > PATH_LEN_MAX) {
        set_err(c->err, c->errlen, "ws path longer than %d bytes", PATH_LEN_MAX);
        return SK_EURL;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] <= ' ' || p[i] >= 0x7f || p[i] == '#') {
            set_err(c->err, c->errlen, "invalid character %s in ws path '%s'",
                    show_char(p[i]).s, show(p, n).s);
            return SK_EURL;
        }
    }
    memcpy(url->path, p, n + 1);
    return 0;
}

/* Reads "/abs/path" or "@abstract" after unix:// or unixgram://. */
static int parse_unix_path(parse_ctx *c, const char *p, sk_url *url)
{
    if (*p == '\0') {
        set_err(c->err, c->errlen,
                "missing unix socket path in '%s' (use unix:///abs/path or unix://@name)",
                show_all(c->text).s);
        return SK_EURL;
    }
    if (*p != '/' && *p != '@') {
        set_err(c->err, c->errlen,
                "unix path must be absolute (unix:///abs/path or unix://@name), got '%s'",
                show_all(p).s);
        return SK_EURL;
    }
    if (p[0] == '@' && p[1] == '\0') {
        set_err(c->err, c->errlen, "empty abstract socket name after '@'");
        return SK_EURL;
    }
    size_t n = strnlen(p, PATH_LEN_MAX + 1);
    if (n > PATH_LEN_MAX) {
        if (*p == '@')
            set_err(c->err, c->errlen, "abstract socket name longer than %d bytes",
                    PATH_LEN_MAX - 1);
        else
            set_err(c->err, c->errlen, "unix path longer than %d bytes", PATH_LEN_MAX);
        return SK_EURL;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_ctl(p[i])) {
            set_err(c->err, c->errlen, "invalid character %s in unix path",
                    show_char(p[i]).s);
            return SK_EURL;
        }
    }
    memcpy(url->path, p, n + 1);
    return 0;
}

static int parse_all(parse_ctx *c, sk_url *out)
{
    const char *p = c->text;
    if (*p == '\0') {
        set_err(c->err, c->errlen, "empty URL (e.g. tcp://127.0.0.1:8080)");
        return SK_EURL;
    }
    int rc = parse_scheme(c, &p, out);
    if (rc)
        return rc;
    if (sk_url_is_unix(out))
        return parse_unix_path(c, p, out);
    if ((rc = parse_host(c, &p, out)) || (rc = parse_port(c, &p, out)))
        return rc;
    if (sk_url_is_ws(out))
        return parse_ws_path(c, p, out);
    if (*p != '\0') {
        set_err(c->err, c->errlen, "trailing characters '%s' after port in '%s'",
                show_all(p).s, show_all(c->text).s);
        return SK_EURL;
    }
    return 0;
}

int sk_url_parse(const char *text, sk_url *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out) {
        set_err(err, errlen, "no place to store the parsed URL");
        return SK_EURL;
    }
    memset(out, 0, sizeof *out);
    if (!text) {
        set_err(err, errlen, "no URL given");
        return SK_EURL;
    }
    parse_ctx c = {text, err, errlen};
    int rc = parse_all(&c, out);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

int sk_url_is_dgram(const sk_url *url)
{
    return url && (url->scheme == SK_SCHEME_UDP || url->scheme == SK_SCHEME_UNIXGRAM);
}

int sk_url_is_unix(const sk_url *url)
{
    return url && (url->scheme == SK_SCHEME_UNIX || url->scheme == SK_SCHEME_UNIXGRAM);
}

int sk_url_is_ws(const sk_url *url)
{
    return url && (url->scheme == SK_SCHEME_WS || url->scheme == SK_SCHEME_WSS);
}

int sk_url_is_tls(const sk_url *url)
{
    return url && (url->scheme == SK_SCHEME_TLS || url->scheme == SK_SCHEME_WSS);
}

/* Turns an snprintf result into "length actually written". */
static int written(int n, char *buf, size_t buflen)
{
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n >= buflen ? (int)(buflen - 1) : n;
}

int sk_url_format(const sk_url *url, char *buf, size_t buflen)
{
    if (!buf || buflen == 0)
        return 0;
    buf[0] = '\0';
    const char *name = url ? scheme_name(url->scheme) : NULL;
    if (!name)
        return 0;
    int n;
    if (sk_url_is_unix(url)) {
        n = snprintf(buf, buflen, "%s://%.*s", name, (int)strnlen(url->path, sizeof url->path),
                     url->path);
    } else {
        int hl = (int)strnlen(url->host, sizeof url->host);
        int v6 = memchr(url->host, ':', (size_t)hl) != NULL;
        int pl = (int)strnlen(url->path, sizeof url->path);
        const char *path = !sk_url_is_ws(url) ? "" : pl ? url->path : "/";
        n = snprintf(buf, buflen, "%s://%s%.*s%s:%u%.*s", name, v6 ? "[" : "", hl, url->host,
                     v6 ? "]" : "", (unsigned)url->port, pl ? pl : 1, path);
    }
    return written(n, buf, buflen);
}

/* Unix paths: "/abs" counts its NUL; "@name" is sun_path[0]=0 then the name, no NUL. */
static int resolve_unix(const sk_url *url, sk_sockaddr *out, char *err, size_t errlen)
{
    size_t n = strnlen(url->path, sizeof url->path);
    if (n == 0 || n > PATH_LEN_MAX || (url->path[0] != '/' && url->path[0] != '@') ||
        (url->path[0] == '@' && n == 1)) {
        set_err(err, errlen, "invalid unix socket path (use /abs/path or @name)");
        return SK_EURL;
    }
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
    sun->sun_family = AF_UNIX;
    if (url->path[0] == '@') {
        sun->sun_path[0] = '\0';
        memcpy(sun->sun_path + 1, url->path + 1, n - 1);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        memcpy(sun->sun_path, url->path, n + 1);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 1;
}

static void put_in4(sk_sockaddr *out, uint32_t addr_be, uint16_t port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = addr_be;
    out->len = sizeof *sin;
}

static void put_in6(sk_sockaddr *out, const struct in6_addr *addr, uint16_t port)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_addr = *addr;
    out->len = sizeof *sin6;
}

/* Names go through getaddrinfo; duplicate addresses are dropped. */
static int resolve_name(const sk_url *url, sk_sockaddr *out, int max, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = url->scheme == SK_SCHEME_UDP ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)url->port);
    int rc = getaddrinfo(url->host, port, &hints, &res);
    if (rc != 0) {
        set_err(err, errlen, "cannot resolve '%s': %s", show_all(url->host).s,
                rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return SK_ERESOLVE;
    }
    int count = 0;
    for (struct addrinfo *ai = res; ai && count < max; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof out[0].ss)
            continue;
        int dup = 0;
        for (int i = 0; i < count && !dup; i++)
            dup = out[i].len == ai->ai_addrlen &&
                  memcmp(&out[i].ss, ai->ai_addr, ai->ai_addrlen) == 0;
        if (dup)
            continue;
        memcpy(&out[count].ss, ai->ai_addr, ai->ai_addrlen);
        out[count++].len = (socklen_t)ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (count == 0) {
        set_err(err, errlen, "cannot resolve '%s': no IPv4 or IPv6 address",
                show_all(url->host).s);
        return SK_ERESOLVE;
    }
    return count;
}

int sk_url_resolve(const sk_url *url, int passive, sk_sockaddr *out, int max, char *err,
                   size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!url || !out || max < 1) {
        set_err(err, errlen, "sk_url_resolve: need a url and room for at least one address");
        return -EINVAL;
    }
    memset(out, 0, sizeof *out * (size_t)max);
    if (sk_url_is_unix(url))
        return resolve_unix(url, out, err, errlen);
    size_t hl = strnlen(url->host, sizeof url->host);
    if (!scheme_name(url->scheme) || hl == 0 || hl > NAME_LEN_MAX) {
        set_err(err, errlen, "%s",
                scheme_name(url->scheme) ? "empty or over-long host" : "unknown scheme");
        return SK_EURL;
    }
    if (strcmp(url->host, "*") == 0) {
        if (!passive) { /* connecting to "all addresses" means this machine */
            put_in4(&out[0], htonl(INADDR_LOOPBACK), url->port);
            return 1;
        }
        put_in6(&out[0], &in6addr_any, url->port);
        if (max < 2)
            return 1;
        put_in4(&out[1], htonl(INADDR_ANY), url->port);
        return 2;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, url->host, &a4) == 1) {
        put_in4(&out[0], a4.s_addr, url->port);
        return 1;
    }
    if (memchr(url->host, ':', hl)) {
        if (inet_pton(AF_INET6, url->host, &a6) != 1) {
            set_err(err, errlen, "invalid IPv6 address '%s'", show_all(url->host).s);
            return SK_EURL;
        }
        put_in6(&out[0], &a6, url->port);
        return 1;
    }
    for (size_t i = 0; i < hl; i++) {
        if (!is_host_char(url->host[i])) {
            set_err(err, errlen, "invalid character %s in host name", show_char(url->host[i]).s);
            return SK_EURL;
        }
    }
    return resolve_name(url, out, max, err, errlen);
}

/* Appends a printable copy of n bytes (NUL shown as '@', other control bytes as '?'). */
static int format_bytes(char *buf, size_t buflen, const char *prefix, const char *s, size_t n)
{
    size_t at = 0;
    for (const char *p = prefix; *p && at + 1 < buflen; p++)
        buf[at++] = *p;
    for (size_t i = 0; i < n && at + 1 < buflen; i++)
        buf[at++] = s[i] == '\0' ? '@' : is_ctl(s[i]) ? '?' : s[i];
    buf[at] = '\0';
    return (int)at;
}

static int format_unix(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    struct sockaddr_un sun;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t n = len > sizeof sun ? sizeof sun : len;
    if (n <= off)
        return written(snprintf(buf, buflen, "unnamed"), buf, buflen);
    memset(&sun, 0, sizeof sun);
    memcpy(&sun, sa, n);
    n -= off;
    if (sun.sun_path[0] == '\0')
        return format_bytes(buf, buflen, "@", sun.sun_path + 1, n - 1);
    return format_bytes(buf, buflen, "", sun.sun_path, strnlen(sun.sun_path, n));
}

static int format_in6(const struct sockaddr *sa, char *buf, size_t buflen)
{
    struct sockaddr_in6 sin6;
    memcpy(&sin6, sa, sizeof sin6);
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = ntohs(sin6.sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
        inet_ntop(AF_INET, &sin6.sin6_addr.s6_addr[12], ip, sizeof ip);
        return written(snprintf(buf, buflen, "%s:%u", ip, port), buf, buflen);
    }
    inet_ntop(AF_INET6, &sin6.sin6_addr, ip, sizeof ip);
    char scope[IF_NAMESIZE + 2] = "";
    if (sin6.sin6_scope_id) {
        char ifname[IF_NAMESIZE];
        if (if_indextoname(sin6.sin6_scope_id, ifname))
            snprintf(scope, sizeof scope, "%%%s", ifname);
        else
            snprintf(scope, sizeof scope, "%%%u", (unsigned)sin6.sin6_scope_id);
    }
    return written(snprintf(buf, buflen, "[%s%s]:%u", ip, scope, port), buf, buflen);
}

int sk_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    if (!buf || buflen == 0)
        return 0;
    if (!sa || len < sizeof(sa_family_t)) /* e.g. recvfrom() from an unbound unixgram peer */
        return written(snprintf(buf, buflen, "unnamed"), buf, buflen);
    sa_family_t family;
    memcpy(&family, &sa->sa_family, sizeof family);
    if (family == AF_UNIX)
        return format_unix(sa, len, buf, buflen);
    if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof sin);
        char ip[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof ip);
        return written(snprintf(buf, buflen, "%s:%u", ip, (unsigned)ntohs(sin.sin_port)), buf,
                       buflen);
    }
    if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
        return format_in6(sa, buf, buflen);
    return written(snprintf(buf, buflen, "address of family %d (length %u)", (int)family,
                            (unsigned)len),
                   buf, buflen);
}
