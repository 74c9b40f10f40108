/* registry.c — the table of built-in services, looked up by name. */
#include "services/service.h"

#include <string.h>

extern const sk__service sk__svc_echo, sk__svc_upper, sk__svc_greet, sk__svc_discard;
extern const sk__service sk__svc_chat, sk__svc_stdio, sk__svc_exec;

static const sk__service *const services[] = {
    &sk__svc_echo,
    &sk__svc_upper,
    &sk__svc_greet,
    &sk__svc_discard,
    &sk__svc_chat,
    &sk__svc_stdio,
    &sk__svc_exec,
};

const sk__service *sk__service_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof services / sizeof services[0]; i++)
        if (strcmp(services[i]->name, name) == 0)
            return services[i];
    return NULL;
}

int sk_service_exists(const char *name) { return sk__service_find(name) != NULL; }

const char *sk_service_names(void) { return "echo upper greet discard chat stdio exec"; }
