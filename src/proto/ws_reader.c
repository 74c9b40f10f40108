/* ws_reader.c — the WebSocket reader: an explicit state machine that turns
 * received bytes into whole messages and control frames (contract in ws.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws.h"
#include "sockit/error.h"

enum reader_state {
    R_HEADER = 0, /* next bytes are a frame header */
    R_PAYLOAD,    /* header parsed; payload[0..done) already processed in place */
    R_CLOSED,     /* a close frame was delivered; everything else is ignored */
    R_FAILED,     /* err is sticky */
};

#define KEEP_CAP ((size_t)64 << 10) /* a reassembly buffer above this is freed after use */

static uint8_t empty_payload[1]; /* data of an empty reassembled message (never written) */

void sk__ws_reader_init(sk__ws_reader *r, const sk__ws_cfg *cfg)
{
    *r = (sk__ws_reader){.cfg = *cfg, .state = R_HEADER};
    uint64_t lim = (uint64_t)(SIZE_MAX / 2) - SK__WS_MAX_HEADER; /* a frame's size fits ssize_t */
    if (r->cfg.max_message > lim)
        r->cfg.max_message = lim;
    sk__utf8_init(&r->utf8);
}

void sk__ws_reader_allow_rsv(sk__ws_reader *r, uint8_t rsv) { r->cfg.rsv_allowed = rsv; }

void sk__ws_reader_free(sk__ws_reader *r)
{
    free(r->msg);
    r->msg = NULL;
    r->msg_len = r->msg_cap = 0;
    r->msg_handed = false;
}

static int fail(sk__ws_reader *r, int err)
{
    r->state = R_FAILED;
    r->err = err;
    return err;
}

/* The reassembled message lent out by the last event is no longer in use. */
static void release_msg(sk__ws_reader *r)
{
    if (!r->msg_handed)
        return;
    r->msg_handed = false;
    r->msg_len = 0;
    if (r->msg_cap > KEEP_CAP)
        sk__ws_reader_free(r);
}

/* Appends a fragment's payload to the reassembly buffer (room was checked
 * against max_message when its header arrived). Returns 0 or -ENOMEM. */
static int append(sk__ws_reader *r, const uint8_t *p, size_t n)
{
    if (n > r->msg_cap - r->msg_len) {
        size_t need = r->msg_len + n, cap = r->msg_cap ? r->msg_cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (cap > r->cfg.max_message)
            cap = need > r->cfg.max_message ? need : (size_t)r->cfg.max_message;
        uint8_t *m = realloc(r->msg, cap);
        if (m == NULL)
            return -ENOMEM;
        r->msg = m;
        r->msg_cap = cap;
    }
    if (n > 0)
        memcpy(r->msg + r->msg_len, p, n);
    r->msg_len += n;
    return 0;
}

/* Is the current frame's payload part of a text message we must validate?
 * (A message whose first frame has RSV bits was transformed by an extension.) */
static bool checks_text(const sk__ws_reader *r)
{
    if (r->f.opcode == SK__WS_TEXT)
        return r->f.rsv == 0;
    if (r->f.opcode == SK__WS_CONT)
        return r->msg_op == SK__WS_TEXT && r->msg_rsv == 0;
    return false;
}

/* Checks a new frame against the message in progress. */
static int check_sequence(const sk__ws_reader *r, const sk__ws_frame *f)
{
    if (f->rsv && (sk__ws_is_control(f->opcode) || f->opcode == SK__WS_CONT))
        return SK_EWSRSV; /* an extension marks a message by its first frame only */
    if (sk__ws_is_control(f->opcode))
        return 0;
    if (f->opcode != SK__WS_CONT)
        return r->msg_op ? SK_EWSUNFINISHED : 0;
    if (!r->msg_op)
        return SK_EWSCONT;
    if (f->payload_len > r->cfg.max_message - r->msg_len)
        return SK_EWSBIG;
    return 0;
}

/* R_HEADER: parses the header at buf. Returns 1 (now R_PAYLOAD), 0 need more, or an error. */
static int begin_frame(sk__ws_reader *r, const uint8_t *buf, size_t len)
{
    sk__ws_frame f;
    int h = sk__ws_parse_header(buf, len, &r->cfg, &f);
    if (h <= 0)
        return h;
    int rc = check_sequence(r, &f);
    if (rc != 0)
        return rc;
    if (f.opcode == SK__WS_TEXT)
        sk__utf8_init(&r->utf8);
    r->f = f;
    r->hdr_len = (size_t)h;
    r->done = 0;
    r->state = R_PAYLOAD;
    return 1;
}

/* R_PAYLOAD: unmasks and validates the payload bytes that arrived since last
 * time, in place. Returns 1 when the whole payload is in, 0 if not, or an error. */
static int advance(sk__ws_reader *r, uint8_t *buf, size_t len)
{
    uint64_t have = len - r->hdr_len; /* len >= hdr_len + done: checked by the caller */
    if (have > r->f.payload_len)
        have = r->f.payload_len;
    uint8_t *p = buf + r->hdr_len + r->done;
    size_t n = (size_t)(have - r->done);
    if (r->f.masked)
        sk__ws_mask(p, n, r->f.mask_key, r->done);
    if (checks_text(r) && !sk__utf8_feed(&r->utf8, p, n))
        return SK_EWSUTF8;
    r->done = have;
    return have == r->f.payload_len;
}

