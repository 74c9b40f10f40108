/* ws_deflate.h — the negotiation of WebSocket permessage-deflate (RFC 7692
 * §5, §7.1) with no I/O: parse a client's offers, choose and answer one, make
 * a client's offer and check a server's answer. Compression itself is in
 * net/wsdeflate.c. */
#ifndef SOCKIT_PROTO_WS_DEFLATE_H
#define SOCKIT_PROTO_WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

#define SK__WSD_MAX_OFFERS 8 /* offers considered per request (later ones are ignored) */
/* What a client offers: the parameter Chrome and Firefox add too. */
#define SK__WSD_CLIENT_OFFER "permessage-deflate; client_max_window_bits"

/* The four parameters of one offer or answer. */
typedef struct sk__wsd_params {
    uint8_t server_no_ctx; /* server_no_context_takeover */
    uint8_t client_no_ctx; /* client_no_context_takeover */
    uint8_t server_bits;   /* server_max_window_bits: 0 absent, else 8..15 */
    uint8_t client_bits;   /* client_max_window_bits: 0 absent, 1 present without a
                            * value (offers only), else 8..15 */
} sk__wsd_params;

/* How a server uses the extension (sk_ws_opts.deflate). */
enum {
    SK__WSD_OFF = 0,
    SK__WSD_SHARED = 1,  /* shared per-loop compressor: server_no_context_takeover
                          * and client_no_context_takeover always answered */
    SK__WSD_CONTEXT = 2, /* per-connection contexts, windows of SK__WSD_CTX_BITS */
};
#define SK__WSD_CTX_BITS 11 /* window of a per-connection context (2 KiB) */

/* Parses one Sec-WebSocket-Extensions value v[0..len) (a comma-separated list
 * of extensions, each "name *(; param[=value])", values tokens or quoted
 * strings). Every permessage-deflate element whose parameters are valid
 * (known names, none repeated, window bits 8..15, no value on the
 * no_context_takeover ones, server_max_window_bits with a value) is stored in
 * out[*n], in order, while *n < max; invalid ones, other extensions and an
 * element broken by bad syntax are skipped (declined). Returns the number of
 * permessage-deflate elements that were invalid. Never reads past len. */
int sk__wsd_parse(const char *v, size_t len, sk__wsd_params *out, int *n, int max);

/* Server: every offer of every Sec-WebSocket-Extensions header of req, in
 * order, into out (at most max). Returns how many. */
int sk__wsd_offers(const sk__http_request *req, sk__wsd_params *out, int max);

/* Server: the first offer of offers[0..n) it can accept in mode (SHARED or
 * CONTEXT) and the answer to it in *agreed. An offer asking for a window of 8
 * bits for the server (zlib cannot make raw deflate with it) is declined, so a
 * fallback offer after it may be chosen. The answer never has
 * client_max_window_bits unless the offer had it. Returns the chosen index,
 * or -1 when none can be accepted (answer without the extension). */
int sk__wsd_choose(const sk__wsd_params *offers, int n, int mode, sk__wsd_params *agreed);

/* Writes the extension's element for p ("permessage-deflate; ...") into out
 * (cap bytes, NUL-terminated). Returns its length or -ENOSPC (160 bytes are
 * always enough). */
int sk__wsd_format(const sk__wsd_params *p, char *out, size_t cap);

/* Client, having offered SK__WSD_CLIENT_OFFER: checks the server's answer
 * v[0..len) (the Sec-WebSocket-Extensions value). Returns 1 with *agreed set
 * when it accepts permessage-deflate validly (exactly one element, no other
 * extension, client_max_window_bits with a value), 0 when the value is empty
 * (the extension is declined), or -1 when the answer is invalid (fail the
 * connection, RFC 7692 §5). */
int sk__wsd_check_answer(const char *v, size_t len, sk__wsd_params *agreed);

#endif
