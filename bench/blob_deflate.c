/* blob_deflate.c — cost of one compressed chat broadcast frame
 * (sk_blob_ws_deflate, what `serve chat --ws-deflate` makes once per message):
 * N blobs of a 1 KiB JSON-like line, user CPU per blob. Build against a
 * libsockit.a: cc -Iinclude bench/blob_deflate.c build/libsockit.a $(LIBS). */
#include "sockit/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    char msg[1024];
    for (size_t i = 0; i < sizeof msg; i++) /* JSON-like: repetitive, some variety */
        msg[i] = "{\"user\":\"alice\",\"text\":\"hello there, how are you?\",\"seq\":12345}"[i % 62];
    size_t wire = 0;
    for (int i = 0; i < n; i++) {
        msg[i % 64] = (char)('a' + i % 26);
        sk_blob *b = sk_blob_ws_deflate(msg, sizeof msg);
        wire += sk_blob_len(b);
        sk_blob_unref(b);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double us = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
    printf("%d blobs of %zu bytes: %.2f us CPU each, %zu bytes on the wire each\n", n, sizeof msg,
           us / n, wire / (size_t)n);
    return 0;
}
