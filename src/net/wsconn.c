/* wsconn.c — the WebSocket protocol of a connection (RFC 6455): the server
 * answers the upgrade (or serves its page, 404, 426), the client sends it
 * and checks the 101; then frames are decoded into messages, pings
 * answered, and closes exchanged with a status code. The codecs in proto/
 * do the parsing; the connection is reached only through layers.h. */
#include "net/blob_int.h"
#include "net/conn_int.h"
#include "net/layers.h"
#include "proto/http.h"
#include "proto/utf8.h"
#include "proto/ws.h"
#include "proto/ws_handshake.h"
#include "sockit/addr.h"
#include "sockit/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HANDSHAKE -> OPEN -> DONE (our close frame is sent, or the connection failed). */
enum { WS_HANDSHAKE, WS_OPEN, WS_DONE };

typedef struct sk__ws {
    const sk_ws_opts *o;
    int state;
    sk__ws_reader rd;
    sk__outq held;          /* sent before the handshake finished */
    char key[SK__WS_KEY_LEN + 1]; /* client: our Sec-WebSocket-Key */
    char protocol[64];      /* the agreed subprotocol */
    sk_timer *ping;
    sk_timer *deadline;     /* the opening handshake's (freed once it is done) */
    int last_binary;        /* the peer's last data message was binary */
    size_t scanned;         /* handshake bytes already seen without a complete head */
    char *refused;          /* client: why the server's answer was refused (malloc'd) */
} sk__ws;

static sk__ws *ws_of(const sk_conn *c) { return c->proto; }
static int is_server(const sk__ws *ws) { return !ws->o->client; }

/* ---- writing frames ---- */

/* The one frame writer (queued frames and broadcast blobs): a final frame
 * at dst, its header hdr[0..h) made by sk__ws_write_header, then the
 * payload, masked when key is not NULL. Returns the frame's size. */
static size_t write_frame(uint8_t *dst, const uint8_t *hdr, int h, const void *p, size_t n,
                          const uint8_t *key)
{
    memcpy(dst, hdr, (size_t)h);
    if (n)
        memcpy(dst + h, p, n);
    if (key)
        sk__ws_mask(dst + h, n, key, 0);
    return (size_t)h + n;
}

/* Queues one frame on the output, or on the held queue while the
 * handshake is not done. */
static int put_frame(sk_conn *c, int hold, unsigned opcode, const void *p, size_t n)
{
    sk__ws *ws = ws_of(c);
    uint8_t hdr[SK__WS_MAX_HEADER], k[4], *key = is_server(ws) ? NULL : k;
    int r = key ? sk__ws_mask_key(key) : 0;
    if (r < 0)
        return r;
    int h = sk__ws_write_header(hdr, true, opcode, n, key);
    if (h < 0)
        return h;
    uint8_t *dst = hold ? sk__outq_reserve(&ws->held, (size_t)h + n) : sk__conn_reserve(c, (size_t)h + n);
    if (!dst)
        return -ENOMEM;
    size_t size = write_frame(dst, hdr, h, p, n, key);
    if (!hold)
        return sk__conn_commit(c, size);
    sk__outq_added(&ws->held, size);
    return 0;
}

static unsigned data_opcode(const sk__ws *ws, const void *msg, size_t len)
{
    if (ws->o->binary || ws->last_binary || !sk__utf8_valid(msg, len))
        return SK__WS_BINARY;
    return SK__WS_TEXT;
}

static int ws_send(sk_conn *c, const void *msg, size_t len)
{
    sk__ws *ws = ws_of(c);
    if (ws->state > WS_OPEN)
        return SK_ECLOSED;
    if (len > c->max_frame)
        return SK_EFRAMEBIG;
    return put_frame(c, ws->state == WS_HANDSHAKE, data_opcode(ws, msg, len), msg, len);
}

/* A blob (already a frame) goes out as it is, held until the handshake is done. */
static int ws_send_blob(sk_conn *c, sk_blob *b)
{
    sk__ws *ws = ws_of(c);
    if (ws->state == WS_OPEN)
        return sk__conn_push(c, b);
    return ws->state == WS_HANDSHAKE ? sk__outq_push(&ws->held, b) : SK_ECLOSED;
}

