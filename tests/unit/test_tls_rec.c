/* test_tls_rec.c — unit tests for TLS 1.3 record protection (net/tls_rec.h):
 * RFC 8448 §3 keys and records byte for byte, known answers for the other two
 * suites and for KeyUpdate, round trips of every size class gathered from
 * iovecs split every which way (with `skip`), sequence numbers, KeyUpdate on
 * both sides, every single-byte tampering, padding and empty inner plaintext,
 * the header's alerts, idle and clear, and a stream of records reassembled
 * from random splits. Records are opened where they end at a guard page, so
 * any over-read crashes even without ASan.
 * Also two RFC 8446 limits (see spec_limits()). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check.h"
#include "net/tls_rec.h"

static const uint16_t suites[3] = {0x1301, 0x1302, 0x1303};

static size_t secret_len_of(uint16_t suite) { return suite == 0x1302 ? 48 : 32; }

/* "17 03 03 ..." or "170303..." (spaces ignored) into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int v;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            v = *s - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

/* ---- guard pages: a buffer whose last byte is followed by PROT_NONE ---- */

typedef struct guard {
    uint8_t *map;
    size_t maplen;
} guard;

/* n bytes that end exactly at an unreadable page (valid until guard_free). */
static uint8_t *guard_alloc(guard *g, size_t n)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE), pages = (n + ps - 1) / ps + 1;
    g->maplen = (pages + 1) * ps;
    g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED)
        abort();
    if (mprotect(g->map + pages * ps, ps, PROT_NONE) != 0)
        abort();
    return g->map + pages * ps - n;
}

static void guard_free(guard *g) { munmap(g->map, g->maplen); }

/* Opens a copy of rec[0..total) that ends at a guard page; the plain bytes
 * go to plain (if not NULL). Returns open's result. */
static int open_guarded(sk__tls13_dir *d, const uint8_t *rec, size_t total, uint8_t *type,
                        size_t *len, uint8_t *plain)
{
    guard g;
    uint8_t *p = guard_alloc(&g, total);
    memcpy(p, rec, total);
    int r = sk__tls13_open(d, p, total, type, len);
    if (r == 0 && plain)
        memcpy(plain, p + SK__TLS13_HDR, *len);
    guard_free(&g);
    return r;
}

/* Seals plain[0..len) from one iovec into out. */
static long seal1(sk__tls13_dir *d, uint8_t type, const uint8_t *plain, size_t len, uint8_t *out)
{
    struct iovec iov = {(void *)plain, len};
    return sk__tls13_seal(d, type, &iov, 1, 0, len, out);
}

static void fill(uint8_t *p, size_t n, uint32_t *rng)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)xorshift32(rng);
}

/* A sender and a receiver of the suite, keyed with a secret made from `salt`. */
static void pair(sk__tls13_dir *tx, sk__tls13_dir *rx, uint16_t suite, uint8_t salt, uint64_t seq)
{
    uint8_t secret[48];
    for (int i = 0; i < 48; i++)
        secret[i] = (uint8_t)(salt + 7 * i);
    CHECK_EQ_INT(sk__tls13_init(tx, suite, secret, secret_len_of(suite), seq, 1), 0);
    CHECK_EQ_INT(sk__tls13_init(rx, suite, secret, secret_len_of(suite), seq, 0), 0);
}

/* Sets d up again (freeing what it holds) with a copy of the secret of `from`. */
static void reinit(sk__tls13_dir *d, const sk__tls13_dir *from, uint64_t seq, int enc)
{
    uint8_t secret[48];
    uint16_t suite = from->suite;
    size_t len = from->secret_len;
    memcpy(secret, from->secret, len);
    sk__tls13_clear(d);
    CHECK_EQ_INT(sk__tls13_init(d, suite, secret, len, seq, enc), 0);
}

/* ======================= RFC 8448 §3 ======================= */

/* client_application_traffic_secret_0 and server_application_traffic_secret_0. */
static const char *RFC_C_AP = "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52"
                              "87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5";
static const char *RFC_S_AP = "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32"
                              "82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";
static const char *RFC_C_KEY = "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51";
static const char *RFC_C_IV = "5b 78 92 3d ee 08 57 90 33 e5 23 d9";
static const char *RFC_S_KEY = "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56";
static const char *RFC_S_IV = "cf 78 2b 88 dd 83 54 9a ad f1 e9 84";

/* {server} NewSessionTicket: its first record under the application keys (seq 0). */
static const char *RFC_NST = "04 00 00 c9 00 00 00 1e fa d6 aa c5 02 00 00 00 b2 2c 03 5d 82 93 59"
                             "ee 5f f7 af 4e c9 00 00 00 00 26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa"
                             "90 bf 1b 00 70 ad 3c 49 88 83 c9 36 7c 09 a2 be 78 5a bc 55 cd 22 60"
                             "97 a3 a9 82 11 72 83 f8 2a 03 a1 43 ef d3 ff 5d d3 6d 64 e8 61 be 7f"
                             "d6 1d 28 27 db 27 9c ce 14 50 77 d4 54 a3 66 4d 4e 6d a4 d2 9e e0 37"
                             "25 a6 a4 da fc d0 fc 67 d2 ae a7 05 29 51 3e 3d a2 67 7f a5 90 6c 5b"
                             "3f 7d 8f 92 f2 28 bd a4 0d da 72 14 70 f9 fb f2 97 b5 ae a6 17 64 6f"
                             "ac 5c 03 27 2e 97 07 27 c6 21 a7 91 41 ef 5f 7d e6 50 5e 5b fb c3 88"
                             "e9 33 43 69 40 93 93 4a e4 d3 57 00 08 00 2a 00 04 00 00 04 00";
static const char *RFC_NST_REC =
    "17 03 03 00 de 3a 6b 8f 90 41 4a 97 d6 95 9c 34 87 68 0d e5 13 4a 2b 24"
    "0e 6c ff ac 11 6e 95 d4 1d 6a f8 f6 b5 80 dc f3 d1 1d 63 c7 58 db 28 9a"
    "01 59 40 25 2f 55 71 3e 06 1d c1 3e 07 88 91 a3 8e fb cf 57 53 ad 8e f1"
    "70 ad 3c 73 53 d1 6d 9d a7 73 b9 ca 7f 2b 9f a1 b6 c0 d4 a3 d0 3f 75 e0"
    "9c 30 ba 1e 62 97 2a c4 6f 75 f7 b9 81 be 63 43 9b 29 99 ce 13 06 46 15"
    "13 98 91 d5 e4 c5 b4 06 f1 6e 3f c1 81 a7 7c a4 75 84 00 25 db 2f 0a 77"
    "f8 1b 5a b0 5b 94 c0 13 46 75 5f 69 23 2c 86 51 9d 86 cb ee ac 87 aa c3"
    "47 d1 43 f9 60 5d 64 f6 50 db 4d 02 3e 70 e9 52 ca 49 fe 51 37 12 1c 74"
    "bc 26 97 68 7e 24 87 46 d6 df 35 30 05 f3 bc e1 86 96 12 9c 81 53 55 6b"
    "3b 6c 67 79 b3 7b f1 59 85 68 4f";
/* {client} application_data (seq 0) and {server} application_data (seq 1,
 * after the ticket): the 50 bytes 00 01 .. 31 each. */
