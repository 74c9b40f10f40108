/* wsdeflate.c — permessage-deflate's compression (RFC 7692 §7.2): raw
 * deflate with the 00 00 ff ff tail cut off, inflate bounded in chunks. By
 * default the zlib streams are the loop's (one per window size), reset per
 * message, so an idle connection holds no zlib state (uWebSockets'
 * SHARED_COMPRESSOR); a connection keeps its own only for context takeover. */
#include "net/wsdeflate.h"

#include "net/loop_int.h"
#include "sockit/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define LEVEL 6            /* zlib's default: see bench/RESULTS.md */
#define SHARED_MEMLEVEL 8
#define CTX_MEMLEVEL 4     /* per-connection contexts: 8 KiB of hash chains */
#define CHUNK 16384        /* first inflate output chunk */
#define KEEP ((size_t)256 << 10) /* loop buffers above this are freed after use */

static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};

/* The loop's shared state (its SK__PART_WSDEFLATE). */
typedef struct shared {
    z_stream *def[16]; /* by window bits 9..15, made on first use */
    z_stream *inf;
    uint8_t *zbuf, *ibuf; /* compressed output / inflated output */
    size_t zcap, icap;
} shared;

static void free_def(z_stream *z)
{
    if (z) {
        deflateEnd(z);
        free(z);
    }
}

static void free_inf(z_stream *z)
{
    if (z) {
        inflateEnd(z);
        free(z);
    }
}

static void shared_fini(sk_loop *loop, void *st)
{
    (void)loop;
    shared *s = st;
    for (int i = 0; i < 16; i++)
        free_def(s->def[i]);
    free_inf(s->inf);
    free(s->zbuf);
    free(s->ibuf);
    free(s);
}

static shared *shared_of(sk_loop *loop)
{
    shared *s = sk__loop_part(loop, SK__PART_WSDEFLATE);
    if (s || !(s = calloc(1, sizeof *s)))
        return s;
    sk__loop_set_part(loop, SK__PART_WSDEFLATE, &(sk__part){.fini = shared_fini, .st = s});
    return s;
}

