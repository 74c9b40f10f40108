/* lws_echo.c — a minimal libwebsockets echo server for bench/: one service
 * thread, lws's default event loop, no extensions (no permessage-deflate)
 * unless a third argument "deflate" turns on lws's own permessage-deflate.
 * Echoes every message (binary or text, reassembled from fragments) as one
 * frame. lws only lets a server write from its WRITEABLE callback, so each
 * connection keeps its complete messages in one reused byte queue (no malloc
 * per message; LWS_PRE bytes of headroom kept in front of each payload, as
 * lws_write requires), asks for WRITEABLE, and writes one message per
 * callback, asking again while more are queued. lws sets TCP_NODELAY itself. */
#include <libwebsockets.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One queued message: this header, LWS_PRE bytes of headroom, the payload. */
typedef struct entry {
    uint32_t len;
    uint8_t binary, complete;
} entry;

#define ENTRY_HEAD ((sizeof(entry) + LWS_PRE + 7) & ~(size_t)7)
#define ENTRY_SIZE(n) ((ENTRY_HEAD + (n) + 7) & ~(size_t)7)

typedef struct pss {
    uint8_t *buf;
    size_t head, tail, cap, open; /* open: offset of the message being received + 1 */
} pss;

static int reserve(pss *s, size_t more)
{
    if (s->head == s->tail)
        s->head = s->tail = 0; /* drained: reuse from the start */
    if (s->tail + more <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->tail + more)
        cap *= 2;
    uint8_t *b = realloc(s->buf, cap);
    if (!b)
        return -1;
    s->buf = b;
    s->cap = cap;
    return 0;
}

/* Appends received bytes to the open message (opening one if needed). */
static int on_receive(struct lws *wsi, pss *s, const void *in, size_t len)
{
    if (!s->open) {
        if (reserve(s, ENTRY_HEAD + 8) < 0)
            return -1;
        entry *e = (entry *)(s->buf + s->tail);
        e->len = 0;
        e->complete = 0;
        e->binary = (uint8_t)lws_frame_is_binary(wsi);
        s->open = s->tail + 1;
        s->tail += ENTRY_HEAD;
    }
    size_t at = s->open - 1;
    if (reserve(s, len + 8) < 0)
        return -1;
    entry *e = (entry *)(s->buf + at);
    memcpy(s->buf + at + ENTRY_HEAD + e->len, in, len);
    e->len += (uint32_t)len;
    s->tail = at + ENTRY_SIZE(e->len);
    if (!lws_is_final_fragment(wsi))
        return 0;
    e->complete = 1;
    s->open = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static int on_writeable(struct lws *wsi, pss *s)
{
    entry *e = (entry *)(s->buf + s->head);
    if (s->head == s->tail || !e->complete)
        return 0;
    uint8_t *payload = s->buf + s->head + ENTRY_HEAD;
    int n = lws_write(wsi, payload, e->len, e->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (n < (int)e->len)
        return -1;
    s->head += ENTRY_SIZE(e->len);
    if (s->head != s->tail && ((entry *)(s->buf + s->head))->complete)
        lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    pss *s = user;
    switch (reason) {
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED:
        free(s->buf);
        memset(s, 0, sizeof *s);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"echo", callback, sizeof(pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws's permessage-deflate (its defaults: context takeover, zlib level 1). */
static const struct lws_extension deflate_ext[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 4 && strcmp(argv[3], "deflate") == 0)) {
        fprintf(stderr, "usage: lws_echo HOST PORT [deflate]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.iface = argv[1];
    info.port = atoi(argv[2]);
    info.protocols = protocols;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (argc == 4)
        info.extensions = deflate_ext;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "lws_echo: cannot listen on %s:%s\n", argv[1], argv[2]);
        return 1;
    }
    while (lws_service(ctx, 0) >= 0)
        ;
    lws_context_destroy(ctx);
    return 0;
}