static const char *RFC_C_APP_REC =
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea"
    "42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b"
    "62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4";
static const char *RFC_S_APP_REC =
    "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc"
    "32 25 d0 5f 82 aa 1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8"
    "fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d";
/* close_notify (01 00): the client's seq 1, the server's seq 2. */
static const char *RFC_C_ALERT_REC =
    "17 03 03 00 13 c9 87 27 60 65 56 66 b7 4d 7f f1 15 3e fd 6d b6 d0 b0 e3";
static const char *RFC_S_ALERT_REC =
    "17 03 03 00 13 b5 8f d6 71 66 eb f5 99 d2 47 20 cf be 7e fa 7a 88 64 a9";

static void test_rfc8448_keys(void)
{
    uint8_t secret[48], want[32];
    sk__tls13_dir d;
    const char *sec[2] = {RFC_C_AP, RFC_S_AP}, *key[2] = {RFC_C_KEY, RFC_S_KEY},
               *iv[2] = {RFC_C_IV, RFC_S_IV};
    for (int i = 0; i < 2; i++) {
        for (int enc = 0; enc < 2; enc++) {
            size_t n = unhex(sec[i], secret);
            CHECK_EQ_INT(n, 32);
            CHECK_EQ_INT(sk__tls13_init(&d, 0x1301, secret, n, 0, enc), 0);
            CHECK_EQ_INT(d.suite, 0x1301);
            CHECK_EQ_INT(d.enc, enc);
            CHECK_EQ_INT(d.secret_len, 32);
            CHECK_EQ_INT(d.key_len, 16);
            CHECK_EQ_INT(d.seq, 0);
            CHECK(d.ctx == NULL); /* no memory before the first record */
            CHECK(memcmp(d.secret, secret, 32) == 0);
            CHECK_EQ_INT(unhex(key[i], want), 16);
            CHECK(memcmp(d.key, want, 16) == 0);
            CHECK_EQ_INT(unhex(iv[i], want), 12);
            CHECK(memcmp(d.iv, want, 12) == 0);
            sk__tls13_clear(&d);
        }
    }
}

/* Opens the RFC's record with rx and checks type and payload; then seals the
 * payload with tx and checks the record byte for byte. */
static void rfc_record(sk__tls13_dir *tx, sk__tls13_dir *rx, const char *rec_hex,
                       const uint8_t *payload, size_t plen, uint8_t want_type)
{
    uint8_t rec[300], out[300], type = 0, plain[300];
    size_t n = unhex(rec_hex, rec), total = 0, len = 0;
    uint64_t seq = rx->seq;
    CHECK_EQ_INT(sk__tls13_header(rec, &total), 0);
    CHECK_EQ_INT(total, n);
    CHECK_EQ_INT(SK__TLS13_SEALED(plen), n);
    CHECK_EQ_INT(open_guarded(rx, rec, n, &type, &len, plain), 0);
    CHECK_EQ_INT(type, want_type);
    CHECK_EQ_INT(len, plen);
    CHECK(len == plen && memcmp(plain, payload, plen) == 0);
    CHECK_EQ_INT(rx->seq, seq + 1);

    seq = tx->seq;
    CHECK_EQ_INT(seal1(tx, want_type, payload, plen, out), (long)n);
    CHECK(memcmp(out, rec, n) == 0);
    CHECK_EQ_INT(tx->seq, seq + 1);
}

static void test_rfc8448_records(void)
{
    uint8_t secret[32], app[50], nst[205], alert[2] = {1, 0};
    sk__tls13_dir ctx, crx, stx, srx;
    for (int i = 0; i < 50; i++)
        app[i] = (uint8_t)i;
    CHECK_EQ_INT(unhex(RFC_NST, nst), 205);

    /* the client's direction: application data (seq 0), close_notify (seq 1) */
    unhex(RFC_C_AP, secret);
    CHECK_EQ_INT(sk__tls13_init(&ctx, 0x1301, secret, 32, 0, 1), 0);
    CHECK_EQ_INT(sk__tls13_init(&crx, 0x1301, secret, 32, 0, 0), 0);
    rfc_record(&ctx, &crx, RFC_C_APP_REC, app, 50, SK__TLS_CT_DATA);
    rfc_record(&ctx, &crx, RFC_C_ALERT_REC, alert, 2, SK__TLS_CT_ALERT);

    /* the server's: NewSessionTicket (seq 0), application data (1), close_notify (2) */
    unhex(RFC_S_AP, secret);
    CHECK_EQ_INT(sk__tls13_init(&stx, 0x1301, secret, 32, 0, 1), 0);
    CHECK_EQ_INT(sk__tls13_init(&srx, 0x1301, secret, 32, 0, 0), 0);
    rfc_record(&stx, &srx, RFC_NST_REC, nst, 205, SK__TLS_CT_HANDSHAKE);
    rfc_record(&stx, &srx, RFC_S_APP_REC, app, 50, SK__TLS_CT_DATA);
    rfc_record(&stx, &srx, RFC_S_ALERT_REC, alert, 2, SK__TLS_CT_ALERT);
    sk__tls13_clear(&stx);
    sk__tls13_clear(&srx);

    /* the server's data record again, from keys set up at seq 1 directly */
    CHECK_EQ_INT(sk__tls13_init(&stx, 0x1301, secret, 32, 1, 1), 0);
    CHECK_EQ_INT(sk__tls13_init(&srx, 0x1301, secret, 32, 1, 0), 0);
    rfc_record(&stx, &srx, RFC_S_APP_REC, app, 50, SK__TLS_CT_DATA);

    /* the client's record does not open under the server's keys, nor at seq 1 */
    uint8_t rec[100], type;
    size_t n = unhex(RFC_C_APP_REC, rec), len;
    sk__tls13_clear(&srx);
    CHECK_EQ_INT(sk__tls13_init(&srx, 0x1301, secret, 32, 0, 0), 0);
    CHECK_EQ_INT(open_guarded(&srx, rec, n, &type, &len, NULL), SK__TLS_ALERT_BAD_MAC);
    CHECK_EQ_INT(srx.seq, 0);
    unhex(RFC_C_AP, secret);
    sk__tls13_clear(&crx);
    CHECK_EQ_INT(sk__tls13_init(&crx, 0x1301, secret, 32, 1, 0), 0);
    CHECK_EQ_INT(open_guarded(&crx, rec, n, &type, &len, NULL), SK__TLS_ALERT_BAD_MAC);
    CHECK_EQ_INT(crx.seq, 1);

    sk__tls13_clear(&ctx);
    sk__tls13_clear(&crx);
    sk__tls13_clear(&stx);
    sk__tls13_clear(&srx);
}

/* ======================= known answers for 0x1302, 0x1303 and KeyUpdate ======================= */

/* Computed independently (Python's hmac + the `cryptography` AEADs, HKDF-
 * Expand-Label by hand): the keys of a secret, a record of "sockit tls_rec
 * kat" (type 23) at seq, the secret after one KeyUpdate, its keys, and the
 * same bytes as type 22 at seq 0 after it. The 0x1301 secret is RFC 8448's
 * client_application_traffic_secret_0. */
typedef struct kat {
    uint16_t suite;
    uint64_t seq;
    const char *secret, *key, *iv, *rec, *upd, *ukey, *uiv, *urec;
} kat;

