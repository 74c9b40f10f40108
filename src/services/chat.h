/* chat.h — the chat service's hooks for code that extends the room beyond
 * this process (the cluster): who else holds a nick. */
#ifndef SOCKIT_SERVICES_CHAT_H
#define SOCKIT_SERVICES_CHAT_H

#include "services/service.h"

/* Returns 1 when nick is held elsewhere (another node), else 0. Called on the
 * renaming member's thread, without the server lock held. */
typedef int (*sk__chat_nick_check)(sk_server *s, const char *nick, void *ud);

/* Adds a check to /nick's "is it taken" test (one per server; NULL removes
 * it). Call after sk_server_new on a chat server, before clients arrive.
 * Returns 0, or -EINVAL when s does not run chat. */
int sk__chat_set_nick_check(sk_server *s, sk__chat_nick_check fn, void *ud);

/* Returns 1 when a member of this process other than self (NULL: any) has
 * nick (ASCII letters compared without case). The caller holds
 * sk__server_lock (so that a rename can check and take a nick at once). */
int sk__chat_nick_here(sk_server *s, const char *nick, const sk__peer *self);

#endif