static void set_event(sk__ws_event *ev, sk__ws_ev type, uint8_t *p, size_t n, uint8_t rsv)
{
    *ev = (sk__ws_event){.type = type, .data = p, .len = n, .rsv = rsv};
}

static int close_event(sk__ws_reader *r, uint8_t *p, size_t n, sk__ws_event *ev)
{
    unsigned code;
    const uint8_t *reason;
    size_t rlen;
    int rc = sk__ws_parse_close(p, n, &code, &reason, &rlen);
    if (rc != 0)
        return rc;
    set_event(ev, SK__WS_EV_CLOSE, p + (n - rlen), rlen, 0);
    ev->code = code;
    r->state = R_CLOSED;
    r->msg_op = 0; /* an unfinished message is abandoned */
    return 0;
}

/* A text or binary frame: a whole message (in place) or the first fragment. */
static int start_message(sk__ws_reader *r, uint8_t *p, size_t n, sk__ws_event *ev)
{
    if (!r->f.fin) {
        r->msg_op = r->f.opcode;
        r->msg_rsv = r->f.rsv;
        r->msg_len = 0;
        return append(r, p, n);
    }
    if (checks_text(r) && !sk__utf8_done(&r->utf8))
        return SK_EWSUTF8;
    set_event(ev, r->f.opcode == SK__WS_TEXT ? SK__WS_EV_TEXT : SK__WS_EV_BINARY, p, n, r->f.rsv);
    return 0;
}

/* A continuation frame: append; on FIN hand out the reassembled message. */
static int continue_message(sk__ws_reader *r, uint8_t *p, size_t n, sk__ws_event *ev)
{
    int rc = append(r, p, n);
    if (rc != 0 || !r->f.fin)
        return rc;
    if (checks_text(r) && !sk__utf8_done(&r->utf8))
        return SK_EWSUTF8;
    sk__ws_ev type = r->msg_op == SK__WS_TEXT ? SK__WS_EV_TEXT : SK__WS_EV_BINARY;
    set_event(ev, type, r->msg ? r->msg : empty_payload, r->msg_len, r->msg_rsv);
    ev->owned = true;
    r->msg_handed = true;
    r->msg_op = 0;
    return 0;
}

/* The whole frame is in buf and processed: act on it. Returns 0 or an error. */
static int finish_frame(sk__ws_reader *r, uint8_t *buf, sk__ws_event *ev)
{
    uint8_t *p = buf + r->hdr_len;
    size_t n = (size_t)r->f.payload_len;
    r->state = R_HEADER;
    switch (r->f.opcode) {
    case SK__WS_PING: set_event(ev, SK__WS_EV_PING, p, n, 0); return 0;
    case SK__WS_PONG: set_event(ev, SK__WS_EV_PONG, p, n, 0); return 0;
    case SK__WS_CLOSE: return close_event(r, p, n, ev);
    case SK__WS_CONT: return continue_message(r, p, n, ev);
    default: return start_message(r, p, n, ev);
    }
}

/* Takes at most one frame from buf. Returns its size (> 0) once it is whole and
 * handled (*ev may or may not be set), 0 when more bytes are needed, or an error. */
static ssize_t step(sk__ws_reader *r, uint8_t *buf, size_t len, sk__ws_event *ev)
{
    int rc;
    if (r->state == R_HEADER && (rc = begin_frame(r, buf, len)) <= 0)
        return rc;
    if ((rc = advance(r, buf, len)) <= 0)
        return rc;
    size_t size = r->hdr_len + (size_t)r->f.payload_len;
    rc = finish_frame(r, buf, ev);
    return rc < 0 ? rc : (ssize_t)size;
}

ssize_t sk__ws_reader_next(sk__ws_reader *r, uint8_t *buf, size_t len, sk__ws_event *ev)
{
    *ev = (sk__ws_event){.type = SK__WS_EV_NONE};
    if (r->state == R_FAILED)
        return r->err;
    release_msg(r);
    if (r->state == R_CLOSED)
        return (ssize_t)len;
    if (r->state == R_PAYLOAD && (len < r->hdr_len || len - r->hdr_len < r->done))
        return fail(r, -EINVAL);
    if (len == 0) /* (buf may then be NULL) */
        return 0;
    size_t off = 0;
    while (ev->type == SK__WS_EV_NONE) {
        ssize_t k = step(r, buf + off, len - off, ev);
        if (k < 0) {
            *ev = (sk__ws_event){.type = SK__WS_EV_NONE};
            return fail(r, (int)k);
        }
        if (k == 0)
            break;
        off += (size_t)k;
    }
    return (ssize_t)off;
}

int sk__ws_reader_finish(const sk__ws_reader *r, size_t pending)
{
    switch (r->state) {
    case R_FAILED: return r->err;
    case R_CLOSED: return 0;
    case R_HEADER: return pending == 0 && r->msg_op == 0 ? 0 : SK_ETRUNC;
    default: return SK_ETRUNC;
    }
}
