/* config.c: one table of configuration keys; defaults, then file, then environment. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nova/config.h"

typedef enum { K_STR, K_UINT, K_BOOL } key_type;

typedef struct key_def {
    const char *name;
    key_type type;
    size_t off;
    const char *def;
    unsigned min, max; /* K_UINT bounds */
    const char *doc;
} key_def;

#define OFF(f) offsetof(nova_config_t, f)
static const key_def keys[] = {
    {"NOVA_HOST", K_STR, OFF(host), "127.0.0.1", 0, 0, "address to listen on"},
    {"NOVA_PORT", K_UINT, OFF(port), "8080", 0, 65535, "TCP port (0 picks a free one at start)"},
    {"NOVA_DATABASE_URL", K_STR, OFF(database_url), "", 0, 0,
     "store: `sqlite:PATH` or `postgres://user:pass@host:port/db`; empty means "
     "`sqlite:$NOVA_DATA_DIR/nova.db`"},
    {"NOVA_DATA_DIR", K_STR, OFF(data_dir), "./data", 0, 0,
     "directory for the embedded store and the generated master key"},
    {"NOVA_MASTER_KEY", K_STR, OFF(master_key), "", 0, 0,
     "32-byte master key, base64url; encrypts signing keys at rest and derives the "
     "client-secret pepper. Empty: read NOVA_MASTER_KEY_FILE"},
    {"NOVA_MASTER_KEY_FILE", K_STR, OFF(master_key_file), "", 0, 0,
     "file holding the master key; empty means `$NOVA_DATA_DIR/master.key`, created (mode "
     "0600) on first start when missing"},
    {"NOVA_ISSUER", K_STR, OFF(issuer), "", 0, 0,
     "base of every issuer: a tenant's tokens carry `iss` `NOVA_ISSUER/tenants/ID`, its RFC 8414 "
     "issuer; empty means http(s)://HOST:PORT"},
    {"NOVA_JWKS_COMBINED", K_BOOL, OFF(jwks_combined), "false", 0, 0,
     "also serve `/.well-known/jwks.json` with every tenant's keys (it reveals how many tenants "
     "there are); each tenant's own is at `/tenants/ID/.well-known/jwks.json`"},
    {"NOVA_METRICS_TOKEN", K_STR, OFF(metrics_token), "", 0, 0,
     "bearer token for `GET /metrics` and the detail of `GET /v1/ready`; empty: neither is "
     "served to anyone"},
    {"NOVA_AUDIENCE", K_STR, OFF(audience), "nova-api", 0, 0,
     "audience this API accepts in `aud`; clients get it unless they ask for another"},
    {"NOVA_TOKEN_TTL", K_UINT, OFF(token_ttl), "300", 60, 900,
     "access token lifetime in seconds (seed 003: 5-10 minutes)"},
    {"NOVA_TOKEN_ALG", K_STR, OFF(token_alg), "EdDSA", 0, 0,
     "signing algorithm for new tenants' keys: EdDSA or ES256"},
    {"NOVA_TLS_CERT", K_STR, OFF(tls_cert), "", 0, 0, "PEM certificate chain; enables HTTPS"},
    {"NOVA_TLS_KEY", K_STR, OFF(tls_key), "", 0, 0, "PEM private key for NOVA_TLS_CERT"},
    {"NOVA_TLS_CLIENT_CA", K_STR, OFF(tls_client_ca), "", 0, 0,
     "PEM CA bundle; when set, client certificates are requested (mTLS)"},
    {"NOVA_MAX_BODY", K_UINT, OFF(max_body), "1048576", 1024, 64u << 20,
     "largest accepted request body in bytes (larger: 413)"},
    {"NOVA_THREADS", K_UINT, OFF(threads), "0", 0, 256,
     "HTTP worker threads (they read requests and write replies); 0 means one per CPU"},
    {"NOVA_HANDLER_THREADS", K_UINT, OFF(handler_threads), "0", 0, 1024,
     "threads that run request handlers, so a slow one (an outbound call, OCR) holds up no "
     "other request; 0 means 8 per CPU"},
    {"NOVA_LOG_LEVEL", K_STR, OFF(log_level), "info", 0, 0, "debug, info, warn, error or off"},
    {"NOVA_ACCESS_LOG", K_BOOL, OFF(access_log), "true", 0, 0,
     "one JSON line per request on stderr"},
    {"NOVA_SHUTDOWN_GRACE_MS", K_UINT, OFF(shutdown_grace_ms), "10000", 0, 600000,
     "on SIGTERM, how long in-flight requests may take to finish"},
    {"NOVA_CONNECTION_TIMEOUT", K_UINT, OFF(connection_timeout), "30", 1, 3600,
     "seconds an idle connection is kept"},
    {"NOVA_MAX_CONNECTIONS", K_UINT, OFF(max_connections), "4096", 16, 262144,
     "open connections at most (kept under the descriptor limit); more are answered 503 and "
     "closed"},
    {"NOVA_MAX_CONNECTIONS_PER_IP", K_UINT, OFF(max_conns_per_ip), "256", 0, 262144,
     "open connections per client address; 0: no limit (behind a proxy, every client is the "
     "proxy)"},
    {"NOVA_HEADER_TIMEOUT", K_UINT, OFF(header_timeout), "10", 1, 600,
     "seconds from connect, or from the end of the previous response, to the end of a "
     "request's headers; a slower client is disconnected"},
    {"NOVA_BODY_TIMEOUT", K_UINT, OFF(body_timeout), "10", 1, 3600,
     "seconds a request body may take, plus its size at NOVA_BODY_MIN_RATE"},
    {"NOVA_BODY_MIN_RATE", K_UINT, OFF(body_min_rate), "16384", 1, 1u << 30,
     "bytes per second a request body must at least arrive at"},
    {"NOVA_DEMO", K_BOOL, OFF(demo), "false", 0, 0,
     "create a demo tenant (once) and a fresh demo client (each start, revoking the last) and "
     "print their credentials"},
    {"NOVA_TOKEN_CACHE", K_UINT, OFF(token_cache), "65536", 0, 1u << 24,
     "verified access tokens remembered (by digest) until they expire; 0 disables"},
    {"NOVA_DPOP_NONCE", K_BOOL, OFF(dpop_nonce), "true", 0, 0,
     "the token endpoint asks DPoP clients for a server nonce (RFC 9449 §8: `use_dpop_nonce`, "
     "`DPoP-Nonce`), so a proof cannot be made ahead of time"},
    {"NOVA_SDK_SESSION_TTL", K_UINT, OFF(session_ttl), "1800", 60, 86400,
     "default lifetime in seconds of an SDK session and its refresh tokens "
     "(`POST /v1/sdk/sessions`)"},
    {"NOVA_FACE_MODEL", K_STR, OFF(face_model), "tools/models/nova-face.bin", 0, 0,
     "the face nets for the vision engine, as scripts/models.sh writes them (converted from "
     "npm @vladmandic/face-api); read at start by `novactl face` and the face routes"},
    {"NOVA_FACE_IVF_MIN", K_UINT, OFF(face_ivf_min), "100000", 1, 4000000000u,
     "faces in a tenant's gallery from which `POST /v1/faces/search` uses the approximate index "
     "(IVF, sqrt(n) cells, rebuilt in the background while searches use the previous one) "
     "instead of the exact scan"},
    {"NOVA_FACE_IVF_NPROBE", K_UINT, OFF(face_ivf_nprobe), "128", 1, 65536,
     "cells of the IVF a search scans (recall 1.0 against exact at 1e6 faces in "
     "bench/results/vision_search.json)"},
    {"NOVA_KEY_ROTATION_DAYS", K_UINT, OFF(key_rotation_days), "90", 0, 3650,
     "days after which novad rotates a tenant's signing key on its own (checked once a minute; "
     "0: only on demand, `POST /v1/keys/rotate` or `novactl key rotate`)"},
    {"NOVA_KEY_GRACE", K_UINT, OFF(key_grace), "86400", 0, 86400,
     "seconds a rotated signing key keeps verifying the tokens it signed and stays in the JWKS "
     "(at most 24 h); 0 retires it at once"},
    {"NOVA_REGION", K_STR, OFF(region), "", 0, 0,
     "the region this novad serves from (2 to 8 of A-Z 0-9 -, as \"KE\"); a tenant whose "
     "`resident_regions` do not include it is refused here (421 `region_not_resident`). Empty: "
     "none, so tenants with resident regions are refused"},
    {"NOVA_APIKEY_SKEW", K_UINT, OFF(apikey_skew), "300", 1, 300,
     "seconds an API-key signed request's date header may be from the server's clock; nonces "
     "are remembered for twice this (at least 5 minutes)"},
    {"NOVA_AMQP_URL", K_STR, OFF(amqp_url), "", 0, 0,
     "RabbitMQ for the verification gateway's jobs (amqp://user:pass@host:port/vhost); empty: "
     "the in-process queue"},
    {"NOVA_IDV_WORKERS", K_UINT, OFF(idv_workers), "2", 0, 64,
     "verification workers in this novad competing for the gateway's jobs; 0: none (an API-only "
     "instance)"},
    {"NOVA_IDV_SYNC_TIMEOUT_MS", K_UINT, OFF(idv_sync_timeout_ms), "30000", 1, 600000,
     "how long a `mode: sync` verification waits for its decision before answering 202"},
    {"NOVA_TESSDATA", K_STR, OFF(tessdata), "tools/models/tessdata", 0, 0,
     "directory of the eng.traineddata with Tesseract's legacy engine (npm "
     "@tesseract.js-data/eng, unpacked by scripts/models.sh) for the OCR step's third read of "
     "an MRZ band, when the LSTM reads (Debian's tesseract-ocr-eng, always first) give no valid "
     "zone or the visual zone does not prove its names; empty or missing: no third read"},
    {"NOVA_BACKGROUND_THREADS", K_UINT, OFF(background_threads), "2", 1, 64,
     "threads of novad's one background scheduler (token pruning, key rotation, face-index "
     "rebuilds, webhook dispatch, hold expiry, accruals), below the HTTP threads in priority"},
    {"NOVA_LEDGER_SWEEP_MS", K_UINT, OFF(ledger_sweep_ms), "2000", 100, 3600000,
     "milliseconds between the ledger's hold-expiry sweeps (a background job): an expired "
     "hold keeps its funds reserved until the next sweep (or a post of it) voids it"},
    {"NOVA_WEBHOOK_ALLOW_PRIVATE", K_BOOL, OFF(webhook_allow_private), "false", 0, 0,
     "let event webhooks and custom checks reach loopback, private, link-local and other "
     "non-public addresses; off, such a receiver is refused after connecting, before anything "
     "is sent (turn on for tests and closed networks)"},
    {"NOVA_OIDC_ALLOW_PRIVATE", K_BOOL, OFF(oidc_allow_private), "false", 0, 0,
     "let the discovery, JWKS, token and userinfo fetches of an https OIDC issuer, and the "
     "fetch of an https SAML metadata_url, reach loopback, private (RFC 1918, ULA), "
     "link-local, CGNAT, metadata and other non-public addresses; off, such a fetch is "
     "refused before it connects (an http IdP on loopback, a development IdP, is not "
     "guarded)"},
    {"NOVA_REDIS_URL", K_STR, OFF(redis_url), "", 0, 0,
     "control plane (rate limits, replay caches, flags): empty keeps it in the process; "
     "`redis://[:password@]host:port/db` shares it between instances. Redis unreachable: the "
     "routes that need it answer 503 (fail closed)"},
    {"NOVA_REDIS_TIMEOUT_MS", K_UINT, OFF(redis_timeout_ms), "500", 10, 60000,
     "connect and per-command timeout for Redis, in milliseconds"},
    {"NOVA_RATELIMIT_WINDOW", K_UINT, OFF(ratelimit_window), "60", 1, 86400,
     "seconds of the fixed window the token-endpoint limits count in"},
    {"NOVA_RATELIMIT_TOKEN_CLIENT", K_UINT, OFF(ratelimit_token_client), "600", 0, 1000000000,
     "`POST /oauth/token` grants per client per window (429 beyond); 0: no limit"},
    {"NOVA_RATELIMIT_TOKEN_IP", K_UINT, OFF(ratelimit_token_ip), "1200", 0, 1000000000,
     "`POST /oauth/token` requests per source address per window; 0: no limit"},
    {"NOVA_RATELIMIT_AUTH_WINDOW", K_UINT, OFF(ratelimit_auth_window), "300", 1, 86400,
     "seconds of the window failed client authentications are counted in"},
    {"NOVA_RATELIMIT_AUTH_FAILURES_IP", K_UINT, OFF(ratelimit_auth_failures_ip), "100", 0,
     1000000000,
     "failed client authentications per source address per auth window; beyond, every attempt "
     "from it is refused (429) until the window ends; 0: no limit"},
    {"NOVA_RATELIMIT_AUTH_FAILURES_CLIENT", K_UINT, OFF(ratelimit_auth_failures_client), "10", 0,
     1000000000,
     "failed authentications per client id and source address per auth window, then refused "
     "likewise; 0: no limit"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static nova_status set_value(nova_config_t *cfg, const key_def *k, const char *v, char *err,
                             size_t errlen)
{
    char *base = (char *)cfg;
    switch (k->type) {
    case K_STR: {
        char **slot = (char **)(base + k->off);
        char *dup = strdup(v);
        if (dup == NULL)
            return NOVA_NOMEM;
        free(*slot);
        *slot = dup;
        return NOVA_OK;
    }
    case K_UINT: {
        char *end = NULL;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (*v == '\0' || *v == '-' || *end != '\0' || errno || n < k->min || n > k->max) {
            snprintf(err, errlen, "%s: expected an integer in [%u, %u], got \"%.40s\"", k->name,
                     k->min, k->max, v);
            return NOVA_INVALID;
        }
        *(unsigned *)(base + k->off) = (unsigned)n;
        return NOVA_OK;
    }
    case K_BOOL: {
        bool *slot = (bool *)(base + k->off);
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
            *slot = true;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") ||
                 !strcmp(v, ""))
            *slot = false;
        else {
            snprintf(err, errlen, "%s: expected true or false, got \"%.40s\"", k->name, v);
            return NOVA_INVALID;
        }
        return NOVA_OK;
    }
    }
    return NOVA_INTERNAL;
}

static const key_def *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

static nova_status load_file(nova_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
        return NOVA_INVALID;
    }
    char line[4096];
    int lineno = 0;
    nova_status st = NOVA_OK;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected KEY=VALUE", path, lineno);
            st = NOVA_INVALID;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 &&
            ((val[0] == '"' && val[vl - 1] == '"') || (val[0] == '\'' && val[vl - 1] == '\''))) {
            val[vl - 1] = '\0';
            val++;
        }
        const key_def *k = find_key(name);
        if (k == NULL) {
            snprintf(err, errlen, "%s:%d: unknown key %.64s", path, lineno, name);
            st = NOVA_INVALID;
            break;
        }
        st = set_value(cfg, k, val, err, errlen);
        if (st != NOVA_OK)
            break;
    }
    fclose(f);
    return st;
}