static const kat kats[] = {
    {0x1302, 0,
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "202122232425262728292a2b2c2d2e2f",
     "6877d022f1c61d24ebb7487c16752d9a4798e40431c75b39320e537c90e23225", "42822531a0fe88648fc09e9f",
     "17030300233b581c577c7996f1fdb70a949a39543ea4aeaa81e1350e63e4dc7420a1aa8c495c62b3",
     "401331b63e9d59f202e8f041042d9516f4cd7fa2e2ee14631d3b49fc340d7af3"
     "7fc2c0c9f252d8036f81ec5b85cbe5db",
     "eb354f3b48924ed78de34dd8aa6a6a0a51d857ddad1454d5cfa7b69f60712911", "8478ffbe4f2e5450789775b3",
     "17030300235ffac0ecee72bf02c6bc60a22cb39e61c20925ae9ba764ce530f6313ac26adc2281942"},
    {0x1303, 0x0102030405060708, "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
     "d923000c2ebbe7e78f9fb6b956f12f56c0a5a89205e07985eec830c208f6a697", "e0a19f74444f6ad9ab160d17",
     "170303002355d09e05c58fb8e1d3cb5da027782783ae16ac0bd0a22da2baca5a4f22a5bd6959de7d",
     "36d94712f5f06af0d1929e8f7f4c031eff426acc3eb6b55953cf15896cbdabdf",
     "644833a765e9ab96d6c9c2fa48c7e3d4c5fc519f42ea02e10264060a7efd5246", "85c97f17a733a30a6988d3ca",
     "1703030023ea22b350c21f8c4815bfaf63dbebdec995b9025f17e06b503bf73573b7ea3499f70d05"},
    {0x1301, 0, "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
     "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9",
     "1703030023d151113cdb5db2a3cb80abfb41d47baf9ec9ef6cf2c094e34b6416f53470d2862394aa",
     "fcdfcc72725aaee48bf64e4fd8b749cdbdbab39d90da0b26e2245ca6ea167207",
     "3879d82f5f14056e623f2ce5bfc66fce", "5dfb2c5938c3379b6cc5d1f2",
     "17030300237bb4d2edaaf0e423f41fcd4cb4e3527971596a4464218e31fd014b0cc8c2b980f78d31"},
};

static void test_kats(void)
{
    static const char msg[] = "sockit tls_rec kat";
    const size_t mlen = sizeof msg - 1;
    for (size_t k = 0; k < sizeof kats / sizeof kats[0]; k++) {
        const kat *t = &kats[k];
        uint8_t secret[48], want[64], rec[64], out[64], plain[64], type;
        size_t slen = unhex(t->secret, secret), n, len;
        sk__tls13_dir tx, rx;
        CHECK_EQ_INT(slen, secret_len_of(t->suite));
        CHECK_EQ_INT(sk__tls13_init(&tx, t->suite, secret, slen, t->seq, 1), 0);
        CHECK_EQ_INT(sk__tls13_init(&rx, t->suite, secret, slen, t->seq, 0), 0);
        n = unhex(t->key, want);
        CHECK_EQ_INT(tx.key_len, n);
        CHECK(memcmp(tx.key, want, n) == 0);
        unhex(t->iv, want);
        CHECK(memcmp(tx.iv, want, 12) == 0);
        n = unhex(t->rec, rec);
        CHECK_EQ_INT(seal1(&tx, SK__TLS_CT_DATA, (const uint8_t *)msg, mlen, out), (long)n);
        CHECK(memcmp(out, rec, n) == 0);
        CHECK_EQ_INT(open_guarded(&rx, rec, n, &type, &len, plain), 0);
        CHECK(type == SK__TLS_CT_DATA && len == mlen && memcmp(plain, msg, mlen) == 0);
        CHECK(tx.seq == t->seq + 1 && rx.seq == t->seq + 1);

        /* one KeyUpdate: the tx side with a cipher context, rx made idle first */
        sk__tls13_idle(&rx);
        CHECK_EQ_INT(sk__tls13_update(&tx), 0);
        CHECK_EQ_INT(sk__tls13_update(&rx), 0);
        CHECK(tx.seq == 0 && rx.seq == 0);
        n = unhex(t->upd, want);
        CHECK_EQ_INT(n, slen);
        CHECK(memcmp(tx.secret, want, n) == 0 && memcmp(rx.secret, want, n) == 0);
        n = unhex(t->ukey, want);
        CHECK(memcmp(tx.key, want, n) == 0 && memcmp(rx.key, want, n) == 0);
        unhex(t->uiv, want);
        CHECK(memcmp(tx.iv, want, 12) == 0 && memcmp(rx.iv, want, 12) == 0);
        n = unhex(t->urec, rec);
        CHECK_EQ_INT(seal1(&tx, SK__TLS_CT_HANDSHAKE, (const uint8_t *)msg, mlen, out), (long)n);
        CHECK(memcmp(out, rec, n) == 0);
        CHECK_EQ_INT(open_guarded(&rx, rec, n, &type, &len, plain), 0);
        CHECK(type == SK__TLS_CT_HANDSHAKE && len == mlen && memcmp(plain, msg, mlen) == 0);
        sk__tls13_clear(&tx);
        sk__tls13_clear(&rx);
    }
}

/* ======================= init ======================= */

static void test_init(void)
{
    uint8_t secret[64] = {1, 2, 3};
    sk__tls13_dir d;
    static const uint16_t bad[] = {0x0000, 0x1300, 0x1304, 0x1305, 0x0301, 0xc02f, 0xffff};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!sk__tls13_suite_ok(bad[i]));
        for (size_t l = 0; l <= 64; l += 16) {
            CHECK_EQ_INT(sk__tls13_init(&d, bad[i], secret, l, 0, 1), -1);
            sk__tls13_clear(&d); /* safe after a failed init */
        }
    }
    for (int s = 0; s < 3; s++) {
        CHECK(sk__tls13_suite_ok(suites[s]));
        static const size_t lens[] = {0, 1, 16, 31, 33, 47, 49, 64};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
            CHECK_EQ_INT(sk__tls13_init(&d, suites[s], secret, lens[i], 0, 0), -1);
        size_t other = secret_len_of(suites[s]) == 32 ? 48 : 32;
        CHECK_EQ_INT(sk__tls13_init(&d, suites[s], secret, other, 0, 0), -1);
        CHECK_EQ_INT(sk__tls13_init(&d, suites[s], secret, secret_len_of(suites[s]), 0, 0), 0);
        CHECK_EQ_INT(d.key_len, suites[s] == 0x1301 ? 16 : 32);
        CHECK_EQ_INT(d.secret_len, secret_len_of(suites[s]));
        sk__tls13_clear(&d);
    }
}

/* ======================= the header ======================= */

