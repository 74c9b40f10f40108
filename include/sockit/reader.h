/* reader.h — reads a file descriptor (usually stdin) on the loop and hands
 * it on as lines or as raw chunks, with pause/resume for backpressure. */
#ifndef SOCKIT_READER_H
#define SOCKIT_READER_H

#include <stddef.h>

#include "sockit/loop.h"

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_reader sk_reader;

/* One line (without "\n" or "\r\n") in line mode, or one chunk in raw mode.
 * data is valid only during the call. A last line without "\n" comes at
 * EOF (a "\r" ending it is stripped too). */
typedef void (*sk_reader_data_cb)(sk_reader *r, const char *data, size_t len, void *ud);
/* End of input: err is 0 at EOF, else a negated errno (-ENOMEM when out of
 * memory, -EMSGSIZE for a line longer than max_line). No callback fires
 * after this one. */
typedef void (*sk_reader_end_cb)(sk_reader *r, int err, void *ud);

/* Starts reading fd (a terminal, pipe, socket or regular file; lines = 1
 * splits lines of at most max_line bytes, 0 hands on chunks as read).
 * Returns the reader, or NULL with errno set. fd stays owned by the caller.
 * Callbacks fire from the loop, never from inside this function. */
SK_EXTERN sk_reader *sk_reader_new(sk_loop *loop, int fd, int lines, size_t max_line,
                                   sk_reader_data_cb on_data, sk_reader_end_cb on_end, void *ud);

/* Stops / restarts reading (backpressure). Once paused, no more reads are
 * made; the lines of the read in progress are still handed on. on_end may
 * fire from inside sk_reader_resume, with -ENOMEM, when reading a regular
 * file cannot be rescheduled. */
SK_EXTERN void sk_reader_pause(sk_reader *in);
SK_EXTERN void sk_reader_resume(sk_reader *in);

/* Stops reading and frees the reader (safe from its own callbacks). */
SK_EXTERN void sk_reader_free(sk_reader *in);

#ifdef __cplusplus
}
#endif
#endif
