/* export.h — SK_EXTERN marks the functions libsockit.so exports. The library
 * is compiled with -fvisibility=hidden, so every other symbol stays internal. */
#ifndef SOCKIT_EXPORT_H
#define SOCKIT_EXPORT_H

/* Placed before the return type of every public function declaration, as
 * libuv's UV_EXTERN. Internal non-static functions (sk__ names) never carry
 * it: the static library and the tests still link them, the shared library
 * does not show them. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define SK_EXTERN __attribute__((visibility("default")))
#else
#define SK_EXTERN /* nothing */
#endif

#endif