static void test_header(void)
{
    uint8_t h[5] = {23, 3, 3, 0, 0};
    size_t total;
    static const struct {
        uint8_t type;
        unsigned body;
        int alert;
    } cases[] = {
        {23, 17, 0},
        {23, 18, 0},
        {23, 1000, 0},
        {23, SK__TLS13_PLAIN_MAX + 17, 0},
        {23, SK__TLS13_CIPHER_MAX - 1, 0},
        {23, SK__TLS13_CIPHER_MAX, 0},
        {23, SK__TLS13_CIPHER_MAX + 1, SK__TLS_ALERT_OVERFLOW},
        {23, 0x4200, SK__TLS_ALERT_OVERFLOW},
        {23, 0xffff, SK__TLS_ALERT_OVERFLOW},
        {23, 16, SK__TLS_ALERT_DECODE},
        {23, 1, SK__TLS_ALERT_DECODE},
        {23, 0, SK__TLS_ALERT_DECODE},
        {22, 100, SK__TLS_ALERT_UNEXPECTED},
        {21, 2, SK__TLS_ALERT_UNEXPECTED},
        {20, 1, SK__TLS_ALERT_UNEXPECTED},
        {0, 100, SK__TLS_ALERT_UNEXPECTED},
        {24, 100, SK__TLS_ALERT_UNEXPECTED},
        {0x97, 100, SK__TLS_ALERT_UNEXPECTED},
        {0xff, 100, SK__TLS_ALERT_UNEXPECTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        h[0] = cases[i].type;
        h[3] = (uint8_t)(cases[i].body >> 8);
        h[4] = (uint8_t)cases[i].body;
        total = 12345;
        CHECK_EQ_INT(sk__tls13_header(h, &total), cases[i].alert);
        if (cases[i].alert == 0)
            CHECK_EQ_INT(total, 5 + cases[i].body);
        else
            CHECK_EQ_INT(total, 12345); /* untouched */
    }
    /* every length with the right type, and the header read from a guard page */
    guard g;
    uint8_t *p = guard_alloc(&g, 5);
    for (unsigned body = 0; body <= 0xffff; body++) {
        p[0] = 23, p[1] = 3, p[2] = 3, p[3] = (uint8_t)(body >> 8), p[4] = (uint8_t)body;
        int want = body > SK__TLS13_CIPHER_MAX ? SK__TLS_ALERT_OVERFLOW
                   : body < 17                 ? SK__TLS_ALERT_DECODE
                                               : 0;
        int r = sk__tls13_header(p, &total);
        if (r != want || (r == 0 && total != 5 + body))
            CHECK_EQ_INT(body, -1); /* only failures are counted, one by one */
    }
    CHECK(1);
    guard_free(&g);
}

/* ======================= round trips ======================= */

static const size_t sizes[] = {0, 1, 15, 16, 17, 64, 1000, 16384};

/* Splits src[0..n) into iovecs in one of several ways; returns how many. */
static int split_iov(const uint8_t *src, size_t n, int how, uint32_t *rng, struct iovec *iov)
{
    int cnt = 0;
    size_t off = 0;
    switch (how) {
    case 0: /* one piece */
        iov[cnt++] = (struct iovec){(void *)src, n};
        break;
    case 1: /* a byte each */
        for (; off < n; off++)
            iov[cnt++] = (struct iovec){(void *)(src + off), 1};
        break;
    case 2: /* two pieces, cut in the middle, with empty ones around */
        iov[cnt++] = (struct iovec){(void *)src, 0};
        iov[cnt++] = (struct iovec){(void *)src, n / 2};
        iov[cnt++] = (struct iovec){(void *)(src + n / 2), 0};
        iov[cnt++] = (struct iovec){(void *)(src + n / 2), n - n / 2};
        iov[cnt++] = (struct iovec){(void *)(src + n), 0};
        break;
    default: /* random pieces of 0..40 bytes, or up to a quarter */
        while (off < n) {
            uint32_t r = xorshift32(rng);
            size_t l = r % 4 == 0 ? xorshift32(rng) % (n / 4 + 1) : xorshift32(rng) % 41;
            if (l > n - off)
                l = n - off;
            iov[cnt++] = (struct iovec){(void *)(src + off), l};
            off += l;
        }
        if (xorshift32(rng) % 2)
            iov[cnt++] = (struct iovec){(void *)(src + n), 0};
        break;
    }
    return cnt;
}

/* Seals plain[0..n) of `type` gathered from iov (after `skip` bytes), checks
 * the record and opens it with rx (at a guard page). */
static void seal_open(sk__tls13_dir *tx, sk__tls13_dir *rx, uint8_t type, const struct iovec *iov,
                      int iovcnt, size_t skip, const uint8_t *plain, size_t n, uint8_t *out,
                      uint8_t *back)
{
    uint64_t txs = tx->seq, rxs = rx->seq;
    guard g;
    uint8_t *o = guard_alloc(&g, SK__TLS13_SEALED(n)); /* a seal that writes past its room dies */
    long r = sk__tls13_seal(tx, type, iov, iovcnt, skip, n, o);
    CHECK_EQ_INT(r, (long)SK__TLS13_SEALED(n));
    if (r != (long)SK__TLS13_SEALED(n)) {
        guard_free(&g);
        return;
    }
    memcpy(out, o, (size_t)r);
    guard_free(&g);
    CHECK_EQ_INT(tx->seq, txs + 1);
    size_t body = n + 1 + SK__TLS13_TAG, total = 0, len = 0;
    CHECK(out[0] == 23 && out[1] == 3 && out[2] == 3 && out[3] == (uint8_t)(body >> 8) &&
          out[4] == (uint8_t)body);
    CHECK_EQ_INT(sk__tls13_header(out, &total), 0);
    CHECK_EQ_INT(total, (size_t)r);
    uint8_t t = 0;
    CHECK_EQ_INT(open_guarded(rx, out, total, &t, &len, back), 0);
    CHECK_EQ_INT(t, type);
    CHECK_EQ_INT(len, n);
    CHECK(len == n && memcmp(back, plain, n) == 0);
    CHECK_EQ_INT(rx->seq, rxs + 1);
}

static void test_roundtrip(void)
{
    uint32_t rng = 0x2545f491;
    size_t cap = SK__TLS13_PLAIN_MAX + 4096;
    uint8_t *src = malloc(cap), *out = malloc(SK__TLS13_SEALED(cap)), *back = malloc(cap);
    struct iovec *iov = malloc(sizeof *iov * (cap + 16));
    static const uint8_t types[] = {SK__TLS_CT_DATA, SK__TLS_CT_HANDSHAKE, SK__TLS_CT_ALERT};
    for (int s = 0; s < 3; s++) {
        sk__tls13_dir tx, rx;
        pair(&tx, &rx, suites[s], (uint8_t)s, 0);
        uint64_t count = 0;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            for (int how = 0; how < 8; how++) {
                uint8_t type = types[(si + (size_t)how) % 3];
                /* the plain bytes alone */
                fill(src, n, &rng);
                int cnt = split_iov(src, n, how, &rng, iov);
                seal_open(&tx, &rx, type, iov, cnt, 0, src, n, out, back);
                count++;
                /* with `skip` bytes before them and more after them, all gathered */
                size_t skip = how == 1 ? 1 + xorshift32(&rng) % 9 : xorshift32(&rng) % 3000;
                size_t after = xorshift32(&rng) % 100;
                fill(src, skip + n + after, &rng);
                cnt = split_iov(src, skip + n + after, how, &rng, iov);
                seal_open(&tx, &rx, type, iov, cnt, skip, src + skip, n, out, back);
                count++;
            }
            /* skip ending exactly at an iovec boundary, and starting in an empty one */
            fill(src, 100 + n, &rng);
            iov[0] = (struct iovec){src, 60};
            iov[1] = (struct iovec){src + 60, 0};
            iov[2] = (struct iovec){src + 60, 40};
            iov[3] = (struct iovec){src + 100, n};
            seal_open(&tx, &rx, SK__TLS_CT_DATA, iov, 4, 100, src + 100, n, out, back);
            seal_open(&tx, &rx, SK__TLS_CT_DATA, iov, 4, 60, src + 60, n, out, back);
            count += 2;
        }
        CHECK_EQ_INT(tx.seq, count);
        CHECK_EQ_INT(rx.seq, count);

        /* more than 2^14 plain bytes is refused, and uses no sequence number */
        fill(src, SK__TLS13_PLAIN_MAX + 1, &rng);
        iov[0] = (struct iovec){src, SK__TLS13_PLAIN_MAX + 1};
        CHECK_EQ_INT(sk__tls13_seal(&tx, 23, iov, 1, 0, SK__TLS13_PLAIN_MAX + 1, out), -1);
        /* as are more plain bytes than the iovecs hold */
        iov[0] = (struct iovec){src, 10};
        CHECK_EQ_INT(sk__tls13_seal(&tx, 23, iov, 1, 0, 11, out), -1);
        CHECK_EQ_INT(sk__tls13_seal(&tx, 23, iov, 1, 5, 6, out), -1);
        CHECK_EQ_INT(tx.seq, count);
        /* and the stream goes on */
        seal_open(&tx, &rx, SK__TLS_CT_DATA, iov, 1, 2, src + 2, 8, out, back);
        sk__tls13_clear(&tx);
        sk__tls13_clear(&rx);
    }
    free(src);
    free(out);
    free(back);
    free(iov);
}

