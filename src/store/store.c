/*
 * store.c: opening connections, the per-thread connection, and the repository functions.
 * The SQL lives here once, in the portable subset both drivers speak, with `?` placeholders.
 * Every tenant-scoped statement filters on tenant_id itself; on PostgreSQL the row-level
 * security policy (nova.tenant_id, set by the driver per statement) is a second fence.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nova/log.h"

#define TENANT_COLS "id, name, created_at"
#define KEY_COLS                                                                                   \
    "kid, tenant_id, alg, public_jwk, private_enc, created_at, active, state, grace_until, "       \
    "retired_at"

#define CLIENT_COLS                                                                                \
    "id, tenant_id, name, secret_digest, scopes, audiences, created_at, revoked_at, auth_method, " \
    "jwks, tls_subject_dn"

/* The hot statements (client by id, token check) are primary-key lookups. */
static const nova_sql_t Q[NOVA_SQL_SLOTS] = {
    [NOVA_Q_PING] = {NOVA_Q_PING, "ping", "SELECT 1", NULL},
    [NOVA_Q_TENANT_INSERT] = {NOVA_Q_TENANT_INSERT, "tenant insert",
                              "INSERT INTO tenants (" TENANT_COLS ") VALUES (?, ?, ?)", NULL},
    [NOVA_Q_TENANT_GET] = {NOVA_Q_TENANT_GET, "tenant get",
                           "SELECT " TENANT_COLS " FROM tenants WHERE id = ?", NULL},
    [NOVA_Q_TENANT_LIST] = {NOVA_Q_TENANT_LIST, "tenant list",
                            "SELECT " TENANT_COLS " FROM tenants ORDER BY created_at, id", NULL},
    [NOVA_Q_KEY_INSERT] = {NOVA_Q_KEY_INSERT, "key insert",
                           "INSERT INTO signing_keys (" KEY_COLS
                           ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           NULL},
    [NOVA_Q_KEY_GET] = {NOVA_Q_KEY_GET, "key get",
                        "SELECT " KEY_COLS " FROM signing_keys WHERE kid = ?", NULL},
    [NOVA_Q_KEY_ACTIVE] = {NOVA_Q_KEY_ACTIVE, "key active",
                           "SELECT " KEY_COLS " FROM signing_keys WHERE tenant_id = ? AND active",
                           NULL},
    [NOVA_Q_KEY_LIST] = {NOVA_Q_KEY_LIST, "key list",
                         "SELECT " KEY_COLS " FROM signing_keys WHERE " NOVA_SQL_KEY_LIVE
                         " ORDER BY created_at, kid",
                         NULL},
    [NOVA_Q_KEY_LIST_TENANT] = {NOVA_Q_KEY_LIST_TENANT, "key list tenant",
                                "SELECT " KEY_COLS
                                " FROM signing_keys WHERE tenant_id = ? AND " NOVA_SQL_KEY_LIVE
                                " ORDER BY created_at, kid",
                                NULL},
    [NOVA_Q_KEY_HISTORY] = {NOVA_Q_KEY_HISTORY, "key history",
                            "SELECT " KEY_COLS " FROM signing_keys WHERE tenant_id = ? "
                            "ORDER BY created_at, kid",
                            NULL},
    /* Rotation: the active key steps down (to grace, or retired at once), any key already in
     * grace is retired, so at most two keys verify at a time. */
    [NOVA_Q_KEY_DEMOTE] = {NOVA_Q_KEY_DEMOTE, "key demote",
                           "UPDATE signing_keys SET active = false, state = ?, grace_until = ?, "
                           "retired_at = ? WHERE kid = ? AND tenant_id = ? AND state = 'active'",
                           NULL},
    [NOVA_Q_KEY_RETIRE_GRACE] = {NOVA_Q_KEY_RETIRE_GRACE, "key retire grace",
                                 "UPDATE signing_keys SET state = 'retired', retired_at = ? "
                                 "WHERE tenant_id = ? AND state = 'grace' AND kid <> ?",
                                 NULL},
    [NOVA_Q_KEY_RETIRE] = {NOVA_Q_KEY_RETIRE, "key retire",
                           "UPDATE signing_keys SET state = 'retired', retired_at = ? "
                           "WHERE kid = ? AND tenant_id = ? AND state = 'grace'",
                           NULL},
    [NOVA_Q_KEY_DUE] = {NOVA_Q_KEY_DUE, "key due",
                        "SELECT " KEY_COLS " FROM signing_keys WHERE state = 'active' AND "
                        "created_at <= ? ORDER BY created_at, kid",
                        NULL},
    [NOVA_Q_KEY_GRACE_ENDED] = {NOVA_Q_KEY_GRACE_ENDED, "key grace ended",
                                "SELECT " KEY_COLS " FROM signing_keys WHERE state = 'grace' AND "
                                "grace_until <= ? ORDER BY created_at, kid",
                                NULL},
    [NOVA_Q_CLIENT_INSERT] = {NOVA_Q_CLIENT_INSERT, "client insert",
                              "INSERT INTO clients (" CLIENT_COLS
                              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              NULL},
    [NOVA_Q_CLIENT_GET] = {NOVA_Q_CLIENT_GET, "client get",
                           "SELECT " CLIENT_COLS " FROM clients WHERE id = ?", NULL},
    [NOVA_Q_CLIENT_GET_SCOPED] = {NOVA_Q_CLIENT_GET_SCOPED, "client get scoped",
                                  "SELECT " CLIENT_COLS
                                  " FROM clients WHERE id = ? AND tenant_id = ?",
                                  NULL},
    [NOVA_Q_CLIENT_LIST] = {NOVA_Q_CLIENT_LIST, "client list",
                            "SELECT " CLIENT_COLS
                            " FROM clients WHERE tenant_id = ? ORDER BY created_at, id",
                            NULL},
    [NOVA_Q_CLIENT_REVOKE] = {NOVA_Q_CLIENT_REVOKE, "client revoke",
                              "UPDATE clients SET revoked_at = ? "
                              "WHERE id = ? AND tenant_id = ? AND revoked_at = 0",
                              NULL},
    [NOVA_Q_TOKEN_REVOKE] = {NOVA_Q_TOKEN_REVOKE, "token revoke",
                             "INSERT INTO revoked_tokens (tenant_id, jti, exp) VALUES (?, ?, ?) "
                             "ON CONFLICT (jti) DO NOTHING",
                             NULL},
    [NOVA_Q_TOKEN_RESOLVE] = {NOVA_Q_TOKEN_RESOLVE, "token resolve",
                              "SELECT " TENANT_COLS " FROM tenants t WHERE t.id = ? "
                              "AND EXISTS (SELECT 1 FROM clients "
                              "WHERE id = ? AND tenant_id = t.id AND revoked_at = 0) "
                              "AND NOT EXISTS (SELECT 1 FROM revoked_tokens "
                              "WHERE jti = ? AND tenant_id = t.id) "
                              "AND EXISTS (SELECT 1 FROM signing_keys "
                              "WHERE kid = ? AND tenant_id = t.id AND " NOVA_SQL_KEY_LIVE ")",
                              NULL},
    [NOVA_Q_TOKEN_PRUNE] = {NOVA_Q_TOKEN_PRUNE, "token prune",
                            "DELETE FROM revoked_tokens WHERE exp < ?", NULL},
    [NOVA_Q_SETTING_INSERT] = {NOVA_Q_SETTING_INSERT, "setting insert",
                               "INSERT INTO settings (name, value) VALUES (?, ?) "
                               "ON CONFLICT (name) DO NOTHING",
                               NULL},
    [NOVA_Q_SETTING_GET] = {NOVA_Q_SETTING_GET, "setting get",
                            "SELECT value FROM settings WHERE name = ?", NULL},
};

