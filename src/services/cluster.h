/* cluster.h — chat across machines: the hooks chat.c calls so that its room
 * spans every node sharing one Redis. Each is a no-op without --cluster and
 * may be called from any of the server's threads. */
#ifndef SOCKIT_CLUSTER_H
#define SOCKIT_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "services/service.h"

/* Service init / fini / on_shutdown: starts the cluster when the server's
 * opts name one (init returns 0 or -1), stops it, and tells the other nodes
 * this one is going (its members leave at once rather than on expiry). */
int sk__cluster_init(sk_server *s);
void sk__cluster_fini(sk_server *s);
void sk__cluster_shutdown(sk_server *s);

/* A broadcast made on this node (text as its members see it): published once
 * for the other nodes, which show it to all their members. Copied. */
void sk__cluster_publish(sk_server *s, const char *text, size_t len);

/* Local member id joined or took nick (copied); member id left. */
void sk__cluster_member(sk_server *s, uint64_t id, const char *nick);
void sk__cluster_gone(sk_server *s, uint64_t id);

/* Calls fn(nick, ud) for each member of the other live nodes, under the
 * roster's lock (fn must not call back into the cluster); returns how many
 * (0 without --cluster). */
size_t sk__cluster_each(sk_server *s, void (*fn)(const char *nick, void *ud), void *ud);

/* Returns 1 when a member of another live node has nick (ASCII letters
 * compared without case), as the roster knows it: the other nodes' joins and
 * renames arrive through Redis within milliseconds, and the presence sweep
 * catches up every 2 s. Else (or without --cluster) 0. chat.h's nick check
 * (ud unused); any thread. */
int sk__cluster_nick_taken(sk_server *s, const char *nick, void *ud);

/* The number of members of the other live nodes (0 without --cluster). */
size_t sk__cluster_count(sk_server *s);

#endif
