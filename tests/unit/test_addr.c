/* test_addr.c — unit tests for endpoint URLs: every valid form, every error with its
 * message, resolving without DNS, address printing, and parsing up to a guard page. */
#include "sockit/addr.h"
#include "sockit/error.h"

#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const size_t sun_off = offsetof(struct sockaddr_un, sun_path);

/* A string of n copies of ch after prefix (static buffer, one at a time). */
static const char *repeat(const char *prefix, char ch, size_t n)
{
    static char buf[1024];
    size_t p = strlen(prefix);
    memcpy(buf, prefix, p);
    memset(buf + p, ch, n);
    buf[p + n] = '\0';
    return buf;
}

/* Parses text, expects success with these fields, then checks the canonical
 * text and that re-parsing the canonical text gives the identical struct. */
static void ok_url(int line, const char *text, sk_scheme scheme, const char *host, int port,
                   const char *path, const char *canonical)
{
    sk_url u, v;
    char err[256] = "untouched", buf[512];
    int rc = sk_url_parse(text, &u, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "line %d: parse('%s') failed: %s\n", line, text, err);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        return;
    CHECK_EQ_INT(err[0], '\0');
    CHECK_EQ_INT(u.scheme, scheme);
    CHECK(strcmp(u.host, host) == 0);
    CHECK_EQ_INT(u.port, port);
    CHECK(strcmp(u.path, path) == 0);
    int n = sk_url_format(&u, buf, sizeof buf);
    CHECK_EQ_INT(n, strlen(buf));
    if (strcmp(buf, canonical) != 0)
        fprintf(stderr, "line %d: format('%s') = '%s', want '%s'\n", line, text, buf, canonical);
    CHECK(strcmp(buf, canonical) == 0);
    CHECK_EQ_INT(sk_url_parse(buf, &v, err, sizeof err), 0);
    CHECK(memcmp(&u, &v, sizeof u) == 0);
}

/* Parses text, expects SK_EURL with a one-line message containing every needle. */
static void bad_url(int line, const char *text, const char *needle1, const char *needle2)
{
    sk_url u;
    char err[256] = "";
    int rc = sk_url_parse(text, &u, err, sizeof err);
    CHECK_EQ_INT(rc, SK_EURL);
    int has = strstr(err, needle1) && (!needle2 || strstr(err, needle2));
    if (rc != SK_EURL || !has)
        fprintf(stderr, "line %d: parse('%s') = %d '%s', want '%s'%s%s\n", line,
                text ? text : "(null)", rc, err, needle1, needle2 ? " and " : "",
                needle2 ? needle2 : "");
    CHECK(has);
    CHECK(strchr(err, '\n') == NULL);
    sk_url zero;
    memset(&zero, 0, sizeof zero);
    CHECK(memcmp(&u, &zero, sizeof u) == 0); /* failure leaves *out zeroed */
}

#define OK(text, scheme, host, port, path, canon) \
    ok_url(__LINE__, text, scheme, host, port, path, canon)
#define BAD(text, needle) bad_url(__LINE__, text, needle, NULL)
#define BAD2(text, needle1, needle2) bad_url(__LINE__, text, needle1, needle2)

