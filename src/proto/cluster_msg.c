/* cluster_msg.c — the chat cluster's wire format: "SKC1", kind, node name,
 * sequence number, member id, nick, then the text to the end. Every length
 * is a byte or fixed, so a decoder needs no allocation and no state. */
#include "proto/cluster_msg.h"

#include <stdio.h>
#include <string.h>

static const char MAGIC[4] = {'S', 'K', 'C', '1'};

static int known_kind(int k)
{
    return k == SK__CMSG_TEXT || k == SK__CMSG_JOIN || k == SK__CMSG_LEAVE || k == SK__CMSG_QUIT;
}

size_t sk__cmsg_size(const sk__cmsg *m)
{
    return sizeof MAGIC + 1 + 1 + m->node_len + 8 + 8 + 1 + m->nick_len + m->text_len;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(v >> (i * 8));
    return p;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

long sk__cmsg_encode(const sk__cmsg *m, uint8_t *buf, size_t cap)
{
    if (!known_kind(m->kind) || m->node_len < 1 || m->node_len > SK__CMSG_NAME_MAX ||
        m->nick_len > SK__CMSG_NAME_MAX || m->text_len > SK__CMSG_TEXT_MAX ||
        sk__cmsg_size(m) > cap)
        return -1;
    uint8_t *p = buf;
    memcpy(p, MAGIC, sizeof MAGIC);
    p += sizeof MAGIC;
    *p++ = (uint8_t)m->kind;
    *p++ = (uint8_t)m->node_len;
    memcpy(p, m->node, m->node_len);
    p = put_u64(p + m->node_len, m->seq);
    p = put_u64(p, m->id);
    *p++ = (uint8_t)m->nick_len;
    if (m->nick_len)
        memcpy(p, m->nick, m->nick_len);
    p += m->nick_len;
    if (m->text_len)
        memcpy(p, m->text, m->text_len);
    return (long)(p - buf) + (long)m->text_len;
}

int sk__cmsg_decode(const uint8_t *buf, size_t len, sk__cmsg *m)
{
    size_t at = sizeof MAGIC + 2;
    if (len < at || len > SK__CMSG_MAX || memcmp(buf, MAGIC, sizeof MAGIC) != 0)
        return -1;
    m->kind = buf[4];
    m->node_len = buf[5];
    if (!known_kind(m->kind) || m->node_len < 1 || m->node_len > SK__CMSG_NAME_MAX ||
        len - at < m->node_len + 8 + 8 + 1)
        return -1;
    m->node = (const char *)buf + at;
    at += m->node_len;
    m->seq = get_u64(buf + at);
    m->id = get_u64(buf + at + 8);
    at += 16;
    m->nick_len = buf[at++];
    if (m->nick_len > SK__CMSG_NAME_MAX || len - at < m->nick_len)
        return -1;
    m->nick = (const char *)buf + at;
    at += m->nick_len;
    m->text = buf + at;
    m->text_len = len - at;
    return m->text_len <= SK__CMSG_TEXT_MAX ? 0 : -1;
}

int sk__cmsg_valid_name(const char *s, size_t len)
{
    if (len < 1 || len > SK__CMSG_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == '/')
            return 0;
    return 1;
}

size_t sk__cmsg_field(char *buf, const char *node, size_t node_len, uint64_t id)
{
    int n = snprintf(buf, SK__CMSG_NAME_MAX + 22, "%.*s/%llu", (int)node_len, node,
                     (unsigned long long)id);
    return n > 0 ? (size_t)n : 0;
}

int sk__cmsg_parse_field(const char *f, size_t len, size_t *node_len, uint64_t *id)
{
    size_t slash = len;
    while (slash > 0 && f[slash - 1] != '/')
        slash--;
    if (slash < 2 || slash == len || len - slash > 20 || !sk__cmsg_valid_name(f, slash - 1))
        return -1;
    uint64_t v = 0;
    for (size_t i = slash; i < len; i++) {
        uint64_t d = (uint64_t)(f[i] - '0');
        if (f[i] < '0' || f[i] > '9' || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *node_len = slash - 1;
    *id = v;
    return 0;
}