/* Sends a close frame (once) and closes the connection after it is out. */
static void close_with(sk_conn *c, unsigned code, int err)
{
    sk__ws *ws = ws_of(c);
    if (ws->state == WS_OPEN) {
        uint8_t payload[SK__WS_MAX_CONTROL];
        int n = sk__ws_close_payload(payload, code == SK__WS_CLOSE_NO_STATUS ? 0 : code, NULL, 0);
        if (n >= 0)
            put_frame(c, 0, SK__WS_CLOSE, payload, (size_t)n);
    }
    ws->state = WS_DONE;
    sk_conn_close(c, err);
}

/* ---- the opening handshake ---- */

static void opened(sk_conn *c)
{
    sk__ws *ws = ws_of(c);
    ws->state = WS_OPEN;
    sk_timer_free(ws->deadline);
    ws->deadline = NULL;
    sk_blob *b;
    while ((b = sk__outq_head(&ws->held))) { /* held messages go out first, in order */
        int r = sk__conn_push(c, b);
        sk__outq_consume(&ws->held, sk_blob_len(b));
        if (r < 0) {
            sk_conn_abort(c, r); /* a message lost from the middle: end the connection */
            return;
        }
    }
    if (ws->ping && sk_timer_start(ws->ping, ws->o->ping_ms, ws->o->ping_ms) < 0) {
        sk_conn_abort(c, -ENOMEM);
        return;
    }
    sk__conn_opened(c);
}

static int path_is(const sk__http_request *req, const char *want)
{
    size_t n = req->path_len;
    const char *q = memchr(req->path, '?', n);
    if (q)
        n = (size_t)(q - req->path);
    return strlen(want) == n && memcmp(req->path, want, n) == 0;
}

/* Answers a plain HTTP request (the page, 404 or 426) and closes. */
static void answer_http(sk_conn *c, int status, const char *type, const char *body)
{
    char head[256];
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 404 ? "Not Found"
                                         : "Upgrade Required";
    size_t blen = strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     status, reason, type, blen,
                     status == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : "");
    sk_conn_write(c, head, (size_t)n);
    sk_conn_write(c, body, blen);
    ws_of(c)->state = WS_DONE;
    sk_conn_close(c, 0);
}

/* The page, with its WebSocket path filled in where it says
 * __SOCKIT_WS_PATH__ (the path is visible ASCII; quotes and backslashes are
 * escaped for the JavaScript string it lands in). */
static void answer_page(sk_conn *c, const char *wspath)
{
    static const char token[] = "__SOCKIT_WS_PATH__";
    const char *page = ws_of(c)->o->page, *at = strstr(page, token);
    if (!at) {
        answer_http(c, 200, "text/html; charset=utf-8", page);
        return;
    }
    char path[2 * SK_URL_PATH_MAX + 1];
    size_t n = 0;
    for (const char *p = wspath; *p && n < sizeof path - 2; p++) {
        if (*p == '"' || *p == '\\' || *p == '<')
            path[n++] = '\\';
        path[n++] = *p;
    }
    size_t before = (size_t)(at - page), after = strlen(at + sizeof token - 1);
    char *body = malloc(before + n + after + 1);
    if (!body) {
        sk_conn_abort(c, -ENOMEM);
        return;
    }
    memcpy(body, page, before);
    memcpy(body + before, path, n);
    memcpy(body + before + n, at + sizeof token - 1, after + 1);
    answer_http(c, 200, "text/html; charset=utf-8", body);
    free(body);
}

static void refuse_upgrade(sk_conn *c, sk__ws_hs why)
{
    char out[512];
    int n = sk__ws_reject_response(out, sizeof out, why);
    if (n > 0)
        sk_conn_write(c, out, (size_t)n);
    ws_of(c)->state = WS_DONE;
    sk_conn_close(c, SK_EWSHANDSHAKE);
}

