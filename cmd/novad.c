/* novad: Nova's server. `novad [serve]`, `novad worker`, `novad migrate`, `novad config`. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nova/api.h"
#include "nova/app.h"
#include "nova/idv.h"
#include "nova/killswitch.h"
#include "nova/log.h"
#include "nova/oidc.h"
#include "nova/sched.h"
#include "nova/webhook.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: novad [--config FILE] [serve|worker|migrate|config|version]\n"
               "  serve    run the HTTP API (default)\n"
               "  worker   run only verification workers on NOVA_AMQP_URL's queue (no HTTP)\n"
               "  migrate  apply pending store migrations and exit\n"
               "  config   print every configuration key with its default\n"
               "Configuration comes from NOVA_* environment variables and an optional file.\n");
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    nova_buf_t b;
    nova_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (nova_buf_append(&b, chunk, n) != NOVA_OK)
            break;
    fclose(f);
    return nova_buf_steal(&b);
}

/* On first start (no tenant named "demo"), or on every start with a fresh client, prints
 * credentials that work and a curl line that uses them. */
/* Who the audit log names for what novad changes on its own (the demo tenant). */
static const nova_audit_actor_t system_actor = {.id = "system"};

static nova_status demo_setup(nova_app_t *app, unsigned port)
{
    nova_arena_t ar;
    nova_arena_init(&ar, 8192);
    nova_tenant_t *ts = NULL, t = {0};
    size_t n = 0;
    nova_status st = nova_store_tenant_list(app->store, &ar, &ts, &n);
    for (size_t i = 0; st == NOVA_OK && i < n; i++)
        if (strcmp(ts[i].name, "demo") == 0)
            t = ts[i];
    if (st == NOVA_OK && t.id == NULL)
        st = nova_auth_tenant_create(app->auth, app->store, &ar, &system_actor, "demo", &t);
    /* One live demo client at a time: the previous start's one is revoked. */
    nova_client_t *cs = NULL, c;
    size_t cn = 0;
    if (st == NOVA_OK)
        st = nova_store_client_list(app->store, &ar, t.id, &cs, &cn);
    for (size_t i = 0; st == NOVA_OK && i < cn; i++)
        if (strcmp(cs[i].name, "demo client") == 0 && cs[i].revoked_at == 0)
            nova_auth_client_revoke(app->auth, app->store, &system_actor, t.id, cs[i].id);
    const char *secret = NULL;
    if (st == NOVA_OK)
        st = nova_auth_client_create(app->auth, app->store, &ar, &system_actor, t.id, "demo client",
                                     "clients:read clients:write", NULL, &c, &secret);
    if (st == NOVA_OK) {
        char base[300];
        snprintf(base, sizeof(base), "%s://%s:%u", *app->cfg.tls_cert ? "https" : "http",
                 app->cfg.host, port);
        printf("\nNova demo tenant %s, client created for this run:\n"
               "  client_id     %s\n  client_secret %s\n\n"
               "Get a token and call an authenticated endpoint:\n"
               "  TOKEN=$(curl -s -u '%s:%s' -d grant_type=client_credentials %s/oauth/token"
               " | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/') && "
               "curl -s -H \"Authorization: Bearer $TOKEN\" %s/v1/me; echo\n\n",
               t.id, c.id, secret, c.id, secret, base, base);
        fflush(stdout);
    }
    nova_arena_free(&ar);
    return st;
}

/* ---- background jobs of the security core, on the one scheduler ---- */

/* Drops revocation records whose tokens have expired anyway (they can never verify again). */
static nova_status job_token_prune(void *arg)
{
    nova_app_t *app = arg;
    nova_store_t *s = NULL;
    nova_status st = nova_store_thread(app->cfg.database_url, &s);
    return st ? st : nova_store_token_prune(s, nova_time_now());
}

/* The store's background upkeep: SQLite's WAL checkpoint (nova_store_defer_checkpoints). */
static nova_status job_store_checkpoint(void *arg)
{
    nova_app_t *app = arg;
    nova_store_t *s = NULL;
    nova_status st = nova_store_thread(app->cfg.database_url, &s);
    return st ? st : nova_store_checkpoint(s);
}

