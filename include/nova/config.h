/*
 * config.h: novad/novactl configuration. Defaults, then an optional file of KEY=VALUE lines
 * (path in NOVA_CONFIG or --config), then environment variables: later wins. Every key is
 * listed once, with its default and meaning, in the table in src/base/config.c; `novad config`
 * prints that table, and docs/CONFIG.md is generated from it.
 */
#ifndef NOVA_CONFIG_H
#define NOVA_CONFIG_H

#include "nova/base.h"

typedef struct nova_config {
    char *host;                  /* NOVA_HOST */
    unsigned port;               /* NOVA_PORT */
    char *database_url;          /* NOVA_DATABASE_URL */
    char *data_dir;              /* NOVA_DATA_DIR */
    char *master_key;            /* NOVA_MASTER_KEY (base64url, 32 bytes) */
    char *master_key_file;       /* NOVA_MASTER_KEY_FILE */
    char *issuer;                /* NOVA_ISSUER */
    bool jwks_combined;          /* NOVA_JWKS_COMBINED */
    char *metrics_token;         /* NOVA_METRICS_TOKEN */
    char *audience;              /* NOVA_AUDIENCE */
    unsigned token_ttl;          /* NOVA_TOKEN_TTL seconds */
    char *token_alg;             /* NOVA_TOKEN_ALG */
    char *tls_cert;              /* NOVA_TLS_CERT (path) */
    char *tls_key;               /* NOVA_TLS_KEY (path) */
    char *tls_client_ca;         /* NOVA_TLS_CLIENT_CA (path) */
    unsigned max_body;           /* NOVA_MAX_BODY bytes */
    unsigned threads;            /* NOVA_THREADS */
    unsigned handler_threads;    /* NOVA_HANDLER_THREADS */
    char *log_level;             /* NOVA_LOG_LEVEL */
    bool access_log;             /* NOVA_ACCESS_LOG */
    unsigned shutdown_grace_ms;  /* NOVA_SHUTDOWN_GRACE_MS */
    unsigned connection_timeout; /* NOVA_CONNECTION_TIMEOUT seconds */
    unsigned max_connections;    /* NOVA_MAX_CONNECTIONS */
    unsigned max_conns_per_ip;   /* NOVA_MAX_CONNECTIONS_PER_IP, 0: no limit */
    unsigned header_timeout;     /* NOVA_HEADER_TIMEOUT seconds */
    unsigned body_timeout;       /* NOVA_BODY_TIMEOUT seconds */
    unsigned body_min_rate;      /* NOVA_BODY_MIN_RATE bytes/s */
    bool demo;                   /* NOVA_DEMO */
    unsigned token_cache;        /* NOVA_TOKEN_CACHE entries */
    bool dpop_nonce;             /* NOVA_DPOP_NONCE */
    unsigned apikey_skew;        /* NOVA_APIKEY_SKEW seconds */
    unsigned session_ttl;        /* NOVA_SDK_SESSION_TTL seconds */
    char *face_model;            /* NOVA_FACE_MODEL (path) */
    unsigned face_ivf_min;       /* NOVA_FACE_IVF_MIN faces: a gallery this large searches an IVF */
    unsigned face_ivf_nprobe;    /* NOVA_FACE_IVF_NPROBE cells scanned per IVF search */
    unsigned key_rotation_days;  /* NOVA_KEY_ROTATION_DAYS, 0: no scheduled rotation */
    unsigned key_grace;          /* NOVA_KEY_GRACE seconds */
    char *region;                /* NOVA_REGION ("": none), against tenants' resident_regions */
    unsigned background_threads; /* NOVA_BACKGROUND_THREADS: the scheduler's pool */
    unsigned ledger_sweep_ms;    /* NOVA_LEDGER_SWEEP_MS: the hold-expiry job's period */
    bool webhook_allow_private;  /* NOVA_WEBHOOK_ALLOW_PRIVATE: webhooks to non-public addresses */
    bool oidc_allow_private;     /* NOVA_OIDC_ALLOW_PRIVATE: IdP fetches to non-public addresses */

    /* The control plane and rate limits (src/kv, src/api/ratelimit.c). */
    char *redis_url;                         /* NOVA_REDIS_URL ("": in-process) */
    char *amqp_url;                          /* NOVA_AMQP_URL ("": in-process queue) */
    unsigned idv_workers;                    /* NOVA_IDV_WORKERS */
    unsigned idv_sync_timeout_ms;            /* NOVA_IDV_SYNC_TIMEOUT_MS */
    char *tessdata;                          /* NOVA_TESSDATA: the legacy-engine model ("": none) */
    unsigned redis_timeout_ms;               /* NOVA_REDIS_TIMEOUT_MS */
    unsigned ratelimit_window;               /* NOVA_RATELIMIT_WINDOW seconds */
    unsigned ratelimit_token_client;         /* NOVA_RATELIMIT_TOKEN_CLIENT, 0: off */
    unsigned ratelimit_token_ip;             /* NOVA_RATELIMIT_TOKEN_IP, 0: off */
    unsigned ratelimit_auth_window;          /* NOVA_RATELIMIT_AUTH_WINDOW seconds */
    unsigned ratelimit_auth_failures_ip;     /* NOVA_RATELIMIT_AUTH_FAILURES_IP, 0: off */
    unsigned ratelimit_auth_failures_client; /* NOVA_RATELIMIT_AUTH_FAILURES_CLIENT, 0: off */
    /* NOVA_PORT=0 on an IPv4 host: the socket bound to the port picked, kept open so that no
     * other process can take the port before the server listens on it (-1: none). The HTTP
     * server takes it over (nova_http_config_t.bound_fd); nova_config_free closes it else. */
    int port_fd;
} nova_config_t;

/* Fills cfg from defaults, the file (may be NULL: then NOVA_CONFIG is used if set) and the
 * environment. On a bad value writes "KEY: reason" into err and returns NOVA_INVALID.
 * Free with nova_config_free. */
nova_status nova_config_load(nova_config_t *cfg, const char *file, char *err, size_t errlen);
void nova_config_free(nova_config_t *cfg);
/* Appends a Markdown table of every key, its default and meaning. */
nova_status nova_config_describe(nova_buf_t *out);

#endif
