/* info.c — `sockit info [URL] [--json]`: host and socket facts (hostname, addresses,
 * default buffer sizes, kernel limits) and, with a URL, what it resolves to. */
#include "cli/options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define INFO_MAX_ADDRS 16
#define UNKNOWN (-1LL)   /* a fact that could not be read: "unknown" / null */
#define UNLIMITED (-2LL) /* RLIM_INFINITY: "unlimited" in both outputs */
#define KEY_WIDTH 24

/* The URL argument, parsed and resolved before anything is printed. */
typedef struct info_url {
    sk_url url;
    char text[512]; /* canonical form */
    sk_sockaddr addrs[INFO_MAX_ADDRS];
    int naddrs;
} info_url;

/* Every fact, gathered first so that both printers see the same values. */
typedef struct info_facts {
    char hostname[256];
    struct ifaddrs *ifs;      /* owned; freeifaddrs() in cmd_info */
    long long tcp_buf[2];     /* SO_SNDBUF, SO_RCVBUF of a fresh socket */
    long long udp_buf[2];
    long long wmem[3], rmem[3]; /* net.ipv4.tcp_wmem / tcp_rmem: min default max */
    long long core[5];        /* in the order of core_files[] */
    long long ports[2];       /* net.ipv4.ip_local_port_range */
    long long nofile[2];      /* RLIMIT_NOFILE soft, hard */
    long long file_max, nr_open;
    const info_url *url;      /* NULL without a URL argument */
    const sk_tls_info *tls;   /* tls:// and wss:// URLs: what the handshake agreed */
} info_facts;

static const struct {
    const char *key, *path;
} core_files[5] = {
    {"rmem_default", "/proc/sys/net/core/rmem_default"},
    {"wmem_default", "/proc/sys/net/core/wmem_default"},
    {"rmem_max", "/proc/sys/net/core/rmem_max"},
    {"wmem_max", "/proc/sys/net/core/wmem_max"},
    {"somaxconn", "/proc/sys/net/core/somaxconn"},
};

/* ------------------------------------------------------------ gathering */

/* Reads up to n non-negative numbers from the first line of path; the ones
 * missing (file absent, unreadable or short) are set to UNKNOWN. */
static void read_nums(const char *path, long long *v, int n)
{
    for (int i = 0; i < n; i++)
        v[i] = UNKNOWN;
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[256];
    const char *p = fgets(line, sizeof line, f) ? line : NULL;
    fclose(f);
    for (int i = 0; p && i < n; i++) {
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno || x < 0)
            return;
        v[i] = x;
        p = end;
    }
}

/* SO_SNDBUF and SO_RCVBUF of a fresh AF_INET socket of this type. */
static void sock_bufs(int type, long long out[2])
{
    static const int opts[2] = {SO_SNDBUF, SO_RCVBUF};
    out[0] = out[1] = UNKNOWN;
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    for (int i = 0; i < 2; i++) {
        int v = 0;
        socklen_t len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, opts[i], &v, &len) == 0)
            out[i] = v;
    }
    close(fd);
}

static long long rlim_value(rlim_t v)
{
    return v == RLIM_INFINITY || v > (rlim_t)LLONG_MAX ? UNLIMITED : (long long)v;
}

static void gather_limits(info_facts *f)
{
    struct rlimit rl;
    f->nofile[0] = f->nofile[1] = UNKNOWN;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        f->nofile[0] = rlim_value(rl.rlim_cur);
        f->nofile[1] = rlim_value(rl.rlim_max);
    }
    read_nums("/proc/sys/fs/file-max", &f->file_max, 1);
    read_nums("/proc/sys/fs/nr_open", &f->nr_open, 1);
}

static void gather(info_facts *f)
{
    if (gethostname(f->hostname, sizeof f->hostname) < 0)
        snprintf(f->hostname, sizeof f->hostname, "unknown");
    f->hostname[sizeof f->hostname - 1] = '\0';
    if (getifaddrs(&f->ifs) < 0)
        f->ifs = NULL;
    sock_bufs(SOCK_STREAM, f->tcp_buf);
    sock_bufs(SOCK_DGRAM, f->udp_buf);
    read_nums("/proc/sys/net/ipv4/tcp_wmem", f->wmem, 3);
    read_nums("/proc/sys/net/ipv4/tcp_rmem", f->rmem, 3);
    for (int i = 0; i < 5; i++)
        read_nums(core_files[i].path, &f->core[i], 1);
    read_nums("/proc/sys/net/ipv4/ip_local_port_range", f->ports, 2);
    gather_limits(f);
}