/* Sequence numbers near the top: the nonce takes all 64 bits. */
static void test_high_seq(void)
{
    uint8_t plain[40], out[100], back[40], type;
    uint32_t rng = 99;
    size_t len;
    static const uint64_t starts[] = {0xff, 0x100, 0xffffffff, 0x123456789abcdefull,
                                      0xfffffffffffffff0ull};
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
            sk__tls13_dir tx, rx, other;
            pair(&tx, &rx, suites[s], 40, starts[i]);
            for (int k = 0; k < 4; k++) {
                fill(plain, sizeof plain, &rng);
                struct iovec iov = {plain, sizeof plain};
                seal_open(&tx, &rx, SK__TLS_CT_DATA, &iov, 1, 0, plain, sizeof plain, out, back);
            }
            /* the same record one sequence number off (either way) does not open */
            fill(plain, sizeof plain, &rng);
            long n = seal1(&tx, SK__TLS_CT_DATA, plain, sizeof plain, out);
            pair(&other, &other, suites[s], 40, rx.seq + 1);
            CHECK_EQ_INT(open_guarded(&other, out, (size_t)n, &type, &len, NULL),
                         SK__TLS_ALERT_BAD_MAC);
            sk__tls13_clear(&other);
            pair(&other, &other, suites[s], 40, rx.seq - 1);
            CHECK_EQ_INT(open_guarded(&other, out, (size_t)n, &type, &len, NULL),
                         SK__TLS_ALERT_BAD_MAC);
            sk__tls13_clear(&other);
            /* the sequence number's high bits count: 2^32 and 2^56 apart */
            pair(&other, &other, suites[s], 40, rx.seq ^ (1ull << 32));
            CHECK_EQ_INT(open_guarded(&other, out, (size_t)n, &type, &len, NULL),
                         SK__TLS_ALERT_BAD_MAC);
            sk__tls13_clear(&other);
            pair(&other, &other, suites[s], 40, rx.seq ^ (1ull << 56));
            CHECK_EQ_INT(open_guarded(&other, out, (size_t)n, &type, &len, NULL),
                         SK__TLS_ALERT_BAD_MAC);
            sk__tls13_clear(&other);
            CHECK_EQ_INT(open_guarded(&rx, out, (size_t)n, &type, &len, back), 0);
            CHECK(len == sizeof plain && memcmp(back, plain, len) == 0);
            sk__tls13_clear(&tx);
            sk__tls13_clear(&rx);
        }
    }
}

/* ======================= tampering ======================= */

static void test_tamper(void)
{
    uint32_t rng = 7;
    uint8_t plain[300], rec[400], bad[400], back[300], type;
    size_t len;
    static const size_t tsizes[] = {0, 1, 50, 300};
    for (int s = 0; s < 3; s++) {
        for (size_t si = 0; si < sizeof tsizes / sizeof tsizes[0]; si++) {
            sk__tls13_dir tx, rx;
            pair(&tx, &rx, suites[s], 77, 0);
            size_t n = tsizes[si];
            fill(plain, n, &rng);
            long total = seal1(&tx, SK__TLS_CT_DATA, plain, n, rec);
            CHECK_EQ_INT(total, (long)SK__TLS13_SEALED(n));
            int wrong = 0;
            for (long i = 0; i < total; i++) {
                for (int b = 0; b < 8; b++) {
                    memcpy(bad, rec, (size_t)total);
                    bad[i] ^= (uint8_t)(1u << b);
                    /* header bytes are the AAD: the record does not open, whatever
                     * the header now says (the caller may not have looked at it) */
                    int r = open_guarded(&rx, bad, (size_t)total, &type, &len, NULL);
                    if (r != SK__TLS_ALERT_BAD_MAC || rx.seq != 0) {
                        wrong++;
                        CHECK_EQ_INT(r, SK__TLS_ALERT_BAD_MAC);
                        CHECK_EQ_INT(i, -1); /* which byte */
                    }
                }
            }
            CHECK_EQ_INT(wrong, 0);
            /* a random byte value too, at every offset, and the idle receiver */
            for (long i = 0; i < total; i++) {
                memcpy(bad, rec, (size_t)total);
                bad[i] ^= (uint8_t)(1 + xorshift32(&rng) % 255);
                if (i % 7 == 0)
                    sk__tls13_idle(&rx);
                CHECK_EQ_INT(open_guarded(&rx, bad, (size_t)total, &type, &len, NULL),
                             SK__TLS_ALERT_BAD_MAC);
            }
            /* the failures used no sequence number: the real record still opens */
            CHECK_EQ_INT(rx.seq, 0);
            CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)total, &type, &len, back), 0);
            CHECK(type == SK__TLS_CT_DATA && len == n && memcmp(back, plain, n) == 0);
            /* replayed: the next sequence number does not open it */
            CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)total, &type, &len, back),
                         SK__TLS_ALERT_BAD_MAC);
            sk__tls13_clear(&tx);
            sk__tls13_clear(&rx);
        }
    }
    /* records out of order; another key; the other direction's record */
    for (int s = 0; s < 3; s++) {
        sk__tls13_dir tx, rx, other, dummy;
        uint8_t r0[100], r1[100];
        pair(&tx, &rx, suites[s], 1, 0);
        fill(plain, 30, &rng);
        long n0 = seal1(&tx, SK__TLS_CT_DATA, plain, 30, r0);
        long n1 = seal1(&tx, SK__TLS_CT_DATA, plain, 30, r1);
        CHECK_EQ_INT(open_guarded(&rx, r1, (size_t)n1, &type, &len, NULL), SK__TLS_ALERT_BAD_MAC);
        CHECK_EQ_INT(open_guarded(&rx, r0, (size_t)n0, &type, &len, NULL), 0);
        CHECK_EQ_INT(open_guarded(&rx, r1, (size_t)n1, &type, &len, NULL), 0);
        pair(&dummy, &other, suites[s], 2, 0);
        CHECK_EQ_INT(open_guarded(&other, r0, (size_t)n0, &type, &len, NULL),
                     SK__TLS_ALERT_BAD_MAC);
        /* the same secret under another suite of the same hash length */
        if (suites[s] != 0x1302) {
            sk__tls13_dir o2, d2;
            pair(&d2, &o2, suites[s] == 0x1301 ? 0x1303 : 0x1301, 1, 0);
            CHECK_EQ_INT(open_guarded(&o2, r0, (size_t)n0, &type, &len, NULL),
                         SK__TLS_ALERT_BAD_MAC);
            sk__tls13_clear(&o2);
            sk__tls13_clear(&d2);
        }
        sk__tls13_clear(&tx);
        sk__tls13_clear(&rx);
        sk__tls13_clear(&other);
        sk__tls13_clear(&dummy);
    }
}

