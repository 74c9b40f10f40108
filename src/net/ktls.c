/* ktls.c — kernel TLS for sockit's own TLS 1.3 records (see ktls.h): the
 * socket options that hand a direction's keys to the kernel, in the layout
 * of <linux/tls.h>, and one control record read or written with its
 * content type in a control message. */
#include "net/ktls.h"

#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* Set once the kernel said it has no tls module: a failed attach may make
 * the kernel run modprobe (as root), which must not happen per connection.
 * (A module loaded later is used after a restart.) */
static int g_absent;

int sk__ktls_attach(int fd)
{
    if (__atomic_load_n(&g_absent, __ATOMIC_RELAXED))
        return -ENOENT;
    if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof "tls") == 0)
        return 0;
    int e = errno;
    if (e == ENOENT)
        __atomic_store_n(&g_absent, 1, __ATOMIC_RELAXED);
    return -e;
}

/* The kernel's per-suite key structures (the 12-byte TLS 1.3 IV is its
 * 4-byte salt then 8-byte iv for AES-GCM, all in iv for ChaCha20). */
union crypto_info {
    struct tls_crypto_info info;
    struct tls12_crypto_info_aes_gcm_128 gcm128;
    struct tls12_crypto_info_aes_gcm_256 gcm256;
    struct tls12_crypto_info_chacha20_poly1305 chacha;
};

static void put_seq(unsigned char out[8], uint64_t seq)
{
    for (int i = 7; i >= 0; i--, seq >>= 8)
        out[i] = (unsigned char)seq;
}

/* AES-GCM's fields (the same for both key sizes). */
static void fill_gcm(unsigned char *iv, unsigned char *key, unsigned char *salt,
                     unsigned char *rec_seq, const sk__tls13_dir *d)
{
    memcpy(salt, d->iv, 4);
    memcpy(iv, d->iv + 4, 8);
    memcpy(key, d->key, d->key_len);
    put_seq(rec_seq, d->seq);
}

/* Fills ci from d; returns its size, or 0 for a suite the kernel has no
 * structure for. */
static socklen_t fill(union crypto_info *ci, const sk__tls13_dir *d)
{
    memset(ci, 0, sizeof *ci);
    ci->info.version = TLS_1_3_VERSION;
    switch (d->suite) {
    case 0x1301:
        ci->info.cipher_type = TLS_CIPHER_AES_GCM_128;
        fill_gcm(ci->gcm128.iv, ci->gcm128.key, ci->gcm128.salt, ci->gcm128.rec_seq, d);
        return sizeof ci->gcm128;
    case 0x1302:
        ci->info.cipher_type = TLS_CIPHER_AES_GCM_256;
        fill_gcm(ci->gcm256.iv, ci->gcm256.key, ci->gcm256.salt, ci->gcm256.rec_seq, d);
        return sizeof ci->gcm256;
    case 0x1303:
        ci->info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
        memcpy(ci->chacha.iv, d->iv, 12);
        memcpy(ci->chacha.key, d->key, 32);
        put_seq(ci->chacha.rec_seq, d->seq);
        return sizeof ci->chacha;
    default:
        return 0;
    }
}

int sk__ktls_keys(int fd, const sk__tls13_dir *d, int tx)
{
    union crypto_info ci;
    socklen_t len = fill(&ci, d);
    int r = len == 0 ? -EINVAL
                     : setsockopt(fd, SOL_TLS, tx ? TLS_TX : TLS_RX, &ci, len) == 0 ? 0 : -errno;
    memset(&ci, 0, sizeof ci); /* (the key: not left on the stack) */
    __asm__ __volatile__("" : : "r"(&ci) : "memory");
    return r;
}

long sk__ktls_recv_control(int fd, uint8_t *type, uint8_t *buf, size_t cap)
{
    char cbuf[CMSG_SPACE(sizeof(unsigned char))];
    struct iovec iov = {buf, cap};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf};
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    int typed = cm && cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE;
    *type = typed ? *CMSG_DATA(cm) : 23; /* (untyped: application data) */
    return (long)n;
}

int sk__ktls_send_control(int fd, uint8_t type, const void *p, size_t n)
{
    char cbuf[CMSG_SPACE(sizeof(unsigned char))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {(void *)p, n};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                        .msg_controllen = sizeof cbuf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_TLS;
    cm->cmsg_type = TLS_SET_RECORD_TYPE;
    cm->cmsg_len = CMSG_LEN(sizeof(unsigned char));
    *CMSG_DATA(cm) = type;
    return sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
}