/* ---- connections ---- */

static atomic_int live_connections;

int nova_store_live_connections(void)
{
    return atomic_load(&live_connections);
}

void nova_store_live_add(int delta)
{
    atomic_fetch_add(&live_connections, delta);
}

nova_status nova_store_open(const char *url, nova_store_t **out, char *err, size_t errlen)
{
    static const char sqlite_prefix[] = "sqlite:";
    nova_store_t *s = NULL;
    char *copy = NULL;
    nova_status st;
    char dummy[1];

    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (out == NULL || url == NULL) {
        snprintf(err, errlen, "store: no url");
        return NOVA_INVALID;
    }
    *out = NULL;
    copy = strdup(url);
    if (copy == NULL)
        return NOVA_NOMEM;
    if (strncmp(url, sqlite_prefix, sizeof(sqlite_prefix) - 1) == 0) {
        const char *path = url + sizeof(sqlite_prefix) - 1;
        if (*path == '\0') {
            snprintf(err, errlen, "store: sqlite url without a path");
            st = NOVA_INVALID;
            goto end;
        }
        st = nova_store_sqlite_open(path, &s, err, errlen);
    } else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        st = nova_store_pg_open(url, &s, err, errlen);
    } else {
        snprintf(err, errlen, "store: url must start with sqlite: or postgres://");
        st = NOVA_INVALID;
    }
    if (st != NOVA_OK)
        goto end;
    s->url = copy;
    copy = NULL;
    nova_store_live_add(1);
    *out = s;
end:
    free(copy);
    return st;
}

