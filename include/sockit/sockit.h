/* sockit.h — the umbrella header: includes the whole public API of
 * libsockit (event loop, endpoints, connections, codecs, servers). */
#ifndef SOCKIT_H
#define SOCKIT_H

#include "sockit/addr.h"
#include "sockit/codec.h"
#include "sockit/compress.h"
#include "sockit/conn.h"
#include "sockit/dgram.h"
#include "sockit/error.h"
#include "sockit/export.h"
#include "sockit/listener.h"
#include "sockit/loop.h"
#include "sockit/reader.h"
#include "sockit/server.h"
#include "sockit/sockopt.h"
#include "sockit/splice.h"
#include "sockit/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, e.g. "0.1.0" (static string). */
SK_EXTERN const char *sk_version(void);

#ifdef __cplusplus
}
#endif

#endif
