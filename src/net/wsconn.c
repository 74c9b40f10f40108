/* wsconn.c — the WebSocket protocol of a connection (RFC 6455): the server
 * answers the upgrade (or serves its page, 404, 426), the client sends it
 * and checks the 101; then frames are decoded into messages, pings
 * answered, and closes exchanged with a status code. The codecs in proto/
 * do the parsing; the connection is reached only through layers.h. */
#include "net/blob_int.h"
#include "net/conn_int.h"
#include "net/layers.h"
#include "net/wsdeflate.h"
#include "proto/http.h"
#include "proto/utf8.h"
#include "proto/ws.h"
#include "proto/ws_deflate.h"
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
    sk__wsd z;              /* permessage-deflate, when negotiated */
} sk__ws;

#define RSV_DEFLATE 0x4 /* RSV1: the message is compressed (RFC 7692 §6) */

/* c's WebSocket state, or NULL when c is not a WebSocket (the slot is framing's then). */
static sk__ws *ws_of(const sk_conn *c) { return c->pr == SK__PR_WS ? c->proto : NULL; }
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
static int put_frame(sk_conn *c, int hold, unsigned opcode, uint8_t rsv, const void *p, size_t n)
{
    sk__ws *ws = ws_of(c);
    uint8_t hdr[SK__WS_MAX_HEADER], k[4], *key = is_server(ws) ? NULL : k;
    int r = key ? sk__ws_mask_key(key) : 0;
    if (r < 0)
        return r;
    int h = sk__ws_write_header(hdr, true, opcode, n, key);
    if (h < 0)
        return h;
    hdr[0] |= (uint8_t)(rsv << 4);
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

static void close_with(sk_conn *c, unsigned code, int err);

/* Queues msg compressed, when permessage-deflate wants it so: 1 when it did,
 * 0 when msg goes as it is, or an error (c then closes with 1011: a context
 * may be out of step with the peer's). */
static int put_deflated(sk_conn *c, unsigned op, const void *msg, size_t len)
{
    const uint8_t *z;
    size_t zlen;
    int r = sk__wsd_deflate(c->loop, &ws_of(c)->z, msg, len, &z, &zlen);
    if (r < 0)
        close_with(c, SK__WS_CLOSE_INTERNAL, r);
    if (r <= 0)
        return r;
    r = put_frame(c, 0, op, RSV_DEFLATE, z, zlen);
    if (r < 0) /* the context moved on without the peer's: it cannot go on */
        close_with(c, SK__WS_CLOSE_INTERNAL, r);
    return r < 0 ? r : 1;
}

static int ws_send(sk_conn *c, const void *msg, size_t len)
{
    sk__ws *ws = ws_of(c);
    if (ws->state > WS_OPEN)
        return SK_ECLOSED;
    if (len > c->max_frame)
        return SK_EFRAMEBIG;
    unsigned op = data_opcode(ws, msg, len);
    if (ws->z.on && ws->state == WS_OPEN) { /* (messages held for the handshake go as they are) */
        int r = put_deflated(c, op, msg, len);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    return put_frame(c, ws->state == WS_HANDSHAKE, op, 0, msg, len);
}

/* A plain data frame (sk_blob_ws) for a connection that compresses in its
 * own way (a context, a smaller window): its message, to compress here.
 * Returns the payload and sets *op, or NULL to send the blob as it is. */
static const uint8_t *own_deflate_payload(const sk__ws *ws, const sk_blob *b, unsigned *op,
                                          size_t *n)
{
    sk__ws_frame f;
    sk__ws_cfg any = {.mask = SK__WS_MASK_ANY, .max_message = UINT64_MAX >> 1};
    if (!ws->z.on || sk__wsd_takes_shared(&ws->z) || b->len < SK__WSD_MIN_SIZE)
        return NULL;
    int h = sk__ws_parse_header(b->data, b->len, &any, &f);
    if (h <= 0 || !f.fin || f.masked || sk__ws_is_control(f.opcode) || f.opcode == SK__WS_CONT ||
        f.payload_len != b->len - (size_t)h)
        return NULL;
    *op = f.opcode;
    *n = (size_t)f.payload_len;
    return b->data + h;
}

/* A blob (already a frame) goes out as it is, held until the handshake is
 * done; a compressed one (sk_blob_ws_deflate) only where it inflates; a
 * plain one compressed for a connection with a context of its own. */
static int ws_send_blob(sk_conn *c, sk_blob *b)
{
    sk__ws *ws = ws_of(c);
    if (b->len && (b->data[0] & (RSV_DEFLATE << 4)) && !sk__wsd_takes_shared(&ws->z))
        return -EINVAL;
    unsigned op;
    size_t n;
    const uint8_t *p = ws->state == WS_OPEN ? own_deflate_payload(ws, b, &op, &n) : NULL;
    int r = p ? put_deflated(c, op, p, n) : 0;
    if (r != 0)
        return r < 0 ? r : 0;
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
            put_frame(c, 0, SK__WS_CLOSE, 0, payload, (size_t)n);
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

/* Server: the permessage-deflate offer we accept, if any (RFC 7692 §5):
 * its answer in ext, or NULL (the 101 then carries no extension). */
static const char *agree_deflate(sk__ws *ws, const sk__http_request *req, char *ext, size_t cap)
{
    if (!ws->o->deflate)
        return NULL;
    sk__wsd_params offers[SK__WSD_MAX_OFFERS];
    int n = sk__wsd_offers(req, offers, SK__WSD_MAX_OFFERS);
    int mode = ws->o->deflate == SK_WS_DEFLATE_CONTEXT ? SK__WSD_CONTEXT : SK__WSD_SHARED;
    if (sk__wsd_choose(offers, n, mode, &ws->z.p) < 0 || sk__wsd_format(&ws->z.p, ext, cap) < 0)
        return NULL;
    ws->z.on = 1;
    ws->z.ctx_mode = mode == SK__WSD_CONTEXT;
    sk__ws_reader_allow_rsv(&ws->rd, RSV_DEFLATE);
    return ext;
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
    char out[640], ext[160];
    int n = sk__ws_accept_response_ext(out, sizeof out, key, klen, proto,
                                       agree_deflate(ws, req, ext, sizeof ext));
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

/* Client: the server's answer to our permessage-deflate offer. 0, or -1
 * when it is invalid (the connection then fails, RFC 7692 §5). */
static int deflate_answer(sk__ws *ws, const sk__http_response *res)
{
    if (!ws->o->deflate)
        return 0;
    int n = 0;
    for (size_t i = 0; i < res->num_headers; i++) {
        const sk__http_header *h = &res->headers[i];
        if (!sk__http_ieq(h->name, h->name_len, "Sec-WebSocket-Extensions"))
            continue;
        int r = sk__wsd_check_answer(h->value, h->value_len, &ws->z.p);
        if (r < 0 || (n += r) > 1)
            return -1;
    }
    ws->z.on = n == 1;
    ws->z.client = 1;
    if (ws->z.on)
        sk__ws_reader_allow_rsv(&ws->rd, RSV_DEFLATE);
    return 0;
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
                          : sk__ws_check_response_ext(&res, ws->key, ws->o->protocols,
                                                      ws->o->deflate != 0, &proto, &plen);
    int bad_ext = r >= 0 && why == SK__WS_HS_OK && deflate_answer(ws, &res) < 0;
    if (r < 0 || why != SK__WS_HS_OK || bad_ext) {
        ws->state = WS_DONE;
        ws->refused = bad_ext ? strdup("invalid Sec-WebSocket-Extensions answer")
                              : refusal(r < 0 ? NULL : &res, why);
        sk_conn_abort(c, SK_EWSHANDSHAKE);
        return len;
    }
    snprintf(ws->protocol, sizeof ws->protocol, "%.*s", (int)(plen < 63 ? plen : 63),
             proto ? proto : "");
    opened(c);
    return (size_t)r;
}

/* ---- frames in ---- */

/* A compressed message: inflated within --max-frame (else 1009), text
 * checked as UTF-8 once whole (1007), then delivered. */
static void emit_inflated(sk_conn *c, const sk__ws_event *ev)
{
    uint8_t *out;
    size_t n;
    int r = sk__wsd_inflate(c->loop, &ws_of(c)->z, ev->data, ev->len, c->max_frame, &out, &n);
    if (r == 0 && ev->type == SK__WS_EV_TEXT && !sk__utf8_valid(out, n))
        r = SK_EWSUTF8;
    if (r < 0) {
        close_with(c, sk__ws_close_code_for(r), r);
        return;
    }
    sk__conn_emit(c, out, n);
}

static void on_event(sk_conn *c, const sk__ws_event *ev)
{
    sk__ws *ws = ws_of(c);
    switch (ev->type) {
    case SK__WS_EV_TEXT:
    case SK__WS_EV_BINARY:
        ws->last_binary = ev->type == SK__WS_EV_BINARY;
        if (ev->rsv & RSV_DEFLATE)
            emit_inflated(c, ev);
        else
            sk__conn_emit(c, ev->data, ev->len);
        break;
    case SK__WS_EV_PING:
        put_frame(c, 0, SK__WS_PONG, 0, ev->data, ev->len);
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
        put_frame(c, 0, SK__WS_PING, 0, "sockit", 6);
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
        n = sk__ws_client_request_ext(req, sizeof req, o->host ? o->host : "localhost",
                                      o->path ? o->path : "/", ws->key, o->protocols, o->origin,
                                      o->deflate ? SK__WSD_CLIENT_OFFER : NULL);
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
    sk__wsd_free(&ws->z);
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

int sk_conn_ws_deflate(const sk_conn *c)
{
    const sk__ws *ws = ws_of(c);
    if (!ws || !ws->z.on)
        return 0;
    return sk__wsd_takes_shared(&ws->z) ? 1 : 2;
}

sk_blob *sk_blob_ws_deflate(const void *msg, size_t len)
{
    uint8_t *z, hdr[SK__WS_MAX_HEADER];
    size_t zlen;
    int r = sk__wsd_deflate_alone(msg, len, &z, &zlen);
    if (r <= 0)
        return r < 0 ? NULL : sk_blob_ws(msg, len);
    unsigned op = sk__utf8_valid(msg, len) ? SK__WS_TEXT : SK__WS_BINARY;
    int h = sk__ws_write_header(hdr, true, op, zlen, NULL);
    sk_blob *b = h < 0 ? NULL : sk__blob_alloc((size_t)h + zlen);
    if (b) {
        hdr[0] |= RSV_DEFLATE << 4;
        b->len = write_frame(b->data, hdr, h, z, zlen, NULL);
    }
    free(z);
    return b;
}