/* Parses, formats and resolves the URL argument. Returns 0, or the exit
 * status after one line on stderr: 2 for a bad URL, 1 when it does not resolve. */
static int gather_url(const char *arg, info_url *u)
{
    int r = cli_url(arg, &u->url);
    if (r)
        return r;
    sk_url_format(&u->url, u->text, sizeof u->text);
    char err[512] = "";
    int n = sk_url_resolve(&u->url, 0, u->addrs, INFO_MAX_ADDRS, err, sizeof err);
    if (n == SK_EURL) {
        cli_error("bad URL '%s': %s", arg, err[0] ? err : sk_strerror(n));
        return 2;
    }
    if (n < 0) {
        cli_error("cannot resolve URL: %s", err[0] ? err : sk_strerror(n));
        return 1;
    }
    u->naddrs = n;
    return 0;
}

/* Writes the family name and the address (IPv6 link-local with "%ifname")
 * of an interface entry. Returns 0, or -1 for an entry that is not IPv4/IPv6. */
static int iface_addr(const struct ifaddrs *ifa, const char **family, char *buf, size_t len)
{
    if (!ifa->ifa_addr || !ifa->ifa_name)
        return -1;
    if (ifa->ifa_addr->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)ifa->ifa_addr;
        *family = "inet";
        return inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len) ? 0 : -1;
    }
    if (ifa->ifa_addr->sa_family != AF_INET6)
        return -1;
    const struct sockaddr_in6 *sin6 = (const void *)ifa->ifa_addr;
    *family = "inet6";
    if (!inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)len))
        return -1;
    size_t n = strlen(buf);
    if (sin6->sin6_scope_id)
        snprintf(buf + n, len - n, "%%%s", ifa->ifa_name);
    return 0;
}

/* "tcp" from "tcp://...": the scheme as the canonical text spells it. */
static int scheme_len(const char *text)
{
    return (int)strcspn(text, ":");
}

/* ------------------------------------------------------------ text output */