static void accept_upgrade(sk_conn *c, const sk__http_request *req, const char *key, size_t klen)
{
    sk__ws *ws = ws_of(c);
    const char *proto = NULL;
    if (ws->o->accept_protocols) {
        size_t n = 0;
        while (ws->o->accept_protocols[n])
            n++;
        int i = sk__ws_pick_protocol(req, ws->o->accept_protocols, n);
        proto = i >= 0 ? ws->o->accept_protocols[i] : NULL;
    }
    snprintf(ws->protocol, sizeof ws->protocol, "%s", proto ? proto : "");
    char out[512];
    int n = sk__ws_accept_response(out, sizeof out, key, klen, proto);
    if (n < 0) {
        refuse_upgrade(c, SK__WS_HS_BAD_KEY);
        return;
    }
    sk_conn_write(c, out, (size_t)n);
    opened(c);
}

static int origins_ok(const sk__ws *ws, const sk__http_request *req)
{
    size_t n = 0;
    while (ws->o->origins && ws->o->origins[n])
        n++;
    return sk__ws_origin_allowed(req, ws->o->origins, n);
}

/* A head can only end at a "\n": parse again only when one arrived, so a
 * peer sending its head byte by byte costs O(n), not O(n^2). */
static int head_may_be_complete(sk__ws *ws, const uint8_t *buf, size_t len)
{
    size_t from = ws->scanned < len ? ws->scanned : 0;
    ws->scanned = len;
    return len > from && memchr(buf + from, '\n', len - from) != NULL;
}

/* Server: one request head. Returns the bytes it took, 0 for "need more". */
static size_t server_handshake(sk_conn *c, const uint8_t *buf, size_t len)
{
    sk__ws *ws = ws_of(c);
    sk__http_request req;
    if (!head_may_be_complete(ws, buf, len) && len < SK__HTTP_MAX_HEAD)
        return 0;
    int r = sk__http_parse_request((const char *)buf, len, &req);
    if (r == 0)
        return 0;
    if (r < 0) {
        answer_http(c, 400, "text/plain", "bad request\n");
        return len;
    }
    const char *key;
    size_t klen;
    sk__ws_hs why = sk__ws_check_request(&req, &key, &klen);
    const char *wspath = ws->o->path ? ws->o->path : "/";
    if (why == SK__WS_HS_NOT_UPGRADE && ws->o->page && path_is(&req, "/"))
        answer_page(c, wspath);
    else if (!path_is(&req, wspath))
        answer_http(c, 404, "text/plain", "not found\n");
    else if (why == SK__WS_HS_NOT_UPGRADE)
        answer_http(c, 426, "text/plain", "this is a WebSocket endpoint\n");
    else if (why != SK__WS_HS_OK)
        refuse_upgrade(c, why);
    else if (!origins_ok(ws, &req))
        refuse_upgrade(c, SK__WS_HS_BAD_ORIGIN);
    else
        accept_upgrade(c, &req, key, klen);
    return (size_t)r;
}

/* Client: why an answer was refused, for sk_conn_ws_error: the status line
 * ("404 Not Found") when it was not 101, else the check that failed. The
 * reason phrase is the server's: its control bytes were refused by the
 * parser, and it is cut at 100 bytes. NULL on OOM. */
static char *refusal(const sk__http_response *res, sk__ws_hs why)
{
    char text[160];
    if (!res)
        snprintf(text, sizeof text, "malformed HTTP response");
    else if (why == SK__WS_HS_BAD_STATUS)
        snprintf(text, sizeof text, "%d %.*s", res->status,
                 (int)(res->reason_len < 100 ? res->reason_len : 100), res->reason);
    else
        snprintf(text, sizeof text, "%s", sk__ws_hs_text(why));
    size_t n = strlen(text);
    while (n && text[n - 1] == ' ') /* a status without a reason phrase */
        text[--n] = 0;
    return strdup(text);
}

