/* net_helpers.h — helpers the socket tests share: a free loopback port, and
 * running a test's scenarios on each I/O backend (epoll, then io_uring where
 * the build and the kernel have it). */
#ifndef SOCKIT_TEST_NET_HELPERS_H
#define SOCKIT_TEST_NET_HELPERS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockit/loop.h"

/* A port that was free a moment ago: bind port 0, read the number, close. */
static inline uint16_t free_port(int type)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        perror("free_port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Sets *io to each backend in turn and calls run_all; says so when io_uring
 * is not there (the epoll run still counts). */
static inline void run_on_each_backend(const char *name, sk_io *io, void (*run_all)(void))
{
    *io = SK_IO_EPOLL;
    run_all();
    sk_loop *probe = NULL;
    const char *why = NULL;
    if (sk_loop_new_io(&probe, SK_IO_URING, &why) == 0 && !why) {
        *io = SK_IO_URING;
        run_all();
    } else {
        printf("%s: io_uring not available (%s): epoll only\n", name, why ? why : "?");
    }
    sk_loop_free(probe);
}

#endif
