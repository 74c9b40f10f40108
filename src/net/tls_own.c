/* tls_own.c — a TLS 1.3 connection's records after the handshake, made by
 * sockit (see tls_own.h): whole records are opened where the transport read
 * them and their plain bytes moved together, so one read of many records is
 * one run handed up; a record split between reads is completed in a buffer
 * of its exact size (its length checked first). */
#include "net/tls_own.h"

#include "net/conn_int.h"
#include "sockit/error.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#define HS_KEY_UPDATE 24
#define HS_NEW_SESSION_TICKET 4

int sk__tls_own_init(sk__tls_own *o, uint16_t suite, const uint8_t *rx_secret,
                     const uint8_t *tx_secret, size_t secret_len, uint64_t tx_seq, int client)
{
    memset(o, 0, sizeof *o);
    if (sk__tls13_init(&o->rx, suite, rx_secret, secret_len, 0, 0) < 0 ||
        sk__tls13_init(&o->tx, suite, tx_secret, secret_len, tx_seq, 1) < 0) {
        sk__tls_own_clear(o);
        return -1;
    }
    o->client = client;
    return 0;
}

/* ---- output ---- */

static int seal_one(sk__tls_own *o, sk__outq *wire, uint8_t type, const struct iovec *iov,
                    int cnt, size_t len)
{
    uint8_t *dst = sk__outq_reserve(wire, SK__TLS13_SEALED(len));
    if (!dst)
        return -ENOMEM;
    long r = sk__tls13_seal(&o->tx, type, iov, cnt, 0, len, dst);
    if (r < 0)
        return -ENOMEM; /* (OpenSSL fails only to allocate) */
    sk__outq_added(wire, (size_t)r);
    return 0;
}

int sk__tls_own_alert(sk__tls_own *o, sk__outq *wire, int level, int desc)
{
    uint8_t a[2] = {(uint8_t)level, (uint8_t)desc};
    struct iovec v = {a, 2};
    return seal_one(o, wire, SK__TLS_CT_ALERT, &v, 1, 2);
}

int sk__tls_own_seal(sk__tls_own *o, sk__outq *wire, sk__outq *plain)
{
    while (plain->bytes) {
        struct iovec iov[16];
        int cnt = sk__outq_iov(plain, iov, 16);
        size_t len = 0;
        for (int i = 0; i < cnt && len < SK__TLS13_PLAIN_MAX; i++)
            len += iov[i].iov_len;
        if (len > SK__TLS13_PLAIN_MAX)
            len = SK__TLS13_PLAIN_MAX;
        int r = seal_one(o, wire, SK__TLS_CT_DATA, iov, cnt, len);
        if (r < 0)
            return r;
        sk__outq_consume(plain, len);
    }
    return 0;
}

/* ---- input ---- */

/* The stream cannot go on: a fatal alert for the peer, and why. */
static int fail(sk__tls_own *o, sk__outq *wire, int alert, const char *why)
{
    if (!o->why)
        o->why = why;
    o->alert = (uint8_t)alert;
    sk__tls_own_alert(o, wire, 2, alert); /* (best effort) */
    return SK_ETLS;
}

/* An alert from the peer: close_notify ends its stream (1); a warning
 * user_canceled is ignored (0); anything else fails. */
static int peer_alert(sk__tls_own *o, const uint8_t *p, size_t len, sk__outq *wire)
{
    if (len != 2)
        return fail(o, wire, SK__TLS_ALERT_DECODE, "malformed alert from the peer");
    if (p[1] == SK__TLS_ALERT_CLOSE_NOTIFY) {
        o->peer_closed = 1;
        return 1;
    }
    if (p[1] == 90 && p[0] == 1)
        return 0;
    if (!o->why)
        o->why = SSL_alert_desc_string_long(p[1]);
    return SK_ETLS;
}

/* Handshake messages after the handshake: a KeyUpdate (the last message of
 * its record: later records use the next keys), answered with our own when
 * asked; a client skips session tickets. Messages must not span records. */
static int post_handshake(sk__tls_own *o, const uint8_t *p, size_t len, sk__outq *wire)
{
    while (len) {
        if (len < 4 || len - 4 < ((size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]))
            return fail(o, wire, SK__TLS_ALERT_UNEXPECTED,
                        "a post-handshake message split across records");
        size_t body = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (p[0] == HS_KEY_UPDATE) {
            if (body != 1 || p[4] > 1)
                return fail(o, wire, SK__TLS_ALERT_DECODE, "malformed KeyUpdate");
            if (len != 5)
                return fail(o, wire, SK__TLS_ALERT_UNEXPECTED, "data after a KeyUpdate in its record");
            if (sk__tls13_update(&o->rx) < 0)
                return fail(o, wire, SK__TLS_ALERT_INTERNAL, "KeyUpdate failed");
            if (p[4] == 1) { /* update_requested: ours (not requesting) under the old keys */
                uint8_t ku[5] = {HS_KEY_UPDATE, 0, 0, 1, 0};
                struct iovec v = {ku, 5};
                if (seal_one(o, wire, SK__TLS_CT_HANDSHAKE, &v, 1, 5) < 0 ||
                    sk__tls13_update(&o->tx) < 0)
                    return -ENOMEM;
            }
            return 0;
        }
        if (!(o->client && p[0] == HS_NEW_SESSION_TICKET))
            return fail(o, wire, SK__TLS_ALERT_UNEXPECTED, "unexpected handshake message");
        p += 4 + body;
        len -= 4 + body;
    }
    return 0;
}