void nova_store_close(nova_store_t *s)
{
    if (s == NULL)
        return;
    char *url = s->url;
    s->drv->close(s);
    free(url);
    nova_store_live_add(-1);
}

const char *nova_store_driver(const nova_store_t *s)
{
    return s->drv->name;
}

static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static int thread_key_err;

static void thread_store_free(void *p)
{
    nova_store_close(p);
}

static void thread_key_init(void)
{
    thread_key_err = pthread_key_create(&thread_key, thread_store_free);
}

nova_status nova_store_thread(const char *url, nova_store_t **out)
{
    char err[256];
    nova_store_t *s;
    nova_status st;

    if (pthread_once(&thread_once, thread_key_init) != 0 || thread_key_err != 0)
        return NOVA_INTERNAL;
    s = pthread_getspecific(thread_key);
    if (s != NULL) {
        if (strcmp(s->url, url) != 0)
            return NOVA_INVALID; /* one url per process: see store.h */
        *out = s;
        return NOVA_OK;
    }
    st = nova_store_open(url, &s, err, sizeof(err));
    if (st != NOVA_OK) {
        nova_log_warn("store: thread connection: %s", err);
        return st;
    }
    if (pthread_setspecific(thread_key, s) != 0) {
        nova_store_close(s);
        return NOVA_NOMEM;
    }
    *out = s;
    return NOVA_OK;
}

/* ---- the SQLite writer connection ---- */

/* SQLite empties a connection's whole page cache (and unmaps its mmap) when it begins a read
 * and finds the database changed by another connection. With one connection per HTTP thread
 * every posting began cold: half its CPU was re-reading the same B-tree pages. Writers are
 * serialised anyway, so they share one connection per database file in this process, kept
 * warm, used by one thread at a time under writer_mu. */
typedef struct writer {
    struct writer *next;
    char *url;
    nova_store_t *s;
} writer_t;

static pthread_mutex_t writer_mu = PTHREAD_MUTEX_INITIALIZER;
static writer_t *writers; /* under writer_mu */

static bool same_file(const nova_store_t *a, const nova_store_t *b)
{
    return a->file_id[0] == b->file_id[0] && a->file_id[1] == b->file_id[1] && a->file_id[1];
}

/* Under writer_mu: the writer of s's file, opened as needed; NULL when it cannot be or when s
 * is not the file its path now names (the caller then writes on s). A writer whose file was
 * replaced since (a new database at the same path, as tests make) is opened again. */
static nova_store_t *writer_of(nova_store_t *s)
{
    writer_t *w = writers;
    while (w && strcmp(w->url, s->url) != 0)
        w = w->next;
    if (w && w->s && same_file(w->s, s))
        return w->s;
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        char *url = w ? strdup(s->url) : NULL;
        if (url == NULL) {
            free(w);
            return NULL;
        }
        w->url = url;
        w->next = writers;
        writers = w;
    }
    nova_store_t *fresh = NULL;
    char err[256];
    if (nova_store_open(s->url, &fresh, err, sizeof(err)) != NOVA_OK) {
        nova_log_warn("store: writer connection: %s", err);
        return NULL;
    }
    if (!same_file(fresh, s)) { /* s is the stale one: keep the writer as it was */
        nova_store_close(fresh);
        return NULL;
    }
    nova_store_close(w->s);
    w->s = fresh;
    return fresh;
}

nova_store_t *nova_store_writer_acquire(nova_store_t *s, bool *locked)
{
    *locked = s->drv->dialect == NOVA_DIALECT_SQLITE;
    if (!*locked)
        return s;
    pthread_mutex_lock(&writer_mu);
    if (s->in_tx || strcmp(s->url, "sqlite::memory:") == 0)
        return s; /* its own transaction, or a database no other connection can open */
    nova_store_t *w = writer_of(s);
    return w ? w : s;
}

void nova_store_writer_release(bool locked)
{
    if (locked)
        pthread_mutex_unlock(&writer_mu);
}

/* ---- statement helpers ---- */

nova_status nova_store_exec_q(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                              const nova_sql_param_t *p, int n, int64_t *changes)
{
    nova_rows_t r;
    nova_status st = s->drv->query(s, q, tenant, p, n, &r);
    if (st != NOVA_OK)
        return st;
    while ((st = s->drv->next(&r)) == NOVA_OK)
        ;
    if (changes)
        *changes = r.changes;
    s->drv->done(&r);
    return st == NOVA_NOT_FOUND ? NOVA_OK : st;
}

