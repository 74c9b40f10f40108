/* cluster_msg.h — what chat nodes say to each other through Redis pub/sub
 * (one message per PUBLISH) and the presence fields they keep in Redis.
 * Pure codec: no I/O, no allocation; decoded fields point into the input. */
#ifndef SOCKIT_CLUSTER_MSG_H
#define SOCKIT_CLUSTER_MSG_H

#include <stddef.h>
#include <stdint.h>

#define SK__CMSG_NAME_MAX 64          /* node names and nicks */
#define SK__CMSG_TEXT_MAX (1u << 20)  /* longest text carried */
#define SK__CMSG_HEAD_MAX (4 + 1 + 1 + SK__CMSG_NAME_MAX + 8 + 8 + 1 + SK__CMSG_NAME_MAX)
#define SK__CMSG_MAX (SK__CMSG_HEAD_MAX + SK__CMSG_TEXT_MAX)

/* What a message is about. */
enum {
    SK__CMSG_TEXT = 'B',  /* text: a broadcast, shown to every member */
    SK__CMSG_JOIN = 'J',  /* member id is (now) called nick (a join or a /nick) */
    SK__CMSG_LEAVE = 'L', /* member id left */
    SK__CMSG_QUIT = 'X',  /* the node shuts down: its members are gone */
};

typedef struct sk__cmsg {
    int kind;
    const char *node; /* sender node's name, node_len bytes (1..64), not NUL-terminated */
    size_t node_len;
    uint64_t seq;     /* the sender's message number: 1, 2, ... (gaps = messages lost) */
    uint64_t id;      /* member id on that node (0 for TEXT and QUIT) */
    const char *nick; /* nick_len bytes (0..64) */
    size_t nick_len;
    const uint8_t *text;
    size_t text_len;  /* 0..SK__CMSG_TEXT_MAX */
} sk__cmsg;

/* Bytes sk__cmsg_encode needs for m (its lengths are not checked here). */
size_t sk__cmsg_size(const sk__cmsg *m);

/* Writes m into buf (cap bytes). Returns the length, or -1 when a field is
 * out of bounds (names 1..64 / 0..64 bytes, text up to the maximum), the kind
 * unknown, or cap too small. */
long sk__cmsg_encode(const sk__cmsg *m, uint8_t *buf, size_t cap);

/* Decodes one whole message of len bytes (hostile input: every length is
 * checked against len and the limits before use). Returns 0 and fills *m
 * (pointing into buf), or -1 when malformed. */
int sk__cmsg_decode(const uint8_t *buf, size_t len, sk__cmsg *m);

/* 1 when s (len bytes) may name a node or a room: 1..64 visible ASCII bytes
 * other than '/' (the presence field's separator), else 0. */
int sk__cmsg_valid_name(const char *s, size_t len);

/* Presence fields "NODE/ID": writes one into buf (at least
 * SK__CMSG_NAME_MAX + 22 bytes); returns its length. */
size_t sk__cmsg_field(char *buf, const char *node, size_t node_len, uint64_t id);

/* Parses a field of len bytes: returns 0 and sets *node_len (the node is at
 * f) and *id, or -1 when malformed. */
int sk__cmsg_parse_field(const char *f, size_t len, size_t *node_len, uint64_t *id);

#endif
