/* zframe.h — compressed framing glue of the net layer: the calling thread's
 * compression context, reused by every connection of its loop. */
#ifndef SOCKIT_ZFRAME_H
#define SOCKIT_ZFRAME_H

#include "sockit/compress.h"

/* The calling thread's context, made on first use (NULL on OOM). Messages it
 * decompresses stay valid until its next decode. */
sk_zctx *sk__zctx_thread(void);

/* Frees this thread's context (sk_loop_run calls it on return, so a loop
 * thread that exits leaves nothing behind, and an idle thread holds nothing). */
void sk__zctx_cache_flush(void);

#endif