/* Prints one aligned "  key: value" line. */
static void kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kv(const char *key, const char *fmt, ...)
{
    char k[128];
    snprintf(k, sizeof k, "%s:", key);
    printf("  %-*s ", KEY_WIDTH, k);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static const char *num_text(long long v, char *buf, size_t len)
{
    if (v == UNKNOWN)
        return "unknown";
    if (v == UNLIMITED)
        return "unlimited";
    snprintf(buf, len, "%lld", v);
    return buf;
}

/* One number, or "unknown" when any of the n values is missing. */
static void kv_nums(const char *key, const long long *v, int n)
{
    char line[128] = "", num[32];
    for (int i = 0; i < n; i++) {
        if (v[i] == UNKNOWN) {
            kv(key, "unknown");
            return;
        }
        size_t at = strlen(line);
        snprintf(line + at, sizeof line - at, "%s%s", i ? " " : "", num_text(v[i], num, sizeof num));
    }
    kv(key, "%s", line);
}

static void text_ifaces(const struct ifaddrs *ifs)
{
    int any = 0;
    char addr[128];
    const char *family = "";
    printf("interfaces\n");
    for (const struct ifaddrs *ifa = ifs; ifa; ifa = ifa->ifa_next) {
        if (iface_addr(ifa, &family, addr, sizeof addr) == 0) {
            kv(ifa->ifa_name, "%-6s%s", family, addr);
            any = 1;
        }
    }
    if (!any)
        printf("  (no IPv4 or IPv6 addresses)\n");
}

static void text_sockets(const info_facts *f)
{
    printf("tcp (a fresh socket, and the kernel's autotuning: min default max)\n");
    kv_nums("SO_SNDBUF", &f->tcp_buf[0], 1);
    kv_nums("SO_RCVBUF", &f->tcp_buf[1], 1);
    kv_nums("net.ipv4.tcp_wmem", f->wmem, 3);
    kv_nums("net.ipv4.tcp_rmem", f->rmem, 3);
    printf("udp (a fresh socket)\n");
    kv_nums("SO_SNDBUF", &f->udp_buf[0], 1);
    kv_nums("SO_RCVBUF", &f->udp_buf[1], 1);
    printf("kernel\n");
    for (int i = 0; i < 5; i++) {
        char key[64];
        snprintf(key, sizeof key, "net.core.%s", core_files[i].key);
        kv_nums(key, &f->core[i], 1);
    }
    kv_nums("ip_local_port_range", f->ports, 2);
}

static void text_limits(const info_facts *f)
{
    printf("open files\n");
    kv_nums("RLIMIT_NOFILE soft", &f->nofile[0], 1);
    kv_nums("RLIMIT_NOFILE hard", &f->nofile[1], 1);
    kv_nums("fs.file-max", &f->file_max, 1);
    kv_nums("fs.nr_open", &f->nr_open, 1);
}

static void text_url(const info_url *u)
{
    const sk_url *url = &u->url;
    printf("url\n");
    kv("text", "%s", u->text);
    kv("scheme", "%.*s", scheme_len(u->text), u->text);
    kv("kind", "%s, %s", sk_url_is_dgram(url) ? "datagram" : "stream",
       sk_url_is_unix(url) ? "unix" : "inet");
    if (sk_url_is_unix(url)) {
        kv("path", "%s", url->path);
    } else {
        kv("host", "%s", url->host);
        kv("port", "%u", (unsigned)url->port);
    }
    for (int i = 0; i < u->naddrs; i++) {
        char addr[256];
        sk_sockaddr_format((const struct sockaddr *)&u->addrs[i].ss, u->addrs[i].len, addr,
                           sizeof addr);
        kv("address", "%s", addr);
    }
}

static void text_tls(const sk_tls_info *t)
{
    printf("tls\n");
    kv("version", "%s", t->version);
    kv("cipher", "%s", t->cipher);
    kv("alpn", "%s", t->alpn[0] ? t->alpn : "(none)");
    kv("resumed", "%s", t->resumed ? "yes" : "no");
    kv("subject", "%s", t->subject);
    kv("issuer", "%s", t->issuer);
    kv("names", "%s", t->sans[0] ? t->sans : "(none)");
    kv("not after", "%s", t->not_after);
    kv("fingerprint", "%s", t->fingerprint);
}

static void text_output(const info_facts *f)
{
    printf("host\n");
    kv("hostname", "%s", f->hostname);
    text_ifaces(f->ifs);
    text_sockets(f);
    text_limits(f);
    if (f->url)
        text_url(f->url);
    if (f->tls)
        text_tls(f->tls);
}

/* ------------------------------------------------------------ JSON output */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if there is none
 * (overlong forms, surrogates and code points above U+10FFFF are invalid).
 * Stops at the first bad byte, so it never reads past a NUL. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n = c < 0x80 ? 1 : c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
    if (n < 2)
        return n;
    unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Prints s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq(p);
        if (n == 0)
            fputs("\\ufffd", stdout);
        else if (n > 1)
            fwrite(p, 1, n, stdout);
        else if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p);
        p += n ? n : 1;
    }
    putchar('"');
}

static void json_num(long long v)
{
    if (v == UNKNOWN)
        fputs("null", stdout);
    else if (v == UNLIMITED)
        fputs("\"unlimited\"", stdout);
    else
        printf("%lld", v);
}

static void json_nums(const long long *v, int n)
{
    putchar('[');
    for (int i = 0; i < n; i++) {
        fputs(i ? ", " : "", stdout);
        json_num(v[i]);
    }
    putchar(']');
}

/* Prints `"key": value` where value is one number; sep goes before it. */
static void json_kv(const char *sep, const char *key, long long v)
{
    printf("%s\"%s\": ", sep, key);
    json_num(v);
}

static void json_ifaces(const struct ifaddrs *ifs)
{
    const char *sep = "", *family = "";
    char addr[128];
    printf(",\n  \"interfaces\": [");
    for (const struct ifaddrs *ifa = ifs; ifa; ifa = ifa->ifa_next) {
        if (iface_addr(ifa, &family, addr, sizeof addr) < 0)
            continue;
        printf("%s\n    {\"name\": ", sep);
        json_str(ifa->ifa_name);
        printf(", \"family\": \"%s\", \"address\": ", family);
        json_str(addr);
        putchar('}');
        sep = ",";
    }
    printf("%s]", *sep ? "\n  " : "");
}

