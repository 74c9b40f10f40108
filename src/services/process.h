/* process.h — runs one argv in a new process group without blocking the loop:
 * output collected up to a cap, a timeout, exit reported through a callback. */
#ifndef SOCKIT_PROCESS_H
#define SOCKIT_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "sockit/loop.h"

typedef struct sk__proc sk__proc;

/* How a command ended. out/len are valid only during the callback. */
typedef struct sk__proc_result {
    int status;          /* waitpid() status; -1 if it could not be collected */
    int timed_out;       /* 1: the timeout killed the process group */
    int capped;          /* 1: it wrote more than max_output and its group was killed */
    const uint8_t *out;  /* stdout and stderr, interleaved as written (one pipe) */
    size_t len;          /* at most max_output */
    uint64_t dropped;    /* output bytes read beyond max_output and discarded (before the kill) */
    uint64_t elapsed_ms;
} sk__proc_result;

typedef void (*sk__proc_cb)(sk__proc *p, const sk__proc_result *r, void *ud);

/* Starts argv[0] (looked up in PATH) as the leader of a new process group,
 * with stdin = /dev/null, stdout and stderr into one pipe, no other fds, an
 * empty signal mask and default signal dispositions. Output beyond
 * max_output is not collected: the first bytes past it get the whole group
 * SIGKILL (capped set), so a command cannot burn CPU writing what nobody
 * will read.
 * After timeout_ms (0: never) the whole group gets SIGKILL. When the leader
 * exits, what is left of its group is killed too, so nothing outlives the
 * reply. cb fires once, from the loop, after the leader was reaped and the
 * output closed; the caller then frees p with sk__proc_free (may be inside
 * cb). Returns 0 and sets *out, or a negated errno (-ENOENT: no such
 * program, -EACCES, -ENOMEM, ...); cb never fires then. */
int sk__proc_start(sk_loop *loop, char *const argv[], size_t max_output, unsigned timeout_ms,
                   sk__proc_cb cb, void *ud, sk__proc **out);

/* Kills the process group now (SIGKILL) and stops reading its output; cb
 * fires once the leader is reaped: from the loop, or from inside this call
 * when the leader was reaped already. */
void sk__proc_kill(sk__proc *p);

/* Frees p. If the command is still running, its group is killed and the
 * leader reaped here (a short blocking wait); cb does not fire. NULL is ok. */
void sk__proc_free(sk__proc *p);

#endif