static void test_valid_forms(void)
{
    OK("tcp://127.0.0.1:5000", SK_SCHEME_TCP, "127.0.0.1", 5000, "", "tcp://127.0.0.1:5000");
    OK("tcp://localhost:80", SK_SCHEME_TCP, "localhost", 80, "", "tcp://localhost:80");
    OK("tcp://[::1]:80", SK_SCHEME_TCP, "::1", 80, "", "tcp://[::1]:80");
    OK("tcp://[0:0:0:0:0:0:0:1]:80", SK_SCHEME_TCP, "::1", 80, "", "tcp://[::1]:80");
    OK("tcp://[::FFFF:1.2.3.4]:80", SK_SCHEME_TCP, "::ffff:1.2.3.4", 80, "",
       "tcp://[::ffff:1.2.3.4]:80");
    OK("tcp://[::]:1", SK_SCHEME_TCP, "::", 1, "", "tcp://[::]:1");
    OK("tcp://*:8080", SK_SCHEME_TCP, "*", 8080, "", "tcp://*:8080");
    OK("tcp://h:65535", SK_SCHEME_TCP, "h", 65535, "", "tcp://h:65535");
    OK("tcp://h:0065535", SK_SCHEME_TCP, "h", 65535, "", "tcp://h:65535");
    OK("TCP://Host:1", SK_SCHEME_TCP, "Host", 1, "", "tcp://Host:1");
    OK("udp://my-host_1.example.com.:53", SK_SCHEME_UDP, "my-host_1.example.com.", 53, "",
       "udp://my-host_1.example.com.:53");
    OK("udp://[2001:db8::1]:53", SK_SCHEME_UDP, "2001:db8::1", 53, "", "udp://[2001:db8::1]:53");
    OK("ws://h:80", SK_SCHEME_WS, "h", 80, "/", "ws://h:80/");
    OK("ws://h:80/", SK_SCHEME_WS, "h", 80, "/", "ws://h:80/");
    OK("ws://h:80/chat?room=1&x=%20", SK_SCHEME_WS, "h", 80, "/chat?room=1&x=%20",
       "ws://h:80/chat?room=1&x=%20");
    OK("ws://h:80/a:b", SK_SCHEME_WS, "h", 80, "/a:b", "ws://h:80/a:b");
    OK("ws://[::1]:9000/x/y", SK_SCHEME_WS, "::1", 9000, "/x/y", "ws://[::1]:9000/x/y");
    OK("WS://*:9000/", SK_SCHEME_WS, "*", 9000, "/", "ws://*:9000/");
    OK("unix:///tmp/sock", SK_SCHEME_UNIX, "", 0, "/tmp/sock", "unix:///tmp/sock");
    OK("unix:///tmp/with space", SK_SCHEME_UNIX, "", 0, "/tmp/with space",
       "unix:///tmp/with space");
    OK("Unix:///x", SK_SCHEME_UNIX, "", 0, "/x", "unix:///x");
    OK("unixgram:///tmp/dg", SK_SCHEME_UNIXGRAM, "", 0, "/tmp/dg", "unixgram:///tmp/dg");
    OK("unix://@name", SK_SCHEME_UNIX, "", 0, "@name", "unix://@name");
    OK("unixgram://@name", SK_SCHEME_UNIXGRAM, "", 0, "@name", "unixgram://@name");
    OK("tls://127.0.0.1:8443", SK_SCHEME_TLS, "127.0.0.1", 8443, "", "tls://127.0.0.1:8443");
    OK("TLS://[::1]:1", SK_SCHEME_TLS, "::1", 1, "", "tls://[::1]:1");
    OK("wss://localhost:8443", SK_SCHEME_WSS, "localhost", 8443, "/", "wss://localhost:8443/");
    OK("wss://h:1/chat?x=1", SK_SCHEME_WSS, "h", 1, "/chat?x=1", "wss://h:1/chat?x=1");
}

