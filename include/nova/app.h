/*
 * app.h: what novad and novactl both do before their real work: load the configuration, the
 * master key and the store, check or apply migrations, and build the auth context.
 */
#ifndef NOVA_APP_H
#define NOVA_APP_H

#include "nova/auth.h"
#include "nova/config.h"

typedef struct nova_app {
    nova_config_t cfg;
    nova_auth_t *auth;
    nova_store_t *store; /* the calling thread's connection (nova_store_thread) */
} nova_app_t;

/* Exit codes shared by novad and novactl, one per kind of failure. */
enum {
    NOVA_EXIT_OK = 0,
    NOVA_EXIT_INTERNAL = 1,
    NOVA_EXIT_USAGE = 2,
    NOVA_EXIT_CONFIG = 3,
    NOVA_EXIT_UNAVAILABLE = 4, /* store cannot be reached */
    NOVA_EXIT_SCHEMA = 5,      /* database schema newer than this binary, or not migrated */
    NOVA_EXIT_INVALID = 6,     /* bad input */
    NOVA_EXIT_NOT_FOUND = 7,
    NOVA_EXIT_CONFLICT = 8,
};

/* The exit code for a status. */
int nova_app_exit_code(nova_status st);

/* Loads everything. migrate: apply pending migrations (else require an up-to-date schema; a
 * store with no schema at all is set up either way).
 * create_key: create the master key file when missing. On failure writes err and returns the
 * status; *exit_code gets the matching exit code. */
nova_status nova_app_open(nova_app_t *app, const char *config_file, bool migrate, bool create_key,
                          char *err, size_t errlen, int *exit_code);
void nova_app_close(nova_app_t *app);

#endif