static void json_sockets(const info_facts *f)
{
    json_kv(",\n  \"tcp\": {", "sndbuf", f->tcp_buf[0]);
    json_kv(", ", "rcvbuf", f->tcp_buf[1]);
    printf(", \"wmem\": ");
    json_nums(f->wmem, 3);
    printf(", \"rmem\": ");
    json_nums(f->rmem, 3);
    json_kv("},\n  \"udp\": {", "sndbuf", f->udp_buf[0]);
    json_kv(", ", "rcvbuf", f->udp_buf[1]);
    printf("},\n  \"core\": {");
    for (int i = 0; i < 5; i++)
        json_kv(i ? ", " : "", core_files[i].key, f->core[i]);
    printf("},\n  \"port_range\": ");
    json_nums(f->ports, 2);
    json_kv(",\n  \"nofile\": {", "soft", f->nofile[0]);
    json_kv(", ", "hard", f->nofile[1]);
    json_kv(", ", "file_max", f->file_max);
    json_kv(", ", "nr_open", f->nr_open);
    putchar('}');
}

static void json_url(const info_url *u)
{
    const sk_url *url = &u->url;
    printf(",\n  \"url\": {\"text\": ");
    json_str(u->text);
    printf(", \"scheme\": \"%.*s\", \"type\": \"%s\", \"domain\": \"%s\"", scheme_len(u->text),
           u->text, sk_url_is_dgram(url) ? "datagram" : "stream",
           sk_url_is_unix(url) ? "unix" : "inet");
    if (sk_url_is_unix(url)) {
        printf(", \"path\": ");
        json_str(url->path);
    } else {
        printf(", \"host\": ");
        json_str(url->host);
        printf(", \"port\": %u", (unsigned)url->port);
    }
    printf(",\n    \"addresses\": [");
    for (int i = 0; i < u->naddrs; i++) {
        char addr[256];
        sk_sockaddr_format((const struct sockaddr *)&u->addrs[i].ss, u->addrs[i].len, addr,
                           sizeof addr);
        fputs(i ? ", " : "", stdout);
        json_str(addr);
    }
    printf("]}");
}

static void json_field(const char *sep, const char *key, const char *value)
{
    printf("%s\"%s\": ", sep, key);
    json_str(value);
}

static void json_tls(const sk_tls_info *t)
{
    json_field(",\n  \"tls\": {", "version", t->version);
    json_field(", ", "cipher", t->cipher);
    json_field(", ", "alpn", t->alpn);
    printf(", \"resumed\": %s", t->resumed ? "true" : "false");
    json_field(",\n    ", "subject", t->subject);
    json_field(", ", "issuer", t->issuer);
    json_field(", ", "names", t->sans);
    json_field(", ", "not_after", t->not_after);
    json_field(", ", "fingerprint", t->fingerprint);
    putchar('}');
}

static void json_output(const info_facts *f)
{
    printf("{\n  \"hostname\": ");
    json_str(f->hostname);
    json_ifaces(f->ifs);
    json_sockets(f);
    if (f->url)
        json_url(f->url);
    if (f->tls)
        json_tls(f->tls);
    printf("\n}\n");
}

/* ------------------------------------------------------------ entry point */

int cmd_info(cli_opts *o)
{
    if (o->nargs > 1) {
        cli_error("info takes at most one URL, got %d arguments (see 'sockit info --help')",
                  o->nargs);
        return 2;
    }
    info_url url;
    sk_tls_info tls;
    info_facts f;
    memset(&f, 0, sizeof f);
    if (o->nargs == 1) {
        memset(&url, 0, sizeof url);
        int r = gather_url(o->args[0], &url);
        if (r)
            return r;
        f.url = &url;
        if (sk_url_is_tls(&url.url) && (r = cli_tls_probe(o, &url.url, &url.addrs[0], &tls)))
            return r;
        f.tls = sk_url_is_tls(&url.url) ? &tls : NULL;
    }
    gather(&f);
    if (o->json)
        json_output(&f);
    else
        text_output(&f);
    if (f.ifs)
        freeifaddrs(f.ifs);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the report: %s", strerror(errno));
        return 1;
    }
    return 0;
}