nova_status nova_store_query_int(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                                 const nova_sql_param_t *p, int n, int64_t *out)
{
    nova_rows_t r;
    nova_status st = s->drv->query(s, q, tenant, p, n, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        *out = s->drv->col_int64(&r, 0);
    s->drv->done(&r);
    return st;
}

nova_status nova_store_tx_begin(nova_store_t *s, const char *tenant)
{
    nova_status st = s->drv->begin(s, true, tenant);
    s->in_tx = st == NOVA_OK;
    s->audit_pending = 0;
    return st;
}

nova_status nova_store_tx_commit(nova_store_t *s)
{
    nova_status st = s->drv->commit(s);
    if (st != NOVA_OK)
        s->drv->rollback(s);
    else if (s->audit_pending)
        nova_audit_written_add(s->audit_pending);
    s->in_tx = false;
    s->audit_pending = 0;
    return st;
}

void nova_store_tx_rollback(nova_store_t *s)
{
    s->drv->rollback(s);
    s->in_tx = false;
    s->audit_pending = 0;
}

nova_status nova_store_exec_audited(nova_store_t *s, const char *tenant,
                                    const nova_store_stmt_t *stmts, size_t n,
                                    const nova_audit_entry_t *audit)
{
    if (!nova_store_valid_id(tenant) || !nova_store_audit_for(audit, tenant) || (n && !stmts))
        return NOVA_INVALID;
    nova_status st = nova_store_tx_begin(s, tenant);
    if (st != NOVA_OK)
        return st;
    for (size_t i = 0; st == NOVA_OK && i < n; i++) {
        const nova_store_stmt_t *x = &stmts[i];
        if (x->if_row != NOVA_OK) {
            int64_t one = 0;
            st = nova_store_query_int(s, x->q, NULL, x->p, x->n, &one);
            st = st == NOVA_OK ? x->if_row : st == NOVA_NOT_FOUND ? NOVA_OK : st;
            continue;
        }
        int64_t changed = 0;
        st = nova_store_exec_q(s, x->q, NULL, x->p, x->n, &changed);
        if (st == NOVA_OK && changed == 0)
            st = x->if_none;
    }
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_col_str(nova_rows_t *r, int i, nova_arena_t *a, const char **out)
{
    size_t len;
    const char *p = r->s->drv->col_bytes(r, i, &len);
    if (p == NULL) {
        *out = NULL;
        return NOVA_OK;
    }
    char *d = nova_arena_strndup(a, p, len);
    if (d == NULL)
        return NOVA_NOMEM;
    *out = d;
    return NOVA_OK;
}

nova_status nova_store_col_blob(nova_rows_t *r, int i, nova_arena_t *a, const uint8_t **out,
                                size_t *outlen)
{
    size_t len;
    const void *p = r->s->drv->col_bytes(r, i, &len);
    *out = NULL;
    *outlen = 0;
    if (p == NULL || len == 0)
        return NOVA_OK;
    uint8_t *d = nova_arena_alloc(a, len);
    if (d == NULL)
        return NOVA_NOMEM;
    memcpy(d, p, len);
    *out = d;
    *outlen = len;
    return NOVA_OK;
}

bool nova_store_valid_id(const char *s)
{
    return s != NULL && s[0] != '\0' && strcmp(s, NOVA_STORE_ALL_TENANTS) != 0;
}

bool nova_store_audit_for(const nova_audit_entry_t *e, const char *tenant_id)
{
    return e != NULL && e->tenant_id != NULL && strcmp(e->tenant_id, tenant_id) == 0;
}

/* A signing key's sealed private key is never empty; unlike nova_store_col_blob an empty value
 * still gets a (one-byte) buffer, so the key row always carries a pointer. */
static nova_status col_blob(nova_rows_t *r, int i, nova_arena_t *a, const uint8_t **out,
                            size_t *outlen)
{
    size_t len;
    const void *p = r->s->drv->col_bytes(r, i, &len);
    uint8_t *d = nova_arena_alloc(a, len ? len : 1);
    if (d == NULL)
        return NOVA_NOMEM;
    if (len)
        memcpy(d, p, len);
    *out = d;
    *outlen = len;
    return NOVA_OK;
}

/* Grows an arena array by doubling (the old block stays in the arena until it is reset). */
static nova_status grow(nova_arena_t *a, void **arr, size_t elem, size_t n, size_t *cap)
{
    if (n < *cap)
        return NOVA_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = nova_arena_alloc(a, ncap * elem);
    if (p == NULL)
        return NOVA_NOMEM;
    if (n)
        memcpy(p, *arr, n * elem);
    *arr = p;
    *cap = ncap;
    return NOVA_OK;
}

/* A tenant id must be a real id: "*" is the platform wildcard of the postgres policy. */
static bool valid_tenant(const char *id)
{
    return id != NULL && id[0] != '\0' && strcmp(id, NOVA_STORE_ALL_TENANTS) != 0;
}

typedef nova_store_read_fn read_row_fn;

/* Runs q and reads exactly its first row; NOVA_NOT_FOUND when there is none. */
nova_status nova_store_get_one(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                               const nova_sql_param_t *p, int n, nova_arena_t *a,
                               nova_store_read_fn rd, void *out)
{
    nova_rows_t r;
    nova_status st = s->drv->query(s, q, tenant, p, n, &r);
    if (st != NOVA_OK)
        return st;
    st = s->drv->next(&r);
    if (st == NOVA_OK)
        st = rd(&r, a, out);
    s->drv->done(&r);
    return st;
}

/* Runs q and reads every row into an arena array of elem-sized rows. */
nova_status nova_store_get_all(nova_store_t *s, const nova_sql_t *q, const char *tenant,
                               const nova_sql_param_t *p, int n, nova_arena_t *a,
                               nova_store_read_fn rd, size_t elem, void **out, size_t *count)
{
    nova_rows_t r;
    void *arr = NULL;
    size_t len = 0, cap = 0;
    nova_status st = s->drv->query(s, q, tenant, p, n, &r);
    if (st != NOVA_OK)
        return st;
    while ((st = s->drv->next(&r)) == NOVA_OK) {
        st = grow(a, &arr, elem, len, &cap);
        if (st != NOVA_OK)
            break;
        char *row = (char *)arr + len * elem;
        memset(row, 0, elem);
        st = rd(&r, a, row);
        if (st != NOVA_OK)
            break;
        len++;
    }
    s->drv->done(&r);
    if (st != NOVA_NOT_FOUND)
        return st;
    if (arr == NULL) {
        /* An empty list is still a valid pointer. */
        st = grow(a, &arr, elem, 0, &cap);
        if (st != NOVA_OK)
            return st;
    }
    *out = arr;
    *count = len;
    return NOVA_OK;
}

/* ---- rows ---- */

static nova_status read_tenant(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_tenant_t *t = out;
    nova_status st;
    if ((st = nova_store_col_str(r, 0, a, &t->id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &t->name)) != NOVA_OK)
        return st;
    t->created_at = r->s->drv->col_int64(r, 2);
    return NOVA_OK;
}

static nova_status read_key(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_signing_key_t *k = out;
    nova_status st;
    if ((st = nova_store_col_str(r, 0, a, &k->kid)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &k->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &k->alg)) != NOVA_OK ||
        (st = nova_store_col_str(r, 3, a, &k->public_jwk)) != NOVA_OK ||
        (st = col_blob(r, 4, a, &k->private_enc, &k->private_enc_len)) != NOVA_OK)
        return st;
    k->created_at = r->s->drv->col_int64(r, 5);
    k->active = r->s->drv->col_int64(r, 6) != 0;
    if ((st = nova_store_col_str(r, 7, a, &k->state)) != NOVA_OK)
        return st;
    k->grace_until = r->s->drv->col_int64(r, 8);
    k->retired_at = r->s->drv->col_int64(r, 9);
    return NOVA_OK;
}

static nova_status read_client(nova_rows_t *r, nova_arena_t *a, void *out)
{
    nova_client_t *c = out;
    nova_status st;
    if ((st = nova_store_col_str(r, 0, a, &c->id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 1, a, &c->tenant_id)) != NOVA_OK ||
        (st = nova_store_col_str(r, 2, a, &c->name)) != NOVA_OK ||
        (st = nova_store_col_str(r, 3, a, &c->secret_digest)) != NOVA_OK ||
        (st = nova_store_col_str(r, 4, a, &c->scopes)) != NOVA_OK ||
        (st = nova_store_col_str(r, 5, a, &c->audiences)) != NOVA_OK)
        return st;
    c->created_at = r->s->drv->col_int64(r, 6);
    c->revoked_at = r->s->drv->col_int64(r, 7);
    if ((st = nova_store_col_str(r, 8, a, &c->auth_method)) != NOVA_OK ||
        (st = nova_store_col_str(r, 9, a, &c->jwks)) != NOVA_OK)
        return st;
    return nova_store_col_str(r, 10, a, &c->tls_subject_dn);
}

/* ---- ping ---- */

nova_status nova_store_checkpoint(nova_store_t *s)
{
    return s->drv->checkpoint ? s->drv->checkpoint(s) : NOVA_OK;
}

nova_status nova_store_ping(nova_store_t *s)
{
    int64_t one = 0;
    return nova_store_query_int(s, &Q[NOVA_Q_PING], NULL, NULL, 0, &one);
}

/* ---- tenants and keys ---- */

/* The entry a mutation passes joins the chain of the tenant whose data changes. */
static bool audit_for(const nova_audit_entry_t *audit, const char *tenant_id)
{
    return audit != NULL && audit->tenant_id != NULL && strcmp(audit->tenant_id, tenant_id) == 0;
}

static bool key_valid(const nova_signing_key_t *key, const char *tenant_id)
{
    return key->kid != NULL && key->tenant_id != NULL && strcmp(key->tenant_id, tenant_id) == 0 &&
           key->alg != NULL && key->public_jwk != NULL;
}

/* Inserts key inside the open transaction; its state follows `active`. */
static nova_status key_insert(nova_store_t *s, const nova_signing_key_t *key)
{
    nova_sql_param_t kp[] = {NOVA_SQL_P_TEXT(key->kid),
                             NOVA_SQL_P_TEXT(key->tenant_id),
                             NOVA_SQL_P_TEXT(key->alg),
                             NOVA_SQL_P_TEXT(key->public_jwk),
                             NOVA_SQL_P_BLOB(key->private_enc, key->private_enc_len),
                             NOVA_SQL_P_INT(key->created_at),
                             NOVA_SQL_P_INT(key->active ? 1 : 0),
                             NOVA_SQL_P_TEXT(key->active ? "active" : "retired"),
                             NOVA_SQL_P_INT(0),
                             NOVA_SQL_P_INT(key->active ? 0 : key->created_at)};
    return nova_store_exec_q(s, &Q[NOVA_Q_KEY_INSERT], NULL, kp, 10, NULL);
}

nova_status nova_store_tenant_create(nova_store_t *s, const nova_tenant_t *t,
                                     const nova_signing_key_t *key, const nova_audit_entry_t *audit)
{
    nova_status st;

    if (t == NULL || !valid_tenant(t->id) || t->name == NULL || !audit_for(audit, t->id))
        return NOVA_INVALID;
    if (key != NULL && !key_valid(key, t->id))
        return NOVA_INVALID;
    st = nova_store_tx_begin(s, t->id);
    if (st != NOVA_OK)
        return st;
    nova_sql_param_t tp[] = {NOVA_SQL_P_TEXT(t->id), NOVA_SQL_P_TEXT(t->name),
                             NOVA_SQL_P_INT(t->created_at)};
    st = nova_store_exec_q(s, &Q[NOVA_Q_TENANT_INSERT], NULL, tp, 3, NULL);
    if (st != NOVA_OK)
        goto error;
    if (key != NULL) {
        st = key_insert(s, key);
        if (st != NOVA_OK)
            goto error;
    }
    st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK)
        goto error;
    return nova_store_tx_commit(s);

error:
    nova_store_tx_rollback(s);
    return st;
}

