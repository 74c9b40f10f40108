/* error.h — error codes shared by every sockit function.
 * Errors are negative: a negated errno (e.g. -ECONNREFUSED) or an SK_E* code. */
#ifndef SOCKIT_ERROR_H
#define SOCKIT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Library-specific error codes; all below -4000 so they never clash with -errno. */
enum {
    SK_EURL = -4001,       /* malformed endpoint URL */
    SK_EFRAMEBIG = -4002,  /* frame header announces more than --max-frame */
    SK_EFRAMENEG = -4003,  /* signed length header is negative */
    SK_ETRUNC = -4004,     /* connection closed in the middle of a frame */
    SK_EFRAMEMODE = -4005, /* unknown framing mode name */
    SK_ERESOLVE = -4006,   /* host name did not resolve */
    SK_ECLOSED = -4007,    /* operation on a closing connection */
    SK_EQUEUE = -4008,     /* output queue exceeded its hard limit */
    SK_ETIMEOUT = -4009,   /* idle or operation timeout */
    SK_ESERVICE = -4010,   /* unknown service name */
};

/* Returns a static, human-readable description of err (an SK_E* code or a
 * negated errno). Never returns NULL; the string must not be freed. */
const char *sk_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