static void test_errors(void)
{
    BAD2("htp://x:1", "unknown scheme 'htp'", "use tcp, udp, unix, unixgram, ws, tls or wss");
    BAD("tls://x", "port");
    BAD("wss://x/", "port");
    BAD("t_p://x:1", "invalid character '_' in scheme");
    BAD("://x:1", "missing scheme");
    BAD("", "empty URL");
    BAD(NULL, "no URL given");
    BAD("tcp:localhost:80", "missing '://'");
    BAD("tcp:/localhost:80", "missing '://'");
    BAD("localhost:80", "missing '://'");
    BAD("[::1]:80", "missing '://'");
    BAD("tcp://localhost", "missing port in 'tcp://localhost'");
    BAD("tcp://localhost:", "missing port");
    BAD("tcp://localhost/", "missing port");
    BAD("tcp://h:99999", "port '99999' out of range 1-65535");
    BAD("tcp://h:65536", "port '65536' out of range");
    BAD("tcp://h:99999999999999999999999", "out of range 1-65535");
    BAD("tcp://h:0", "port 0 not allowed");
    BAD("tcp://h:000", "port 0 not allowed");
    BAD("tcp://h:http", "invalid port 'http'");
    BAD("tcp://h:80x", "invalid port '80x'");
    BAD("tcp://h:-1", "invalid port '-1'");
    BAD("tcp://h:+80", "invalid port '+80'");
    BAD("tcp://h: 80", "invalid port ' 80'");
    BAD("tcp://h:80 ", "invalid port '80 '");
    BAD("tcp://h:80/", "trailing characters '/'");
    BAD("udp://h:80/x", "trailing characters '/x'");
    BAD("tcp://[::1:80", "unclosed '[' in IPv6 address");
    BAD("tcp://[::1", "unclosed '['");
    BAD("tcp://[", "unclosed '['");
    BAD("tcp://[zz::1]:80", "invalid IPv6 address 'zz::1'");
    BAD("tcp://[1.2.3.4]:80", "invalid IPv6 address '1.2.3.4'");
    BAD("tcp://[1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17]:80", "invalid IPv6 address");
    BAD("tcp://[]:80", "empty");
    BAD("tcp://[fe80::1%eth0]:80", "zone");
    BAD("tcp://[::1]x:80", "unexpected 'x' after ']'");
    BAD("tcp://[::1]", "missing port");
    BAD("tcp://[::1]:", "missing port");
    BAD("tcp://::1:80", "must be in brackets");
    BAD("tcp://fe80::1:80", "must be in brackets");
    BAD("tcp://1:2:3", "must be in brackets");
    BAD("tcp://:80", "empty host");
    BAD("tcp://", "empty host");
    BAD("ws:///x", "empty host");
    BAD("tcp://*x:80", "unexpected 'x' after '*'");
    BAD("tcp://h o:80", "invalid character ' ' in host name");
    BAD("tcp://user@h:80", "invalid character '@' in host name");
    BAD("tcp://h\x01:80", "invalid character byte 0x01 in host name");
    BAD("tcp://h\xc3\xa9:80", "invalid character byte 0xc3");
    BAD("tcp://a..b:80", "empty label");
    BAD("tcp://.a:80", "empty label");
    BAD("tcp://.:80", "empty label");
    BAD("tcp://999.1.1.1:80", "invalid IPv4 address '999.1.1.1'");
    BAD("tcp://1.2.3:80", "invalid IPv4 address '1.2.3'");
    BAD("tcp://123:80", "invalid IPv4 address '123'");
    BAD(repeat("tcp://", 'a', 64), "label longer than 63 bytes");
    BAD("ws://h", "missing port in 'ws://h'");
    BAD("ws://h/p", "missing port");
    BAD("ws://h:80?x", "invalid port '80?x'");
    BAD("ws://h:80/a b", "invalid character ' ' in ws path");
    BAD("ws://h:80/a#frag", "invalid character '#' in ws path");
    BAD("ws://h:80/a\tb", "invalid character byte 0x09 in ws path");
    BAD("unix://tmp/s", "unix path must be absolute");
    BAD("unix://localhost/tmp/s", "unix path must be absolute");
    BAD("unixgram://", "missing unix socket path");
    BAD("unix://@", "empty abstract socket name");
    BAD("unix:///tmp/a\nb", "invalid character byte 0x0a in unix path");

    /* Long host names: 253 is the DNS limit on the text form. */
    char name[300];
    memset(name, 0, sizeof name);
    strcpy(name, "tcp://");
    for (int i = 0; i < 4; i++)
        strcat(name, repeat(i ? "." : "", 'a', 62)); /* 4*62 + 3 dots = 251 */
    strcat(name, ".b");                              /* 253 */
    size_t at = strlen(name);
    strcat(name, ":1");
    sk_url u;
    CHECK_EQ_INT(sk_url_parse(name, &u, NULL, 0), 0);
    CHECK_EQ_INT(strlen(u.host), 253);
    memmove(name + at + 1, name + at, 3);
    name[at] = 'c'; /* 254 */
    BAD(name, "host name longer than 253 bytes");

    /* Messages quote long input shortened, and stay one line. */
    char err[256];
    CHECK_EQ_INT(sk_url_parse(repeat("", 'x', 500), &u, err, sizeof err), SK_EURL);
    CHECK(strstr(err, "...") != NULL);
    CHECK(strlen(err) < 200);

    /* err is optional, and a short err buffer is truncated but terminated. */
    CHECK_EQ_INT(sk_url_parse("htp://x:1", &u, NULL, 0), SK_EURL);
    char tiny[8];
    memset(tiny, 'z', sizeof tiny);
    CHECK_EQ_INT(sk_url_parse("htp://x:1", &u, tiny, sizeof tiny), SK_EURL);
    CHECK_EQ_INT(strlen(tiny), 7);
    CHECK_EQ_INT(sk_url_parse("tcp://h:1", NULL, tiny, sizeof tiny), SK_EURL);

    /* A success clears any stale message. */
    strcpy(err, "stale");
    CHECK_EQ_INT(sk_url_parse("tcp://h:1", &u, err, sizeof err), 0);
    CHECK_EQ_INT(err[0], '\0');
}

