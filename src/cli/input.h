/* input.h — reads a file descriptor (stdin) on the loop and hands it on as
 * lines or as raw chunks, with pause/resume for backpressure. */
#ifndef SOCKIT_CLI_INPUT_H
#define SOCKIT_CLI_INPUT_H

#include <stddef.h>

#include "sockit/loop.h"

typedef struct cli_input cli_input;

/* One line (without "\n" or "\r\n") in line mode, or one chunk in raw mode.
 * data is valid only during the call. */
typedef void (*cli_data_cb)(void *ud, const char *data, size_t len);
/* End of input: err is 0 at EOF, else a negated errno (or -EMSGSIZE for a
 * line longer than max_line). No callback fires after this one. */
typedef void (*cli_end_cb)(void *ud, int err);

/* Starts reading fd (a terminal, pipe, socket or regular file). Returns the
 * reader or NULL. fd stays owned by the caller. */
cli_input *cli_input_new(sk_loop *loop, int fd, int lines, size_t max_line, cli_data_cb on_data,
                         cli_end_cb on_end, void *ud);

void cli_input_pause(cli_input *in);
void cli_input_resume(cli_input *in);

/* Stops reading and frees the reader (safe from its own callbacks). */
void cli_input_free(cli_input *in);

#endif
