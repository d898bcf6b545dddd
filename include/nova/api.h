/*
 * api.h: Nova's HTTP resources. Each file in src/api decodes a request, calls the domain and
 * encodes the reply; the rules live in the domain. nova_api_register wires every route and
 * the bearer-token authenticator into a server.
 */
#ifndef NOVA_API_H
#define NOVA_API_H

#include "nova/auth.h"
#include "nova/http.h"

typedef struct nova_api {
    nova_auth_t *auth;
    const char *database_url; /* each HTTP thread opens its own connection to it */
    const char *store_driver; /* "sqlite" | "postgres", for /v1/ready */
    nova_http_server_t *srv;  /* set by nova_api_register: /metrics renders its counters */
} nova_api_t;

/* Registers every route of the API on srv and sets the authenticator. api must outlive srv. */
nova_status nova_api_register(nova_api_t *api, nova_http_server_t *srv);

#endif
