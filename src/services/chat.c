/* chat.c — the chat gateway (tutorial T6): every message goes to all other
 * members of the one room that spans all listeners, named by its sender;
 * join/leave notices, /nick (unique names) and /who; any other line that
 * starts with "/" is answered with the usage. Each broadcast is encoded once. */
#include "services/chat.h"
#include "services/cluster.h" /* --cluster: the room across nodes (hooks marked "cluster") */
#include "services/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NICK_MAX 48
#define CHAT_LINE_MAX 1024
#define USAGE "* commands: /nick NAME, /who (start a line with // to send one that begins with /)"

typedef struct member {
    char nick[NICK_MAX + 1];
} member;

/* Per-server state: the hook that extends the nick check (chat.h). */
typedef struct room {
    sk__chat_nick_check check;
    void *check_ud;
} room;

extern const sk__service sk__svc_chat;

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

static int taken_elsewhere(sk_server *s, const char *nick)
{
    const room *r = sk__server_svc(s);
    return r && r->check && r->check(s, nick, r->check_ud);
}

/* A newcomer's nick: its address (unix clients: unix-FD), or when that is
 * taken here or on another node (unix-3 is on every node), ADDRESS~ID, then
 * ADDRESS~ID.2 ... (ids are per node); the last try is kept whatever. */
static void pick_nick(sk__peer *p, member *m)
{
    int unix_peer = p->name[0] == '/' || p->name[0] == '@' || strcmp(p->name, "unnamed") == 0;
    const char *base = unix_peer ? "unix" : p->name;
    unsigned long long id = (unsigned long long)p->id;
    for (int i = 0, last = 8;; i++) {
        if (i == 0 && unix_peer)
            snprintf(m->nick, sizeof m->nick, "unix-%d", p->fd);
        else if (i == 0)
            snprintf(m->nick, sizeof m->nick, "%.48s", p->name);
        else if (i == 1)
            snprintf(m->nick, sizeof m->nick, "%.24s~%llu", base, id);
        else
            snprintf(m->nick, sizeof m->nick, "%.24s~%llu.%d", base, id, i);
        if (i < last && taken_elsewhere(p->srv, m->nick))
            continue;
        sk__server_lock(p->srv); /* /who and /nick on other threads read p->svc */
        int here = i < last && sk__chat_nick_here(p->srv, m->nick, p);
        if (!here)
            p->svc = m;
        sk__server_unlock(p->srv);
        if (!here)
            return;
    }
}

static void chat_open(sk__peer *p)
{
    member *m = calloc(1, sizeof *m);
    if (m)
        pick_nick(p, m);
    size_t here = sk__server_members(p->srv) + sk__cluster_count(p->srv); /* cluster */
    char hello[CHAT_LINE_MAX];
    snprintf(hello, sizeof hello, "* welcome %s (%zu here; /nick NAME to rename, /who to list)",
             nick_of(p), here);
    tell(p, hello);
    notice(p->srv, p, "* %s joined%s", nick_of(p), "");
    sk__cluster_member(p->srv, p->id, nick_of(p)); /* cluster */
}

static void chat_fini(sk_server *s)
{
    sk__cluster_fini(s); /* cluster */
    free(sk__server_svc(s));
    sk__server_set_svc(s, NULL);
}

static int chat_init(sk_server *s)
{
    room *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    sk__server_set_svc(s, r);
    if (sk__cluster_init(s) < 0) { /* cluster (it said why) */
        chat_fini(s);
        return -1;
    }
    return sk__chat_set_nick_check(s, sk__cluster_nick_taken, NULL); /* cluster: other nodes' */
}