nova_status nova_store_tenant_get(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                  nova_tenant_t *out)
{
    if (!valid_tenant(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q[NOVA_Q_TENANT_GET], tenant_id, p, 1, a, read_tenant, out);
}

nova_status nova_store_tenant_list(nova_store_t *s, nova_arena_t *a, nova_tenant_t **out, size_t *n)
{
    return nova_store_get_all(s, &Q[NOVA_Q_TENANT_LIST], NOVA_STORE_ALL_TENANTS, NULL, 0, a,
                              read_tenant, sizeof(nova_tenant_t), (void **)out, n);
}

nova_status nova_store_key_get(nova_store_t *s, nova_arena_t *a, const char *kid,
                               nova_signing_key_t *out)
{
    if (kid == NULL)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(kid)};
    return nova_store_get_one(s, &Q[NOVA_Q_KEY_GET], NOVA_STORE_ALL_TENANTS, p, 1, a, read_key,
                              out);
}

nova_status nova_store_key_get_active(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                      nova_signing_key_t *out)
{
    if (!valid_tenant(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q[NOVA_Q_KEY_ACTIVE], tenant_id, p, 1, a, read_key, out);
}

nova_status nova_store_key_list(nova_store_t *s, nova_arena_t *a, int64_t now,
                                nova_signing_key_t **out, size_t *n)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now)};
    return nova_store_get_all(s, &Q[NOVA_Q_KEY_LIST], NOVA_STORE_ALL_TENANTS, p, 1, a, read_key,
                              sizeof(nova_signing_key_t), (void **)out, n);
}

