/* fuzz_tls_rec.c — libFuzzer target for TLS 1.3 record protection (net/tls_rec.h)
 * under fixed traffic secrets: aborts if the header check or open crashes, reads
 * or writes out of bounds (every record sits in an exact-size heap buffer), returns
 * an alert it may not, opens a record that was not sealed with these keys at that
 * sequence number, or if sealed plaintext does not come back byte exact.
 *
 * Input: byte 0: bits 0-1 the suite (0x1301, 0x1302, 0x1303; 3 is 0x1301 again),
 * bits 2-3 the mode, bits 4-7 mixed into the PRNG; byte 1 seeds the PRNG that cuts
 * iovecs, record sizes and reads. Modes:
 *   0 records: the rest is a stream of records, each header checked and each
 *     whole record opened in turn (seq 0 on);
 *   1 round trip: the rest is plaintext, sealed in records of PRNG-chosen sizes and
 *     types (gathered from split iovecs after a skip), the stream read back in
 *     PRNG-chosen reads: every record must open to exactly what was sealed;
 *   2 tampering: bytes 2-3 = L (little-endian), the next L bytes plaintext sealed
 *     as in mode 1, the rest (offset16le, xor) triples applied to the sealed
 *     stream; a record opens only if it is untouched and in its place, and every
 *     record before the first changed byte must open;
 *   3 round trip as 1, with KeyUpdates and idle cipher contexts between records
 *     (the receiver updates after the record the sender updated after). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "net/tls_rec.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static const uint16_t suites[4] = {0x1301, 0x1302, 0x1303, 0x1301};

static uint32_t next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 0x9e3779b9;
}

/* The fixed secret of a suite (also what fuzz/seeds/fuzz_tls_rec were sealed with):
 * byte i is 0x40 + i for 0x1301, 0x80 + i for 0x1302, 0xc0 + i for 0x1303. */
static void keys(sk__tls13_dir *d, uint16_t suite, uint64_t seq, int enc)
{
    uint8_t secret[48];
    size_t len = suite == 0x1302 ? 48 : 32;
    for (size_t i = 0; i < len; i++)
        secret[i] = (uint8_t)(0x40 * (suite - 0x1300) + i);
    REQUIRE(sk__tls13_init(d, suite, secret, len, seq, enc) == 0);
}

/* Opens wire[0..total) from an exact-size copy; the plain bytes into plain. */
static int open_copy(sk__tls13_dir *d, const uint8_t *wire, size_t total, uint8_t *type,
                     size_t *len, uint8_t *plain)
{
    uint8_t *rec = malloc(total);
    REQUIRE(rec != NULL);
    memcpy(rec, wire, total);
    uint64_t seq = d->seq;
    *len = SIZE_MAX;
    int r = sk__tls13_open(d, rec, total, type, len);
    REQUIRE(r == 0 || r == SK__TLS_ALERT_BAD_MAC || r == SK__TLS_ALERT_UNEXPECTED ||
            r == SK__TLS_ALERT_OVERFLOW);
    if (r == SK__TLS_ALERT_BAD_MAC)
        REQUIRE(d->seq == seq); /* a forgery uses no sequence number */
    if (r == 0) {
        REQUIRE(d->seq == seq + 1);
        REQUIRE(*len <= SK__TLS13_PLAIN_MAX);
        REQUIRE(*len + 1 + SK__TLS13_TAG <= total - SK__TLS13_HDR);
        if (plain)
            memcpy(plain, rec + SK__TLS13_HDR, *len);
    }
    free(rec);
    return r;
}

/* ---- mode 0: records as they come ---- */

static void run_records(uint16_t suite, const uint8_t *p, size_t n)
{
    sk__tls13_dir rx;
    keys(&rx, suite, 0, 0);
    while (n >= SK__TLS13_HDR) {
        size_t total = 0, len;
        uint8_t type;
        int a = sk__tls13_header(p, &total);
        REQUIRE(a == 0 || a == SK__TLS_ALERT_UNEXPECTED || a == SK__TLS_ALERT_OVERFLOW ||
                a == SK__TLS_ALERT_DECODE);
        if (a)
            break;
        REQUIRE(total >= SK__TLS13_HDR + 1 + SK__TLS13_TAG &&
                total <= SK__TLS13_HDR + SK__TLS13_CIPHER_MAX);
        if (total > n)
            break;
        open_copy(&rx, p, total, &type, &len, NULL);
        p += total;
        n -= total;
    }
    sk__tls13_clear(&rx);
}

/* ---- modes 1-3: seal, then open ---- */