int sk__chat_set_nick_check(sk_server *s, sk__chat_nick_check fn, void *ud)
{
    room *r = sk__server_svc(s);
    if (!r || sk__server_service(s) != &sk__svc_chat)
        return -EINVAL;
    r->check = fn;
    r->check_ud = ud;
    return 0;
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

typedef struct nick_query {
    const char *nick;
    const sk__peer *self;
} nick_query;

static int same_nick(const sk__peer *p, void *arg)
{
    const nick_query *q = arg;
    return p != q->self && p->svc && strcasecmp(((member *)p->svc)->nick, q->nick) == 0;
}

int sk__chat_nick_here(sk_server *s, const char *nick, const sk__peer *self)
{
    nick_query q = {nick, self};
    return sk__server_each(s, same_nick, &q);
}

/* Takes nick for p unless someone has it: the check and the change are one
 * step under the server lock, so two members cannot take the same name. */
static int take_nick(sk__peer *p, const char *now)
{
    if (taken_elsewhere(p->srv, now))
        return 0;
    member *m = p->svc;
    sk__server_lock(p->srv); /* /who on another thread may be reading it */
    int taken = sk__chat_nick_here(p->srv, now, p);
    if (!taken)
        memcpy(m->nick, now, strlen(now) + 1);
    sk__server_unlock(p->srv);
    return !taken;
}

static void do_nick(sk__peer *p, const uint8_t *name, size_t n)
{
    while (n && *name == ' ')
        name++, n--;
    while (n && name[n - 1] == ' ')
        n--;
    member *m = p->svc;
    if (!m || !valid_nick(name, n)) {
        tell(p, "* usage: /nick NAME (1-48 visible characters, no spaces)");
        return;
    }
    char old[NICK_MAX + 1], now[NICK_MAX + 1], text[CHAT_LINE_MAX];
    snprintf(old, sizeof old, "%s", m->nick);
    memcpy(now, name, n);
    now[n] = 0;
    if (!take_nick(p, now)) {
        snprintf(text, sizeof text, "* %s is taken", now);
        tell(p, text);
        return;
    }
    notice(p->srv, NULL, "* %s is now %s", old, now);
    sk__cluster_member(p->srv, p->id, now); /* cluster */
}

/* /who: "* N here: a b c", and "(and K more)" when the names do not fit. */
typedef struct who_list {
    char *buf;
    size_t len, cap, shown;
    int full;
} who_list;

static void add_nick(who_list *w, const char *nick)
{
    size_t n = strlen(nick);
    if (w->full || w->len + 1 + n + 32 > w->cap) { /* room kept for the count */
        w->full = 1;
        return;
    }
    w->buf[w->len++] = ' ';
    memcpy(w->buf + w->len, nick, n);
    w->len += n;
    w->shown++;
}

static int add_name(const sk__peer *p, void *arg)
{
    add_nick(arg, nick_of(p));
    return 0;
}

static void add_remote(const char *nick, void *arg) { add_nick(arg, nick); } /* cluster */

static void do_who(sk__peer *p)
{
    char list[CHAT_LINE_MAX];
    size_t count = sk__server_members(p->srv) + sk__cluster_count(p->srv); /* cluster */
    int head = snprintf(list, sizeof list, "* %zu here:", count);
    who_list w = {list, (size_t)head, sizeof list, 0, 0};
    sk__server_lock(p->srv);
    sk__server_each(p->srv, add_name, &w);
    sk__server_unlock(p->srv);
    sk__cluster_each(p->srv, add_remote, &w); /* cluster: the other nodes' */
    size_t left_out = count > w.shown ? count - w.shown : 0; /* (remote ones cut to fit too) */
    if (left_out)
        w.len += (size_t)snprintf(list + w.len, sizeof list - w.len, " (and %zu more)", left_out);
    list[w.len] = 0;
    tell(p, list);
}

/* A line that starts with "/": a command, or the usage. Returns 0 for a
 * line to send as chat instead ("//text" sends "/text"). */
static int command(sk__peer *p, const uint8_t *msg, size_t len)
{
    while (len > 1 && msg[len - 1] == ' ')
        len--;
    const uint8_t *sp = memchr(msg, ' ', len);
    size_t word = sp ? (size_t)(sp - msg) : len;
    if (word == 5 && memcmp(msg, "/nick", 5) == 0)
        do_nick(p, msg + word, len - word);
    else if (len == 4 && memcmp(msg, "/who", 4) == 0)
        do_who(p);
    else if (len > 1 && msg[1] == '/')
        return 0;
    else
        tell(p, USAGE);
    return 1;
}

static void chat_message(sk__peer *p, const uint8_t *msg, size_t len)
{
    if (!p->conn) /* datagrams have no membership */
        return;
    len = sk__trim_eol(msg, len);
    if (len == 0)
        return;
    if (msg[0] == '/' && command(p, msg, len))
        return;
    if (msg[0] == '/') /* "//text": the text "/text" */
        msg++, len--;
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
    .line_service = 1,
    .on_open = chat_open,
    .on_message = chat_message,
    .on_close = chat_close,
    .on_eof = sk__server_close_after_tells, /* replies to its last lines first */
    .init = chat_init,
    .fini = chat_fini,
    .on_shutdown = sk__cluster_shutdown, /* cluster */
};