/* sun_path holds 108 bytes: a file path needs its NUL (107 max), an abstract
 * name is stored as "@name" in the 108-byte path field (106-byte name max). */
static void test_unix_boundary(void)
{
    sk_url u;
    sk_sockaddr sa;
    char err[256];
    const char *p107 = repeat("unix:///", 'p', 106);
    CHECK_EQ_INT(sk_url_parse(p107, &u, err, sizeof err), 0);
    CHECK_EQ_INT(strlen(u.path), 107);
    CHECK_EQ_INT(sk_url_resolve(&u, 1, &sa, 1, err, sizeof err), 1);
    CHECK_EQ_INT(sa.len, sun_off + 108);
    CHECK_EQ_INT(sa.len, sizeof(struct sockaddr_un));
    BAD(repeat("unix:///", 'p', 107), "unix path longer than 107 bytes");
    BAD(repeat("unixgram:///", 'p', 500), "unix path longer than 107 bytes");

    CHECK_EQ_INT(sk_url_parse(repeat("unix://@", 'n', 106), &u, err, sizeof err), 0);
    CHECK_EQ_INT(sk_url_resolve(&u, 1, &sa, 1, err, sizeof err), 1);
    CHECK_EQ_INT(sa.len, sun_off + 1 + 106);
    BAD(repeat("unix://@", 'n', 107), "abstract socket name longer than 106 bytes");

    CHECK_EQ_INT(sk_url_parse(repeat("ws://h:1/", 'w', 106), &u, err, sizeof err), 0);
    BAD(repeat("ws://h:1/", 'w', 107), "ws path longer than 107 bytes");
}

static void test_kinds(void)
{
    sk_url u;
    CHECK_EQ_INT(sk_url_parse("udp://h:1", &u, NULL, 0), 0);
    CHECK(sk_url_is_dgram(&u) && !sk_url_is_unix(&u));
    CHECK_EQ_INT(sk_url_parse("unixgram://@x", &u, NULL, 0), 0);
    CHECK(sk_url_is_dgram(&u) && sk_url_is_unix(&u));
    CHECK_EQ_INT(sk_url_parse("unix://@x", &u, NULL, 0), 0);
    CHECK(!sk_url_is_dgram(&u) && sk_url_is_unix(&u));
    CHECK_EQ_INT(sk_url_parse("tcp://h:1", &u, NULL, 0), 0);
    CHECK(!sk_url_is_dgram(&u) && !sk_url_is_unix(&u));
    CHECK_EQ_INT(sk_url_parse("ws://h:1", &u, NULL, 0), 0);
    CHECK(!sk_url_is_dgram(&u) && !sk_url_is_unix(&u));
    CHECK(!sk_url_is_dgram(NULL) && !sk_url_is_unix(NULL));
}

static void test_url_format_truncation(void)
{
    sk_url u;
    char buf[64];
    CHECK_EQ_INT(sk_url_parse("tcp://[::1]:8080", &u, NULL, 0), 0);
    CHECK_EQ_INT(sk_url_format(&u, buf, 8), 7);
    CHECK(strcmp(buf, "tcp://[") == 0);
    CHECK_EQ_INT(sk_url_format(&u, buf, 1), 0);
    CHECK_EQ_INT(buf[0], '\0');
    CHECK_EQ_INT(sk_url_format(&u, NULL, 0), 0);
    /* A hand-built ws url with no path prints the default "/". */
    memset(&u, 0, sizeof u);
    u.scheme = SK_SCHEME_WS;
    strcpy(u.host, "example.com");
    u.port = 443;
    CHECK_EQ_INT(sk_url_format(&u, buf, sizeof buf), 21);
    CHECK(strcmp(buf, "ws://example.com:443/") == 0);
}