typedef struct sealed {
    uint8_t *wire; /* the records back to back */
    size_t wlen;
    size_t nrec;
    size_t *at, *plen; /* each record's offset in wire, and its plain bytes' offset in p */
    size_t *len;       /* and count */
    uint8_t *type;     /* its inner content type */
    uint8_t *update;   /* 1: the sender did a KeyUpdate right after it */
} sealed;

/* Seals p[0..n) into records under fixed keys. */
static void seal_all(uint16_t suite, uint32_t *rng, const uint8_t *p, size_t n, int updates,
                     sealed *s)
{
    size_t maxrec = 2 * n + 16; /* empty records too, but past n + 8 none */
    s->wire = malloc(n + maxrec * (SK__TLS13_HDR + 1 + SK__TLS13_TAG) + 1);
    s->at = malloc(maxrec * sizeof *s->at);
    s->plen = malloc(maxrec * sizeof *s->plen);
    s->len = malloc(maxrec * sizeof *s->len);
    s->type = malloc(maxrec);
    s->update = malloc(maxrec);
    REQUIRE(s->wire && s->at && s->plen && s->len && s->type && s->update);
    s->wlen = s->nrec = 0;
    /* the plain bytes, with junk around them to skip and to leave */
    uint8_t *scratch = malloc(n + 128);
    size_t iov_cap = 2 * (n + 130);
    struct iovec *iov = malloc(sizeof *iov * iov_cap);
    REQUIRE(scratch && iov);

    sk__tls13_dir tx;
    keys(&tx, suite, 0, 1);
    size_t off = 0;
    do {
        REQUIRE(s->nrec < maxrec);
        uint32_t r = next(rng);
        size_t len = r % 8 == 0 ? next(rng) % (SK__TLS13_PLAIN_MAX + 1) : next(rng) % 200;
        if (r % 16 == 1)
            len = 0;
        if (len > n - off)
            len = n - off;
        if (s->nrec >= n + 8) /* enough empty ones: the rest in as few as may be */
            len = n - off;
        if (len > SK__TLS13_PLAIN_MAX)
            len = SK__TLS13_PLAIN_MAX;
        static const uint8_t types[8] = {23, 23, 23, 23, 22, 22, 21, 1};
        uint8_t type = types[next(rng) % 8];
        size_t skip = next(rng) % 64, after = next(rng) % 64;
        memset(scratch, 0xa5, skip);
        memcpy(scratch + skip, p + off, len);
        memset(scratch + skip + len, 0x5a, after);
        int cnt = 0;
        size_t o = 0, all = skip + len + after;
        while (o < all) {
            size_t l = next(rng) % 4 == 0 ? 0 : 1 + next(rng) % (next(rng) % 2 ? 8 : all);
            if (l > all - o || (size_t)cnt + 2 >= iov_cap)
                l = all - o;
            iov[cnt++] = (struct iovec){scratch + o, l};
            o += l;
        }
        /* the record into an exact-size buffer: a write past its room dies */
        uint8_t *out = malloc(SK__TLS13_SEALED(len));
        REQUIRE(out != NULL);
        uint64_t seq = tx.seq;
        long w = sk__tls13_seal(&tx, type, iov, cnt, skip, len, out);
        REQUIRE(w == (long)SK__TLS13_SEALED(len));
        REQUIRE(tx.seq == seq + 1);
        size_t total = 0;
        REQUIRE(sk__tls13_header(out, &total) == 0 && total == (size_t)w);
        memcpy(s->wire + s->wlen, out, total);
        free(out);
        s->at[s->nrec] = s->wlen;
        s->plen[s->nrec] = off;
        s->len[s->nrec] = len;
        s->type[s->nrec] = type;
        s->update[s->nrec] = 0;
        if (updates) {
            uint32_t e = next(rng);
            if (e % 4 == 0)
                sk__tls13_idle(&tx);
            if (e % 8 == 1) {
                REQUIRE(sk__tls13_update(&tx) == 0 && tx.seq == 0);
                s->update[s->nrec] = 1;
            }
        }
        s->nrec++;
        s->wlen += total;
        off += len;
    } while (off < n);
    REQUIRE(off == n);
    sk__tls13_clear(&tx);
    free(scratch);
    free(iov);
}

static void sealed_free(sealed *s)
{
    free(s->wire);
    free(s->at);
    free(s->plen);
    free(s->len);
    free(s->type);
    free(s->update);
}

