/* urlsock.h — what listener.c and dgram.c share when they open a socket
 * from a URL: binding (over a dead server's UNIX socket file), and the
 * one-line error they report. Not part of the public API. */
#ifndef SOCKIT_URLSOCK_H
#define SOCKIT_URLSOCK_H

#include <stddef.h>

#include "sockit/addr.h"

/* Binds fd, a socket of type (SOCK_STREAM, SOCK_DGRAM), to a, one address
 * of url. When url is a UNIX file path taken by a socket file that refuses
 * a connect of the same type (nobody is bound to it: a leftover of a dead
 * server), removes the file and binds again; any other kind of file, or a
 * live socket, is never touched. Returns 0 or a negated errno (-EADDRINUSE
 * when the address is in use). */
int sk__bind(int fd, const sk_sockaddr *a, const sk_url *url, int type);

/* Writes "cannot <what> <url>: <sk_strerror(r)>" to err (if err and errlen)
 * and returns r, so that a failing path can `return sk__url_error(...)`. */
int sk__url_error(char *err, size_t errlen, const char *what, const sk_url *url, int r);

#endif
