/*
 * api.h: Nova's HTTP resources. Each file in src/api decodes a request, calls the domain and
 * encodes the reply; the rules live in the domain. nova_api_register wires every route and
 * the bearer-token authenticator into a server.
 */
#ifndef NOVA_API_H
#define NOVA_API_H

#include "nova/auth.h"
#include "nova/http.h"
#include "nova/kv.h"
#include "nova/sched.h"
#include "nova/security.h"

/* Rate limits on the token endpoint (src/api/ratelimit.c), counted in the control plane.
 * A limit of 0 is off. */
typedef struct nova_api_limits {
    unsigned window_s;             /* window of the two token limits */
    unsigned token_client;         /* grants per client per window */
    unsigned token_ip;             /* /oauth/token requests per source address per window */
    unsigned auth_window_s;        /* window of the failure limits */
    unsigned auth_failures_ip;     /* failed client authentications per address */
    unsigned auth_failures_client; /* failed authentications per client id and address */
} nova_api_limits_t;

typedef struct nova_api {
    nova_auth_t *auth;
    const char *database_url; /* each HTTP thread opens its own connection to it */
    const char *store_driver; /* "sqlite" | "postgres", for /v1/ready */
    nova_http_server_t *srv;  /* set by nova_api_register: /metrics renders its counters */
    nova_kv_t *kv;            /* the control plane (never NULL once serving) */
    nova_sched_t *sched;      /* the background scheduler resources add their jobs to (NULL in
                                 tests that serve no background work) */
    bool dpop_nonce;          /* the token endpoint requires a DPoP server nonce */
    unsigned apikey_skew;     /* seconds an API-key request's date may differ from the clock */
    int64_t key_grace;        /* seconds a rotated signing key keeps verifying (NOVA_KEY_GRACE) */
    const char *face_model;   /* NOVA_FACE_MODEL: the face nets, opened on first use */
    unsigned face_ivf_min;    /* NOVA_FACE_IVF_MIN (0: 100000) */
    unsigned face_ivf_nprobe; /* NOVA_FACE_IVF_NPROBE (0: 128) */
    unsigned ledger_sweep_ms; /* NOVA_LEDGER_SWEEP_MS: the hold-expiry job's period (0: 2000) */
    const char *amqp_url;     /* NOVA_AMQP_URL ("" or NULL: the in-process queue) */
    unsigned idv_workers;     /* NOVA_IDV_WORKERS */
    unsigned idv_sync_timeout_ms; /* NOVA_IDV_SYNC_TIMEOUT_MS (0: 30000) */
    const char *tessdata;         /* NOVA_TESSDATA ("" or NULL: Tesseract's default) */
    const char *region; /* NOVA_REGION ("" or NULL: none), for tenants' resident_regions */
    nova_security_cache_t *security; /* tenants' security settings (nova/security.h); owned
                                        by the caller, required */
    nova_api_limits_t limits;
} nova_api_t;

/* Registers every route of the API on srv and sets the authenticator. api must outlive srv. */
nova_status nova_api_register(nova_api_t *api, nova_http_server_t *srv);

#endif