/* Opens the whole record at rec (total bytes). Its plain data bytes are
 * appended to the run at run[0..*run_len) (in place: the run never reaches
 * past the record's own bytes); any other record first hands the run up.
 * 0, 1 (close_notify) or < 0. */
static int one_record(sk__tls_own *o, sk_conn *c, sk__outq *wire, uint8_t *rec, size_t total,
                      uint8_t *run, size_t *run_len, sk__plain_fn up)
{
    uint8_t type;
    size_t len;
    int a = sk__tls13_open(&o->rx, rec, total, &type, &len);
    if (a)
        return fail(o, wire, a, a == SK__TLS_ALERT_BAD_MAC ? "bad record MAC"
                                : a == SK__TLS_ALERT_OVERFLOW ? "record too long"
                                : a == SK__TLS_ALERT_INTERNAL ? "out of memory"
                                                              : "record without a content type");
    uint8_t *p = rec + SK__TLS13_HDR;
    if (type == SK__TLS_CT_DATA) {
        memmove(run + *run_len, p, len);
        *run_len += len;
        return 0;
    }
    if (*run_len) { /* what came before goes up first */
        up(c, run, *run_len);
        *run_len = 0;
        if (!sk__conn_open(c))
            return 0;
    }
    return sk__tls_own_control(o, type, p, len, wire);
}

int sk__tls_own_control(sk__tls_own *o, uint8_t type, const uint8_t *p, size_t len,
                        sk__outq *wire)
{
    if (type == SK__TLS_CT_ALERT)
        return peer_alert(o, p, len, wire);
    if (type == SK__TLS_CT_HANDSHAKE)
        return post_handshake(o, p, len, wire);
    return fail(o, wire, SK__TLS_ALERT_UNEXPECTED, "unexpected record type");
}

/* Completes a record begun in an earlier read with the first bytes of buf;
 * returns the bytes of buf used (all of them when it is still not whole),
 * or a negative error. *r is one_record's result once it is whole. */
static long complete_part(sk__tls_own *o, sk_conn *c, sk__outq *wire, const uint8_t *buf,
                          size_t n, sk__plain_fn up, int *r)
{
    size_t used = 0;
    if (!o->part_total) { /* the header first */
        size_t k = SK__TLS13_HDR - o->part_len < n ? SK__TLS13_HDR - o->part_len : n;
        memcpy(o->hdr + o->part_len, buf, k);
        o->part_len += k;
        used = k;
        if (o->part_len < SK__TLS13_HDR)
            return (long)used;
        int a = sk__tls13_header(o->hdr, &o->part_total);
        if (a)
            return fail(o, wire, a, "malformed record header");
        if (o->part_cap < o->part_total) {
            uint8_t *p = realloc(o->part, o->part_total);
            if (!p)
                return -ENOMEM;
            o->part = p;
            o->part_cap = o->part_total;
        }
        memcpy(o->part, o->hdr, SK__TLS13_HDR);
    }
    size_t k = o->part_total - o->part_len < n - used ? o->part_total - o->part_len : n - used;
    memcpy(o->part + o->part_len, buf + used, k);
    o->part_len += k;
    used += k;
    if (o->part_len == o->part_total) {
        size_t run = 0;
        size_t total = o->part_total;
        o->part_len = o->part_total = 0;
        *r = one_record(o, c, wire, o->part, total, o->part + SK__TLS13_HDR, &run, up);
        if (*r == 0 && run && sk__conn_open(c))
            up(c, o->part + SK__TLS13_HDR, run);
    }
    return (long)used;
}

int sk__tls_own_input(sk__tls_own *o, sk_conn *c, sk__outq *wire, uint8_t *buf, size_t n,
                      sk__plain_fn up)
{
    size_t pos = 0, run = 0;
    int r = 0;
    if (o->part_len) {
        long used = complete_part(o, c, wire, buf, n, up, &r);
        if (used < 0)
            return (int)used;
        pos = (size_t)used;
        if (r != 0 || !sk__conn_open(c))
            return r;
    }
    while (n - pos >= SK__TLS13_HDR) {
        size_t total;
        int a = sk__tls13_header(buf + pos, &total);
        if (a)
            return fail(o, wire, a, "malformed record header");
        if (n - pos < total)
            break;
        r = one_record(o, c, wire, buf + pos, total, buf, &run, up);
        if (r != 0 || !sk__conn_open(c))
            return r;
        pos += total;
    }
    if (run)
        up(c, buf, run);
    if (pos < n && sk__conn_open(c)) { /* a record's start: the next read completes it */
        long used = complete_part(o, c, wire, buf + pos, n - pos, up, &r);
        if (used < 0)
            return (int)used;
    }
    return r;
}

void sk__tls_own_idle(sk__tls_own *o)
{
    sk__tls13_idle(&o->rx);
    sk__tls13_idle(&o->tx);
    if (!o->part_total) {
        free(o->part);
        o->part = NULL;
        o->part_cap = 0;
    }
}

void sk__tls_own_clear(sk__tls_own *o)
{
    sk__tls13_clear(&o->rx);
    sk__tls13_clear(&o->tx);
    free(o->part);
    o->part = NULL;
    o->part_cap = o->part_len = o->part_total = 0;
}