/* ======================= the inner plaintext: types, padding, limits ======================= */

/* Seals inner[0..n) as the whole TLSInnerPlaintext (content, type, padding)
 * with d's key and IV at d->seq, straight with EVP, independent of
 * sk__tls13_seal; advances d->seq. Returns the record's size. */
static size_t raw_seal(sk__tls13_dir *d, const uint8_t *inner, size_t n, uint8_t *out)
{
    const char *name = d->suite == 0x1301   ? "AES-128-GCM"
                       : d->suite == 0x1302 ? "AES-256-GCM"
                                            : "ChaCha20-Poly1305";
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, name, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t nonce[12];
    int l;
    size_t body = n + SK__TLS13_TAG;
    memcpy(nonce, d->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
    out[0] = 23, out[1] = 3, out[2] = 3, out[3] = (uint8_t)(body >> 8), out[4] = (uint8_t)body;
    if (!c || !ctx || !EVP_EncryptInit_ex(ctx, c, NULL, d->key, nonce) ||
        !EVP_EncryptUpdate(ctx, NULL, &l, out, 5) ||
        !EVP_EncryptUpdate(ctx, out + 5, &l, inner, (int)n) || (size_t)l != n ||
        !EVP_EncryptFinal_ex(ctx, out + 5 + n, &l) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + 5 + n))
        abort();
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    d->seq++;
    return 5 + body;
}

static void test_inner(void)
{
    uint32_t rng = 0xabcdef;
    size_t big = SK__TLS13_CIPHER_MAX + 64;
    uint8_t *inner = calloc(1, big), *rec = malloc(big + 64), *back = malloc(big), type;
    size_t len;
    for (int s = 0; s < 3; s++) {
        sk__tls13_dir tx, rx, raw;
        pair(&tx, &rx, suites[s], 9, 0);
        pair(&raw, &raw, suites[s], 9, 0); /* a third copy of the keys, for raw_seal */

        /* type 0 and nothing else: no content type */
        long n = seal1(&tx, 0, NULL, 0, rec);
        CHECK_EQ_INT(n, 22);
        CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)n, &type, &len, NULL),
                     SK__TLS_ALERT_UNEXPECTED);
        /* type 0 after zeros: all padding */
        memset(inner, 0, 200);
        reinit(&rx, &tx, tx.seq, 0);
        n = seal1(&tx, 0, inner, 100, rec);
        CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)n, &type, &len, NULL),
                     SK__TLS_ALERT_UNEXPECTED);
        /* the same, made without seal: 1 and 200 zero bytes */
        raw.seq = tx.seq;
        reinit(&rx, &tx, tx.seq, 0);
        n = (long)raw_seal(&raw, inner, 1, rec);
        CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)n, &type, &len, NULL),
                     SK__TLS_ALERT_UNEXPECTED);
        reinit(&rx, &tx, raw.seq, 0);
        n = (long)raw_seal(&raw, inner, 200, rec);
        CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)n, &type, &len, NULL),
                     SK__TLS_ALERT_UNEXPECTED);

        /* padding: content, its type, zeros; content that ends in zeros keeps them */
        static const size_t pads[] = {0, 1, 2, 15, 16, 100, 239};
        for (size_t p = 0; p < sizeof pads / sizeof pads[0]; p++) {
            for (size_t clen = 0; clen <= 40; clen += 8) {
                fill(inner, clen, &rng);
                if (clen >= 16)
                    memset(inner + clen - 5, 0, 5); /* zeros at the content's end */
                inner[clen] = (uint8_t)(p % 2 ? SK__TLS_CT_HANDSHAKE : SK__TLS_CT_DATA);
                memset(inner + clen + 1, 0, pads[p]);
                uint8_t want_type = inner[clen];
                reinit(&rx, &tx, raw.seq, 0);
                n = (long)raw_seal(&raw, inner, clen + 1 + pads[p], rec);
                CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)n, &type, &len, back), 0);
                CHECK_EQ_INT(type, want_type);
                CHECK_EQ_INT(len, clen);
                CHECK(len == clen && memcmp(back, inner, clen) == 0);
                /* padding made through seal: type 0, the real type inside the bytes */
                reinit(&tx, &tx, raw.seq, 1);
                reinit(&rx, &tx, raw.seq, 0);
                struct iovec iov = {inner, clen + 1 + pads[p]};
                n = sk__tls13_seal(&tx, 0, &iov, 1, 0, clen + 1 + pads[p], rec);
                CHECK_EQ_INT(n, (long)SK__TLS13_SEALED(clen + 1 + pads[p]));
                CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)n, &type, &len, back), 0);
                CHECK_EQ_INT(type, want_type);
                CHECK_EQ_INT(len, clen);
                CHECK(len == clen && memcmp(back, inner, clen) == 0);
                raw.seq++;
            }
        }

        /* 2^14 content bytes open; 2^14 + 1 are too many */
        for (size_t extra = 0; extra <= 2; extra++) {
            size_t clen = SK__TLS13_PLAIN_MAX + extra;
            fill(inner, clen, &rng);
            inner[clen] = SK__TLS_CT_DATA;
            reinit(&rx, &tx, raw.seq, 0);
            n = (long)raw_seal(&raw, inner, clen + 1, rec);
            size_t total = 0;
            CHECK_EQ_INT(sk__tls13_header(rec, &total), 0);
            CHECK_EQ_INT(total, (size_t)n);
            int r = open_guarded(&rx, rec, (size_t)n, &type, &len, back);
            CHECK_EQ_INT(r, extra ? SK__TLS_ALERT_OVERFLOW : 0);
            if (!extra)
                CHECK(len == clen && memcmp(back, inner, clen) == 0);
        }
        /* the largest body the header lets through: 2^14 + 239 content bytes */
        size_t clen = SK__TLS13_CIPHER_MAX - SK__TLS13_TAG - 1;
        fill(inner, clen, &rng);
        inner[clen] = SK__TLS_CT_DATA;
        reinit(&rx, &tx, raw.seq, 0);
        n = (long)raw_seal(&raw, inner, clen + 1, rec);
        CHECK_EQ_INT(n, 5 + SK__TLS13_CIPHER_MAX);
        CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)n, &type, &len, NULL), SK__TLS_ALERT_OVERFLOW);

        /* an empty record of each type opens to nothing */
        static const uint8_t types[] = {SK__TLS_CT_DATA, SK__TLS_CT_HANDSHAKE, SK__TLS_CT_ALERT, 1,
                                        0xff};
        reinit(&tx, &tx, 0, 1);
        reinit(&rx, &tx, 0, 0);
        for (size_t t = 0; t < sizeof types; t++) {
            n = sk__tls13_seal(&tx, types[t], NULL, 0, 0, 0, rec);
            CHECK_EQ_INT(n, 22);
            len = 99;
            CHECK_EQ_INT(open_guarded(&rx, rec, (size_t)n, &type, &len, NULL), 0);
            CHECK_EQ_INT(type, types[t]);
            CHECK_EQ_INT(len, 0);
        }
        sk__tls13_clear(&tx);
        sk__tls13_clear(&rx);
        sk__tls13_clear(&raw);
    }
    free(inner);
    free(rec);
    free(back);
}