nova_status nova_store_key_list_tenant(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                       int64_t now, nova_signing_key_t **out, size_t *n)
{
    if (!valid_tenant(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_INT(now)};
    return nova_store_get_all(s, &Q[NOVA_Q_KEY_LIST_TENANT], tenant_id, p, 2, a, read_key,
                              sizeof(nova_signing_key_t), (void **)out, n);
}

nova_status nova_store_key_history(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   nova_signing_key_t **out, size_t *n)
{
    if (!valid_tenant(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q[NOVA_Q_KEY_HISTORY], tenant_id, p, 1, a, read_key,
                              sizeof(nova_signing_key_t), (void **)out, n);
}

nova_status nova_store_key_rotate(nova_store_t *s, const char *tenant_id, const char *old_kid,
                                  const nova_signing_key_t *new_key, int64_t grace_until,
                                  int64_t now, const nova_audit_entry_t *audit)
{
    if (!valid_tenant(tenant_id) || old_kid == NULL || new_key == NULL || !new_key->active ||
        !key_valid(new_key, tenant_id) || grace_until < 0 || !audit_for(audit, tenant_id))
        return NOVA_INVALID;
    int64_t changed = 0;
    nova_status st = nova_store_tx_begin(s, tenant_id);
    if (st != NOVA_OK)
        return st;
    /* Demote first: the unique index admits one active key per tenant. */
    nova_sql_param_t dp[] = {NOVA_SQL_P_TEXT(grace_until ? "grace" : "retired"),
                             NOVA_SQL_P_INT(grace_until), NOVA_SQL_P_INT(grace_until ? 0 : now),
                             NOVA_SQL_P_TEXT(old_kid), NOVA_SQL_P_TEXT(tenant_id)};
    st = nova_store_exec_q(s, &Q[NOVA_Q_KEY_DEMOTE], tenant_id, dp, 5, &changed);
    if (st == NOVA_OK && changed != 1)
        st = NOVA_CONFLICT; /* old_kid is not (any more) the active key: another rotation won */
    nova_sql_param_t rp[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(tenant_id),
                             NOVA_SQL_P_TEXT(old_kid)};
    if (st == NOVA_OK)
        st = nova_store_exec_q(s, &Q[NOVA_Q_KEY_RETIRE_GRACE], tenant_id, rp, 3, NULL);
    if (st == NOVA_OK)
        st = key_insert(s, new_key);
    if (st == NOVA_OK)
        st = nova_store_audit_append_tx(s, audit, NULL, NULL);
    if (st != NOVA_OK) {
        nova_store_tx_rollback(s);
        return st;
    }
    return nova_store_tx_commit(s);
}

nova_status nova_store_key_retire(nova_store_t *s, const char *tenant_id, const char *kid,
                                  int64_t now, const nova_audit_entry_t *audit)
{
    if (!valid_tenant(tenant_id) || kid == NULL || now <= 0 || !audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(kid), NOVA_SQL_P_TEXT(tenant_id)};
    nova_store_stmt_t x = {&Q[NOVA_Q_KEY_RETIRE], p, 3, NOVA_NOT_FOUND, NOVA_OK};
    return nova_store_exec_audited(s, tenant_id, &x, 1, audit);
}

nova_status nova_store_key_list_due(nova_store_t *s, nova_arena_t *a, int64_t created_before,
                                    nova_signing_key_t **out, size_t *n)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(created_before)};
    return nova_store_get_all(s, &Q[NOVA_Q_KEY_DUE], NOVA_STORE_ALL_TENANTS, p, 1, a, read_key,
                              sizeof(nova_signing_key_t), (void **)out, n);
}