/* Client: the server's answer to our request. */
static size_t client_handshake(sk_conn *c, const uint8_t *buf, size_t len)
{
    sk__ws *ws = ws_of(c);
    sk__http_response res;
    if (!head_may_be_complete(ws, buf, len) && len < SK__HTTP_MAX_HEAD)
        return 0;
    int r = sk__http_parse_response((const char *)buf, len, &res);
    if (r == 0)
        return 0;
    const char *proto = NULL;
    size_t plen = 0;
    sk__ws_hs why = r < 0 ? SK__WS_HS_OK
                          : sk__ws_check_response(&res, ws->key, ws->o->protocols, &proto, &plen);
    if (r < 0 || why != SK__WS_HS_OK) {
        ws->state = WS_DONE;
        ws->refused = refusal(r < 0 ? NULL : &res, why);
        sk_conn_abort(c, SK_EWSHANDSHAKE);
        return len;
    }
    snprintf(ws->protocol, sizeof ws->protocol, "%.*s", (int)(plen < 63 ? plen : 63),
             proto ? proto : "");
    opened(c);
    return (size_t)r;
}

/* ---- frames in ---- */

static void on_event(sk_conn *c, const sk__ws_event *ev)
{
    sk__ws *ws = ws_of(c);
    switch (ev->type) {
    case SK__WS_EV_TEXT:
    case SK__WS_EV_BINARY:
        ws->last_binary = ev->type == SK__WS_EV_BINARY;
        sk__conn_emit(c, ev->data, ev->len);
        break;
    case SK__WS_EV_PING:
        put_frame(c, 0, SK__WS_PONG, ev->data, ev->len);
        break;
    case SK__WS_EV_CLOSE: /* answer with the same code, then close */
        close_with(c, ev->code, 0);
        break;
    default:
        break;
    }
}

static size_t read_frames(sk_conn *c, uint8_t *buf, size_t len)
{
    size_t off = 0;
    sk__ws *ws = ws_of(c);
    while (sk__conn_can_deliver(c) && ws->state == WS_OPEN) {
        sk__ws_event ev;
        ssize_t k = sk__ws_reader_next(&ws->rd, buf + off, len - off, &ev);
        if (k < 0) {
            close_with(c, sk__ws_close_code_for((int)k), (int)k);
            return len;
        }
        off += (size_t)k;
        if (ev.type == SK__WS_EV_NONE)
            break;
        on_event(c, &ev);
    }
    return ws->state == WS_OPEN ? off : len; /* after a close, input is ignored */
}

static size_t ws_input(sk_conn *c, uint8_t *buf, size_t len)
{
    sk__ws *ws = ws_of(c);
    size_t off = 0;
    if (len == 0)
        return 0;
    if (ws->state == WS_HANDSHAKE) {
        off = is_server(ws) ? server_handshake(c, buf, len) : client_handshake(c, buf, len);
        if (ws->state == WS_HANDSHAKE)
            return off;
    }
    if (ws->state != WS_OPEN)
        return len;
    return off + read_frames(c, buf + off, len - off);
}

/* The peer's FIN: a close handshake that finished is a normal end,
 * anything else an abnormal one (1006). Closes c. */
static int ws_finish(sk_conn *c, const uint8_t *rest, size_t len)
{
    sk__ws *ws = ws_of(c);
    int r = ws->state == WS_OPEN ? sk__ws_reader_finish(&ws->rd, len) : 0;
    if (sk__conn_open(c)) /* a FIN without a close frame is an abnormal closure (1006) */
        sk_conn_close(c, ws->state == WS_OPEN ? (r ? r : SK_EWSNOCLOSE) : 0);
    return 1;
}

/* ---- lifecycle ---- */

static void on_ping(sk_timer *t, void *ud)
{
    sk_conn *c = ud;
    if (ws_of(c)->state == WS_OPEN && sk__conn_open(c))
        put_frame(c, 0, SK__WS_PING, "sockit", 6);
}

/* --handshake-timeout: a peer that does not finish the opening handshake
 * in time (a stalled request or answer) is closed; a server says why in
 * its log (sk_conn_ws_error). */
static void on_deadline(sk_timer *t, void *ud)
{
    sk_conn *c = ud;
    sk__ws *ws = ws_of(c);
    if (ws->state != WS_HANDSHAKE || !sk__conn_open(c))
        return;
    ws->state = WS_DONE;
    free(ws->refused);
    ws->refused = strdup("handshake timed out");
    sk_conn_abort(c, SK_ETIMEOUT);
}