/* Formats one resolved address and compares it with want. */
static int addr_is(const sk_sockaddr *sa, const char *want)
{
    char buf[160];
    int n = sk_sockaddr_format((const struct sockaddr *)&sa->ss, sa->len, buf, sizeof buf);
    if (strcmp(buf, want) != 0 || n != (int)strlen(want)) {
        fprintf(stderr, "address formats as '%s' (%d), want '%s'\n", buf, n, want);
        return 0;
    }
    return 1;
}

static void test_resolve(void)
{
    sk_url u;
    sk_sockaddr sa[8];
    char err[256];

    CHECK_EQ_INT(sk_url_parse("tcp://127.0.0.1:5000", &u, NULL, 0), 0);
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 8, err, sizeof err), 1);
    CHECK_EQ_INT(sa[0].ss.ss_family, AF_INET);
    CHECK_EQ_INT(sa[0].len, sizeof(struct sockaddr_in));
    CHECK(addr_is(&sa[0], "127.0.0.1:5000"));

    CHECK_EQ_INT(sk_url_parse("udp://[::1]:5000", &u, NULL, 0), 0);
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 8, err, sizeof err), 1);
    CHECK_EQ_INT(sa[0].ss.ss_family, AF_INET6);
    CHECK_EQ_INT(sa[0].len, sizeof(struct sockaddr_in6));
    CHECK(addr_is(&sa[0], "[::1]:5000"));

    /* localhost comes from /etc/hosts: no network needed; no duplicates. */
    const char *names[] = {"tcp://localhost:7", "udp://localhost:7", "ws://localhost:7/"};
    for (int k = 0; k < 3; k++) {
        CHECK_EQ_INT(sk_url_parse(names[k], &u, NULL, 0), 0);
        int n = sk_url_resolve(&u, 0, sa, 8, err, sizeof err);
        if (n < 1)
            fprintf(stderr, "resolve localhost: %s\n", err);
        CHECK(n >= 1);
        int v4 = 0;
        for (int i = 0; i < n; i++) {
            char buf[64];
            sk_sockaddr_format((struct sockaddr *)&sa[i].ss, sa[i].len, buf, sizeof buf);
            v4 += strcmp(buf, "127.0.0.1:7") == 0;
            CHECK(strcmp(buf, "[::1]:7") == 0 || strcmp(buf, "127.0.0.1:7") == 0);
            for (int j = 0; j < i; j++)
                CHECK(sa[i].len != sa[j].len || memcmp(&sa[i].ss, &sa[j].ss, sa[i].len) != 0);
        }
        CHECK_EQ_INT(v4, 1);
    }

    /* "*": wildcards for a listener (IPv6 first), loopback for a client. */
    CHECK_EQ_INT(sk_url_parse("tcp://*:80", &u, NULL, 0), 0);
    CHECK_EQ_INT(sk_url_resolve(&u, 1, sa, 8, err, sizeof err), 2);
    CHECK(addr_is(&sa[0], "[::]:80"));
    CHECK(addr_is(&sa[1], "0.0.0.0:80"));
    CHECK_EQ_INT(sk_url_resolve(&u, 1, sa, 1, err, sizeof err), 1);
    CHECK(addr_is(&sa[0], "[::]:80"));
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 8, err, sizeof err), 1);
    CHECK(addr_is(&sa[0], "127.0.0.1:80"));

    /* Unix: a file path counts its NUL, an abstract name has none. */
    CHECK_EQ_INT(sk_url_parse("unix:///tmp/sock", &u, NULL, 0), 0);
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 8, err, sizeof err), 1);
    CHECK_EQ_INT(sa[0].ss.ss_family, AF_UNIX);
    CHECK_EQ_INT(sa[0].len, sun_off + strlen("/tmp/sock") + 1);
    CHECK(strcmp(((struct sockaddr_un *)&sa[0].ss)->sun_path, "/tmp/sock") == 0);
    CHECK(addr_is(&sa[0], "/tmp/sock"));

    CHECK_EQ_INT(sk_url_parse("unixgram://@name", &u, NULL, 0), 0);
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 8, err, sizeof err), 1);
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&sa[0].ss;
    CHECK_EQ_INT(sa[0].len, sun_off + 1 + 4);
    CHECK(sun->sun_path[0] == '\0' && memcmp(sun->sun_path + 1, "name", 4) == 0);
    CHECK(addr_is(&sa[0], "@name"));

    /* Bad arguments and hand-built structs that the parser would refuse. */
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 0, err, sizeof err), -EINVAL);
    CHECK_EQ_INT(sk_url_resolve(NULL, 0, sa, 1, err, sizeof err), -EINVAL);
    memset(&u, 0, sizeof u);
    u.scheme = SK_SCHEME_UNIX;
    strcpy(u.path, "relative");
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 1, err, sizeof err), SK_EURL);
    CHECK(strstr(err, "unix") != NULL);
    memset(&u, 0, sizeof u);
    u.scheme = SK_SCHEME_TCP;
    u.port = 1;
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 1, err, sizeof err), SK_EURL);
    CHECK(strstr(err, "host") != NULL);
    strcpy(u.host, "a b");
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 1, err, sizeof err), SK_EURL);
    CHECK(strstr(err, "invalid character ' '") != NULL);
    strcpy(u.host, "::zz");
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 1, err, sizeof err), SK_EURL);
    CHECK(strstr(err, "invalid IPv6 address") != NULL);
    u.scheme = (sk_scheme)42;
    strcpy(u.host, "127.0.0.1");
    CHECK_EQ_INT(sk_url_resolve(&u, 0, sa, 1, err, sizeof err), SK_EURL);
    CHECK(strstr(err, "scheme") != NULL);
}

