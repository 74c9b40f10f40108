/* chat.c — the chat gateway (tutorial T6): every message goes to all other
 * members of the one room that spans all listeners, named by its sender;
 * join/leave notices, /nick and /who. Each broadcast is encoded once. */
#include "services/cluster.h" /* --cluster: the room across nodes (hooks marked "cluster") */
#include "services/service.h"
#include "services/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NICK_MAX 48
#define CHAT_LINE_MAX 1024

typedef struct member {
    char nick[NICK_MAX + 1];
} member;

static const char *nick_of(const sk__peer *p) { return p->svc ? ((member *)p->svc)->nick : p->name; }

/* Sends text to every member except `except` (NULL: to all), on every
 * thread; the server encodes it once per kind of member (plain, WebSocket). */
static void broadcast(sk_server *s, const sk__peer *except, const char *text, size_t len)
{
    sk__server_broadcast(s, except ? except->id : 0, text, len, 0);
    sk__cluster_publish(s, text, len); /* cluster */
}

static void notice(sk_server *s, const sk__peer *except, const char *fmt, const char *a,
                   const char *b)
{
    char text[CHAT_LINE_MAX];
    int n = snprintf(text, sizeof text, fmt, a, b);
    broadcast(s, except, text, n < (int)sizeof text ? (size_t)n : sizeof text - 1);
}

/* Replies to one member only, in order with the broadcasts it receives. */
static void tell(sk__peer *p, const char *text) { sk__server_tell(p, text, strlen(text)); }

static void chat_open(sk__peer *p)
{
    member *m = calloc(1, sizeof *m);
    int unix_peer = p->name[0] == '/' || p->name[0] == '@' || strcmp(p->name, "unnamed") == 0;
    if (m && unix_peer) /* unix clients rarely have a name of their own */
        snprintf(m->nick, sizeof m->nick, "unix-%d", p->fd);
    else if (m)
        snprintf(m->nick, sizeof m->nick, "%.48s", p->name);
    p->svc = m;
    char hello[CHAT_LINE_MAX];
    snprintf(hello, sizeof hello, "* welcome %s (%zu here; /nick NAME to rename, /who to list)",
             nick_of(p), sk__server_members(p->srv));
    tell(p, hello);
    notice(p->srv, p, "* %s joined%s", nick_of(p), "");
    sk__cluster_member(p->srv, p->id, nick_of(p)); /* cluster */
}

static void chat_close(sk__peer *p)
{
    if (!sk__server_shutting_down(p->srv))
        notice(p->srv, p, "* %s left%s", nick_of(p), "");
    sk__cluster_gone(p->srv, p->id); /* cluster (also on shutdown) */
    sk__server_lock(p->srv);
    free(p->svc);
    p->svc = NULL;
    sk__server_unlock(p->srv);
}

static int valid_nick(const uint8_t *s, size_t n)
{
    if (n == 0 || n > NICK_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] == 0x7f)
            return 0;
    return 1;
}

static void do_nick(sk__peer *p, const uint8_t *name, size_t n)
{
    member *m = p->svc;
    if (!m || !valid_nick(name, n)) {
        tell(p, "* usage: /nick NAME (1-48 visible characters, no spaces)");
        return;
    }
    char old[NICK_MAX + 1], now[NICK_MAX + 1];
    snprintf(old, sizeof old, "%s", m->nick);
    memcpy(now, name, n);
    now[n] = 0;
    sk__server_lock(p->srv); /* /who on another thread may be reading it */
    memcpy(m->nick, now, n + 1);
    sk__server_unlock(p->srv);
    notice(p->srv, NULL, "* %s is now %s", old, now);
    sk__cluster_member(p->srv, p->id, now); /* cluster */
}

static void do_who(sk__peer *p)
{
    char names[CHAT_LINE_MAX - 32], list[CHAT_LINE_MAX];
    size_t count = sk__server_members(p->srv);
    size_t n = sk__server_names(p->srv, nick_of, names, sizeof names);
    sk__cluster_names(p->srv, names + n, sizeof names - n, &count); /* cluster */
    snprintf(list, sizeof list, "* %zu here:%s", count, names);
    tell(p, list);
}

static void chat_message(sk__peer *p, const uint8_t *msg, size_t len)
{
    if (!p->conn) /* datagrams have no membership */
        return;
    len = sk__trim_eol(msg, len);
    if (len == 0)
        return;
    if (len > 6 && memcmp(msg, "/nick ", 6) == 0) {
        do_nick(p, msg + 6, len - 6);
        return;
    }
    if (len == 4 && memcmp(msg, "/who", 4) == 0) {
        do_who(p);
        return;
    }
    const char *nick = nick_of(p);
    size_t nlen = strlen(nick);
    uint8_t *text = malloc(nlen + 2 + len);
    if (!text)
        return;
    memcpy(text, nick, nlen);
    memcpy(text + nlen, ": ", 2);
    memcpy(text + nlen + 2, msg, len);
    broadcast(p->srv, p, (const char *)text, nlen + 2 + len);
    free(text);
}

const sk__service sk__svc_chat = {
    .name = "chat",
    .summary = "every message goes to all other clients, named by sender",
    .default_max_queue = (size_t)8 << 20,
    .on_open = chat_open,
    .on_message = chat_message,
    .on_close = chat_close,
    .init = sk__cluster_init,             /* cluster */
    .fini = sk__cluster_fini,             /* cluster */
    .on_shutdown = sk__cluster_shutdown,  /* cluster */
};