static void ws_free(sk_conn *c);

static int ws_attach(sk_conn *c, const sk_conn_opts *co)
{
    const sk_ws_opts *o = co->ws;
    sk__ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return -ENOMEM;
    ws->o = o;
    sk__ws_cfg cfg = {.mask = o->client ? SK__WS_MASK_FORBIDDEN : SK__WS_MASK_REQUIRED,
                      .max_message = c->max_frame};
    sk__ws_reader_init(&ws->rd, &cfg);
    if ((o->ping_ms && !(ws->ping = sk_timer_new(c->loop, on_ping, c))) ||
        !(ws->deadline = sk_timer_new(c->loop, on_deadline, c)) ||
        sk_timer_start(ws->deadline, o->handshake_ms ? o->handshake_ms : 10000, 0) < 0) {
        sk_timer_free(ws->ping);
        sk_timer_free(ws->deadline);
        free(ws);
        return -ENOMEM;
    }
    c->proto = ws;
    if (!o->client)
        return 0;
    char req[1024];
    int n = -1;
    if (sk__ws_make_key(ws->key) == 0)
        n = sk__ws_client_request(req, sizeof req, o->host ? o->host : "localhost",
                                  o->path ? o->path : "/", ws->key, o->protocols, o->origin);
    if (n < 0 || sk_conn_write(c, req, (size_t)n) < 0) {
        ws_free(c);
        return n == -EINVAL ? -EINVAL : -ENOMEM;
    }
    return 0;
}

/* Our end of output is the close handshake: a close frame (1000), then c closes. */
static int ws_shutdown(sk_conn *c)
{
    close_with(c, SK__WS_CLOSE_NORMAL, 0);
    return 1;
}

/* sk_conn_close while open: a close frame with the code that fits err (1000
 * for 0, 1001 for a timeout), then c closes. */
static int ws_close(sk_conn *c, int err)
{
    if (ws_of(c)->state != WS_OPEN)
        return 0;
    unsigned code = err == 0            ? SK__WS_CLOSE_NORMAL
                    : err == SK_ETIMEOUT ? SK__WS_CLOSE_GOING_AWAY
                                         : sk__ws_close_code_for(err);
    close_with(c, code, err);
    return 1;
}

static void ws_free(sk_conn *c)
{
    sk__ws *ws = ws_of(c);
    if (!ws)
        return;
    sk__ws_reader_free(&ws->rd);
    sk__outq_free(&ws->held);
    sk_timer_free(ws->ping);
    sk_timer_free(ws->deadline);
    free(ws->refused);
    free(ws);
    c->proto = NULL;
}

static size_t ws_held(const sk_conn *c) { return ws_of(c) ? ws_of(c)->held.bytes : 0; }

const sk__proto sk__proto_ws = {
    .attach = ws_attach,
    .input = ws_input,
    .finish = ws_finish,
    .send = ws_send,
    .send_blob = ws_send_blob,
    .close = ws_close,
    .shutdown = ws_shutdown,
    .held = ws_held,
    .free = ws_free,
};

int sk_conn_is_ws(const sk_conn *c) { return ws_of(c) != NULL; }

const char *sk_conn_ws_error(const sk_conn *c) { return ws_of(c) ? ws_of(c)->refused : NULL; }

const char *sk_conn_ws_protocol(const sk_conn *c) { return ws_of(c) ? ws_of(c)->protocol : ""; }

sk_blob *sk_blob_ws(const void *msg, size_t len)
{
    uint8_t hdr[SK__WS_MAX_HEADER];
    unsigned op = sk__utf8_valid(msg, len) ? SK__WS_TEXT : SK__WS_BINARY;
    int h = sk__ws_write_header(hdr, true, op, len, NULL);
    if (h < 0)
        return NULL;
    sk_blob *b = sk__blob_alloc((size_t)h + len);
    if (b)
        b->len = write_frame(b->data, hdr, h, msg, len, NULL);
    return b;
}
