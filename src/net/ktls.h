/* ktls.h — kernel TLS (the Linux tls module) for a connection whose TLS 1.3
 * records sockit makes itself (tls_own.h). The socket is given the tls
 * upper layer, then each direction's key, IV and next sequence number;
 * from then on the kernel seals what is written to the socket and opens
 * what is read from it, so the connection's reads and writes carry plain
 * bytes. A record that is not application data (an alert, a KeyUpdate)
 * makes a plain read fail with EIO: it is then read here with its type
 * (recvmsg, TLS_GET_RECORD_TYPE), and one of ours is written here with its
 * type (sendmsg, TLS_SET_RECORD_TYPE). These are the TLS layer's only
 * socket calls (tls.c decides when). Not part of the public API. */
#ifndef SOCKIT_KTLS_H
#define SOCKIT_KTLS_H

#include <stddef.h>
#include <stdint.h>

#include "net/tls_rec.h"

/* Gives the TCP socket fd the tls upper layer (nothing changes on the
 * wire until keys follow). 0, or -errno: -ENOENT when the kernel has no tls
 * module (remembered: later calls return it without asking the kernel),
 * -ENOTCONN / -EOPNOTSUPP for a socket that cannot take it. */
int sk__ktls_attach(int fd);

/* Hands d's key, IV and next sequence number to fd for one direction (tx:
 * what we write; else what we read). fd must have the tls upper layer and
 * stand at a record's start in that direction. 0, or -errno (-EINVAL /
 * -ENOPROTOOPT: the kernel lacks d's suite; -EBUSY / -EEXIST: the direction
 * has keys already and this kernel cannot change them). d is not changed. */
int sk__ktls_keys(int fd, const sk__tls13_dir *d, int tx);

/* Reads the non-application-data record the kernel stopped at (a plain
 * read failed with EIO) into buf (cap bytes; the kernel drops what does not
 * fit). Its content type goes into *type (23, application data, if the
 * bytes read turn out to be that: the caller delivers them). Returns the
 * bytes read, or -errno (-EAGAIN: nothing waits). */
long sk__ktls_recv_control(int fd, uint8_t *type, uint8_t *buf, size_t cap);

/* Writes one record of content type `type` carrying p[0..n), sealed by the
 * kernel (a non-blocking socket: best effort, -EAGAIN when it is full).
 * 0 or -errno. */
int sk__ktls_send_control(int fd, uint8_t type, const void *p, size_t n);

#endif
