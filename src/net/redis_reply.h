/* redis_reply.h — hiredis reply objects built in one arena per link instead
 * of a malloc per element: a pub/sub message (an array and three strings)
 * costs a few pointer bumps, and the arena is rewound when hiredis frees the
 * reply. The objects are plain redisReply structs, so hiredis's async code
 * (which reads pub/sub replies as redisReply) and callbacks see no change. */
#ifndef SOCKIT_REDIS_REPLY_H
#define SOCKIT_REDIS_REPLY_H

#include <hiredis/read.h>
#include <stddef.h>

typedef struct sk__redis_arena sk__redis_arena;

/* A new arena whose replies may take at most max bytes (objects, strings
 * and their bookkeeping) at a time: a reply needing more is refused before
 * anything is allocated (hiredis then reports out of memory and drops the
 * link) and *cut (when not NULL; the caller's, outliving the arena) is set
 * to 1. Returns NULL on out-of-memory. */
sk__redis_arena *sk__redis_arena_new(size_t max, int *cut);

/* Has reader r (with no reply in progress) build its replies in a. A reply
 * lives until hiredis frees it (freeReplyObject must not be called on it:
 * hiredis's reader does that through its own functions). */
void sk__redis_arena_use(redisReader *r, sk__redis_arena *a);

/* Takes r (NULL: none) off a, dropping the reply it is building, and frees
 * a. r then builds nothing more (it is about to be freed). */
void sk__redis_arena_free(redisReader *r, sk__redis_arena *a);

/* Bytes a holds now, and the replies not yet freed (for tests). */
size_t sk__redis_arena_held(const sk__redis_arena *a);
int sk__redis_arena_live(const sk__redis_arena *a);

/* 1 when replies a and b (either built by hiredis's functions or here) are
 * the same tree: types, integers, strings (NUL-terminated) and elements
 * (the tests and the fuzz target compare the two ways of building). */
struct redisReply;
int sk__redis_reply_same(const struct redisReply *a, const struct redisReply *b);

#endif