static void test_sockaddr_format(void)
{
    char buf[256];

    struct sockaddr_in6 m;
    memset(&m, 0, sizeof m);
    m.sin6_family = AF_INET6;
    m.sin6_port = htons(80);
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &m.sin6_addr);
    sk_sockaddr_format((struct sockaddr *)&m, sizeof m, buf, sizeof buf);
    CHECK(strcmp(buf, "10.1.2.3:80") == 0);
    m.sin6_scope_id = 999999; /* no such interface: printed as a number */
    inet_pton(AF_INET6, "fe80::1", &m.sin6_addr);
    sk_sockaddr_format((struct sockaddr *)&m, sizeof m, buf, sizeof buf);
    CHECK(strcmp(buf, "[fe80::1%999999]:80") == 0);

    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_port = htons(5000);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ_INT(sk_sockaddr_format((struct sockaddr *)&in, sizeof in, buf, 5), 4);
    CHECK(strcmp(buf, "127.") == 0);
    CHECK_EQ_INT(sk_sockaddr_format((struct sockaddr *)&in, sizeof in, NULL, 0), 0);
    sk_sockaddr_format((struct sockaddr *)&in, 4, buf, sizeof buf); /* too short for AF_INET */
    CHECK(strstr(buf, "family 2") != NULL);

    /* Unnamed unix peers: no address at all, or only the family. */
    CHECK_EQ_INT(sk_sockaddr_format(NULL, 0, buf, sizeof buf), 7);
    CHECK(strcmp(buf, "unnamed") == 0);
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    sk_sockaddr_format((struct sockaddr *)&un, sizeof(sa_family_t), buf, sizeof buf);
    CHECK(strcmp(buf, "unnamed") == 0);

    /* Abstract names are length-based: embedded NULs show as '@'. */
    memcpy(un.sun_path, "\0a\0b", 4);
    sk_sockaddr_format((struct sockaddr *)&un, (socklen_t)(sun_off + 4), buf, sizeof buf);
    CHECK(strcmp(buf, "@a@b") == 0);
    sk_sockaddr_format((struct sockaddr *)&un, (socklen_t)(sun_off + 2), buf, sizeof buf);
    CHECK(strcmp(buf, "@a") == 0);

    /* A path filling all of sun_path with no NUL, in an exact-size heap copy. */
    struct sockaddr_un *full = malloc(sizeof *full);
    full->sun_family = AF_UNIX;
    memset(full->sun_path, 'f', sizeof full->sun_path);
    full->sun_path[0] = '/';
    CHECK_EQ_INT(sk_sockaddr_format((struct sockaddr *)full, sizeof *full, buf, sizeof buf),
                 sizeof full->sun_path);
    free(full);
    /* A path with its NUL followed by junk stops at the NUL. */
    memcpy(un.sun_path, "/s\0junk", 7);
    sk_sockaddr_format((struct sockaddr *)&un, (socklen_t)(sun_off + 7), buf, sizeof buf);
    CHECK(strcmp(buf, "/s") == 0);

    struct sockaddr other;
    memset(&other, 0, sizeof other);
    other.sa_family = AF_PACKET;
    sk_sockaddr_format(&other, sizeof other, buf, sizeof buf);
    CHECK(strstr(buf, "family") != NULL);
}