static z_stream *new_def(int bits, int memlevel)
{
    z_stream *z = calloc(1, sizeof *z);
    if (z && deflateInit2(z, LEVEL, Z_DEFLATED, -bits, memlevel, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

static z_stream *new_inf(int bits)
{
    z_stream *z = calloc(1, sizeof *z);
    if (z && inflateInit2(z, -bits) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

/* Makes room for n bytes in a loop buffer. 0 or -ENOMEM. */
static int reserve(uint8_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    uint8_t *b = realloc(*buf, n);
    if (!b)
        return -ENOMEM;
    *buf = b;
    *cap = n;
    return 0;
}

/* A big buffer of a past message goes back (the loop keeps only a small one). */
static void trim(uint8_t **buf, size_t *cap)
{
    if (*cap > KEEP) {
        free(*buf);
        *buf = NULL;
        *cap = 0;
    }
}

/* ---- out ---- */

/* Our direction's window and whether we reset per message. */
static int our_bits(const sk__wsd *d)
{
    int b = d->client ? d->p.client_bits : d->p.server_bits;
    return b > 1 ? b : 15;
}

static int our_no_ctx(const sk__wsd *d) { return d->client ? d->p.client_no_ctx : d->p.server_no_ctx; }

/* One message through z into buf: deflate with a sync flush, tail cut.
 * Returns the compressed size, or -1. */
static long run_deflate(z_stream *z, const void *msg, size_t len, uint8_t *buf, size_t cap)
{
    z->next_in = (Bytef *)msg;
    z->avail_in = (uInt)len;
    z->next_out = buf;
    z->avail_out = (uInt)cap;
    int r = deflate(z, Z_SYNC_FLUSH);
    if ((r != Z_OK && r != Z_BUF_ERROR) || z->avail_in || z->avail_out == 0)
        return -1; /* cap is room(): all fits */
    size_t n = cap - z->avail_out;
    if (n < 4 || memcmp(buf + n - 4, tail, 4) != 0)
        return -1;
    return (long)(n - 4);
}

/* Room for one message through z: zlib's bound plus the sync flush's marker. */
static size_t room(z_stream *z, size_t len) { return deflateBound(z, (uLong)len) + 16; }

int sk__wsd_deflate(sk_loop *loop, sk__wsd *d, const void *msg, size_t len, const uint8_t **out,
                    size_t *olen)
{
    int bits = our_bits(d), keep = !our_no_ctx(d);
    if (bits < 9 || len < SK__WSD_MIN_SIZE || len > (size_t)UINT32_MAX - 4096)
        return 0;
    shared *s = shared_of(loop);
    if (!s)
        return -ENOMEM;
    trim(&s->zbuf, &s->zcap); /* (not ibuf: msg may be the message inflated there, echoed) */
    z_stream *z;
    if (keep) {
        if (!d->def && !(d->def = new_def(d->ctx_mode && bits > SK__WSD_CTX_BITS ? SK__WSD_CTX_BITS : bits,
                                         d->ctx_mode ? CTX_MEMLEVEL : SHARED_MEMLEVEL)))
            return -ENOMEM;
        z = d->def;
    } else if (!(z = s->def[bits]) && !(z = s->def[bits] = new_def(bits, SHARED_MEMLEVEL))) {
        return -ENOMEM;
    }
    if (reserve(&s->zbuf, &s->zcap, room(z, len)) < 0)
        return -ENOMEM;
    long n = run_deflate(z, msg, len, s->zbuf, s->zcap);
    if (!keep)
        deflateReset(z);
    if (n < 0)
        return -ENOMEM;
    if (!keep && (size_t)n >= len)
        return 0; /* the peer's window does not depend on it: send it as it is */
    *out = s->zbuf;
    *olen = (size_t)n;
    return 1;
}

/* The calling thread's compressor for broadcast blobs (made once, reset per
 * message: a zlib stream costs ~256 KiB to make); freed with the thread's
 * caches when its loop stops. */
static __thread z_stream *alone_def;

void sk__wsd_thread_flush(void)
{
    free_def(alone_def);
    alone_def = NULL;
}

int sk__wsd_deflate_alone(const void *msg, size_t len, uint8_t **out, size_t *olen)
{
    if (len < SK__WSD_MIN_SIZE || len > (size_t)UINT32_MAX - 4096)
        return 0;
    if (alone_def) {
        deflateReset(alone_def);
    } else if ((alone_def = new_def(15, SHARED_MEMLEVEL))) {
        sk__loop_thread_flush_add(sk__wsd_thread_flush);
    }
    z_stream *z = alone_def;
    size_t cap = z ? room(z, len) : 0;
    uint8_t *buf = z ? malloc(cap) : NULL;
    long n = buf ? run_deflate(z, msg, len, buf, cap) : -1;
    if (n < 0 || (size_t)n >= len) {
        free(buf);
        return n < 0 ? -ENOMEM : 0;
    }
    *out = buf;
    *olen = (size_t)n;
    return 1;
}

int sk__wsd_takes_shared(const sk__wsd *d)
{
    return d->on && !d->client && d->p.server_no_ctx && our_bits(d) == 15;
}

/* ---- in ---- */

/* Runs z over in[0..n) into the loop's buffer, growing it in chunks up to
 * max + 1 bytes (one more proves the message too big). */
static int run_inflate(shared *s, z_stream *z, const uint8_t *in, size_t n, size_t max, size_t *olen)
{
    size_t got = 0;
    const uint8_t *parts[2] = {in, tail};
    size_t lens[2] = {n, sizeof tail};
    for (int i = 0; i < 2; i++) {
        z->next_in = (Bytef *)parts[i];
        z->avail_in = (uInt)lens[i];
        while (z->avail_in) {
            if (got == s->icap) {
                size_t want = s->icap ? s->icap * 2 : CHUNK;
                if (want > max + 1)
                    want = max + 1;
                if (got == want)
                    return SK_EWSBIG;
                if (reserve(&s->ibuf, &s->icap, want) < 0)
                    return -ENOMEM;
            }
            z->next_out = s->ibuf + got;
            z->avail_out = (uInt)(s->icap - got);
            int r = inflate(z, Z_SYNC_FLUSH);
            got = s->icap - z->avail_out;
            if (got > max)
                return SK_EWSBIG;
            if (r == Z_STREAM_END) /* a final block: what follows starts afresh */
                inflateReset(z);
            else if (r != Z_OK && !(r == Z_BUF_ERROR && z->avail_out == 0))
                return SK_EWSINFLATE;
        }
    }
    *olen = got;
    return 0;
}

int sk__wsd_inflate(sk_loop *loop, sk__wsd *d, const uint8_t *in, size_t n, size_t max,
                    uint8_t **out, size_t *olen)
{
    shared *s = shared_of(loop);
    if (!s)
        return -ENOMEM;
    int peer_keeps = !(d->client ? d->p.server_no_ctx : d->p.client_no_ctx);
    int bits = d->client ? d->p.server_bits : d->p.client_bits;
    bits = bits > 8 ? bits : bits == 8 ? 9 : 15;
    z_stream *z = peer_keeps ? d->inf : s->inf;
    if (!z && !(z = new_inf(peer_keeps ? bits : 15)))
        return -ENOMEM;
    *(peer_keeps ? &d->inf : &s->inf) = z;
    trim(&s->ibuf, &s->icap);
    int r = run_inflate(s, z, in, n, max, olen);
    if (!peer_keeps || r < 0)
        inflateReset(z);
    *out = s->ibuf;
    return r;
}

void sk__wsd_free(sk__wsd *d)
{
    free_def(d->def);
    free_inf(d->inf);
    d->def = d->inf = NULL;
}
