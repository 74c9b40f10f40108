/* text.h — small text helpers shared by the services that read typed
 * lines (chat, exec). Header-only: each is a few lines. */
#ifndef SOCKIT_SERVICES_TEXT_H
#define SOCKIT_SERVICES_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The length of msg[0..len) without its trailing "\n" and "\r" bytes (raw
 * clients often send "ls\n" or "ls\r\n"). Reads only msg[0..len). */
static inline size_t sk__trim_eol(const uint8_t *msg, size_t len)
{
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        len--;
    return len;
}

#endif