/* Signing keys: retires grace keys past their end, rotates keys past their age. */
static nova_status job_signing_keys(void *arg)
{
    nova_app_t *app = arg;
    nova_store_t *s = NULL;
    unsigned rotated = 0, retired = 0;
    nova_status st = nova_store_thread(app->cfg.database_url, &s);
    if (st == NOVA_OK)
        st = nova_auth_keys_maintain(app->auth, s, nova_time_now(),
                                     (int64_t)app->cfg.key_rotation_days * 86400,
                                     app->cfg.key_grace, &rotated, &retired);
    if (rotated || retired)
        nova_log_info("signing keys: %u rotated, %u retired", rotated, retired);
    return st;
}

static int serve(nova_app_t *app)
{
    char err[512];
    int rc = NOVA_EXIT_INTERNAL;
    char *cert = NULL, *key = NULL, *ca = NULL;
    nova_http_server_t *srv = NULL;
    nova_kv_t *kv = NULL;
    nova_sched_t *sched = NULL;
    nova_security_cache_t *security = NULL;
    if (*app->cfg.region && (strcmp(app->cfg.region, NOVA_KILLSWITCH_ALL_REGIONS) == 0 ||
                             !nova_killswitch_region_valid(app->cfg.region))) {
        fprintf(stderr, "novad: NOVA_REGION: expected 2 to 8 of A-Z 0-9 - (\"KE\")\n");
        rc = NOVA_EXIT_CONFIG;
        goto end;
    }
    if (nova_security_cache_new(&security) != NOVA_OK)
        goto end;
    if (*app->cfg.tls_cert) {
        cert = read_file(app->cfg.tls_cert, err, sizeof(err));
        key = cert ? read_file(app->cfg.tls_key, err, sizeof(err)) : NULL;
        if (key && *app->cfg.tls_client_ca)
            ca = read_file(app->cfg.tls_client_ca, err, sizeof(err));
        if (cert == NULL || key == NULL || (*app->cfg.tls_client_ca && ca == NULL)) {
            fprintf(stderr, "novad: TLS: %s\n", err);
            rc = NOVA_EXIT_CONFIG;
            goto end;
        }
    }
    nova_http_config_t hc = {
        .host = app->cfg.host,
        .port = app->cfg.port,
        .threads = app->cfg.threads,
        .handler_threads = app->cfg.handler_threads,
        .max_body = app->cfg.max_body,
        .tls_cert_pem = cert,
        .tls_key_pem = key,
        .tls_client_ca_pem = ca,
        .access_log = app->cfg.access_log,
        .connection_timeout = app->cfg.connection_timeout,
        .max_connections = app->cfg.max_connections,
        .max_connections_per_ip = app->cfg.max_conns_per_ip ? app->cfg.max_conns_per_ip : UINT_MAX,
        .header_timeout = app->cfg.header_timeout,
        .body_timeout = app->cfg.body_timeout,
        .body_min_rate = app->cfg.body_min_rate,
        .has_bound_fd = app->cfg.port_fd >= 0,
        .bound_fd = app->cfg.port_fd,
    };
    app->cfg.port_fd = -1; /* the server owns it now */
    nova_kv_options_t ko = {.timeout_ms = app->cfg.redis_timeout_ms};
    if (nova_kv_open(app->cfg.redis_url, &ko, &kv, err, sizeof(err)) != NOVA_OK) {
        fprintf(stderr, "novad: control plane: %s\n", err);
        rc = NOVA_EXIT_UNAVAILABLE;
        goto end;
    }
    nova_store_defer_checkpoints(); /* the store-checkpoint job below does them */
    if (nova_sched_new(app->cfg.background_threads, &sched) != NOVA_OK ||
        nova_sched_add(sched, "token-prune", 60000, 60000, job_token_prune, app, NULL) ||
        nova_sched_add(sched, "store-checkpoint", 1000, 1000, job_store_checkpoint, app, NULL) ||
        nova_sched_add(sched, "signing-keys", 60000, 60000, job_signing_keys, app, NULL))
        goto end;
    nova_api_t api = {
        .auth = app->auth,
        .sched = sched,
        .database_url = app->cfg.database_url,
        .store_driver = nova_store_driver(app->store),
        .dpop_nonce = app->cfg.dpop_nonce,
        .apikey_skew = app->cfg.apikey_skew,
        .key_grace = app->cfg.key_grace,
        .region = app->cfg.region,
        .security = security,
        .face_model = app->cfg.face_model,
        .face_ivf_min = app->cfg.face_ivf_min,
        .face_ivf_nprobe = app->cfg.face_ivf_nprobe,
        .ledger_sweep_ms = app->cfg.ledger_sweep_ms,
        .amqp_url = app->cfg.amqp_url,
        .idv_workers = app->cfg.idv_workers,
        .idv_sync_timeout_ms = app->cfg.idv_sync_timeout_ms,
        .tessdata = app->cfg.tessdata,
        .kv = kv,
        .limits =
            {
                .window_s = app->cfg.ratelimit_window,
                .token_client = app->cfg.ratelimit_token_client,
                .token_ip = app->cfg.ratelimit_token_ip,
                .auth_window_s = app->cfg.ratelimit_auth_window,
                .auth_failures_ip = app->cfg.ratelimit_auth_failures_ip,
                .auth_failures_client = app->cfg.ratelimit_auth_failures_client,
            },
    };
    /* Block the signals before any thread starts so only sigwait below receives them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    nova_status st = nova_http_server_new(&hc, &srv);
    if (st == NOVA_OK)
        st = nova_api_register(&api, srv);
    if (st == NOVA_OK)
        st = nova_http_server_start(srv);
    if (st == NOVA_OK)
        st = nova_sched_start(sched);
    if (st) {
        fprintf(stderr, "novad: cannot listen on %s:%u: %s\n", app->cfg.host, app->cfg.port,
                nova_status_name(st));
        rc = NOVA_EXIT_UNAVAILABLE;
        goto end;
    }
    unsigned port = nova_http_server_port(srv);
    if (app->cfg.demo && demo_setup(app, port) != NOVA_OK)
        nova_log_warn("demo tenant could not be set up");
    char fields[512];
    snprintf(fields, sizeof(fields),
             "\"host\":\"%s\",\"port\":%u,\"store\":\"%s\",\"kv\":\"%s\",\"tls\":%s,\"pid\":%d",
             app->cfg.host, port, nova_store_driver(app->store), nova_kv_driver(kv),
             cert ? "true" : "false", (int)getpid());
    nova_log_json(NOVA_LOG_INFO, "novad listening", fields);

    /* The main thread waits for a signal; background work runs on the scheduler's threads. */
    int sig = -1;
    while (sig < 0)
        sig = sigwaitinfo(&sigs, NULL);
    nova_log_info("signal %d: draining in-flight requests (up to %u ms)", sig,
                  app->cfg.shutdown_grace_ms);
    nova_http_server_stop(srv, app->cfg.shutdown_grace_ms);
    nova_sched_stop(sched); /* the running jobs finish; nothing new starts */
    nova_log_info("novad stopped");
    rc = NOVA_EXIT_OK;
end:
    nova_http_server_free(srv);
    nova_sched_free(sched);
    nova_kv_close(kv);
    nova_security_cache_free(security);
    free(cert);
    free(key);
    free(ca);
    return rc;
}

