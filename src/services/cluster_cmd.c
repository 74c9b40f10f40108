/* cluster_cmd.c — the chat cluster's small outputs: a command on the Redis
 * command link, a presence field of one of our members, and "left" notices
 * for members of other nodes shown to ours. */
#include "services/cluster_int.h"

#include <stdio.h>
#include <string.h>

void sk__cluster_cmd(sk__cluster *cl, int argc, const char **argv, const size_t *lens,
                     redisCallbackFn *fn)
{
    if (cl->pub && cl->pub_ok)
        redisAsyncCommandArgv(cl->pub, fn, fn ? cl : NULL, argc, argv, lens);
}

void sk__cluster_presence(sk__cluster *cl, const char *cmd, uint64_t id, const char *nick)
{
    char field[SK__CMSG_NAME_MAX + 24];
    size_t flen = sk__cmsg_field(field, cl->node, cl->node_len, id);
    const char *argv[] = {cmd, cl->members_key, field, nick};
    size_t lens[] = {strlen(cmd), strlen(cl->members_key), flen, nick ? strlen(nick) : 0};
    if (cl->up)
        sk__cluster_cmd(cl, nick ? 4 : 3, argv, lens, NULL);
}

void sk__cluster_announce_left(sk__cluster *cl, const cl_members *m)
{
    char text[SK__CMSG_NAME_MAX + 16];
    for (size_t i = 0; i < m->n; i++) {
        int n = snprintf(text, sizeof text, "* %s left", m->v[i].nick);
        sk__server_broadcast(cl->srv, 0, text, (size_t)n, 0);
    }
}