/* Reads the sealed stream back in PRNG-chosen reads, as a connection would. */
static void run_roundtrip(uint16_t suite, uint32_t *rng, const uint8_t *p, size_t n, int updates)
{
    sealed s;
    seal_all(suite, rng, p, n, updates, &s);
    sk__tls13_dir rx;
    keys(&rx, suite, 0, 0);
    uint8_t *acc = malloc(s.wlen + 1), *plain = malloc(SK__TLS13_CIPHER_MAX);
    REQUIRE(acc && plain);
    size_t have = 0, fed = 0, k = 0;
    while (fed < s.wlen) {
        size_t r = 1 + next(rng) % (next(rng) % 2 ? 16 : 20000);
        if (r > s.wlen - fed)
            r = s.wlen - fed;
        memcpy(acc + have, s.wire + fed, r);
        have += r;
        fed += r;
        size_t used = 0;
        while (have - used >= SK__TLS13_HDR) {
            size_t total = 0, len;
            uint8_t type;
            REQUIRE(sk__tls13_header(acc + used, &total) == 0);
            if (have - used < total)
                break;
            REQUIRE(k < s.nrec && s.at[k] == fed - have + used);
            REQUIRE(open_copy(&rx, acc + used, total, &type, &len, plain) == 0);
            REQUIRE(type == s.type[k] && len == s.len[k]);
            REQUIRE(memcmp(plain, p + s.plen[k], len) == 0);
            if (s.update[k])
                REQUIRE(sk__tls13_update(&rx) == 0);
            if (updates && next(rng) % 3 == 0)
                sk__tls13_idle(&rx);
            used += total;
            k++;
        }
        memmove(acc, acc + used, have - used);
        have -= used;
    }
    REQUIRE(k == s.nrec && have == 0);
    sk__tls13_clear(&rx);
    free(acc);
    free(plain);
    sealed_free(&s);
}

/* Seals, flips bytes, and opens what the headers now say. */
static void run_tamper(uint16_t suite, uint32_t *rng, const uint8_t *p, size_t n,
                       const uint8_t *flips, size_t nflips)
{
    sealed s;
    seal_all(suite, rng, p, n, 0, &s);
    uint8_t *bad = malloc(s.wlen + 1), *plain = malloc(SK__TLS13_CIPHER_MAX);
    REQUIRE(bad && plain);
    memcpy(bad, s.wire, s.wlen);
    for (size_t i = 0; i + 3 <= nflips; i += 3)
        bad[(flips[i] | (size_t)flips[i + 1] << 8) % s.wlen] ^= flips[i + 2];
    size_t first_diff = 0;
    while (first_diff < s.wlen && bad[first_diff] == s.wire[first_diff])
        first_diff++;

    size_t before = 0; /* records wholly before the first change */
    while (before < s.nrec && s.at[before] + SK__TLS13_SEALED(s.len[before]) <= first_diff)
        before++;

    sk__tls13_dir rx;
    keys(&rx, suite, 0, 0);
    size_t off = 0, k = 0, ok = 0; /* k: the next original record, by offset */
    while (s.wlen - off >= SK__TLS13_HDR) {
        size_t total = 0, len;
        uint8_t type;
        if (sk__tls13_header(bad + off, &total) != 0 || total > s.wlen - off)
            break;
        while (k < s.nrec && s.at[k] < off)
            k++;
        uint64_t seq = rx.seq;
        int r = open_copy(&rx, bad + off, total, &type, &len, plain);
        /* our records are never all padding nor too long: only forgeries fail */
        REQUIRE(r == 0 || r == SK__TLS_ALERT_BAD_MAC);
        if (r == 0) {
            /* untouched, in its place, at its sequence number */
            REQUIRE(k < s.nrec && s.at[k] == off && seq == k);
            REQUIRE(total == SK__TLS13_SEALED(s.len[k]));
            REQUIRE(memcmp(bad + off, s.wire + off, total) == 0);
            REQUIRE(type == s.type[k] && len == s.len[k]);
            REQUIRE(memcmp(plain, p + s.plen[k], len) == 0);
            ok++;
        } else {
            REQUIRE(off + total > first_diff); /* nothing before the first change fails */
        }
        off += total;
    }
    /* every record before the first change opened; with no change, all did */
    REQUIRE(ok >= before);
    if (first_diff == s.wlen)
        REQUIRE(ok == s.nrec && off == s.wlen);
    sk__tls13_clear(&rx);
    free(bad);
    free(plain);
    sealed_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint16_t suite = suites[data[0] & 3];
    int mode = (data[0] >> 2) & 3;
    uint32_t rng = 0x2545f491u ^ (uint32_t)data[1] << 8 ^ (uint32_t)(data[0] >> 4) << 20;
    data += 2;
    size -= 2;
    switch (mode) {
    case 0:
        run_records(suite, data, size);
        break;
    case 1:
    case 3:
        run_roundtrip(suite, &rng, data, size, mode == 3);
        break;
    default: {
        if (size < 2)
            return 0;
        size_t l = data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        if (l > size)
            l = size;
        run_tamper(suite, &rng, data, l, data + l, size - l);
        break;
    }
    }
    return 0;
}