/* novad worker: the verification gateway's competing consumers alone (seed 000: workers that
 * scale apart from the API), on the broker's queue; no HTTP, no background jobs. SIGTERM lets
 * each worker finish or give back its job (nova_idv_close); SIGKILL loses nothing either, since
 * an unacknowledged job is delivered again. */
static int worker(nova_app_t *app)
{
    char err[512];
    int rc = NOVA_EXIT_INTERNAL;
    nova_kv_t *kv = NULL;
    nova_idv_t *g = NULL;
    if (!*app->cfg.amqp_url) {
        fprintf(stderr, "novad worker: NOVA_AMQP_URL is required (the in-process queue lives "
                        "inside novad serve, whose NOVA_IDV_WORKERS run it)\n");
        return NOVA_EXIT_CONFIG;
    }
    if (app->cfg.idv_workers == 0) {
        fprintf(stderr, "novad worker: NOVA_IDV_WORKERS must be at least 1\n");
        return NOVA_EXIT_CONFIG;
    }
    nova_kv_options_t ko = {.timeout_ms = app->cfg.redis_timeout_ms};
    if (nova_kv_open(app->cfg.redis_url, &ko, &kv, err, sizeof(err)) != NOVA_OK) {
        fprintf(stderr, "novad worker: control plane: %s\n", err);
        return NOVA_EXIT_UNAVAILABLE;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    nova_idv_config_t cfg = {
        .auth = app->auth,
        .kv = kv,
        .database_url = app->cfg.database_url,
        .region = app->cfg.region,
        .amqp_url = app->cfg.amqp_url,
        .workers = app->cfg.idv_workers,
        .sync_timeout_ms = app->cfg.idv_sync_timeout_ms,
        .face_model = app->cfg.face_model,
        .tessdata = *app->cfg.tessdata ? app->cfg.tessdata : NULL,
    };
    nova_status st = nova_idv_open(&cfg, &g, err, sizeof(err));
    if (st != NOVA_OK) {
        fprintf(stderr, "novad worker: %s\n", err);
        rc = st == NOVA_UNAVAILABLE ? NOVA_EXIT_UNAVAILABLE : NOVA_EXIT_CONFIG;
        goto end;
    }
    if ((st = nova_idv_start(g)) != NOVA_OK) {
        fprintf(stderr, "novad worker: the workers cannot start: %s\n", nova_status_name(st));
        goto end;
    }
    char fields[256];
    snprintf(fields, sizeof(fields), "\"queue\":\"%s\",\"driver\":\"%s\",\"workers\":%u,\"pid\":%d",
             NOVA_IDV_QUEUE, nova_idv_queue_driver(g), app->cfg.idv_workers, (int)getpid());
    nova_log_json(NOVA_LOG_INFO, "novad worker started", fields);
    int sig = -1;
    while (sig < 0)
        sig = sigwaitinfo(&sigs, NULL);
    nova_log_info("signal %d: workers finish or give back their jobs", sig);
    rc = NOVA_EXIT_OK;
end:
    nova_idv_close(g);
    nova_kv_close(kv);
    if (rc == NOVA_EXIT_OK)
        nova_log_info("novad worker stopped");
    return rc;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *cmd = "serve";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return NOVA_EXIT_OK;
        } else if (argv[i][0] != '-') {
            cmd = argv[i];
        } else {
            usage(stderr);
            return NOVA_EXIT_USAGE;
        }
    }
    if (strcmp(cmd, "version") == 0) {
        printf("novad 0.1.0 (schema %d)\n", nova_store_code_version());
        return NOVA_EXIT_OK;
    }
    if (strcmp(cmd, "config") == 0) {
        nova_buf_t b;
        nova_buf_init(&b);
        nova_config_describe(&b);
        fputs(b.data, stdout);
        nova_buf_free(&b);
        return NOVA_EXIT_OK;
    }
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0 && strcmp(cmd, "worker") != 0) {
        usage(stderr);
        return NOVA_EXIT_USAGE;
    }
    nova_app_t app;
    char err[512];
    int rc;
    /* serve applies pending migrations at start (refusing a newer schema); migrate does only
     * that; a worker needs the schema up to date and the master key already there. */
    bool is_worker = strcmp(cmd, "worker") == 0;
    if (nova_app_open(&app, config, !is_worker, !is_worker, err, sizeof(err), &rc) != NOVA_OK) {
        fprintf(stderr, "novad: %s\n", err);
        return rc;
    }
    nova_webhook_allow_private(app.cfg.webhook_allow_private);
    nova_oidc_allow_private(app.cfg.oidc_allow_private);
    if (strcmp(cmd, "migrate") == 0) {
        int v = 0;
        nova_store_schema_version(app.store, &v);
        printf("schema version %d\n", v);
        rc = NOVA_EXIT_OK;
    } else if (is_worker) {
        rc = worker(&app);
    } else {
        rc = serve(&app);
    }
    nova_app_close(&app);
    return rc;
}
