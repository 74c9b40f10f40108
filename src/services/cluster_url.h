/* cluster_url.h — parses and resolves the chat cluster's Redis URL. */
#ifndef SOCKIT_CLUSTER_URL_H
#define SOCKIT_CLUSTER_URL_H

#include <stddef.h>

#include "sockit/server.h"

/* Parses "redis://HOST[:PORT]" and resolves HOST (blocking: call before the
 * loop runs) into a numeric address in ip. Returns 0, or SK_EURL /
 * SK_ERESOLVE with a one-line reason in err. */
int sk__cluster_resolve(const char *url, char *ip, size_t iplen, int *port, char *err,
                        size_t errlen);

#endif