nova_status nova_store_key_list_grace_ended(nova_store_t *s, nova_arena_t *a, int64_t now,
                                            nova_signing_key_t **out, size_t *n)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now)};
    return nova_store_get_all(s, &Q[NOVA_Q_KEY_GRACE_ENDED], NOVA_STORE_ALL_TENANTS, p, 1, a,
                              read_key, sizeof(nova_signing_key_t), (void **)out, n);
}

/* ---- clients ---- */

/* Runs one statement and appends audit in one write transaction of tenant. *changes (may be
 * NULL) gets the rows the statement changed; with none_is_not_found, no change is
 * NOVA_NOT_FOUND and nothing is written. */
nova_status nova_store_client_create(nova_store_t *s, const nova_client_t *c,
                                     const nova_audit_entry_t *audit)
{
    if (c == NULL || c->id == NULL || !valid_tenant(c->tenant_id) || c->name == NULL ||
        c->secret_digest == NULL || !audit_for(audit, c->tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(c->id),
                            NOVA_SQL_P_TEXT(c->tenant_id),
                            NOVA_SQL_P_TEXT(c->name),
                            NOVA_SQL_P_TEXT(c->secret_digest),
                            NOVA_SQL_P_TEXT(c->scopes ? c->scopes : ""),
                            NOVA_SQL_P_TEXT(c->audiences ? c->audiences : ""),
                            NOVA_SQL_P_INT(c->created_at),
                            NOVA_SQL_P_INT(c->revoked_at),
                            NOVA_SQL_P_TEXT(c->auth_method ? c->auth_method : "client_secret"),
                            NOVA_SQL_P_TEXT(c->jwks ? c->jwks : ""),
                            NOVA_SQL_P_TEXT(c->tls_subject_dn ? c->tls_subject_dn : "")};
    nova_store_stmt_t x = {&Q[NOVA_Q_CLIENT_INSERT], p, 11, NOVA_OK, NOVA_OK};
    return nova_store_exec_audited(s, c->tenant_id, &x, 1, audit);
}

nova_status nova_store_client_get(nova_store_t *s, nova_arena_t *a, const char *client_id,
                                  nova_client_t *out)
{
    if (client_id == NULL)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(client_id)};
    return nova_store_get_one(s, &Q[NOVA_Q_CLIENT_GET], NOVA_STORE_ALL_TENANTS, p, 1, a,
                              read_client, out);
}