/* Binds a socket to a free port of host and reads the port. On an IPv4 host the bound socket
 * is kept in *fd (the server listens on it: picking and binding are one step, so no other
 * process can take the port in between); otherwise it is closed (*fd -1) and the server binds
 * the port again. */
static nova_status pick_free_port(const char *host, unsigned *port, int *fd_out)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    bool v4 = inet_pton(AF_INET, host, &sa.sin_addr) == 1;
    if (!v4)
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NOVA_UNAVAILABLE;
    socklen_t len = sizeof(sa);
    nova_status st = NOVA_UNAVAILABLE;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        *port = ntohs(sa.sin_port);
        st = NOVA_OK;
    }
    if (st == NOVA_OK && v4) {
        *fd_out = fd;
        return NOVA_OK;
    }
    close(fd);
    return st;
}

nova_status nova_config_load(nova_config_t *cfg, const char *file, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port_fd = -1;
    nova_status st;
    for (size_t i = 0; i < NKEYS; i++) {
        st = set_value(cfg, &keys[i], keys[i].def, err, errlen);
        if (st != NOVA_OK)
            goto error;
    }
    if (file == NULL || *file == '\0')
        file = getenv("NOVA_CONFIG");
    if (file && *file) {
        st = load_file(cfg, file, err, errlen);
        if (st != NOVA_OK)
            goto error;
    }
    for (size_t i = 0; i < NKEYS; i++) {
        const char *v = getenv(keys[i].name);
        if (v == NULL)
            continue;
        st = set_value(cfg, &keys[i], v, err, errlen);
        if (st != NOVA_OK)
            goto error;
    }
    if (strcmp(cfg->token_alg, "EdDSA") != 0 && strcmp(cfg->token_alg, "ES256") != 0) {
        snprintf(err, errlen, "NOVA_TOKEN_ALG: expected EdDSA or ES256");
        st = NOVA_INVALID;
        goto error;
    }
    if ((*cfg->tls_cert == '\0') != (*cfg->tls_key == '\0')) {
        snprintf(err, errlen, "NOVA_TLS_CERT and NOVA_TLS_KEY must be set together");
        st = NOVA_INVALID;
        goto error;
    }
    /* A bearer token (RFC 6750 b64token), long enough not to be guessed. */
    size_t mtl = strlen(cfg->metrics_token);
    if (mtl != 0 &&
        (mtl < 16 || mtl > 256 ||
         strspn(cfg->metrics_token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789-._~+/=") != mtl)) {
        snprintf(err, errlen,
                 "NOVA_METRICS_TOKEN: expected 16-256 characters of A-Z a-z 0-9 "
                 "-._~+/=");
        st = NOVA_INVALID;
        goto error;
    }
    /* Derived defaults. Port 0 is resolved to a free port now, so that the issuer (which
     * names the port) is right from the start. */
    char tmp[1024];
    if (cfg->port == 0) {
        st = pick_free_port(cfg->host, &cfg->port, &cfg->port_fd);
        if (st != NOVA_OK) {
            snprintf(err, errlen, "NOVA_PORT: no free port on %s", cfg->host);
            goto error;
        }
    }
    if (*cfg->database_url == '\0') {
        snprintf(tmp, sizeof(tmp), "sqlite:%s/nova.db", cfg->data_dir);
        set_value(cfg, find_key("NOVA_DATABASE_URL"), tmp, err, errlen);
    }
    if (*cfg->master_key_file == '\0') {
        snprintf(tmp, sizeof(tmp), "%s/master.key", cfg->data_dir);
        set_value(cfg, find_key("NOVA_MASTER_KEY_FILE"), tmp, err, errlen);
    }
    if (*cfg->issuer == '\0') {
        snprintf(tmp, sizeof(tmp), "%s://%s:%u", *cfg->tls_cert ? "https" : "http", cfg->host,
                 cfg->port);
        set_value(cfg, find_key("NOVA_ISSUER"), tmp, err, errlen);
    }
    return NOVA_OK;
error:
    nova_config_free(cfg);
    return st;
}

void nova_config_free(nova_config_t *cfg)
{
    if (cfg == NULL)
        return;
    if (cfg->port_fd >= 0)
        close(cfg->port_fd);
    cfg->port_fd = -1;
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type == K_STR) {
            char **slot = (char **)((char *)cfg + keys[i].off);
            free(*slot);
            *slot = NULL;
        }
    }
}

nova_status nova_config_describe(nova_buf_t *out)
{
    nova_status st = nova_buf_append_cstr(out, "| key | default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < NKEYS && st == NOVA_OK; i++)
        st = nova_buf_printf(out, "| `%s` | `%s` | %s |\n", keys[i].name, keys[i].def, keys[i].doc);
    return st;
}
