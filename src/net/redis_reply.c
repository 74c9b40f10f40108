/* redis_reply.c — hiredis reply objects in an arena (see redis_reply.h):
 * chunks bumped forward, the first kept for the next reply, bigger ones
 * (a long message) freed when the reply that needed them is. hiredis hands
 * freeObject only whole replies (the root it returned, or the one it was
 * building when the reader fails or is freed), so the arena counts roots
 * and rewinds when none is left. */
#include "net/redis_reply.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 16384 /* a chat message's reply fits many times */

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} chunk;

struct sk__redis_arena {
    chunk *first;  /* kept across replies (CHUNK bytes) */
    chunk *extra;  /* more chunks for the reply being built, newest first */
    size_t held, max;
    int roots;     /* replies built and not yet freed */
    int *cut;
};

sk__redis_arena *sk__redis_arena_new(size_t max, int *cut)
{
    sk__redis_arena *a = calloc(1, sizeof *a);
    if (a)
        a->max = max, a->cut = cut;
    return a;
}

static chunk *chunk_new(size_t cap)
{
    chunk *c = malloc(sizeof *c + cap);
    if (c)
        c->next = NULL, c->cap = cap, c->used = 0;
    return c;
}

static void *bump(chunk *c, size_t n)
{
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* n bytes, 16-aligned; NULL over the limit (checked before allocating). */
static void *arena_alloc(sk__redis_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > a->max - a->held) {
        if (a->cut)
            *a->cut = 1;
        return NULL;
    }
    chunk *c = a->extra ? a->extra : a->first;
    if (!a->first && n <= CHUNK)
        c = a->first = chunk_new(CHUNK);
    if (!c || c->cap - c->used < n) {
        c = chunk_new(n > CHUNK ? n : CHUNK);
        if (!c)
            return NULL;
        c->next = a->extra;
        a->extra = c;
    }
    a->held += n;
    return bump(c, n);
}

static void rewind_arena(sk__redis_arena *a)
{
    while (a->extra) {
        chunk *next = a->extra->next;
        free(a->extra);
        a->extra = next;
    }
    if (a->first)
        a->first->used = 0;
    a->held = 0;
}

/* Before every object: its arena, and whether it is a reply's root (the
 * only objects hiredis frees). 16 bytes, so the object stays aligned. */
typedef struct head {
    sk__redis_arena *a;
    size_t root;
} head;

/* A new object of type for task, linked into its parent array. */
static redisReply *object(const redisReadTask *task, int type, size_t extra)
{
    sk__redis_arena *a = task->privdata;
    head *h = arena_alloc(a, sizeof *h + sizeof(redisReply) + extra);
    if (!h)
        return NULL;
    *h = (head){.a = a, .root = !task->parent};
    redisReply *r = (redisReply *)(h + 1);
    memset(r, 0, sizeof *r);
    r->type = type;
    if (task->parent)
        ((redisReply *)task->parent->obj)->element[task->idx] = r;
    else
        a->roots++;
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    if (len > SIZE_MAX / 2)
        return NULL;
    redisReply *r = object(task, task->type, len + 1);
    if (!r)
        return NULL;
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = 0;
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
    size_t n = elements > 0 ? (size_t)elements : 0;
    sk__redis_arena *a = task->privdata;
    if (n > a->max / sizeof(redisReply *)) { /* refused before the multiplication */
        if (a->cut)
            *a->cut = 1;
        return NULL;
    }
    redisReply *r = object(task, REDIS_REPLY_ARRAY, n * sizeof(redisReply *));
    if (!r)
        return NULL;
    r->elements = n;
    r->element = n ? (redisReply **)(r + 1) : NULL;
    if (n)
        memset(r->element, 0, n * sizeof(redisReply *));
    return r;
}

static void *create_integer(const redisReadTask *task, long long v)
{
    redisReply *r = object(task, REDIS_REPLY_INTEGER, 0);
    if (r)
        r->integer = v;
    return r;
}

static void *create_nil(const redisReadTask *task) { return object(task, REDIS_REPLY_NIL, 0); }

/* hiredis frees whole replies only (the one it returned, or the one it was
 * building when the reader fails or is freed); a child is a no-op anyway. */
static void free_object(void *obj)
{
    const head *h = (const head *)obj - 1;
    sk__redis_arena *a = h->a;
    if (h->root && a->roots > 0 && --a->roots == 0)
        rewind_arena(a);
}

static const redisReplyObjectFunctions FNS = {
    .createString = create_string,
    .createArray = create_array,
    .createInteger = create_integer,
    .createNil = create_nil,
    .freeObject = free_object,
};

void sk__redis_arena_use(redisReader *r, sk__redis_arena *a)
{
    r->fn = (redisReplyObjectFunctions *)&FNS;
    r->privdata = a;
}

void sk__redis_arena_free(redisReader *r, sk__redis_arena *a)
{
    if (r && r->privdata == a) {
        r->reply = NULL; /* its objects are the arena's */
        r->fn = NULL;
        r->privdata = NULL;
    }
    if (!a)
        return;
    rewind_arena(a);
    free(a->first);
    free(a);
}

size_t sk__redis_arena_held(const sk__redis_arena *a) { return a->held; }

int sk__redis_arena_live(const sk__redis_arena *a) { return a->roots; }

int sk__redis_reply_same(const redisReply *a, const redisReply *b)
{
    if (!a || !b || a->type != b->type)
        return 0;
    if (a->type == REDIS_REPLY_INTEGER)
        return a->integer == b->integer;
    if (a->type == REDIS_REPLY_ARRAY) {
        if (a->elements != b->elements)
            return 0;
        for (size_t i = 0; i < a->elements; i++)
            if (!sk__redis_reply_same(a->element[i], b->element[i]))
                return 0;
        return 1;
    }
    return a->type == REDIS_REPLY_NIL ||
           (a->len == b->len && memcmp(a->str, b->str, a->len) == 0 && !a->str[a->len]);
}