nova_status nova_store_client_get_scoped(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                         const char *client_id, nova_client_t *out)
{
    if (!valid_tenant(tenant_id) || client_id == NULL)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(client_id), NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_one(s, &Q[NOVA_Q_CLIENT_GET_SCOPED], tenant_id, p, 2, a, read_client,
                              out);
}

nova_status nova_store_client_list(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                   nova_client_t **out, size_t *n)
{
    if (!valid_tenant(tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id)};
    return nova_store_get_all(s, &Q[NOVA_Q_CLIENT_LIST], tenant_id, p, 1, a, read_client,
                              sizeof(nova_client_t), (void **)out, n);
}

nova_status nova_store_client_revoke(nova_store_t *s, const char *tenant_id, const char *client_id,
                                     int64_t now, const nova_audit_entry_t *audit)
{
    /* revoked_at = 0 means active, so a revocation needs a real time. */
    if (!valid_tenant(tenant_id) || client_id == NULL || now <= 0 || !audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now), NOVA_SQL_P_TEXT(client_id),
                            NOVA_SQL_P_TEXT(tenant_id)};
    nova_store_stmt_t x = {&Q[NOVA_Q_CLIENT_REVOKE], p, 3, NOVA_NOT_FOUND, NOVA_OK};
    return nova_store_exec_audited(s, tenant_id, &x, 1, audit);
}

/* ---- access tokens ---- */

nova_status nova_store_token_revoke(nova_store_t *s, const char *tenant_id, const char *jti,
                                    int64_t exp, const nova_audit_entry_t *audit)
{
    if (!valid_tenant(tenant_id) || jti == NULL || !audit_for(audit, tenant_id))
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(jti), NOVA_SQL_P_INT(exp)};
    nova_store_stmt_t x = {&Q[NOVA_Q_TOKEN_REVOKE], p, 3, NOVA_OK, NOVA_OK};
    return nova_store_exec_audited(s, tenant_id, &x, 1, audit);
}

nova_status nova_store_token_resolve(nova_store_t *s, nova_arena_t *a, const char *tenant_id,
                                     const char *client_id, const char *jti, const char *kid,
                                     int64_t now, nova_tenant_t *out)
{
    if (!valid_tenant(tenant_id) || client_id == NULL || jti == NULL || kid == NULL)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(tenant_id), NOVA_SQL_P_TEXT(client_id),
                            NOVA_SQL_P_TEXT(jti), NOVA_SQL_P_TEXT(kid), NOVA_SQL_P_INT(now)};
    return nova_store_get_one(s, &Q[NOVA_Q_TOKEN_RESOLVE], tenant_id, p, 5, a, read_tenant, out);
}

nova_status nova_store_token_prune(nova_store_t *s, int64_t now)
{
    nova_sql_param_t p[] = {NOVA_SQL_P_INT(now)};
    return nova_store_exec_q(s, &Q[NOVA_Q_TOKEN_PRUNE], NOVA_STORE_ALL_TENANTS, p, 1, NULL);
}

/* ---- settings ---- */

static nova_status read_value(nova_rows_t *r, nova_arena_t *a, void *out)
{
    return nova_store_col_str(r, 0, a, (const char **)out);
}

nova_status nova_store_setting_ensure(nova_store_t *s, nova_arena_t *a, const char *name,
                                      const char *value, const char **stored)
{
    if (name == NULL || value == NULL)
        return NOVA_INVALID;
    nova_sql_param_t p[] = {NOVA_SQL_P_TEXT(name), NOVA_SQL_P_TEXT(value)};
    /* The first writer wins; everyone then reads what is there. */
    nova_status st =
        nova_store_exec_q(s, &Q[NOVA_Q_SETTING_INSERT], NOVA_STORE_ALL_TENANTS, p, 2, NULL);
    if (st != NOVA_OK)
        return st;
    return nova_store_get_one(s, &Q[NOVA_Q_SETTING_GET], NOVA_STORE_ALL_TENANTS, p, 1, a,
                              read_value, (void *)stored);
}