/* The kernel's view of real sockets prints the same way (loopback only). */
static void test_real_sockets(void)
{
    char buf[256], err[256];
    struct sockaddr_storage ss;
    socklen_t len;

    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    len = sizeof ss;
    CHECK_EQ_INT(getpeername(sv[0], (struct sockaddr *)&ss, &len), 0);
    sk_sockaddr_format((struct sockaddr *)&ss, len, buf, sizeof buf);
    CHECK(strcmp(buf, "unnamed") == 0);
    close(sv[0]);
    close(sv[1]);

    sk_url u;
    sk_sockaddr sa;
    char url[128];
    snprintf(url, sizeof url, "unix://@sockit-test-%ld", (long)getpid());
    CHECK_EQ_INT(sk_url_parse(url, &u, err, sizeof err), 0);
    CHECK_EQ_INT(sk_url_resolve(&u, 1, &sa, 1, err, sizeof err), 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sa.ss, sa.len), 0);
    len = sizeof ss;
    CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    CHECK_EQ_INT(len, sa.len);
    sk_sockaddr_format((struct sockaddr *)&ss, len, buf, sizeof buf);
    CHECK(strcmp(buf, u.path) == 0);
    close(fd);

    /* Port 0 cannot be written in a URL but a hand-built url may ask for an
     * ephemeral port. */
    CHECK_EQ_INT(sk_url_parse("tcp://127.0.0.1:1", &u, err, sizeof err), 0);
    u.port = 0;
    CHECK_EQ_INT(sk_url_resolve(&u, 1, &sa, 1, err, sizeof err), 1);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sa.ss, sa.len), 0);
    len = sizeof ss;
    CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    sk_sockaddr_format((struct sockaddr *)&ss, len, buf, sizeof buf);
    CHECK(strncmp(buf, "127.0.0.1:", 10) == 0 && strcmp(buf, "127.0.0.1:0") != 0);
    close(fd);
}

/* Every prefix of each input ends exactly at a PROT_NONE page: an over-read
 * crashes. The full input must also parse exactly as it does elsewhere. */
static void test_guard_page(void)
{
    const char *inputs[] = {
        "tcp://127.0.0.1:5000",      "udp://[2001:db8::1]:53", "ws://example.com:80/chat?x=1",
        "unix:///tmp/sock",           "unixgram://@name",       "tcp://*:8080",
        "tcp://[::ffff:1.2.3.4]:1",   "ws://[::1]:9000",        "tcp://h:99999",
        "htp://x",                    "tcp://[::1",             "tcp://a..b:1",
    };
    long page = sysconf(_SC_PAGESIZE);
    char *base = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(base != MAP_FAILED);
    if (base == MAP_FAILED)
        return;
    CHECK_EQ_INT(mprotect(base + page, (size_t)page, PROT_NONE), 0);
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        size_t len = strlen(inputs[k]);
        for (size_t n = 0; n <= len; n++) {
            char *at = base + page - (n + 1);
            memcpy(at, inputs[k], n);
            at[n] = '\0';
            sk_url a, b;
            char e1[256], e2[256];
            int r1 = sk_url_parse(at, &a, e1, sizeof e1);
            if (n == len) {
                int r2 = sk_url_parse(inputs[k], &b, e2, sizeof e2);
                CHECK_EQ_INT(r1, r2);
                CHECK(memcmp(&a, &b, sizeof a) == 0);
            }
            if (r1 == 0) { /* unix: resolve reads the parsed struct, not the input */
                sk_sockaddr sa;
                if (sk_url_is_unix(&a))
                    CHECK_EQ_INT(sk_url_resolve(&a, 0, &sa, 1, e2, sizeof e2), 1);
            }
        }
    }
    munmap(base, (size_t)page * 2);
}

int main(void)
{
    test_valid_forms();
    test_errors();
    test_unix_boundary();
    test_kinds();
    test_url_format_truncation();
    test_resolve();
    test_sockaddr_format();
    test_real_sockets();
    test_guard_page();
    return check_done("test_addr");
}
