/* app.c: start-up shared by novad and novactl. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "nova/app.h"
#include "nova/log.h"

int nova_app_exit_code(nova_status st)
{
    switch (st) {
    case NOVA_OK:
        return NOVA_EXIT_OK;
    case NOVA_INVALID:
    case NOVA_TOO_LARGE:
        return NOVA_EXIT_INVALID;
    case NOVA_NOT_FOUND:
        return NOVA_EXIT_NOT_FOUND;
    case NOVA_CONFLICT:
        return NOVA_EXIT_CONFLICT;
    case NOVA_UNAVAILABLE:
        return NOVA_EXIT_UNAVAILABLE;
    default:
        return NOVA_EXIT_INTERNAL;
    }
}

nova_status nova_app_open(nova_app_t *app, const char *config_file, bool migrate, bool create_key,
                          char *err, size_t errlen, int *exit_code)
{
    memset(app, 0, sizeof(*app));
    nova_status st = nova_config_load(&app->cfg, config_file, err, errlen);
    if (st) {
        *exit_code = NOVA_EXIT_CONFIG;
        return st;
    }
    nova_log_level lvl;
    if (nova_log_parse_level(app->cfg.log_level, &lvl) != NOVA_OK) {
        snprintf(err, errlen, "NOVA_LOG_LEVEL: expected debug, info, warn, error or off");
        *exit_code = NOVA_EXIT_CONFIG;
        nova_config_free(&app->cfg);
        return NOVA_INVALID;
    }
    nova_log_set_level(lvl);

    nova_auth_config_t ac;
    memset(&ac, 0, sizeof(ac));
    st = nova_auth_master_key_load(app->cfg.master_key, app->cfg.master_key_file, create_key,
                                   ac.master_key, err, errlen);
    if (st) {
        *exit_code = NOVA_EXIT_CONFIG;
        goto error;
    }
    char serr[256] = "";
    st = nova_store_thread(app->cfg.database_url, &app->store);
    if (st) {
        /* Open once more by hand for a reason worth printing. */
        nova_store_t *tmp = NULL;
        if (nova_store_open(app->cfg.database_url, &tmp, serr, sizeof(serr)) == NOVA_OK)
            nova_store_close(tmp);
        snprintf(err, errlen, "%s", *serr ? serr : "store: cannot be opened");
        *exit_code = st == NOVA_INVALID ? NOVA_EXIT_CONFIG : NOVA_EXIT_UNAVAILABLE;
        goto error;
    }
    int from = 0, to = 0;
    /* A store without any schema holds nothing to protect: whoever opens it first sets it up,
     * so `novactl tenant create` works before novad has ever run. A store with an older
     * schema still waits for an explicit migrate. */
    if (!migrate && nova_store_schema_version(app->store, &from) == NOVA_OK && from == 0)
        migrate = true;
    if (migrate) {
        st = nova_store_migrate(app->store, &from, &to);
        if (st == NOVA_CONFLICT) {
            snprintf(err, errlen,
                     "the database schema is newer than this binary (code version %d): "
                     "refusing to start",
                     nova_store_code_version());
            *exit_code = NOVA_EXIT_SCHEMA;
            goto error;
        }
        if (st) {
            snprintf(err, errlen, "migration failed: %s", nova_status_name(st));
            *exit_code = nova_app_exit_code(st);
            goto error;
        }
        if (from != to)
            nova_log_info("store migrated from version %d to %d", from, to);
    } else {
        st = nova_store_schema_version(app->store, &from);
        if (st == NOVA_OK && from != nova_store_code_version()) {
            snprintf(err, errlen, "schema version %d, this binary needs %d: run `migrate`", from,
                     nova_store_code_version());
            st = NOVA_CONFLICT;
            *exit_code = NOVA_EXIT_SCHEMA;
            goto error;
        }
        if (st) {
            snprintf(err, errlen, "store: %s", nova_status_name(st));
            *exit_code = nova_app_exit_code(st);
            goto error;
        }
    }
    st = nova_auth_master_key_bind(app->store, ac.master_key);
    if (st == NOVA_CONFLICT) {
        snprintf(err, errlen,
                 "the master key (NOVA_MASTER_KEY or %s) is not the one this database was "
                 "set up with: refusing to start",
                 app->cfg.master_key_file);
        *exit_code = NOVA_EXIT_CONFIG;
        goto error;
    }
    if (st) {
        snprintf(err, errlen, "store: %s", nova_status_name(st));
        *exit_code = nova_app_exit_code(st);
        goto error;
    }
    ac.issuer = app->cfg.issuer;
    ac.audience = app->cfg.audience;
    ac.token_ttl = app->cfg.token_ttl;
    ac.token_cache = app->cfg.token_cache;
    ac.session_ttl = app->cfg.session_ttl;
    ac.jwks_combined = app->cfg.jwks_combined;
    ac.metrics_token = app->cfg.metrics_token;
    nova_jws_alg_parse(app->cfg.token_alg, &ac.alg);
    st = nova_auth_new(&ac, &app->auth);
    OPENSSL_cleanse(ac.master_key, sizeof(ac.master_key));
    if (st) {
        snprintf(err, errlen, "auth: %s", nova_status_name(st));
        *exit_code = NOVA_EXIT_INTERNAL;
        goto error;
    }
    *exit_code = NOVA_EXIT_OK;
    return NOVA_OK;
error:
    OPENSSL_cleanse(ac.master_key, sizeof(ac.master_key));
    nova_config_free(&app->cfg);
    return st;
}

void nova_app_close(nova_app_t *app)
{
    nova_auth_free(app->auth);
    app->auth = NULL;
    nova_config_free(&app->cfg);
}
