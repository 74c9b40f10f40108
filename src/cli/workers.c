/* workers.c — `serve --workers N`: N processes, each with its own loops and
 * its own SO_REUSEPORT listeners, so one server can hold more connections
 * than one process's open-file limit; the parent relays signals and waits. */
#include "cli/options.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int exit_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 1; /* killed by a signal */
}

static void relay(const pid_t *pids, int n, int signo)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], signo);
}

/* Waits for every worker; a signal for the parent goes to all of them. */
static int supervise(pid_t *pids, int n, const sigset_t *set)
{
    int alive = n, worst = 0;
    while (alive > 0) {
        int signo;
        if (sigwait(set, &signo) != 0)
            continue;
        if (signo != SIGCHLD) {
            relay(pids, n, signo);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++)
                if (pids[i] == pid)
                    pids[i] = 0, alive--;
            int rc = exit_status(status);
            if (rc > worst)
                worst = rc;
            if (rc != 0) /* one worker failed (e.g. cannot bind): stop the rest */
                relay(pids, n, SIGTERM);
        }
    }
    return worst;
}

int cli_run_workers(cli_opts *o, int (*serve)(cli_opts *o, int index))
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    /* Blocked before fork: a worker inherits the mask and reads the signals
     * from its loop's signalfd, so none can arrive before it is ready. */
    sigprocmask(SIG_BLOCK, &set, &old);
    pid_t pids[64] = {0};
    int n = o->workers > 64 ? 64 : o->workers;
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            o->workers = n;
            fflush(NULL);
            _exit(serve(o, i));
        }
        if (pids[i] < 0) {
            cli_error("cannot start worker %d: %s", i, strerror(errno));
            pids[i] = 0;
            relay(pids, n, SIGTERM);
            n = i;
            break;
        }
    }
    int rc = supervise(pids, n, &set);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}