/* ======================= KeyUpdate ======================= */

static void test_update(void)
{
    uint32_t rng = 31337;
    uint8_t plain[2000], out[2100], back[2000], old[2100], type;
    size_t len;
    for (int s = 0; s < 3; s++) {
        sk__tls13_dir tx, rx;
        pair(&tx, &rx, suites[s], 55, 0);
        uint8_t prev_key[32], prev_secret[48];
        for (int gen = 0; gen < 5; gen++) {
            uint64_t base = tx.seq;
            CHECK_EQ_INT(rx.seq, base);
            size_t k = 1 + xorshift32(&rng) % 6;
            for (size_t i = 0; i < k; i++) {
                size_t n = xorshift32(&rng) % sizeof plain;
                fill(plain, n, &rng);
                struct iovec iov = {plain, n};
                seal_open(&tx, &rx, SK__TLS_CT_DATA, &iov, 1, 0, plain, n, out, back);
            }
            CHECK_EQ_INT(tx.seq, base + k);
            CHECK_EQ_INT(rx.seq, base + k);
            /* one more record, sealed now, opened after the update */
            fill(plain, 100, &rng);
            long on = seal1(&tx, SK__TLS_CT_DATA, plain, 100, old);
            uint64_t old_seq = tx.seq - 1;
            memcpy(prev_key, tx.key, 32);
            memcpy(prev_secret, tx.secret, 48);
            if (gen % 2)
                sk__tls13_idle(&tx); /* both ways of rekeying: with and without a context */
            if (gen % 3 == 1)
                sk__tls13_idle(&rx);
            CHECK_EQ_INT(sk__tls13_update(&tx), 0);
            CHECK_EQ_INT(tx.seq, 0);
            /* the sender has moved on, the receiver not yet: its first record
             * does not open under the old keys (a copy of rx that shares no context) */
            uint8_t first[100];
            fill(first, sizeof first, &rng);
            long fn = seal1(&tx, SK__TLS_CT_DATA, first, sizeof first, out);
            CHECK_EQ_INT(tx.seq, 1);
            sk__tls13_dir lag = rx;
            lag.ctx = NULL;
            lag.seq = 0;
            CHECK_EQ_INT(open_guarded(&lag, out, (size_t)fn, &type, &len, NULL),
                         SK__TLS_ALERT_BAD_MAC);
            sk__tls13_idle(&lag);
            CHECK_EQ_INT(sk__tls13_update(&rx), 0);
            CHECK_EQ_INT(rx.seq, 0);
            CHECK(memcmp(tx.secret, rx.secret, 48) == 0);
            CHECK(memcmp(tx.key, rx.key, 32) == 0 && memcmp(tx.iv, rx.iv, 12) == 0);
            CHECK(memcmp(tx.secret, prev_secret, tx.secret_len) != 0);
            CHECK(memcmp(tx.key, prev_key, tx.key_len) != 0);
            CHECK_EQ_INT(tx.secret_len, secret_len_of(suites[s]));
            /* the record sealed before the update does not open after it, at
             * the new generation's sequence number or at its old one */
            CHECK_EQ_INT(open_guarded(&rx, old, (size_t)on, &type, &len, NULL),
                         SK__TLS_ALERT_BAD_MAC);
            rx.seq = old_seq;
            CHECK_EQ_INT(open_guarded(&rx, old, (size_t)on, &type, &len, NULL),
                         SK__TLS_ALERT_BAD_MAC);
            rx.seq = 0;
            /* the new generation's first record does */
            CHECK_EQ_INT(open_guarded(&rx, out, (size_t)fn, &type, &len, back), 0);
            CHECK(len == sizeof first && memcmp(back, first, len) == 0);
            CHECK_EQ_INT(rx.seq, 1);
        }
        sk__tls13_clear(&tx);
        sk__tls13_clear(&rx);
    }
}

/* ======================= idle and clear ======================= */

static void test_idle_clear(void)
{
    uint32_t rng = 4242;
    uint8_t plain[500], out[600], back[500];
    for (int s = 0; s < 3; s++) {
        sk__tls13_dir tx, rx;
        pair(&tx, &rx, suites[s], 66, 0);
        sk__tls13_idle(&tx); /* before any use: nothing to free */
        sk__tls13_idle(&tx);
        CHECK(tx.ctx == NULL);
        for (int i = 0; i < 40; i++) {
            size_t n = xorshift32(&rng) % sizeof plain;
            fill(plain, n, &rng);
            struct iovec iov = {plain, n};
            seal_open(&tx, &rx, (uint8_t)(i % 2 ? 23 : 22), &iov, 1, 0, plain, n, out, back);
            CHECK(tx.ctx != NULL && rx.ctx != NULL); /* made on use */
            uint32_t r = xorshift32(&rng);
            if (r & 1)
                sk__tls13_idle(&tx);
            if (r & 2)
                sk__tls13_idle(&rx);
            if (r & 4)
                sk__tls13_idle(&rx); /* twice */
            if (r & 1)
                CHECK(tx.ctx == NULL);
            if (r & 2)
                CHECK(rx.ctx == NULL);
        }
        CHECK_EQ_INT(tx.seq, 40);
        CHECK_EQ_INT(rx.seq, 40);

        /* clear: no memory, no keys */
        sk__tls13_dir zero;
        memset(&zero, 0, sizeof zero);
        sk__tls13_clear(&tx);
        CHECK(memcmp(&tx, &zero, sizeof tx) == 0);
        sk__tls13_idle(&rx);
        sk__tls13_clear(&rx);
        CHECK(memcmp(&rx, &zero, sizeof rx) == 0);
        sk__tls13_clear(&rx); /* cleared twice */
        /* a fresh, unused one */
        pair(&tx, &rx, suites[s], 66, 0);
        sk__tls13_clear(&tx);
        sk__tls13_clear(&rx);
        CHECK(memcmp(&tx, &zero, sizeof tx) == 0);
    }
}

/* ======================= a stream in random splits ======================= */

typedef struct reasm {
    sk__tls13_dir *rx;
    uint8_t *acc; /* bytes received, not yet a whole record */
    size_t acc_len;
    uint8_t *plain; /* what the records opened to, and their types in order */
    size_t plain_len;
    uint8_t types[64];
    size_t nrec;
    int err;
} reasm;

