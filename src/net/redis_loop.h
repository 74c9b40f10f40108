/* redis_loop.h — runs a hiredis asynchronous context on an sk_loop: its
 * socket becomes an sk_watch, so no call on the loop ever blocks on Redis. */
#ifndef SOCKIT_REDIS_LOOP_H
#define SOCKIT_REDIS_LOOP_H

#include <hiredis/async.h>

#include "sockit/loop.h"

/* Attaches ac (just made by redisAsyncConnect*, not yet attached) to loop:
 * reads and writes then happen from loop's iterations. A reply still
 * incomplete after max_reply bytes (hiredis would keep reading it into
 * memory: it has no limit of its own) ends the link instead: its socket is
 * shut, *cut (when not NULL; the caller's, outliving ac) is set to 1, and
 * hiredis reports the connection lost through the context's disconnect
 * callback; so does a reply whose objects would take over twice max_reply
 * (plus 64 KiB), refused before allocation. Replies are built in an arena
 * (redis_reply.h): a callback must not keep a reply or call freeReplyObject
 * on it. Returns 0, or -1 when
 * ac already has an event library or on out-of-memory (ac is then left to
 * the caller to free). The attachment is released by hiredis itself when ac
 * is freed (redisAsyncFree, redisAsyncDisconnect, or an error). */
int sk__redis_attach(redisAsyncContext *ac, sk_loop *loop, size_t max_reply, int *cut);

#endif