/* The receiving side of a connection: bytes in, whole records opened as
 * soon as the header says they are complete. */
static void reasm_feed(reasm *a, const uint8_t *p, size_t n)
{
    memcpy(a->acc + a->acc_len, p, n);
    a->acc_len += n;
    while (!a->err && a->acc_len >= SK__TLS13_HDR) {
        size_t total = 0, len = 0;
        uint8_t type = 0;
        int r = sk__tls13_header(a->acc, &total);
        if (r) {
            a->err = r;
            return;
        }
        if (a->acc_len < total)
            return;
        guard g;
        uint8_t *rec = guard_alloc(&g, total);
        memcpy(rec, a->acc, total);
        r = sk__tls13_open(a->rx, rec, total, &type, &len);
        if (r == 0) {
            memcpy(a->plain + a->plain_len, rec + SK__TLS13_HDR, len);
            a->plain_len += len;
            if (a->nrec < sizeof a->types)
                a->types[a->nrec] = type;
            a->nrec++;
        } else {
            a->err = r;
        }
        guard_free(&g);
        memmove(a->acc, a->acc + total, a->acc_len - total);
        a->acc_len -= total;
    }
}

static void test_stream(void)
{
    uint32_t rng = 0x5eed;
    enum { NREC = 40 };
    size_t cap = NREC * (SK__TLS13_SEALED(SK__TLS13_PLAIN_MAX));
    uint8_t *wire = malloc(cap), *plain = malloc(cap), *acc = malloc(cap), *got = malloc(cap);
    uint8_t types[NREC];
    for (int s = 0; s < 3; s++) {
        sk__tls13_dir tx, rx;
        pair(&tx, &rx, suites[s], 12, 1000);
        size_t wlen = 0, plen = 0;
        for (int i = 0; i < NREC; i++) {
            uint32_t r = xorshift32(&rng);
            size_t n = r % 10 == 0   ? SK__TLS13_PLAIN_MAX
                       : r % 10 == 1 ? 0
                       : r % 10 < 5  ? 1 + xorshift32(&rng) % 20
                                     : xorshift32(&rng) % 3000;
            types[i] = (uint8_t)(i % 5 == 4 ? SK__TLS_CT_HANDSHAKE : SK__TLS_CT_DATA);
            fill(plain + plen, n, &rng);
            struct iovec iov[3] = {{plain + plen, n / 3},
                                   {plain + plen + n / 3, n / 3},
                                   {plain + plen + 2 * (n / 3), n - 2 * (n / 3)}};
            long w = sk__tls13_seal(&tx, types[i], iov, 3, 0, n, wire + wlen);
            CHECK_EQ_INT(w, (long)SK__TLS13_SEALED(n));
            wlen += (size_t)w;
            plen += n;
        }
        for (int trial = 0; trial < 12; trial++) {
            reasm a = {&rx, acc, 0, got, 0, {0}, 0, 0};
            reinit(&rx, &tx, 1000, 0);
            size_t off = 0;
            while (off < wlen) {
                size_t n = trial == 0   ? 1                            /* a byte at a time */
                           : trial == 1 ? wlen                         /* all at once */
                           : trial == 2 ? 5                            /* header-sized */
                           : trial < 7  ? 1 + xorshift32(&rng) % 64    /* small */
                                        : 1 + xorshift32(&rng) % 20000; /* up to records */
                if (n > wlen - off)
                    n = wlen - off;
                reasm_feed(&a, wire + off, n);
                off += n;
            }
            CHECK_EQ_INT(a.err, 0);
            CHECK_EQ_INT(a.acc_len, 0);
            CHECK_EQ_INT(a.nrec, NREC);
            CHECK_EQ_INT(a.plain_len, plen);
            CHECK(a.plain_len == plen && memcmp(a.plain, plain, plen) == 0);
            CHECK(memcmp(a.types, types, NREC) == 0);
            CHECK_EQ_INT(rx.seq, 1000 + NREC);
            sk__tls13_clear(&rx);
        }
        /* a stream cut short opens what is whole and waits for the rest */
        reasm a = {&rx, acc, 0, got, 0, {0}, 0, 0};
        reinit(&rx, &tx, 1000, 0);
        reasm_feed(&a, wire, wlen - 1);
        CHECK_EQ_INT(a.err, 0);
        CHECK_EQ_INT(a.nrec, NREC - 1);
        CHECK(a.acc_len > 0);
        /* a record dropped from the middle: the next one fails */
        reinit(&rx, &tx, 1000, 0);
        size_t first = 0;
        CHECK_EQ_INT(sk__tls13_header(wire, &first), 0);
        a = (reasm){&rx, acc, 0, got, 0, {0}, 0, 0};
        reasm_feed(&a, wire + first, wlen - first);
        CHECK_EQ_INT(a.err, SK__TLS_ALERT_BAD_MAC);
        CHECK_EQ_INT(a.nrec, 0);
        sk__tls13_clear(&tx);
        sk__tls13_clear(&rx);
    }
    free(wire);
    free(plain);
    free(acc);
    free(got);
}

/* ======================= RFC 8446 limits tls_rec.h does not promise ======================= */

/* (1) §5.4: "the full encoded TLSInnerPlaintext MUST NOT exceed 2^14 + 1
 *     octets": 100 content bytes + type + 16,500 zeros of padding (a body of
 *     16,617 bytes, under the 2^14 + 256 limit) is record_overflow.
 * (2) §5.3: "If a TLS implementation would need to wrap a sequence number,
 *     it MUST either rekey ... or terminate the connection": seq 2^64 - 2
 *     seals, 2^64 - 1 does not (the nonce of seq 0 never comes back). */
static void spec_limits(void)
{
    uint8_t *inner = calloc(1, SK__TLS13_CIPHER_MAX), *rec = malloc(SK__TLS13_CIPHER_MAX + 64);
    uint8_t type;
    size_t len;
    for (int s = 0; s < 3; s++) {
        sk__tls13_dir rx, raw, tx;
        pair(&raw, &rx, suites[s], 3, 0);
        memset(inner, 0xab, 100);
        inner[100] = SK__TLS_CT_DATA;
        size_t n = raw_seal(&raw, inner, 100 + 1 + 16500, rec);
        CHECK_EQ_INT(open_guarded(&rx, rec, n, &type, &len, NULL), SK__TLS_ALERT_OVERFLOW);
        sk__tls13_clear(&rx);
        sk__tls13_clear(&raw);

        pair(&tx, &rx, suites[s], 3, UINT64_MAX - 1);
        CHECK_EQ_INT(seal1(&tx, SK__TLS_CT_DATA, inner, 10, rec), (long)SK__TLS13_SEALED(10));
        CHECK_EQ_INT(seal1(&tx, SK__TLS_CT_DATA, inner, 10, rec), -1);
        sk__tls13_clear(&tx);
        sk__tls13_clear(&rx);
    }
    free(inner);
    free(rec);
}

int main(void)
{
    test_rfc8448_keys();
    test_rfc8448_records();
    test_kats();
    test_init();
    test_header();
    test_roundtrip();
    test_high_seq();
    test_tamper();
    test_inner();
    test_update();
    test_idle_clear();
    test_stream();
    spec_limits();
    return check_done("test_tls_rec");
}
